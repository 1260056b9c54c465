/*
 * journal_write.c -- the journal's writer: appending records to a buffer,
 * committing them (write, fsync per the fsync mode, segment rollover, then
 * publishing to readers), undoing a commit that failed, and retention
 * (removing whole old segments).  Writer thread only, except where the
 * published state is touched under the mutex.
 *
 * It leaves the format's details and recovery to journal_segment.c and the
 * journal object to journal.c.
 */
#include "journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"

void ss_jn_wseg_close(struct ss_jn_wseg *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->ifd >= 0)
		close(w->ifd);
	w->fd = w->ifd = -1;
}

static int writable(const struct ss_journal *j, struct ss_err *err)
{
	if (j->readonly) {
		ss_err_set(err, "journal %s is open read-only", j->dir);
		return -1;
	}
	if (j->broken) {
		ss_err_set(err,
			   "journal %s: an earlier commit failed and could not be undone; "
			   "reopen the journal",
			   j->dir);
		return -1;
	}
	return 0;
}

int ss_journal_append(struct ss_journal *j, uint8_t type, uint8_t flags, uint64_t txid,
		      const void *payload, uint32_t len, uint64_t *pos_out, struct ss_err *err)
{
	uint8_t *p;
	int64_t now;

	if (writable(j, err) < 0)
		return -1;
	if (len > SS_JN_MAX_PAYLOAD) {
		ss_err_set(err, "journal %s: a record of %u bytes is over the limit of %u", j->dir,
			   len, SS_JN_MAX_PAYLOAD);
		return -1;
	}
	ss_buf_reserve(&j->wbuf, SS_JN_REC_HDR + (size_t)len);
	p = (uint8_t *)j->wbuf.data + j->wbuf.len;
	now = j->now();
	if (now < j->pend_ts)
		now = j->pend_ts;
	j->pend_pos++;
	j->pend_ts = now;
	ss_jn_put_u32(p, len);
	p[8] = type;
	p[9] = flags;
	p[10] = p[11] = 0;
	ss_jn_put_u64(p + 12, j->pend_pos);
	ss_jn_put_u64(p + 20, (uint64_t)now);
	ss_jn_put_u64(p + 28, txid);
	if (len)
		memcpy(p + SS_JN_REC_HDR, payload, len);
	ss_jn_put_u32(p + 4, ss_crc32c(0, p + 8, SS_JN_REC_HDR - 8 + (size_t)len));
	j->wbuf.len += SS_JN_REC_HDR + (size_t)len;
	j->wbuf.data[j->wbuf.len] = '\0';
	if (pos_out)
		*pos_out = j->pend_pos;
	return 0;
}

void ss_journal_discard(struct ss_journal *j)
{
	if (!j || j->readonly)
		return;
	ss_buf_reset(&j->wbuf);
	j->pend_pos = j->last_pos;
	j->pend_ts = j->last_ts;
}

static int w_idx_entry(struct ss_journal *j, int64_t ts, uint64_t pos, uint64_t off,
		       struct ss_err *err)
{
	uint8_t e[SS_JN_IDX_ENT];
	char ipath[PATH_MAX];

	ss_jn_put_u64(e, (uint64_t)ts);
	ss_jn_put_u64(e + 8, pos);
	ss_jn_put_u64(e + 16, off);
	if (ss_jn_pwrite(j->cur.ifd, e, SS_JN_IDX_ENT, j->cur.idx_size) < 0) {
		ss_jn_path(j, j->cur.first_pos, ".idx", ipath, sizeof ipath);
		ss_err_set(err, "journal %s: write %s at offset %" PRIu64 ": %s", j->dir, ipath,
			   j->cur.idx_size, strerror(errno));
		return -1;
	}
	j->cur.idx_size += SS_JN_IDX_ENT;
	j->cur.idx_last_off = off;
	j->cur.idx_last_pos = pos;
	return 0;
}

/* Write n bytes of whole records to the current segment, and an index entry
 * for the first of them if the last one is far enough behind. */
static int w_flush(struct ss_journal *j, const uint8_t *p, size_t n, struct ss_err *err)
{
	char path[PATH_MAX];
	uint64_t off = j->cur.size;

	if (!n)
		return 0;
	if (ss_jn_pwrite(j->cur.fd, p, n, off) < 0) {
		ss_jn_path(j, j->cur.first_pos, ".seg", path, sizeof path);
		ss_err_set(err, "journal %s: write %s at offset %" PRIu64 ": %s", j->dir, path, off,
			   strerror(errno));
		return -1;
	}
	j->cur.size += n;
	j->stage[j->nstage - 1].bytes = j->cur.size;
	if (j->cur.idx_size == 0 || off >= j->cur.idx_last_off + SS_JN_IDX_EVERY)
		return w_idx_entry(j, ss_jn_get_i64(p + 20), ss_jn_get_u64(p + 12), off, err);
	return 0;
}

static int w_sync(struct ss_journal *j, int with_idx, struct ss_err *err)
{
	char path[PATH_MAX];
	int full = j->mode == SS_FSYNC_ALWAYS;

	if (j->mode == SS_FSYNC_OFF)
		return 0;
	if (ss_jn_sync_fd(j->cur.fd, full) < 0) {
		ss_jn_path(j, j->cur.first_pos, ".seg", path, sizeof path);
		goto fail;
	}
	if ((with_idx || full) && fdatasync(j->cur.ifd) < 0) {
		ss_jn_path(j, j->cur.first_pos, ".idx", path, sizeof path);
		goto fail;
	}
	return 0;
fail:
	ss_err_set(err, "journal %s: fsync %s: %s", j->dir, path, strerror(errno));
	return -1;
}

/* Start segment `first`: header into a .tmp file, then renamed, so a segment
 * file always has a whole header. */
static int w_create(struct ss_journal *j, uint64_t first, struct ss_err *err)
{
	char tmp[PATH_MAX], path[PATH_MAX], ipath[PATH_MAX];
	uint8_t h[SS_JN_SEG_HDR] = {0};
	struct ss_jn_wseg w = {.fd = -1, .ifd = -1, .first_pos = first, .size = SS_JN_SEG_HDR};
	struct ss_jn_seg s = {.first_pos = first, .last_pos = first - 1, .bytes = SS_JN_SEG_HDR};

	ss_jn_path(j, first, ".seg.tmp", tmp, sizeof tmp);
	ss_jn_path(j, first, ".seg", path, sizeof path);
	ss_jn_path(j, first, ".idx", ipath, sizeof ipath);
	memcpy(h, SS_JN_SEG_MAGIC, 8);
	ss_jn_put_u32(h + 8, SS_JN_SEG_VERSION);
	ss_jn_put_u32(h + 12, SS_JN_SEG_HDR);
	ss_jn_put_u64(h + 16, first);
	ss_jn_put_u64(h + 24, (uint64_t)j->now());
	w.fd = ss_jn_open_private(tmp, O_RDWR | O_CREAT | O_TRUNC);
	if (w.fd < 0 || ss_jn_pwrite(w.fd, h, SS_JN_SEG_HDR, 0) < 0 ||
	    (j->mode != SS_FSYNC_OFF && fdatasync(w.fd) < 0)) {
		ss_err_set(err, "journal %s: creating %s: %s", j->dir, tmp, strerror(errno));
		unlink(tmp);
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		ss_err_set(err, "journal %s: rename %s: %s", j->dir, tmp, strerror(errno));
		unlink(tmp);
		goto fail;
	}
	ss_jn_push_u64(&j->created, &j->ncreated, &j->capcreated, first);
	w.ifd = ss_jn_open_private(ipath, O_RDWR | O_CREAT | O_TRUNC);
	if (w.ifd < 0) {
		ss_err_set(err, "journal %s: creating %s: %s", j->dir, ipath, strerror(errno));
		goto fail;
	}
	if (j->mode != SS_FSYNC_OFF && ss_jn_fsync_dir(j, err) < 0)
		goto fail;
	j->cur = w;
	ss_jn_push_seg(&j->stage, &j->nstage, &j->capstage, &s);
	return 0;
fail:
	ss_jn_wseg_close(&w);
	return -1;
}

/* Undo a failed commit: remove the segments it created, cut the one it
 * started in back to where it was.  If that fails too, or an fsync failed
 * (the kernel may have dropped the dirty pages), refuse further writes. */
static void w_rollback(struct ss_journal *j, const struct ss_jn_wseg *orig, int sync_failed)
{
	char path[PATH_MAX];
	int ok = !sync_failed;

	if (j->cur.fd >= 0 && j->cur.fd != orig->fd)
		ss_jn_wseg_close(&j->cur);
	for (size_t i = 0; i < j->ncreated; i++) {
		ss_jn_path(j, j->created[i], ".seg", path, sizeof path);
		if (unlink(path) < 0 && errno != ENOENT)
			ok = 0;
		ss_jn_path(j, j->created[i], ".idx", path, sizeof path);
		unlink(path);
	}
	if (orig->fd >= 0 && (ftruncate(orig->fd, (off_t)orig->size) < 0 ||
			      ftruncate(orig->ifd, (off_t)orig->idx_size) < 0))
		ok = 0;
	j->cur = *orig;
	if (!ok)
		j->broken = 1;
}

/* After the commit's fsync: record the committed end.  It is fsync'd itself
 * with every commit in ALWAYS mode, at most SS_JN_END_SYNC_US after the
 * previous time in BATCH mode, and when the journal is closed. */
static int w_end(struct ss_journal *j, struct ss_err *err)
{
	struct ss_jn_end e = {.pos = j->pend_pos, .seg = j->cur.first_pos, .off = j->cur.size};
	int sync =
		j->mode == SS_FSYNC_ALWAYS ||
		(j->mode == SS_FSYNC_BATCH && ss_mono_us() - j->end_synced_us >= SS_JN_END_SYNC_US);

	return ss_jn_end_write(j, &e, sync, err);
}

int ss_journal_commit(struct ss_journal *j, struct ss_err *err)
{
	const uint8_t *b = (const uint8_t *)j->wbuf.data;
	size_t n = j->wbuf.len, o = 0, chunk = 0;
	struct ss_jn_wseg orig = j->cur;
	uint64_t added = 0;
	int sync_failed = 0;

	if (writable(j, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	j->nstage = 0;
	j->ncreated = 0;
	if (orig.fd >= 0)
		ss_jn_push_seg(&j->stage, &j->nstage, &j->capstage, &j->segs[j->nsegs - 1]);
	while (o < n) {
		size_t rs = SS_JN_REC_HDR + (size_t)ss_jn_get_u32(b + o);
		uint64_t pos = ss_jn_get_u64(b + o + 12);
		int64_t ts = ss_jn_get_i64(b + o + 20);
		struct ss_jn_seg *st = j->nstage ? &j->stage[j->nstage - 1] : NULL;

		if (j->cur.fd < 0 || (st->last_pos >= st->first_pos &&
				      j->cur.size + (o - chunk) + rs > j->segment_bytes)) {
			if (j->cur.fd >= 0) {
				if (w_flush(j, b + chunk, o - chunk, err) < 0)
					goto fail;
				added += o - chunk;
				if (j->cur.idx_last_pos != j->cur.last_pos &&
				    w_idx_entry(j, j->cur.last_ts, j->cur.last_pos, j->cur.last_off,
						err) < 0)
					goto fail;
				if (w_sync(j, 1, err) < 0) {
					sync_failed = 1;
					goto fail;
				}
				if (j->cur.fd != orig.fd)
					ss_jn_wseg_close(&j->cur);
			}
			if (w_create(j, pos, err) < 0)
				goto fail;
			added += SS_JN_SEG_HDR;
			chunk = o;
			st = &j->stage[j->nstage - 1];
		}
		if (st->last_pos < st->first_pos)
			st->first_ts = ts;
		st->last_pos = pos;
		st->last_ts = ts;
		j->cur.last_off = j->cur.size + (o - chunk);
		j->cur.last_pos = pos;
		j->cur.last_ts = ts;
		o += rs;
	}
	if (w_flush(j, b + chunk, n - chunk, err) < 0)
		goto fail;
	added += n - chunk;
	ss_crashpoint("journal_before_sync");
	if (w_sync(j, 0, err) < 0 || w_end(j, err) < 0) {
		sync_failed = 1;
		goto fail;
	}

	pthread_mutex_lock(&j->mu);
	size_t from = 0;
	if (orig.fd >= 0)
		j->segs[j->nsegs - 1] = j->stage[from++];
	for (; from < j->nstage; from++)
		ss_jn_push_seg(&j->segs, &j->nsegs, &j->capsegs, &j->stage[from]);
	j->last_pos = j->pend_pos;
	j->last_ts = j->pend_ts;
	j->total_bytes += added;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);

	if (orig.fd >= 0 && orig.fd != j->cur.fd)
		ss_jn_wseg_close(&orig);
	if (j->wbuf.cap > SS_JN_WBUF_KEEP)
		ss_buf_free(&j->wbuf);
	else
		ss_buf_reset(&j->wbuf);
	return 0;
fail:
	w_rollback(j, &orig, sync_failed);
	return -1;
}
int ss_journal_retain(struct ss_journal *j, uint64_t min_applied_pos, int64_t cutoff_us,
		      struct ss_err *err)
{
	char path[PATH_MAX];
	int removed = 0;

	if (j->readonly) {
		ss_err_set(err, "journal %s is open read-only", j->dir);
		return -1;
	}
	for (;;) {
		uint64_t first;

		pthread_mutex_lock(&j->mu);
		if (j->nsegs < 2 || j->segs[0].last_pos > min_applied_pos ||
		    j->segs[0].last_ts >= cutoff_us) {
			pthread_mutex_unlock(&j->mu);
			break;
		}
		first = j->segs[0].first_pos;
		j->total_bytes -= j->segs[0].bytes;
		memmove(j->segs, j->segs + 1, (j->nsegs - 1) * sizeof *j->segs);
		j->nsegs--;
		pthread_mutex_unlock(&j->mu);

		ss_jn_path(j, first, ".seg", path, sizeof path);
		if (unlink(path) < 0 && errno != ENOENT) {
			ss_err_set(err, "journal %s: removing %s: %s", j->dir, path,
				   strerror(errno));
			return -1;
		}
		ss_jn_path(j, first, ".idx", path, sizeof path);
		unlink(path);
		removed++;
	}
	if (removed && j->mode == SS_FSYNC_ALWAYS && ss_jn_fsync_dir(j, err) < 0)
		return -1;
	return removed;
}