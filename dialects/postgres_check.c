/*
 * postgres_check.c -- the drift check's SQL for PostgreSQL: canonical
 * value expressions (the SQL twin of replicator/base/canon.c), the per-chunk
 * md5 hash sum, and the shadow-log high-water mark.
 *
 * Relies on the session settings pg_connect makes (TimeZone=UTC,
 * DateStyle=ISO, extra_float_digits=3 so float8::text is the shortest
 * round-trip text).  Needs PostgreSQL 13+ (trim_scale).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_ops.h"
#include "dialect.h"

static void qcol(const struct ss_colinfo *col, struct ss_buf *out)
{
	ss_dialect_postgres.quote_ident(out, col->name);
}

static int pg_check_prepare(struct ss_conn *c, struct ss_err *err)
{
	char *enc = NULL;

	if (ss_db_query_value(c, "SHOW server_encoding", 0, NULL, &enc, err) < 0)
		return -1;
	if (!enc || strcmp(enc, "UTF8") != 0) {
		ss_err_set(err,
			   "database %s: the drift check needs a UTF8 database (server_encoding is "
			   "%s)",
			   c->db->name, enc ? enc : "unknown");
		free(enc);
		return -1;
	}
	free(enc);
	return ss_db_exec(c, "SET extra_float_digits = 3", err);
}

static void pg_check_describe(const struct ss_colinfo *col, struct ss_canon_src *out)
{
	out->vtype = col->vtype;
	out->float_digits = col->type && (strcmp(col->type, "real") == 0) ? 6 : 15;
	out->frac_digits = col->precision < 0 || col->precision > 6 ? 6 : col->precision;
}

/* 'f' || the double x (an expression of type float8, not 0, finite) at
 * digits significant digits: its shortest text rounded half away from
 * zero.  The exponent of the leading digit comes from log(): it can be one
 * off only within an ulp or two of a power of ten, where the digits around
 * the rounding position are all 9s or all 0s and rounding one digit further
 * gives the same decimal. */
static void float_double(const char *x, int digits, struct ss_buf *out)
{
	ss_buf_addf(
		out,
		"'f' || trim_scale(round((%s)::text::numeric, %d - floor(log(abs(%s)))::int))::text"
		" || ';'",
		x, digits - 1, x);
}

static void float_expr(const char *x, int is_real, int digits, struct ss_buf *out)
{
	ss_buf_addf(out,
		    "CASE WHEN %s IS NULL THEN 'N' WHEN %s = 0 THEN 'f0;'"
		    " WHEN %s = 'NaN' THEN 'fNaN;' WHEN %s = 'Infinity' THEN 'fInfinity;'"
		    " WHEN %s = '-Infinity' THEN 'f-Infinity;' ",
		    x, x, x, x, x);
	if (is_real) {
		/* real::numeric is the float correctly rounded to 6 digits */
		ss_buf_addf(out, "ELSE 'f' || trim_scale((%s)::numeric)::text || ';' END", x);
		return;
	}
	if (digits <= 6) {
		ss_buf_addf(out,
			    "WHEN abs(%s) <= 3.4e38 AND abs(%s) >= 1e-44"
			    " THEN 'f' || trim_scale((%s)::float4::numeric)::text || ';' ELSE ",
			    x, x, x);
		float_double(x, 6, out);
		ss_buf_adds(out, " END");
		return;
	}
	ss_buf_adds(out, "ELSE ");
	float_double(x, digits, out);
	ss_buf_adds(out, " END");
}

/* "before the '.'" plus exactly digits fraction digits of the text t. */
static void fraction_expr(const char *t, int digits, struct ss_buf *out)
{
	if (digits <= 0)
		ss_buf_addf(out, "split_part(%s, '.', 1)", t);
	else
		ss_buf_addf(
			out,
			"split_part(%s, '.', 1) || '.' || rpad(split_part(%s, '.', 2), %d, '0')", t,
			t, digits);
}

static int canon_expr_raw(const struct ss_colinfo *col, const struct ss_canon_col *spec,
			  struct ss_buf *out)
{
	char own = ss_canon_class_of(col->vtype);
	struct ss_buf x, t;
	int rc = 0;

	ss_buf_init(&x);
	ss_buf_init(&t);
	qcol(col, &x);
	switch (spec->cls) {
	case SS_C_TEXT:
		/* X::text is the journal form except for these */
		if (own == SS_C_BOOL || own == SS_C_BINARY || col->vtype == SS_V_TIMESTAMPTZ) {
			rc = -1;
			break;
		}
		ss_buf_addf(out,
			    "coalesce('s' || octet_length((%s)::text) || ':' || (%s)::text, 'N')",
			    x.data, x.data);
		break;
	case SS_C_JSON:
		if (own != SS_C_JSON && own != SS_C_TEXT) {
			rc = -1;
			break;
		}
		ss_buf_addf(out,
			    "coalesce('j' || octet_length((%s)::jsonb::text) || ':' || "
			    "(%s)::jsonb::text, 'N')",
			    x.data, x.data);
		break;
	case SS_C_INT:
		if (own != SS_C_INT && own != SS_C_TEXT) {
			rc = -1;
			break;
		}
		ss_buf_addf(out, "coalesce('i' || (%s)::text || ';', 'N')", x.data);
		break;
	case SS_C_NUMERIC:
		if (own == SS_C_NUMERIC)
			ss_buf_addf(out, "coalesce('n' || trim_scale(%s)::text || ';', 'N')",
				    x.data);
		else if (own == SS_C_INT)
			ss_buf_addf(out, "coalesce('n' || (%s)::text || ';', 'N')", x.data);
		else
			rc = -1;
		break;
	case SS_C_FLOAT:
		if (own == SS_C_FLOAT) {
			float_expr(x.data, strcmp(col->type, "real") == 0, spec->digits, out);
		} else if (own == SS_C_NUMERIC || own == SS_C_INT) {
			ss_buf_addf(&t, "(%s)::float8", x.data);
			float_expr(t.data, 0, spec->digits, out);
		} else {
			rc = -1;
		}
		break;
	case SS_C_BOOL:
		if (own == SS_C_BOOL)
			ss_buf_addf(out,
				    "CASE WHEN %s THEN 'b1;' WHEN NOT %s THEN 'b0;' ELSE 'N' END",
				    x.data, x.data);
		else if (own == SS_C_INT)
			ss_buf_addf(
				out,
				"CASE WHEN %s <> 0 THEN 'b1;' WHEN %s = 0 THEN 'b0;' ELSE 'N' END",
				x.data, x.data);
		else
			rc = -1;
		break;
	case SS_C_BINARY:
		if (own != SS_C_BINARY) {
			rc = -1;
			break;
		}
		ss_buf_addf(out, "coalesce('x' || encode(%s, 'hex') || ';', 'N')", x.data);
		break;
	case SS_C_DATE:
		if (own != SS_C_DATE && own != SS_C_TEXT) {
			rc = -1;
			break;
		}
		ss_buf_addf(out, "coalesce('d' || (%s)::text || ';', 'N')", x.data);
		break;
	case SS_C_TIME:
	case SS_C_TIMESTAMP:
		if (col->vtype == SS_V_TIMESTAMPTZ)
			ss_buf_addf(&t, "(%s AT TIME ZONE 'UTC')::text", x.data);
		else if (own == SS_C_TIME || own == SS_C_TIMESTAMP)
			ss_buf_addf(&t, "(%s)::text", x.data);
		else {
			rc = -1;
			break;
		}
		ss_buf_addf(out, "coalesce('%c' || ", spec->cls);
		fraction_expr(t.data, spec->digits, out);
		ss_buf_adds(out, " || ';', 'N')");
		break;
	case SS_C_UUID:
		if (own == SS_C_UUID)
			ss_buf_addf(out, "coalesce('u' || (%s)::text || ';', 'N')", x.data);
		else if (own == SS_C_TEXT)
			ss_buf_addf(out, "coalesce('u' || lower(%s) || ';', 'N')", x.data);
		else
			rc = -1;
		break;
	default: rc = -1;
	}
	ss_buf_free(&x);
	ss_buf_free(&t);
	return rc;
}

static int pg_check_canon_expr(const struct ss_colinfo *col, const struct ss_canon_col *spec,
			       struct ss_buf *out)
{
	return ss_check_canon_not_null(col, spec, canon_expr_raw, out);
}

static void pg_check_value_expr(const struct ss_colinfo *col, struct ss_buf *out)
{
	struct ss_buf x;

	ss_buf_init(&x);
	qcol(col, &x);
	switch (col->vtype) {
	case SS_V_BINARY: ss_buf_addf(out, "encode(%s, 'hex')", x.data); break;
	case SS_V_BOOL: ss_buf_addf(out, "(%s)::int::text", x.data); break;
	case SS_V_TIMESTAMPTZ: ss_buf_addf(out, "(%s AT TIME ZONE 'UTC')::text", x.data); break;
	default: ss_buf_addf(out, "(%s)::text", x.data); break;
	}
	ss_buf_free(&x);
}

static void pg_check_concat(const char *const *exprs, int n, struct ss_buf *out)
{
	if (n == 0) {
		ss_buf_adds(out, "''");
		return;
	}
	for (int i = 0; i < n; i++) {
		if (i)
			ss_buf_adds(out, " || ");
		ss_buf_adds(out, exprs[i]);
	}
}

static void pg_check_row_hash(const char *row_expr, struct ss_buf *out)
{
	ss_buf_addf(out, "('x' || substr(md5(%s), 1, 15))::bit(60)::bigint", row_expr);
}

static void pg_check_param(const struct ss_colinfo *col, int n, struct ss_buf *out)
{
	if (col->vtype == SS_V_BINARY)
		ss_buf_addf(out, "decode($%d, 'hex')", n);
	else
		ss_buf_addf(out, "$%d", n);
}

static void log_table(const char *job, struct ss_buf *out)
{
	struct ss_buf name;

	ss_buf_init(&name);
	ss_buf_addf(&name, "log_%s", job);
	ss_buf_adds(out, "shadowsync.");
	ss_dialect_postgres.quote_ident(out, name.data);
	ss_buf_free(&name);
}

static int pg_check_log_hwm(struct ss_conn *c, const char *job, uint64_t *hwm, struct ss_err *err)
{
	struct ss_buf t, sql;
	char *v = NULL;
	int rc = -1;

	*hwm = 0;
	ss_buf_init(&t);
	ss_buf_init(&sql);
	log_table(job, &t);
	const char *params[1] = {t.data};
	if (ss_db_query_value(c, "SELECT to_regclass($1)::text", 1, params, &v, err) < 0)
		goto done;
	if (!v) { /* capture not installed */
		rc = 0;
		goto done;
	}
	free(v);
	v = NULL;
	ss_buf_addf(&sql, "SELECT coalesce(max(id), 0) FROM %s", t.data);
	if (ss_db_query_value(c, sql.data, 0, NULL, &v, err) < 0)
		goto done;
	*hwm = v ? strtoull(v, NULL, 10) : 0;
	rc = 0;
done:
	free(v);
	ss_buf_free(&t);
	ss_buf_free(&sql);
	return rc;
}

static int pg_check_log_pending(struct ss_conn *c, const char *job, uint64_t hwm, int *pending,
				struct ss_err *err)
{
	struct ss_buf sql;
	char p[24], *v = NULL;
	const char *params[1] = {p};
	int rc;

	*pending = 0;
	if (hwm == 0)
		return 0;
	snprintf(p, sizeof p, "%llu", (unsigned long long)hwm);
	ss_buf_init(&sql);
	ss_buf_adds(&sql, "SELECT count(*) FROM (SELECT 1 FROM ");
	log_table(job, &sql);
	ss_buf_adds(&sql, " WHERE id <= $1 LIMIT 1) s");
	rc = ss_db_query_value(c, sql.data, 1, params, &v, err);
	if (rc == 0)
		*pending = v && atoi(v) > 0;
	free(v);
	ss_buf_free(&sql);
	return rc;
}

const struct ss_check_ops ss_postgres_check_ops = {
	.prepare = pg_check_prepare,
	.describe = pg_check_describe,
	.canon_expr = pg_check_canon_expr,
	.value_expr = pg_check_value_expr,
	.concat = pg_check_concat,
	.row_hash = pg_check_row_hash,
	.param = pg_check_param,
	.find_col = ss_tableinfo_col,
	.log_hwm = pg_check_log_hwm,
	.log_pending = pg_check_log_pending,
};
