/*
 * journal_segment.c -- the journal's on-disk format: file names, record
 * framing and its CRC checks, the buffered cursor that reads a segment
 * record by record, the time index, and crash recovery (what opening the
 * journal checks, repairs or refuses).  See journal.h and journal_int.h.
 *
 * It leaves the writing of records to journal_write.c, readers to
 * journal_read.c, and the journal object (directory, lock, published state)
 * to journal.c.  What a payload means is the caller's business.
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
 *
 * Visibility: the writer publishes a commit (segment sizes, last position)
 * under the mutex after the data is written and synced; readers of the same
 * process never read past the published size.  A read-only journal (another
 * process) takes the file size as the limit and treats a torn tail of the
 * newest segment as the end of the data for now.
 */
#include "journal_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
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
		goto out;
	*file_size = (uint64_t)st.st_size;
	if (st.st_size < SS_JN_IDX_ENT)
		goto out;
	raw = ss_xmalloc((size_t)st.st_size);
	got = ss_jn_pread(fd, raw, (size_t)st.st_size, 0);
	if (got < SS_JN_IDX_ENT)
		goto out;
	*n = (size_t)got / SS_JN_IDX_ENT;
	e = ss_xmalloc(*n * sizeof *e);
	for (size_t i = 0; i < *n; i++) {
		e[i].ts = ss_jn_get_i64(raw + i * SS_JN_IDX_ENT);
		e[i].pos = ss_jn_get_u64(raw + i * SS_JN_IDX_ENT + 8);
		e[i].off = ss_jn_get_u64(raw + i * SS_JN_IDX_ENT + 16);
	}
out:
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
		goto out;
	rc = -1;
	if (fstat(c.fd, &st) < 0) {
		ss_err_set(err, "journal %s: %s: %s", j->dir, c.path, strerror(errno));
		goto out;
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
			goto out;
		}
	}
	for (;;) {
		uint64_t at = c.off;
		int r = ss_jn_cur_next(&c, size, &rec, j->dir, err);

		if (r == SS_JN_CUR_END)
			break;
		if (r == SS_JN_CUR_ERR)
			goto out;
		if (r != SS_JN_CUR_REC) {
			ss_jn_bad_record(j, &c, r, err);
			goto out;
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
		goto out;
	}
	if (!j->readonly && ifd >= 0 && rb.len) {
		if (last_entry != last_at)
			ient_add(&rb, s->last_ts, s->last_pos, last_at);
		if (idx_rewrite(j, ifd, ipath, &rb, err) < 0)
			goto out;
	}
	rc = 0;
out:
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
		goto out;
	w.fd = open(c.path, O_RDWR | O_CLOEXEC);
	ss_jn_path(j, s->first_pos, ".idx", ipath, sizeof ipath);
	w.ifd = ss_jn_open_private(ipath, O_RDWR | O_CREAT);
	if (w.fd < 0 || w.ifd < 0 || fstat(w.fd, &st) < 0) {
		ss_err_set(err, "journal %s: cannot open %s: %s", j->dir, w.fd < 0 ? c.path : ipath,
			   strerror(errno));
		goto out;
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
		goto out;
	if (r == SS_JN_CUR_BAD && c.hard) {
		ss_jn_bad_record(j, &c, r, err);
		goto out;
	}
	if (r != SS_JN_CUR_END) {
		int v = ss_jn_valid_after(j, &c, c.off, size, &found, err);

		if (v < 0)
			goto out;
		if (v > 0) {
			ss_err_set(err,
				   "journal %s: bad record in %s at offset %" PRIu64
				   ": %s, and valid records follow at offset %" PRIu64,
				   j->dir, c.path, c.off,
				   r == SS_JN_CUR_SHORT ? "incomplete record" : c.why, found);
			goto out;
		}
		if (c.off < floor) {
			ss_jn_end_lost(j, s->first_pos, c.off,
				       r == SS_JN_CUR_SHORT ? "incomplete record" : c.why, err);
			goto out;
		}
		if (ftruncate(w.fd, (off_t)c.off) < 0 ||
		    (j->mode != SS_FSYNC_OFF && fdatasync(w.fd) < 0)) {
			ss_err_set(err, "journal %s: truncating %s to %" PRIu64 ": %s", j->dir,
				   c.path, c.off, strerror(errno));
			goto out;
		}
		ss_jn_note(j,
			   "journal %s: truncated %" PRIu64
			   " bytes of a torn record at %s:%" PRIu64,
			   j->dir, size - c.off, c.path, c.off);
		size = c.off;
	} else if (floor != UINT64_MAX && c.off < floor) {
		ss_jn_end_lost(j, s->first_pos, c.off, "end of the file", err);
		goto out;
	}
	if (!idx_ok || (k == 0 && rb.len)) {
		if (idx_rewrite(j, w.ifd, ipath, &rb, err) < 0)
			goto out;
		w.idx_size = rb.len;
		w.idx_last_off = rb_last;
		w.idx_last_pos =
			rb.len ? ss_jn_get_u64((uint8_t *)rb.data + rb.len - SS_JN_IDX_ENT + 8) : 0;
	} else {
		w.idx_size = (uint64_t)k * SS_JN_IDX_ENT;
		if (isz != w.idx_size && ftruncate(w.ifd, (off_t)w.idx_size) < 0) {
			ss_err_set(err, "journal %s: truncating %s: %s", j->dir, ipath,
				   strerror(errno));
			goto out;
		}
	}
	s->bytes = size;
	w.size = size;
	w.last_pos = s->last_pos;
	w.last_ts = s->last_ts;
	j->cur = w;
	w.fd = w.ifd = -1;
	rc = 0;
out:
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
		goto out;
	rc = -1;
	if (fstat(c.fd, &st) < 0) {
		ss_err_set(err, "journal %s: %s: %s", j->dir, c.path, strerror(errno));
		goto out;
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
		goto out;
	s->bytes = c.off;
	rc = 0;
out:
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
			goto out;
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
out:
	free(ns);
	free(firsts);
	return rc;
}