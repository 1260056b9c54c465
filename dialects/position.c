/*
 * position.c -- reading and writing a target's position row, shared by
 * every dialect: the row holds the journal position applied, the epoch of
 * the job lease it was written under, and the journal's identity.
 *
 * Owns the fencing rule: a row is written only by a writer whose epoch is
 * not lower than the one stored, so a process that lost the job's lease
 * can never commit on a target once the new owner has written its epoch.
 * Each engine gives its SQL (struct ss_position_sql); the statements run
 * through the dialect's own query function, inside the caller's
 * transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialect.h"

static int position_row(void *arg, int ncols, const char *const *vals, const size_t *lens,
			struct ss_err *err)
{
	struct ss_position *p = arg;

	(void)err;
	if (ncols < 3)
		return 1;
	p->pos = vals[0] ? strtoull(vals[0], NULL, 10) : 0;
	p->epoch = vals[1] ? strtoull(vals[1], NULL, 10) : 0;
	if (vals[2] && lens[2] < sizeof p->journal_id) {
		memcpy(p->journal_id, vals[2], lens[2]);
		p->journal_id[lens[2]] = '\0';
	}
	return 1;
}

int ss_db_position_get(struct ss_conn *c, const struct ss_position_sql *s, const char *job,
		       const char *target, struct ss_position *p, struct ss_err *err)
{
	const char *params[2] = {job, target};
	size_t lens[2] = {strlen(job), strlen(target)};

	memset(p, 0, sizeof *p);
	if (c->d->query(c, s->get, 2, params, lens, position_row, p, err) < 0) {
		ss_err_prefix(err, "database %s: reading the position of job %s", c->db->name, job);
		return -1;
	}
	return 0;
}

static int count_row(void *arg, int ncols, const char *const *vals, const size_t *lens,
		     struct ss_err *err)
{
	uint64_t *stored = arg;

	(void)ncols;
	(void)lens;
	(void)err;
	/* lock: the stored epoch; set ... RETURNING: any row means written */
	*stored = vals[0] ? strtoull(vals[0], NULL, 10) + 1 : 1;
	return 1;
}

int ss_db_position_set(struct ss_conn *c, const struct ss_position_sql *s, const char *job,
		       const char *target, const struct ss_position *p, struct ss_err *err)
{
	char pos[24], epoch[24];
	const char *params[5] = {job, target, pos, epoch, p->journal_id[0] ? p->journal_id : NULL};
	size_t lens[5];
	uint64_t got = 0; /* lock: stored epoch + 1 (0: no row); set: 1 written */

	snprintf(pos, sizeof pos, "%llu", (unsigned long long)p->pos);
	snprintf(epoch, sizeof epoch, "%llu", (unsigned long long)p->epoch);
	for (int i = 0; i < 5; i++)
		lens[i] = params[i] ? strlen(params[i]) : 0;
	if (s->lock) {
		if (c->d->query(c, s->lock, 2, params, lens, count_row, &got, err) < 0)
			goto fail;
		if (got > p->epoch + 1)
			return 0;
		if (c->d->exec(c, s->set, 5, params, lens, err) < 0)
			goto fail;
		return 1;
	}
	if (c->d->query(c, s->set, 5, params, lens, count_row, &got, err) < 0)
		goto fail;
	return got ? 1 : 0;
fail:
	ss_err_prefix(err, "database %s: writing the position of job %s", c->db->name, job);
	return -1;
}
