/*
 * journal_recover.c -- crash recovery: what opening the journal checks,
 * repairs or refuses.  Listing the directory, checking older segments
 * against the next one's start, scanning the newest and cutting a torn tail,
 * rebuilding time indexes, the committed end (DIR/committed) that tells a
 * torn tail from damage to acknowledged records, and the read-only
 * journal's view of files another process is writing.
 *
 * It leaves the format's primitives (framing, cursor, index reading) to
 * journal_segment.c, deciding the order of the steps on open to journal.c,
 * and writing to journal_write.c.
 *
 * Recovery on open for writing: a segment header left incomplete or a .tmp
 * file is removed; the newest segment is scanned in full and a torn tail (an
 * incomplete record, or a bad one after which nothing valid follows) is
 * truncated, but only beyond the committed end: below it (or with segments
 * missing) it is damage to acknowledged records, an error naming segment and
 * offset, and nothing is changed, so a position is never handed out twice;
 * a bad record with valid data after it is an error.  Older segments are
 * checked through their sealing index entry (a full scan if it is missing),
 * including that each ends right before the next begins.  What recovery
 * keeps is then fsync'd and recorded as the committed end.
 */
#include "journal_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The segments in the directory, sorted by first position.  clean (writer):
 * also remove leftover .seg.tmp files and index files without a segment. */
int ss_jn_list_dir(struct ss_journal *j, int clean, uint64_t **out, size_t *nout,
		   struct ss_err *err)
{
	uint64_t *segs = NULL, *idxs = NULL;
	size_t ns = 0, cs = 0, ni = 0, ci = 0;
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(j->dir);

	if (!d) {
		ss_err_set(err, "journal %s: %s", j->dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		int digits = 0;

		while (digits < 20 && name[digits] >= '0' && name[digits] <= '9')
			digits++;
		if (digits != 20 || name[20] != '.')
			continue;
		uint64_t first = strtoull(name, NULL, 10);

		if (strcmp(name + 20, ".seg") == 0) {
			ss_jn_push_u64(&segs, &ns, &cs, first);
		} else if (clean && strcmp(name + 20, ".idx") == 0) {
			ss_jn_push_u64(&idxs, &ni, &ci, first);
		} else if (clean && strcmp(name + 20, ".seg.tmp") == 0) {
			snprintf(path, sizeof path, "%s/%s", j->dir, name);
			unlink(path);
			ss_jn_note(j, "journal %s: removed the unfinished segment file %s", j->dir,
				   path);
		}
	}
	closedir(d);
	if (ns)
		qsort(segs, ns, sizeof *segs, cmp_u64);
	for (size_t i = 0; i < ni; i++) {
		if (ns && bsearch(&idxs[i], segs, ns, sizeof *segs, cmp_u64))
			continue;
		ss_jn_path(j, idxs[i], ".idx", path, sizeof path);
		unlink(path);
	}
	free(idxs);
	*out = segs;
	*nout = ns;
	return 0;
}

/* Rewrite a segment's index from scratch. */
static int idx_rewrite(struct ss_journal *j, int ifd, const char *ipath, const struct ss_buf *b,
		       struct ss_err *err)
{
	if (ftruncate(ifd, 0) < 0 || ss_jn_pwrite(ifd, b->data, b->len, 0) < 0 ||
	    (j->mode != SS_FSYNC_OFF && fdatasync(ifd) < 0)) {
		ss_err_set(err, "journal %s: rebuilding %s: %s", j->dir, ipath, strerror(errno));
		return -1;
	}
	return 0;
}

static void ient_add(struct ss_buf *b, int64_t ts, uint64_t pos, uint64_t off)
{
	uint8_t e[SS_JN_IDX_ENT];

	ss_jn_put_u64(e, (uint64_t)ts);
	ss_jn_put_u64(e + 8, pos);
	ss_jn_put_u64(e + 16, off);
	ss_buf_add(b, e, sizeof e);
}

/* An older segment: find its last record through the sealing index entry,
 * else by scanning it (and, writing, rebuild the index).  It must end right
 * before next_first.  -2: the file is gone. */
int ss_jn_seg_sealed(struct ss_journal *j, struct ss_jn_seg *s, uint64_t next_first,
		     struct ss_err *err)
{
	char ipath[PATH_MAX];
	struct ss_buf rb;
	struct ss_jn_cursor c;
	struct ss_jrec rec;
	struct stat st;
	uint8_t e[SS_JN_IDX_ENT], rh[SS_JN_REC_HDR];
	uint64_t size, last_at = 0, last_entry = 0;
	int ifd = -1, rc = -1;

	ss_buf_init(&rb);
	ss_jn_cur_init(&c);
	rc = ss_jn_cur_open(&c, j, s->first_pos, err);
	if (rc < 0)
		goto done;
	rc = -1;
	if (fstat(c.fd, &st) < 0) {
		ss_err_set(err, "journal %s: %s: %s", j->dir, c.path, strerror(errno));
		goto done;
	}
	size = (uint64_t)st.st_size;
	s->bytes = size;
	s->last_pos = s->first_pos - 1;
	if (ss_jn_pread(c.fd, rh, SS_JN_REC_HDR, c.hdr_size) == SS_JN_REC_HDR)
		s->first_ts = ss_jn_get_i64(rh + 20);

	ss_jn_path(j, s->first_pos, ".idx", ipath, sizeof ipath);
	ifd = j->readonly ? open(ipath, O_RDONLY | O_CLOEXEC) :
			    ss_jn_open_private(ipath, O_RDWR | O_CREAT);
	if (ifd >= 0 && fstat(ifd, &st) == 0 && st.st_size >= SS_JN_IDX_ENT &&
	    st.st_size % SS_JN_IDX_ENT == 0 &&
	    ss_jn_pread(ifd, e, SS_JN_IDX_ENT, (uint64_t)st.st_size - SS_JN_IDX_ENT) ==
		    SS_JN_IDX_ENT) {
		uint64_t off = ss_jn_get_u64(e + 16), pos = ss_jn_get_u64(e + 8);
		uint32_t len = 0;

		if (off >= c.hdr_size && pos + 1 == next_first &&
		    ss_jn_rec_matches(c.fd, off, pos, ss_jn_get_i64(e), &len) &&
		    off + SS_JN_REC_HDR + len == size) {
			s->last_pos = pos;
			s->last_ts = ss_jn_get_i64(e);
			rc = 0;
			goto done;
		}
	}
	for (;;) {
		uint64_t at = c.off;
		int r = ss_jn_cur_next(&c, size, &rec, j->dir, err);

		if (r == SS_JN_CUR_END)
			break;
		if (r == SS_JN_CUR_ERR)
			goto done;
		if (r != SS_JN_CUR_REC) {
			ss_jn_bad_record(j, &c, r, err);
			goto done;
		}
		if (!rb.len || at >= last_entry + SS_JN_IDX_EVERY) {
			ient_add(&rb, rec.ts_us, rec.pos, at);
			last_entry = at;
		}
		s->last_pos = rec.pos;
		s->last_ts = rec.ts_us;
		last_at = at;
	}
	if (c.next_pos != next_first) {
		ss_err_set(err,
			   "journal %s: %s ends at position %" PRIu64
			   " but the next segment starts at %" PRIu64 " (offset %" PRIu64 ")",
			   j->dir, c.path, c.next_pos - 1, next_first, size);
		goto done;
	}
	if (!j->readonly && ifd >= 0 && rb.len) {
		if (last_entry != last_at)
			ient_add(&rb, s->last_ts, s->last_pos, last_at);
		if (idx_rewrite(j, ifd, ipath, &rb, err) < 0)
			goto done;
	}
	rc = 0;
done:
	if (ifd >= 0)
		close(ifd);
	ss_jn_cur_done(&c);
	ss_buf_free(&rb);
	return rc;
}

/* The newest segment, opening for writing: scan it all, truncate a torn tail,
 * check the index against the records (rebuild it if wrong), and make it the
 * segment to append to. */
int ss_jn_seg_recover_last(struct ss_journal *j, struct ss_jn_seg *s, struct ss_err *err)
{
	char ipath[PATH_MAX];
	struct ss_buf rb;
	struct ss_jn_cursor c;
	struct ss_jrec rec;
	struct stat st;
	struct ss_jn_ient *e = NULL;
	struct ss_jn_wseg w = {.fd = -1, .ifd = -1};
	size_t n = 0, k = 0;
	uint64_t isz, size, rb_last = 0, found, floor;
	int idx_ok = 1, rc = -1, r;

	/* what of this segment had been acknowledged: never cut */
	if (j->end.pos < s->first_pos)
		floor = 0;
	else if (j->end.seg == s->first_pos)
		floor = j->end.off;
	else
		floor = UINT64_MAX; /* all of it, and more that is missing */
	ss_buf_init(&rb);
	ss_jn_cur_init(&c);
	if (ss_jn_cur_open(&c, j, s->first_pos, err) < 0)
		goto done;
	w.fd = open(c.path, O_RDWR | O_CLOEXEC);
	ss_jn_path(j, s->first_pos, ".idx", ipath, sizeof ipath);
	w.ifd = ss_jn_open_private(ipath, O_RDWR | O_CREAT);
	if (w.fd < 0 || w.ifd < 0 || fstat(w.fd, &st) < 0) {
		ss_err_set(err, "journal %s: cannot open %s: %s", j->dir, w.fd < 0 ? c.path : ipath,
			   strerror(errno));
		goto done;
	}
	size = (uint64_t)st.st_size;
	e = ss_jn_idx_load(j, s->first_pos, &n, &isz);
	s->last_pos = s->first_pos - 1;
	w.first_pos = s->first_pos;
	for (;;) {
		uint64_t at = c.off;

		r = ss_jn_cur_next(&c, size, &rec, j->dir, err);
		if (r != SS_JN_CUR_REC)
			break;
		for (; k < n && e[k].off < at; k++)
			idx_ok = 0;
		if (k < n && e[k].off == at) {
			if (e[k].pos != rec.pos || e[k].ts != rec.ts_us)
				idx_ok = 0;
			w.idx_last_off = at;
			w.idx_last_pos = rec.pos;
			k++;
		}
		if (!rb.len || at >= rb_last + SS_JN_IDX_EVERY) {
			ient_add(&rb, rec.ts_us, rec.pos, at);
			rb_last = at;
		}
		if (s->last_pos < s->first_pos)
			s->first_ts = rec.ts_us;
		s->last_pos = rec.pos;
		s->last_ts = rec.ts_us;
		w.last_off = at;
	}
	if (r == SS_JN_CUR_ERR)
		goto done;
	if (r == SS_JN_CUR_BAD && c.hard) {
		ss_jn_bad_record(j, &c, r, err);
		goto done;
	}
	if (r != SS_JN_CUR_END) {
		int v = ss_jn_valid_after(j, &c, c.off, size, &found, err);

		if (v < 0)
			goto done;
		if (v > 0) {
			ss_err_set(err,
				   "journal %s: bad record in %s at offset %" PRIu64
				   ": %s, and valid records follow at offset %" PRIu64,
				   j->dir, c.path, c.off,
				   r == SS_JN_CUR_SHORT ? "incomplete record" : c.why, found);
			goto done;
		}
		if (c.off < floor) {
			ss_jn_end_lost(j, s->first_pos, c.off,
				       r == SS_JN_CUR_SHORT ? "incomplete record" : c.why, err);
			goto done;
		}
		if (ftruncate(w.fd, (off_t)c.off) < 0 ||
		    (j->mode != SS_FSYNC_OFF && fdatasync(w.fd) < 0)) {
			ss_err_set(err, "journal %s: truncating %s to %" PRIu64 ": %s", j->dir,
				   c.path, c.off, strerror(errno));
			goto done;
		}
		ss_jn_note(j,
			   "journal %s: truncated %" PRIu64
			   " bytes of a torn record at %s:%" PRIu64,
			   j->dir, size - c.off, c.path, c.off);
		size = c.off;
	} else if (floor != UINT64_MAX && c.off < floor) {
		ss_jn_end_lost(j, s->first_pos, c.off, "end of the file", err);
		goto done;
	}
	if (!idx_ok || (k == 0 && rb.len)) {
		if (idx_rewrite(j, w.ifd, ipath, &rb, err) < 0)
			goto done;
		w.idx_size = rb.len;
		w.idx_last_off = rb_last;
		w.idx_last_pos =
			rb.len ? ss_jn_get_u64((uint8_t *)rb.data + rb.len - SS_JN_IDX_ENT + 8) : 0;
	} else {
		w.idx_size = (uint64_t)k * SS_JN_IDX_ENT;
		if (isz != w.idx_size && ftruncate(w.ifd, (off_t)w.idx_size) < 0) {
			ss_err_set(err, "journal %s: truncating %s: %s", j->dir, ipath,
				   strerror(errno));
			goto done;
		}
	}
	s->bytes = size;
	w.size = size;
	w.last_pos = s->last_pos;
	w.last_ts = s->last_ts;
	j->cur = w;
	w.fd = w.ifd = -1;
	rc = 0;
done:
	if (w.fd >= 0)
		close(w.fd);
	if (w.ifd >= 0)
		close(w.ifd);
	free(e);
	ss_jn_cur_done(&c);
	ss_buf_free(&rb);
	return rc;
}

/* ---- the committed end ------------------------------------------------- */

static void end_encode(uint8_t *b, const struct ss_jn_end *e)
{
	memset(b, 0, SS_JN_END_REC);
	memcpy(b, SS_JN_END_MAGIC, 8);
	ss_jn_put_u64(b + 8, e->seq);
	ss_jn_put_u64(b + 16, e->pos);
	ss_jn_put_u64(b + 24, e->seg);
	ss_jn_put_u64(b + 32, e->off);
	ss_jn_put_u32(b + 40, ss_crc32c(0, b, 40));
}

static int end_decode(const uint8_t *b, struct ss_jn_end *e)
{
	if (memcmp(b, SS_JN_END_MAGIC, 8) != 0 || ss_jn_get_u32(b + 40) != ss_crc32c(0, b, 40) ||
	    ss_jn_get_u32(b + 44) != 0)
		return 0;
	e->seq = ss_jn_get_u64(b + 8);
	e->pos = ss_jn_get_u64(b + 16);
	e->seg = ss_jn_get_u64(b + 24);
	e->off = ss_jn_get_u64(b + 32);
	return e->pos == 0 || (e->seg >= 1 && e->seg <= e->pos && e->off >= SS_JN_SEG_HDR);
}

int ss_jn_end_read(struct ss_journal *j, struct ss_jn_end *e, struct ss_err *err)
{
	char path[PATH_MAX];
	uint8_t b[SS_JN_END_SLOT + SS_JN_END_REC];
	struct ss_jn_end c;
	ssize_t n;
	int fd, found = 0;

	snprintf(path, sizeof path, "%s/%s", j->dir, SS_JN_END_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0) {
		ss_err_set(err, "journal %s: cannot open %s: %s", j->dir, path, strerror(errno));
		return -1;
	}
	n = ss_jn_pread(fd, b, sizeof b, 0);
	close(fd);
	if (n < 0) {
		ss_err_set(err, "journal %s: read %s: %s", j->dir, path, strerror(errno));
		return -1;
	}
	memset(e, 0, sizeof *e);
	for (int slot = 0; slot < 2; slot++) {
		size_t at = (size_t)slot * SS_JN_END_SLOT;

		if ((size_t)n >= at + SS_JN_END_REC && end_decode(b + at, &c) &&
		    (!found || c.seq > e->seq)) {
			*e = c;
			found = 1;
		}
	}
	if (!found) {
		ss_err_set(err,
			   "journal %s: %s, the record of what the journal made durable, holds no "
			   "valid copy (at offsets 0 and %d): the journal is damaged",
			   j->dir, path, SS_JN_END_SLOT);
		return -1;
	}
	return 0;
}

int ss_jn_end_open(struct ss_journal *j, int create, struct ss_err *err)
{
	char path[PATH_MAX];
	uint8_t b[SS_JN_END_REC];

	if (create) {
		memset(&j->end, 0, sizeof j->end);
		j->end.seq = 1;
		end_encode(b, &j->end);
		if (ss_jn_write_file(j, SS_JN_END_FILE, b, sizeof b, err) < 0)
			return -1;
	}
	snprintf(path, sizeof path, "%s/%s", j->dir, SS_JN_END_FILE);
	j->end_fd = ss_jn_open_private(path, O_RDWR);
	if (j->end_fd < 0) {
		ss_err_set(err, "journal %s: cannot open %s: %s", j->dir, path, strerror(errno));
		return -1;
	}
	j->end_synced_us = ss_mono_us();
	return 0;
}

int ss_jn_end_write(struct ss_journal *j, const struct ss_jn_end *e, int sync, struct ss_err *err)
{
	uint8_t b[SS_JN_END_REC];
	struct ss_jn_end n = *e;
	uint64_t at;

	n.seq = j->end.seq + 1;
	at = (n.seq % 2) * SS_JN_END_SLOT;
	end_encode(b, &n);
	if (ss_jn_pwrite(j->end_fd, b, sizeof b, at) < 0 || (sync && fdatasync(j->end_fd) < 0)) {
		ss_err_set(err, "journal %s: write %s/%s at offset %" PRIu64 ": %s", j->dir, j->dir,
			   SS_JN_END_FILE, at, strerror(errno));
		return -1;
	}
	j->end = n;
	j->end_dirty = !sync;
	if (sync)
		j->end_synced_us = ss_mono_us();
	return 0;
}

void ss_jn_end_lost(const struct ss_journal *j, uint64_t seg, uint64_t off, const char *what,
		    struct ss_err *err)
{
	char path[PATH_MAX], upto[64] = "";

	ss_jn_path(j, seg, ".seg", path, sizeof path);
	if (seg == j->end.seg)
		snprintf(upto, sizeof upto, ", this segment up to offset %" PRIu64, j->end.off);
	ss_err_set(err,
		   "journal %s: %s at offset %" PRIu64 ": %s, below what the journal had made "
		   "durable (positions up to %" PRIu64 "%s): the segment was cut short or damaged "
		   "after its commit, not torn by a crash; the journal is not repaired, since "
		   "positions already handed out (and maybe applied) are never reused: restore "
		   "the segment, or move the journal aside and re-sync the targets",
		   j->dir, path, off, what, j->end.pos, upto);
}

/* Read-only: scan segment s from where we know it to be valid up to the end
 * of its valid records (stopping quietly at anything torn or bad).  -2: the
 * file is gone. */
static int ro_scan(struct ss_journal *j, struct ss_jn_seg *s, struct ss_err *err)
{
	struct ss_jn_cursor c;
	struct ss_jrec rec;
	struct stat st;
	int rc = -1, r;

	ss_jn_cur_init(&c);
	rc = ss_jn_cur_open(&c, j, s->first_pos, err);
	if (rc < 0)
		goto done;
	rc = -1;
	if (fstat(c.fd, &st) < 0) {
		ss_err_set(err, "journal %s: %s: %s", j->dir, c.path, strerror(errno));
		goto done;
	}
	if (s->bytes < c.hdr_size) {
		struct ss_jn_ient *e;
		size_t n;
		uint64_t isz;

		s->bytes = c.hdr_size;
		s->last_pos = s->first_pos - 1;
		/* start from the last index entry that checks out */
		e = ss_jn_idx_load(j, s->first_pos, &n, &isz);
		for (size_t i = n; i-- > 0;) {
			if (e[i].off >= c.hdr_size && e[i].pos >= s->first_pos &&
			    ss_jn_rec_matches(c.fd, e[i].off, e[i].pos, e[i].ts, NULL)) {
				uint8_t h[SS_JN_REC_HDR];

				if (ss_jn_pread(c.fd, h, SS_JN_REC_HDR, c.hdr_size) ==
				    SS_JN_REC_HDR)
					s->first_ts = ss_jn_get_i64(h + 20);
				s->bytes = e[i].off;
				s->last_pos = e[i].pos - 1;
				break;
			}
		}
		free(e);
	}
	c.off = s->bytes;
	c.next_pos = s->last_pos + 1;
	while ((r = ss_jn_cur_next(&c, (uint64_t)st.st_size, &rec, j->dir, err)) == SS_JN_CUR_REC) {
		if (s->last_pos < s->first_pos)
			s->first_ts = rec.ts_us;
		s->last_pos = rec.pos;
		s->last_ts = rec.ts_us;
	}
	if (r == SS_JN_CUR_ERR)
		goto done;
	s->bytes = c.off;
	rc = 0;
done:
	ss_jn_cur_done(&c);
	return rc;
}

/* Read-only: bring the segment list up to date with the directory (a
 * segment the writer removes meanwhile is left out).  Caller holds the
 * mutex. */
int ss_jn_ro_refresh(struct ss_journal *j, struct ss_err *err)
{
	uint64_t *firsts = NULL;
	struct ss_jn_seg *ns = NULL;
	size_t n = 0, m = 0, k = 0;
	int rc = -1, r;

	if (ss_jn_list_dir(j, 0, &firsts, &n, err) < 0)
		return -1;
	ns = ss_xcalloc(n ? n : 1, sizeof *ns);
	for (size_t i = 0; i < n; i++) {
		while (m < j->nsegs && j->segs[m].first_pos < firsts[i])
			m++;
		int known = m < j->nsegs && j->segs[m].first_pos == firsts[i];

		if (known) {
			ns[k] = j->segs[m];
			if (m + 1 < j->nsegs) {
				k++; /* complete when we saw it */
				continue;
			}
			r = ro_scan(j, &ns[k], err);
		} else {
			ns[k].first_pos = firsts[i];
			ns[k].last_pos = firsts[i] - 1;
			r = i + 1 < n ? ss_jn_seg_sealed(j, &ns[k], firsts[i + 1], err) :
					ro_scan(j, &ns[k], err);
		}
		if (r == -2 && k == 0)
			continue; /* removed by retention */
		if (r < 0)
			goto done;
		k++;
	}
	n = k;
	free(j->segs);
	j->segs = ns;
	j->nsegs = j->capsegs = n;
	ns = NULL;
	j->total_bytes = 0;
	for (size_t i = 0; i < n; i++) {
		j->total_bytes += j->segs[i].bytes;
		if (j->segs[i].last_pos >= j->segs[i].first_pos) {
			j->last_pos = j->segs[i].last_pos;
			j->last_ts = j->segs[i].last_ts;
		}
	}
	rc = 0;
done:
	free(ns);
	free(firsts);
	return rc;
}
