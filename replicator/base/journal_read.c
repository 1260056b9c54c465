/*
 * journal_read.c -- readers of the journal: finding where to start (by
 * position, or by time through the time index), reading committed records
 * in position order across segments, and telling "nothing new yet" from
 * damage.  A reader of the writing process never reads past what the
 * writer published; a reader of a read-only journal (another process)
 * follows the files as they grow.
 *
 * It leaves the format and the cursor to journal_segment.c and the journal
 * object to journal.c.
 */
#include "journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long find_seg(const struct ss_journal *j, uint64_t pos)
{
	size_t lo = 0, hi = j->nsegs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (j->segs[mid].first_pos <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
}

/* Where to start in segment `first`: the last index entry below the target
 * (position <= want_pos, or ts < want_ts when by_time) that lies within
 * limit and names the record it claims to.  Falls back to the header. */
static void idx_find(struct ss_journal_reader *r, uint64_t first, uint64_t limit, int by_time,
		     uint64_t want_pos, int64_t want_ts)
{
	char path[PATH_MAX];
	struct ss_jn_ient *e;
	size_t n, lo = 0, hi;
	uint64_t isz;
	int fd;

	r->start_seg = first;
	r->start_pos = first;
	r->start_off = 0;
	e = ss_jn_idx_load(r->j, first, &n, &isz);
	hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int ok = e[mid].off + SS_JN_REC_HDR <= limit &&
			 (by_time ? e[mid].ts < want_ts : e[mid].pos <= want_pos);

		if (ok)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && e[lo - 1].off >= SS_JN_SEG_HDR && e[lo - 1].pos >= first) {
		ss_jn_path(r->j, first, ".seg", path, sizeof path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 &&
		    ss_jn_rec_matches(fd, e[lo - 1].off, e[lo - 1].pos, e[lo - 1].ts, NULL)) {
			r->start_pos = e[lo - 1].pos;
			r->start_off = e[lo - 1].off;
		}
		if (fd >= 0)
			close(fd);
	}
	free(e);
}

static struct ss_journal_reader *reader_make(struct ss_journal *j, uint64_t after_pos, int by_time,
					     int64_t ts, struct ss_err *err)
{
	struct ss_journal_reader *r = ss_xcalloc(1, sizeof *r);
	uint64_t first = 0, limit = 0;
	long i;

	ss_jn_cur_init(&r->c);
	r->j = j;
	r->skip_upto = by_time ? 0 : after_pos;
	r->min_ts = by_time ? ts : INT64_MIN;
	pthread_mutex_lock(&j->mu);
	if (j->readonly && ss_jn_ro_refresh(j, err) < 0)
		goto fail_locked;
	if (!by_time) {
		if (j->nsegs && after_pos + 1 < j->segs[0].first_pos) {
			ss_err_set(err,
				   "journal %s: position %" PRIu64
				   " is no longer kept (oldest is %" PRIu64 ")",
				   j->dir, after_pos + 1, j->segs[0].first_pos);
			goto fail_locked;
		}
		r->want = after_pos + 1;
		i = find_seg(j, r->want);
	} else {
		i = (long)j->nsegs - 1;
		while (i >= 0 &&
		       !(j->segs[i].last_pos >= j->segs[i].first_pos && j->segs[i].first_ts < ts))
			i--;
		if (i < 0 && j->nsegs)
			i = 0;
		r->want = i >= 0 ? j->segs[i].first_pos : j->last_pos + 1;
	}
	if (i >= 0) {
		first = j->segs[i].first_pos;
		limit = j->segs[i].bytes;
	}
	pthread_mutex_unlock(&j->mu);
	if (first) {
		if (j->readonly)
			limit = UINT64_MAX;
		idx_find(r, first, limit, by_time, after_pos + 1, ts);
		if (by_time)
			r->want = r->start_pos;
	}
	return r;
fail_locked:
	pthread_mutex_unlock(&j->mu);
	ss_journal_reader_free(r);
	return NULL;
}

struct ss_journal_reader *ss_journal_reader_new(struct ss_journal *j, uint64_t after_pos,
						struct ss_err *err)
{
	return reader_make(j, after_pos, 0, 0, err);
}

struct ss_journal_reader *ss_journal_reader_new_at_time(struct ss_journal *j, int64_t ts_us,
							struct ss_err *err)
{
	return reader_make(j, 0, 1, ts_us, err);
}

void ss_journal_reader_free(struct ss_journal_reader *r)
{
	if (!r)
		return;
	ss_jn_cur_done(&r->c);
	free(r);
}

static int file_size(struct ss_journal_reader *r, uint64_t *size, struct ss_err *err)
{
	struct stat st;

	if (fstat(r->c.fd, &st) < 0) {
		ss_err_set(err, "journal %s: %s: %s", r->j->dir, r->c.path, strerror(errno));
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Open the segment holding r->want (or the one the index chose).
 * 1: open; 0: nothing there yet; -1: error. */
static int reader_first_open(struct ss_journal_reader *r, struct ss_err *err)
{
	struct ss_journal *j = r->j;
	uint64_t first, limit;
	long i;
	int rc;

	pthread_mutex_lock(&j->mu);
	if (j->readonly && ss_jn_ro_refresh(j, err) < 0)
		goto fail_locked;
	if (r->want > j->last_pos) {
		pthread_mutex_unlock(&j->mu);
		return 0;
	}
	i = find_seg(j, r->start_seg ? r->start_seg : r->want);
	if (i < 0 || (r->start_seg && j->segs[i].first_pos != r->start_seg)) {
		i = find_seg(j, r->want);
		r->start_seg = 0;
	}
	if (i < 0) {
		ss_err_set(err,
			   "journal %s: position %" PRIu64 " is no longer kept (oldest is %" PRIu64
			   ")",
			   j->dir, r->want, j->nsegs ? j->segs[0].first_pos : 0);
		goto fail_locked;
	}
	first = j->segs[i].first_pos;
	limit = j->segs[i].bytes;
	pthread_mutex_unlock(&j->mu);
	rc = ss_jn_cur_open(&r->c, j, first, err);
	if (rc == -2)
		ss_err_set(err, "journal %s: position %" PRIu64 " is no longer kept", j->dir,
			   r->want);
	if (rc < 0)
		return -1;
	if (r->start_seg == first && r->start_off) {
		r->c.off = r->start_off;
		r->c.next_pos = r->start_pos;
	}
	r->start_seg = 0;
	r->limit = limit;
	if (j->readonly && file_size(r, &r->limit, err) < 0)
		return -1;
	return 1;
fail_locked:
	pthread_mutex_unlock(&j->mu);
	return -1;
}

/* Same process: after the end of what was published for the open segment,
 * look for more (in it, or in the next one).  1: go on; 0: nothing new. */
static int reader_more(struct ss_journal_reader *r, struct ss_err *err)
{
	struct ss_journal *j = r->j;
	struct ss_jn_cursor *c = &r->c;
	uint64_t first, limit, np = c->next_pos;
	long i;

	pthread_mutex_lock(&j->mu);
	if (np > j->last_pos) {
		pthread_mutex_unlock(&j->mu);
		return 0;
	}
	i = find_seg(j, np);
	if (i >= 0 && j->segs[i].first_pos == c->seg_first) {
		limit = j->segs[i].bytes;
		pthread_mutex_unlock(&j->mu);
		if (limit <= r->limit) {
			ss_err_set(err,
				   "journal %s: %s ends at offset %" PRIu64
				   " without position %" PRIu64,
				   j->dir, c->path, r->limit, np);
			return -1;
		}
		r->limit = limit;
		return 1;
	}
	if (i < 0) {
		ss_err_set(err,
			   "journal %s: position %" PRIu64 " is no longer kept (oldest is %" PRIu64
			   ")",
			   j->dir, np, j->nsegs ? j->segs[0].first_pos : 0);
		pthread_mutex_unlock(&j->mu);
		return -1;
	}
	first = j->segs[i].first_pos;
	limit = j->segs[i].bytes;
	pthread_mutex_unlock(&j->mu);
	if (first != np) {
		ss_err_set(err,
			   "journal %s: %s ends at position %" PRIu64
			   " but the next segment starts at %" PRIu64,
			   j->dir, c->path, np - 1, first);
		return -1;
	}
	if (ss_jn_cur_open(c, j, first, err) < 0)
		return -1;
	r->limit = limit;
	return 1;
}

/* Read-only: ss_jn_cur_next() said rc at c->off with the file r->limit long.
 * Decide between "more has arrived", "go on to the next segment", "nothing
 * new yet" (0) and corruption (-1). */
static int reader_more_ro(struct ss_journal_reader *r, int rc, struct ss_err *err)
{
	struct ss_journal *j = r->j;
	struct ss_jn_cursor *c = &r->c;
	char next[PATH_MAX];
	struct stat st;
	uint64_t size, found;
	int v;

	if (rc == SS_JN_CUR_BAD && c->hard) {
		ss_jn_bad_record(j, c, rc, err);
		return -1;
	}
	if (file_size(r, &size, err) < 0)
		return -1;
	if (size != r->limit) {
		ss_jn_cur_drop(c);
		r->limit = size;
		return 1;
	}
	ss_jn_path(j, c->next_pos, ".seg", next, sizeof next);
	if (stat(next, &st) == 0) {
		/* the writer finishes a segment before it starts the next one */
		if (file_size(r, &size, err) < 0)
			return -1;
		if (size != r->limit) {
			ss_jn_cur_drop(c);
			r->limit = size;
			return 1;
		}
		if (rc != SS_JN_CUR_END) {
			ss_jn_bad_record(j, c, rc, err);
			return -1;
		}
		uint64_t np = c->next_pos;
		if (ss_jn_cur_open(c, j, np, err) < 0 || file_size(r, &r->limit, err) < 0)
			return -1;
		return 1;
	}
	if (rc == SS_JN_CUR_END)
		return 0;
	v = ss_jn_valid_after(j, c, c->off, size, &found, err);
	if (v < 0)
		return -1;
	if (v > 0) {
		ss_err_set(err,
			   "journal %s: bad record in %s at offset %" PRIu64
			   ": %s, and valid records follow at offset %" PRIu64,
			   j->dir, c->path, c->off,
			   rc == SS_JN_CUR_SHORT ? "incomplete record" : c->why, found);
		return -1;
	}
	ss_jn_cur_drop(c);
	return 0;
}

int ss_journal_reader_next(struct ss_journal_reader *r, struct ss_jrec *rec, struct ss_err *err)
{
	int rc;

	if (r->c.fd < 0) {
		rc = reader_first_open(r, err);
		if (rc <= 0)
			return rc;
	}
	for (;;) {
		rc = ss_jn_cur_next(&r->c, r->limit, rec, r->j->dir, err);
		if (rc == SS_JN_CUR_REC) {
			if (rec->pos <= r->skip_upto || rec->ts_us < r->min_ts)
				continue;
			return 1;
		}
		if (rc == SS_JN_CUR_ERR)
			return -1;
		if (r->j->readonly) {
			rc = reader_more_ro(r, rc, err);
		} else if (rc != SS_JN_CUR_END) {
			ss_jn_bad_record(r->j, &r->c, rc, err);
			return -1;
		} else {
			rc = reader_more(r, err);
		}
		if (rc <= 0)
			return rc;
	}
}