/*
 * check_table.c -- the drift check's engine: compare one source table
 * with its copy on one target.
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
 *     paired up at the end.
 *
 * The SQL comes from each dialect's ss_check_ops; nothing here knows a
 * database's syntax beyond SELECT/WHERE/ORDER BY/GROUP BY/LIMIT/OFFSET.
 */
#include <pthread.h>
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

#define LEAF_ROWS 256      /* a range this small is compared row by row at once */
#define STREAM_ROWS 200000 /* up to this, a range is compared by streamed row hashes */
#define MAX_DEPTH 24
#define FETCH_BATCH 200 /* keys per statement when fetching rows by key */
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

/* ---- both sides at once ---------------------------------------------------------- */

enum { W_HASH, W_ROWS, W_KHASH };

struct work {
	struct pair *x;
	struct side *sd;
	int op;
	keyv lo, hi;
	keyv *bounds; /* W_HASH: buckets; W_ROWS: keys */
	int nb;
	struct ss_canon_sum *sums;
	struct rows_state rows;
	struct khash_state khash;
	int rc;
	struct ss_err err;
};

static void *work_run(void *arg)
{
	struct work *w = arg;

	if (w->op == W_HASH)
		w->rc = ss_check_side_hash(w->x, w->sd, w->lo, w->hi, w->bounds, w->nb, w->sums,
					   &w->err);
	else if (w->op == W_KHASH)
		w->rc = ss_check_side_khash(w->x, w->sd, w->lo, w->hi, &w->khash, &w->err);
	else
		w->rc = ss_check_side_rows(w->x, w->sd, w->lo, w->hi, w->bounds, w->nb, &w->rows,
					   &w->err);
	return NULL;
}

/* Run the source's and the target's work in parallel. */
static int run_both(struct work *w, struct ss_err *err)
{
	pthread_t th;
	int threaded = pthread_create(&th, NULL, work_run, &w[1]) == 0;

	work_run(&w[0]);
	if (threaded)
		pthread_join(th, NULL);
	else
		work_run(&w[1]);
	for (int i = 0; i < 2; i++)
		if (w[i].rc < 0) {
			if (err)
				*err = w[i].err;
			return -1;
		}
	return 0;
}

static int hash_both(struct pair *x, keyv lo, keyv hi, keyv *bounds, int nb,
		     struct ss_canon_sum *ssum, struct ss_canon_sum *tsum, struct ss_err *err)
{
	struct work w[2];

	memset(w, 0, sizeof w);
	for (int i = 0; i < 2; i++) {
		w[i].x = x;
		w[i].sd = i ? &x->t : &x->s;
		w[i].op = W_HASH;
		w[i].lo = lo;
		w[i].hi = hi;
		w[i].bounds = bounds;
		w[i].nb = nb;
		w[i].sums = i ? tsum : ssum;
	}
	return run_both(w, err);
}

static int sums_equal(const struct ss_canon_sum *a, const struct ss_canon_sum *b)
{
	return a->count == b->count && a->lo == b->lo && a->hi == b->hi;
}

/* ---- row diff ---------------------------------------------------------------------- */

static int row_cmp(const void *pa, const void *pb)
{
	const struct row *a = *(struct row *const *)pa, *b = *(struct row *const *)pb;
	size_t n = a->keylen < b->keylen ? a->keylen : b->keylen;
	int c = memcmp(a->key, b->key, n);

	if (c)
		return c;
	return a->keylen < b->keylen ? -1 : a->keylen > b->keylen;
}

static void pend_add(struct pair *x, char kind, struct row *a, struct row *b)
{
	if (x->npend == x->cappend) {
		x->cappend = x->cappend ? x->cappend * 2 : 64;
		x->pend = ss_xrealloc(x->pend, sizeof *x->pend * (size_t)x->cappend);
	}
	x->pend[x->npend].kind = kind;
	x->pend[x->npend].a = a;
	x->pend[x->npend].b = b;
	x->npend++;
}

static int rows_differ(const struct pair *x, const struct row *a, const struct row *b)
{
	for (int i = 0; i < x->ncols; i++)
		if (a->clen[i] != b->clen[i] || memcmp(a->canon[i], b->canon[i], a->clen[i]) != 0)
			return 1;
	return 0;
}

/* Reports of one leaf in the order the databases listed the keys. */
static int pend_seq_cmp(const void *pa, const void *pb)
{
	const struct pend *a = pa, *b = pb;
	int sa = a->a ? a->a->seq : a->b->seq, sb = b->a ? b->a->seq : b->b->seq;

	return sa < sb ? -1 : sa > sb;
}

/* Fetch (lo, hi] (or the rows with these keys) from both sides and record
 * the rows that differ. */
static int diff_rows(struct pair *x, keyv lo, keyv hi, keyv *keys, int nkeys, struct ss_err *err)
{
	struct work w[2];
	int rc, first = x->npend;

	memset(w, 0, sizeof w);
	ss_log_debug(x->res->table, "%s: rows of (%s, %s]", x->t.db, lo ? lo[0] : "-inf",
		     hi ? hi[0] : "+inf");
	for (int i = 0; i < 2; i++) {
		w[i].x = x;
		w[i].sd = i ? &x->t : &x->s;
		w[i].op = W_ROWS;
		w[i].lo = lo;
		w[i].hi = hi;
		w[i].bounds = keys;
		w[i].nb = nkeys;
	}
	rc = run_both(w, err);
	struct rows_state *a = &w[0].rows, *b = &w[1].rows;
	if (rc == 0) {
		qsort(a->v, (size_t)a->n, sizeof *a->v, row_cmp);
		qsort(b->v, (size_t)b->n, sizeof *b->v, row_cmp);
		int i = 0, j = 0;
		while (i < a->n || j < b->n) {
			int c = i >= a->n ? 1 : j >= b->n ? -1 : row_cmp(&a->v[i], &b->v[j]);
			if (c < 0) {
				pend_add(x, 'M', a->v[i], NULL);
				a->v[i++] = NULL;
			} else if (c > 0) {
				pend_add(x, 'E', NULL, b->v[j]);
				b->v[j++] = NULL;
			} else {
				if (rows_differ(x, a->v[i], b->v[j])) {
					pend_add(x, 'D', a->v[i], b->v[j]);
					a->v[i] = b->v[j] = NULL;
				}
				i++;
				j++;
			}
		}
		qsort(x->pend + first, (size_t)(x->npend - first), sizeof *x->pend, pend_seq_cmp);
	}
	for (int i = 0; i < a->n; i++)
		ss_check_row_free(x->ncols, a->v[i]);
	for (int i = 0; i < b->n; i++)
		ss_check_row_free(x->ncols, b->v[i]);
	free(a->v);
	free(b->v);
	return rc;
}

static int leaf(struct pair *x, keyv lo, keyv hi, struct ss_err *err)
{
	return diff_rows(x, lo, hi, NULL, 0, err);
}

/* Compare (lo, hi] by the key and row hash of every row, streamed from
 * both sides at once, and fetch the rows whose hashes differ (or that one
 * side lacks) by key. */
static int stream_compare(struct pair *x, keyv lo, keyv hi, struct ss_err *err)
{
	struct work w[2];
	keyv *keys = NULL;
	int nkeys = 0, rc;

	memset(w, 0, sizeof w);
	for (int i = 0; i < 2; i++) {
		w[i].x = x;
		w[i].sd = i ? &x->t : &x->s;
		w[i].op = W_KHASH;
		w[i].lo = lo;
		w[i].hi = hi;
	}
	rc = run_both(w, err);
	struct khash_state *a = &w[0].khash, *b = &w[1].khash;
	if (rc == 0) {
		qsort(a->v, (size_t)a->n, sizeof *a->v, ss_check_khash_cmp);
		qsort(b->v, (size_t)b->n, sizeof *b->v, ss_check_khash_cmp);
		keys = ss_xcalloc((size_t)(a->n + b->n) + 1, sizeof *keys);
		for (int i = 0, j = 0; i < a->n || j < b->n;) {
			int c = i >= a->n ? 1 :
				j >= b->n ? -1 :
					    ss_check_khash_cmp(&a->v[i], &b->v[j]);
			if (c < 0)
				keys[nkeys++] = a->v[i++].kraw;
			else if (c > 0)
				keys[nkeys++] = b->v[j++].kraw;
			else {
				if (a->v[i].h != b->v[j].h)
					keys[nkeys++] = a->v[i].kraw;
				i++;
				j++;
			}
		}
		ss_log_debug(x->res->table, "%s: (%s, %s]: %d and %d rows, %d keys differ", x->t.db,
			     lo ? lo[0] : "-inf", hi ? hi[0] : "+inf", a->n, b->n, nkeys);
		for (int i = 0; i < nkeys && rc == 0; i += FETCH_BATCH)
			rc = diff_rows(x, NULL, NULL, keys + i,
				       nkeys - i < FETCH_BATCH ? nkeys - i : FETCH_BATCH, err);
	}
	free(keys);
	ss_check_khash_free(x->nkey, a);
	ss_check_khash_free(x->nkey, b);
	return rc;
}

/* STREAM_ROWS, or SS_CHECK_STREAM_ROWS (tests use it to reach the grouped
 * split with small tables); bigger ranges are cut into quarters of it. */
static uint64_t stream_rows(void)
{
	const char *e = getenv("SS_CHECK_STREAM_ROWS");
	long long v = e ? atoll(e) : 0;

	return v > LEAF_ROWS ? (uint64_t)v : STREAM_ROWS;
}

/* Find the rows that differ in (lo, hi], where the sides hold about ns and
 * nt rows.  Small ranges are fetched whole, ranges up to STREAM_ROWS are
 * compared by streamed row hashes; a bigger range (rows one side holds
 * between two of the other's keys) is cut at the keys of the side holding
 * more, the pieces hashed in one grouped query per side, and the pieces
 * that differ looked at again. */
static int bisect(struct pair *x, keyv lo, keyv hi, uint64_t ns, uint64_t nt, int depth,
		  struct ss_err *err)
{
	struct keys_state ks = {0};
	keyv *bounds = NULL;
	struct ss_canon_sum *ssum = NULL, *tsum = NULL;
	uint64_t most = ns > nt ? ns : nt;
	int nb = 0, rc = -1;

	ss_log_debug(x->res->table, "%s: bisect (%s, %s]: %llu rows, target %llu", x->t.db,
		     lo ? lo[0] : "-inf", hi ? hi[0] : "+inf", (unsigned long long)ns,
		     (unsigned long long)nt);
	if (most <= LEAF_ROWS || depth >= MAX_DEPTH)
		return leaf(x, lo, hi, err);
	if (most <= stream_rows())
		return stream_compare(x, lo, hi, err);
	if (ss_check_side_keys(x, nt > ns ? &x->t : &x->s, lo, hi, 0, 0, &ks, err) < 0)
		goto done;
	int split = (int)(stream_rows() / 4);
	if ((uint64_t)ks.n <= stream_rows()) { /* the counts were stale */
		rc = ks.n <= LEAF_ROWS ? leaf(x, lo, hi, err) : stream_compare(x, lo, hi, err);
		goto done;
	}
	int want = (ks.n + split - 1) / split;
	int step = (ks.n + want - 1) / (want ? want : 1);
	bounds = ss_xcalloc((size_t)want + 1, sizeof *bounds);
	for (int k = step - 1; k < ks.n - 1 && nb < want; k += step)
		bounds[nb++] = ks.v[k];
	ssum = ss_xcalloc((size_t)nb + 1, sizeof *ssum);
	tsum = ss_xcalloc((size_t)nb + 1, sizeof *tsum);
	if (hash_both(x, lo, hi, bounds, nb, ssum, tsum, err) < 0)
		goto done;
	rc = 0;
	for (int i = 0; i <= nb && rc == 0; i++)
		if (!sums_equal(&ssum[i], &tsum[i]))
			rc = bisect(x, i ? bounds[i - 1] : lo, i < nb ? bounds[i] : hi,
				    ssum[i].count, tsum[i].count, depth + 1, err);
done:
	for (int i = 0; i < ks.n; i++)
		ss_check_keyv_free(x->nkey, ks.v[i]);
	free(ks.v);
	free(bounds);
	free(ssum);
	free(tsum);
	return rc;
}

/* Rows found missing in one range and extra in another (the two engines
 * put the key in different chunks) are one row: group every report by key
 * and keep one verdict per key, then turn them into the result's diffs. */
static int pend_key_cmp(const void *pa, const void *pb, void *arg)
{
	const struct pair *x = arg;
	const struct pend *a = &x->pend[*(const int *)pa], *b = &x->pend[*(const int *)pb];
	const struct row *ra = a->a ? a->a : a->b, *rb = b->a ? b->a : b->b;
	int c = row_cmp(&ra, &rb);

	return c ? c : (*(const int *)pa - *(const int *)pb);
}

static void finish_diffs(struct pair *x)
{
	struct ss_check_result *r = x->res;
	int *idx = ss_xcalloc((size_t)x->npend + 1, sizeof *idx), n = x->npend;

	for (int i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, (size_t)n, sizeof *idx, pend_key_cmp, x);
	for (int i = 0; i < n;) {
		int j = i + 1;
		struct pend *first = &x->pend[idx[i]];
		const struct row *key = first->a ? first->a : first->b;
		while (j < n) {
			const struct pend *q = &x->pend[idx[j]];
			const struct row *k2 = q->a ? q->a : q->b;
			if (row_cmp(&key, &k2) != 0)
				break;
			j++;
		}
		if (j > i + 1) { /* the first report (in key-range order) gets the verdict */
			struct row *a = NULL, *b = NULL;
			for (int k = i; k < j; k++) {
				struct pend *q = &x->pend[idx[k]];
				if (q->a && !a) {
					a = q->a;
					q->a = NULL;
				}
				if (q->b && !b) {
					b = q->b;
					q->b = NULL;
				}
			}
			for (int k = i + 1; k < j; k++)
				x->pend[idx[k]].kind = 0;
			ss_check_row_free(x->ncols, first->a);
			ss_check_row_free(x->ncols, first->b);
			first->a = a;
			first->b = b;
			first->kind = a && b ? (rows_differ(x, a, b) ? 'D' : 0) : a ? 'M' : 'E';
		}
		i = j;
	}
	free(idx);
	for (int i = 0; i < x->npend; i++) {
		struct pend *p = &x->pend[i];
		if (p->kind) {
			struct ss_check_diff *d;
			const struct row *any = p->a ? p->a : p->b;
			r->diffs =
				ss_xrealloc(r->diffs, sizeof *r->diffs * (size_t)(r->ndiffs + 1));
			d = &r->diffs[r->ndiffs++];
			memset(d, 0, sizeof *d);
			d->kind = p->kind;
			d->key = ss_xcalloc((size_t)x->nkey, sizeof *d->key);
			for (int k = 0; k < x->nkey; k++)
				d->key[k] = any->disp[x->key[k]] ?
						    ss_xstrdup(any->disp[x->key[k]]) :
						    NULL;
			d->cols = ss_xcalloc((size_t)x->ncols, sizeof *d->cols);
			d->src = ss_xcalloc((size_t)x->ncols, sizeof *d->src);
			d->tgt = ss_xcalloc((size_t)x->ncols, sizeof *d->tgt);
			for (int c = 0; c < x->ncols; c++) {
				if (p->kind == 'D' && p->a->clen[c] == p->b->clen[c] &&
				    memcmp(p->a->canon[c], p->b->canon[c], p->a->clen[c]) == 0)
					continue;
				d->cols[d->ncols] = c;
				if (p->a && p->a->disp[c])
					d->src[d->ncols] = ss_xstrdup(p->a->disp[c]);
				if (p->b && p->b->disp[c])
					d->tgt[d->ncols] = ss_xstrdup(p->b->disp[c]);
				d->ncols++;
			}
			if (p->kind == 'M')
				r->missing++;
			else if (p->kind == 'E')
				r->extra++;
			else
				r->different++;
		}
		ss_check_row_free(x->ncols, p->a);
		ss_check_row_free(x->ncols, p->b);
	}
	free(x->pend);
	x->pend = NULL;
	x->npend = x->cappend = 0;
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
static void wait_catch_up(struct pair *x, const struct ss_config *cfg, const struct ss_jobconf *job,
			  int64_t since, uint64_t hwm)
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
		if (x->t.c->d->position_get(x->t.c, job->name, x->res->target, &pos, &err) < 0)
			return; /* no applier state on this target */
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

/* Fetch the rows found differing once more, by key, and keep only those
 * that still differ. */
static int confirm(struct pair *x, struct ss_err *err)
{
	struct pend *old = x->pend;
	int nold = x->npend, rc = 0;
	keyv *keys = ss_xcalloc((size_t)nold + 1, sizeof *keys);

	x->pend = NULL;
	x->npend = x->cappend = 0;
	for (int i = 0; i < nold; i++)
		keys[i] = (old[i].a ? old[i].a : old[i].b)->kraw;
	for (int i = 0; i < nold && rc == 0; i += FETCH_BATCH)
		rc = diff_rows(x, NULL, NULL, keys + i,
			       nold - i < FETCH_BATCH ? nold - i : FETCH_BATCH, err);
	for (int i = 0; i < nold; i++) {
		ss_check_row_free(x->ncols, old[i].a);
		ss_check_row_free(x->ncols, old[i].b);
	}
	free(old);
	free(keys);
	return rc;
}

/* ---- setting up a pair ------------------------------------------------------------------ */

static int is_excluded(const struct ss_table_settings *s, const char *col)
{
	for (int i = 0; i < s->nexclude; i++)
		if (strcmp(s->exclude_columns[i], col) == 0)
			return 1;
	return 0;
}

static int find_col(const struct ss_tableinfo *t, const char *name)
{
	int i = ss_tableinfo_col(t, name);

	if (i >= 0)
		return i;
	for (i = 0; i < t->ncols; i++) /* MariaDB and SQLite names are case-insensitive */
		if (strcasecmp(t->cols[i].name, name) == 0)
			return i;
	return -1;
}

/* Columns compared: the source's, less excluded ones, that the target has. */
static int pair_columns(struct pair *x, const struct ss_jobconf *job, struct ss_err *err)
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
		int j = find_col(tt, c->name);
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
		x->s.ops->describe(side_col(&x->s, i), &a);
		x->t.ops->describe(side_col(&x->t, i), &b);
		ss_canon_pick(&a, &b, &x->spec[i]);
	}
	return 0;
}

struct chunk {
	keyv lo, hi;
	uint64_t ns, nt; /* rows on each side when first hashed */
};

static void progress(const struct pair *x, int done)
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

static int check_pair(struct pair *x, const struct ss_config *cfg, const struct ss_jobconf *job,
		      struct ss_err *err)
{
	struct ss_check_result *r = x->res;
	struct chunk *bad = NULL;
	int nbad = 0, rc = -1;
	int64_t n = x->o->chunk_rows > 0 ? x->o->chunk_rows : CHUNK_MIN;
	int64_t first_bad = 0;
	keyv lo = NULL;
	uint64_t hwm = 0;

	/* pass 1: every chunk */
	for (;;) {
		struct keys_state ks = {0};
		keyv hi = NULL;
		struct ss_canon_sum ssum, tsum;
		int64_t t0 = ss_mono_us();

		if (ss_check_side_keys(x, &x->s, lo, NULL, 1, (int)(n - 1), &ks, err) < 0) {
			ss_check_keyv_free(x->nkey, lo);
			goto done;
		}
		if (ks.n > 0)
			hi = ks.v[0];
		free(ks.v);
		if (hash_both(x, lo, hi, NULL, 0, &ssum, &tsum, err) < 0) {
			ss_check_keyv_free(x->nkey, lo);
			ss_check_keyv_free(x->nkey, hi);
			goto done;
		}
		r->chunks++;
		r->src_rows += ssum.count;
		r->tgt_rows += tsum.count;
		if (!sums_equal(&ssum, &tsum)) {
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
		if (bisect(x, bad[i].lo, bad[i].hi, bad[i].ns, bad[i].nt, 0, err) < 0)
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
		if (confirm(x, err) < 0)
			goto done;
	}
	rc = 0;
done:
	for (int i = 0; i < nbad; i++) {
		ss_check_keyv_free(x->nkey, bad[i].lo);
		ss_check_keyv_free(x->nkey, bad[i].hi);
	}
	free(bad);
	finish_diffs(x);
	/* chunk counts can count a target row twice (overlapping ranges) */
	r->tgt_rows = r->src_rows - r->missing + r->extra;
	return rc;
}

int ss_check_table(const struct ss_check_opts *o, const struct ss_config *cfg,
		   const struct ss_jobconf *job, struct ss_conn *src, const struct ss_tableinfo *st,
		   struct ss_conn *const *tgts, int ntgt, struct ss_check_result *res)
{
	int rc = 0;

	for (int i = 0; i < ntgt; i++) {
		struct ss_check_result *r = &res[i];
		struct ss_tableinfo tt;
		struct pair x;
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
		if (ss_applier_find_target(tgts[i], job, st->schema, st->name, &tt, &err) < 0)
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
