/*
 * check_ops.h -- what a dialect provides for the drift check
 * (struct ss_dialect.check; the engine in replicator/check_*.c drives it),
 * and the statements check_sql.c builds from it.
 *
 * The check compares a table on two databases chunk by chunk.  Per chunk
 * each side returns a row count and the exact sum of a 60-bit hash of every
 * row's canonical text (replicator/base/canon.h); the dialect writes the SQL
 * that builds that text, so the hashing happens inside the database.  A
 * dialect whose database has no MD5 (SQLite) leaves row_hash NULL, and a
 * column whose canonical form it cannot write in SQL makes canon_expr
 * return -1: the check then fetches that side's rows (value_expr) and
 * hashes them with canon.c instead.
 *
 * Everything here only generates SQL text or runs read-only statements;
 * no SQL of the drift check is written outside dialects/.
 */
#ifndef SS_CHECK_OPS_H
#define SS_CHECK_OPS_H

#include <stdint.h>

#include "canon.h"
#include "dialect.h"

struct ss_check_ops {
	/* Session settings for a check connection: UTC, UTF-8, whatever makes
	 * the expressions below deterministic.  May be NULL. */
	int (*prepare)(struct ss_conn *c, struct ss_err *err);

	/* What a column holds: its journal vtype, single or double float,
	 * fractional-second digits. */
	void (*describe)(const struct ss_colinfo *col, struct ss_canon_src *out);

	/* Append an SQL expression giving the framed canonical text of column
	 * col (see canon.h; NULL gives "N", never SQL NULL) in the form spec.
	 * Returns -1 (appending nothing) when the dialect cannot write it in
	 * SQL. */
	int (*canon_expr)(const struct ss_colinfo *col, const struct ss_canon_col *spec,
			  struct ss_buf *out);

	/* Append an SQL expression giving the column's value as text that
	 * ss_value_normalize(col->vtype) turns into the journal form: binary
	 * as hex, floats with enough digits to read back exactly, zoned
	 * timestamps in UTC.  SQL NULL stays NULL. */
	void (*value_expr)(const struct ss_colinfo *col, struct ss_buf *out);

	/* Append the concatenation of n text expressions (none is NULL). */
	void (*concat)(const char *const *exprs, int n, struct ss_buf *out);

	/* Append an SQL expression giving the 60-bit hash of the text
	 * expression row_expr: the first 15 hex digits of its MD5 as an
	 * unsigned number whose SUM is exact.  NULL when the database cannot
	 * hash in SQL. */
	void (*row_hash)(const char *row_expr, struct ss_buf *out);

	/* Append the placeholder of parameter n (1-based), compared with
	 * column col; the parameter's text is what value_expr gave on the
	 * source (possibly another kind of database), so wrap it in whatever
	 * conversion the comparison needs. */
	void (*param)(const struct ss_colinfo *col, int n, struct ss_buf *out);

	/* The column of table t (this dialect's database) that a column
	 * called name on another database is, following the database's rules
	 * for identifiers (e.g. case-insensitive); -1 when there is none. */
	int (*find_col)(const struct ss_tableinfo *t, const char *name);

	/* The high-water mark of the job's shadow change log on this (source)
	 * database: a value at least as high as every change captured so far,
	 * and *pending: whether changes up to hwm are still in the log (not
	 * yet read into the journal).  0 / 0 when the job's capture is not
	 * installed.  May be NULL (no trigger capture). */
	int (*log_hwm)(struct ss_conn *c, const char *job, uint64_t *hwm, struct ss_err *err);
	int (*log_pending)(struct ss_conn *c, const char *job, uint64_t hwm, int *pending,
			   struct ss_err *err);
};

/* Case-insensitive column names (MariaDB, SQLite): find_col. */
int ss_check_find_col_nocase(const struct ss_tableinfo *t, const char *name);

/* ---- the check's statements (check_sql.c) ------------------------------------
 *
 * One side's statements over one table: the compared columns (col[i]: index
 * into ti->cols), the key (key[k]: index into the compared columns, key
 * order) and each compared column's canonical form.  Keys travel as nkey
 * text values, as value_expr gave them, bound as parameters; a range is
 * (lo, hi] in key order, NULL meaning unbounded. */
struct ss_check_sql {
	const struct ss_dialect *d;
	const struct ss_check_ops *ops;
	const struct ss_tableinfo *ti;
	const int *col, *key;
	int ncols, nkey;
	int sql_hash;            /* rows hashed inside the database */
	int no_canon_col;        /* first column without an SQL canonical form, or -1 */
	struct ss_buf from;      /* " FROM schema.table" */
	struct ss_buf row_expr;  /* SQL hashing: the canonical row text */
	struct ss_buf values;    /* value expressions of every compared column */
	struct ss_buf canons;    /* canonical expressions (SQL hashing) */
	struct ss_buf keycanons; /* canonical expressions of the key columns (SQL hashing) */
	struct ss_buf hash;      /* the row's 60-bit hash (SQL hashing) */
	struct ss_buf keyvals;   /* value expressions of the key columns */
	struct ss_buf order;     /* " ORDER BY k1, k2" */
};

/* A statement and its parameters (text values the caller keeps alive). */
struct ss_check_stmt {
	struct ss_buf sql;
	const char **v;
	size_t *len;
	int n, cap;
};

/* Build q's pieces; sql_hash: hash inside the database where it can. */
void ss_check_sql_init(struct ss_check_sql *q, const struct ss_dialect *d,
		       const struct ss_tableinfo *ti, const int *col, int ncols, const int *key,
		       int nkey, const struct ss_canon_col *spec, int sql_hash);
void ss_check_sql_free(struct ss_check_sql *q);
void ss_check_stmt_free(struct ss_check_stmt *st);

/* Count and hash sum of the rows of (lo, hi], one result row per bucket
 * when nb > 0 (bucket i: (bounds[i-1], bounds[i]], first column its
 * number): [bucket,] count, sum.  Without SQL hashing: [bucket,] the values
 * of every row. */
void ss_check_sql_hash(const struct ss_check_sql *q, char *const *lo, char *const *hi,
		       char **const *bounds, int nb, struct ss_check_stmt *st);
/* The key values of (lo, hi] in key order; limit > 0: only limit keys
 * after skipping offset. */
void ss_check_sql_keys(const struct ss_check_sql *q, char *const *lo, char *const *hi, int limit,
		       int offset, struct ss_check_stmt *st);
/* The rows of (lo, hi] in key order, or those with one of keys[0..nkeys)
 * when keys is set: the values, then (SQL hashing) the canonical texts. */
void ss_check_sql_rows(const struct ss_check_sql *q, char *const *lo, char *const *hi,
		       char **const *keys, int nkeys, struct ss_check_stmt *st);
/* Key and row hash of every row of (lo, hi]: the key values, the key
 * canonical texts and the hash; without SQL hashing every row's values. */
void ss_check_sql_khash(const struct ss_check_sql *q, char *const *lo, char *const *hi,
			struct ss_check_stmt *st);

/* The canonical expression raw() builds, "COALESCE(expr, 'N')" in any
 * case; for a NOT NULL column without the NULL branch. */
int ss_check_canon_not_null(const struct ss_colinfo *col, const struct ss_canon_col *spec,
			    int (*raw)(const struct ss_colinfo *col,
				       const struct ss_canon_col *spec, struct ss_buf *out),
			    struct ss_buf *out);

extern const struct ss_check_ops ss_postgres_check_ops;
extern const struct ss_check_ops ss_mariadb_check_ops;
extern const struct ss_check_ops ss_sqlite_check_ops;

#endif
