/*
 * mariadb_check.c -- the drift check's SQL for MariaDB: canonical value
 * expressions (the SQL twin of replicator/base/canon.c), the per-chunk MD5 hash
 * sum, key parameters, and the shadow-log high-water mark.
 *
 * Relies on the session mariadb.c sets up (time_zone '+00:00', utf8mb4).
 * Floats: a DOUBLE converted to DECIMAL is its shortest round-trip text
 * (exact), so rounding to 15 significant digits is exact decimal
 * arithmetic; outside DECIMAL(65,30)'s range the same rounding is done on
 * the digits of CAST(x AS CHAR).  A FLOAT prints correctly rounded to 6
 * digits, exactly PostgreSQL's real::numeric.  JSON has no canonical form
 * in MariaDB's SQL (JSON_NORMALIZE writes numbers as doubles), so a table
 * with a JSON column is hashed on the client on this side.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_ops.h"
#include "dialect.h"

static void qcol(const struct ss_colinfo *col, struct ss_buf *out)
{
	ss_dialect_mariadb.quote_ident(out, col->name);
}

static int has_word(const char *type, const char *w)
{
	return type && strstr(type, w) != NULL;
}

static int is_single(const struct ss_colinfo *col)
{
	return col->type && strncmp(col->type, "float", 5) == 0;
}

static int my_check_prepare(struct ss_conn *c, struct ss_err *err)
{
	/* mariadb.c sets these on connect; repeated so the check's
	 * expressions do not depend on it */
	if (ss_db_exec(c, "SET time_zone = '+00:00'", err) < 0)
		return -1;
	return ss_db_exec(c, "SET NAMES utf8mb4", err);
}

static void my_check_describe(const struct ss_colinfo *col, struct ss_canon_src *out)
{
	out->vtype = col->vtype;
	out->float_digits = is_single(col) ? 6 : 15;
	out->frac_digits = col->precision < 0 || col->precision > 6 ? 6 : col->precision;
}

/* A DECIMAL(65,30) value's text without trailing fraction zeros or '.'
 * (the text always has the 30 fraction digits, also after ROUND with a
 * per-row number of digits). */
static void trim_dec(const char *d, struct ss_buf *out)
{
	ss_buf_addf(out, "TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM CAST(%s AS CHAR)))", d);
}

/* The canonical decimal of a float's text s (any of 1e300, -1.5e-7,
 * 0.30000000000000004) rounded half away from zero to digits significant
 * digits, for |value| >= 1e35 (ge1) or < 1e-13: string arithmetic on the
 * digits.  The rounding matches canon.c's dec_round. */
static void float_digits_path(const char *s, int digits, int ge1, struct ss_buf *out)
{
	struct ss_buf m, x, a, fp, d0, d, q, d1, q1;

	ss_buf_init(&m);
	ss_buf_init(&x);
	ss_buf_init(&a);
	ss_buf_init(&fp);
	ss_buf_init(&d0);
	ss_buf_init(&d);
	ss_buf_init(&q);
	ss_buf_init(&d1);
	ss_buf_init(&q1);
	ss_buf_addf(&m, "SUBSTRING_INDEX(LOWER(%s), 'e', 1)", s);
	ss_buf_addf(&x,
		    "IF(LOCATE('e', LOWER(%s)) > 0, CAST(SUBSTRING_INDEX(LOWER(%s), 'e', -1) AS "
		    "SIGNED), 0)",
		    s, s);
	ss_buf_addf(&a, "TRIM(LEADING '-' FROM %s)", m.data);
	ss_buf_addf(&fp, "IF(LOCATE('.', %s) > 0, SUBSTRING_INDEX(%s, '.', -1), '')", a.data,
		    a.data);
	ss_buf_addf(&d0, "TRIM(LEADING '0' FROM REPLACE(%s, '.', ''))", a.data);
	ss_buf_addf(&d, "TRIM(TRAILING '0' FROM %s)", d0.data);
	ss_buf_addf(&q, "(%s - CHAR_LENGTH(%s) + CHAR_LENGTH(%s) - CHAR_LENGTH(%s))", x.data,
		    fp.data, d0.data, d.data);
	ss_buf_addf(&d1,
		    "IF(CHAR_LENGTH(%s) > %d, CAST(CAST(LEFT(%s, %d) AS UNSIGNED) + (SUBSTRING(%s, "
		    "%d, 1) >= '5') AS CHAR), %s)",
		    d.data, digits, d.data, digits, d.data, digits + 1, d.data);
	ss_buf_addf(&q1, "(%s + GREATEST(CHAR_LENGTH(%s) - %d, 0))", q.data, d.data, digits);
	ss_buf_addf(out, "CONCAT(IF(LEFT(%s, 1) = '-', '-', ''), ", s);
	if (ge1)
		ss_buf_addf(out, "%s, REPEAT('0', %s))", d1.data, q1.data);
	else
		ss_buf_addf(out,
			    "'0.', REPEAT('0', -%s - CHAR_LENGTH(%s)), TRIM(TRAILING '0' FROM %s))",
			    q1.data, d1.data, d1.data);
	ss_buf_free(&m);
	ss_buf_free(&x);
	ss_buf_free(&a);
	ss_buf_free(&fp);
	ss_buf_free(&d0);
	ss_buf_free(&d);
	ss_buf_free(&q);
	ss_buf_free(&d1);
	ss_buf_free(&q1);
}

/* The canonical decimal of the text s of a value within [1e-13, 1e35),
 * written with at most digits significant digits (a FLOAT's text): exact
 * through DECIMAL. */
static void float_short_text(const char *s, struct ss_buf *out)
{
	struct ss_buf d;

	ss_buf_init(&d);
	ss_buf_addf(&d, "CAST(%s AS DECIMAL(65,30))", s);
	trim_dec(d.data, out);
	ss_buf_free(&d);
}

/* Everything but NULL and zero: x is a DOUBLE expression, absx its ABS. */
static void float_double(const char *x, int digits, struct ss_buf *out)
{
	struct ss_buf d, e, s, r;

	ss_buf_init(&d);
	ss_buf_init(&e);
	ss_buf_init(&s);
	ss_buf_init(&r);
	ss_buf_addf(&s, "CAST(%s AS CHAR)", x);
	if (digits <= 6) {
		/* as a float, correctly rounded to 6 digits (PostgreSQL real::numeric) */
		struct ss_buf f;
		ss_buf_init(&f);
		ss_buf_addf(&f, "CAST(CAST(%s AS FLOAT) AS CHAR)", x);
		ss_buf_addf(out,
			    "CASE WHEN ABS(%s) >= 1e-44 AND ABS(%s) <= 3.4e38 THEN CASE WHEN "
			    "ABS(%s) >= 1e-13 AND ABS(%s) < 1e35 THEN ",
			    x, x, x, x);
		float_short_text(f.data, out);
		ss_buf_addf(out, " WHEN ABS(%s) >= 1 THEN ", x);
		float_digits_path(f.data, 6, 1, out);
		ss_buf_adds(out, " ELSE ");
		float_digits_path(f.data, 6, 0, out);
		ss_buf_adds(out, " END ");
		ss_buf_free(&f);
	} else {
		ss_buf_adds(out, "CASE ");
	}
	/* the shortest text as an exact DECIMAL, rounded to digits significant
	 * digits.  The exponent of the leading digit comes from LOG10: it can
	 * be one off only within an ulp or two of a power of ten, where the
	 * digits around the rounding position are all 9s or all 0s and
	 * rounding one digit further gives the same decimal. */
	ss_buf_addf(&d, "CAST(%s AS DECIMAL(65,30))", x);
	ss_buf_addf(&e, "FLOOR(LOG10(ABS(%s)))", x);
	ss_buf_addf(&r, "ROUND(%s, %d - %s)", d.data, digits - 1, e.data);
	ss_buf_addf(out, "WHEN ABS(%s) >= 1e-13 AND ABS(%s) < 1e35 THEN ", x, x);
	trim_dec(r.data, out);
	ss_buf_addf(out, " WHEN ABS(%s) >= 1 THEN ", x);
	float_digits_path(s.data, digits, 1, out);
	ss_buf_adds(out, " ELSE ");
	float_digits_path(s.data, digits, 0, out);
	ss_buf_adds(out, " END");
	ss_buf_free(&d);
	ss_buf_free(&e);
	ss_buf_free(&s);
	ss_buf_free(&r);
}

static void float_expr(const struct ss_colinfo *col, const char *x, int own_float, int digits,
		       struct ss_buf *out)
{
	ss_buf_addf(out, "CASE WHEN %s IS NULL THEN 'N' WHEN %s = 0 THEN 'f0;' ELSE CONCAT('f', ",
		    x, x);
	if (own_float && is_single(col)) {
		/* a FLOAT prints correctly rounded to 6 digits */
		struct ss_buf s;
		ss_buf_init(&s);
		ss_buf_addf(&s, "CAST(%s AS CHAR)", x);
		ss_buf_addf(out, "CASE WHEN ABS(%s) >= 1e-13 AND ABS(%s) < 1e35 THEN ", x, x);
		float_short_text(s.data, out);
		ss_buf_addf(out, " WHEN ABS(%s) >= 1 THEN ", x);
		float_digits_path(s.data, 6, 1, out);
		ss_buf_adds(out, " ELSE ");
		float_digits_path(s.data, 6, 0, out);
		ss_buf_adds(out, " END");
		ss_buf_free(&s);
	} else {
		float_double(x, digits, out);
	}
	ss_buf_adds(out, ", ';') END");
}

static void fraction_expr(const char *t, int digits, struct ss_buf *out)
{
	if (digits <= 0)
		ss_buf_addf(out, "SUBSTRING_INDEX(%s, '.', 1)", t);
	else
		ss_buf_addf(out,
			    "CONCAT(SUBSTRING_INDEX(%s, '.', 1), '.', LEFT(SUBSTRING_INDEX(%s, "
			    "'.', -1), %d))",
			    t, t, digits);
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
		if (own == SS_C_TEXT) {
			ss_buf_addf(&t, "CONVERT(%s USING utf8mb4)", x.data);
			ss_buf_addf(out, "COALESCE(CONCAT('s', LENGTH(%s), ':', %s), 'N')", t.data,
				    t.data);
		} else if (own == SS_C_INT || own == SS_C_NUMERIC || own == SS_C_DATE) {
			ss_buf_addf(&t, "CAST(%s AS CHAR)", x.data);
			ss_buf_addf(out, "COALESCE(CONCAT('s', LENGTH(%s), ':', %s), 'N')", t.data,
				    t.data);
		} else {
			rc = -1;
		}
		break;
	case SS_C_INT:
		if (own != SS_C_INT && own != SS_C_TEXT) {
			rc = -1;
			break;
		}
		ss_buf_addf(out, "COALESCE(CONCAT('i', %s, ';'), 'N')", x.data);
		break;
	case SS_C_NUMERIC:
		if (own == SS_C_NUMERIC && col->scale > 0)
			ss_buf_addf(out,
				    "COALESCE(CONCAT('n', IF(%s = 0, '0', TRIM(TRAILING '.' FROM "
				    "TRIM(TRAILING '0' FROM %s))), ';'), 'N')",
				    x.data, x.data);
		else if (own == SS_C_NUMERIC || own == SS_C_INT)
			ss_buf_addf(out, "COALESCE(CONCAT('n', IF(%s = 0, '0', %s), ';'), 'N')",
				    x.data, x.data);
		else
			rc = -1;
		break;
	case SS_C_FLOAT:
		if (own == SS_C_FLOAT) {
			float_expr(col, x.data, 1, spec->digits, out);
		} else if (own == SS_C_NUMERIC || own == SS_C_INT) {
			ss_buf_addf(&t, "CAST(%s AS DOUBLE)", x.data);
			float_expr(col, t.data, 0, spec->digits, out);
		} else {
			rc = -1;
		}
		break;
	case SS_C_BOOL:
		if (own != SS_C_BOOL && own != SS_C_INT) {
			rc = -1;
			break;
		}
		ss_buf_addf(out,
			    "CASE WHEN %s IS NULL THEN 'N' WHEN %s <> 0 THEN 'b1;' ELSE 'b0;' END",
			    x.data, x.data);
		break;
	case SS_C_BINARY:
		if (own != SS_C_BINARY) {
			rc = -1;
			break;
		}
		ss_buf_addf(out, "COALESCE(CONCAT('x', LOWER(HEX(%s)), ';'), 'N')", x.data);
		break;
	case SS_C_DATE:
		if (own == SS_C_DATE)
			ss_buf_addf(
				out,
				"COALESCE(CONCAT('d', DATE_FORMAT(%s, '%%Y-%%m-%%d'), ';'), 'N')",
				x.data);
		else if (own == SS_C_TEXT)
			ss_buf_addf(out, "COALESCE(CONCAT('d', %s, ';'), 'N')", x.data);
		else
			rc = -1;
		break;
	case SS_C_TIME:
	case SS_C_TIMESTAMP:
		if (own == SS_C_TIME)
			ss_buf_addf(&t, "TIME_FORMAT(%s, '%%H:%%i:%%s.%%f')", x.data);
		else if (own == SS_C_TIMESTAMP && col->precision >= spec->digits &&
			 col->precision <= 6) {
			/* prints exactly the column's fraction digits, fixed width */
			ss_buf_addf(out,
				    "COALESCE(CONCAT('p', LEFT(CAST(%s AS CHAR), %d), ';'), 'N')",
				    x.data, spec->digits ? 20 + spec->digits : 19);
			break;
		} else if (own == SS_C_TIMESTAMP)
			ss_buf_addf(&t, "DATE_FORMAT(%s, '%%Y-%%m-%%d %%H:%%i:%%s.%%f')", x.data);
		else {
			rc = -1;
			break;
		}
		ss_buf_addf(out, "COALESCE(CONCAT('%c', ", spec->cls);
		fraction_expr(t.data, spec->digits, out);
		ss_buf_adds(out, ", ';'), 'N')");
		break;
	case SS_C_UUID:
		if (own == SS_C_UUID || own == SS_C_TEXT)
			ss_buf_addf(out, "COALESCE(CONCAT('u', LOWER(%s), ';'), 'N')", x.data);
		else
			rc = -1;
		break;
	default: /* JSON: no canonical form in SQL */ rc = -1;
	}
	ss_buf_free(&x);
	ss_buf_free(&t);
	return rc;
}

static int my_check_canon_expr(const struct ss_colinfo *col, const struct ss_canon_col *spec,
			       struct ss_buf *out)
{
	return ss_check_canon_not_null(col, spec, canon_expr_raw, out);
}

static void my_check_value_expr(const struct ss_colinfo *col, struct ss_buf *out)
{
	struct ss_buf x;

	ss_buf_init(&x);
	qcol(col, &x);
	switch (col->vtype) {
	case SS_V_BINARY: ss_buf_addf(out, "HEX(%s)", x.data); break;
	case SS_V_BOOL: ss_buf_addf(out, "CAST(%s AS UNSIGNED)", x.data); break;
	case SS_V_DATE: ss_buf_addf(out, "DATE_FORMAT(%s, '%%Y-%%m-%%d')", x.data); break;
	case SS_V_TIME: ss_buf_addf(out, "TIME_FORMAT(%s, '%%H:%%i:%%s.%%f')", x.data); break;
	case SS_V_TIMESTAMP:
	case SS_V_TIMESTAMPTZ:
		ss_buf_addf(out, "DATE_FORMAT(%s, '%%Y-%%m-%%d %%H:%%i:%%s.%%f')", x.data);
		break;
	default: ss_buf_adds(out, x.data); break; /* FLOAT/DOUBLE: shortest text from mariadb.c */
	}
	ss_buf_free(&x);
}

static void my_check_concat(const char *const *exprs, int n, struct ss_buf *out)
{
	if (n == 0) {
		ss_buf_adds(out, "''");
		return;
	}
	ss_buf_adds(out, "CONCAT(");
	for (int i = 0; i < n; i++) {
		if (i)
			ss_buf_adds(out, ", ");
		ss_buf_adds(out, exprs[i]);
	}
	ss_buf_addc(out, ')');
}

static void my_check_row_hash(const char *row_expr, struct ss_buf *out)
{
	ss_buf_addf(out, "CAST(CONV(SUBSTRING(MD5(%s), 1, 15), 16, 10) AS UNSIGNED)", row_expr);
}

/* Parameters arrive as strings; comparing one with a number would go
 * through a double, so cast to the column's kind. */
static void my_check_param(const struct ss_colinfo *col, int n, struct ss_buf *out)
{
	(void)n;
	switch (col->vtype) {
	case SS_V_INT:
	case SS_V_BOOL:
		ss_buf_adds(out, has_word(col->type, "unsigned") || col->vtype == SS_V_BOOL ?
					 "CAST(? AS UNSIGNED)" :
					 "CAST(? AS SIGNED)");
		break;
	case SS_V_NUMERIC: ss_buf_adds(out, "CAST(? AS DECIMAL(65,30))"); break;
	case SS_V_FLOAT: ss_buf_adds(out, "CAST(? AS DOUBLE)"); break;
	case SS_V_BINARY: ss_buf_adds(out, "UNHEX(?)"); break;
	case SS_V_TIMESTAMP:
	case SS_V_TIMESTAMPTZ: ss_buf_adds(out, "CAST(? AS DATETIME(6))"); break;
	default: ss_buf_adds(out, "?"); break;
	}
}

static void log_name(const char *job, char *out, size_t n)
{
	snprintf(out, n, "log_%s", job);
}

static int my_check_log_hwm(struct ss_conn *c, const char *job, uint64_t *hwm, struct ss_err *err)
{
	char name[128], *v = NULL;
	const char *params[1] = {name};
	struct ss_buf sql;
	int rc;

	*hwm = 0;
	log_name(job, name, sizeof name);
	if (ss_db_query_value(c,
			      "SELECT COUNT(*) FROM information_schema.TABLES"
			      " WHERE TABLE_SCHEMA = 'shadowsync' AND TABLE_NAME = ?",
			      1, params, &v, err) < 0)
		return -1;
	if (!v || atoi(v) == 0) {
		free(v);
		return 0;
	}
	free(v);
	v = NULL;
	ss_buf_init(&sql);
	ss_buf_adds(&sql, "SELECT COALESCE(MAX(id), 0) FROM `shadowsync`.");
	ss_dialect_mariadb.quote_ident(&sql, name);
	rc = ss_db_query_value(c, sql.data, 0, NULL, &v, err);
	if (rc == 0)
		*hwm = v ? strtoull(v, NULL, 10) : 0;
	free(v);
	ss_buf_free(&sql);
	return rc;
}

static int my_check_log_pending(struct ss_conn *c, const char *job, uint64_t hwm, int *pending,
				struct ss_err *err)
{
	char name[128], p[24], *v = NULL;
	const char *params[1] = {p};
	struct ss_buf sql;
	int rc;

	*pending = 0;
	if (hwm == 0)
		return 0;
	log_name(job, name, sizeof name);
	snprintf(p, sizeof p, "%llu", (unsigned long long)hwm);
	ss_buf_init(&sql);
	ss_buf_adds(&sql, "SELECT COUNT(*) FROM (SELECT 1 FROM `shadowsync`.");
	ss_dialect_mariadb.quote_ident(&sql, name);
	ss_buf_adds(&sql, " WHERE id <= CAST(? AS UNSIGNED) LIMIT 1) s");
	rc = ss_db_query_value(c, sql.data, 1, params, &v, err);
	if (rc == 0)
		*pending = v && atoi(v) > 0;
	free(v);
	ss_buf_free(&sql);
	return rc;
}

const struct ss_check_ops ss_mariadb_check_ops = {
	.prepare = my_check_prepare,
	.describe = my_check_describe,
	.canon_expr = my_check_canon_expr,
	.value_expr = my_check_value_expr,
	.concat = my_check_concat,
	.row_hash = my_check_row_hash,
	.param = my_check_param,
	.find_col = ss_check_find_col_nocase,
	.log_hwm = my_check_log_hwm,
	.log_pending = my_check_log_pending,
};
