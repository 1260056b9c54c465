/*
 * odbc_flavors.c -- PostgreSQL and MariaDB/MySQL reached through their ODBC
 * drivers (psqlodbc, MariaDB Connector/ODBC), as targets.
 *
 * Each flavour has its own quoting, introspection, upsert and delete text,
 * position table and session settings; the plumbing is odbc.c's.  Capture
 * from these databases is the native dialects' job (driver = postgres /
 * mariadb): the trigger DDL and NOTIFY wake-ups need their client libraries,
 * so the capture entries here refuse with that advice.
 *
 * Parameters go untyped (SQL_VARCHAR text); both servers resolve them
 * against the target column as they would a quoted literal, so no CASTs
 * (which would truncate varchar(n) silently) appear in the SQL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odbc_int.h"

static int refuse_capture(struct ss_conn *c, struct ss_err *err)
{
	ss_err_set(err,
		   "database %s: capture through ODBC is implemented for SQLite only; use "
		   "driver = %s for a capture source",
		   c->db->name, c->d == &ss_dialect_odbc_postgres ? "postgres" : "mariadb");
	return -1;
}

static int no_install_sql(struct ss_conn *c, const char *job, const struct ss_tableinfo *tables,
			  int n, struct ss_buf *out, struct ss_err *err)
{
	(void)job;
	(void)tables;
	(void)n;
	(void)out;
	return refuse_capture(c, err);
}

static int no_fetch(struct ss_conn *c, const char *job, int limit, ss_shadow_cb cb, void *arg,
		    struct ss_err *err)
{
	(void)job;
	(void)limit;
	(void)cb;
	(void)arg;
	return refuse_capture(c, err);
}

static int no_delete(struct ss_conn *c, const char *job, const uint64_t *ids, int n,
		     struct ss_err *err)
{
	(void)job;
	(void)ids;
	(void)n;
	return refuse_capture(c, err);
}

static int field_is(const struct ss_field *f, const char *s)
{
	return f->len == strlen(s) && memcmp(f->data, s, f->len) == 0;
}

/* Bytes for a binary column; "\x..." hex text for any other (the form the
 * native PostgreSQL dialect writes too). */
static void binary_param(const struct ss_colinfo *col, const struct ss_field *f,
			 struct odbc_param *out, struct ss_buf *scratch)
{
	if (col->vtype == SS_V_BINARY) {
		out->kind = ODBC_P_BINARY;
		return;
	}
	ss_buf_adds(scratch, "\\x");
	ss_hex_encode((const uint8_t *)f->data, f->len, scratch);
	out->data = scratch->data;
	out->len = scratch->len;
}

static int int_value(const char *s, size_t n)
{
	char b[16];

	snprintf(b, sizeof b, "%.*s", (int)(n < 15 ? n : 15), s);
	return atoi(b);
}

/* ======================================================================== */
/* PostgreSQL                                                               */
/* ======================================================================== */

static int pq_setup(struct odbc_conn *c, struct ss_err *err)
{
	static const char *const set[] = {"SET TimeZone = 'UTC'", "SET DateStyle = 'ISO'",
					  "SET IntervalStyle = 'postgres'",
					  "SET extra_float_digits = 3", NULL};

	for (int i = 0; set[i]; i++)
		if (ss_odbc_run(&c->base, set[i], 0, NULL, NULL, NULL, err) < 0)
			return -1;
	if (ss_odbc_value(&c->base, "SELECT current_schema()", 0, NULL, &c->schema, err) < 0)
		return -1;
	if (!c->schema)
		c->schema = ss_xstrdup("public");
	return 0;
}

static int pq_transient(const char *state, long native, const char *msg)
{
	(void)native;
	(void)msg;
	/* lock_timeout 55P03, statement_timeout 57014 */
	return strncmp(state, "57P", 3) == 0 || strncmp(state, "53", 2) == 0 ||
	       strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0;
}

static int pq_now_us(struct ss_conn *c, int64_t *us, struct ss_err *err)
{
	char *v = NULL;

	if (ss_odbc_value(c, "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint", 0,
			  NULL, &v, err) < 0)
		return -1;
	*us = v ? strtoll(v, NULL, 10) : 0;
	free(v);
	return 0;
}

static int pq_ti_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
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
	col->nullable = v[3] && (v[3][0] == '1' || v[3][0] == 't');
	col->pk_pos = v[4] ? atoi(v[4]) : 0;
	col->precision = v[5] ? atoi(v[5]) : -1;
	col->scale = v[6] ? atoi(v[6]) : -1;
	return 0;
}

static int pq_table_info(struct ss_conn *c, const char *schema, const char *name,
			 struct ss_tableinfo *out, struct ss_err *err)
{
	/* the native dialect's catalog query; booleans as integers because
	 * psqlodbc renders them as 1/0 */
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
		" WHERE n.nspname = ? AND c.relname = ? AND c.relkind IN ('r', 'p')"
		"   AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''"
		" ORDER BY a.attnum";
	const char *s = schema && *schema ? schema : ss_odbc_default_schema(c);
	struct odbc_param p[2] = {odbc_text(s), odbc_text(name)};

	memset(out, 0, sizeof *out);
	if (ss_odbc_run(c, sql, 2, p, pq_ti_row, out, err) < 0) {
		ss_tableinfo_free(out);
		return -1;
	}
	if (out->ncols == 0) {
		ss_err_set(err, "database %s: table %s.%s does not exist", c->db->name, s, name);
		return -1;
	}
	out->schema = ss_xstrdup(s);
	out->name = ss_xstrdup(name);
	ss_tableinfo_finish_pk(out);
	return 0;
}

static int pq_list_tables(struct ss_conn *c, const char *schema_pat, const char *name_pat,
			  char ***schemas, char ***names, int *n, struct ss_err *err)
{
	return ss_odbc_list_tables_is(c, schema_pat, name_pat,
				      "'pg_catalog', 'information_schema', 'shadowsync'", schemas,
				      names, n, err);
}

static int pq_apply_prepare(struct ss_conn *c, struct ss_err *err)
{
	if (ss_odbc_run(c, "SET session_replication_role = replica", 0, NULL, NULL, NULL, err) <
	    0) {
		ss_err_prefix(err, "applier needs a role allowed to set session_replication_role "
				   "(superuser, or granted on PostgreSQL 15+)");
		return -1;
	}
	/* the same position table as the native dialect */
	return ss_odbc_exec_script(c, ss_ddl_get("postgres/position.sql"), err);
}

static void pq_upsert_sql(const struct ss_tableinfo *t, const int *cols, int ncols, int nrows,
			  struct ss_buf *out)
{
	ss_buf_adds(out, "INSERT INTO ");
	ss_tableinfo_qname(&ss_dialect_odbc_postgres, t->schema, t->name, out);
	ss_buf_adds(out, " (");
	ss_sql_col_list(t, cols, ncols, ss_sql_quote_ident, out);
	ss_buf_adds(out, ") VALUES ");
	ss_odbc_placeholders(out, nrows, ncols);
	ss_sql_on_conflict_update(t, cols, ncols, "EXCLUDED", out);
}

/* DELETE ... WHERE k IN (?, ?) or (a, b) IN ((?, ?), (?, ?)): row
 * constructors rather than VALUES, so untyped parameters take the key
 * columns' types.  Shared by both flavours. */
static void delete_sql(const struct ss_dialect *d, const struct ss_tableinfo *t, int nrows,
		       struct ss_buf *out)
{
	ss_buf_adds(out, "DELETE FROM ");
	ss_tableinfo_qname(d, t->schema, t->name, out);
	ss_buf_adds(out, " WHERE ");
	if (t->npk == 1) {
		d->quote_ident(out, t->cols[t->pk[0]].name);
		ss_buf_adds(out, " IN (");
		for (int r = 0; r < nrows; r++)
			ss_buf_adds(out, r ? ", ?" : "?");
		ss_buf_addc(out, ')');
		return;
	}
	ss_buf_addc(out, '(');
	ss_sql_col_list(t, t->pk, t->npk, d->quote_ident, out);
	ss_buf_adds(out, ") IN (");
	ss_odbc_placeholders(out, nrows, t->npk);
	ss_buf_addc(out, ')');
}

static void pq_delete_sql(const struct ss_tableinfo *t, int nrows, struct ss_buf *out)
{
	delete_sql(&ss_dialect_odbc_postgres, t, nrows, out);
}

/* PostgreSQL reads every journal form as it is (it is the reference). */
static int pq_value(const struct ss_colinfo *col, const struct ss_field *f, struct odbc_param *out,
		    struct ss_buf *scratch, struct ss_err *err)
{
	(void)err;
	out->data = f->data;
	out->len = f->len;
	out->kind = ODBC_P_TEXT;
	if (f->type == SS_V_BINARY)
		binary_param(col, f, out, scratch);
	return 0;
}

static int pq_apply_upsert(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err)
{
	return ss_odbc_apply_upsert(c, b, pq_upsert_sql, err);
}

static int pq_apply_delete(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err)
{
	return ss_odbc_apply_delete(c, b, pq_delete_sql, err);
}

/* The native dialect's statements, with ODBC's placeholders. */
static const struct ss_position_sql pq_position_sql = {
	"SELECT pos, epoch, journal_id FROM shadowsync.applied_position"
	" WHERE job = ? AND target = ?",
	NULL,
	"INSERT INTO shadowsync.applied_position AS p"
	" (job, target, pos, epoch, journal_id, updated_at)"
	" VALUES (?, ?, ?, ?, ?, now()) ON CONFLICT (job, target)"
	" DO UPDATE SET pos = EXCLUDED.pos, epoch = EXCLUDED.epoch,"
	" journal_id = EXCLUDED.journal_id, updated_at = EXCLUDED.updated_at"
	" WHERE p.epoch <= EXCLUDED.epoch RETURNING p.epoch",
};

static int pq_position_get(struct ss_conn *c, const char *job, const char *target,
			   struct ss_position *p, struct ss_err *err)
{
	return ss_db_position_get(c, &pq_position_sql, job, target, p, err);
}

static int pq_position_set(struct ss_conn *c, const char *job, const char *target,
			   const struct ss_position *p, struct ss_err *err)
{
	return ss_db_position_set(c, &pq_position_sql, job, target, p, err);
}

const struct ss_dialect ss_dialect_odbc_postgres = {
	.name = "odbc-postgres",
	.connect = ss_odbc_connect,
	.disconnect = ss_odbc_disconnect,
	.exec = ss_odbc_exec,
	.exec_script = ss_odbc_exec_script,
	.query = ss_odbc_query,
	.begin = ss_odbc_begin,
	.commit = ss_odbc_commit,
	.rollback = ss_odbc_rollback,
	.now_us = pq_now_us,
	.default_schema = ss_odbc_default_schema,
	.table_info = pq_table_info,
	.list_tables = pq_list_tables,
	.quote_ident = ss_sql_quote_ident,
	.capture_install_sql = no_install_sql,
	.capture_uninstall_sql = no_install_sql,
	.capture_listen = ss_odbc_capture_listen,
	.capture_drain = ss_odbc_capture_drain,
	.capture_fetch = no_fetch,
	.capture_txn_more = NULL,
	.capture_delete = no_delete,
	.apply_prepare = pq_apply_prepare,
	.apply_upsert = pq_apply_upsert,
	.apply_delete = pq_apply_delete,
	.position_get = pq_position_get,
	.position_set = pq_position_set,
	.upsert_sql = pq_upsert_sql,
	.delete_sql = pq_delete_sql,
};

const struct odbc_flavour ss_odbc_flavour_postgres = {
	.d = &ss_dialect_odbc_postgres,
	.begin_sql = NULL,
	.setup = pq_setup,
	.transient = pq_transient,
	.value = pq_value,
	.max_params = 32767,
};

/* ======================================================================== */
/* MariaDB / MySQL                                                          */
/* ======================================================================== */

static void my_quote_ident(struct ss_buf *out, const char *ident)
{
	ss_buf_addc(out, '`');
	for (const char *p = ident; *p; p++) {
		if (*p == '`')
			ss_buf_addc(out, '`');
		ss_buf_addc(out, *p);
	}
	ss_buf_addc(out, '`');
}

static int my_setup(struct odbc_conn *c, struct ss_err *err)
{
	if (ss_odbc_run(&c->base, "SET time_zone = '+00:00'", 0, NULL, NULL, NULL, err) < 0 ||
	    ss_odbc_value(&c->base, "SELECT DATABASE()", 0, NULL, &c->schema, err) < 0)
		return -1;
	if (!c->schema) {
		ss_err_set(err,
			   "database %s: no default database; add Database=NAME to the ODBC "
			   "connection string",
			   c->base.db->name);
		return -1;
	}
	return 0;
}

static int my_transient(const char *state, long native, const char *msg)
{
	(void)state;
	(void)msg;
	/* lock wait timeout, deadlock, server gone / lost, connection killed,
	 * max_statement_time (MariaDB) / max_execution_time (MySQL) exceeded */
	return native == 1205 || native == 1213 || native == 2006 || native == 2013 ||
	       native == 1927 || native == 2002 || native == 2003 || native == 1969 ||
	       native == 3024;
}

static int my_now_us(struct ss_conn *c, int64_t *us, struct ss_err *err)
{
	char *v = NULL;

	if (ss_odbc_value(c, "SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)", 0, NULL, &v,
			  err) < 0)
		return -1;
	*us = v ? strtoll(v, NULL, 10) : 0;
	free(v);
	return 0;
}

static uint8_t my_vtype(const char *data_type, const char *column_type)
{
	static const struct {
		const char *name;
		uint8_t vtype;
	} map[] = {
		{"tinyint", SS_V_INT},        {"smallint", SS_V_INT},
		{"mediumint", SS_V_INT},      {"int", SS_V_INT},
		{"integer", SS_V_INT},        {"bigint", SS_V_INT},
		{"decimal", SS_V_NUMERIC},    {"numeric", SS_V_NUMERIC},
		{"float", SS_V_FLOAT},        {"double", SS_V_FLOAT},
		{"binary", SS_V_BINARY},      {"varbinary", SS_V_BINARY},
		{"tinyblob", SS_V_BINARY},    {"blob", SS_V_BINARY},
		{"mediumblob", SS_V_BINARY},  {"longblob", SS_V_BINARY},
		{"date", SS_V_DATE},          {"time", SS_V_TIME},
		{"datetime", SS_V_TIMESTAMP}, {"timestamp", SS_V_TIMESTAMP},
		{"json", SS_V_JSON},          {"uuid", SS_V_UUID},
	};
	if (strcmp(data_type, "tinyint") == 0 && strncmp(column_type, "tinyint(1)", 10) == 0)
		return SS_V_BOOL;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].name, data_type) == 0)
			return map[i].vtype;
	return SS_V_TEXT;
}

static int my_ti_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct ss_tableinfo *t = arg;
	struct ss_colinfo *col;

	(void)l;
	(void)err;
	/* name, column_type, data_type, is_nullable, precision, scale, dt precision,
	 * pk position, extra */
	if (n < 9 || !v[0])
		return 0;
	if (v[8] && strstr(v[8], "GENERATED"))
		return 0; /* generated columns cannot be written */
	t->cols = ss_xrealloc(t->cols, sizeof *t->cols * (size_t)(t->ncols + 1));
	col = &t->cols[t->ncols++];
	memset(col, 0, sizeof *col);
	col->name = ss_xstrdup(v[0]);
	col->type = ss_xstrdup(v[1] ? v[1] : "");
	col->vtype = my_vtype(v[2] ? v[2] : "", v[1] ? v[1] : "");
	col->nullable = v[3] && strcmp(v[3], "YES") == 0;
	col->precision = v[4] ? int_value(v[4], l[4]) : v[6] ? int_value(v[6], l[6]) : -1;
	col->scale = v[5] ? int_value(v[5], l[5]) : -1;
	col->pk_pos = v[7] ? atoi(v[7]) : 0;
	return 0;
}

static int my_table_info(struct ss_conn *c, const char *schema, const char *name,
			 struct ss_tableinfo *out, struct ss_err *err)
{
	static const char sql[] =
		"SELECT c.column_name, c.column_type, c.data_type, c.is_nullable,"
		"       c.numeric_precision, c.numeric_scale, c.datetime_precision,"
		"       (SELECT k.ordinal_position FROM information_schema.key_column_usage k"
		"         WHERE k.table_schema = c.table_schema AND k.table_name = c.table_name"
		"           AND k.column_name = c.column_name AND k.constraint_name = 'PRIMARY'),"
		"       c.extra"
		"  FROM information_schema.columns c"
		"  JOIN information_schema.tables t ON t.table_schema = c.table_schema"
		"   AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'"
		" WHERE c.table_schema = ? AND c.table_name = ?"
		" ORDER BY c.ordinal_position";
	const char *s = schema && *schema ? schema : ss_odbc_default_schema(c);
	struct odbc_param p[2] = {odbc_text(s), odbc_text(name)};

	memset(out, 0, sizeof *out);
	if (ss_odbc_run(c, sql, 2, p, my_ti_row, out, err) < 0) {
		ss_tableinfo_free(out);
		return -1;
	}
	if (out->ncols == 0) {
		ss_err_set(err, "database %s: table %s.%s does not exist", c->db->name, s, name);
		return -1;
	}
	out->schema = ss_xstrdup(s);
	out->name = ss_xstrdup(name);
	ss_tableinfo_finish_pk(out);
	return 0;
}

static int my_list_tables(struct ss_conn *c, const char *schema_pat, const char *name_pat,
			  char ***schemas, char ***names, int *n, struct ss_err *err)
{
	return ss_odbc_list_tables_is(
		c, schema_pat, name_pat,
		"'mysql', 'information_schema', 'performance_schema', 'sys', 'shadowsync'", schemas,
		names, n, err);
}

static int my_apply_prepare(struct ss_conn *c, struct ss_err *err)
{
	static const char *const set[] = {
		"SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,"
		"NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO'",
		"SET SESSION foreign_key_checks = 0", NULL};
	const char *pos_sql = ss_ddl_get("mariadb/position.sql");

	for (int i = 0; set[i]; i++)
		if (ss_odbc_run(c, set[i], 0, NULL, NULL, NULL, err) < 0)
			return -1;
	if (!pos_sql) {
		ss_err_set(err, "database %s: this build lacks ddl/mariadb/position.sql",
			   c->db->name);
		return -1;
	}
	/* the same position table as the native dialect */
	return ss_odbc_exec_script(c, pos_sql, err);
}

static void my_upsert_sql(const struct ss_tableinfo *t, const int *cols, int ncols, int nrows,
			  struct ss_buf *out)
{
	int nonkey = 0;

	ss_buf_adds(out, "INSERT INTO ");
	ss_tableinfo_qname(&ss_dialect_odbc_mariadb, t->schema, t->name, out);
	ss_buf_adds(out, " (");
	ss_sql_col_list(t, cols, ncols, my_quote_ident, out);
	ss_buf_adds(out, ") VALUES ");
	ss_odbc_placeholders(out, nrows, ncols);
	ss_buf_adds(out, " ON DUPLICATE KEY UPDATE ");
	for (int i = 0; i < ncols; i++) {
		if (t->cols[cols[i]].pk_pos)
			continue;
		if (nonkey++)
			ss_buf_adds(out, ", ");
		my_quote_ident(out, t->cols[cols[i]].name);
		ss_buf_adds(out, " = VALUES(");
		my_quote_ident(out, t->cols[cols[i]].name);
		ss_buf_addc(out, ')');
	}
	if (!nonkey && t->npk > 0) { /* keys only: nothing to update */
		my_quote_ident(out, t->cols[t->pk[0]].name);
		ss_buf_adds(out, " = ");
		my_quote_ident(out, t->cols[t->pk[0]].name);
	}
}

static void my_delete_sql(const struct ss_tableinfo *t, int nrows, struct ss_buf *out)
{
	delete_sql(&ss_dialect_odbc_mariadb, t, nrows, out);
}

static int is_numeric_col(const struct ss_colinfo *col)
{
	return col->vtype == SS_V_FLOAT || col->vtype == SS_V_NUMERIC || col->vtype == SS_V_INT ||
	       col->vtype == SS_V_BOOL;
}

/* Journal form -> MariaDB input: bytes for binary columns, timestamps
 * without the "+00" (the session is UTC), and no NaN / infinities. */
static int my_value(const struct ss_colinfo *col, const struct ss_field *f, struct odbc_param *out,
		    struct ss_buf *scratch, struct ss_err *err)
{
	out->data = f->data;
	out->len = f->len;
	out->kind = ODBC_P_TEXT;
	switch (f->type) {
	case SS_V_BINARY: binary_param(col, f, out, scratch); break;
	case SS_V_FLOAT:
	case SS_V_NUMERIC:
		if (is_numeric_col(col) &&
		    (field_is(f, "NaN") || field_is(f, "Infinity") || field_is(f, "-Infinity"))) {
			ss_err_set(err, "column %s: MariaDB cannot store %.*s", col->name,
				   (int)f->len, f->data);
			return -1;
		}
		break;
	case SS_V_TIMESTAMPTZ:
		if ((col->vtype == SS_V_TIMESTAMP || col->vtype == SS_V_TIMESTAMPTZ ||
		     col->vtype == SS_V_DATE) &&
		    f->len > 3 && memcmp(f->data + f->len - 3, "+00", 3) == 0)
			out->len = f->len - 3;
		break;
	default: break;
	}
	return 0;
}

static int my_apply_upsert(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err)
{
	return ss_odbc_apply_upsert(c, b, my_upsert_sql, err);
}

static int my_apply_delete(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err)
{
	return ss_odbc_apply_delete(c, b, my_delete_sql, err);
}

/* the native dialect's statements (dialects/mariadb_lease.c) */
const struct ss_dialect ss_dialect_odbc_mariadb = {
	.name = "odbc-mariadb",
	.connect = ss_odbc_connect,
	.disconnect = ss_odbc_disconnect,
	.exec = ss_odbc_exec,
	.exec_script = ss_odbc_exec_script,
	.query = ss_odbc_query,
	.begin = ss_odbc_begin,
	.commit = ss_odbc_commit,
	.rollback = ss_odbc_rollback,
	.now_us = my_now_us,
	.default_schema = ss_odbc_default_schema,
	.table_info = my_table_info,
	.list_tables = my_list_tables,
	.quote_ident = my_quote_ident,
	.capture_install_sql = no_install_sql,
	.capture_uninstall_sql = no_install_sql,
	.capture_listen = ss_odbc_capture_listen,
	.capture_drain = ss_odbc_capture_drain,
	.capture_fetch = no_fetch,
	.capture_txn_more = NULL,
	.capture_delete = no_delete,
	.apply_prepare = my_apply_prepare,
	.apply_upsert = my_apply_upsert,
	.apply_delete = my_apply_delete,
	.position_get = ss_mariadb_position_get, /* dialects/lease.c */
	.position_set = ss_mariadb_position_set,
	.upsert_sql = my_upsert_sql,
	.delete_sql = my_delete_sql,
};

const struct odbc_flavour ss_odbc_flavour_mariadb = {
	.d = &ss_dialect_odbc_mariadb,
	.begin_sql = NULL,
	.setup = my_setup,
	.transient = my_transient,
	.value = my_value,
	.max_params = 32767,
};
