/*
 * dialect.h -- the one function table every database implements.
 *
 * Everything that knows a database's syntax or client library lives behind
 * struct ss_dialect: connecting, running statements with bound parameters,
 * streaming results, transactions, catalog introspection, identifier
 * quoting, the capture DDL, reading and consuming shadow rows, and applying
 * batches of upserts and deletes.  Code outside dialects/ never branches on
 * the kind of database; it calls through this table.
 *
 * Conventions shared by every implementation:
 *  - parameters are text (NULL pointer = SQL NULL) with explicit lengths, so
 *    binary-safe; values are never spliced into SQL text;
 *  - result rows arrive through a callback as text values (NULL = SQL NULL);
 *  - every failure fills struct ss_err with the database's message, the
 *    SQLSTATE where there is one, `transient` set when retrying may help
 *    (connection lost, deadlock, serialization failure), and names the
 *    database (and table/statement where known).
 */
#ifndef SS_DIALECT_H
#define SS_DIALECT_H

#include <stddef.h>
#include <stdint.h>

#include "change.h"
#include "config.h"
#include "err.h"
#include "util.h"

struct ss_dialect;

/* Every connection struct starts with this header. */
struct ss_conn {
	const struct ss_dialect *d;
	const struct ss_dbconf *db; /* for messages: db->name */
};

struct ss_colinfo {
	char *name;
	char *type;    /* native type as the catalog spells it, e.g. numeric(38,10) */
	uint8_t vtype; /* enum ss_vtype: the journal form of its values */
	int nullable;
	int pk_pos;    /* 0: not in the primary key; else 1-based position */
	int precision; /* numeric precision / fractional-second digits; -1 unknown */
	int scale;     /* numeric scale; -1 unknown */
};

struct ss_tableinfo {
	char *schema;
	char *name;
	struct ss_colinfo *cols;
	int ncols;
	int *pk; /* indexes into cols, in key order */
	int npk;
};

void ss_tableinfo_free(struct ss_tableinfo *t);
/* Fill t->pk / t->npk from the columns' pk_pos (after introspection). */
void ss_tableinfo_finish_pk(struct ss_tableinfo *t);
/* After introspection: t's schema and name (copied), and its key. */
void ss_tableinfo_finish(struct ss_tableinfo *t, const char *schema, const char *name);
int ss_tableinfo_col(const struct ss_tableinfo *t, const char *name); /* index or -1 */
/* "schema.table" with both parts quoted through the dialect. */
void ss_tableinfo_qname(const struct ss_dialect *d, const char *schema, const char *name,
			struct ss_buf *out);

/* Result row callback: return 0 to continue, 1 to stop early, -1 on error
 * (err filled by the callback). */
typedef int (*ss_row_cb)(void *arg, int ncols, const char *const *vals, const size_t *lens,
			 struct ss_err *err);

/* One shadow row as read by the capture. */
struct ss_shadow_row {
	uint64_t id;
	uint64_t txid; /* 0 when the source exposes none */
	const char *schema, *table;
	char op;               /* I, U, D */
	const char *key_image; /* JSON object, primary key columns */
	size_t key_len;
	const char *row_image; /* JSON object, full new row (NULL for D) */
	size_t row_len;
	int text_values; /* every image value is its text form (ss_image_parse_text) */
	int64_t captured_us;
};
typedef int (*ss_shadow_cb)(void *arg, const struct ss_shadow_row *r, struct ss_err *err);

/* What an applier hands the dialect: the target table, and changes that all
 * belong to it.  For upserts every change is I/U with a full row image; the
 * columns written are cols[0..ncols) (the source row's columns that the
 * target also has, exclusions removed).  For deletes only the key is used. */
struct ss_apply_batch {
	const struct ss_tableinfo *target;
	const int *cols; /* indexes into target->cols */
	int ncols;
	struct ss_change *const *changes;
	int n;
};

/* A target's position row: the journal position applied, the epoch of the
 * job lease it was written under, and the identity of the journal the
 * position belongs to ("" in a row written before identities existed). */
#define SS_JOURNAL_ID_MAX 64
struct ss_position {
	uint64_t pos;
	uint64_t epoch;
	char journal_id[SS_JOURNAL_ID_MAX];
};

/* The job lease row in a source (replicator/lease.c has the protocol). */
struct ss_lease_row {
	uint64_t epoch; /* bumped on every acquisition; 0: no row yet */
	char owner[256];
	char journal_id[SS_JOURNAL_ID_MAX];
	char journal_dir[4096];
};

struct ss_lease_ops {
	/* 1: the lock is held by the session (released when the connection
	 * ends, e.g. the owner is killed); 0: a row with an expiry, which the
	 * owner renews and a standby may take over once it has expired. */
	int session;
	/* Try to take the job's lease on this connection, without waiting.
	 * Returns 1 taken: the epoch was bumped and committed, *prev holds the
	 * row as the previous owner left it and *epoch the new epoch; 0 held by
	 * another process; -1 error. */
	int (*acquire)(struct ss_conn *c, const char *job, const char *owner, int64_t ttl_us,
		       struct ss_lease_row *prev, uint64_t *epoch, struct ss_err *err);
	/* Still ours?  Extends the expiry and records the owner's journal.
	 * 1 yes, 0 lost (the epoch moved on), -1 error. */
	int (*renew)(struct ss_conn *c, const char *job, const struct ss_lease_row *me,
		     int64_t ttl_us, struct ss_err *err);
	/* Give it up now (a standby need not wait for the expiry). */
	int (*release)(struct ss_conn *c, const char *job, uint64_t epoch, struct ss_err *err);
	/* The lease row was reset (a target holds a higher epoch): move our
	 * epoch from `from` up to `to`.  1 done, 0 not ours any more, -1 error. */
	int (*raise)(struct ss_conn *c, const char *job, uint64_t from, uint64_t to,
		     struct ss_err *err);
};
/* dialects/lease.c: each engine's lease SQL, and MariaDB's position SQL (shared
 * by its native and ODBC transports) */
extern const struct ss_lease_ops ss_pg_lease_ops;
extern const struct ss_lease_ops ss_mariadb_lease_ops;
extern const struct ss_lease_ops ss_sqlite_lease_ops;
int ss_mariadb_position_get(struct ss_conn *c, const char *job, const char *target,
			    struct ss_position *p, struct ss_err *err);
int ss_mariadb_position_set(struct ss_conn *c, const char *job, const char *target,
			    const struct ss_position *p, struct ss_err *err);

/* Shared by the dialects' position_get / position_set, through c->d->query
 * with text parameters.  get: (job, target) -> pos, epoch, journal_id.
 * set: (job, target, pos, epoch, journal_id) writing the row only when its
 * epoch is not higher, returning a row when it wrote (RETURNING); or, where
 * the engine has no conditional upsert, lock: (job, target) -> the stored
 * epoch, locked for the transaction, and set an unconditional upsert. */
struct ss_position_sql {
	const char *get, *lock, *set;
};
int ss_db_position_get(struct ss_conn *c, const struct ss_position_sql *s, const char *job,
		       const char *target, struct ss_position *p, struct ss_err *err) SS_MUST_CHECK;
int ss_db_position_set(struct ss_conn *c, const struct ss_position_sql *s, const char *job,
		       const char *target, const struct ss_position *p,
		       struct ss_err *err) SS_MUST_CHECK;

/* Timestamp-column capture (replicator/poller.c): what one poll reads. */
struct ss_poll_spec {
	const struct ss_tableinfo *t;
	const char *ts_col;          /* the timestamp column */
	const char *soft_delete_col; /* NULL or "": none */
};

/* Where a poll query starts (see ss_poll_ops.select_sql). */
enum ss_poll_from { SS_POLL_FROM_START, SS_POLL_FROM_TS, SS_POLL_FROM_KEY };

struct ss_poll_ops {
	/* Rows in (ts, key) order, at most limit, ts <= the last parameter
	 * (the upper bound).  Parameters by `from`:
	 *   START: (upper)                      every row up to upper
	 *   TS:    (lower, upper)               ts >= lower
	 *   KEY:   (ts, key1..keyN, upper)      (ts, key) > (ts, key1..keyN)
	 * Timestamps as ts_param() formats them, keys as result columns 3.. gave
	 * them.  Result columns: 0 the row image (a JSON object, the same form
	 * the capture trigger writes, for ss_image_parse), 1 ts in µs since the
	 * epoch (UTC), 2 "1" when the row is soft-deleted else "0", 3.. the key
	 * columns as text in key order, each as the row image writes it.
	 * Placeholders are positional where the database has no numbered ones,
	 * so the SQL says which parameter each placeholder takes: pmap[i] is
	 * the index, in the list above, of placeholder i (pmap has room for
	 * 2 * (npk + 2)); returns the number of placeholders. */
	int (*select_sql)(const struct ss_poll_spec *s, int from, int limit, struct ss_buf *out,
			  int *pmap);
	/* Every key of the table: result columns = key columns as text, key order. */
	void (*keyscan_sql)(const struct ss_poll_spec *s, struct ss_buf *out);
	/* µs since the epoch (UTC) as a text parameter compared with ts_col. */
	void (*ts_param)(int64_t us, char *out, size_t n);
	/* Optional: rewrite a row image (result column 0) into the form
	 * ss_image_parse reads; returns 1 when out holds the new image, 0 when
	 * the image is fine as it is. */
	int (*image_fix)(const struct ss_tableinfo *t, const char *img, size_t len,
			 struct ss_buf *out);
	/* Optional: every row image value is its text form (ss_image_parse_text). */
	int text_values;
};
extern const struct ss_poll_ops ss_pg_poll_ops;      /* dialects/postgres_poll.c */
extern const struct ss_poll_ops ss_mariadb_poll_ops; /* dialects/mariadb_poll.c */
extern const struct ss_poll_ops ss_sqlite_poll_ops;  /* dialects/sqlite_poll.c */

struct ss_dialect {
	const char *name; /* postgres, mariadb, sqlite, ... (the SQL flavour) */

	/* --- connection and statements --- */
	struct ss_conn *(*connect)(const struct ss_dbconf *db, struct ss_err *err);
	void (*disconnect)(struct ss_conn *c);
	int (*exec)(struct ss_conn *c, const char *sql, int nparams, const char *const *params,
		    const size_t *lens, struct ss_err *err);
	/* Run a multi-statement script (install DDL); no parameters. */
	int (*exec_script)(struct ss_conn *c, const char *sql, struct ss_err *err);
	int (*query)(struct ss_conn *c, const char *sql, int nparams, const char *const *params,
		     const size_t *lens, ss_row_cb cb, void *arg, struct ss_err *err);
	int (*begin)(struct ss_conn *c, struct ss_err *err);
	int (*commit)(struct ss_conn *c, struct ss_err *err);
	int (*rollback)(struct ss_conn *c, struct ss_err *err);
	/* The database's clock (microseconds since the epoch, UTC). */
	int (*now_us)(struct ss_conn *c, int64_t *us, struct ss_err *err);

	/* --- catalog --- */
	const char *(*default_schema)(struct ss_conn *c);
	int (*table_info)(struct ss_conn *c, const char *schema, const char *name,
			  struct ss_tableinfo *out, struct ss_err *err);
	/* Tables matching glob patterns (schema_pat may be NULL: default schema). */
	int (*list_tables)(struct ss_conn *c, const char *schema_pat, const char *name_pat,
			   char ***schemas, char ***names, int *n, struct ss_err *err);
	void (*quote_ident)(struct ss_buf *out, const char *ident);

	/* --- capture (trigger mode) --- */
	/* The whole install / uninstall script for one job's tables, exactly as
	 * it will run (a transaction where the database allows DDL in one). */
	int (*capture_install_sql)(struct ss_conn *c, const char *job,
				   const struct ss_tableinfo *tables, int n, struct ss_buf *out,
				   struct ss_err *err);
	int (*capture_uninstall_sql)(struct ss_conn *c, const char *job,
				     const struct ss_tableinfo *tables, int n, struct ss_buf *out,
				     struct ss_err *err);
	/* Start listening for wake-ups; returns a socket fd to watch, or -1 when
	 * the database has no notification mechanism (the capture then polls). */
	int (*capture_listen)(struct ss_conn *c, const char *job, struct ss_err *err);
	/* Consume pending notifications after the fd became readable; returns
	 * how many arrived, -1 on error (connection lost). */
	int (*capture_drain)(struct ss_conn *c, struct ss_err *err);
	/* Visible shadow rows in id order, at most limit, inside the caller's
	 * transaction. */
	int (*capture_fetch)(struct ss_conn *c, const char *job, int limit, ss_shadow_cb cb,
			     void *arg, struct ss_err *err);
	/* For each txid of a full batch whose last row has id after_id: does
	 * it have shadow rows after that id (more[i] 1), or does it end in the
	 * batch (0)?  A committed transaction's rows are all visible at once,
	 * so its rows not in a batch read in id order all come after the
	 * batch; with an index on (txid, id) this is one probe per txid
	 * however large the transaction.  NULL when the source exposes no
	 * transaction ids. */
	int (*capture_txn_more)(struct ss_conn *c, const char *job, const uint64_t *txids, int n,
				uint64_t after_id, uint8_t *more, struct ss_err *err);
	/* Delete exactly these shadow rows, by id. */
	int (*capture_delete)(struct ss_conn *c, const char *job, const uint64_t *ids, int n,
			      struct ss_err *err);

	/* --- apply --- */
	/* Session settings for an applier (replica role, FK checks off, strict
	 * modes) and the position table (created if missing). */
	int (*apply_prepare)(struct ss_conn *c, struct ss_err *err);
	int (*apply_upsert)(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err);
	int (*apply_delete)(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err);
	/* The position row of (job, target); all zero / "" when none. */
	int (*position_get)(struct ss_conn *c, const char *job, const char *target,
			    struct ss_position *p, struct ss_err *err);
	/* Record p inside the caller's transaction, unless the row holds a
	 * higher epoch (a newer owner of the job fenced this target).
	 * Returns 1 written, 0 fenced (the caller rolls back and stops), -1
	 * error. */
	int (*position_set)(struct ss_conn *c, const char *job, const char *target,
			    const struct ss_position *p, struct ss_err *err);
	/* The SQL text used for an upsert / delete of nrows rows (for review and
	 * tests; apply_* run exactly this). */
	void (*upsert_sql)(const struct ss_tableinfo *t, const int *cols, int ncols, int nrows,
			   struct ss_buf *out);
	void (*delete_sql)(const struct ss_tableinfo *t, int nrows, struct ss_buf *out);

	/* Optional features; NULL where a dialect does not have them yet. */
	const struct ss_check_ops *check; /* drift check (check_ops.h) */
	const struct ss_poll_ops *poll;   /* timestamp-column capture */
	const struct ss_lease_ops *lease; /* job lease on a capture source */
};

/* The first column of the first row as an integer (0 for NULL / no row). */
int ss_db_query_i64(struct ss_conn *c, const char *sql, int64_t *out,
		    struct ss_err *err) SS_MUST_CHECK;
/* The dialect for a configured database (postgres, mariadb, odbc: for odbc
 * the flavour is picked after connecting, from SQL_DBMS_NAME). */
struct ss_conn *ss_db_connect(const struct ss_dbconf *db, struct ss_err *err);
void ss_db_disconnect(struct ss_conn *c);

/* The default schema of a configured database without connecting to it:
 * public for postgres, the DSN's dbname for mariadb (buf holds it), main
 * for odbc (SQLite; other ODBC sources are not capture sources). */
const char *ss_dbconf_default_schema(const struct ss_dbconf *db, char *buf, size_t n);

/* The password for a database: from password_env, or NULL. */
const char *ss_db_password(const struct ss_dbconf *db);

/* Resolve a job's `tables` (patterns expanded) against the source catalog,
 * de-duplicated, in configuration order.  Tables without a primary key are
 * an error naming the table. */
int ss_db_job_tables(struct ss_conn *c, const struct ss_jobconf *job, struct ss_tableinfo **out,
		     int *n, struct ss_err *err) SS_MUST_CHECK;
void ss_tableinfo_free_array(struct ss_tableinfo *t, int n);

/* Standard SQL quoting: "ident" with "" inside, 'literal' with '' inside
 * (PostgreSQL, SQLite and other ANSI-quoting dialects). */
void ss_sql_quote_ident(struct ss_buf *out, const char *ident);
void ss_sql_quote_literal(struct ss_buf *out, const char *s);
/* s between two q, a q inside doubled (the rule of every quoting above and
 * of MariaDB's backticks). */
void ss_sql_quote_with(struct ss_buf *out, const char *s, char q);
/* "a, b, c": the columns t->cols[idx[0..n)] quoted by q (idx = t->pk,
 * n = t->npk for the key). */
void ss_sql_col_list(const struct ss_tableinfo *t, const int *idx, int n,
		     void (*q)(struct ss_buf *out, const char *ident), struct ss_buf *out);
/* " ON CONFLICT (key) DO UPDATE SET c = <excluded>.c, ..." over the non-key
 * columns of cols (DO NOTHING when there are none), standard quoting;
 * excluded is the pseudo-table's name as the dialect spells it. */
void ss_sql_on_conflict_update(const struct ss_tableinfo *t, const int *cols, int ncols,
			       const char *excluded, struct ss_buf *out);

/* Collecting the tables of a catalog query that match glob patterns, for
 * list_tables implementations. */
struct ss_table_list {
	const char *schema_pat, *name_pat;
	char **schemas, **names;
	int n;
};
/* Keep (schema, name) when both match the patterns. */
void ss_table_list_add(struct ss_table_list *l, const char *schema, const char *name);
/* Row callback for a query returning (schema, name) rows; arg is the list. */
int ss_table_list_row(void *arg, int ncols, const char *const *vals, const size_t *lens,
		      struct ss_err *err);
/* rc < 0: free the list and return -1; else hand its arrays to the caller. */
int ss_table_list_finish(struct ss_table_list *l, int rc, char ***schemas, char ***names, int *n);

/* Shared by the dialects' ss_poll_ops: the key scan query (every key of
 * the table as key_expr gives it for the row alias), and a timestamp as
 * "YYYY-MM-DD HH:MM:SS.ffffff" followed by suffix. */
void ss_poll_keyscan_sql(const struct ss_dialect *d, const struct ss_poll_spec *s,
			 const char *alias,
			 void (*key_expr)(const struct ss_colinfo *col, const char *rec,
					  struct ss_buf *out),
			 struct ss_buf *out);
void ss_poll_ts_text(int64_t us, const char *suffix, char *out, size_t n);
/* The row alias of the poll queries (unlikely to collide with a column
 * name), and "alias.ts, alias.key1, ..." with d's quoting. */
#define SS_POLL_ROW "_ss_row_"
void ss_poll_order_cols(const struct ss_dialect *d, const struct ss_poll_spec *s,
			struct ss_buf *out);

/* Convenience wrappers that report the statement on error. */
int ss_db_exec(struct ss_conn *c, const char *sql, struct ss_err *err) SS_MUST_CHECK;
/* First column of the first row into *out (malloc'd; NULL for SQL NULL / no row). */
int ss_db_query_value(struct ss_conn *c, const char *sql, int nparams, const char *const *params,
		      char **out, struct ss_err *err) SS_MUST_CHECK;
/* Which database connection c reaches, as text (ddl/<engine>/identity.sql):
 * two connections with equal text reach the same tables, so a job can tell
 * that a target table is its source table.  *out NULL when unknown. */
int ss_db_identity(struct ss_conn *c, char **out, struct ss_err *err) SS_MUST_CHECK;

extern const struct ss_dialect ss_dialect_postgres;
extern const struct ss_dialect ss_dialect_mariadb;
/* ODBC: the connection picks the flavour table; see dialects/odbc.c. */
struct ss_conn *ss_odbc_connect(const struct ss_dbconf *db, struct ss_err *err);

/* Capture DDL templates compiled into the binary (ddl/<dialect>/<name>.sql). */
const char *ss_ddl_get(const char *name);
/* Expand @TOKEN@ in a template from a NULL-terminated list of name/value
 * pairs; unknown tokens are an error. */
int ss_ddl_expand(const char *tmpl, const char *const *kv, struct ss_buf *out,
		  struct ss_err *err) SS_MUST_CHECK;

/* A short stable hex name for (job, schema, table), for per-table trigger
 * functions whose names must fit identifier length limits. */
void ss_ddl_table_tag(const char *job, const char *schema, const char *table, char out[17]);

#endif
