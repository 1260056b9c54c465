/*
 * check_sql.c -- what one side of a drift check runs: the SQL of a table
 * built from its dialect's check ops (canonical row, row hash, values,
 * key ranges as parameters, grouped buckets), hashing a key range, and
 * fetching keys, rows and row hashes, with canon.c filling in where the
 * database cannot hash.  The comparison itself is check_table.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"
#include "check_int.h"
#include "log.h"

/* ---- small helpers --------------------------------------------------------- */

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

void ss_check_params_free(struct params *p)
{
	free(p->v);
	free(p->len);
	memset(p, 0, sizeof *p);
}

keyv ss_check_keyv_dup(int n, const char *const *v)
{
	if (!v)
		return NULL;
	keyv k = ss_xcalloc((size_t)n, sizeof *k);
	for (int i = 0; i < n; i++)
		k[i] = v[i] ? ss_xstrdup(v[i]) : NULL;
	return k;
}

void ss_check_keyv_free(int n, keyv k)
{
	if (!k)
		return;
	for (int i = 0; i < n; i++)
		free(k[i]);
	free(k);
}

void ss_check_row_free(int ncols, struct row *r)
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
int ss_check_side_hash(struct pair *x, struct side *sd, keyv lo, keyv hi, keyv *bounds, int nb,
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
	ss_check_params_free(&p);
	return r;
}

/* ---- keys and rows of a range ---------------------------------------------------- */

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
	k->v[k->n++] = ss_check_keyv_dup(k->nkey, v);
	return 0;
}

int ss_check_side_keys(struct pair *x, struct side *sd, keyv lo, keyv hi, int limit, int offset,
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
	ss_check_params_free(&p);
	return r;
}

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
				ss_check_row_free(nc, r);
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
int ss_check_side_rows(struct pair *x, struct side *sd, keyv lo, keyv hi, keyv *keys, int nkeys,
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
	ss_check_params_free(&p);
	return r;
}

/* ---- key and row hash of every row of a range ----------------------------------- */

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
		k->kraw = ss_check_keyv_dup(x->nkey, v);
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

int ss_check_side_khash(struct pair *x, struct side *sd, keyv lo, keyv hi, struct khash_state *out,
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
	ss_check_params_free(&p);
	return r;
}

int ss_check_khash_cmp(const void *pa, const void *pb)
{
	const struct khash *a = pa, *b = pb;
	size_t n = a->keylen < b->keylen ? a->keylen : b->keylen;
	int c = memcmp(a->key, b->key, n);

	if (c)
		return c;
	return a->keylen < b->keylen ? -1 : a->keylen > b->keylen;
}

void ss_check_khash_free(int nkey, struct khash_state *s)
{
	for (int i = 0; i < s->n; i++) {
		free(s->v[i].key);
		ss_check_keyv_free(nkey, s->v[i].kraw);
	}
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
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

void ss_check_side_build(struct pair *x, struct side *sd)
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

void ss_check_side_free(struct side *sd)
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
