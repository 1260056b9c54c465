/*
 * postgres_poll.c -- PostgreSQL SQL for timestamp-column capture
 * (replicator/poller.c; contract in dialects/dialect.h, struct ss_poll_ops).
 *
 * The row image is the one the capture trigger writes (each column's own
 * text form, ss_postgres_image_expr; the session pins the settings the
 * trigger pins), so values have the same journal form as trigger capture.  Timestamps are bound as ISO text with "+00"
 * (PostgreSQL ignores the zone for timestamp without time zone, and the
 * session runs in UTC), keys as their own ::text output.
 */
#include <stdio.h>
#include <string.h>

#include "dialect.h"
#include "engine.h"

/* Row alias: unlikely to collide with a column name (to_json(alias) would
 * pick the column instead of the row). */
#define ROW SS_POLL_ROW

static void col(struct ss_buf *out, const char *name)
{
	ss_buf_adds(out, ROW ".");
	ss_dialect_postgres.quote_ident(out, name);
}

static int pgp_select_sql(const struct ss_poll_spec *s, int from, int limit, struct ss_buf *out,
			  int *pmap)
{
	int npk = s->t->npk, upper;

	ss_buf_adds(out, "SELECT ");
	ss_postgres_image_expr(s->t, ROW, 0, out);
	ss_buf_adds(out, "::text, (extract(epoch FROM ");
	col(out, s->ts_col);
	ss_buf_adds(out, ") * 1000000)::bigint, ");
	if (s->soft_delete_col && *s->soft_delete_col) {
		ss_buf_adds(out, "CASE WHEN ");
		col(out, s->soft_delete_col);
		ss_buf_adds(out, " IS NULL OR ");
		col(out, s->soft_delete_col);
		ss_buf_adds(out, "::text IN ('false', '0') THEN '0' ELSE '1' END");
	} else {
		ss_buf_adds(out, "'0'");
	}
	for (int k = 0; k < npk; k++) {
		ss_buf_adds(out, ", ");
		col(out, s->t->cols[s->t->pk[k]].name);
		ss_buf_adds(out, "::text");
	}
	ss_buf_adds(out, " FROM ");
	ss_tableinfo_qname(&ss_dialect_postgres, s->t->schema, s->t->name, out);
	ss_buf_adds(out, " " ROW " WHERE ");
	switch (from) {
	case SS_POLL_FROM_TS:
		col(out, s->ts_col);
		ss_buf_adds(out, " >= $1 AND ");
		upper = 2;
		break;
	case SS_POLL_FROM_KEY:
		ss_buf_addc(out, '(');
		ss_poll_order_cols(&ss_dialect_postgres, s, out);
		ss_buf_adds(out, ") > ($1");
		for (int k = 0; k < npk; k++)
			ss_buf_addf(out, ", $%d", k + 2);
		ss_buf_adds(out, ") AND ");
		upper = npk + 2;
		break;
	default: upper = 1; break;
	}
	col(out, s->ts_col);
	ss_buf_addf(out, " <= $%d ORDER BY ", upper);
	ss_poll_order_cols(&ss_dialect_postgres, s, out);
	ss_buf_addf(out, " LIMIT %d", limit);
	for (int i = 0; i < upper; i++) /* numbered placeholders: in order */
		pmap[i] = i;
	return upper;
}

static void key_text(const struct ss_colinfo *c, const char *rec, struct ss_buf *out)
{
	ss_buf_addf(out, "%s.", rec);
	ss_dialect_postgres.quote_ident(out, c->name);
	ss_buf_adds(out, "::text");
}

static void pgp_keyscan_sql(const struct ss_poll_spec *s, struct ss_buf *out)
{
	ss_poll_keyscan_sql(&ss_dialect_postgres, s, ROW, key_text, out);
}

static void pgp_ts_param(int64_t us, char *out, size_t n)
{
	ss_poll_ts_text(us, "+00", out, n);
}

const struct ss_poll_ops ss_pg_poll_ops = {
	.select_sql = pgp_select_sql,
	.keyscan_sql = pgp_keyscan_sql,
	.ts_param = pgp_ts_param,
	.text_values = 1,
};
