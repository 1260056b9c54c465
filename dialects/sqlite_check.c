/*
 * sqlite_check.c -- the drift check's SQL for SQLite (through ODBC).
 *
 * SQLite has no MD5, so it never hashes in SQL: row_hash is NULL and the
 * check reads each chunk's rows and hashes them with canon.c.  What this
 * file provides is the value expressions that make that exact under
 * SQLite's dynamic typing: REAL values leave as C99 hex floats (SQLite's
 * printf is not correctly rounded; the same technique as the capture
 * triggers in odbc_sqlite.c), BLOBs as hex, booleans as 1/0, and a value
 * of an unexpected storage class as its text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_ops.h"

extern const struct ss_dialect ss_dialect_odbc_sqlite; /* odbc_sqlite.c */

static void qcol(const struct ss_colinfo *col, struct ss_buf *out)
{
	ss_dialect_odbc_sqlite.quote_ident(out, col->name);
}

static void sq_check_describe(const struct ss_colinfo *col, struct ss_canon_src *out)
{
	out->vtype = col->vtype;
	out->float_digits = 15; /* a REAL is always 8 bytes */
	out->frac_digits = col->precision < 0 || col->precision > 6 ? 6 : col->precision;
}

static int sq_check_canon_expr(const struct ss_colinfo *col, const struct ss_canon_col *spec,
			       struct ss_buf *out)
{
	(void)col;
	(void)spec;
	(void)out;
	return -1; /* never used: rows are hashed on the client */
}

/* A REAL exactly: "-0x1fp-3".  |r| * 2^-s is an integer below 2^56 (log2
 * may be one off; the margin absorbs it). */
static void hexfloat(const char *x, struct ss_buf *out)
{
	ss_buf_addf(
		out,
		"CASE WHEN %s = 0 THEN '0' WHEN %s = 9e999 THEN 'Infinity'"
		" WHEN %s = -9e999 THEN '-Infinity'"
		" ELSE (SELECT printf('%%s0x%%xp%%d', CASE WHEN %s < 0 THEN '-' ELSE '' END,"
		" CAST(abs(%s) * power(2.0, -s / 2) * power(2.0, -s - (-s / 2)) AS INTEGER), s)"
		" FROM (SELECT max(CAST(floor(log2(abs(%s))) AS INTEGER) - 54, -1074) AS s)) END",
		x, x, x, x, x, x);
}

static void sq_check_value_expr(const struct ss_colinfo *col, struct ss_buf *out)
{
	struct ss_buf x;

	ss_buf_init(&x);
	qcol(col, &x);
	const char *r = x.data;
	switch (col->vtype) {
	case SS_V_BINARY:
		ss_buf_addf(out, "CASE WHEN %s IS NULL THEN NULL ELSE hex(%s) END", r, r);
		break;
	case SS_V_BOOL:
		ss_buf_addf(out,
			    "CASE typeof(%s) WHEN 'integer' THEN %s <> 0 WHEN 'real' THEN %s <> 0"
			    " WHEN 'blob' THEN CAST(%s AS TEXT) ELSE %s END",
			    r, r, r, r, r);
		break;
	default:
		ss_buf_addf(out, "CASE typeof(%s) WHEN 'real' THEN ", r);
		hexfloat(r, out);
		ss_buf_addf(out, " WHEN 'blob' THEN CAST(%s AS TEXT) ELSE %s END", r, r);
		break;
	}
	ss_buf_free(&x);
}

static void sq_check_concat(const char *const *exprs, int n, struct ss_buf *out)
{
	if (n == 0)
		ss_buf_adds(out, "''");
	for (int i = 0; i < n; i++) {
		if (i)
			ss_buf_adds(out, " || ");
		ss_buf_adds(out, exprs[i]);
	}
}

/* A text parameter compared with a column of INTEGER/REAL/NUMERIC affinity
 * takes the column's affinity (SQLite's comparison rules). */
static void sq_check_param(const struct ss_colinfo *col, int n, struct ss_buf *out)
{
	(void)col;
	(void)n;
	ss_buf_addc(out, '?');
}

static int sq_check_log_hwm(struct ss_conn *c, const char *job, uint64_t *hwm, struct ss_err *err)
{
	struct ss_buf name, sql;
	char *v = NULL;
	int rc;

	*hwm = 0;
	ss_buf_init(&name);
	ss_buf_init(&sql);
	ss_buf_addf(&name, "shadowsync_log_%s", job);
	const char *params[1] = {name.data};
	rc = ss_db_query_value(
		c, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", 1,
		params, &v, err);
	if (rc == 0 && v && atoi(v) > 0) {
		free(v);
		v = NULL;
		ss_buf_adds(&sql, "SELECT coalesce(max(id), 0) FROM ");
		ss_dialect_odbc_sqlite.quote_ident(&sql, name.data);
		rc = ss_db_query_value(c, sql.data, 0, NULL, &v, err);
		if (rc == 0)
			*hwm = v ? strtoull(v, NULL, 10) : 0;
	}
	free(v);
	ss_buf_free(&name);
	ss_buf_free(&sql);
	return rc;
}

static int sq_check_log_pending(struct ss_conn *c, const char *job, uint64_t hwm, int *pending,
				struct ss_err *err)
{
	struct ss_buf name, sql;
	char p[24], *v = NULL;
	const char *params[1] = {p};
	int rc;

	*pending = 0;
	if (hwm == 0)
		return 0;
	snprintf(p, sizeof p, "%llu", (unsigned long long)hwm);
	ss_buf_init(&name);
	ss_buf_init(&sql);
	ss_buf_addf(&name, "shadowsync_log_%s", job);
	ss_buf_adds(&sql, "SELECT count(*) FROM (SELECT 1 FROM ");
	ss_dialect_odbc_sqlite.quote_ident(&sql, name.data);
	ss_buf_adds(&sql, " WHERE id <= ? LIMIT 1)");
	rc = ss_db_query_value(c, sql.data, 1, params, &v, err);
	if (rc == 0)
		*pending = v && atoi(v) > 0;
	free(v);
	ss_buf_free(&name);
	ss_buf_free(&sql);
	return rc;
}

const struct ss_check_ops ss_sqlite_check_ops = {
	.prepare = NULL,
	.describe = sq_check_describe,
	.canon_expr = sq_check_canon_expr,
	.value_expr = sq_check_value_expr,
	.concat = sq_check_concat,
	.row_hash = NULL,
	.param = sq_check_param,
	.find_col = ss_check_find_col_nocase,
	.log_hwm = sq_check_log_hwm,
	.log_pending = sq_check_log_pending,
};
