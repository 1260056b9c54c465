/*
 * journal.c -- the journal: shadowsync's local, durable, time-indexed store
 * between capture and the appliers.  See journal.h.
 *
 * Owns everything in journal_dir: the record framing and its CRC checks, the
 * segment files and their rollover, the time index, fsync policy, crash
 * recovery, retention, the writer's flock, and the locking that lets one
 * writer thread and many reader threads share a journal.  It does not know
 * what a payload means (capture encodes, appliers decode), when to retain
 * (the daemon works that out from the appliers' positions and
 * journal_retention), or where an applier keeps its position (the target).
 *
 * On-disk format (all integers little-endian):
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
 * Recovery on open for writing: a segment header left incomplete or a .tmp
 * file is removed; the newest segment is scanned in full and a torn tail (an
 * incomplete record, or a bad one after which nothing valid follows) is
 * truncated; a bad record with valid data after it is an error.  Older
 * segments are checked through their sealing index entry (a full scan if it
 * is missing), including that each ends right before the next begins.
 *
 * Visibility: the writer publishes a commit (segment sizes, last position)
 * under the mutex after the data is written and synced; readers of the same
 * process never read past the published size.  A read-only journal (another
 * process) takes the file size as the limit and treats a torn tail of the
 * newest segment as the end of the data for now.
 */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "util.h"

#define SEG_MAGIC "SSJRNL1\n"
#define SEG_VERSION 1
#define SEG_HDR 32
#define REC_HDR 36
#define IDX_ENT 24
#define IDX_EVERY (64 * 1024)
#define READ_BUF (256 * 1024)
#define DEFAULT_SEGMENT_BYTES (64ull * 1024 * 1024)
#define MAX_PAYLOAD (1u << 30)
#define RO_POLL_US 20000
#define WBUF_KEEP (4u * 1024 * 1024)

/* What the journal knows about one segment file. */
struct seg {
	uint64_t first_pos;
	uint64_t last_pos; /* first_pos - 1 while it holds no record */
	int64_t first_ts;
	int64_t last_ts;
	uint64_t bytes; /* committed length (writer), valid length (read-only) */
};

struct ient {
	int64_t ts;
	uint64_t pos;
	uint64_t off;
};

/* The segment the writer appends to. */
struct wseg {
	int fd, ifd;
	uint64_t first_pos;
	uint64_t size;                       /* bytes written */
	uint64_t idx_size;                   /* bytes of index written */
	uint64_t idx_last_off, idx_last_pos; /* record of the last index entry */
	uint64_t last_off, last_pos;         /* the last record written */
	int64_t last_ts;
};

/* Buffered reading of one segment, record by record. */
struct cursor {
	int fd;
	uint64_t seg_first;
	uint64_t hdr_size;
	uint8_t *buf;
	size_t cap;
	uint64_t buf_off; /* file offset of buf[0] */
	size_t blen;
	uint64_t off;      /* the next record */
	uint64_t next_pos; /* the position it must carry */
	int hard;          /* the last CUR_BAD cannot be a torn write */
	char why[96];
	char path[PATH_MAX];
};

enum { CUR_ERR = -1, CUR_END = 0, CUR_REC = 1, CUR_SHORT = 2, CUR_BAD = 3 };

struct ss_journal {
	char *dir;
	int readonly;
	enum ss_fsync_mode mode;
	uint64_t segment_bytes;
	int lock_fd;
	int64_t (*now)(void);
	char note[1024];

	pthread_mutex_t mu; /* guards the fields down to wake_gen */
	pthread_cond_t cv;
	struct seg *segs;
	size_t nsegs, capsegs;
	uint64_t last_pos;
	int64_t last_ts;
	uint64_t total_bytes;
	uint64_t wake_gen;

	/* writer thread only */
	struct wseg cur; /* fd -1: the next commit starts a segment */
	struct ss_buf wbuf;
	uint64_t pend_pos;
	int64_t pend_ts;
	int broken;
	struct seg *stage; /* a commit's segments before they are published */
	size_t nstage, capstage;
	uint64_t *created; /* segments a commit created (undone on failure) */
	size_t ncreated, capcreated;
};

struct ss_journal_reader {
	struct ss_journal *j;
	struct cursor c;
	uint64_t limit;     /* readable length of the open segment */
	uint64_t want;      /* position to look for while no segment is open */
	uint64_t start_seg; /* where the index said to begin (0: nowhere) */
	uint64_t start_pos, start_off;
	uint64_t skip_upto; /* not returned: pos <= skip_upto ... */
	int64_t min_ts;     /* ... or ts < min_ts */
};

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static int64_t get_i64(const uint8_t *p)
{
	return (int64_t)get_u64(p);
}

static void seg_path(const struct ss_journal *j, uint64_t first, const char *ext, char *out,
		     size_t outlen)
{
	snprintf(out, outlen, "%s/%020" PRIu64 "%s", j->dir, first, ext);
}

static void note_add(struct ss_journal *j, const char *fmt, ...) SS_PRINTF(2, 3);
static void note_add(struct ss_journal *j, const char *fmt, ...)
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

static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
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

static int pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
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

static int fsync_dir(const struct ss_journal *j, struct ss_err *err)
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

static int sync_fd(int fd, int full)
{
	return full ? fsync(fd) : fdatasync(fd);
}

static int mkdir_p(const char *dir, struct ss_err *err)
{
	char tmp[PATH_MAX];
	struct stat st;

	snprintf(tmp, sizeof tmp, "%s", dir);
	for (char *p = tmp + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
			ss_err_set(err, "journal %s: cannot create directory %s: %s", dir, tmp,
				   strerror(errno));
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		ss_err_set(err, "journal %s: not a directory", dir);
		return -1;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void push_u64(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = ss_xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = x;
}

static void push_seg(struct seg **v, size_t *n, size_t *cap, const struct seg *s)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = ss_xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = *s;
}

/* The segments in the directory, sorted by first position.  clean (writer):
 * also remove leftover .seg.tmp files and index files without a segment. */
static int list_dir(struct ss_journal *j, int clean, uint64_t **out, size_t *nout,
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
			push_u64(&segs, &ns, &cs, first);
		} else if (clean && strcmp(name + 20, ".idx") == 0) {
			push_u64(&idxs, &ni, &ci, first);
		} else if (clean && strcmp(name + 20, ".seg.tmp") == 0) {
			snprintf(path, sizeof path, "%s/%s", j->dir, name);
			unlink(path);
			note_add(j, "journal %s: removed the unfinished segment file %s", j->dir,
				 path);
		}
	}
	closedir(d);
	if (ns)
		qsort(segs, ns, sizeof *segs, cmp_u64);
	for (size_t i = 0; i < ni; i++) {
		if (ns && bsearch(&idxs[i], segs, ns, sizeof *segs, cmp_u64))
			continue;
		seg_path(j, idxs[i], ".idx", path, sizeof path);
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

	if (n < SEG_HDR) {
		ss_err_set(err, "journal %s: %s: segment header is incomplete (%zd of %d bytes)",
			   j->dir, path, n, SEG_HDR);
		return -1;
	}
	if (memcmp(h, SEG_MAGIC, 8) != 0) {
		ss_err_set(err, "journal %s: %s is not a journal segment (bad magic at offset 0)",
			   j->dir, path);
		return -1;
	}
	v = get_u32(h + 8);
	hs = get_u32(h + 12);
	if (v != SEG_VERSION) {
		ss_err_set(err, "journal %s: %s: format version %u at offset 8 is not supported",
			   j->dir, path, v);
		return -1;
	}
	if (hs < SEG_HDR || hs > 65536) {
		ss_err_set(err, "journal %s: %s: bad header size %u at offset 12", j->dir, path,
			   hs);
		return -1;
	}
	if (get_u64(h + 16) != first) {
		ss_err_set(err,
			   "journal %s: %s: header at offset 16 says first position %" PRIu64
			   ", the file name %" PRIu64,
			   j->dir, path, get_u64(h + 16), first);
		return -1;
	}
	*hdr_size = hs;
	return 0;
}

static void cur_init(struct cursor *c)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

static void cur_close(struct cursor *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->blen = 0;
	c->buf_off = 0;
}

static void cur_done(struct cursor *c)
{
	cur_close(c);
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
}

/* Open segment `first` and stand at its first record.  -2 when the file does
 * not exist (err filled all the same). */
static int cur_open(struct cursor *c, const struct ss_journal *j, uint64_t first,
		    struct ss_err *err)
{
	uint8_t h[SEG_HDR];
	ssize_t n;

	cur_close(c);
	seg_path(j, first, ".seg", c->path, sizeof c->path);
	c->fd = open(c->path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0) {
		int e = errno;

		ss_err_set(err, "journal %s: cannot open %s: %s", j->dir, c->path, strerror(e));
		return e == ENOENT ? -2 : -1;
	}
	n = pread_full(c->fd, h, SEG_HDR, 0);
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
	cur_close(c);
	return -1;
}

/* Forget buffered bytes from the current record on (they may have been read
 * while another process was still writing them). */
static void cur_drop(struct cursor *c)
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
static int cur_fill(struct cursor *c, size_t need, uint64_t limit, const char *dir,
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
		c->cap = need > READ_BUF ? need + READ_BUF : READ_BUF;
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

/* The next record before limit.  CUR_SHORT: it runs past limit (or the file);
 * CUR_BAD: it is damaged, c->why says how and c->hard whether it could be
 * the remains of a torn write (hard: it cannot). */
static int cur_next(struct cursor *c, uint64_t limit, struct ss_jrec *rec, const char *dir,
		    struct ss_err *err)
{
	const uint8_t *p;
	uint32_t len;
	int rc;

	if (c->off >= limit)
		return CUR_END;
	rc = cur_fill(c, REC_HDR, limit, dir, err);
	if (rc <= 0)
		return rc < 0 ? CUR_ERR : CUR_SHORT;
	len = get_u32(c->buf + (c->off - c->buf_off));
	c->hard = 0;
	if (len > MAX_PAYLOAD) {
		snprintf(c->why, sizeof c->why, "impossible payload length %u", len);
		return CUR_BAD;
	}
	rc = cur_fill(c, REC_HDR + (size_t)len, limit, dir, err);
	if (rc <= 0)
		return rc < 0 ? CUR_ERR : CUR_SHORT;
	p = c->buf + (c->off - c->buf_off);
	if (ss_crc32c(0, p + 8, REC_HDR - 8 + (size_t)len) != get_u32(p + 4)) {
		snprintf(c->why, sizeof c->why, "CRC mismatch");
		return CUR_BAD;
	}
	c->hard = 1;
	if (p[10] || p[11]) {
		snprintf(c->why, sizeof c->why, "reserved field is not zero");
		return CUR_BAD;
	}
	if (get_u64(p + 12) != c->next_pos) {
		snprintf(c->why, sizeof c->why, "position %" PRIu64 " where %" PRIu64 " belongs",
			 get_u64(p + 12), c->next_pos);
		return CUR_BAD;
	}
	rec->pos = c->next_pos;
	rec->ts_us = get_i64(p + 20);
	rec->type = p[8];
	rec->flags = p[9];
	rec->txid = get_u64(p + 28);
	rec->payload = p + REC_HDR;
	rec->len = len;
	c->off += REC_HDR + (uint64_t)len;
	c->next_pos++;
	return CUR_REC;
}

static void bad_record(const struct ss_journal *j, const struct cursor *c, int rc,
		       struct ss_err *err)
{
	ss_err_set(err, "journal %s: bad record in %s at offset %" PRIu64 ": %s", j->dir, c->path,
		   c->off, rc == CUR_SHORT ? "incomplete record" : c->why);
}

/* Is there a valid record (pos >= min_pos) anywhere in (from, limit)?  That
 * tells a torn tail (nothing) from damage in the middle (something).
 * 1 and *found: yes; 0: no; -1: read error. */
static int valid_after(const struct ss_journal *j, const struct cursor *c, uint64_t from,
		       uint64_t limit, uint64_t *found, struct ss_err *err)
{
	size_t n;
	ssize_t got;
	uint8_t *b;
	int rc = 0;

	if (limit <= from + REC_HDR)
		return 0;
	n = (size_t)(limit - from - 1);
	b = ss_xmalloc(n);
	got = pread_full(c->fd, b, n, from + 1);
	if (got < 0) {
		ss_err_set(err, "journal %s: read %s at offset %" PRIu64 ": %s", j->dir, c->path,
			   from + 1, strerror(errno));
		free(b);
		return -1;
	}
	n = (size_t)got;
	for (size_t x = 0; x + REC_HDR <= n; x++) {
		const uint8_t *p = b + x;
		uint32_t len = get_u32(p);
		uint64_t pos = get_u64(p + 12);

		if (len > n - x - REC_HDR || p[10] || p[11] || pos < c->next_pos ||
		    pos > c->next_pos + n / REC_HDR)
			continue;
		if (ss_crc32c(0, p + 8, REC_HDR - 8 + (size_t)len) != get_u32(p + 4))
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
	if (ftruncate(ifd, 0) < 0 || pwrite_full(ifd, b->data, b->len, 0) < 0 ||
	    (j->mode != SS_FSYNC_OFF && fdatasync(ifd) < 0)) {
		ss_err_set(err, "journal %s: rebuilding %s: %s", j->dir, ipath, strerror(errno));
		return -1;
	}
	return 0;
}

static void ient_add(struct ss_buf *b, int64_t ts, uint64_t pos, uint64_t off)
{
	uint8_t e[IDX_ENT];

	put_u64(e, (uint64_t)ts);
	put_u64(e + 8, pos);
	put_u64(e + 16, off);
	ss_buf_add(b, e, sizeof e);
}

/* The whole index of segment `first` (none if missing). */
static struct ient *idx_load(const struct ss_journal *j, uint64_t first, size_t *n,
			     uint64_t *file_size)
{
	char ipath[PATH_MAX];
	struct ient *e = NULL;
	struct stat st;
	uint8_t *raw = NULL;
	ssize_t got;
	int fd;

	*n = 0;
	*file_size = 0;
	seg_path(j, first, ".idx", ipath, sizeof ipath);
	fd = open(ipath, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		goto out;
	*file_size = (uint64_t)st.st_size;
	if (st.st_size < IDX_ENT)
		goto out;
	raw = ss_xmalloc((size_t)st.st_size);
	got = pread_full(fd, raw, (size_t)st.st_size, 0);
	if (got < IDX_ENT)
		goto out;
	*n = (size_t)got / IDX_ENT;
	e = ss_xmalloc(*n * sizeof *e);
	for (size_t i = 0; i < *n; i++) {
		e[i].ts = get_i64(raw + i * IDX_ENT);
		e[i].pos = get_u64(raw + i * IDX_ENT + 8);
		e[i].off = get_u64(raw + i * IDX_ENT + 16);
	}
out:
	free(raw);
	close(fd);
	return e;
}

/* Does the record at off carry pos and ts?  (An index entry is trusted only
 * after this.)  *len_out gets its payload length. */
static int rec_matches(int fd, uint64_t off, uint64_t pos, int64_t ts, uint32_t *len_out)
{
	uint8_t h[REC_HDR];

	if (pread_full(fd, h, REC_HDR, off) != REC_HDR)
		return 0;
	if (len_out)
		*len_out = get_u32(h);
	return get_u64(h + 12) == pos && get_i64(h + 20) == ts;
}

/* An older segment: find its last record through the sealing index entry,
 * else by scanning it (and, writing, rebuild the index).  It must end right
 * before next_first.  -2: the file is gone. */
static int seg_sealed(struct ss_journal *j, struct seg *s, uint64_t next_first, struct ss_err *err)
{
	char ipath[PATH_MAX];
	struct ss_buf rb;
	struct cursor c;
	struct ss_jrec rec;
	struct stat st;
	uint8_t e[IDX_ENT], rh[REC_HDR];
	uint64_t size, last_at = 0, last_entry = 0;
	int ifd = -1, rc = -1;

	ss_buf_init(&rb);
	cur_init(&c);
	rc = cur_open(&c, j, s->first_pos, err);
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
	if (pread_full(c.fd, rh, REC_HDR, c.hdr_size) == REC_HDR)
		s->first_ts = get_i64(rh + 20);

	seg_path(j, s->first_pos, ".idx", ipath, sizeof ipath);
	ifd = open(ipath, (j->readonly ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC, 0644);
	if (ifd >= 0 && fstat(ifd, &st) == 0 && st.st_size >= IDX_ENT &&
	    st.st_size % IDX_ENT == 0 &&
	    pread_full(ifd, e, IDX_ENT, (uint64_t)st.st_size - IDX_ENT) == IDX_ENT) {
		uint64_t off = get_u64(e + 16), pos = get_u64(e + 8);
		uint32_t len = 0;

		if (off >= c.hdr_size && pos + 1 == next_first &&
		    rec_matches(c.fd, off, pos, get_i64(e), &len) && off + REC_HDR + len == size) {
			s->last_pos = pos;
			s->last_ts = get_i64(e);
			rc = 0;
			goto out;
		}
	}
	for (;;) {
		uint64_t at = c.off;
		int r = cur_next(&c, size, &rec, j->dir, err);

		if (r == CUR_END)
			break;
		if (r == CUR_ERR)
			goto out;
		if (r != CUR_REC) {
			bad_record(j, &c, r, err);
			goto out;
		}
		if (!rb.len || at >= last_entry + IDX_EVERY) {
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
	cur_done(&c);
	ss_buf_free(&rb);
	return rc;
}

/* The newest segment, opening for writing: scan it all, truncate a torn tail,
 * check the index against the records (rebuild it if wrong), and make it the
 * segment to append to. */
static int seg_recover_last(struct ss_journal *j, struct seg *s, struct ss_err *err)
{
	char ipath[PATH_MAX];
	struct ss_buf rb;
	struct cursor c;
	struct ss_jrec rec;
	struct stat st;
	struct ient *e = NULL;
	struct wseg w = {.fd = -1, .ifd = -1};
	size_t n = 0, k = 0;
	uint64_t isz, size, rb_last = 0, found;
	int idx_ok = 1, rc = -1, r;

	ss_buf_init(&rb);
	cur_init(&c);
	if (cur_open(&c, j, s->first_pos, err) < 0)
		goto out;
	w.fd = open(c.path, O_RDWR | O_CLOEXEC);
	seg_path(j, s->first_pos, ".idx", ipath, sizeof ipath);
	w.ifd = open(ipath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (w.fd < 0 || w.ifd < 0 || fstat(w.fd, &st) < 0) {
		ss_err_set(err, "journal %s: cannot open %s: %s", j->dir, w.fd < 0 ? c.path : ipath,
			   strerror(errno));
		goto out;
	}
	size = (uint64_t)st.st_size;
	e = idx_load(j, s->first_pos, &n, &isz);
	s->last_pos = s->first_pos - 1;
	w.first_pos = s->first_pos;
	for (;;) {
		uint64_t at = c.off;

		r = cur_next(&c, size, &rec, j->dir, err);
		if (r != CUR_REC)
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
		if (!rb.len || at >= rb_last + IDX_EVERY) {
			ient_add(&rb, rec.ts_us, rec.pos, at);
			rb_last = at;
		}
		if (s->last_pos < s->first_pos)
			s->first_ts = rec.ts_us;
		s->last_pos = rec.pos;
		s->last_ts = rec.ts_us;
		w.last_off = at;
	}
	if (r == CUR_ERR)
		goto out;
	if (r == CUR_BAD && c.hard) {
		bad_record(j, &c, r, err);
		goto out;
	}
	if (r != CUR_END) {
		int v = valid_after(j, &c, c.off, size, &found, err);

		if (v < 0)
			goto out;
		if (v > 0) {
			ss_err_set(err,
				   "journal %s: bad record in %s at offset %" PRIu64
				   ": %s, and valid records follow at offset %" PRIu64,
				   j->dir, c.path, c.off,
				   r == CUR_SHORT ? "incomplete record" : c.why, found);
			goto out;
		}
		if (ftruncate(w.fd, (off_t)c.off) < 0 ||
		    (j->mode != SS_FSYNC_OFF && fdatasync(w.fd) < 0)) {
			ss_err_set(err, "journal %s: truncating %s to %" PRIu64 ": %s", j->dir,
				   c.path, c.off, strerror(errno));
			goto out;
		}
		note_add(j,
			 "journal %s: truncated %" PRIu64 " bytes of a torn record at %s:%" PRIu64,
			 j->dir, size - c.off, c.path, c.off);
		size = c.off;
	}
	if (!idx_ok || (k == 0 && rb.len)) {
		if (idx_rewrite(j, w.ifd, ipath, &rb, err) < 0)
			goto out;
		w.idx_size = rb.len;
		w.idx_last_off = rb_last;
		w.idx_last_pos = rb.len ? get_u64((uint8_t *)rb.data + rb.len - IDX_ENT + 8) : 0;
	} else {
		w.idx_size = (uint64_t)k * IDX_ENT;
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
	cur_done(&c);
	ss_buf_free(&rb);
	return rc;
}

/* Read-only: scan segment s from where we know it to be valid up to the end
 * of its valid records (stopping quietly at anything torn or bad).  -2: the
 * file is gone. */
static int ro_scan(struct ss_journal *j, struct seg *s, struct ss_err *err)
{
	struct cursor c;
	struct ss_jrec rec;
	struct stat st;
	int rc = -1, r;

	cur_init(&c);
	rc = cur_open(&c, j, s->first_pos, err);
	if (rc < 0)
		goto out;
	rc = -1;
	if (fstat(c.fd, &st) < 0) {
		ss_err_set(err, "journal %s: %s: %s", j->dir, c.path, strerror(errno));
		goto out;
	}
	if (s->bytes < c.hdr_size) {
		struct ient *e;
		size_t n;
		uint64_t isz;

		s->bytes = c.hdr_size;
		s->last_pos = s->first_pos - 1;
		/* start from the last index entry that checks out */
		e = idx_load(j, s->first_pos, &n, &isz);
		for (size_t i = n; i-- > 0;) {
			if (e[i].off >= c.hdr_size && e[i].pos >= s->first_pos &&
			    rec_matches(c.fd, e[i].off, e[i].pos, e[i].ts, NULL)) {
				uint8_t h[REC_HDR];

				if (pread_full(c.fd, h, REC_HDR, c.hdr_size) == REC_HDR)
					s->first_ts = get_i64(h + 20);
				s->bytes = e[i].off;
				s->last_pos = e[i].pos - 1;
				break;
			}
		}
		free(e);
	}
	c.off = s->bytes;
	c.next_pos = s->last_pos + 1;
	while ((r = cur_next(&c, (uint64_t)st.st_size, &rec, j->dir, err)) == CUR_REC) {
		if (s->last_pos < s->first_pos)
			s->first_ts = rec.ts_us;
		s->last_pos = rec.pos;
		s->last_ts = rec.ts_us;
	}
	if (r == CUR_ERR)
		goto out;
	s->bytes = c.off;
	rc = 0;
out:
	cur_done(&c);
	return rc;
}

/* Read-only: bring the segment list up to date with the directory (a
 * segment the writer removes meanwhile is left out).  Caller holds the
 * mutex. */
static int ro_refresh(struct ss_journal *j, struct ss_err *err)
{
	uint64_t *firsts = NULL;
	struct seg *ns = NULL;
	size_t n = 0, m = 0, k = 0;
	int rc = -1, r;

	if (list_dir(j, 0, &firsts, &n, err) < 0)
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
			r = i + 1 < n ? seg_sealed(j, &ns[k], firsts[i + 1], err) :
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

static struct ss_journal *j_new(const char *dir, int readonly, struct ss_err *err)
{
	struct ss_journal *j;
	pthread_condattr_t ca;

	if (!dir || !*dir || strlen(dir) + 40 >= PATH_MAX) {
		ss_err_set(err, "journal directory \"%s\" is empty or too long", dir ? dir : "");
		return NULL;
	}
	j = ss_xcalloc(1, sizeof *j);
	j->dir = ss_xstrdup(dir);
	j->readonly = readonly;
	j->lock_fd = -1;
	j->now = ss_now_us;
	j->cur.fd = j->cur.ifd = -1;
	ss_buf_init(&j->wbuf);
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	return j;
}

struct ss_journal *ss_journal_open(const char *dir, enum ss_fsync_mode mode, uint64_t segment_bytes,
				   struct ss_err *err)
{
	struct ss_journal *j = j_new(dir, 0, err);
	char path[PATH_MAX];
	uint64_t *firsts = NULL;
	size_t n = 0;
	struct stat st;

	if (!j)
		return NULL;
	j->mode = mode;
	j->segment_bytes = segment_bytes ? segment_bytes : DEFAULT_SEGMENT_BYTES;
	if (mkdir_p(dir, err) < 0)
		goto fail;
	snprintf(path, sizeof path, "%s/lock", dir);
	j->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (j->lock_fd < 0) {
		ss_err_set(err, "journal %s: cannot open %s: %s", dir, path, strerror(errno));
		goto fail;
	}
	if (flock(j->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			ss_err_set(err, "journal %s is in use by another shadowsync process", dir);
		else
			ss_err_set(err, "journal %s: cannot lock %s: %s", dir, path,
				   strerror(errno));
		goto fail;
	}
	if (list_dir(j, 1, &firsts, &n, err) < 0)
		goto fail;
	/* a newest segment whose header never got written whole */
	if (n) {
		seg_path(j, firsts[n - 1], ".seg", path, sizeof path);
		if (stat(path, &st) == 0 && st.st_size < SEG_HDR) {
			unlink(path);
			note_add(j,
				 "journal %s: removed %s, its header was incomplete (%lld bytes)",
				 dir, path, (long long)st.st_size);
			seg_path(j, firsts[--n], ".idx", path, sizeof path);
			unlink(path);
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct seg s = {.first_pos = firsts[i]};

		if (i + 1 < n ? seg_sealed(j, &s, firsts[i + 1], err) :
				seg_recover_last(j, &s, err))
			goto fail;
		push_seg(&j->segs, &j->nsegs, &j->capsegs, &s);
		j->total_bytes += s.bytes;
		if (s.last_pos >= s.first_pos) {
			j->last_pos = s.last_pos;
			j->last_ts = s.last_ts;
		}
	}
	j->pend_pos = j->last_pos;
	j->pend_ts = j->last_ts;
	free(firsts);
	return j;
fail:
	free(firsts);
	ss_journal_free(j);
	return NULL;
}

struct ss_journal *ss_journal_open_readonly(const char *dir, struct ss_err *err)
{
	struct ss_journal *j = j_new(dir, 1, err);
	struct stat st;
	int rc;

	if (!j)
		return NULL;
	if (stat(dir, &st) < 0) {
		ss_err_set(err, "journal %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (!S_ISDIR(st.st_mode)) {
		ss_err_set(err, "journal %s: not a directory", dir);
		goto fail;
	}
	pthread_mutex_lock(&j->mu);
	rc = ro_refresh(j, err);
	pthread_mutex_unlock(&j->mu);
	if (rc < 0)
		goto fail;
	return j;
fail:
	ss_journal_free(j);
	return NULL;
}

static void w_close(struct wseg *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->ifd >= 0)
		close(w->ifd);
	w->fd = w->ifd = -1;
}

void ss_journal_free(struct ss_journal *j)
{
	if (!j)
		return;
	w_close(&j->cur);
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	ss_buf_free(&j->wbuf);
	free(j->segs);
	free(j->stage);
	free(j->created);
	free(j->dir);
	free(j);
}

const char *ss_journal_recovery_note(const struct ss_journal *j)
{
	return j ? j->note : "";
}

void ss_journal_set_clock(struct ss_journal *j, int64_t (*now)(void))
{
	j->now = now ? now : ss_now_us;
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
	if (len > MAX_PAYLOAD) {
		ss_err_set(err, "journal %s: a record of %u bytes is over the limit of %u", j->dir,
			   len, MAX_PAYLOAD);
		return -1;
	}
	ss_buf_reserve(&j->wbuf, REC_HDR + (size_t)len);
	p = (uint8_t *)j->wbuf.data + j->wbuf.len;
	now = j->now();
	if (now < j->pend_ts)
		now = j->pend_ts;
	j->pend_pos++;
	j->pend_ts = now;
	put_u32(p, len);
	p[8] = type;
	p[9] = flags;
	p[10] = p[11] = 0;
	put_u64(p + 12, j->pend_pos);
	put_u64(p + 20, (uint64_t)now);
	put_u64(p + 28, txid);
	if (len)
		memcpy(p + REC_HDR, payload, len);
	put_u32(p + 4, ss_crc32c(0, p + 8, REC_HDR - 8 + (size_t)len));
	j->wbuf.len += REC_HDR + (size_t)len;
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
	uint8_t e[IDX_ENT];
	char ipath[PATH_MAX];

	put_u64(e, (uint64_t)ts);
	put_u64(e + 8, pos);
	put_u64(e + 16, off);
	if (pwrite_full(j->cur.ifd, e, IDX_ENT, j->cur.idx_size) < 0) {
		seg_path(j, j->cur.first_pos, ".idx", ipath, sizeof ipath);
		ss_err_set(err, "journal %s: write %s at offset %" PRIu64 ": %s", j->dir, ipath,
			   j->cur.idx_size, strerror(errno));
		return -1;
	}
	j->cur.idx_size += IDX_ENT;
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
	if (pwrite_full(j->cur.fd, p, n, off) < 0) {
		seg_path(j, j->cur.first_pos, ".seg", path, sizeof path);
		ss_err_set(err, "journal %s: write %s at offset %" PRIu64 ": %s", j->dir, path, off,
			   strerror(errno));
		return -1;
	}
	j->cur.size += n;
	j->stage[j->nstage - 1].bytes = j->cur.size;
	if (j->cur.idx_size == 0 || off >= j->cur.idx_last_off + IDX_EVERY)
		return w_idx_entry(j, get_i64(p + 20), get_u64(p + 12), off, err);
	return 0;
}

static int w_sync(struct ss_journal *j, int with_idx, struct ss_err *err)
{
	char path[PATH_MAX];
	int full = j->mode == SS_FSYNC_ALWAYS;

	if (j->mode == SS_FSYNC_OFF)
		return 0;
	if (sync_fd(j->cur.fd, full) < 0) {
		seg_path(j, j->cur.first_pos, ".seg", path, sizeof path);
		goto fail;
	}
	if ((with_idx || full) && fdatasync(j->cur.ifd) < 0) {
		seg_path(j, j->cur.first_pos, ".idx", path, sizeof path);
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
	uint8_t h[SEG_HDR] = {0};
	struct wseg w = {.fd = -1, .ifd = -1, .first_pos = first, .size = SEG_HDR};
	struct seg s = {.first_pos = first, .last_pos = first - 1, .bytes = SEG_HDR};

	seg_path(j, first, ".seg.tmp", tmp, sizeof tmp);
	seg_path(j, first, ".seg", path, sizeof path);
	seg_path(j, first, ".idx", ipath, sizeof ipath);
	memcpy(h, SEG_MAGIC, 8);
	put_u32(h + 8, SEG_VERSION);
	put_u32(h + 12, SEG_HDR);
	put_u64(h + 16, first);
	put_u64(h + 24, (uint64_t)j->now());
	w.fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w.fd < 0 || pwrite_full(w.fd, h, SEG_HDR, 0) < 0 ||
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
	push_u64(&j->created, &j->ncreated, &j->capcreated, first);
	w.ifd = open(ipath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w.ifd < 0) {
		ss_err_set(err, "journal %s: creating %s: %s", j->dir, ipath, strerror(errno));
		goto fail;
	}
	if (j->mode != SS_FSYNC_OFF && fsync_dir(j, err) < 0)
		goto fail;
	j->cur = w;
	push_seg(&j->stage, &j->nstage, &j->capstage, &s);
	return 0;
fail:
	w_close(&w);
	return -1;
}

/* Undo a failed commit: remove the segments it created, cut the one it
 * started in back to where it was.  If that fails too, or an fsync failed
 * (the kernel may have dropped the dirty pages), refuse further writes. */
static void w_rollback(struct ss_journal *j, const struct wseg *orig, int sync_failed)
{
	char path[PATH_MAX];
	int ok = !sync_failed;

	if (j->cur.fd >= 0 && j->cur.fd != orig->fd)
		w_close(&j->cur);
	for (size_t i = 0; i < j->ncreated; i++) {
		seg_path(j, j->created[i], ".seg", path, sizeof path);
		if (unlink(path) < 0 && errno != ENOENT)
			ok = 0;
		seg_path(j, j->created[i], ".idx", path, sizeof path);
		unlink(path);
	}
	if (orig->fd >= 0 && (ftruncate(orig->fd, (off_t)orig->size) < 0 ||
			      ftruncate(orig->ifd, (off_t)orig->idx_size) < 0))
		ok = 0;
	j->cur = *orig;
	if (!ok)
		j->broken = 1;
}

int ss_journal_commit(struct ss_journal *j, struct ss_err *err)
{
	const uint8_t *b = (const uint8_t *)j->wbuf.data;
	size_t n = j->wbuf.len, o = 0, chunk = 0;
	struct wseg orig = j->cur;
	uint64_t added = 0;
	int sync_failed = 0;

	if (writable(j, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	j->nstage = 0;
	j->ncreated = 0;
	if (orig.fd >= 0)
		push_seg(&j->stage, &j->nstage, &j->capstage, &j->segs[j->nsegs - 1]);
	while (o < n) {
		size_t rs = REC_HDR + (size_t)get_u32(b + o);
		uint64_t pos = get_u64(b + o + 12);
		int64_t ts = get_i64(b + o + 20);
		struct seg *st = j->nstage ? &j->stage[j->nstage - 1] : NULL;

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
					w_close(&j->cur);
			}
			if (w_create(j, pos, err) < 0)
				goto fail;
			added += SEG_HDR;
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
	if (w_sync(j, 0, err) < 0) {
		sync_failed = 1;
		goto fail;
	}

	pthread_mutex_lock(&j->mu);
	size_t from = 0;
	if (orig.fd >= 0)
		j->segs[j->nsegs - 1] = j->stage[from++];
	for (; from < j->nstage; from++)
		push_seg(&j->segs, &j->nsegs, &j->capsegs, &j->stage[from]);
	j->last_pos = j->pend_pos;
	j->last_ts = j->pend_ts;
	j->total_bytes += added;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);

	if (orig.fd >= 0 && orig.fd != j->cur.fd)
		w_close(&orig);
	if (j->wbuf.cap > WBUF_KEEP)
		ss_buf_free(&j->wbuf);
	else
		ss_buf_reset(&j->wbuf);
	return 0;
fail:
	w_rollback(j, &orig, sync_failed);
	return -1;
}

uint64_t ss_journal_first_pos(struct ss_journal *j)
{
	uint64_t v = 0;

	pthread_mutex_lock(&j->mu);
	if (j->nsegs && j->last_pos >= j->segs[0].first_pos)
		v = j->segs[0].first_pos;
	pthread_mutex_unlock(&j->mu);
	return v;
}

uint64_t ss_journal_last_pos(struct ss_journal *j)
{
	uint64_t v;

	pthread_mutex_lock(&j->mu);
	v = j->last_pos;
	pthread_mutex_unlock(&j->mu);
	return v;
}

int64_t ss_journal_last_ts(struct ss_journal *j)
{
	int64_t v;

	pthread_mutex_lock(&j->mu);
	v = j->last_ts;
	pthread_mutex_unlock(&j->mu);
	return v;
}

uint64_t ss_journal_bytes(struct ss_journal *j)
{
	uint64_t v;

	pthread_mutex_lock(&j->mu);
	v = j->total_bytes;
	pthread_mutex_unlock(&j->mu);
	return v;
}

static struct timespec mono_at(int64_t us)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	us += (int64_t)ts.tv_nsec / 1000;
	ts.tv_sec += us / 1000000;
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	return ts;
}

uint64_t ss_journal_wait(struct ss_journal *j, uint64_t after_pos, int64_t timeout_us)
{
	int64_t deadline = timeout_us >= 0 ? ss_mono_us() + timeout_us : INT64_MAX;
	uint64_t gen, v;

	pthread_mutex_lock(&j->mu);
	gen = j->wake_gen;
	for (;;) {
		struct ss_err ignored;
		int64_t now, slice;

		if (j->readonly)
			(void)ro_refresh(j, &ignored);
		if (j->last_pos > after_pos || j->wake_gen != gen)
			break;
		now = ss_mono_us();
		if (now >= deadline)
			break;
		slice = deadline - now;
		if (j->readonly && slice > RO_POLL_US)
			slice = RO_POLL_US;
		if (slice > 3600 * INT64_C(1000000))
			slice = 3600 * INT64_C(1000000);
		struct timespec at = mono_at(slice);

		pthread_cond_timedwait(&j->cv, &j->mu, &at);
	}
	v = j->last_pos;
	pthread_mutex_unlock(&j->mu);
	return v;
}

void ss_journal_wake_all(struct ss_journal *j)
{
	pthread_mutex_lock(&j->mu);
	j->wake_gen++;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

/* Index of the last segment with first_pos <= pos; -1 if none.  Mutex held. */
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
	struct ient *e;
	size_t n, lo = 0, hi;
	uint64_t isz;
	int fd;

	r->start_seg = first;
	r->start_pos = first;
	r->start_off = 0;
	e = idx_load(r->j, first, &n, &isz);
	hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int ok = e[mid].off + REC_HDR <= limit &&
			 (by_time ? e[mid].ts < want_ts : e[mid].pos <= want_pos);

		if (ok)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && e[lo - 1].off >= SEG_HDR && e[lo - 1].pos >= first) {
		seg_path(r->j, first, ".seg", path, sizeof path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && rec_matches(fd, e[lo - 1].off, e[lo - 1].pos, e[lo - 1].ts, NULL)) {
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

	cur_init(&r->c);
	r->j = j;
	r->skip_upto = by_time ? 0 : after_pos;
	r->min_ts = by_time ? ts : INT64_MIN;
	pthread_mutex_lock(&j->mu);
	if (j->readonly && ro_refresh(j, err) < 0)
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
	cur_done(&r->c);
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
	if (j->readonly && ro_refresh(j, err) < 0)
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
	rc = cur_open(&r->c, j, first, err);
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
	struct cursor *c = &r->c;
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
	if (cur_open(c, j, first, err) < 0)
		return -1;
	r->limit = limit;
	return 1;
}

/* Read-only: cur_next() said rc at c->off with the file r->limit long.
 * Decide between "more has arrived", "go on to the next segment", "nothing
 * new yet" (0) and corruption (-1). */
static int reader_more_ro(struct ss_journal_reader *r, int rc, struct ss_err *err)
{
	struct ss_journal *j = r->j;
	struct cursor *c = &r->c;
	char next[PATH_MAX];
	struct stat st;
	uint64_t size, found;
	int v;

	if (rc == CUR_BAD && c->hard) {
		bad_record(j, c, rc, err);
		return -1;
	}
	if (file_size(r, &size, err) < 0)
		return -1;
	if (size != r->limit) {
		cur_drop(c);
		r->limit = size;
		return 1;
	}
	seg_path(j, c->next_pos, ".seg", next, sizeof next);
	if (stat(next, &st) == 0) {
		/* the writer finishes a segment before it starts the next one */
		if (file_size(r, &size, err) < 0)
			return -1;
		if (size != r->limit) {
			cur_drop(c);
			r->limit = size;
			return 1;
		}
		if (rc != CUR_END) {
			bad_record(j, c, rc, err);
			return -1;
		}
		uint64_t np = c->next_pos;
		if (cur_open(c, j, np, err) < 0 || file_size(r, &r->limit, err) < 0)
			return -1;
		return 1;
	}
	if (rc == CUR_END)
		return 0;
	v = valid_after(j, c, c->off, size, &found, err);
	if (v < 0)
		return -1;
	if (v > 0) {
		ss_err_set(err,
			   "journal %s: bad record in %s at offset %" PRIu64
			   ": %s, and valid records follow at offset %" PRIu64,
			   j->dir, c->path, c->off, rc == CUR_SHORT ? "incomplete record" : c->why,
			   found);
		return -1;
	}
	cur_drop(c);
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
		rc = cur_next(&r->c, r->limit, rec, r->j->dir, err);
		if (rc == CUR_REC) {
			if (rec->pos <= r->skip_upto || rec->ts_us < r->min_ts)
				continue;
			return 1;
		}
		if (rc == CUR_ERR)
			return -1;
		if (r->j->readonly) {
			rc = reader_more_ro(r, rc, err);
		} else if (rc != CUR_END) {
			bad_record(r->j, &r->c, rc, err);
			return -1;
		} else {
			rc = reader_more(r, err);
		}
		if (rc <= 0)
			return rc;
	}
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

		seg_path(j, first, ".seg", path, sizeof path);
		if (unlink(path) < 0 && errno != ENOENT) {
			ss_err_set(err, "journal %s: removing %s: %s", j->dir, path,
				   strerror(errno));
			return -1;
		}
		seg_path(j, first, ".idx", path, sizeof path);
		unlink(path);
		removed++;
	}
	if (removed && j->mode == SS_FSYNC_ALWAYS && fsync_dir(j, err) < 0)
		return -1;
	return removed;
}
