/*
 * journal.h -- the local, durable, time-indexed store between capture and
 * the appliers.
 *
 * One writer thread appends records and commits them (write + fsync per the
 * fsync mode); any number of readers, each with its own file descriptors and
 * in any thread, read committed records in position order, starting from a
 * position or from a time.  Retention removes whole old segments.  The
 * on-disk format is described at the top of journal_segment.c and in
 * doc/journal-format.md; the implementation is split over journal*.c (see
 * journal_int.h).
 *
 * Free every reader before the journal it reads.
 */
#ifndef SS_JOURNAL_H
#define SS_JOURNAL_H

#include <stdint.h>

#include "err.h"

enum ss_fsync_mode { SS_FSYNC_OFF, SS_FSYNC_BATCH, SS_FSYNC_ALWAYS };

#define SS_JREC_CHANGE 1 /* type: an encoded change (other values reserved) */
#define SS_JREC_TXEND 1  /* flag: a target commit may end after this record */

/* One record as read back. */
struct ss_jrec {
	uint64_t pos;           /* position: 1, 2, 3... dense, never reused */
	int64_t ts_us;          /* journal time (µs since epoch, UTC), non-decreasing */
	uint8_t type;           /* SS_JREC_CHANGE */
	uint8_t flags;          /* SS_JREC_TXEND */
	uint64_t txid;          /* source transaction id, 0 = unknown */
	const uint8_t *payload; /* opaque bytes; valid until the next call on the reader */
	uint32_t len;
};

struct ss_journal;        /* one directory, one writer */
struct ss_journal_reader; /* any number, any thread, each its own fds */

/* Open DIR for writing, creating it if missing (mode 0700, whatever the
 * umask; the directory that holds it is fsync'd; every file the journal
 * creates is 0600); segment_bytes 0 means 64 MiB.  A new journal gets an
 * identity (see ss_journal_id()); a directory holding segments but no
 * identity is refused as damaged, never taken for a new journal.
 * Takes an exclusive flock on DIR/lock, so a second writer fails with
 * "journal DIR is in use by another shadowsync process".  Recovery scans the
 * last segment: a torn tail (an incomplete record, or a bad one with nothing
 * valid after it) is truncated away and described by
 * ss_journal_recovery_note(), but only beyond the committed end the journal
 * recorded (DIR/committed, written after each commit's fsync): anything
 * missing or damaged below it, in any segment, and a missing segment, is an
 * error naming the segment file and byte offset, and nothing is changed.  So
 * a position that was ever committed is never handed out again.  A bad
 * record anywhere else is an error naming the segment file and byte offset.
 * Missing or short time indexes are rebuilt. */
struct ss_journal *ss_journal_open(const char *dir, enum ss_fsync_mode mode, uint64_t segment_bytes,
				   struct ss_err *err);
/* Open for reading only (journal dump, replay, status while the daemon
 * runs): no lock, nothing on disk is changed.  Readers treat a torn tail at
 * the very end of the newest segment as the end of the data, and see what
 * the writing process commits later. */
struct ss_journal *ss_journal_open_readonly(const char *dir, struct ss_err *err);
/* Uncommitted records are dropped.  NULL is a no-op. */
void ss_journal_free(struct ss_journal *j);
/* The journal's identity: 32 lowercase hex digits (128 random bits) given
 * when the journal was created, stored in DIR/id, the same for every
 * process that opens it and never reused by another journal.  A target
 * stores it with its applied position so it is never fed from a journal
 * its position does not belong to.  "" only for a read-only journal that
 * nothing has written yet. */
const char *ss_journal_id(const struct ss_journal *j);
/* "" or what recovery did, e.g. "journal DIR: truncated 37 bytes of a torn
 * record at DIR/00000000000000000001.seg:4096".  Meant to be logged as a
 * warning. */
const char *ss_journal_recovery_note(const struct ss_journal *j);

/* Buffer one record: not yet visible to readers, not yet durable.  Assigns
 * pos = last + 1 and ts = max(now, previous ts); returns pos via *pos_out
 * (which may be NULL).  Does not allocate per record. */
int ss_journal_append(struct ss_journal *j, uint8_t type, uint8_t flags, uint64_t txid,
		      const void *payload, uint32_t len, uint64_t *pos_out,
		      struct ss_err *err) SS_MUST_CHECK;
/* Write everything appended since the last commit, make it durable, then
 * publish it: readers see it and ss_journal_wait() returns.
 *   OFF:    no fsync at all.
 *   BATCH:  one fdatasync of the segment per call; the directory is fsync'd
 *           when a new segment file is created.  Then the committed end is
 *           recorded (DIR/committed), fsync'd at most once a second and on
 *           close.
 *   ALWAYS: as BATCH, but fsync instead of fdatasync, and the time index
 *           and the committed end are fsync'd too.
 * A segment is rolled over to a new file when the next record would take it
 * past segment_bytes (records are never split; one bigger than
 * segment_bytes gets a segment of its own).  On failure nothing of the call
 * is published or left on disk, and the records stay buffered: retry the
 * commit or ss_journal_discard() them.  If the failure could not be undone
 * (or fsync failed) every later append/commit fails until the journal is
 * reopened. */
int ss_journal_commit(struct ss_journal *j, struct ss_err *err) SS_MUST_CHECK;
/* Drop appended-but-uncommitted records; the next append reuses their
 * positions. */
void ss_journal_discard(struct ss_journal *j);

/* These may be called from any thread. */
uint64_t ss_journal_first_pos(struct ss_journal *j); /* oldest record kept, 0 if none */
uint64_t ss_journal_last_pos(struct ss_journal *j);  /* last committed, 0 if none */
int64_t ss_journal_last_ts(struct ss_journal *j);    /* its time, 0 if none */
uint64_t ss_journal_bytes(struct ss_journal *j);     /* total size of the segment files */
/* Block until last_pos > after_pos, ss_journal_wake_all(), or timeout_us
 * (negative: no limit).  Returns last_pos.  On a read-only journal this polls
 * the files every 20 ms. */
uint64_t ss_journal_wait(struct ss_journal *j, uint64_t after_pos, int64_t timeout_us);
/* Wake every thread blocked in ss_journal_wait() now (shutdown).  Threads
 * that start waiting afterwards are not affected. */
void ss_journal_wake_all(struct ss_journal *j);

/* A reader whose first record is the first with pos > after_pos.  Fails if
 * that is no longer kept: "journal DIR: position N is no longer kept (oldest
 * is M)".  after_pos may lie beyond the last record: the reader waits for it. */
struct ss_journal_reader *ss_journal_reader_new(struct ss_journal *j, uint64_t after_pos,
						struct ss_err *err);
/* A reader whose first record is the first with ts_us >= ts_us, found
 * through the time index without scanning the journal. */
struct ss_journal_reader *ss_journal_reader_new_at_time(struct ss_journal *j, int64_t ts_us,
							struct ss_err *err);
/* 1: *rec filled; 0: no more committed records for now (call again later);
 * -1: error, e.g. a corrupt record (the message names segment file and
 * offset).  Only committed records are ever returned. */
int ss_journal_reader_next(struct ss_journal_reader *r, struct ss_jrec *rec,
			   struct ss_err *err) SS_MUST_CHECK;
/* NULL is a no-op. */
void ss_journal_reader_free(struct ss_journal_reader *r);

/* Remove, oldest first, whole segments whose records all have
 * pos <= min_applied_pos and whose last record's ts < cutoff_us.  Never
 * removes the newest segment.  Returns the number removed, -1 on error.
 * Writer thread only. */
int ss_journal_retain(struct ss_journal *j, uint64_t min_applied_pos, int64_t cutoff_us,
		      struct ss_err *err);

/* What ss_journal_scan_segment() found in a segment image. */
struct ss_journal_scan {
	uint64_t first_pos;  /* from the header */
	uint64_t records;    /* valid records, positions first_pos, first_pos + 1, ... */
	uint64_t valid_end;  /* byte offset right after the last of them */
	uint64_t torn_bytes; /* bytes after valid_end recovery would cut as a torn tail */
};

/* Check the image of one segment file (buf, len) as recovery checks the
 * newest segment, touching no file: the header, then each record's framing,
 * CRC and position.  0: a segment, whose last torn_bytes bytes would be cut
 * as a torn tail (0 when whole); -1: not a segment, or damaged where valid
 * records follow (err names the byte offset and what is wrong).  Whatever
 * the bytes, it neither aborts nor reads outside buf: meant for fuzzing
 * (tests/fuzz) and tools.  Recovery of a whole directory is
 * ss_journal_open() / ss_journal_open_readonly(). */
int ss_journal_scan_segment(const void *buf, size_t len, struct ss_journal_scan *out,
			    struct ss_err *err);

/* For tests: the clock append uses (default, and with NULL, ss_now_us).
 * Writer thread only. */
void ss_journal_set_clock(struct ss_journal *j, int64_t (*now)(void));

#endif
