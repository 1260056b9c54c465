/*
 * check_ops.h -- what a dialect provides for the drift check
 * (struct ss_dialect.check; tools/check.c drives it).
 *
 * The check compares a table on two databases chunk by chunk.  Per chunk
 * each side returns a row count and the exact sum of a 60-bit hash of every
 * row's canonical text (replicator/canon.h); the dialect writes the SQL
 * that builds that text, so the hashing happens inside the database.  A
 * dialect whose database has no MD5 (SQLite) leaves row_hash NULL, and a
 * column whose canonical form it cannot write in SQL makes canon_expr
 * return -1: the check then fetches that side's rows (value_expr) and
 * hashes them with canon.c instead.
 *
 * Everything here only generates SQL text or runs read-only statements.
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

	/* The high-water mark of the job's shadow change log on this (source)
	 * database: a value at least as high as every change captured so far,
	 * and *pending: whether changes up to hwm are still in the log (not
	 * yet read into the journal).  0 / 0 when the job's capture is not
	 * installed.  May be NULL (no trigger capture). */
	int (*log_hwm)(struct ss_conn *c, const char *job, uint64_t *hwm, struct ss_err *err);
	int (*log_pending)(struct ss_conn *c, const char *job, uint64_t hwm, int *pending,
			   struct ss_err *err);
};

extern const struct ss_check_ops ss_postgres_check_ops;
extern const struct ss_check_ops ss_mariadb_check_ops;
extern const struct ss_check_ops ss_sqlite_check_ops;

#endif
