/*
 * sqlite_poll.c -- SQLite SQL for timestamp-column capture
 * (replicator/poller.c; contract in dialects/dialect.h, struct ss_poll_ops).
 *
 * The row image is the capture trigger's json_object (REAL/NUMERIC values
 * as exact hex floats, turned into decimals by image_fix), and key columns
 * are returned as the image writes them.
 *
 * SQLite has no timestamp type: the column holds ISO 8601 text,
 * "YYYY-MM-DD HH:MM:SS[.fff...]" (a 'T' separator and a trailing 'Z' are
 * read too), taken as UTC.  Such texts do not all compare as text (".5" vs
 * ".500", with and without a fraction), so every comparison and the order
 * are on the value in µs, computed by ts_us() alike for the column and for
 * the parameters.  The index on the column still bounds the scan: a row at
 * or after a timestamp is textually at or after its first 19 characters,
 * whatever its fraction or separator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialect.h"
#include "sqlite_int.h"

#define ROW SS_POLL_ROW

static void col(struct ss_buf *out, const char *name)
{
	ss_buf_adds(out, ROW ".");
	ss_sql_quote_ident(out, name);
}

/* µs since the epoch of an ISO text (NULL when it is not one). */
static void ts_us(struct ss_buf *out, const char *x)
{
	ss_buf_addf(out,
		    "(unixepoch(%s) * 1000000 + CAST(substr(rtrim(substr(%s, 21), 'Zz') ||"
		    " '000000', 1, 6) AS INTEGER))",
		    x, x);
}

/* The same for one parameter: a placeholder appears once in the SQL. */
static void ts_param_us(struct ss_buf *out)
{
	ss_buf_adds(out, "(SELECT ");
	ts_us(out, "p.x");
	ss_buf_adds(out, " FROM (SELECT ? AS x) p)");
}

static void ts_col_us(const struct ss_poll_spec *s, struct ss_buf *out)
{
	struct ss_buf c;

	ss_buf_init(&c);
	col(&c, s->ts_col);
	ts_us(out, c.data);
	ss_buf_free(&c);
}

/* A key column as compared with its parameter (the image's form of it). */
static void key_cmp(const struct ss_colinfo *c, struct ss_buf *out)
{
	if (c->vtype == SS_V_BINARY) {
		ss_buf_adds(out, "hex(");
		col(out, c->name);
		ss_buf_addc(out, ')');
	} else {
		col(out, c->name);
	}
}

static void order_cols(const struct ss_poll_spec *s, struct ss_buf *out)
{
	ts_col_us(s, out);
	for (int k = 0; k < s->t->npk; k++) {
		ss_buf_adds(out, ", ");
		key_cmp(&s->t->cols[s->t->pk[k]], out);
	}
}

static void soft_deleted(const struct ss_poll_spec *s, struct ss_buf *out)
{
	if (!s->soft_delete_col || !*s->soft_delete_col ||
	    ss_tableinfo_col(s->t, s->soft_delete_col) < 0) {
		ss_buf_adds(out, "'0'");
		return;
	}
	ss_buf_adds(out, "CASE WHEN ");
	col(out, s->soft_delete_col);
	ss_buf_adds(out, " IS NULL OR ");
	col(out, s->soft_delete_col);
	ss_buf_adds(out, " IN (0, '0', 'false', 'f', 'FALSE') THEN '0' ELSE '1' END");
}

/* The lower bound on the column itself, so an index can serve the scan. */
static void text_floor(const struct ss_poll_spec *s, struct ss_buf *out)
{
	col(out, s->ts_col);
	ss_buf_adds(out, " >= substr(?, 1, 19) AND ");
}

static int sqp_select_sql(const struct ss_poll_spec *s, int from, int limit, struct ss_buf *out,
			  int *pmap)
{
	int npk = s->t->npk, np = 0;

	ss_buf_adds(out, "SELECT ");
	ss_odbc_sqlite_image_expr(s->t, NULL, s->t->ncols, ROW, out);
	ss_buf_adds(out, ", ");
	ts_col_us(s, out);
	ss_buf_adds(out, ", ");
	soft_deleted(s, out);
	for (int k = 0; k < npk; k++) {
		ss_buf_adds(out, ", ");
		ss_odbc_sqlite_value_expr(&s->t->cols[s->t->pk[k]], ROW, out);
	}
	ss_buf_adds(out, " FROM ");
	ss_tableinfo_qname(&ss_dialect_odbc_sqlite, s->t->schema, s->t->name, out);
	ss_buf_adds(out, " AS " ROW " WHERE ");
	switch (from) {
	case SS_POLL_FROM_TS:
		text_floor(s, out);
		pmap[np++] = 0;
		ts_col_us(s, out);
		ss_buf_adds(out, " >= ");
		ts_param_us(out);
		pmap[np++] = 0;
		ss_buf_adds(out, " AND ");
		break;
	case SS_POLL_FROM_KEY:
		text_floor(s, out);
		pmap[np++] = 0;
		ss_buf_addc(out, '(');
		order_cols(s, out);
		ss_buf_adds(out, ") > (");
		ts_param_us(out);
		pmap[np++] = 0;
		for (int k = 0; k < npk; k++) {
			ss_buf_adds(out, ", ?");
			pmap[np++] = k + 1;
		}
		ss_buf_adds(out, ") AND ");
		break;
	default: break;
	}
	ts_col_us(s, out);
	ss_buf_adds(out, " <= ");
	ts_param_us(out);
	pmap[np++] = from == SS_POLL_FROM_TS ? 1 : from == SS_POLL_FROM_KEY ? npk + 1 : 0;
	ss_buf_adds(out, " ORDER BY ");
	order_cols(s, out);
	ss_buf_addf(out, " LIMIT %d", limit);
	return np;
}

static void sqp_keyscan_sql(const struct ss_poll_spec *s, struct ss_buf *out)
{
	ss_poll_keyscan_sql(&ss_dialect_odbc_sqlite, s, ROW, ss_odbc_sqlite_value_expr, out);
}

static void sqp_ts_param(int64_t us, char *out, size_t n)
{
	ss_poll_ts_text(us, "", out, n);
}

/* REAL/NUMERIC hex floats of the image as decimals. */
static int sqp_image_fix(const struct ss_tableinfo *t, const char *img, size_t len,
			 struct ss_buf *out)
{
	struct ss_odbc_floatcols f = {0};
	int r;

	for (int i = 0; i < t->ncols; i++)
		if (t->cols[i].vtype == SS_V_FLOAT || t->cols[i].vtype == SS_V_NUMERIC)
			f.ncols++;
	if (!f.ncols)
		return 0;
	f.cols = ss_xcalloc((size_t)f.ncols, sizeof *f.cols);
	f.vtypes = ss_xcalloc((size_t)f.ncols, 1);
	f.ncols = 0;
	for (int i = 0; i < t->ncols; i++)
		if (t->cols[i].vtype == SS_V_FLOAT || t->cols[i].vtype == SS_V_NUMERIC) {
			f.cols[f.ncols] = t->cols[i].name;
			f.vtypes[f.ncols++] = t->cols[i].vtype;
		}
	r = ss_odbc_sqlite_decode_floats(&f, img, len, out);
	free(f.cols);
	free(f.vtypes);
	return r;
}

const struct ss_poll_ops ss_sqlite_poll_ops = {
	.select_sql = sqp_select_sql,
	.keyscan_sql = sqp_keyscan_sql,
	.ts_param = sqp_ts_param,
	.image_fix = sqp_image_fix,
};
