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
 *     mark, then hash those chunks again; only what still differs counts.
 *  3. Bisect each differing chunk: cut it into 16 key ranges (from the
 *     side holding more rows), hash them in one grouped query per side,
 *     recurse into the ranges that differ; at a few hundred rows (or when
 *     most ranges differ) fetch both sides' rows and diff them by key and
 *     column.  Rows found missing in one range and extra in another (the
 *     engines order keys differently) are paired up at the end.
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
#include "check.h"
#include "check_ops.h"
#include "daemon.h"
#include "journal.h"
#include "log.h"

#define LEAF_ROWS 256      /* a range this small is compared row by row at once */
#define STREAM_ROWS 200000 /* up to this, a range is compared by streamed row hashes */
#define SPLIT_ROWS 50000   /* a bigger range is cut into pieces of about this many rows */
#define MAX_DEPTH 24
#define FETCH_BATCH 200 /* keys per statement when fetching rows by key */
#define CHUNK_MIN 10000
#define CHUNK_MAX 100000
#define CHUNK_SECONDS 0.5 /* aim per chunk when adaptive */

/* One side of the comparison: a connection and the SQL pieces for its table. */
struct side {
	const char *db;
	struct ss_conn *c;
	const struct ss_check_ops *ops;
	const struct ss_tableinfo *ti;
	int *col;                /* compared column -> index into ti->cols */
	int sql_hash;            /* hashes inside the database */
	struct ss_buf from;      /* " FROM schema.table" */
	struct ss_buf row_expr;  /* SQL hashing: the canonical row text */
	struct ss_buf values;    /* value expressions of every compared column */
	struct ss_buf canons;    /* canonical expressions (SQL hashing) */
	struct ss_buf keycanons; /* canonical expressions of the key columns (SQL hashing) */
	struct ss_buf hash;      /* the row's 60-bit hash (SQL hashing) */
	struct ss_buf keyvals;   /* value expressions of the key columns */
	struct ss_buf order;     /* " ORDER BY k1, k2" */
};

struct row {
	char *key; /* canonical text of the key columns */
	size_t keylen;
	int seq;     /* position in the side's key-ordered fetch */
	char **kraw; /* the key columns as value_expr gave them (parameters) */
	int nkey;
	char **canon;
	size_t *clen;
	char **disp;
};

struct pend {
	char kind; /* M, E, D */
	struct row *a, *b;
};

struct pair {
	const struct ss_check_opts *o;
	int ncols;
	struct ss_canon_col *spec;
	int nkey;
	int *key; /* compared-column indexes in key order */
	struct side s, t;
	struct ss_check_result *res;
	struct pend *pend;
	int npend, cappend;
};

typedef char **keyv; /* nkey values as value_expr gave them; NULL = unbounded */

/* ---- small helpers --------------------------------------------------------- */

struct params {
	const char **v;
	size_t *len;
	int n, cap;
};

static void param_add(struct params *p, const char *v)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->v = ss_xrealloc(p->v, sizeof *p->v * (size_t)p->cap);
		p->len = ss_xrealloc(p->len, sizeof *p->len * (size_t)p->cap);
	}
	p->v[p->n] = v;
	p->len[p->n++] = v ? strlen(v) : 0;
}

static void params_free(struct params *p)
{
	free(p->v);
	free(p->len);
	memset(p, 0, sizeof *p);
}

static keyv keyv_dup(int n, const char *const *v)
{
	if (!v)
		return NULL;
	keyv k = ss_xcalloc((size_t)n, sizeof *k);
	for (int i = 0; i < n; i++)
		k[i] = v[i] ? ss_xstrdup(v[i]) : NULL;
	return k;
}

static void keyv_free(int n, keyv k)
{
	if (!k)
		return;
	for (int i = 0; i < n; i++)
		free(k[i]);
	free(k);
}

static void row_free(int ncols, struct row *r)
{
	if (!r)
		return;
	for (int i = 0; i < ncols; i++) {
		free(r->canon[i]);
		free(r->disp[i]);
	}
	for (int k = 0; k < r->nkey; k++)
		free(r->kraw[k]);
	free(r->kraw);
	free(r->canon);
	free(r->clen);
	free(r->disp);
	free(r->key);
	free(r);
}

static const struct ss_colinfo *side_col(const struct side *sd, int i)
{
	return &sd->ti->cols[sd->col[i]];
}

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

/* ---- SQL pieces ------------------------------------------------------------- */

/* (k1..kn) > v  (lower bound, exclusive) or (k1..kn) <= v (upper bound). */
static void key_cmp(const struct pair *x, const struct side *sd, char **v, int upper,
		    struct ss_buf *sql, struct params *p)
{
	const struct ss_dialect *d = sd->c->d;

	ss_buf_addc(sql, '(');
	if (x->nkey > 1) { /* a plain range on the first column for the index */
		const struct ss_colinfo *c0 = side_col(sd, x->key[0]);
		d->quote_ident(sql, c0->name);
		ss_buf_adds(sql, upper ? " <= " : " >= ");
		sd->ops->param(c0, p->n + 1, sql);
		param_add(p, v[0]);
		ss_buf_adds(sql, " AND ");
	}
	for (int k = 0; k < x->nkey; k++) {
		const struct ss_colinfo *c = side_col(sd, x->key[k]);
		int last = k == x->nkey - 1;
		if (k) {
			const struct ss_colinfo *pc = side_col(sd, x->key[k - 1]);
			ss_buf_adds(sql, " OR (");
			d->quote_ident(sql, pc->name);
			ss_buf_adds(sql, " = ");
			sd->ops->param(pc, p->n + 1, sql);
			param_add(p, v[k - 1]);
			ss_buf_adds(sql, " AND ");
		}
		if (!last)
			ss_buf_addc(sql, '(');
		d->quote_ident(sql, c->name);
		ss_buf_adds(sql, upper ? (last ? " <= " : " < ") : " > ");
		sd->ops->param(c, p->n + 1, sql);
		param_add(p, v[k]);
	}
	for (int k = 0; k < x->nkey - 1; k++)
		ss_buf_adds(sql, "))");
	ss_buf_addc(sql, ')');
}

static void range_where(const struct pair *x, const struct side *sd, keyv lo, keyv hi,
			struct ss_buf *sql, struct params *p)
{
	if (lo) {
		ss_buf_adds(sql, " WHERE ");
		key_cmp(x, sd, lo, 0, sql, p);
	}
	if (hi) {
		ss_buf_adds(sql, lo ? " AND " : " WHERE ");
		key_cmp(x, sd, hi, 1, sql, p);
	}
}

/* The bucket (0..nb) of a row's key, bucket i being (b[i-1], b[i]]: a
 * binary search, so about log2(nb) comparisons per row. */
static void bucket_tree(const struct pair *x, const struct side *sd, keyv *b, int lo, int hi,
			struct ss_buf *sql, struct params *p)
{
	if (lo == hi) {
		ss_buf_addf(sql, "%d", lo);
		return;
	}
	int mid = lo + (hi - lo) / 2;
	ss_buf_adds(sql, "CASE WHEN ");
	key_cmp(x, sd, b[mid], 1, sql, p);
	ss_buf_adds(sql, " THEN ");
	bucket_tree(x, sd, b, lo, mid, sql, p);
	ss_buf_adds(sql, " ELSE ");
	bucket_tree(x, sd, b, mid + 1, hi, sql, p);
	ss_buf_adds(sql, " END");
}

static void bucket_expr(const struct pair *x, const struct side *sd, keyv *b, int nb,
			struct ss_buf *sql, struct params *p)
{
	bucket_tree(x, sd, b, 0, nb, sql, p);
}

static int run_query(struct side *sd, const char *sql, struct params *p, ss_row_cb cb, void *arg,
		     struct ss_err *err)
{
	int r = sd->c->d->query(sd->c, sql, p->n, p->v, p->len, cb, arg, err);

	if (r < 0 && err && !strstr(err->msg, "database "))
		ss_err_prefix(err, "database %s", sd->db);
	return r;
}

/* ---- values ------------------------------------------------------------------ */

/* A float a dialect sent exactly as a C99 hex float (SQLite) becomes its
 * shortest decimal, the journal form. */
static void unhex_float(uint8_t vtype, const char **v, size_t *len, char *buf, size_t n)
{
	const char *s = *v;

	if (!s || (vtype != SS_V_FLOAT && vtype != SS_V_NUMERIC) || *len < 3 || *len >= n)
		return;
	if (*s == '-' || *s == '+')
		s++;
	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return;
	memcpy(buf, *v, *len);
	buf[*len] = '\0';
	ss_canon_shortest(strtod(buf, NULL), buf, n);
	*v = buf;
	*len = strlen(buf);
}

/* Display text of a value_expr result. */
static char *display(uint8_t vtype, const char *v, size_t len)
{
	struct ss_buf b;
	struct ss_err err;
	char fl[64];

	if (!v)
		return NULL;
	unhex_float(vtype, &v, &len, fl, sizeof fl);
	ss_buf_init(&b);
	if (vtype == SS_V_BINARY) {
		ss_buf_adds(&b, "\\x");
		for (size_t i = 0; i < len; i++)
			ss_buf_addc(&b, (char)(v[i] >= 'A' && v[i] <= 'F' ? v[i] + 32 : v[i]));
	} else if (ss_value_normalize(vtype, v, len, &b, &err) < 0) {
		ss_buf_reset(&b);
		ss_buf_add(&b, v, len);
	}
	if (!b.data)
		return ss_xstrdup("");
	return ss_buf_steal(&b);
}

/* Canonical text of a value_expr result, computed here. */
static int canon_client(const struct ss_canon_col *spec, const struct ss_colinfo *col,
			const char *v, size_t len, struct ss_buf *norm, struct ss_buf *out,
			struct ss_err *err)
{
	char fl[64];

	if (!v) {
		ss_buf_addc(out, 'N');
		return 0;
	}
	unhex_float(col->vtype, &v, &len, fl, sizeof fl);
	ss_buf_reset(norm);
	if (ss_value_normalize(col->vtype, v, len, norm, err) < 0 ||
	    ss_canon_value(spec, col->vtype, norm->data ? norm->data : "", norm->len, out, err) <
		    0) {
		ss_err_prefix(err, "column %s", col->name);
		return -1;
	}
	return 0;
}

/* ---- hashing a range ----------------------------------------------------------- */

struct hash_state {
	struct pair *x;
	struct side *sd;
	int bucketed, nb;
	struct ss_canon_sum *sums;
	struct ss_buf norm, rowtxt;
};

static int hash_row_sql(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct hash_state *h = arg;
	int b = 0;
	uint64_t lo, hi;

	(void)l;
	if (h->bucketed) {
		b = v[0] ? atoi(v[0]) : 0;
		if (b < 0 || b > h->nb)
			b = h->nb;
		v++;
		n--;
	}
	if (n < 2 || !v[0] || ss_canon_sum_parse(v[1] ? v[1] : "0", &lo, &hi) < 0) {
		ss_err_set(err, "database %s: unexpected chunk checksum \"%s\"", h->sd->db,
			   n >= 2 && v[1] ? v[1] : "(null)");
		return -1;
	}
	h->sums[b].count = strtoull(v[0], NULL, 10);
	h->sums[b].lo = lo;
	h->sums[b].hi = hi;
	return 0;
}

static int hash_row_client(void *arg, int n, const char *const *v, const size_t *l,
			   struct ss_err *err)
{
	struct hash_state *h = arg;
	int b = 0;

	if (h->bucketed) {
		b = v[0] ? atoi(v[0]) : 0;
		if (b < 0 || b > h->nb)
			b = h->nb;
		v++;
		l++;
		n--;
	}
	if (n < h->x->ncols)
		return 0;
	ss_buf_reset(&h->rowtxt);
	for (int i = 0; i < h->x->ncols; i++)
		if (canon_client(&h->x->spec[i], side_col(h->sd, i), v[i], l[i], &h->norm,
				 &h->rowtxt, err) < 0)
			return -1;
	ss_canon_sum_add(&h->sums[b], ss_canon_hash(h->rowtxt.data, h->rowtxt.len));
	return 0;
}

/* Count and hash sum of the rows in (lo, hi], split into nb + 1 buckets at
 * bounds when nb > 0. */
static int side_hash(struct pair *x, struct side *sd, keyv lo, keyv hi, keyv *bounds, int nb,
		     struct ss_canon_sum *sums, struct ss_err *err)
{
	struct ss_buf sql;
	struct params p = {0};
	struct hash_state h = {x, sd, nb > 0, nb, sums, {0}, {0}};
	int r;

	memset(sums, 0, sizeof *sums * (size_t)(nb + 1));
	ss_buf_init(&sql);
	ss_buf_init(&h.norm);
	ss_buf_init(&h.rowtxt);
	ss_buf_adds(&sql, "SELECT ");
	if (nb > 0) {
		bucket_expr(x, sd, bounds, nb, &sql, &p);
		ss_buf_adds(&sql, ", ");
	}
	if (sd->sql_hash)
		ss_buf_addf(&sql, "count(*), coalesce(sum(%s), 0)", sd->hash.data);
	else
		ss_buf_adds(&sql, sd->values.data);
	ss_buf_adds(&sql, sd->from.data);
	range_where(x, sd, lo, hi, &sql, &p);
	if (nb > 0 && sd->sql_hash)
		ss_buf_adds(&sql, " GROUP BY 1");
	r = run_query(sd, sql.data, &p, sd->sql_hash ? hash_row_sql : hash_row_client, &h, err);
	ss_buf_free(&sql);
	ss_buf_free(&h.norm);
	ss_buf_free(&h.rowtxt);
	params_free(&p);
	return r;
}

/* ---- keys and rows of a range ---------------------------------------------------- */

struct keys_state {
	int nkey;
	keyv *v;
	int n, cap;
};

static int keys_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct keys_state *k = arg;

	(void)l;
	(void)err;
	if (n < k->nkey)
		return 0;
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 1024;
		k->v = ss_xrealloc(k->v, sizeof *k->v * (size_t)k->cap);
	}
	k->v[k->n++] = keyv_dup(k->nkey, v);
	return 0;
}

static int side_keys(struct pair *x, struct side *sd, keyv lo, keyv hi, int limit, int offset,
		     struct keys_state *out, struct ss_err *err)
{
	struct ss_buf sql;
	struct params p = {0};
	int r;

	out->nkey = x->nkey;
	ss_buf_init(&sql);
	ss_buf_addf(&sql, "SELECT %s%s", sd->keyvals.data, sd->from.data);
	range_where(x, sd, lo, hi, &sql, &p);
	ss_buf_adds(&sql, sd->order.data);
	if (limit > 0)
		ss_buf_addf(&sql, " LIMIT %d OFFSET %d", limit, offset);
	r = run_query(sd, sql.data, &p, keys_row, out, err);
	ss_buf_free(&sql);
	params_free(&p);
	return r;
}

struct rows_state {
	struct pair *x;
	struct side *sd;
	struct row **v;
	int n, cap;
	struct ss_buf norm, tmp;
};

static int rows_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct rows_state *s = arg;
	struct pair *x = s->x;
	int nc = x->ncols;
	struct row *r;

	if (n < (s->sd->sql_hash ? 2 * nc : nc))
		return 0;
	r = ss_xcalloc(1, sizeof *r);
	r->canon = ss_xcalloc((size_t)nc, sizeof *r->canon);
	r->clen = ss_xcalloc((size_t)nc, sizeof *r->clen);
	r->disp = ss_xcalloc((size_t)nc, sizeof *r->disp);
	for (int i = 0; i < nc; i++) {
		const struct ss_colinfo *c = side_col(s->sd, i);
		r->disp[i] = display(c->vtype, v[i], l[i]);
		if (s->sd->sql_hash) {
			r->canon[i] =
				ss_xstrndup(v[nc + i] ? v[nc + i] : "N", v[nc + i] ? l[nc + i] : 1);
			r->clen[i] = v[nc + i] ? l[nc + i] : 1;
		} else {
			ss_buf_reset(&s->tmp);
			if (canon_client(&x->spec[i], c, v[i], l[i], &s->norm, &s->tmp, err) < 0) {
				row_free(nc, r);
				return -1;
			}
			r->clen[i] = s->tmp.len;
			r->canon[i] = ss_xstrndup(s->tmp.data ? s->tmp.data : "", s->tmp.len);
		}
	}
	ss_buf_reset(&s->tmp);
	for (int k = 0; k < x->nkey; k++)
		ss_buf_add(&s->tmp, r->canon[x->key[k]], r->clen[x->key[k]]);
	r->keylen = s->tmp.len;
	r->key = ss_xstrndup(s->tmp.data ? s->tmp.data : "", s->tmp.len);
	r->seq = s->n;
	r->nkey = x->nkey;
	r->kraw = ss_xcalloc((size_t)x->nkey, sizeof *r->kraw);
	for (int k = 0; k < x->nkey; k++)
		r->kraw[k] = v[x->key[k]] ? ss_xstrndup(v[x->key[k]], l[x->key[k]]) : NULL;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->v = ss_xrealloc(s->v, sizeof *s->v * (size_t)s->cap);
	}
	s->v[s->n++] = r;
	return 0;
}

/* WHERE (k1 = ? AND k2 = ?) OR ... for n keys. */
static void keys_where(const struct pair *x, const struct side *sd, keyv *keys, int n,
		       struct ss_buf *sql, struct params *p)
{
	ss_buf_adds(sql, " WHERE ");
	for (int i = 0; i < n; i++) {
		ss_buf_adds(sql, i ? " OR (" : "(");
		for (int k = 0; k < x->nkey; k++) {
			const struct ss_colinfo *c = side_col(sd, x->key[k]);
			if (k)
				ss_buf_adds(sql, " AND ");
			sd->c->d->quote_ident(sql, c->name);
			ss_buf_adds(sql, " = ");
			sd->ops->param(c, p->n + 1, sql);
			param_add(p, keys[i][k]);
		}
		ss_buf_addc(sql, ')');
	}
}

/* The rows in (lo, hi], or with one of keys[0..nkeys) when keys is set. */
static int side_rows(struct pair *x, struct side *sd, keyv lo, keyv hi, keyv *keys, int nkeys,
		     struct rows_state *out, struct ss_err *err)
{
	struct ss_buf sql;
	struct params p = {0};
	int r;

	out->x = x;
	out->sd = sd;
	ss_buf_init(&out->norm);
	ss_buf_init(&out->tmp);
	ss_buf_init(&sql);
	ss_buf_addf(&sql, "SELECT %s", sd->values.data);
	if (sd->sql_hash)
		ss_buf_addf(&sql, ", %s", sd->canons.data);
	ss_buf_adds(&sql, sd->from.data);
	if (keys)
		keys_where(x, sd, keys, nkeys, &sql, &p);
	else
		range_where(x, sd, lo, hi, &sql, &p);
	ss_buf_adds(&sql, sd->order.data);
	r = run_query(sd, sql.data, &p, rows_row, out, err);
	ss_buf_free(&sql);
	ss_buf_free(&out->norm);
	ss_buf_free(&out->tmp);
	params_free(&p);
	return r;
}

/* ---- key and row hash of every row of a range ----------------------------------- */

struct khash {
	char *key; /* canonical text of the key columns */
	size_t keylen;
	uint64_t h;
	char **kraw; /* the key columns as value_expr gave them */
};

struct khash_state {
	struct pair *x;
	struct side *sd;
	struct khash *v;
	int n, cap;
	struct ss_buf norm, row, key;
};

static int khash_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct khash_state *s = arg;
	struct pair *x = s->x;
	struct khash *k;

	if (n < (s->sd->sql_hash ? 2 * x->nkey + 1 : x->ncols))
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = ss_xrealloc(s->v, sizeof *s->v * (size_t)s->cap);
	}
	k = &s->v[s->n];
	ss_buf_reset(&s->key);
	if (s->sd->sql_hash) { /* key values, key canonical texts, hash */
		for (int i = 0; i < x->nkey; i++)
			ss_buf_add(&s->key, v[x->nkey + i] ? v[x->nkey + i] : "N",
				   v[x->nkey + i] ? l[x->nkey + i] : 1);
		k->h = v[2 * x->nkey] ? strtoull(v[2 * x->nkey], NULL, 10) : 0;
		k->kraw = keyv_dup(x->nkey, v);
	} else { /* every value: canonical text and hash computed here */
		ss_buf_reset(&s->row);
		for (int i = 0; i < x->ncols; i++) {
			size_t at = s->row.len;
			if (canon_client(&x->spec[i], side_col(s->sd, i), v[i], l[i], &s->norm,
					 &s->row, err) < 0)
				return -1;
			for (int j = 0; j < x->nkey; j++)
				if (x->key[j] == i)
					ss_buf_add(&s->key, s->row.data + at, s->row.len - at);
		}
		k->h = ss_canon_hash(s->row.data, s->row.len);
		k->kraw = ss_xcalloc((size_t)x->nkey, sizeof *k->kraw);
		for (int j = 0; j < x->nkey; j++)
			k->kraw[j] = v[x->key[j]] ? ss_xstrndup(v[x->key[j]], l[x->key[j]]) : NULL;
	}
	k->keylen = s->key.len;
	k->key = ss_xstrndup(s->key.data ? s->key.data : "", s->key.len);
	s->n++;
	return 0;
}

static int side_khash(struct pair *x, struct side *sd, keyv lo, keyv hi, struct khash_state *out,
		      struct ss_err *err)
{
	struct ss_buf sql;
	struct params p = {0};
	int r;

	out->x = x;
	out->sd = sd;
	ss_buf_init(&out->norm);
	ss_buf_init(&out->row);
	ss_buf_init(&out->key);
	ss_buf_init(&sql);
	if (sd->sql_hash)
		ss_buf_addf(&sql, "SELECT %s, %s, %s", sd->keyvals.data, sd->keycanons.data,
			    sd->hash.data);
	else
		ss_buf_addf(&sql, "SELECT %s", sd->values.data);
	ss_buf_adds(&sql, sd->from.data);
	range_where(x, sd, lo, hi, &sql, &p);
	r = run_query(sd, sql.data, &p, khash_row, out, err);
	ss_buf_free(&sql);
	ss_buf_free(&out->norm);
	ss_buf_free(&out->row);
	ss_buf_free(&out->key);
	params_free(&p);
	return r;
}

static int khash_cmp(const void *pa, const void *pb)
{
	const struct khash *a = pa, *b = pb;
	size_t n = a->keylen < b->keylen ? a->keylen : b->keylen;
	int c = memcmp(a->key, b->key, n);

	if (c)
		return c;
	return a->keylen < b->keylen ? -1 : a->keylen > b->keylen;
}

static void khash_free(int nkey, struct khash_state *s)
{
	for (int i = 0; i < s->n; i++) {
		free(s->v[i].key);
		keyv_free(nkey, s->v[i].kraw);
	}
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
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
		w->rc = side_hash(w->x, w->sd, w->lo, w->hi, w->bounds, w->nb, w->sums, &w->err);
	else if (w->op == W_KHASH)
		w->rc = side_khash(w->x, w->sd, w->lo, w->hi, &w->khash, &w->err);
	else
		w->rc = side_rows(w->x, w->sd, w->lo, w->hi, w->bounds, w->nb, &w->rows, &w->err);
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
		row_free(x->ncols, a->v[i]);
	for (int i = 0; i < b->n; i++)
		row_free(x->ncols, b->v[i]);
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
		qsort(a->v, (size_t)a->n, sizeof *a->v, khash_cmp);
		qsort(b->v, (size_t)b->n, sizeof *b->v, khash_cmp);
		keys = ss_xcalloc((size_t)(a->n + b->n) + 1, sizeof *keys);
		for (int i = 0, j = 0; i < a->n || j < b->n;) {
			int c = i >= a->n ? 1 : j >= b->n ? -1 : khash_cmp(&a->v[i], &b->v[j]);
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
	khash_free(x->nkey, a);
	khash_free(x->nkey, b);
	return rc;
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
	if (most <= STREAM_ROWS)
		return stream_compare(x, lo, hi, err);
	if (side_keys(x, nt > ns ? &x->t : &x->s, lo, hi, 0, 0, &ks, err) < 0)
		goto done;
	int want = (ks.n + SPLIT_ROWS - 1) / SPLIT_ROWS;
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
		keyv_free(x->nkey, ks.v[i]);
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
			row_free(x->ncols, first->a);
			row_free(x->ncols, first->b);
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
		row_free(x->ncols, p->a);
		row_free(x->ncols, p->b);
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
		ss_daemon_journal_dir(cfg, job->name, dir, sizeof dir);
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
		row_free(x->ncols, old[i].a);
		row_free(x->ncols, old[i].b);
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

/* SS_CHECK_CLIENT_HASH=source|target|both makes that side hash on the
 * client even where its database could: tests use it to hold canon.c to
 * the dialects' SQL. */
static int forced_client(const struct pair *x, const struct side *sd)
{
	const char *e = getenv("SS_CHECK_CLIENT_HASH");

	if (!e)
		return 0;
	return strcmp(e, "both") == 0 || strcmp(e, sd == &x->s ? "source" : "target") == 0;
}

static void side_build(struct pair *x, struct side *sd)
{
	const struct ss_dialect *d = sd->c->d;
	char **canon = ss_xcalloc((size_t)x->ncols, sizeof *canon);
	int ok = sd->ops->row_hash != NULL && !forced_client(x, sd);

	ss_buf_init(&sd->from);
	ss_buf_init(&sd->row_expr);
	ss_buf_init(&sd->values);
	ss_buf_init(&sd->canons);
	ss_buf_init(&sd->keycanons);
	ss_buf_init(&sd->hash);
	ss_buf_init(&sd->keyvals);
	ss_buf_init(&sd->order);
	ss_buf_adds(&sd->from, " FROM ");
	ss_tableinfo_qname(d, sd->ti->schema, sd->ti->name, &sd->from);
	for (int i = 0; i < x->ncols; i++) {
		struct ss_buf b;
		ss_buf_init(&b);
		if (i)
			ss_buf_adds(&sd->values, ", ");
		/* aliased: ORDER BY "col" must name the table's column, not an
		 * output column called after it */
		sd->ops->value_expr(side_col(sd, i), &sd->values);
		ss_buf_addf(&sd->values, " AS ss_v%d", i);
		if (ok && sd->ops->canon_expr(side_col(sd, i), &x->spec[i], &b) < 0) {
			ok = 0;
			ss_check_result_note(x->res,
					     "%s: column %s is hashed by shadowsync, not in SQL "
					     "(no SQL form for its canonical text)",
					     sd->db, side_col(sd, i)->name);
		}
		canon[i] = b.data ? ss_buf_steal(&b) : ss_xstrdup("''");
		ss_buf_free(&b);
	}
	if (!sd->ops->row_hash)
		ss_check_result_note(x->res,
				     "%s: rows are hashed by shadowsync (the database has no MD5)",
				     sd->db);
	else if (forced_client(x, sd))
		ss_check_result_note(
			x->res, "%s: rows are hashed by shadowsync (SS_CHECK_CLIENT_HASH)", sd->db);
	sd->sql_hash = ok;
	if (ok) {
		sd->ops->concat((const char *const *)canon, x->ncols, &sd->row_expr);
		ss_log_debug(x->res->table, "%s: canonical row: %s", sd->db, sd->row_expr.data);
		for (int i = 0; i < x->ncols; i++) {
			if (i)
				ss_buf_adds(&sd->canons, ", ");
			ss_buf_adds(&sd->canons, canon[i]);
			ss_buf_addf(&sd->canons, " AS ss_c%d", i);
		}
		for (int k = 0; k < x->nkey; k++) {
			if (k)
				ss_buf_adds(&sd->keycanons, ", ");
			ss_buf_adds(&sd->keycanons, canon[x->key[k]]);
			ss_buf_addf(&sd->keycanons, " AS ss_kc%d", k);
		}
		sd->ops->row_hash(sd->row_expr.data, &sd->hash);
	}
	for (int i = 0; i < x->ncols; i++)
		free(canon[i]);
	free(canon);
	ss_buf_adds(&sd->order, " ORDER BY ");
	for (int k = 0; k < x->nkey; k++) {
		if (k) {
			ss_buf_adds(&sd->keyvals, ", ");
			ss_buf_adds(&sd->order, ", ");
		}
		sd->ops->value_expr(side_col(sd, x->key[k]), &sd->keyvals);
		ss_buf_addf(&sd->keyvals, " AS ss_k%d", k);
		d->quote_ident(&sd->order, side_col(sd, x->key[k])->name);
	}
}

static void side_free(struct side *sd)
{
	free(sd->col);
	ss_buf_free(&sd->from);
	ss_buf_free(&sd->row_expr);
	ss_buf_free(&sd->values);
	ss_buf_free(&sd->canons);
	ss_buf_free(&sd->keycanons);
	ss_buf_free(&sd->hash);
	ss_buf_free(&sd->keyvals);
	ss_buf_free(&sd->order);
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

		if (side_keys(x, &x->s, lo, NULL, 1, (int)(n - 1), &ks, err) < 0) {
			keyv_free(x->nkey, lo);
			goto done;
		}
		if (ks.n > 0)
			hi = ks.v[0];
		free(ks.v);
		if (hash_both(x, lo, hi, NULL, 0, &ssum, &tsum, err) < 0) {
			keyv_free(x->nkey, lo);
			keyv_free(x->nkey, hi);
			goto done;
		}
		r->chunks++;
		r->src_rows += ssum.count;
		r->tgt_rows += tsum.count;
		if (!sums_equal(&ssum, &tsum)) {
			if (!nbad)
				first_bad = ss_mono_us();
			bad = ss_xrealloc(bad, sizeof *bad * (size_t)(nbad + 1));
			bad[nbad].lo = keyv_dup(x->nkey, (const char *const *)lo);
			bad[nbad].hi = keyv_dup(x->nkey, (const char *const *)hi);
			bad[nbad].ns = ssum.count;
			bad[nbad].nt = tsum.count;
			nbad++;
			r->chunks_differ++;
		}
		keyv_free(x->nkey, lo);
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
		/* the first step of the bisection hashes the chunk again */
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
	/* the rows themselves, once more after the appliers caught up again:
	 * a row changed while it was compared is not drift */
	if (x->npend > 0 && x->o->min_age_us > 0) {
		int64_t seen = ss_mono_us();
		if (x->s.ops->log_hwm && x->s.ops->log_hwm(x->s.c, job->name, &hwm, err) < 0)
			goto done;
		wait_catch_up(x, cfg, job, seen, hwm);
		if (confirm(x, err) < 0)
			goto done;
	}
	rc = 0;
done:
	for (int i = 0; i < nbad; i++) {
		keyv_free(x->nkey, bad[i].lo);
		keyv_free(x->nkey, bad[i].hi);
	}
	free(bad);
	finish_diffs(x);
	return rc;
}

static const char *source_default_schema(const struct ss_jobconf *job)
{
	/* the same rule the applier uses (applier.c dst_for) */
	switch (job->source->driver) {
	case SS_DRIVER_POSTGRES: return "public";
	case SS_DRIVER_ODBC: return "main";
	default: return NULL;
	}
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
		char *schema = NULL, *name = NULL;
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
		ss_applier_target_name(job, st->schema, source_default_schema(job), st->name,
				       tgts[i]->d->default_schema(tgts[i]), &schema, &name);
		{
			struct ss_buf b;
			ss_buf_init(&b);
			ss_buf_addf(&b, "%s.%s", schema, name);
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
		if (tgts[i]->d->table_info(tgts[i], schema, name, &tt, &err) < 0)
			goto fail;
		if (pair_columns(&x, job, &err) < 0)
			goto fail;
		side_build(&x, &x.s);
		side_build(&x, &x.t);
		if (check_pair(&x, cfg, job, &err) < 0)
			goto fail;
		goto next;
fail:
		r->error = ss_xstrdup(err.msg);
		rc = -1;
next:
		r->seconds = (double)(ss_mono_us() - t0) / 1e6;
		side_free(&x.s);
		side_free(&x.t);
		free(x.spec);
		free(x.key);
		ss_tableinfo_free(&tt);
		free(schema);
		free(name);
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
