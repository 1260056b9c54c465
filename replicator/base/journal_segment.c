/*
 * journal_segment.c -- the journal's on-disk format: file names and file
 * helpers, record framing and its CRC checks, the buffered cursor that
 * reads a segment record by record, and the time index as it is read.
 * See journal.h and journal_int.h.
 *
 * It leaves crash recovery (what opening the journal checks, repairs or
 * refuses, and the committed end) to journal_recover.c, the writing of
 * records to journal_write.c, readers to journal_read.c, and the journal
 * object (directory, lock, identity, published state) to journal.c.  What a
 * payload means is the caller's business.
 *
 * On-disk format (all integers little-endian; doc/journal-format.md says the
 * same for someone writing another reader):
 *
 *   DIR/lock                    flock'd by the one writer
 *   DIR/NNNNNNNNNNNNNNNNNNNN.seg  a segment, named by its first position (%020llu)
 *   DIR/NNNNNNNNNNNNNNNNNNNN.idx  its time index
 *   DIR/NNNNNNNNNNNNNNNNNNNN.seg.tmp  a segment being created (header written,
 *                               then renamed), removed by recovery
 *
 *   segment header, 32 bytes:
 *     0  char[8] magic "SSJRNL1\n"     16  u64 first position
 *     8  u32 format version (1)        24  i64 creation time, µs since epoch
 *    12  u32 header size (32); records start here
 *   then records, back to back, positions consecutive:
 *     0  u32 payload length            12  u64 position
 *     4  u32 CRC32C of bytes 8..end    20  i64 journal time, µs since epoch
 *     8  u8 type, 9 u8 flags           28  u64 source transaction id
 *    10  u16 reserved, 0               36  payload
 *
 *   index entries, 24 bytes each, in record order:
 *     0  i64 ts   8  u64 position   16  u64 byte offset of that record
 *   An entry names a record that exists; which records get one is a matter
 *   of speed only: the first record of each commit once 64 KiB have passed
 *   since the previous entry, and the last record of the segment when it is
 *   sealed (rolled over).  The index is derived data: opening for writing
 *   checks it against the segment and rebuilds it when missing or wrong.
 *
 *   DIR/id         the journal's identity: 32 hex digits and a newline
 *   DIR/committed  the committed end, two copies of 48 bytes, at 0 and 4096:
 *     0  char[8] magic "SSJEND1\n"      24  u64 first position of its segment
 *     8  u64 sequence (higher wins)      32  u64 that segment's length then
 *    16  u64 last committed position     40  u32 CRC32C of bytes 0..40
 *                                        44  u32 reserved, 0
 *   Each commit, after its fsync, overwrites the older copy.  It never says
 *   more than the disk holds; it may say less (its own fsync comes at most a
 *   second later in BATCH mode), which only lets recovery cut less.
 *
 * Visibility: the writer publishes a commit (segment sizes, last position)
 * under the mutex after the data is written and synced; readers of the same
 * process never read past the published size.  A read-only journal (another
 * process) takes the file size as the limit and treats a torn tail of the
 * newest segment as the end of the data for now.
 */
#include "journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"

void ss_jn_path(const struct ss_journal *j, uint64_t first, const char *ext, char *out,
		size_t outlen)
{
	snprintf(out, outlen, "%s/%020" PRIu64 "%s", j->dir, first, ext);
}

void ss_jn_note(struct ss_journal *j, const char *fmt, ...)
{
	size_t n = strlen(j->note);
	va_list ap;

	if (n && n + 2 < sizeof j->note) {
		memcpy(j->note + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(j->note + n, sizeof j->note - n, fmt, ap);
	va_end(ap);
}

ssize_t ss_jn_pread(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int ss_jn_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pwrite(fd, (const char *)buf + done, n - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

int ss_jn_fsync_dir(const struct ss_journal *j, struct ss_err *err)
{
	int fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0) {
		ss_err_set(err, "journal %s: fsync of the directory: %s", j->dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int ss_jn_open_private(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	if (fd >= 0 && (flags & O_CREAT) && fchmod(fd, 0600) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int ss_jn_write_file(struct ss_journal *j, const char *name, const void *data, size_t len,
		     struct ss_err *err)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/%s", j->dir, name);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = ss_jn_open_private(tmp, O_WRONLY | O_CREAT | O_TRUNC);
	if (fd < 0 || ss_jn_pwrite(fd, data, len, 0) < 0 || fsync(fd) < 0) {
		ss_err_set(err, "journal %s: writing %s: %s", j->dir, tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0) {
		ss_err_set(err, "journal %s: rename %s: %s", j->dir, tmp, strerror(errno));
		goto fail;
	}
	return ss_jn_fsync_dir(j, err);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

int ss_jn_sync_fd(int fd, int full)
{
	return full ? fsync(fd) : fdatasync(fd);
}

void ss_jn_push_u64(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = ss_xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = x;
}

void ss_jn_push_seg(struct ss_jn_seg **v, size_t *n, size_t *cap, const struct ss_jn_seg *s)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = ss_xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = *s;
}

static int hdr_check(const struct ss_journal *j, const char *path, const uint8_t *h, ssize_t n,
		     uint64_t first, uint64_t *hdr_size, struct ss_err *err)
{
	uint32_t v, hs;

	if (n < SS_JN_SEG_HDR) {
		ss_err_set(err, "journal %s: %s: segment header is incomplete (%zd of %d bytes)",
			   j->dir, path, n, SS_JN_SEG_HDR);
		return -1;
	}
	if (memcmp(h, SS_JN_SEG_MAGIC, 8) != 0) {
		ss_err_set(err, "journal %s: %s is not a journal segment (bad magic at offset 0)",
			   j->dir, path);
		return -1;
	}
	v = ss_jn_get_u32(h + 8);
	hs = ss_jn_get_u32(h + 12);
	if (v != SS_JN_SEG_VERSION) {
		ss_err_set(err, "journal %s: %s: format version %u at offset 8 is not supported",
			   j->dir, path, v);
		return -1;
	}
	if (hs < SS_JN_SEG_HDR || hs > 65536) {
		ss_err_set(err, "journal %s: %s: bad header size %u at offset 12", j->dir, path,
			   hs);
		return -1;
	}
	if (ss_jn_get_u64(h + 16) != first) {
		ss_err_set(err,
			   "journal %s: %s: header at offset 16 says first position %" PRIu64
			   ", the file name %" PRIu64,
			   j->dir, path, ss_jn_get_u64(h + 16), first);
		return -1;
	}
	*hdr_size = hs;
	return 0;
}

void ss_jn_cur_init(struct ss_jn_cursor *c)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

void ss_jn_cur_close(struct ss_jn_cursor *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->blen = 0;
	c->buf_off = 0;
}

void ss_jn_cur_done(struct ss_jn_cursor *c)
{
	ss_jn_cur_close(c);
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
}

/* Open segment `first` and stand at its first record.  -2 when the file does
 * not exist (err filled all the same). */
int ss_jn_cur_open(struct ss_jn_cursor *c, const struct ss_journal *j, uint64_t first,
		   struct ss_err *err)
{
	uint8_t h[SS_JN_SEG_HDR];
	ssize_t n;

	ss_jn_cur_close(c);
	ss_jn_path(j, first, ".seg", c->path, sizeof c->path);
	c->fd = open(c->path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0) {
		int e = errno;

		ss_err_set(err, "journal %s: cannot open %s: %s", j->dir, c->path, strerror(e));
		return e == ENOENT ? -2 : -1;
	}
	n = ss_jn_pread(c->fd, h, SS_JN_SEG_HDR, 0);
	if (n < 0) {
		ss_err_set(err, "journal %s: read %s at offset 0: %s", j->dir, c->path,
			   strerror(errno));
		goto fail;
	}
	if (hdr_check(j, c->path, h, n, first, &c->hdr_size, err) < 0)
		goto fail;
	c->seg_first = first;
	c->off = c->hdr_size;
	c->next_pos = first;
	return 0;
fail:
	ss_jn_cur_close(c);
	return -1;
}

/* Forget buffered bytes from the current record on (they may have been read
 * while another process was still writing them). */
void ss_jn_cur_drop(struct ss_jn_cursor *c)
{
	if (c->off >= c->buf_off && c->off <= c->buf_off + c->blen) {
		c->blen = (size_t)(c->off - c->buf_off);
	} else {
		c->blen = 0;
		c->buf_off = c->off;
	}
}

/* Make [off, off + need) available in the buffer, reading no further than
 * limit.  1: done; 0: limit or end of file comes first; -1: read error. */
static int cur_fill(struct ss_jn_cursor *c, size_t need, uint64_t limit, const char *dir,
		    struct ss_err *err)
{
	if (c->off + need > limit)
		return 0;
	if (c->off >= c->buf_off && c->off + need <= c->buf_off + c->blen)
		return 1;
	if (c->off >= c->buf_off && c->off < c->buf_off + c->blen) {
		size_t keep = (size_t)(c->buf_off + c->blen - c->off);

		memmove(c->buf, c->buf + (c->off - c->buf_off), keep);
		c->blen = keep;
	} else {
		c->blen = 0;
	}
	c->buf_off = c->off;
	if (need > c->cap || !c->buf) {
		c->cap = need > SS_JN_READ_BUF ? need + SS_JN_READ_BUF : SS_JN_READ_BUF;
		c->buf = ss_xrealloc(c->buf, c->cap);
	}
	while (c->blen < need) {
		uint64_t at = c->buf_off + c->blen;
		size_t want = c->cap - c->blen;
		ssize_t n;

		if (want > limit - at)
			want = (size_t)(limit - at);
		n = pread(c->fd, c->buf + c->blen, want, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ss_err_set(err, "journal %s: read %s at offset %" PRIu64 ": %s", dir,
				   c->path, at, strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		c->blen += (size_t)n;
	}
	return 1;
}

/* The next record before limit.  SS_JN_CUR_SHORT: it runs past limit (or the file);
 * SS_JN_CUR_BAD: it is damaged, c->why says how and c->hard whether it could be
 * the remains of a torn write (hard: it cannot). */
int ss_jn_cur_next(struct ss_jn_cursor *c, uint64_t limit, struct ss_jrec *rec, const char *dir,
		   struct ss_err *err)
{
	const uint8_t *p;
	uint32_t len;
	int rc;

	if (c->off >= limit)
		return SS_JN_CUR_END;
	rc = cur_fill(c, SS_JN_REC_HDR, limit, dir, err);
	if (rc <= 0)
		return rc < 0 ? SS_JN_CUR_ERR : SS_JN_CUR_SHORT;
	len = ss_jn_get_u32(c->buf + (c->off - c->buf_off));
	c->hard = 0;
	if (len > SS_JN_MAX_PAYLOAD) {
		snprintf(c->why, sizeof c->why, "impossible payload length %u", len);
		return SS_JN_CUR_BAD;
	}
	rc = cur_fill(c, SS_JN_REC_HDR + (size_t)len, limit, dir, err);
	if (rc <= 0)
		return rc < 0 ? SS_JN_CUR_ERR : SS_JN_CUR_SHORT;
	p = c->buf + (c->off - c->buf_off);
	if (ss_crc32c(0, p + 8, SS_JN_REC_HDR - 8 + (size_t)len) != ss_jn_get_u32(p + 4)) {
		snprintf(c->why, sizeof c->why, "CRC mismatch");
		return SS_JN_CUR_BAD;
	}
	c->hard = 1;
	if (p[10] || p[11]) {
		snprintf(c->why, sizeof c->why, "reserved field is not zero");
		return SS_JN_CUR_BAD;
	}
	if (ss_jn_get_u64(p + 12) != c->next_pos) {
		snprintf(c->why, sizeof c->why, "position %" PRIu64 " where %" PRIu64 " belongs",
			 ss_jn_get_u64(p + 12), c->next_pos);
		return SS_JN_CUR_BAD;
	}
	rec->pos = c->next_pos;
	rec->ts_us = ss_jn_get_i64(p + 20);
	rec->type = p[8];
	rec->flags = p[9];
	rec->txid = ss_jn_get_u64(p + 28);
	rec->payload = p + SS_JN_REC_HDR;
	rec->len = len;
	c->off += SS_JN_REC_HDR + (uint64_t)len;
	c->next_pos++;
	return SS_JN_CUR_REC;
}

void ss_jn_bad_record(const struct ss_journal *j, const struct ss_jn_cursor *c, int rc,
		      struct ss_err *err)
{
	ss_err_set(err, "journal %s: bad record in %s at offset %" PRIu64 ": %s", j->dir, c->path,
		   c->off, rc == SS_JN_CUR_SHORT ? "incomplete record" : c->why);
}

/* Is there a valid record (pos >= min_pos) anywhere in (from, limit)?  That
 * tells a torn tail (nothing) from damage in the middle (something).
 * 1 and *found: yes; 0: no; -1: read error. */
int ss_jn_valid_after(const struct ss_journal *j, const struct ss_jn_cursor *c, uint64_t from,
		      uint64_t limit, uint64_t *found, struct ss_err *err)
{
	size_t n;
	ssize_t got;
	uint8_t *b;
	int rc = 0;

	if (limit <= from + SS_JN_REC_HDR)
		return 0;
	n = (size_t)(limit - from - 1);
	b = ss_xmalloc(n);
	got = ss_jn_pread(c->fd, b, n, from + 1);
	if (got < 0) {
		ss_err_set(err, "journal %s: read %s at offset %" PRIu64 ": %s", j->dir, c->path,
			   from + 1, strerror(errno));
		free(b);
		return -1;
	}
	n = (size_t)got;
	for (size_t x = 0; x + SS_JN_REC_HDR <= n; x++) {
		const uint8_t *p = b + x;
		uint32_t len = ss_jn_get_u32(p);
		uint64_t pos = ss_jn_get_u64(p + 12);

		if (len > n - x - SS_JN_REC_HDR || p[10] || p[11] || pos < c->next_pos ||
		    pos > c->next_pos + n / SS_JN_REC_HDR)
			continue;
		if (ss_crc32c(0, p + 8, SS_JN_REC_HDR - 8 + (size_t)len) != ss_jn_get_u32(p + 4))
			continue;
		*found = from + 1 + x;
		rc = 1;
		break;
	}
	free(b);
	return rc;
}

/* The whole index of segment `first` (none if missing). */
struct ss_jn_ient *ss_jn_idx_load(const struct ss_journal *j, uint64_t first, size_t *n,
				  uint64_t *file_size)
{
	char ipath[PATH_MAX];
	struct ss_jn_ient *e = NULL;
	struct stat st;
	uint8_t *raw = NULL;
	ssize_t got;
	int fd;

	*n = 0;
	*file_size = 0;
	ss_jn_path(j, first, ".idx", ipath, sizeof ipath);
	fd = open(ipath, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		goto done;
	*file_size = (uint64_t)st.st_size;
	if (st.st_size < SS_JN_IDX_ENT)
		goto done;
	raw = ss_xmalloc((size_t)st.st_size);
	got = ss_jn_pread(fd, raw, (size_t)st.st_size, 0);
	if (got < SS_JN_IDX_ENT)
		goto done;
	*n = (size_t)got / SS_JN_IDX_ENT;
	e = ss_xmalloc(*n * sizeof *e);
	for (size_t i = 0; i < *n; i++) {
		e[i].ts = ss_jn_get_i64(raw + i * SS_JN_IDX_ENT);
		e[i].pos = ss_jn_get_u64(raw + i * SS_JN_IDX_ENT + 8);
		e[i].off = ss_jn_get_u64(raw + i * SS_JN_IDX_ENT + 16);
	}
done:
	free(raw);
	close(fd);
	return e;
}

/* Does the record at off carry pos and ts?  (An index entry is trusted only
 * after this.)  *len_out gets its payload length. */
int ss_jn_rec_matches(int fd, uint64_t off, uint64_t pos, int64_t ts, uint32_t *len_out)
{
	uint8_t h[SS_JN_REC_HDR];

	if (ss_jn_pread(fd, h, SS_JN_REC_HDR, off) != SS_JN_REC_HDR)
		return 0;
	if (len_out)
		*len_out = ss_jn_get_u32(h);
	return ss_jn_get_u64(h + 12) == pos && ss_jn_get_i64(h + 20) == ts;
}

int ss_journal_scan_segment(const void *buf, size_t len, struct ss_journal_scan *out,
			    struct ss_err *err)
{
	static const char name[] = "(segment image)";
	struct ss_journal j;
	struct ss_jn_cursor c;
	struct ss_jrec rec;
	uint8_t h[SS_JN_SEG_HDR];
	uint64_t first, found;
	ssize_t n;
	int r, v, rc = -1;

	memset(out, 0, sizeof *out);
	memset(&j, 0, sizeof j);
	j.dir = (char *)name;
	ss_jn_cur_init(&c);
	snprintf(c.path, sizeof c.path, "%s", name);
	c.fd = memfd_create("shadowsync-segment", MFD_CLOEXEC);
	if (c.fd < 0 || (len && ss_jn_pwrite(c.fd, buf, len, 0) < 0)) {
		ss_err_set(err, "journal %s: memfd: %s", name, strerror(errno));
		goto done;
	}
	n = ss_jn_pread(c.fd, h, sizeof h, 0);
	first = n >= 24 ? ss_jn_get_u64(h + 16) : 0;
	if (hdr_check(&j, c.path, h, n, first, &c.hdr_size, err) < 0)
		goto done;
	c.seg_first = first;
	c.off = c.hdr_size;
	c.next_pos = first;
	out->first_pos = first;
	while ((r = ss_jn_cur_next(&c, len, &rec, j.dir, err)) == SS_JN_CUR_REC)
		out->records++;
	out->valid_end = c.off < len ? c.off : len;
	if (r == SS_JN_CUR_ERR)
		goto done;
	if (r == SS_JN_CUR_BAD && c.hard) {
		ss_jn_bad_record(&j, &c, r, err);
		goto done;
	}
	if (r != SS_JN_CUR_END) {
		v = ss_jn_valid_after(&j, &c, c.off, len, &found, err);
		if (v < 0)
			goto done;
		if (v > 0) {
			ss_err_set(err,
				   "journal %s: bad record at offset %" PRIu64
				   ": %s, and valid records follow at offset %" PRIu64,
				   name, c.off, r == SS_JN_CUR_SHORT ? "incomplete record" : c.why,
				   found);
			goto done;
		}
		out->torn_bytes = len - out->valid_end;
	}
	rc = 0;
done:
	ss_jn_cur_done(&c);
	return rc;
}
