/*
 * check_diff.c -- the drift check's search for the rows that differ in a
 * chunk whose checksums differ: both sides hashed, streamed and fetched
 * at once (one thread each), ranges bisected by grouped hashes until they
 * are small enough to stream (key and row hash of every row) or to fetch
 * whole, rows compared column by column, and the verdicts collected per
 * key.  Which chunks to look at, and when, is check_table.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_int.h"
#include "log.h"

#define LEAF_ROWS 256      /* a range this small is compared row by row at once */
#define STREAM_ROWS 200000 /* up to this, a range is compared by streamed row hashes */
#define MAX_DEPTH 24
#define FETCH_BATCH 200 /* keys per statement when fetching rows by key */

/* ---- both sides at once ---------------------------------------------------------- */

enum { W_HASH, W_ROWS, W_KHASH };

struct ss_check_work {
	struct ss_check_pair *x;
	struct ss_check_side *sd;
	int op;
	ss_check_keyv lo, hi;
	ss_check_keyv *bounds; /* W_HASH: buckets; W_ROWS: keys */
	int nb;
	struct ss_canon_sum *sums;
	struct ss_check_rows rows;
	struct ss_check_khashes khash;
	int rc;
	struct ss_err err;
};

static void *work_run(void *arg)
{
	struct ss_check_work *w = arg;

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

/* The same work for the source (w[0]) and the target (w[1]). */
static void work_init(struct ss_check_work *w, struct ss_check_pair *x, int op, ss_check_keyv lo,
		      ss_check_keyv hi, ss_check_keyv *bounds, int nb)
{
	memset(w, 0, sizeof *w * 2);
	for (int i = 0; i < 2; i++) {
		w[i].x = x;
		w[i].sd = i ? &x->t : &x->s;
		w[i].op = op;
		w[i].lo = lo;
		w[i].hi = hi;
		w[i].bounds = bounds;
		w[i].nb = nb;
	}
}

/* Run the source's and the target's work in parallel. */
static int run_both(struct ss_check_work *w, struct ss_err *err)
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

int ss_check_hash_both(struct ss_check_pair *x, ss_check_keyv lo, ss_check_keyv hi,
		       ss_check_keyv *bounds, int nb, struct ss_canon_sum *ssum,
		       struct ss_canon_sum *tsum, struct ss_err *err)
{
	struct ss_check_work w[2];

	work_init(w, x, W_HASH, lo, hi, bounds, nb);
	w[0].sums = ssum;
	w[1].sums = tsum;
	return run_both(w, err);
}

int ss_check_sums_equal(const struct ss_canon_sum *a, const struct ss_canon_sum *b)
{
	return a->count == b->count && a->lo == b->lo && a->hi == b->hi;
}

/* ---- row diff ---------------------------------------------------------------------- */

static int row_cmp(const void *pa, const void *pb)
{
	const struct ss_check_row *a = *(struct ss_check_row *const *)pa,
				  *b = *(struct ss_check_row *const *)pb;
	size_t n = a->keylen < b->keylen ? a->keylen : b->keylen;
	int c = memcmp(a->key, b->key, n);

	if (c)
		return c;
	return a->keylen < b->keylen ? -1 : a->keylen > b->keylen;
}

static void pend_add(struct ss_check_pair *x, char kind, struct ss_check_row *a,
		     struct ss_check_row *b)
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

static int rows_differ(const struct ss_check_pair *x, const struct ss_check_row *a,
		       const struct ss_check_row *b)
{
	for (int i = 0; i < x->ncols; i++)
		if (a->clen[i] != b->clen[i] || memcmp(a->canon[i], b->canon[i], a->clen[i]) != 0)
			return 1;
	return 0;
}

/* Reports of one leaf in the order the databases listed the keys. */
static int pend_seq_cmp(const void *pa, const void *pb)
{
	const struct ss_check_pend *a = pa, *b = pb;
	int sa = a->a ? a->a->seq : a->b->seq, sb = b->a ? b->a->seq : b->b->seq;

	return sa < sb ? -1 : sa > sb;
}

/* Fetch (lo, hi] (or the rows with these keys) from both sides and record
 * the rows that differ. */
static int diff_rows(struct ss_check_pair *x, ss_check_keyv lo, ss_check_keyv hi,
		     ss_check_keyv *keys, int nkeys, struct ss_err *err)
{
	struct ss_check_work w[2];
	int rc, first = x->npend;

	ss_log_debug(x->res->table, "%s: rows of (%s, %s]", x->t.db, lo ? lo[0] : "-inf",
		     hi ? hi[0] : "+inf");
	work_init(w, x, W_ROWS, lo, hi, keys, nkeys);
	rc = run_both(w, err);
	struct ss_check_rows *a = &w[0].rows, *b = &w[1].rows;
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

static int leaf(struct ss_check_pair *x, ss_check_keyv lo, ss_check_keyv hi, struct ss_err *err)
{
	return diff_rows(x, lo, hi, NULL, 0, err);
}

/* Compare (lo, hi] by the key and row hash of every row, streamed from
 * both sides at once, and fetch the rows whose hashes differ (or that one
 * side lacks) by key. */
static int stream_compare(struct ss_check_pair *x, ss_check_keyv lo, ss_check_keyv hi,
			  struct ss_err *err)
{
	struct ss_check_work w[2];
	ss_check_keyv *keys = NULL;
	int nkeys = 0, rc;

	work_init(w, x, W_KHASH, lo, hi, NULL, 0);
	rc = run_both(w, err);
	struct ss_check_khashes *a = &w[0].khash, *b = &w[1].khash;
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
int ss_check_bisect(struct ss_check_pair *x, ss_check_keyv lo, ss_check_keyv hi, uint64_t ns,
		    uint64_t nt, int depth, struct ss_err *err)
{
	struct ss_check_keys ks = {0};
	ss_check_keyv *bounds = NULL;
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
	if (ss_check_hash_both(x, lo, hi, bounds, nb, ssum, tsum, err) < 0)
		goto done;
	rc = 0;
	for (int i = 0; i <= nb && rc == 0; i++)
		if (!ss_check_sums_equal(&ssum[i], &tsum[i]))
			rc = ss_check_bisect(x, i ? bounds[i - 1] : lo, i < nb ? bounds[i] : hi,
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
	const struct ss_check_pair *x = arg;
	const struct ss_check_pend *a = &x->pend[*(const int *)pa], *b = &x->pend[*(const int *)pb];
	const struct ss_check_row *ra = a->a ? a->a : a->b, *rb = b->a ? b->a : b->b;
	int c = row_cmp(&ra, &rb);

	return c ? c : (*(const int *)pa - *(const int *)pb);
}

void ss_check_finish_diffs(struct ss_check_pair *x)
{
	struct ss_check_result *r = x->res;
	int *idx = ss_xcalloc((size_t)x->npend + 1, sizeof *idx), n = x->npend;

	for (int i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, (size_t)n, sizeof *idx, pend_key_cmp, x);
	for (int i = 0; i < n;) {
		int j = i + 1;
		struct ss_check_pend *first = &x->pend[idx[i]];
		const struct ss_check_row *key = first->a ? first->a : first->b;
		while (j < n) {
			const struct ss_check_pend *q = &x->pend[idx[j]];
			const struct ss_check_row *k2 = q->a ? q->a : q->b;
			if (row_cmp(&key, &k2) != 0)
				break;
			j++;
		}
		if (j > i + 1) { /* the first report (in key-range order) gets the verdict */
			struct ss_check_row *a = NULL, *b = NULL;
			for (int k = i; k < j; k++) {
				struct ss_check_pend *q = &x->pend[idx[k]];
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
		struct ss_check_pend *p = &x->pend[i];
		if (p->kind) {
			struct ss_check_diff *d;
			const struct ss_check_row *any = p->a ? p->a : p->b;
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

/* Fetch the rows found differing once more, by key, and keep only those
 * that still differ. */
int ss_check_confirm(struct ss_check_pair *x, struct ss_err *err)
{
	struct ss_check_pend *old = x->pend;
	int nold = x->npend, rc = 0;
	ss_check_keyv *keys = ss_xcalloc((size_t)nold + 1, sizeof *keys);

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
