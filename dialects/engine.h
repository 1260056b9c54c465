/*
 * engine.h -- each SQL engine's text, written once and used by every
 * transport that reaches the engine.
 *
 * A transport (libpq in postgres.c, Connector/C in mariadb*.c, unixODBC in
 * odbc.c) connects, runs statements, streams rows and ends transactions.
 * What an engine's SQL says -- quoting, the catalog queries and the type
 * mapping, the upsert and delete text, the layout of a shadow row -- is here, once per engine:
 *
 *   postgres_sql.c   PostgreSQL: libpq (postgres.c) and psqlodbc
 *   mariadb_sql.c    MariaDB / MySQL: Connector/C and Connector/ODBC
 *   odbc_sqlite.c    SQLite (one transport: its ODBC driver)
 *
 * Catalog functions take a connection and run their queries through the
 * dialect table (c->d->query, text parameters), so the same function
 * serves either transport.  Not for use outside dialects/.
 */
#ifndef SS_ENGINE_H
#define SS_ENGINE_H

#include "dialect.h"

/* How a transport writes a bound parameter: "?" (Connector/C, ODBC) or
 * "$n" (libpq). */
enum ss_ph { SS_PH_QMARK, SS_PH_DOLLAR };
/* Parameter n (1-based) in style ph. */
void ss_sql_ph(struct ss_buf *out, enum ss_ph ph, int n);
/* "(?, ?), (?, ?)": nrows groups of ncols placeholders. */
void ss_sql_placeholders(struct ss_buf *out, int nrows, int ncols);

/* ---- shadow rows -----------------------------------------------------------
 * A capture_fetch query returns id, txid, schema_name, table_name, op,
 * key_image, row_image, captured_at (µs since the epoch, UTC), in this
 * order; ss_shadow_fetch_row (a row callback, arg a struct ss_shadow_fetch)
 * decodes one and hands it on. */
struct ss_shadow_fetch {
	ss_shadow_cb cb;
	void *arg;
	int text_values; /* the images hold every value as its text form */
};
int ss_shadow_fetch_row(void *arg, int n, const char *const *v, const size_t *l,
			struct ss_err *err);
/* The decoding alone: 1 with *r filled (pointing into v), 0 when the row
 * is not a shadow row (too few columns, a NULL where none may be). */
int ss_shadow_row_decode(int n, const char *const *v, const size_t *l, struct ss_shadow_row *r);

/* ---- PostgreSQL (postgres_sql.c) ------------------------------------------ */

/* pg_type.typname -> journal form. */
uint8_t ss_postgres_vtype(const char *typname);
/* The position statements with libpq's ($n) and ODBC's (?) placeholders. */
extern const struct ss_position_sql ss_pg_position_sql_dollar;
extern const struct ss_position_sql ss_pg_position_sql_qmark;
/* PostgreSQL: the row image of record rec (an alias or OLD/NEW) as the
 * capture writes it, each column's own text form (keys_only: the key). */
void ss_postgres_image_expr(const struct ss_tableinfo *t, const char *rec, int keys_only,
			    struct ss_buf *out);
int ss_pg_now_us(struct ss_conn *c, int64_t *us, struct ss_err *err);
int ss_pg_table_info(struct ss_conn *c, enum ss_ph ph, const char *schema, const char *name,
		     struct ss_tableinfo *out, struct ss_err *err);
int ss_pg_list_tables(struct ss_conn *c, const char *schema_pat, const char *name_pat,
		      char ***schemas, char ***names, int *n, struct ss_err *err);
/* Session settings of an applier and the position table (apply_prepare). */
int ss_pg_apply_prepare(struct ss_conn *c, struct ss_err *err);
/* INSERT INTO t (cols) <rows> ON CONFLICT (key) DO UPDATE ...; rows is a
 * query giving the columns cols (libpq: from a JSON parameter or a staging
 * table), or NULL: VALUES with nrows groups of "?". */
void ss_pg_upsert_sql(const struct ss_tableinfo *t, const int *cols, int ncols, const char *rows,
		      int nrows, struct ss_buf *out);
/* DELETE FROM t WHERE (key) IN (<keys>); keys is a query giving the key
 * columns, or NULL: nrows "?" (one key column) or row constructors
 * "(?, ?)" (untyped parameters take the key columns' types). */
void ss_pg_delete_sql(const struct ss_tableinfo *t, const char *keys, int nrows,
		      struct ss_buf *out);

/* ---- MariaDB / MySQL (mariadb_sql.c) -------------------------------------- */

void ss_my_quote_ident(struct ss_buf *out, const char *ident);
int ss_my_now_us(struct ss_conn *c, int64_t *us, struct ss_err *err);
/* A string literal that reads the same whatever NO_BACKSLASH_ESCAPES says. */
void ss_my_quote_literal(struct ss_buf *out, const char *s);
int ss_my_table_info(struct ss_conn *c, const char *schema, const char *name,
		     struct ss_tableinfo *out, struct ss_err *err);
int ss_my_list_tables(struct ss_conn *c, const char *schema_pat, const char *name_pat,
		      char ***schemas, char ***names, int *n, struct ss_err *err);
/* Multi-row INSERT ... ON DUPLICATE KEY UPDATE ("?" placeholders), with the
 * guard that makes a conflict on a secondary unique key an error instead
 * of an overwrite of another row (doc/types.md). */
void ss_my_upsert_sql(const struct ss_tableinfo *t, const int *cols, int ncols, int nrows,
		      struct ss_buf *out);
void ss_my_delete_sql(const struct ss_tableinfo *t, int nrows, struct ss_buf *out);
/* After a failed upsert: name a tripped guard in err's message. */
void ss_my_upsert_explain(const struct ss_tableinfo *t, struct ss_err *err);

#endif
