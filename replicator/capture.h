/*
 * capture.h -- moving shadow change rows from a job's source into its
 * journal (trigger mode).
 *
 * One ss_capture per job.  A poll reads up to batch_rows visible shadow
 * rows in id order, turns their JSON images into journal-form changes,
 * appends them to the journal and makes them durable, and only then deletes
 * exactly those rows by id.  A crash between the two leaves rows that are
 * captured again (harmless: applying is idempotent); a transaction that
 * commits late with lower ids is simply found by a later poll.  Transaction
 * boundaries are marked on the records (SS_JREC_TXEND) so appliers never
 * split a source transaction across target commits.
 *
 * The caller (the daemon's event loop) decides when to poll; this module
 * only reports the fd to watch for wake-ups.
 */
#ifndef SS_CAPTURE_H
#define SS_CAPTURE_H

#include <stdint.h>

#include "config.h"
#include "dialect.h"
#include "journal.h"

struct ss_capture;

/* state_dir: where timestamp capture keeps its checkpoints (the job's
 * journal directory); NULL keeps them in memory only. */
struct ss_capture *ss_capture_new(const struct ss_jobconf *job, struct ss_journal *journal,
				  const char *state_dir);
void ss_capture_free(struct ss_capture *cap);

/* Connect (if not connected), introspect the job's tables and start
 * listening.  Returns 0, or -1 with err (err->transient: try again later). */
int ss_capture_connect(struct ss_capture *cap, struct ss_err *err) SS_MUST_CHECK;
/* The same with a connection made by the caller (the job lease is held on
 * it): the capture owns conn from now on, and frees it on failure too. */
int ss_capture_attach(struct ss_capture *cap, struct ss_conn *conn,
		      struct ss_err *err) SS_MUST_CHECK;
void ss_capture_disconnect(struct ss_capture *cap);
/* Is it connected?  (A dropped connection is not reconnected by
 * ss_capture_poll when the caller checks this first.) */
int ss_capture_connected(const struct ss_capture *cap);
/* The connection (NULL when not connected), for the daemon's lease renewal
 * between polls. */
struct ss_conn *ss_capture_conn(struct ss_capture *cap);
/* The fd to watch for wake-ups (-1: none, poll on the interval only). */
int ss_capture_fd(const struct ss_capture *cap);
/* Consume wake-ups after the fd became readable. */
int ss_capture_drain(struct ss_capture *cap, struct ss_err *err) SS_MUST_CHECK;

/* One batch.  Returns the number of changes journaled (0: nothing waiting),
 * -1 on error (the source transaction is rolled back; nothing is deleted
 * that was not journaled).  *full is set when the batch hit batch_rows, so
 * more are probably waiting. */
int ss_capture_poll(struct ss_capture *cap, int *full, struct ss_err *err) SS_MUST_CHECK;

struct ss_capture_stats {
	uint64_t changes; /* journaled since start */
	uint64_t polls;
	int64_t last_poll_us;          /* wall clock */
	int64_t last_change_source_us; /* source capture time of the newest change */
	int connected;
	char last_error[512];
};
void ss_capture_get_stats(const struct ss_capture *cap, struct ss_capture_stats *out);
void ss_capture_set_error(struct ss_capture *cap, const char *msg);
/* Does the job capture some table by its timestamp column (poller.c)? */
int ss_capture_has_timestamp(const struct ss_capture *cap);

#endif
