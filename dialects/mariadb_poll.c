/*
 * mariadb_poll.c -- MariaDB/MySQL SQL for timestamp-column capture
 * (replicator/poller.c; contract in dialects/dialect.h, struct ss_poll_ops).
 *
 * The row image is JSON_OBJECT over the same expressions the capture
 * trigger uses (ss_my_image_args), so values reach the journal exactly as
 * trigger capture gives them; key columns are returned in that form too, so
 * a key read by a poll, by a key scan and in an image are the same text.
 *
 * Relies on the session mariadb.c sets up (time_zone '+00:00'): a TIMESTAMP
 * column then reads and compares as UTC, and a DATETIME column is taken to
 * hold UTC (doc/timestamp-capture.md).  The timestamp in µs comes from
 * TIMESTAMPDIFF (UNIX_TIMESTAMP stops at 2038 and is 0 before 1970).
 * Placeholders are positional, and MariaDB does not use an index for a row
 * comparison such as (ts, id) > (?, ?), so a page after a key also says
 * ts >= ?: the same parameter twice (the pmap of ss_poll_ops.select_sql).
 */
#include <stdio.h>
#include <string.h>

#include "dialect.h"
#include "mariadb_int.h"

#define ROW SS_POLL_ROW

/* The rows a poll never reads: NULL and MariaDB's zero date compare below
 * the smallest DATETIME. */
#define TS_FLOOR "'1000-01-01 00:00:00'"

static void col(struct ss_buf *out, const char *name)
{
	ss_buf_adds(out, ROW ".");
	ss_dialect_mariadb.quote_ident(out, name);
}

/* A key parameter, as the image wrote the key, back to the column's type. */
static void key_param(const struct ss_colinfo *c, struct ss_buf *out)
{
	switch (c->vtype) {
	case SS_V_BINARY: ss_buf_adds(out, "UNHEX(?)"); break;
	case SS_V_BOOL: ss_buf_adds(out, "CAST(? AS UNSIGNED)"); break;
	case SS_V_TIMESTAMPTZ: /* "2026-11-21 10:00:00.5+00": the session is UTC */
		ss_buf_adds(out, "REPLACE(?, '+00', '')");
		break;
	default:
		if (ss_my_type_is(c->type, "bit"))
			ss_buf_adds(out, "CAST(? AS UNSIGNED)");
		else
			ss_buf_adds(out, "?");
	}
}

static void soft_deleted(const struct ss_poll_spec *s, struct ss_buf *out)
{
	int i = s->soft_delete_col && *s->soft_delete_col ?
			ss_tableinfo_col(s->t, s->soft_delete_col) :
			-1;

	if (i < 0) {
		ss_buf_adds(out, "'0'");
		return;
	}
	ss_buf_adds(out, "CASE WHEN ");
	if (s->t->cols[i].vtype == SS_V_INT || s->t->cols[i].vtype == SS_V_BOOL) {
		/* BOOLEAN (TINYINT(1)), BIT(1), any integer: not 0 */
		ss_buf_adds(out, "IFNULL(");
		col(out, s->soft_delete_col);
		ss_buf_adds(out, " + 0, 0) = 0");
	} else {
		col(out, s->soft_delete_col);
		ss_buf_adds(out, " IS NULL OR CAST(");
		col(out, s->soft_delete_col);
		ss_buf_adds(out, " AS CHAR) IN ('false', '0')");
	}
	ss_buf_adds(out, " THEN '0' ELSE '1' END");
}

static int myp_select_sql(const struct ss_poll_spec *s, int from, int limit, struct ss_buf *out,
			  int *pmap)
{
	int npk = s->t->npk, np = 0;

	ss_buf_adds(out, "SELECT JSON_OBJECT(");
	ss_my_image_args(s->t, 0, ROW, out);
	ss_buf_adds(out, "), TIMESTAMPDIFF(MICROSECOND, TIMESTAMP'1970-01-01 00:00:00', ");
	col(out, s->ts_col);
	ss_buf_adds(out, "), ");
	soft_deleted(s, out);
	for (int k = 0; k < npk; k++) {
		ss_buf_adds(out, ", ");
		ss_my_image_expr(&s->t->cols[s->t->pk[k]], ROW, out);
	}
	ss_buf_adds(out, " FROM ");
	ss_tableinfo_qname(&ss_dialect_mariadb, s->t->schema, s->t->name, out);
	ss_buf_adds(out, " " ROW " WHERE ");
	col(out, s->ts_col);
	switch (from) {
	case SS_POLL_FROM_TS:
		ss_buf_adds(out, " >= ? AND ");
		pmap[np++] = 0;
		break;
	case SS_POLL_FROM_KEY:
		/* ts >= ? lets the range scan start at the page's timestamp */
		ss_buf_adds(out, " >= ? AND (");
		pmap[np++] = 0;
		ss_poll_order_cols(&ss_dialect_mariadb, s, out);
		ss_buf_adds(out, ") > (?");
		pmap[np++] = 0;
		for (int k = 0; k < npk; k++) {
			ss_buf_adds(out, ", ");
			key_param(&s->t->cols[s->t->pk[k]], out);
			pmap[np++] = k + 1;
		}
		ss_buf_adds(out, ") AND ");
		break;
	default: ss_buf_adds(out, " >= " TS_FLOOR " AND "); break;
	}
	col(out, s->ts_col);
	ss_buf_adds(out, " <= ? ORDER BY ");
	pmap[np] = from == SS_POLL_FROM_TS ? 1 : from == SS_POLL_FROM_KEY ? npk + 1 : 0;
	np++;
	ss_poll_order_cols(&ss_dialect_mariadb, s, out);
	ss_buf_addf(out, " LIMIT %d", limit);
	return np;
}

static void myp_keyscan_sql(const struct ss_poll_spec *s, struct ss_buf *out)
{
	ss_poll_keyscan_sql(&ss_dialect_mariadb, s, ROW, ss_my_image_expr, out);
}

static void myp_ts_param(int64_t us, char *out, size_t n)
{
	ss_poll_ts_text(us, "", out, n);
}

const struct ss_poll_ops ss_mariadb_poll_ops = {
	.select_sql = myp_select_sql,
	.keyscan_sql = myp_keyscan_sql,
	.ts_param = myp_ts_param,
};
