/*
 * odbc_flavors.c -- PostgreSQL and MariaDB/MySQL reached through their ODBC
 * drivers (psqlodbc, MariaDB Connector/ODBC), as targets.
 *
 * The SQL is the engines' own, shared with the native dialects: quoting,
 * catalog queries, upsert / delete text come from
 * postgres_sql.c and mariadb_sql.c (engine.h), so the MariaDB upsert's
 * secondary-unique-key guard holds through either transport.  What is left
 * here is how each driver is reached: session settings, which errors are
 * transient, how a journal value becomes a parameter.  The plumbing is
 * odbc.c's.  Capture
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

#include "engine.h"
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

/* The capture entries of a target-only flavour. */
#define TARGET_ONLY                                                                     \
	.capture_install_sql = no_install_sql, .capture_uninstall_sql = no_install_sql, \
	.capture_fetch = no_fetch, .capture_txn_more = NULL, .capture_delete = no_delete

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

static int pq_table_info(struct ss_conn *c, const char *schema, const char *name,
			 struct ss_tableinfo *out, struct ss_err *err)
{
	return ss_pg_table_info(c, SS_PH_QMARK, schema, name, out, err);
}

static void pq_upsert_sql(const struct ss_tableinfo *t, const int *cols, int ncols, int nrows,
			  struct ss_buf *out)
{
	ss_pg_upsert_sql(t, cols, ncols, NULL, nrows, out);
}

static void pq_delete_sql(const struct ss_tableinfo *t, int nrows, struct ss_buf *out)
{
	ss_pg_delete_sql(t, NULL, nrows, out);
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

static int pq_position_get(struct ss_conn *c, const char *job, const char *target,
			   struct ss_position *p, struct ss_err *err)
{
	return ss_db_position_get(c, &ss_pg_position_sql_qmark, job, target, p, err);
}

static int pq_position_set(struct ss_conn *c, const char *job, const char *target,
			   const struct ss_position *p, struct ss_err *err)
{
	return ss_db_position_set(c, &ss_pg_position_sql_qmark, job, target, p, err);
}

const struct ss_dialect ss_dialect_odbc_postgres = {
	.name = "odbc-postgres",
	SS_ODBC_TRANSPORT,
	TARGET_ONLY,
	.now_us = ss_pg_now_us,
	.table_info = pq_table_info,
	.list_tables = ss_pg_list_tables,
	.quote_ident = ss_sql_quote_ident,
	.apply_prepare = ss_pg_apply_prepare,
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

const struct ss_dialect ss_dialect_odbc_mariadb = {
	.name = "odbc-mariadb",
	SS_ODBC_TRANSPORT,
	TARGET_ONLY,
	.now_us = ss_my_now_us,
	.table_info = ss_my_table_info,
	.list_tables = ss_my_list_tables,
	.quote_ident = ss_my_quote_ident,
	.apply_prepare = my_apply_prepare,
	.position_get = ss_mariadb_position_get, /* dialects/lease.c */
	.position_set = ss_mariadb_position_set,
	.upsert_sql = ss_my_upsert_sql,
	.delete_sql = ss_my_delete_sql,
};

const struct odbc_flavour ss_odbc_flavour_mariadb = {
	.d = &ss_dialect_odbc_mariadb,
	.begin_sql = NULL,
	.setup = my_setup,
	.transient = my_transient,
	.value = my_value,
	.upsert_explain = ss_my_upsert_explain,
	.max_params = 32767,
};
