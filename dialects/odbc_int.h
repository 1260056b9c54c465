/*
 * odbc_int.h -- what the files of the ODBC dialect share; not for use
 * outside dialects/odbc*.c (and the unit test of its SQL generation).
 *
 * The ODBC dialect is one set of plumbing (odbc.c: connect, statements with
 * bound parameters, streamed results, transactions, diagnostics) and one
 * struct ss_dialect per SQL flavour behind it: SQLite (odbc_sqlite.c, a
 * capture source and a target), PostgreSQL and MariaDB through their ODBC
 * drivers (odbc_flavors.c, targets, on the engines' SQL in engine.h).  The flavour
 * is picked after connecting, from SQL_DBMS_NAME.
 */
#ifndef SS_ODBC_INT_H
#define SS_ODBC_INT_H

#include <sql.h>
#include <sqlext.h>
#include <string.h>

#include "dialect.h"
#include "engine.h"
#include "sqlite_int.h"

struct odbc_flavour;

struct odbc_conn {
	struct ss_conn base;
	SQLHENV env;
	SQLHDBC dbc;
	const struct odbc_flavour *fl;
	int in_txn;
	char *dbms_name;
	char *dbms_ver;
	char *schema;   /* default schema: main, current_schema(), database() */
	int max_params; /* bound parameters per statement */
	void *fstate;   /* flavour's per-connection state (freed by fl->free_state) */
};

#define ODBC(c) ((struct odbc_conn *)(c))

/* A bound parameter: data NULL = SQL NULL.  Text goes as SQL_C_CHAR with
 * its length, bytes as SQL_C_BINARY, a double as SQL_C_DOUBLE (d; data then
 * only needs to be non-NULL). */
enum odbc_pkind { ODBC_P_TEXT = 0, ODBC_P_BINARY = 1, ODBC_P_DOUBLE = 2 };

struct odbc_param {
	const char *data;
	size_t len;
	int kind; /* enum odbc_pkind */
	double d;
};

/* A NUL-terminated text parameter (NULL: SQL NULL). */
static inline struct odbc_param odbc_text(const char *s)
{
	struct odbc_param p = {s, s ? strlen(s) : 0, ODBC_P_TEXT, 0};
	return p;
}

/* The journal form of a value turned into a parameter for a target column.
 * Returns 0, or -1 with err when the target cannot hold the value (the
 * message names the column; the caller adds table and key). */
typedef int (*odbc_value_fn)(const struct ss_colinfo *col, const struct ss_field *f,
			     struct odbc_param *out, struct ss_buf *scratch, struct ss_err *err);

struct odbc_flavour {
	const struct ss_dialect *d;
	/* Statement that opens a transaction (SQLite: BEGIN IMMEDIATE, so a
	 * capture's read-then-delete never needs a lock upgrade); NULL: the
	 * ODBC way, autocommit off until SQLEndTran. */
	const char *begin_sql;
	/* Session setup right after connecting (time zone, busy timeout, the
	 * default schema); may be NULL. */
	int (*setup)(struct odbc_conn *c, struct ss_err *err);
	/* Is this error worth a retry (lock timeouts, deadlocks, lost
	 * connections beyond SQLSTATE 08xxx)? */
	int (*transient)(const char *sqlstate, long native, const char *msg);
	void (*free_state)(void *state);
	odbc_value_fn value;
	/* Optional: after a failed upsert, say what the engine's error means
	 * (MariaDB: the secondary-unique-key guard tripped). */
	void (*upsert_explain)(const struct ss_tableinfo *t, struct ss_err *err);
	int max_params; /* default per-statement limit on bound parameters */
};

extern const struct odbc_flavour ss_odbc_flavour_sqlite;
extern const struct odbc_flavour ss_odbc_flavour_postgres;
extern const struct odbc_flavour ss_odbc_flavour_mariadb;
extern const struct ss_dialect ss_dialect_odbc_postgres;
extern const struct ss_dialect ss_dialect_odbc_mariadb;

/* --- plumbing shared by every flavour (odbc.c) ---------------------------- */

/* The transport entries of every flavour's dialect table. */
#define SS_ODBC_TRANSPORT                                                                   \
	.connect = ss_odbc_connect, .disconnect = ss_odbc_disconnect, .exec = ss_odbc_exec, \
	.exec_script = ss_odbc_exec_script, .query = ss_odbc_query, .begin = ss_odbc_begin, \
	.commit = ss_odbc_commit, .rollback = ss_odbc_rollback,                             \
	.default_schema = ss_odbc_default_schema, .capture_listen = ss_odbc_capture_listen, \
	.capture_drain = ss_odbc_capture_drain, .apply_upsert = ss_odbc_apply_upsert,       \
	.apply_delete = ss_odbc_apply_delete

void ss_odbc_disconnect(struct ss_conn *c);
/* Run sql with typed parameters; rows (if any) to cb, which may be NULL. */
int ss_odbc_run(struct ss_conn *c, const char *sql, int nparams, const struct odbc_param *params,
		ss_row_cb cb, void *arg, struct ss_err *err) SS_MUST_CHECK;
int ss_odbc_exec(struct ss_conn *c, const char *sql, int nparams, const char *const *params,
		 const size_t *lens, struct ss_err *err);
int ss_odbc_query(struct ss_conn *c, const char *sql, int nparams, const char *const *params,
		  const size_t *lens, ss_row_cb cb, void *arg, struct ss_err *err);
int ss_odbc_exec_script(struct ss_conn *c, const char *sql, struct ss_err *err);
int ss_odbc_begin(struct ss_conn *c, struct ss_err *err);
int ss_odbc_commit(struct ss_conn *c, struct ss_err *err);
int ss_odbc_rollback(struct ss_conn *c, struct ss_err *err);
const char *ss_odbc_default_schema(struct ss_conn *c);
int ss_odbc_capture_listen(struct ss_conn *c, const char *job, struct ss_err *err);
int ss_odbc_capture_drain(struct ss_conn *c, struct ss_err *err);

/* Split a script into statements (quotes, comments and CREATE TRIGGER
 * bodies respected).  Calls fn for each statement without its ';'. */
int ss_odbc_split_script(const char *sql, int (*fn)(void *arg, const char *stmt, size_t len),
			 void *arg);

/* First column of the first row, as a malloc'd string (NULL: no row/NULL). */
int ss_odbc_value(struct ss_conn *c, const char *sql, int nparams, const struct odbc_param *params,
		  char **out, struct ss_err *err) SS_MUST_CHECK;

/* --- apply, shared by the flavours (odbc.c) ------------------------------- */

/* Upsert / delete a batch with the text of the dialect's upsert_sql /
 * delete_sql, in statements of as many rows as the flavour's parameter
 * limit allows; errors name the table (and the key when the value could
 * not be converted). */
int ss_odbc_apply_upsert(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err);
int ss_odbc_apply_delete(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err);

/* "k=v, k2=v2" description of a change's key, for messages. */
void ss_odbc_describe_key(const struct ss_change *ch, struct ss_buf *out);

/* Type-name → vtype by the rules a declared SQL type name suggests (used by
 * SQLite's PRAGMA table_info and as a fallback for information_schema). */
uint8_t ss_odbc_vtype_from_decl(const char *decl);

/* odbc_sqlite_replace.c: "x collides with NEW on a secondary unique index"
 * for the triggers that capture rows REPLACE removes (empty: the table has no
 * such index); the names of unique indexes on expressions, which a trigger
 * cannot match, to skipped. */
int ss_odbc_sqlite_replace_cond(struct ss_conn *c, const struct ss_tableinfo *t,
				struct ss_buf *cond, struct ss_buf *skipped,
				struct ss_err *err) SS_MUST_CHECK;

/* Shortest "%.Ng" text that reads back as the same double. */
void ss_odbc_format_double(double v, struct ss_buf *out);
/* The same digits as a plain decimal, no exponent (journal NUMERIC form). */
void ss_odbc_plain_decimal(double v, struct ss_buf *out);

#endif
