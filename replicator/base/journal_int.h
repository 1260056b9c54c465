/*
 * journal_int.h -- what the files of the journal share; not for use outside
 * replicator/base/journal*.c (everyone else includes journal.h).
 *
 * The journal is split by concern: journal.c (the object: opening, the
 * directory, its lock and identity, published state, waiting),
 * journal_segment.c (the on-disk format: framing, cursor, time index),
 * journal_recover.c (crash recovery and the committed end), journal_write.c
 * (the writer: append, commit, retention) and journal_read.c (readers).  The structures below are the journal's state;
 * the mutex rules are stated on struct ss_journal.
 */
#ifndef SS_JOURNAL_INT_H
#define SS_JOURNAL_INT_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "journal.h"
#include "util.h"

#define SS_JN_SEG_MAGIC "SSJRNL1\n"
#define SS_JN_ID_FILE "id" /* DIR/id: the journal's identity, hex and a newline */
#define SS_JN_ID_HEX 32
#define SS_JN_END_FILE "committed" /* DIR/committed: the durably committed end */
#define SS_JN_END_MAGIC "SSJEND1\n"
#define SS_JN_END_REC 48
#define SS_JN_END_SLOT 4096                /* two copies, a page apart */
#define SS_JN_END_SYNC_US INT64_C(1000000) /* fsync = batch: its fsync at most this stale */
#define SS_JN_SEG_VERSION 1
#define SS_JN_SEG_HDR 32
#define SS_JN_REC_HDR 36
#define SS_JN_IDX_ENT 24
#define SS_JN_IDX_EVERY (64 * 1024)
#define SS_JN_READ_BUF (256 * 1024)
#define SS_JN_DEFAULT_SEGMENT_BYTES (64ull * 1024 * 1024)
#define SS_JN_MAX_PAYLOAD (1u << 30)
#define SS_JN_RO_POLL_US 20000
#define SS_JN_WBUF_KEEP (4u * 1024 * 1024)

/* What the journal knows about one segment file. */
struct ss_jn_seg {
	uint64_t first_pos;
	uint64_t last_pos; /* first_pos - 1 while it holds no record */
	int64_t first_ts;
	int64_t last_ts;
	uint64_t bytes; /* committed length (writer), valid length (read-only) */
};

struct ss_jn_ient {
	int64_t ts;
	uint64_t pos;
	uint64_t off;
};

/* The segment the writer appends to. */
struct ss_jn_wseg {
	int fd, ifd;
	uint64_t first_pos;
	uint64_t size;                       /* bytes written */
	uint64_t idx_size;                   /* bytes of index written */
	uint64_t idx_last_off, idx_last_pos; /* record of the last index entry */
	uint64_t last_off, last_pos;         /* the last record written */
	int64_t last_ts;
};

/* Buffered reading of one segment, record by record. */
struct ss_jn_cursor {
	int fd;
	uint64_t seg_first;
	uint64_t hdr_size;
	uint8_t *buf;
	size_t cap;
	uint64_t buf_off; /* file offset of buf[0] */
	size_t blen;
	uint64_t off;      /* the next record */
	uint64_t next_pos; /* the position it must carry */
	int hard;          /* the last SS_JN_CUR_BAD cannot be a torn write */
	char why[96];
	char path[PATH_MAX];
};

enum {
	SS_JN_CUR_ERR = -1,
	SS_JN_CUR_END = 0,
	SS_JN_CUR_REC = 1,
	SS_JN_CUR_SHORT = 2,
	SS_JN_CUR_BAD = 3
};

/* The committed end (DIR/committed): the last position whose commit had
 * been made durable (fsync = off: written) when this was recorded, and
 * where its segment ended then.  Written after the commit's fsync, so it
 * never claims more than the disk holds; it may lag behind (a crash before
 * its own fsync), which only lets recovery cut less than it could. */
struct ss_jn_end {
	uint64_t seq; /* records written; of the two copies the higher wins */
	uint64_t pos; /* 0: nothing committed yet */
	uint64_t seg; /* first position of the segment holding pos */
	uint64_t off; /* that segment's committed length */
};

struct ss_journal {
	char *dir;
	int readonly;
	enum ss_fsync_mode mode;
	uint64_t segment_bytes;
	int lock_fd;
	int64_t (*now)(void);
	char note[1024];
	char id[SS_JN_ID_HEX + 1]; /* "" only for a read-only journal never written */

	pthread_mutex_t mu; /* guards the fields down to wake_gen */
	pthread_cond_t cv;
	struct ss_jn_seg *segs;
	size_t nsegs, capsegs;
	uint64_t last_pos;
	int64_t last_ts;
	uint64_t total_bytes;
	uint64_t wake_gen;

	/* writer thread only */
	int end_fd;            /* DIR/committed */
	struct ss_jn_end end;  /* as last recorded (on open: as found on disk) */
	int end_dirty;         /* written since its last fsync */
	int64_t end_synced_us; /* monotonic time of that fsync */
	struct ss_jn_wseg cur; /* fd -1: the next commit starts a segment */
	struct ss_buf wbuf;
	uint64_t pend_pos;
	int64_t pend_ts;
	int broken;
	struct ss_jn_seg *stage; /* a commit's segments before they are published */
	size_t nstage, capstage;
	uint64_t *created; /* segments a commit created (undone on failure) */
	size_t ncreated, capcreated;
};

struct ss_journal_reader {
	struct ss_journal *j;
	struct ss_jn_cursor c;
	uint64_t limit;     /* readable length of the open segment */
	uint64_t want;      /* position to look for while no segment is open */
	uint64_t start_seg; /* where the index said to begin (0: nowhere) */
	uint64_t start_pos, start_off;
	uint64_t skip_upto; /* not returned: pos <= skip_upto ... */
	int64_t min_ts;     /* ... or ts < min_ts */
};

static inline void ss_jn_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void ss_jn_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t ss_jn_get_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t ss_jn_get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline int64_t ss_jn_get_i64(const uint8_t *p)
{
	return (int64_t)ss_jn_get_u64(p);
}
/* ---- journal_segment.c: files, framing, cursor, index -------------------- */

/* DIR/<first, 20 digits><ext> */
void ss_jn_path(const struct ss_journal *j, uint64_t first, const char *ext, char *out,
		size_t outlen);
/* Add a sentence to the recovery note. */
void ss_jn_note(struct ss_journal *j, const char *fmt, ...) SS_PRINTF(2, 3);
/* pread/pwrite the whole range (EINTR retried); pread returns the bytes read,
 * fewer only at end of file. */
ssize_t ss_jn_pread(int fd, void *buf, size_t n, uint64_t off);
int ss_jn_pwrite(int fd, const void *buf, size_t n, uint64_t off);
int ss_jn_fsync_dir(const struct ss_journal *j, struct ss_err *err);
int ss_jn_sync_fd(int fd, int full);
/* open(2) for a file of the journal: close-on-exec, and created 0600
 * whatever the umask (the journal holds replicated rows). */
int ss_jn_open_private(const char *path, int flags);
/* Write DIR/name whole and durably: a .tmp file, fsync, rename, directory
 * fsync.  The file is 0600. */
int ss_jn_write_file(struct ss_journal *j, const char *name, const void *data, size_t len,
		     struct ss_err *err);
void ss_jn_push_u64(uint64_t **v, size_t *n, size_t *cap, uint64_t x);
void ss_jn_push_seg(struct ss_jn_seg **v, size_t *n, size_t *cap, const struct ss_jn_seg *s);

void ss_jn_cur_init(struct ss_jn_cursor *c);
void ss_jn_cur_close(struct ss_jn_cursor *c);
void ss_jn_cur_done(struct ss_jn_cursor *c);
/* Open segment `first` and stand at its first record.  -2 when the file does
 * not exist (err filled all the same). */
int ss_jn_cur_open(struct ss_jn_cursor *c, const struct ss_journal *j, uint64_t first,
		   struct ss_err *err);
/* Forget buffered bytes from the current record on. */
void ss_jn_cur_drop(struct ss_jn_cursor *c);
/* The next record before limit: SS_JN_CUR_REC, _END, _SHORT (runs past limit
 * or the file), _BAD (c->why says how, c->hard whether it cannot be a torn
 * write) or _ERR (read error, err filled). */
int ss_jn_cur_next(struct ss_jn_cursor *c, uint64_t limit, struct ss_jrec *rec, const char *dir,
		   struct ss_err *err);
/* "bad record in FILE at offset N: why" */
void ss_jn_bad_record(const struct ss_journal *j, const struct ss_jn_cursor *c, int rc,
		      struct ss_err *err);
/* Is there a valid record anywhere in (from, limit)?  1 and *found: yes;
 * 0: no; -1: read error. */
int ss_jn_valid_after(const struct ss_journal *j, const struct ss_jn_cursor *c, uint64_t from,
		      uint64_t limit, uint64_t *found, struct ss_err *err);
/* The whole index of segment `first` (NULL and *n 0 if missing). */
struct ss_jn_ient *ss_jn_idx_load(const struct ss_journal *j, uint64_t first, size_t *n,
				  uint64_t *file_size);
/* Does the record at off carry pos and ts?  *len_out gets its length. */
int ss_jn_rec_matches(int fd, uint64_t off, uint64_t pos, int64_t ts, uint32_t *len_out);

/* ---- journal_recover.c -------------------------------------------------- */

/* The segments in the directory, sorted by first position.  clean (writer):
 * also remove leftover .seg.tmp files and index files without a segment. */
int ss_jn_list_dir(struct ss_journal *j, int clean, uint64_t **out, size_t *nout,
		   struct ss_err *err);
/* An older segment, checked to end right before next_first.  -2: gone. */
int ss_jn_seg_sealed(struct ss_journal *j, struct ss_jn_seg *s, uint64_t next_first,
		     struct ss_err *err);
/* The newest segment on opening for writing: scanned, torn tail truncated,
 * index checked, made the segment to append to. */
int ss_jn_seg_recover_last(struct ss_journal *j, struct ss_jn_seg *s, struct ss_err *err);
/* The committed end on disk into *e: 0; 1: there is no such file; -1: it
 * holds no valid copy, or cannot be read. */
int ss_jn_end_read(struct ss_journal *j, struct ss_jn_end *e, struct ss_err *err);
/* Writer: create DIR/committed (nothing committed) or open the existing one
 * for ss_jn_end_write(). */
int ss_jn_end_open(struct ss_journal *j, int create, struct ss_err *err);
/* Record e (its seq is assigned) into the older of the two copies; fsync it
 * when sync. */
int ss_jn_end_write(struct ss_journal *j, const struct ss_jn_end *e, int sync, struct ss_err *err);
/* Recovery found less than the committed end: err says where (the segment
 * file and offset, what is there) and that it is not repaired. */
void ss_jn_end_lost(const struct ss_journal *j, uint64_t seg, uint64_t off, const char *what,
		    struct ss_err *err);
/* Read-only: bring the segment list up to date.  Mutex held. */
int ss_jn_ro_refresh(struct ss_journal *j, struct ss_err *err);

/* ---- journal_write.c ---------------------------------------------------- */

void ss_jn_wseg_close(struct ss_jn_wseg *w);

#endif
