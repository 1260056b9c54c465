/*
 * check_sql.c -- the statements of the drift check, written once for
 * every engine from its dialect's check ops: the select lists (values,
 * canonical texts, the row hash), key ranges and key lists as bound
 * parameters, the bucket of a key for a grouped hash, ORDER BY the key and
 * LIMIT/OFFSET.  What each engine writes differently (quoting, value and
 * canonical expressions, parameter casts) comes from its ss_check_ops.
 *
 * Only builds text; running the statements and reading their rows is the
 * engine's (replicator/check_side.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check_ops.h"

int ss_check_find_col_nocase(const struct ss_tableinfo *t, const char *name)
{
	int i = ss_tableinfo_col(t, name);

	if (i >= 0)
		return i;
	for (i = 0; i < t->ncols; i++)
		if (strcasecmp(t->cols[i].name, name) == 0)
			return i;
	return -1;
}

static const struct ss_colinfo *qcol(const struct ss_check_sql *q, int i)
{
	return &q->ti->cols[q->col[i]];
}

static void param_add(struct ss_check_stmt *st, const char *v)
{
	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 16;
		st->v = ss_xrealloc(st->v, sizeof *st->v * (size_t)st->cap);
		st->len = ss_xrealloc(st->len, sizeof *st->len * (size_t)st->cap);
	}
	st->v[st->n] = v;
	st->len[st->n++] = v ? strlen(v) : 0;
}

/* Column i compared with the next parameter, whose value is v. */
static void param(const struct ss_check_sql *q, int i, const char *v, struct ss_check_stmt *st)
{
	q->ops->param(qcol(q, i), st->n + 1, &st->sql);
	param_add(st, v);
}

void ss_check_stmt_free(struct ss_check_stmt *st)
{
	ss_buf_free(&st->sql);
	free(st->v);
	free(st->len);
	memset(st, 0, sizeof *st);
}

/* (k1..kn) > v  (lower bound, exclusive) or (k1..kn) <= v (upper bound). */
static void key_cmp(const struct ss_check_sql *q, char *const *v, int upper,
		    struct ss_check_stmt *st)
{
	struct ss_buf *sql = &st->sql;

	ss_buf_addc(sql, '(');
	if (q->nkey > 1) { /* a plain range on the first column for the index */
		q->d->quote_ident(sql, qcol(q, q->key[0])->name);
		ss_buf_adds(sql, upper ? " <= " : " >= ");
		param(q, q->key[0], v[0], st);
		ss_buf_adds(sql, " AND ");
	}
	for (int k = 0; k < q->nkey; k++) {
		int last = k == q->nkey - 1;
		if (k) {
			ss_buf_adds(sql, " OR (");
			q->d->quote_ident(sql, qcol(q, q->key[k - 1])->name);
			ss_buf_adds(sql, " = ");
			param(q, q->key[k - 1], v[k - 1], st);
			ss_buf_adds(sql, " AND ");
		}
		if (!last)
			ss_buf_addc(sql, '(');
		q->d->quote_ident(sql, qcol(q, q->key[k])->name);
		ss_buf_adds(sql, upper ? (last ? " <= " : " < ") : " > ");
		param(q, q->key[k], v[k], st);
	}
	for (int k = 0; k < q->nkey - 1; k++)
		ss_buf_adds(sql, "))");
	ss_buf_addc(sql, ')');
}

static void range_where(const struct ss_check_sql *q, char *const *lo, char *const *hi,
			struct ss_check_stmt *st)
{
	if (lo) {
		ss_buf_adds(&st->sql, " WHERE ");
		key_cmp(q, lo, 0, st);
	}
	if (hi) {
		ss_buf_adds(&st->sql, lo ? " AND " : " WHERE ");
		key_cmp(q, hi, 1, st);
	}
}

/* WHERE (k1 = ? AND k2 = ?) OR ... for n keys. */
static void keys_where(const struct ss_check_sql *q, char **const *keys, int n,
		       struct ss_check_stmt *st)
{
	ss_buf_adds(&st->sql, " WHERE ");
	for (int i = 0; i < n; i++) {
		ss_buf_adds(&st->sql, i ? " OR (" : "(");
		for (int k = 0; k < q->nkey; k++) {
			if (k)
				ss_buf_adds(&st->sql, " AND ");
			q->d->quote_ident(&st->sql, qcol(q, q->key[k])->name);
			ss_buf_adds(&st->sql, " = ");
			param(q, q->key[k], keys[i][k], st);
		}
		ss_buf_addc(&st->sql, ')');
	}
}

/* The bucket (0..nb) of a row's key, bucket i being (b[i-1], b[i]]: a
 * binary search, so about log2(nb) comparisons per row. */
static void bucket_tree(const struct ss_check_sql *q, char **const *b, int lo, int hi,
			struct ss_check_stmt *st)
{
	if (lo == hi) {
		ss_buf_addf(&st->sql, "%d", lo);
		return;
	}
	int mid = lo + (hi - lo) / 2;
	ss_buf_adds(&st->sql, "CASE WHEN ");
	key_cmp(q, b[mid], 1, st);
	ss_buf_adds(&st->sql, " THEN ");
	bucket_tree(q, b, lo, mid, st);
	ss_buf_adds(&st->sql, " ELSE ");
	bucket_tree(q, b, mid + 1, hi, st);
	ss_buf_adds(&st->sql, " END");
}

void ss_check_sql_hash(const struct ss_check_sql *q, char *const *lo, char *const *hi,
		       char **const *bounds, int nb, struct ss_check_stmt *st)
{
	ss_buf_adds(&st->sql, "SELECT ");
	if (nb > 0) {
		bucket_tree(q, bounds, 0, nb, st);
		ss_buf_adds(&st->sql, ", ");
	}
	if (q->sql_hash)
		ss_buf_addf(&st->sql, "count(*), coalesce(sum(%s), 0)", q->hash.data);
	else
		ss_buf_adds(&st->sql, q->values.data);
	ss_buf_adds(&st->sql, q->from.data);
	range_where(q, lo, hi, st);
	if (nb > 0 && q->sql_hash)
		ss_buf_adds(&st->sql, " GROUP BY 1");
}

void ss_check_sql_keys(const struct ss_check_sql *q, char *const *lo, char *const *hi, int limit,
		       int offset, struct ss_check_stmt *st)
{
	ss_buf_addf(&st->sql, "SELECT %s%s", q->keyvals.data, q->from.data);
	range_where(q, lo, hi, st);
	ss_buf_adds(&st->sql, q->order.data);
	if (limit > 0)
		ss_buf_addf(&st->sql, " LIMIT %d OFFSET %d", limit, offset);
}

void ss_check_sql_rows(const struct ss_check_sql *q, char *const *lo, char *const *hi,
		       char **const *keys, int nkeys, struct ss_check_stmt *st)
{
	ss_buf_addf(&st->sql, "SELECT %s", q->values.data);
	if (q->sql_hash)
		ss_buf_addf(&st->sql, ", %s", q->canons.data);
	ss_buf_adds(&st->sql, q->from.data);
	if (keys)
		keys_where(q, keys, nkeys, st);
	else
		range_where(q, lo, hi, st);
	ss_buf_adds(&st->sql, q->order.data);
}

void ss_check_sql_khash(const struct ss_check_sql *q, char *const *lo, char *const *hi,
			struct ss_check_stmt *st)
{
	if (q->sql_hash)
		ss_buf_addf(&st->sql, "SELECT %s, %s, %s", q->keyvals.data, q->keycanons.data,
			    q->hash.data);
	else
		ss_buf_addf(&st->sql, "SELECT %s", q->values.data);
	ss_buf_adds(&st->sql, q->from.data);
	range_where(q, lo, hi, st);
}

void ss_check_sql_init(struct ss_check_sql *q, const struct ss_dialect *d,
		       const struct ss_tableinfo *ti, const int *col, int ncols, const int *key,
		       int nkey, const struct ss_canon_col *spec, int sql_hash)
{
	char **canon = ss_xcalloc((size_t)ncols + 1, sizeof *canon);
	int ok = sql_hash && d->check->row_hash != NULL;

	memset(q, 0, sizeof *q);
	q->d = d;
	q->ops = d->check;
	q->ti = ti;
	q->col = col;
	q->ncols = ncols;
	q->key = key;
	q->nkey = nkey;
	q->no_canon_col = -1;
	ss_buf_adds(&q->from, " FROM ");
	ss_tableinfo_qname(d, ti->schema, ti->name, &q->from);
	for (int i = 0; i < ncols; i++) {
		struct ss_buf b;
		ss_buf_init(&b);
		if (i)
			ss_buf_adds(&q->values, ", ");
		/* aliased: ORDER BY "col" must name the table's column, not an
		 * output column called after it */
		q->ops->value_expr(qcol(q, i), &q->values);
		ss_buf_addf(&q->values, " AS ss_v%d", i);
		if (ok && q->ops->canon_expr(qcol(q, i), &spec[i], &b) < 0) {
			ok = 0;
			q->no_canon_col = i;
		}
		canon[i] = b.data ? ss_buf_steal(&b) : ss_xstrdup("''");
		ss_buf_free(&b);
	}
	q->sql_hash = ok;
	if (ok) {
		q->ops->concat((const char *const *)canon, ncols, &q->row_expr);
		for (int i = 0; i < ncols; i++) {
			if (i)
				ss_buf_adds(&q->canons, ", ");
			ss_buf_adds(&q->canons, canon[i]);
			ss_buf_addf(&q->canons, " AS ss_c%d", i);
		}
		for (int k = 0; k < nkey; k++) {
			if (k)
				ss_buf_adds(&q->keycanons, ", ");
			ss_buf_adds(&q->keycanons, canon[key[k]]);
			ss_buf_addf(&q->keycanons, " AS ss_kc%d", k);
		}
		q->ops->row_hash(q->row_expr.data, &q->hash);
	}
	for (int i = 0; i < ncols; i++)
		free(canon[i]);
	free(canon);
	ss_buf_adds(&q->order, " ORDER BY ");
	for (int k = 0; k < nkey; k++) {
		if (k) {
			ss_buf_adds(&q->keyvals, ", ");
			ss_buf_adds(&q->order, ", ");
		}
		q->ops->value_expr(qcol(q, key[k]), &q->keyvals);
		ss_buf_addf(&q->keyvals, " AS ss_k%d", k);
		d->quote_ident(&q->order, qcol(q, key[k])->name);
	}
}

void ss_check_sql_free(struct ss_check_sql *q)
{
	ss_buf_free(&q->from);
	ss_buf_free(&q->row_expr);
	ss_buf_free(&q->values);
	ss_buf_free(&q->canons);
	ss_buf_free(&q->keycanons);
	ss_buf_free(&q->hash);
	ss_buf_free(&q->keyvals);
	ss_buf_free(&q->order);
}

int ss_check_canon_not_null(const struct ss_colinfo *col, const struct ss_canon_col *spec,
			    int (*raw)(const struct ss_colinfo *col,
				       const struct ss_canon_col *spec, struct ss_buf *out),
			    struct ss_buf *out)
{
	static const char head[] = "coalesce(", tail[] = ", 'N')";
	struct ss_buf e;

	ss_buf_init(&e);
	if (raw(col, spec, &e) < 0) {
		ss_buf_free(&e);
		return -1;
	}
	if (!col->nullable && e.len > sizeof head + sizeof tail &&
	    strncasecmp(e.data, head, sizeof head - 1) == 0 &&
	    strcmp(e.data + e.len - (sizeof tail - 1), tail) == 0)
		ss_buf_add(out, e.data + sizeof head - 1,
			   e.len - (sizeof head - 1) - (sizeof tail - 1));
	else
		ss_buf_add(out, e.data, e.len);
	ss_buf_free(&e);
	return 0;
}
