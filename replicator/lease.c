/*
 * lease.c -- the job lease and fencing.  See lease.h.
 *
 * Owns the protocol: connect to the source, try the engine's lock
 * (dialects/lease.c), bump the epoch, renew on a timer the daemon runs,
 * release on a clean stop, and fence a target by writing the epoch into its
 * position row (dialects/position.c refuses a lower one).  When to try, and
 * what to start or stop on taking or losing the lease, is the daemon's.
 */
#include "lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct ss_lease {
	const struct ss_jobconf *job;
	struct ss_conn *conn; /* while standing by */
	struct ss_lease_row row;
	uint64_t epoch;
	char owner[256];
};

struct ss_lease *ss_lease_new(const struct ss_jobconf *job)
{
	struct ss_lease *l = ss_xcalloc(1, sizeof *l);
	char host[128] = "";

	l->job = job;
	gethostname(host, sizeof host - 1);
	snprintf(l->owner, sizeof l->owner, "%s pid %ld since %lld", host, (long)getpid(),
		 (long long)(ss_now_us() / 1000000));
	return l;
}

void ss_lease_free(struct ss_lease *l)
{
	if (!l)
		return;
	ss_db_disconnect(l->conn);
	free(l);
}

int ss_lease_try(struct ss_lease *l, struct ss_conn **conn, struct ss_err *err)
{
	const struct ss_lease_ops *ops;
	int r;

	*conn = NULL;
	if (!l->conn) {
		l->conn = ss_db_connect(l->job->source, err);
		if (!l->conn)
			return -1;
	}
	ops = l->conn->d->lease;
	if (!ops) {
		ss_err_set(err,
			   "database %s (%s) cannot hold a job lease: it is not a capture source",
			   l->job->source->name, l->conn->d->name);
		err->transient = 0;
		return -1;
	}
	r = ops->acquire(l->conn, l->job->name, l->owner, l->job->lease_timeout_us, &l->row,
			 &l->epoch, err);
	if (r < 0) {
		ss_err_prefix(err, "database %s: job lease of %s", l->job->source->name,
			      l->job->name);
		ss_db_disconnect(l->conn); /* a fresh session next time */
		l->conn = NULL;
		return -1;
	}
	if (r == 0)
		return 0;
	*conn = l->conn;
	l->conn = NULL;
	return 1;
}

uint64_t ss_lease_epoch(const struct ss_lease *l)
{
	return l->epoch;
}

const struct ss_lease_row *ss_lease_row(const struct ss_lease *l)
{
	return &l->row;
}

int ss_lease_renew(struct ss_lease *l, struct ss_conn *conn, const char *journal_id,
		   const char *journal_dir, struct ss_err *err)
{
	struct ss_lease_row me;
	int r;

	memset(&me, 0, sizeof me);
	me.epoch = l->epoch;
	snprintf(me.journal_id, sizeof me.journal_id, "%s", journal_id);
	snprintf(me.journal_dir, sizeof me.journal_dir, "%s", journal_dir);
	r = conn->d->lease->renew(conn, l->job->name, &me, l->job->lease_timeout_us, err);
	if (r < 0)
		ss_err_prefix(err, "database %s: renewing the job lease of %s",
			      l->job->source->name, l->job->name);
	return r;
}

void ss_lease_release(struct ss_lease *l, struct ss_conn *conn)
{
	struct ss_err err;

	if (conn && conn->d->lease &&
	    conn->d->lease->release(conn, l->job->name, l->epoch, &err) < 0)
		ss_log_warn(l->job->source->name, "job %s: releasing the job lease: %s",
			    l->job->name, err.msg);
}

int64_t ss_lease_renew_every_us(const struct ss_lease *l)
{
	int64_t us = l->job->lease_timeout_us / 3;

	return us < 100000 ? 100000 : us;
}

int ss_lease_expires(const struct ss_lease *l, const struct ss_conn *conn)
{
	(void)l;
	return conn && conn->d->lease && !conn->d->lease->session;
}

int ss_lease_raise(struct ss_lease *l, struct ss_conn *conn, uint64_t above, struct ss_err *err)
{
	int r = conn->d->lease->raise(conn, l->job->name, l->epoch, above + 1, err);

	if (r < 0)
		ss_err_prefix(err, "database %s: raising the job lease of %s", l->job->source->name,
			      l->job->name);
	if (r == 1)
		l->epoch = above + 1;
	return r;
}

int ss_lease_fence(const struct ss_jobconf *job, const struct ss_dbconf *target, uint64_t epoch,
		   uint64_t *held, struct ss_err *err)
{
	struct ss_conn *c = ss_db_connect(target, err);
	struct ss_position p;
	struct ss_err e2;
	int r = -1;

	if (!c)
		return -1;
	if (c->d->apply_prepare(c, err) < 0 || c->d->begin(c, err) < 0)
		goto done;
	if (c->d->position_get(c, job->name, target->name, &p, err) < 0)
		goto undo;
	*held = p.epoch;
	if (p.epoch > epoch) {
		r = 0;
		goto undo;
	}
	p.epoch = epoch;
	r = c->d->position_set(c, job->name, target->name, &p, err);
	if (r == 1 && c->d->commit(c, err) < 0)
		r = -1;
	if (r == 1)
		goto done;
undo:
	(void)c->d->rollback(c, &e2);
done:
	ss_db_disconnect(c);
	return r;
}
