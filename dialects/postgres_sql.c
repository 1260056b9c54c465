/*
 * postgres_sql.c -- PostgreSQL's SQL, written once for every transport that
 * reaches the engine: libpq (postgres.c) and psqlodbc (odbc_flavors.c).
 *
 * Owns: the type mapping (pg_type.typname -> journal form, doc/types.md),
 * the catalog queries (a table's columns, key, precision and scale from
 * pg_catalog; the tables matching patterns), the skeletons of the upsert
 * (INSERT ... ON CONFLICT (key) DO UPDATE) and delete statements, and the
 * applied-position statements.  Identifiers take standard quoting
 * (ss_sql_quote_ident).  Catalog queries run through the dialect table
 * (c->d->query, text parameters), placeholders in the caller's style.
 *
 * Leaves to others: running statements, where the rows of an upsert come
 * from (a JSON parameter, a COPY staging table: postgres.c; bound
 * parameters: odbc.c), session settings, the capture DDL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

uint8_t ss_postgres_vtype(const char *typname)
{
	static const struct {
		const char *name;
		uint8_t vtype;
	} map[] = {
		{"int2", SS_V_INT},
		{"int4", SS_V_INT},
		{"int8", SS_V_INT},
		{"oid", SS_V_INT},
		{"numeric", SS_V_NUMERIC},
		{"float4", SS_V_FLOAT},
		{"float8", SS_V_FLOAT},
		{"bool", SS_V_BOOL},
		{"bytea", SS_V_BINARY},
		{"date", SS_V_DATE},
		{"time", SS_V_TIME},
		{"timestamp", SS_V_TIMESTAMP},
		{"timestamptz", SS_V_TIMESTAMPTZ},
		{"json", SS_V_JSON},
		{"jsonb", SS_V_JSON},
		{"uuid", SS_V_UUID},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].name, typname) == 0)
			return map[i].vtype;
	return SS_V_TEXT;
}

/* The server's clock, µs since the epoch (UTC). */
int ss_pg_now_us(struct ss_conn *c, int64_t *us, struct ss_err *err)
{
	return ss_db_query_i64(
		c, "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint", us, err);
}

/* ---- catalog --------------------------------------------------------------- */

static int ti_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct ss_tableinfo *t = arg;
	struct ss_colinfo *col;

	(void)l;
	(void)err;
	if (n < 7 || !v[0])
		return 0;
	t->cols = ss_xrealloc(t->cols, sizeof *t->cols * (size_t)(t->ncols + 1));
	col = &t->cols[t->ncols++];
	memset(col, 0, sizeof *col);
	col->name = ss_xstrdup(v[0]);
	col->type = ss_xstrdup(v[1] ? v[1] : "");
	col->vtype = ss_postgres_vtype(v[2] ? v[2] : "");
	col->nullable = v[3] && v[3][0] == '1';
	col->pk_pos = v[4] ? atoi(v[4]) : 0;
	col->precision = v[5] ? atoi(v[5]) : -1;
	col->scale = v[6] ? atoi(v[6]) : -1;
	return 0;
}

int ss_pg_table_info(struct ss_conn *c, enum ss_ph ph, const char *schema, const char *name,
		     struct ss_tableinfo *out, struct ss_err *err)
{
	/* nullable as an integer: psqlodbc renders booleans as 1/0, libpq as t/f */
	static const char sql[] =
		"SELECT a.attname, format_type(a.atttypid, a.atttypmod),"
		"       CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END,"
		"       (NOT a.attnotnull)::int,"
		"       coalesce((SELECT k.ord FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)"
		"                  WHERE k.attnum = a.attnum), 0),"
		"       CASE WHEN a.atttypid = 'numeric'::regtype AND a.atttypmod > 0"
		"            THEN ((a.atttypmod - 4) >> 16) & 65535"
		"            WHEN a.atttypid IN ('timestamp'::regtype, 'timestamptz'::regtype,"
		"                                'time'::regtype) AND a.atttypmod >= 0"
		"            THEN a.atttypmod END,"
		"       CASE WHEN a.atttypid = 'numeric'::regtype AND a.atttypmod > 0"
		"            THEN (a.atttypmod - 4) & 65535 END"
		"  FROM pg_catalog.pg_attribute a"
		"  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
		"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		"  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
		"  LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype"
		"  LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary"
		" WHERE n.nspname = @1 AND c.relname = @2 AND c.relkind IN ('r', 'p')"
		"   AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''"
		" ORDER BY a.attnum";
	const char *s = schema && *schema ? schema : c->d->default_schema(c);
	const char *params[2] = {s, name};
	struct ss_buf q;
	int rc = -1;

	memset(out, 0, sizeof *out);
	ss_buf_init(&q);
	for (const char *p = sql; *p; p++) {
		if (*p == '@')
			ss_sql_ph(&q, ph, *++p - '0');
		else
			ss_buf_addc(&q, *p);
	}
	if (c->d->query(c, q.data, 2, params, NULL, ti_row, out, err) < 0)
		goto done;
	if (out->ncols == 0) {
		ss_err_set(err, "database %s: table %s.%s does not exist", c->db->name, s, name);
		goto done;
	}
	ss_tableinfo_finish(out, s, name);
	rc = 0;
done:
	if (rc < 0)
		ss_tableinfo_free(out);
	ss_buf_free(&q);
	return rc;
}

int ss_pg_list_tables(struct ss_conn *c, const char *schema_pat, const char *name_pat,
		      char ***schemas, char ***names, int *n, struct ss_err *err)
{
	struct ss_table_list l = {schema_pat ? schema_pat : c->d->default_schema(c), name_pat, NULL,
				  NULL, 0};
	int r = c->d->query(
		c,
		"SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
		" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		" WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition"
		"   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'shadowsync')"
		"   AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2",
		0, NULL, NULL, ss_table_list_row, &l, err);

	return ss_table_list_finish(&l, r, schemas, names, n);
}

/* ---- apply ------------------------------------------------------------------- */

/* An applier's session: triggers and foreign keys of the target stay quiet
 * (replica role), and the position table exists. */
int ss_pg_apply_prepare(struct ss_conn *c, struct ss_err *err)
{
	if (c->d->exec(c, "SET session_replication_role = replica", 0, NULL, NULL, err) < 0) {
		ss_err_prefix(err, "applier needs a role allowed to set session_replication_role "
				   "(superuser, or granted on PostgreSQL 15+)");
		return -1;
	}
	return c->d->exec_script(c, ss_ddl_get("postgres/position.sql"), err);
}

static void qname(const struct ss_tableinfo *t, struct ss_buf *out)
{
	if (t->schema && *t->schema) {
		ss_sql_quote_ident(out, t->schema);
		ss_buf_addc(out, '.');
	}
	ss_sql_quote_ident(out, t->name);
}

void ss_pg_upsert_sql(const struct ss_tableinfo *t, const int *cols, int ncols, const char *rows,
		      int nrows, struct ss_buf *out)
{
	ss_buf_adds(out, "INSERT INTO ");
	qname(t, out);
	ss_buf_adds(out, " (");
	ss_sql_col_list(t, cols, ncols, ss_sql_quote_ident, out);
	if (rows) {
		ss_buf_adds(out, ") ");
		ss_buf_adds(out, rows);
	} else {
		ss_buf_adds(out, ") VALUES ");
		ss_sql_placeholders(out, nrows, ncols);
	}
	ss_sql_on_conflict_update(t, cols, ncols, "EXCLUDED", out);
}

void ss_pg_delete_sql(const struct ss_tableinfo *t, const char *keys, int nrows, struct ss_buf *out)
{
	ss_buf_adds(out, "DELETE FROM ");
	qname(t, out);
	ss_buf_adds(out, " WHERE (");
	ss_sql_col_list(t, t->pk, t->npk, ss_sql_quote_ident, out);
	ss_buf_adds(out, ") IN (");
	if (keys)
		ss_buf_adds(out, keys);
	else if (t->npk == 1)
		for (int r = 0; r < nrows; r++)
			ss_buf_adds(out, r ? ", ?" : "?");
	else
		ss_sql_placeholders(out, nrows, t->npk);
	ss_buf_addc(out, ')');
}

/* The position row (dialects/position.c), fenced by the epoch: one text,
 * with libpq's ($n) or ODBC's (?) placeholders. */
#define PG_POSITION_SQL(P1, P2, P3, P4, P5)                                                   \
	{                                                                                     \
		"SELECT pos, epoch, journal_id FROM shadowsync.applied_position"              \
		" WHERE job = " P1 " AND target = " P2,                                       \
			NULL,                                                                 \
			"INSERT INTO shadowsync.applied_position AS p"                        \
			" (job, target, pos, epoch, journal_id, updated_at)"                  \
			" VALUES (" P1 ", " P2 ", " P3 ", " P4 ", " P5                        \
			", now()) ON CONFLICT (job, target)"                                  \
			" DO UPDATE SET pos = EXCLUDED.pos, epoch = EXCLUDED.epoch,"          \
			" journal_id = EXCLUDED.journal_id, updated_at = EXCLUDED.updated_at" \
			" WHERE p.epoch <= EXCLUDED.epoch RETURNING p.epoch",                 \
	}
const struct ss_position_sql ss_pg_position_sql_dollar =
	PG_POSITION_SQL("$1", "$2", "$3", "$4", "$5");
const struct ss_position_sql ss_pg_position_sql_qmark = PG_POSITION_SQL("?", "?", "?", "?", "?");
