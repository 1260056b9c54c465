/*
 * poller.h -- timestamp-column capture (capture = timestamp): one poller per
 * table, driven by the job's capture (capture.c) on its connection.
 *
 * Each poll reads one page of rows in (ts, key) order with ts no later than
 * the database's clock minus a safety delay.  A pass starts `lookback`
 * before the checkpoint timestamp (so rows committed late with an older
 * timestamp are still found) and pages forward; images already journaled
 * (an in-memory map key -> image hash for the look-back window) are
 * skipped, new or changed ones journaled as 'U' (txid 0, TXEND).  Deletes:
 * a soft-delete column, or a periodic key scan against the set of keys
 * journaled as present.  The checkpoint, the window map and the key set
 * persist in the journal directory (poll-<tag>.state / .keys), written
 * after the journal commit.  See doc/timestamp-capture.md.
 */
#ifndef SS_POLLER_H
#define SS_POLLER_H

#include <stdint.h>

#include "change.h"
#include "config.h"
#include "dialect.h"
#include "journal.h"

/* Safety delay: rows newer than the database clock minus this are left for
 * a later poll. */
#define SS_POLL_SAFETY_US 1000000

struct ss_poller;

/* The table as the capture knows it (re-read on every reconnect). */
struct ss_poll_table {
	const struct ss_tableinfo *info;
	const struct ss_image_col *row_cols; /* captured columns (exclusions removed) */
	int nrow_cols;
	const struct ss_image_col *key_cols;
	int nkey_cols;
};

/* state_dir NULL: nothing persisted (every start is an initial load). */
struct ss_poller *ss_poller_new(const struct ss_jobconf *job, struct ss_journal *journal,
				const char *state_dir, const char *schema, const char *name);
void ss_poller_free(struct ss_poller *p);
int ss_poller_is(const struct ss_poller *p, const char *schema, const char *name);

/* One page on connection c.  Returns the number of changes journaled, -1
 * with err.  *full is set when the page hit batch_rows (more waiting). */
int ss_poller_poll(struct ss_poller *p, struct ss_conn *c, const struct ss_poll_table *t, int *full,
		   struct ss_err *err) SS_MUST_CHECK;

/* Source time of the newest row journaled so far (0: none). */
int64_t ss_poller_newest_us(const struct ss_poller *p);

#endif
