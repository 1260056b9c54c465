/*
 * lease.h -- one owner per job: the job lease held in the source database,
 * its fencing epoch, and fencing the targets.
 *
 * A process runs a job only while it holds the job's lease.  Each
 * acquisition bumps the lease's epoch in the source; the owner writes its
 * epoch with every target position, and a target refuses a position with a
 * lower epoch than the one it holds, so a process that lost the lease can
 * never commit on a target once the new owner has fenced it.  Where the
 * lock belongs to a session (PostgreSQL, MariaDB) it is held on the
 * capture's own connection: a capture whose connection dropped has lost the
 * lease with it.
 */
#ifndef SS_LEASE_H
#define SS_LEASE_H

#include <stdint.h>

#include "config.h"
#include "dialect.h"

struct ss_lease;

struct ss_lease *ss_lease_new(const struct ss_jobconf *job);
/* Releases the lease when held on a connection it still has.  NULL: no-op. */
void ss_lease_free(struct ss_lease *l);

/* Try once, without waiting (connecting to the source first when needed).
 * 1: taken; *conn is the connection that holds it, now the caller's (the
 * lease lives as long as that session, or, for an expiry lease, as long as
 * it is renewed on it).  0: another process owns the job (its row:
 * ss_lease_row()).  -1: error (err->transient: try again later). */
int ss_lease_try(struct ss_lease *l, struct ss_conn **conn, struct ss_err *err) SS_MUST_CHECK;
uint64_t ss_lease_epoch(const struct ss_lease *l);
/* The row as the previous owner left it (after 1), or the current owner's
 * (after 0). */
const struct ss_lease_row *ss_lease_row(const struct ss_lease *l);
/* Record our journal and extend an expiry lease, on the holding
 * connection.  1 still ours, 0 lost, -1 error. */
int ss_lease_renew(struct ss_lease *l, struct ss_conn *conn, const char *journal_id,
		   const char *journal_dir, struct ss_err *err) SS_MUST_CHECK;
/* Give the lease up on the holding connection (a standby need not wait). */
void ss_lease_release(struct ss_lease *l, struct ss_conn *conn);
/* How often the owner renews. */
int64_t ss_lease_renew_every_us(const struct ss_lease *l);
/* An expiry lease (not a session's lock): it must be known fresh before
 * the capture consumes shadow rows on conn. */
int ss_lease_expires(const struct ss_lease *l, const struct ss_conn *conn);

/* Fence one target: write epoch into its position row, keeping the
 * position and journal it holds.  1 done, 0 the target holds a higher
 * epoch (*held), -1 error. */
int ss_lease_fence(const struct ss_jobconf *job, const struct ss_dbconf *target, uint64_t epoch,
		   uint64_t *held, struct ss_err *err) SS_MUST_CHECK;
/* While holding the lease on conn: a target holds epoch `above`, higher
 * than ours, so the source's lease row was reset (dropped, restored); no
 * other process can own the job now, so move our epoch past it.  1 done,
 * 0 the lease is not ours any more, -1 error. */
int ss_lease_raise(struct ss_lease *l, struct ss_conn *conn, uint64_t above,
		   struct ss_err *err) SS_MUST_CHECK;

#endif
