/*
 * check_table.c -- the drift check's engine: compare one source table
 * with its copy on each target (ss_check_table; the command and the
 * reports are tools/check*.c).
 *
 *  1. Walk the source's keys in key order, cutting the key space into
 *     chunks of N rows (N adapts to how long a chunk takes, 10k-100k, or
 *     --chunk-rows).  Per chunk both databases return the row count and
 *     the sum of a 60-bit MD5 slice of each row's canonical text (computed
 *     in SQL; canon.c on the client where a database cannot).  Source and
 *     target run in parallel, one thread each.
 *  2. If chunks differ: wait until the difference has lasted --min-age and
 *     the target's applier has passed the source's shadow-log high-water
 *     mark, then look at those chunks again; only what still differs counts
 *     (and, with --min-age, only rows that still differ after one more
 *     wait, fetched again by key).
 *  3. For each differing chunk, both sides stream every row's key
 *     and row hash; merging them by canonical key gives the keys that are
 *     missing, extra or different, and only those rows are fetched (by key)
 *     and compared column by column.  A range too big to stream (rows one
 *     side holds between two keys of the other) is first cut into pieces
 *     hashed in one grouped query per side.  Rows found missing in one
 *     range and extra in another (the engines order keys differently) are
 *     paired up at the end.  (Step 3 is check_diff.c.)
 *
 * This file owns the chunks, the waiting and the verdicts; every statement
 * comes from dialects/check_sql.c through check_side.c, and nothing here
 * knows a database's syntax.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applier.h"
#include "canon.h"
#include "change.h"
#include "check_int.h"
#include "daemon.h"
#include "journal.h"
#include "log.h"

#define CHUNK_MIN 10000
#define CHUNK_MAX 100000
#define CHUNK_SECONDS 0.5 /* aim per chunk when adaptive */

void ss_check_result_note(struct ss_check_result *r, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	for (int i = 0; i < r->nnotes; i++)
		if (strcmp(r->notes[i], buf) == 0)
			return;
	r->notes = ss_xrealloc(r->notes, sizeof *r->notes * (size_t)(r->nnotes + 1));
	r->notes[r->nnotes++] = ss_xstrdup(buf);
}

/* ---- waiting for replication ---------------------------------------------------------- */

static void sleep_us(int64_t us)
{
	if (us > 0)
		usleep((useconds_t)(us > 1000000 ? 1000000 : us));
}

/* Wait until the difference is --min-age old and the target's applier has
 * applied everything the source had captured when the chunks were hashed
 * (hwm: the shadow log's high-water mark then). */
static void wait_catch_up(struct ss_check_pair *x, const struct ss_config *cfg,
			  const struct ss_jobconf *job, int64_t since, uint64_t hwm)
{
	const struct ss_check_opts *o = x->o;
	int64_t deadline =
		since + (o->max_wait_us > o->min_age_us ? o->max_wait_us : o->min_age_us);
	struct ss_err err;
	uint64_t jpos = 0, pos = 0;

	while (ss_mono_us() < since + o->min_age_us)
		sleep_us(since + o->min_age_us - ss_mono_us());
	if (hwm == 0 || !x->s.ops->log_pending)
		return; /* no trigger capture installed: nothing to wait for */
	for (;;) {
		int pending = 0;
		if (x->s.ops->log_pending(x->s.c, job->name, hwm, &pending, &err) < 0 || !pending)
			break;
		if (ss_mono_us() >= deadline) {
			ss_check_result_note(
				x->res,
				"changes captured on %s were still waiting in its "
				"shadow log after %lld s; differences may be in flight",
				x->s.db, (long long)((deadline - since) / 1000000));
			return;
		}
		sleep_us(200000);
	}
	{
		char dir[4096];
		struct ss_journal *j;
		ss_config_journal_dir(cfg, job->name, dir, sizeof dir);
		j = ss_journal_open_readonly(dir, &err);
		if (!j)
			return; /* no journal here: cannot tell how far the applier must get */
		jpos = ss_journal_last_pos(j);
		ss_journal_free(j);
	}
	for (;;) {
		struct ss_position p;
		if (x->t.c->d->position_get(x->t.c, job->name, x->res->target, &p, &err) < 0)
			return; /* no applier state on this target */
		pos = p.pos;
		if (pos >= jpos)
			return;
		if (ss_mono_us() >= deadline) {
			ss_check_result_note(
				x->res,
				"the applier of %s was at journal position %llu, "
				"behind %llu, after %lld s; differences may be in flight",
				x->t.db, (unsigned long long)pos, (unsigned long long)jpos,
				(long long)((deadline - since) / 1000000));
			return;
		}
		sleep_us(200000);
	}
}

/* ---- setting up a pair ------------------------------------------------------------------ */

static int is_excluded(const struct ss_table_settings *s, const char *col)
{
	for (int i = 0; i < s->nexclude; i++)
		if (strcmp(s->exclude_columns[i], col) == 0)
			return 1;
	return 0;
}

/* Columns compared: the source's, less excluded ones, that the target has. */
static int pair_columns(struct ss_check_pair *x, const struct ss_jobconf *job, struct ss_err *err)
{
	const struct ss_tableinfo *st = x->s.ti, *tt = x->t.ti;
	struct ss_table_settings set;
	struct ss_check_result *r = x->res;

	ss_config_table_settings(job, st->schema, st->name, &set);
	x->s.col = ss_xcalloc((size_t)st->ncols, sizeof *x->s.col);
	x->t.col = ss_xcalloc((size_t)st->ncols, sizeof *x->t.col);
	r->cols = ss_xcalloc((size_t)st->ncols, sizeof *r->cols);
	for (int i = 0; i < st->ncols; i++) {
		const struct ss_colinfo *c = &st->cols[i];
		if (!c->pk_pos && is_excluded(&set, c->name))
			continue;
		int j = x->t.ops->find_col(tt, c->name);
		if (j < 0) {
			if (c->pk_pos) {
				ss_err_set(err,
					   "database %s: key column %s of %s.%s is not in %s.%s",
					   x->t.db, c->name, st->schema, st->name, tt->schema,
					   tt->name);
				return -1;
			}
			ss_check_result_note(
				r, "column %s is not in the target table (not compared)", c->name);
			continue;
		}
		x->s.col[x->ncols] = i;
		x->t.col[x->ncols] = j;
		r->cols[x->ncols] = ss_xstrdup(c->name);
		x->ncols++;
	}
	r->ncols = x->ncols;
	x->nkey = st->npk;
	x->key = ss_xcalloc((size_t)st->npk, sizeof *x->key);
	for (int k = 0; k < st->npk; k++)
		for (int i = 0; i < x->ncols; i++)
			if (x->s.col[i] == st->pk[k])
				x->key[k] = i;
	r->nkey = x->nkey;
	r->key = ss_xcalloc((size_t)x->nkey, sizeof *r->key);
	memcpy(r->key, x->key, sizeof *x->key * (size_t)x->nkey);
	x->spec = ss_xcalloc((size_t)x->ncols, sizeof *x->spec);
	for (int i = 0; i < x->ncols; i++) {
		struct ss_canon_src a, b;
		x->s.ops->describe(ss_check_col(&x->s, i), &a);
		x->t.ops->describe(ss_check_col(&x->t, i), &b);
		ss_canon_pick(&a, &b, &x->spec[i]);
	}
	return 0;
}

struct ss_check_chunk {
	ss_check_keyv lo, hi;
	uint64_t ns, nt; /* rows on each side when first hashed */
};

static void progress(const struct ss_check_pair *x, int done)
{
	if (!x->o->progress)
		return;
	if (done)
		fprintf(stderr, "\r\033[K");
	else
		fprintf(stderr, "\r\033[Kcheck %s %s -> %s: %llu rows, %d chunks, %d differ",
			x->res->job, x->res->table, x->res->target,
			(unsigned long long)x->res->src_rows, x->res->chunks,
			x->res->chunks_differ);
	fflush(stderr);
}

static int check_pair(struct ss_check_pair *x, const struct ss_config *cfg,
		      const struct ss_jobconf *job, struct ss_err *err)
{
	struct ss_check_result *r = x->res;
	struct ss_check_chunk *bad = NULL;
	int nbad = 0, rc = -1;
	int64_t n = x->o->chunk_rows > 0 ? x->o->chunk_rows : CHUNK_MIN;
	int64_t first_bad = 0;
	ss_check_keyv lo = NULL;
	uint64_t hwm = 0;

	/* pass 1: every chunk */
	for (;;) {
		struct ss_check_keys ks = {0};
		ss_check_keyv hi = NULL;
		struct ss_canon_sum ssum, tsum;
		int64_t t0 = ss_mono_us();

		if (ss_check_side_keys(x, &x->s, lo, NULL, 1, (int)(n - 1), &ks, err) < 0) {
			ss_check_keyv_free(x->nkey, lo);
			goto done;
		}
		if (ks.n > 0)
			hi = ks.v[0];
		free(ks.v);
		if (ss_check_hash_both(x, lo, hi, NULL, 0, &ssum, &tsum, err) < 0) {
			ss_check_keyv_free(x->nkey, lo);
			ss_check_keyv_free(x->nkey, hi);
			goto done;
		}
		r->chunks++;
		r->src_rows += ssum.count;
		r->tgt_rows += tsum.count;
		if (!ss_check_sums_equal(&ssum, &tsum)) {
			if (!nbad)
				first_bad = ss_mono_us();
			bad = ss_xrealloc(bad, sizeof *bad * (size_t)(nbad + 1));
			bad[nbad].lo = ss_check_keyv_dup(x->nkey, (const char *const *)lo);
			bad[nbad].hi = ss_check_keyv_dup(x->nkey, (const char *const *)hi);
			bad[nbad].ns = ssum.count;
			bad[nbad].nt = tsum.count;
			nbad++;
			r->chunks_differ++;
		}
		ss_check_keyv_free(x->nkey, lo);
		lo = hi;
		progress(x, 0);
		if (!hi)
			break;
		if (x->o->chunk_rows <= 0) {
			double s = (double)(ss_mono_us() - t0) / 1e6;
			double f = s > 0 ? CHUNK_SECONDS / s : 4;
			n = (int64_t)((double)n * (f > 4 ? 4 : f < 0.25 ? 0.25 : f));
			n = n < CHUNK_MIN ? CHUNK_MIN : n > CHUNK_MAX ? CHUNK_MAX : n;
		}
	}
	progress(x, 1);
	if (nbad == 0) {
		rc = 0;
		goto done;
	}
	/* pass 2: only what persists past --min-age and the applier's catch-up */
	if (x->s.ops->log_hwm && x->s.ops->log_hwm(x->s.c, job->name, &hwm, err) < 0)
		goto done;
	wait_catch_up(x, cfg, job, first_bad, hwm);
	r->chunks_differ = 0;
	int settled = 0;
	for (int i = 0; i < nbad; i++) {
		/* bisect looks at the chunk's rows again: none differing now means
		 * the difference was in flight */
		int before = x->npend;
		if (ss_check_bisect(x, bad[i].lo, bad[i].hi, bad[i].ns, bad[i].nt, 0, err) < 0)
			goto done;
		if (x->npend == before)
			settled++;
		else
			r->chunks_differ++;
	}
	if (settled)
		ss_check_result_note(r,
				     "%d chunk%s differed at first and matched once the changes in "
				     "flight had been applied",
				     settled, settled == 1 ? "" : "s");
	/* The rows found, fetched once more by key from both sides: when the
	 * two engines order keys differently the target's key ranges overlap
	 * (a row can look extra in one range and match in another), and with
	 * --min-age a row changed while it was compared is not drift. */
	if (x->npend > 0) {
		if (x->o->min_age_us > 0) {
			int64_t seen = ss_mono_us();
			if (x->s.ops->log_hwm &&
			    x->s.ops->log_hwm(x->s.c, job->name, &hwm, err) < 0)
				goto done;
			wait_catch_up(x, cfg, job, seen, hwm);
		}
		if (ss_check_confirm(x, err) < 0)
			goto done;
	}
	rc = 0;
done:
	for (int i = 0; i < nbad; i++) {
		ss_check_keyv_free(x->nkey, bad[i].lo);
		ss_check_keyv_free(x->nkey, bad[i].hi);
	}
	free(bad);
	ss_check_finish_diffs(x);
	/* chunk counts can count a target row twice (overlapping ranges) */
	r->tgt_rows = r->src_rows - r->missing + r->extra;
	return rc;
}

struct ss_conn *ss_check_connect(const struct ss_dbconf *db, struct ss_err *err)
{
	struct ss_conn *c = ss_db_connect(db, err);

	if (!c)
		return NULL;
	if (!c->d->check) {
		ss_err_set(err, "database %s: the drift check is not available for %s databases",
			   db->name, c->d->name);
		ss_db_disconnect(c);
		return NULL;
	}
	if (c->d->check->prepare && c->d->check->prepare(c, err) < 0) {
		ss_db_disconnect(c);
		return NULL;
	}
	return c;
}

int ss_check_table(const struct ss_check_opts *o, const struct ss_config *cfg,
		   const struct ss_jobconf *job, struct ss_conn *src, const struct ss_tableinfo *st,
		   struct ss_conn *const *tgts, int ntgt, struct ss_check_result *res)
{
	char *src_ident = NULL;
	int rc = 0;
	struct ss_err ierr;

	/* which database the source is: a target table that is the source
	 * table itself is an error, not a table "in sync" with itself */
	if (ss_db_identity(src, &src_ident, &ierr) < 0)
		src_ident = NULL;
	for (int i = 0; i < ntgt; i++) {
		struct ss_check_result *r = &res[i];
		struct ss_tableinfo tt;
		struct ss_check_pair x;
		struct ss_err err;
		int64_t t0 = ss_mono_us();

		memset(&x, 0, sizeof x);
		memset(&tt, 0, sizeof tt);
		ss_err_clear(&err);
		r->job = ss_xstrdup(job->name);
		r->source = ss_xstrdup(job->source->name);
		r->target = ss_xstrdup(job->targets[i]->name);
		{
			struct ss_buf b;
			ss_buf_init(&b);
			ss_buf_addf(&b, "%s.%s", st->schema, st->name);
			r->table = ss_buf_steal(&b);
		}
		/* named after the source until the target's table is found */
		r->target_table = ss_xstrdup(r->table);
		if (ss_applier_find_target(tgts[i], job, src_ident, st->schema, st->name, &tt,
					   &err) < 0)
			goto fail;
		{
			struct ss_buf b;
			ss_buf_init(&b);
			ss_buf_addf(&b, "%s.%s", tt.schema, tt.name);
			free(r->target_table);
			r->target_table = ss_buf_steal(&b);
		}
		x.o = o;
		x.res = r;
		x.s.db = job->source->name;
		x.s.c = src;
		x.s.ops = src->d->check;
		x.s.ti = st;
		x.t.db = job->targets[i]->name;
		x.t.c = tgts[i];
		x.t.ops = tgts[i]->d->check;
		x.t.ti = &tt;
		if (pair_columns(&x, job, &err) < 0)
			goto fail;
		ss_check_side_build(&x, &x.s);
		ss_check_side_build(&x, &x.t);
		if (check_pair(&x, cfg, job, &err) < 0)
			goto fail;
		goto next;
fail:
		r->error = ss_xstrdup(err.msg);
		rc = -1;
next:
		r->seconds = (double)(ss_mono_us() - t0) / 1e6;
		ss_check_side_free(&x.s);
		ss_check_side_free(&x.t);
		free(x.spec);
		free(x.key);
		ss_tableinfo_free(&tt);
	}
	free(src_ident);
	return rc;
}

void ss_check_result_free(struct ss_check_result *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->ndiffs; i++) {
		struct ss_check_diff *d = &r->diffs[i];
		for (int k = 0; k < r->nkey; k++)
			free(d->key[k]);
		for (int c = 0; c < d->ncols; c++) {
			free(d->src[c]);
			free(d->tgt[c]);
		}
		free(d->key);
		free(d->cols);
		free(d->src);
		free(d->tgt);
	}
	free(r->diffs);
	for (int i = 0; i < r->ncols; i++)
		free(r->cols[i]);
	free(r->cols);
	free(r->key);
	for (int i = 0; i < r->nnotes; i++)
		free(r->notes[i]);
	free(r->notes);
	free(r->job);
	free(r->table);
	free(r->source);
	free(r->target);
	free(r->target_table);
	free(r->error);
	memset(r, 0, sizeof *r);
}
