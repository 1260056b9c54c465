/*
 * lease.c -- each capture engine's SQL for the job lease, and MariaDB's
 * position statements (shared by its native and ODBC transports).
 *
 * Owns how a lease is held: PostgreSQL by a session advisory lock
 * (pg_try_advisory_lock), MariaDB by a named lock (GET_LOCK), both released
 * by the server when the owner's connection ends; SQLite (through ODBC),
 * which has no session locks, by a row with an expiry that the owner
 * renews.  In every engine a row per job (shadowsync.lease) carries the
 * epoch, bumped on every acquisition, and the owner's journal.  What an
 * epoch is for (fencing the targets) and when to acquire, renew or give up
 * are replicator/lease.c's.  Statements run through the connection's own
 * dialect with text parameters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialect.h"
#include "util.h"

static const struct ss_position_sql mariadb_position_sql = {
	"SELECT pos, epoch, journal_id FROM `shadowsync`.`applied_position`"
	" WHERE job = ? AND target = ?",
	"SELECT epoch FROM `shadowsync`.`applied_position` WHERE job = ? AND target = ? FOR UPDATE",
	"INSERT INTO `shadowsync`.`applied_position`"
	" (job, target, pos, epoch, journal_id, updated_at)"
	" VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE pos = VALUES(pos),"
	" epoch = VALUES(epoch), journal_id = VALUES(journal_id), updated_at = VALUES(updated_at)",
};

int ss_mariadb_position_get(struct ss_conn *c, const char *job, const char *target,
			    struct ss_position *p, struct ss_err *err)
{
	return ss_db_position_get(c, &mariadb_position_sql, job, target, p, err);
}

int ss_mariadb_position_set(struct ss_conn *c, const char *job, const char *target,
			    const struct ss_position *p, struct ss_err *err)
{
	return ss_db_position_set(c, &mariadb_position_sql, job, target, p, err);
}

/* Run sql with n text parameters (NULL: SQL NULL); rows to cb when given. */
static int run(struct ss_conn *c, const char *sql, int n, const char *const *p, ss_row_cb cb,
	       void *arg, struct ss_err *err)
{
	size_t lens[8];

	for (int i = 0; i < n; i++)
		lens[i] = p[i] ? strlen(p[i]) : 0;
	if (cb)
		return c->d->query(c, sql, n, p, lens, cb, arg, err);
	return c->d->exec(c, sql, n, p, lens, err);
}

static void copy_val(char *dst, size_t n, const char *v, size_t len)
{
	if (!v || len >= n)
		len = 0;
	if (v)
		memcpy(dst, v, len);
	dst[len] = '\0';
}

/* A lease row: epoch, owner, journal_id, journal_dir [, expires_us]. */
struct row_read {
	struct ss_lease_row *r;
	int64_t expires_us;
	int found;
};

static int lease_row(void *arg, int ncols, const char *const *vals, const size_t *lens,
		     struct ss_err *err)
{
	struct row_read *rr = arg;

	(void)err;
	rr->found = 1;
	rr->r->epoch = vals[0] ? strtoull(vals[0], NULL, 10) : 0;
	copy_val(rr->r->owner, sizeof rr->r->owner, vals[1], lens[1]);
	copy_val(rr->r->journal_id, sizeof rr->r->journal_id, vals[2], lens[2]);
	copy_val(rr->r->journal_dir, sizeof rr->r->journal_dir, vals[3], lens[3]);
	if (ncols > 4)
		rr->expires_us = vals[4] ? strtoll(vals[4], NULL, 10) : 0;
	return 1;
}

static int first_int(void *arg, int ncols, const char *const *vals, const size_t *lens,
		     struct ss_err *err)
{
	long long *v = arg;

	(void)ncols;
	(void)lens;
	(void)err;
	*v = vals[0] ? strtoll(vals[0], NULL, 10) : -1;
	return 1;
}

/* The lock is taken: create the table, read the row, bump the epoch.  The
 * statements need no transaction: nobody else bumps while we hold it. */
static int bump_epoch(struct ss_conn *c, const char *ddl, const char *read_sql,
		      const char *bump_sql, const char *job, const char *owner,
		      struct ss_lease_row *prev, uint64_t *epoch, struct ss_err *err)
{
	const char *p[2] = {job, owner};
	struct ss_lease_row now;
	struct row_read rr = {prev, 0, 0};

	memset(prev, 0, sizeof *prev);
	if (c->d->exec_script(c, ss_ddl_get(ddl), err) < 0 ||
	    run(c, read_sql, 1, p, lease_row, &rr, err) < 0 ||
	    run(c, bump_sql, 2, p, NULL, NULL, err) < 0)
		return -1;
	rr.r = &now;
	if (run(c, read_sql, 1, p, lease_row, &rr, err) < 0)
		return -1;
	*epoch = now.epoch;
	return 1;
}

/* Still ours: the row's epoch is ours; record the journal. */
static int renew_row(struct ss_conn *c, const char *read_sql, const char *update_sql,
		     const char *job, const struct ss_lease_row *me, const char *expires,
		     struct ss_err *err)
{
	char ep[24];
	struct ss_lease_row now;
	struct row_read rr = {&now, 0, 0};
	const char *p[5] = {me->journal_id[0] ? me->journal_id : NULL,
			    me->journal_dir[0] ? me->journal_dir : NULL, expires, job, ep};

	snprintf(ep, sizeof ep, "%llu", (unsigned long long)me->epoch);
	if (run(c, read_sql, 1, &job, lease_row, &rr, err) < 0)
		return -1;
	if (!rr.found || now.epoch != me->epoch)
		return 0;
	if (expires)
		return run(c, update_sql, 5, p, NULL, NULL, err) < 0 ? -1 : 1;
	p[2] = job;
	p[3] = ep;
	return run(c, update_sql, 4, p, NULL, NULL, err) < 0 ? -1 : 1;
}

/* Move the epoch from `from` to `to`, then read back what the row holds. */
static int raise_row(struct ss_conn *c, const char *update_sql, const char *read_sql,
		     const char *job, uint64_t from, uint64_t to, struct ss_err *err)
{
	char f[24], t[24];
	const char *p[3] = {t, job, f};
	struct ss_lease_row now;
	struct row_read rr = {&now, 0, 0};

	snprintf(f, sizeof f, "%llu", (unsigned long long)from);
	snprintf(t, sizeof t, "%llu", (unsigned long long)to);
	if (run(c, update_sql, 3, p, NULL, NULL, err) < 0 ||
	    run(c, read_sql, 1, &job, lease_row, &rr, err) < 0)
		return -1;
	return rr.found && now.epoch == to;
}

/* ---- PostgreSQL: session advisory lock ------------------------------------- */

#define PG_LOCK_KEY "hashtext('shadowsync job'), hashtext($1)"
#define PG_READ "SELECT epoch, owner, journal_id, journal_dir FROM shadowsync.lease WHERE job = $1"

static int pg_acquire(struct ss_conn *c, const char *job, const char *owner, int64_t ttl_us,
		      struct ss_lease_row *prev, uint64_t *epoch, struct ss_err *err)
{
	char idle[24], intvl[24];
	const char *ka[2] = {idle, intvl};
	long long got = 0;
	int64_t s = ttl_us / 1000000;

	/* a dead owner host is noticed by the server's keepalives (TCP
	 * sockets; ignored on a Unix socket, where the peer cannot vanish) */
	snprintf(idle, sizeof idle, "%lld", (long long)(s / 3 > 0 ? s / 3 : 1));
	snprintf(intvl, sizeof intvl, "%lld", (long long)(s / 9 > 0 ? s / 9 : 1));
	if (run(c,
		"SELECT set_config('tcp_keepalives_idle', $1, false),"
		" set_config('tcp_keepalives_interval', $2, false),"
		" set_config('tcp_keepalives_count', '3', false)",
		2, ka, NULL, NULL, err) < 0 ||
	    run(c, "SELECT pg_try_advisory_lock(" PG_LOCK_KEY ")::int", 1, &job, first_int, &got,
		err) < 0)
		return -1;
	if (got != 1)
		return 0;
	return bump_epoch(c, "postgres/lease.sql", PG_READ,
			  "INSERT INTO shadowsync.lease AS l (job, epoch, owner) VALUES ($1, 1, $2)"
			  " ON CONFLICT (job) DO UPDATE SET epoch = l.epoch + 1,"
			  " owner = EXCLUDED.owner, acquired_at = now(), renewed_at = now()",
			  job, owner, prev, epoch, err);
}

static int pg_renew(struct ss_conn *c, const char *job, const struct ss_lease_row *me,
		    int64_t ttl_us, struct ss_err *err)
{
	(void)ttl_us;
	return renew_row(c, PG_READ,
			 "UPDATE shadowsync.lease SET journal_id = $1, journal_dir = $2,"
			 " renewed_at = now() WHERE job = $3 AND epoch = $4",
			 job, me, NULL, err);
}

static int pg_release(struct ss_conn *c, const char *job, uint64_t epoch, struct ss_err *err)
{
	long long got;

	(void)epoch;
	return run(c, "SELECT pg_advisory_unlock(" PG_LOCK_KEY ")::int", 1, &job, first_int, &got,
		   err);
}

static int pg_raise(struct ss_conn *c, const char *job, uint64_t from, uint64_t to,
		    struct ss_err *err)
{
	return raise_row(c, "UPDATE shadowsync.lease SET epoch = $1 WHERE job = $2 AND epoch = $3",
			 PG_READ, job, from, to, err);
}

const struct ss_lease_ops ss_pg_lease_ops = {1, pg_acquire, pg_renew, pg_release, pg_raise};

/* ---- MariaDB: GET_LOCK ------------------------------------------------------ */

/* lock names are server-wide and at most 64 characters, like the job's
 * shadow table `shadowsync`.`log_<job>` */
#define MY_LOCK_NAME "CONCAT('shadowsync:', LEFT(SHA2(?, 256), 48))"
#define MY_READ \
	"SELECT epoch, owner, journal_id, journal_dir FROM `shadowsync`.`lease` WHERE job = ?"

static int my_acquire(struct ss_conn *c, const char *job, const char *owner, int64_t ttl_us,
		      struct ss_lease_row *prev, uint64_t *epoch, struct ss_err *err)
{
	long long got = 0;

	/* A silent owner's session (its host vanished) ends by the server's
	 * wait_timeout, not ours: a session wait_timeout short enough to
	 * matter would also end a healthy owner's session while the daemon
	 * is busy with another job's long batch. */
	(void)ttl_us;
	if (run(c, "SELECT GET_LOCK(" MY_LOCK_NAME ", 0)", 1, &job, first_int, &got, err) < 0)
		return -1;
	if (got != 1)
		return 0;
	return bump_epoch(c, "mariadb/lease.sql", MY_READ,
			  "INSERT INTO `shadowsync`.`lease` (job, epoch, owner) VALUES (?, 1, ?)"
			  " ON DUPLICATE KEY UPDATE epoch = epoch + 1, owner = VALUES(owner),"
			  " acquired_at = UTC_TIMESTAMP(6), renewed_at = UTC_TIMESTAMP(6)",
			  job, owner, prev, epoch, err);
}

static int my_renew(struct ss_conn *c, const char *job, const struct ss_lease_row *me,
		    int64_t ttl_us, struct ss_err *err)
{
	(void)ttl_us;
	return renew_row(c, MY_READ,
			 "UPDATE `shadowsync`.`lease` SET journal_id = ?, journal_dir = ?,"
			 " renewed_at = UTC_TIMESTAMP(6) WHERE job = ? AND epoch = ?",
			 job, me, NULL, err);
}

static int my_release(struct ss_conn *c, const char *job, uint64_t epoch, struct ss_err *err)
{
	long long got;

	(void)epoch;
	return run(c, "SELECT RELEASE_LOCK(" MY_LOCK_NAME ")", 1, &job, first_int, &got, err);
}

static int my_raise(struct ss_conn *c, const char *job, uint64_t from, uint64_t to,
		    struct ss_err *err)
{
	return raise_row(c, "UPDATE `shadowsync`.`lease` SET epoch = ? WHERE job = ? AND epoch = ?",
			 MY_READ, job, from, to, err);
}

const struct ss_lease_ops ss_mariadb_lease_ops = {1, my_acquire, my_renew, my_release, my_raise};

/* ---- SQLite: a row with an expiry ------------------------------------------- */

#define SQ_READ                                                                          \
	"SELECT epoch, owner, journal_id, journal_dir, expires_us FROM shadowsync_lease" \
	" WHERE job = ?"

static int sq_acquire(struct ss_conn *c, const char *job, const char *owner, int64_t ttl_us,
		      struct ss_lease_row *prev, uint64_t *epoch, struct ss_err *err)
{
	char exp[24];
	const char *p[3] = {job, owner, exp};
	struct ss_lease_row now;
	struct row_read rr = {prev, 0, 0};
	int64_t t = ss_now_us();
	struct ss_err e2;

	memset(prev, 0, sizeof *prev);
	snprintf(exp, sizeof exp, "%lld", (long long)(t + ttl_us));
	if (c->d->exec_script(c, ss_ddl_get("sqlite/lease.sql"), err) < 0)
		return -1;
	/* one write transaction (BEGIN IMMEDIATE): read, decide, bump */
	if (c->d->begin(c, err) < 0)
		return -1;
	if (run(c, SQ_READ, 1, p, lease_row, &rr, err) < 0)
		goto fail;
	if (rr.found && rr.expires_us > t && strcmp(prev->owner, owner) != 0) {
		(void)c->d->rollback(c, &e2);
		return 0;
	}
	if (run(c,
		"INSERT INTO shadowsync_lease (job, epoch, owner, expires_us) VALUES (?, 1, ?, ?)"
		" ON CONFLICT (job) DO UPDATE SET epoch = epoch + 1, owner = excluded.owner,"
		" expires_us = excluded.expires_us",
		3, p, NULL, NULL, err) < 0)
		goto fail;
	rr.r = &now;
	if (run(c, SQ_READ, 1, p, lease_row, &rr, err) < 0 || c->d->commit(c, err) < 0)
		goto fail;
	*epoch = now.epoch;
	return 1;
fail:
	(void)c->d->rollback(c, &e2);
	return -1;
}

static int sq_renew(struct ss_conn *c, const char *job, const struct ss_lease_row *me,
		    int64_t ttl_us, struct ss_err *err)
{
	char exp[24];
	struct ss_err e2;
	int r;

	snprintf(exp, sizeof exp, "%lld", (long long)(ss_now_us() + ttl_us));
	if (c->d->begin(c, err) < 0)
		return -1;
	r = renew_row(c, SQ_READ,
		      "UPDATE shadowsync_lease SET journal_id = ?, journal_dir = ?, expires_us = ?"
		      " WHERE job = ? AND epoch = ?",
		      job, me, exp, err);
	if (r == 1 && c->d->commit(c, err) == 0)
		return 1;
	(void)c->d->rollback(c, &e2);
	return r == 0 ? 0 : -1;
}

static int sq_release(struct ss_conn *c, const char *job, uint64_t epoch, struct ss_err *err)
{
	char ep[24];
	const char *p[2] = {job, ep};

	snprintf(ep, sizeof ep, "%llu", (unsigned long long)epoch);
	return run(c, "UPDATE shadowsync_lease SET expires_us = 0 WHERE job = ? AND epoch = ?", 2,
		   p, NULL, NULL, err);
}

static int sq_raise(struct ss_conn *c, const char *job, uint64_t from, uint64_t to,
		    struct ss_err *err)
{
	return raise_row(c, "UPDATE shadowsync_lease SET epoch = ? WHERE job = ? AND epoch = ?",
			 SQ_READ, job, from, to, err);
}

const struct ss_lease_ops ss_sqlite_lease_ops = {0, sq_acquire, sq_renew, sq_release, sq_raise};
