/*
 * check_side.c -- what one database of a drift check runs, and what its
 * answers mean: the statements dialects/check_sql.c builds from the
 * database's check ops are run here and read into chunk checksums, keys,
 * rows (display values and canonical texts) and per-row hashes, with
 * canon.c computing canonical texts and hashes where the database cannot.
 * Comparing the two sides is check_diff.c and check_table.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"
#include "check_int.h"
#include "log.h"

/* ---- small helpers --------------------------------------------------------- */

ss_check_keyv ss_check_keyv_dup(int n, const char *const *v)
{
	if (!v)
		return NULL;
	ss_check_keyv k = ss_xcalloc((size_t)n, sizeof *k);
	for (int i = 0; i < n; i++)
		k[i] = v[i] ? ss_xstrdup(v[i]) : NULL;
	return k;
}

void ss_check_keyv_free(int n, ss_check_keyv k)
{
	if (!k)
		return;
	for (int i = 0; i < n; i++)
		free(k[i]);
	free(k);
}

void ss_check_row_free(int ncols, struct ss_check_row *r)
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

/* Run a statement on the side's database; the error names the database. */
static int run(struct ss_check_side *sd, const struct ss_check_stmt *st, ss_row_cb cb, void *arg,
	       struct ss_err *err)
{
	int r = sd->c->d->query(sd->c, st->sql.data, st->n, st->v, st->len, cb, arg, err);

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

struct ss_check_hash {
	struct ss_check_pair *x;
	struct ss_check_side *sd;
	int bucketed, nb;
	struct ss_canon_sum *sums;
	struct ss_buf norm, rowtxt;
};

static int hash_row_sql(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct ss_check_hash *h = arg;
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
	struct ss_check_hash *h = arg;
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
		if (canon_client(&h->x->spec[i], ss_check_col(h->sd, i), v[i], l[i], &h->norm,
				 &h->rowtxt, err) < 0)
			return -1;
	ss_canon_sum_add(&h->sums[b], ss_canon_hash(h->rowtxt.data, h->rowtxt.len));
	return 0;
}

/* Count and hash sum of the rows in (lo, hi], split into nb + 1 buckets at
 * bounds when nb > 0. */
int ss_check_side_hash(struct ss_check_pair *x, struct ss_check_side *sd, ss_check_keyv lo,
		       ss_check_keyv hi, ss_check_keyv *bounds, int nb, struct ss_canon_sum *sums,
		       struct ss_err *err)
{
	struct ss_check_stmt st = {0};
	struct ss_check_hash h = {x, sd, nb > 0, nb, sums, {0}, {0}};
	int r;

	memset(sums, 0, sizeof *sums * (size_t)(nb + 1));
	ss_buf_init(&h.norm);
	ss_buf_init(&h.rowtxt);
	ss_check_sql_hash(&sd->q, lo, hi, bounds, nb, &st);
	r = run(sd, &st, sd->q.sql_hash ? hash_row_sql : hash_row_client, &h, err);
	ss_check_stmt_free(&st);
	ss_buf_free(&h.norm);
	ss_buf_free(&h.rowtxt);
	return r;
}

/* ---- keys and rows of a range ---------------------------------------------------- */

static int keys_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct ss_check_keys *k = arg;

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

int ss_check_side_keys(struct ss_check_pair *x, struct ss_check_side *sd, ss_check_keyv lo,
		       ss_check_keyv hi, int limit, int offset, struct ss_check_keys *out,
		       struct ss_err *err)
{
	struct ss_check_stmt st = {0};
	int r;

	out->nkey = x->nkey;
	ss_check_sql_keys(&sd->q, lo, hi, limit, offset, &st);
	r = run(sd, &st, keys_row, out, err);
	ss_check_stmt_free(&st);
	return r;
}

static int rows_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct ss_check_rows *s = arg;
	struct ss_check_pair *x = s->x;
	int nc = x->ncols;
	struct ss_check_row *r;

	if (n < (s->sd->q.sql_hash ? 2 * nc : nc))
		return 0;
	r = ss_xcalloc(1, sizeof *r);
	r->canon = ss_xcalloc((size_t)nc, sizeof *r->canon);
	r->clen = ss_xcalloc((size_t)nc, sizeof *r->clen);
	r->disp = ss_xcalloc((size_t)nc, sizeof *r->disp);
	for (int i = 0; i < nc; i++) {
		const struct ss_colinfo *c = ss_check_col(s->sd, i);
		r->disp[i] = display(c->vtype, v[i], l[i]);
		if (s->sd->q.sql_hash) {
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

/* The rows in (lo, hi], or with one of keys[0..nkeys) when keys is set. */
int ss_check_side_rows(struct ss_check_pair *x, struct ss_check_side *sd, ss_check_keyv lo,
		       ss_check_keyv hi, ss_check_keyv *keys, int nkeys, struct ss_check_rows *out,
		       struct ss_err *err)
{
	struct ss_check_stmt st = {0};
	int r;

	out->x = x;
	out->sd = sd;
	ss_buf_init(&out->norm);
	ss_buf_init(&out->tmp);
	ss_check_sql_rows(&sd->q, lo, hi, keys, nkeys, &st);
	r = run(sd, &st, rows_row, out, err);
	ss_check_stmt_free(&st);
	ss_buf_free(&out->norm);
	ss_buf_free(&out->tmp);
	return r;
}

/* ---- key and row hash of every row of a range ----------------------------------- */

static int khash_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct ss_check_khashes *s = arg;
	struct ss_check_pair *x = s->x;
	struct ss_check_khash *k;

	if (n < (s->sd->q.sql_hash ? 2 * x->nkey + 1 : x->ncols))
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = ss_xrealloc(s->v, sizeof *s->v * (size_t)s->cap);
	}
	k = &s->v[s->n];
	ss_buf_reset(&s->key);
	if (s->sd->q.sql_hash) { /* key values, key canonical texts, hash */
		for (int i = 0; i < x->nkey; i++)
			ss_buf_add(&s->key, v[x->nkey + i] ? v[x->nkey + i] : "N",
				   v[x->nkey + i] ? l[x->nkey + i] : 1);
		k->h = v[2 * x->nkey] ? strtoull(v[2 * x->nkey], NULL, 10) : 0;
		k->kraw = ss_check_keyv_dup(x->nkey, v);
	} else { /* every value: canonical text and hash computed here */
		ss_buf_reset(&s->row);
		for (int i = 0; i < x->ncols; i++) {
			size_t at = s->row.len;
			if (canon_client(&x->spec[i], ss_check_col(s->sd, i), v[i], l[i], &s->norm,
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

int ss_check_side_khash(struct ss_check_pair *x, struct ss_check_side *sd, ss_check_keyv lo,
			ss_check_keyv hi, struct ss_check_khashes *out, struct ss_err *err)
{
	struct ss_check_stmt st = {0};
	int r;

	out->x = x;
	out->sd = sd;
	ss_buf_init(&out->norm);
	ss_buf_init(&out->row);
	ss_buf_init(&out->key);
	ss_check_sql_khash(&sd->q, lo, hi, &st);
	r = run(sd, &st, khash_row, out, err);
	ss_check_stmt_free(&st);
	ss_buf_free(&out->norm);
	ss_buf_free(&out->row);
	ss_buf_free(&out->key);
	return r;
}

int ss_check_khash_cmp(const void *pa, const void *pb)
{
	const struct ss_check_khash *a = pa, *b = pb;
	size_t n = a->keylen < b->keylen ? a->keylen : b->keylen;
	int c = memcmp(a->key, b->key, n);

	if (c)
		return c;
	return a->keylen < b->keylen ? -1 : a->keylen > b->keylen;
}

void ss_check_khash_free(int nkey, struct ss_check_khashes *s)
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
static int forced_client(const struct ss_check_pair *x, const struct ss_check_side *sd)
{
	const char *e = getenv("SS_CHECK_CLIENT_HASH");

	if (!e)
		return 0;
	return strcmp(e, "both") == 0 || strcmp(e, sd == &x->s ? "source" : "target") == 0;
}

void ss_check_side_build(struct ss_check_pair *x, struct ss_check_side *sd)
{
	int forced = forced_client(x, sd);

	ss_check_sql_init(&sd->q, sd->c->d, sd->ti, sd->col, x->ncols, x->key, x->nkey, x->spec,
			  !forced);
	if (sd->q.no_canon_col >= 0)
		ss_check_result_note(x->res,
				     "%s: column %s is hashed by shadowsync, not in SQL "
				     "(no SQL form for its canonical text)",
				     sd->db, ss_check_col(sd, sd->q.no_canon_col)->name);
	if (!sd->ops->row_hash)
		ss_check_result_note(x->res,
				     "%s: rows are hashed by shadowsync (the database has no MD5)",
				     sd->db);
	else if (forced)
		ss_check_result_note(
			x->res, "%s: rows are hashed by shadowsync (SS_CHECK_CLIENT_HASH)", sd->db);
	if (sd->q.sql_hash)
		ss_log_debug(x->res->table, "%s: canonical row: %s", sd->db, sd->q.row_expr.data);
}

void ss_check_side_free(struct ss_check_side *sd)
{
	free(sd->col);
	ss_check_sql_free(&sd->q);
}
