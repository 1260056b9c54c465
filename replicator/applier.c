/*
 * applier.c -- one thread per (job, target) applying journal records.
 * See applier.h.
 *
 * The loop: read records after the applied position; gather them into a
 * target transaction until at least batch_rows changes have been read and
 * the last one ends a source transaction (SS_JREC_TXEND), or until the
 * journal has nothing more and we stand on such a boundary.  Changes are
 * executed in sub-batches (per table: the last change of each key wins,
 * deletes before upserts) as they accumulate and then forgotten, so memory
 * is bounded by one sub-batch whatever the size of a source transaction;
 * the position is written and the transaction committed only at a boundary.
 * A sub-batch the target rejects is not an answer: the target transaction
 * is rolled back and re-read from the journal, one statement per change in
 * source order; only a change rejected on its own stops the target.
 */
#include "applier.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "change.h"
#include "dialect.h"
#include "log.h"
#include "util.h"

#define SUB_BATCH_BYTES (8u << 20)
#define SS_APPLIER_FIRST_BACKOFF_US 100000

struct dst_table {
	char *src_schema, *src_name;
	struct ss_tableinfo info; /* target catalog */
};

/* The records of one sub-batch, executed and then forgotten. */
struct pending {
	struct ss_buf payloads; /* record payloads back to back */
	size_t *offs;
	uint64_t *pos;
	int n, cap;
};

struct ss_applier {
	const struct ss_jobconf *job;
	const struct ss_dbconf *target;
	struct ss_journal *journal;
	pthread_t thread;
	int started;
	volatile int stop;
	pthread_mutex_t mu;
	struct ss_applier_stats stats;
	struct ss_conn *conn;
	struct dst_table **tables; /* each allocated alone: flush() keeps pointers */
	int ntables;
	struct pending pend;
	uint64_t epoch;                     /* of the job lease we hold */
	char journal_id[SS_JOURNAL_ID_MAX]; /* of a->journal */
	struct ss_position stored;          /* the target's row when connected */
	char *src_ident; /* which database the source is (target.c), once known */
	char ctx[256];
};

struct ss_applier *ss_applier_new(const struct ss_jobconf *job, const struct ss_dbconf *target,
				  struct ss_journal *journal)
{
	struct ss_applier *a = ss_xcalloc(1, sizeof *a);

	a->job = job;
	a->target = target;
	a->journal = journal;
	pthread_mutex_init(&a->mu, NULL);
	ss_buf_init(&a->pend.payloads);
	snprintf(a->ctx, sizeof a->ctx, "job %s target %s", job->name, target->name);
	return a;
}

void ss_applier_set_owner(struct ss_applier *a, uint64_t epoch, const char *journal_id)
{
	a->epoch = epoch;
	snprintf(a->journal_id, sizeof a->journal_id, "%s", journal_id);
}

const char *ss_applier_target(const struct ss_applier *a)
{
	return a->target->name;
}

static void set_state(struct ss_applier *a, int state, const char *error)
{
	pthread_mutex_lock(&a->mu);
	a->stats.state = state;
	if (state == SS_APPLIER_RETRYING || state == SS_APPLIER_FAILED)
		a->stats.errors++;
	if (error)
		snprintf(a->stats.last_error, sizeof a->stats.last_error, "%s", error);
	pthread_mutex_unlock(&a->mu);
}

void ss_applier_get_stats(struct ss_applier *a, struct ss_applier_stats *out)
{
	pthread_mutex_lock(&a->mu);
	*out = a->stats;
	pthread_mutex_unlock(&a->mu);
}

static void free_tables(struct ss_applier *a)
{
	for (int i = 0; i < a->ntables; i++) {
		free(a->tables[i]->src_schema);
		free(a->tables[i]->src_name);
		ss_tableinfo_free(&a->tables[i]->info);
		free(a->tables[i]);
	}
	free(a->tables);
	a->tables = NULL;
	a->ntables = 0;
}

static void disconnect(struct ss_applier *a)
{
	ss_db_disconnect(a->conn);
	a->conn = NULL;
	free_tables(a);
}

/* The target table for a change's source table, introspected once. */
static struct dst_table *dst_for(struct ss_applier *a, const struct ss_change *c,
				 struct ss_err *err)
{
	for (int i = 0; i < a->ntables; i++)
		if (strlen(a->tables[i]->src_name) == c->table_len &&
		    memcmp(a->tables[i]->src_name, c->table, c->table_len) == 0 &&
		    strlen(a->tables[i]->src_schema) == c->schema_len &&
		    memcmp(a->tables[i]->src_schema, c->schema, c->schema_len) == 0)
			return a->tables[i];
	char *ss = ss_xstrndup(c->schema, c->schema_len), *st = ss_xstrndup(c->table, c->table_len);
	struct dst_table *t = ss_xcalloc(1, sizeof *t);
	int r = ss_applier_find_target(a->conn, a->job, a->src_ident, ss, st, &t->info, err);
	if (r < 0) {
		free(ss);
		free(st);
		free(t);
		return NULL;
	}
	if (t->info.npk == 0) {
		ss_err_set(err, "database %s: target table %s.%s has no primary key",
			   a->target->name, t->info.schema, t->info.name);
		ss_tableinfo_free(&t->info);
		free(ss);
		free(st);
		free(t);
		return NULL;
	}
	t->src_schema = ss;
	t->src_name = st;
	a->tables = ss_xrealloc(a->tables, sizeof *a->tables * (size_t)(a->ntables + 1));
	a->tables[a->ntables++] = t;
	return t;
}

static void pend_reset(struct pending *p)
{
	p->n = 0;
	ss_buf_reset(&p->payloads);
}

static void pend_add(struct pending *p, const struct ss_jrec *r)
{
	if (p->n + 1 >= p->cap) {
		p->cap = p->cap ? p->cap * 2 : 1024;
		p->offs = ss_xrealloc(p->offs, sizeof *p->offs * (size_t)(p->cap + 1));
		p->pos = ss_xrealloc(p->pos, sizeof *p->pos * (size_t)p->cap);
	}
	p->offs[p->n] = p->payloads.len;
	ss_buf_add(&p->payloads, r->payload, r->len);
	p->pos[p->n] = r->pos;
	p->n++;
	p->offs[p->n] = p->payloads.len;
}

/* Key of a change as bytes, for collapsing repeated changes of one row. */
static void key_bytes(const struct ss_change *c, struct ss_buf *out)
{
	ss_buf_reset(out);
	ss_buf_add(out, c->schema, c->schema_len);
	ss_buf_addc(out, 0);
	ss_buf_add(out, c->table, c->table_len);
	for (int i = 0; i < c->nkey; i++) {
		ss_buf_addc(out, 0);
		ss_buf_add_varint(out, c->key[i].is_null ? 0 : c->key[i].len + 1);
		ss_buf_add(out, c->key[i].data, c->key[i].len);
	}
}

struct keyslot {
	uint64_t hash;
	int idx; /* change index, -1 empty */
};

static uint64_t fnv(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Describe change c's key for an error message. */
static void describe_key(const struct ss_change *c, struct ss_buf *out)
{
	for (int i = 0; i < c->nkey; i++) {
		ss_buf_addf(out, "%s%.*s=", i ? ", " : "", (int)c->key[i].name_len, c->key[i].name);
		if (c->key[i].is_null)
			ss_buf_adds(out, "NULL");
		else if (c->key[i].type == SS_V_BINARY)
			ss_hex_encode((const uint8_t *)c->key[i].data, c->key[i].len, out);
		else
			ss_buf_add(out, c->key[i].data, c->key[i].len > 200 ? 200 : c->key[i].len);
	}
}

/* Run one table's upserts or deletes. */
static int run_group(struct ss_applier *a, struct dst_table *t, struct ss_change **v, int n,
		     int del, struct ss_err *err)
{
	struct ss_apply_batch b;
	int *cols = NULL, ncols = 0, rc;

	if (n == 0)
		return 0;
	memset(&b, 0, sizeof b);
	b.target = &t->info;
	b.changes = v;
	b.n = n;
	if (!del) {
		/* the columns of the source row that the target has */
		cols = ss_xcalloc((size_t)t->info.ncols, sizeof *cols);
		for (int i = 0; i < t->info.ncols; i++)
			if (ss_change_field(v[0]->row, v[0]->nrow, t->info.cols[i].name))
				cols[ncols++] = i;
		b.cols = cols;
		b.ncols = ncols;
		rc = a->conn->d->apply_upsert(a->conn, &b, err);
	} else {
		rc = a->conn->d->apply_delete(a->conn, &b, err);
	}
	free(cols);
	return rc;
}

/* Execute the pending records [from, to) in the open target transaction.
 * one_by_one: a statement per change (to find the change a target
 * rejects). */
static int flush(struct ss_applier *a, int from, int to, int one_by_one, struct ss_err *err)
{
	struct pending *p = &a->pend;
	int n = to - from, rc = -1;
	struct ss_change *ch = ss_xcalloc((size_t)(n ? n : 1), sizeof *ch);
	struct ss_change **order = ss_xcalloc((size_t)(n ? n : 1), sizeof *order);
	struct dst_table **dst = ss_xcalloc((size_t)(n ? n : 1), sizeof *dst);
	size_t nslots = 16;
	struct keyslot *slots;
	struct ss_buf kb;

	while (nslots < (size_t)n * 2)
		nslots *= 2;
	slots = ss_xmalloc(sizeof *slots * nslots);
	for (size_t i = 0; i < nslots; i++)
		slots[i].idx = -1;
	ss_buf_init(&kb);
	/* decode; the last change of each key wins */
	int *alive = ss_xcalloc((size_t)(n ? n : 1), sizeof *alive);
	for (int i = 0; i < n; i++) {
		ss_change_init(&ch[i]);
		if (ss_change_decode(&ch[i], (const uint8_t *)p->payloads.data + p->offs[from + i],
				     p->offs[from + i + 1] - p->offs[from + i], err) < 0) {
			ss_err_prefix(err, "journal position %llu",
				      (unsigned long long)p->pos[from + i]);
			goto done;
		}
		ch[i].pos = p->pos[from + i];
		alive[i] = 1;
		if (one_by_one)
			continue;
		key_bytes(&ch[i], &kb);
		uint64_t h = fnv(kb.data, kb.len);
		size_t s = h & (nslots - 1);
		for (;;) {
			if (slots[s].idx < 0) {
				slots[s].hash = h;
				slots[s].idx = i;
				break;
			}
			if (slots[s].hash == h) {
				struct ss_buf other;
				ss_buf_init(&other);
				key_bytes(&ch[slots[s].idx], &other);
				int same = other.len == kb.len &&
					   memcmp(other.data, kb.data, kb.len) == 0;
				ss_buf_free(&other);
				if (same) {
					alive[slots[s].idx] = 0;
					slots[s].idx = i;
					break;
				}
			}
			s = (s + 1) & (nslots - 1);
		}
	}
	for (int i = 0; i < n; i++) {
		if (!alive[i])
			continue;
		dst[i] = dst_for(a, &ch[i], err);
		if (!dst[i])
			goto done;
	}
	if (one_by_one) {
		for (int i = 0; i < n; i++) {
			struct ss_change *one = &ch[i];
			if (run_group(a, dst[i], &one, 1, ch[i].op == 'D', err) < 0) {
				struct ss_buf k;
				ss_buf_init(&k);
				describe_key(&ch[i], &k);
				ss_err_prefix(
					err,
					"change at journal position %llu (%c on %.*s.%.*s, key %s)",
					(unsigned long long)ch[i].pos, ch[i].op,
					(int)ch[i].schema_len, ch[i].schema, (int)ch[i].table_len,
					ch[i].table, k.data);
				ss_buf_free(&k);
				goto done;
			}
		}
		rc = 0;
		goto done;
	}
	/* per table: deletes first, then upserts */
	for (int i = 0; i < n; i++) {
		if (!alive[i] || !dst[i])
			continue;
		struct dst_table *t = dst[i];
		for (int del = 1; del >= 0; del--) {
			int m = 0;
			for (int j = i; j < n; j++)
				if (alive[j] && dst[j] == t && (ch[j].op == 'D') == del)
					order[m++] = &ch[j];
			if (run_group(a, t, order, m, del, err) < 0)
				goto done;
		}
		for (int j = i; j < n; j++)
			if (dst[j] == t)
				dst[j] = NULL;
	}
	rc = 0;
done:
	for (int i = 0; i < n; i++)
		ss_change_release(&ch[i]);
	free(alive);
	free(ch);
	free(order);
	free(dst);
	free(slots);
	ss_buf_free(&kb);
	return rc;
}

/* The target holds a higher epoch: a newer owner of the job fenced it. */
static void fenced(struct ss_applier *a, uint64_t stored, struct ss_err *err)
{
	ss_err_set(err,
		   "fenced: database %s holds lease epoch %llu of job %s, this process's lease "
		   "is epoch %llu: another shadowsync process owns the job now; this applier "
		   "stops without writing",
		   a->target->name, (unsigned long long)stored, a->job->name,
		   (unsigned long long)a->epoch);
	err->transient = 0;
}

static int connect_target(struct ss_applier *a, struct ss_err *err)
{
	uint64_t pos;

	a->conn = ss_db_connect(a->target, err);
	if (!a->conn)
		return -1;
	if (a->conn->d->apply_prepare(a->conn, err) < 0 ||
	    a->conn->d->position_get(a->conn, a->job->name, a->target->name, &a->stored, err) < 0) {
		disconnect(a);
		return -1;
	}
	if (a->stored.epoch > a->epoch) {
		fenced(a, a->stored.epoch, err);
		disconnect(a);
		return -1;
	}
	pos = a->stored.pos;
	/* never apply a table into itself (target.c); before the position is
	 * published, which lets `run --once` consider this target */
	if (!a->src_ident && ss_applier_check_targets(a->conn, a->job, &a->src_ident, err) < 0) {
		disconnect(a);
		return -1;
	}
	pthread_mutex_lock(&a->mu);
	a->stats.applied_pos = pos;
	a->stats.position_known = 1;
	pthread_mutex_unlock(&a->mu);
	ss_log_info(a->ctx, "connected; applied position %llu", (unsigned long long)pos);
	return 0;
}

/* Is the target's position one of this journal's?  A position row without
 * an identity (written before identities existed) is adopted when this
 * journal reaches it. */
static int check_journal(struct ss_applier *a, struct ss_err *err)
{
	const struct ss_position *p = &a->stored;
	uint64_t last = ss_journal_last_pos(a->journal);

	err->transient = 0;
	if (p->journal_id[0] && strcmp(p->journal_id, a->journal_id) != 0) {
		ss_err_set(
			err,
			"database %s (target %s) has applied position %llu of journal %s, but "
			"job %s's journal is %s: the journal was reset or replaced, and reading "
			"this one from the target's position would skip or repeat changes.  "
			"Stop shadowsync, re-sync the target's tables from the "
			"source, then run `shadowsync journal -c FILE adopt --job %s --target %s`",
			a->target->name, a->target->name, (unsigned long long)p->pos, p->journal_id,
			a->job->name, a->journal_id, a->job->name, a->target->name);
		return -1;
	}
	if (p->pos > last) {
		/* the same journal (or a row without identity) but shorter:
		 * records the target applied are gone */
		ss_err_set(
			err,
			"database %s (target %s) has applied journal position %llu of job %s, "
			"but journal %s ends at %llu: the journal was reset or replaced, or lost "
			"records; stop "
			"shadowsync, re-sync the target's tables from the source, then run "
			"`shadowsync journal -c FILE adopt --job %s --target %s`",
			a->target->name, a->target->name, (unsigned long long)p->pos, a->job->name,
			a->journal_id, (unsigned long long)last, a->job->name, a->target->name);
		return -1;
	}
	if (!p->journal_id[0] && p->pos > 0)
		ss_log_warn(a->ctx,
			    "position %llu has no journal identity (written by an older "
			    "shadowsync): adopting journal %s",
			    (unsigned long long)p->pos, a->journal_id);
	return 0;
}

/* Apply everything from the applied position on, until stop or error.
 * Returns -1 with err on failure (err->transient: retry).
 *
 * A target transaction is read from the journal record by record and
 * executed in sub-batches as it goes; nothing of it is kept once executed,
 * so memory does not grow with the size of a source transaction.  When the
 * target rejects a sub-batch (a collapsed multi-row statement can break a
 * secondary UNIQUE key that the changes one at a time do not), the target
 * transaction is rolled back and read again from the journal, from the
 * applied position, one statement per change in source order, up to the
 * first boundary at or after the rejected read; only a change rejected on
 * its own stops the target. */
static int apply_loop(struct ss_applier *a, struct ss_err *err)
{
	struct ss_journal_reader *r;
	struct ss_jrec rec;
	const struct ss_dialect *d = a->conn->d;
	int limit = (int)a->job->batch_rows;
	uint64_t retry_until = 0; /* > 0: change by change up to here */

	if (check_journal(a, err) < 0)
		return -1;
	r = ss_journal_reader_new(a->journal, a->stats.applied_pos, err);
	if (!r) {
		err->transient = 0;
		return -1;
	}
	while (!a->stop) {
		int in_txn = 0, at_boundary = 1, got, one = retry_until != 0;
		uint64_t boundary = 0, last_read = a->stats.applied_pos, nread = 0;
		int64_t boundary_src_us = 0;

		pend_reset(&a->pend);
		for (;;) {
			got = ss_journal_reader_next(r, &rec, err);
			if (got < 0) {
				err->transient = 0;
				goto fail;
			}
			if (got == 0) {
				if (at_boundary && nread > 0)
					break;
				if (a->stop)
					goto done;
				ss_journal_wait(a->journal, last_read, 200000);
				continue;
			}
			if (!in_txn) {
				if (d->begin(a->conn, err) < 0)
					goto fail;
				in_txn = 1;
			}
			pend_add(&a->pend, &rec);
			nread++;
			last_read = rec.pos;
			at_boundary = (rec.flags & SS_JREC_TXEND) != 0;
			if (at_boundary) {
				boundary = rec.pos;
				boundary_src_us = rec.ts_us;
			}
			if (one || a->pend.n >= limit || a->pend.payloads.len >= SUB_BATCH_BYTES) {
				if (flush(a, 0, a->pend.n, one, err) < 0)
					goto reject;
				pend_reset(&a->pend);
			}
			if (at_boundary &&
			    (one ? last_read >= retry_until : nread >= (uint64_t)limit))
				break;
		}
		if (flush(a, 0, a->pend.n, one, err) < 0)
			goto reject;
		pend_reset(&a->pend);
		struct ss_position np = {boundary, a->epoch, ""};
		memcpy(np.journal_id, a->journal_id, sizeof np.journal_id);
		int w = d->position_set(a->conn, a->job->name, a->target->name, &np, err);
		if (w < 0)
			goto fail;
		if (w == 0) {
			struct ss_position now;
			if (d->position_get(a->conn, a->job->name, a->target->name, &now, err) < 0)
				goto fail;
			fenced(a, now.epoch, err);
			goto fail;
		}
		ss_crashpoint("apply_before_commit");
		if (d->commit(a->conn, err) < 0)
			goto fail;
		ss_crashpoint("apply_after_commit");
		retry_until = 0;
		pthread_mutex_lock(&a->mu);
		a->stats.applied_pos = boundary;
		a->stats.changes += nread;
		a->stats.commits++;
		a->stats.last_commit_us = ss_now_us();
		a->stats.last_source_us = boundary_src_us;
		a->stats.state = SS_APPLIER_RUNNING;
		a->stats.last_error[0] = '\0';
		pthread_mutex_unlock(&a->mu);
		continue;
reject:
		/* Rejected change by change: the change is named in err.  A
		 * transient failure (lock timeout, lost connection) is retried
		 * from scratch by the caller. */
		if (one || err->transient)
			goto fail;
		/* A sub-batch was rejected: read the transaction again from the
		 * applied position and apply it one change at a time. */
		ss_log_info(a->ctx,
			    "batch rejected (%s); applying positions %llu..%llu change by change",
			    err->msg, (unsigned long long)a->stats.applied_pos + 1,
			    (unsigned long long)last_read);
		{
			struct ss_err e2;
			if (d->rollback(a->conn, &e2) < 0) {
				*err = e2;
				goto fail;
			}
		}
		ss_journal_reader_free(r);
		r = ss_journal_reader_new(a->journal, a->stats.applied_pos, err);
		if (!r) {
			err->transient = 0;
			return -1;
		}
		retry_until = last_read;
	}
done:
	if (a->conn)
		(void)d->rollback(a->conn, err);
	ss_journal_reader_free(r);
	return 0;
fail : {
	struct ss_err e2;
	if (a->conn)
		(void)d->rollback(a->conn, &e2);
}
	ss_journal_reader_free(r);
	return -1;
}

static void sleep_interruptible(struct ss_applier *a, int64_t us)
{
	int64_t end = ss_mono_us() + us;

	while (!a->stop && ss_mono_us() < end)
		usleep(20000);
}

static void *thread_main(void *arg)
{
	struct ss_applier *a = arg;
	struct ss_err err;
	int64_t backoff = SS_APPLIER_FIRST_BACKOFF_US;
	uint64_t commits;

	while (!a->stop) {
		ss_err_clear(&err);
		if (!a->conn && connect_target(a, &err) < 0) {
			if (!err.transient) {
				ss_log_error(a->ctx, "%s", err.msg);
				set_state(a, SS_APPLIER_FAILED, err.msg);
				break;
			}
			goto retry;
		}
		set_state(a, SS_APPLIER_RUNNING, NULL);
		commits = a->stats.commits;
		if (apply_loop(a, &err) == 0)
			break;
		/* something was committed since the last failure: this is a new
		 * episode, not the same one going on */
		if (a->stats.commits != commits)
			backoff = SS_APPLIER_FIRST_BACKOFF_US;
		if (!err.transient) {
			ss_log_error(a->ctx, "stopped: %s", err.msg);
			set_state(a, SS_APPLIER_FAILED, err.msg);
			disconnect(a);
			break;
		}
		disconnect(a);
retry:
		ss_log_warn(a->ctx, "%s; retrying in %lld ms", err.msg,
			    (long long)(backoff / 1000));
		set_state(a, SS_APPLIER_RETRYING, err.msg);
		sleep_interruptible(a, backoff);
		backoff =
			backoff * 2 > a->job->max_backoff_us ? a->job->max_backoff_us : backoff * 2;
		continue;
	}
	disconnect(a);
	pthread_mutex_lock(&a->mu);
	if (a->stats.state != SS_APPLIER_FAILED)
		a->stats.state = SS_APPLIER_STOPPED;
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

int ss_applier_start(struct ss_applier *a)
{
	a->stats.state = SS_APPLIER_STARTING;
	if (pthread_create(&a->thread, NULL, thread_main, a) != 0)
		return -1;
	a->started = 1;
	return 0;
}

void ss_applier_stop(struct ss_applier *a)
{
	if (!a || !a->started)
		return;
	a->stop = 1;
	ss_journal_wake_all(a->journal);
	pthread_join(a->thread, NULL);
	a->started = 0;
}

void ss_applier_free(struct ss_applier *a)
{
	if (!a)
		return;
	ss_applier_stop(a);
	disconnect(a);
	ss_buf_free(&a->pend.payloads);
	free(a->pend.offs);
	free(a->pend.pos);
	free(a->src_ident);
	pthread_mutex_destroy(&a->mu);
	free(a);
}
