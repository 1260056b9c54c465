/*
 * check.h -- the drift check engine (replicator/check_*.c) as the command
 * (tools/check.c) and its reports (tools/check_report.c) see it.  Map of
 * the drift check, bottom up:
 *   replicator/base/canon.c   the canonical value encoding and row hash
 *   dialects/check_ops.h      what each engine provides (postgres_check.c,
 *                             mariadb_check.c, sqlite_check.c)
 *   dialects/check_sql.c      the check's statements, built from those ops
 *   replicator/check_side.c   one database: running them, reading answers
 *   replicator/check_diff.c   finding the differing rows of a chunk
 *   replicator/check_table.c  a table on each target: chunks, waiting,
 *                             verdicts (ss_check_table)
 *   tools/check.c             `shadowsync check`: options, exit status
 *   tools/check_report.c      text, JSON and HTML reports
 *
 * One ss_check_result per (job, table, target): counts, timing, notes and
 * the differing rows, each named by its key, with the differing columns'
 * values on both sides in display form (journal form; binary as \x hex;
 * NULL pointer = SQL NULL).
 */
#ifndef SS_CHECK_H
#define SS_CHECK_H

#include <stdint.h>

#include "config.h"
#include "dialect.h"

struct ss_check_diff {
	char kind;  /* 'M' missing on the target, 'E' extra on the target, 'D' values differ */
	char **key; /* display text of each key column (nkey of the result) */
	int ncols;  /* 'D': the differing columns; 'M'/'E': every compared column */
	int *cols;  /* indexes into the result's cols */
	char **src; /* values on the source (all NULL for 'E') */
	char **tgt; /* values on the target (all NULL for 'M') */
};

struct ss_check_result {
	char *job, *table, *source, *target, *target_table; /* table: schema.name */
	char **cols;                                        /* compared columns */
	int ncols;
	int *key; /* indexes into cols, key order */
	int nkey;
	uint64_t src_rows, tgt_rows;
	int chunks, chunks_differ;
	uint64_t missing, extra, different;
	double seconds;
	char *error; /* the table could not be checked */
	char **notes;
	int nnotes;
	struct ss_check_diff *diffs;
	int ndiffs;
};

struct ss_check_opts {
	int64_t min_age_us;  /* a difference must persist this long */
	int64_t max_wait_us; /* longest wait for the appliers to catch up */
	int64_t chunk_rows;  /* 0: adaptive */
	int progress;        /* progress lines on stderr */
};

/* Connect to db for a check: a database whose dialect has no check ops is
 * an error; the session is prepared for the check's expressions. */
struct ss_conn *ss_check_connect(const struct ss_dbconf *db, struct ss_err *err);

/* Compare one source table with its copy on each target; fills res[0..ntgt)
 * (zeroed by the caller).  Returns 0, or -1 when a database failed (the
 * message is in each affected result's error). */
int ss_check_table(const struct ss_check_opts *o, const struct ss_config *cfg,
		   const struct ss_jobconf *job, struct ss_conn *src, const struct ss_tableinfo *st,
		   struct ss_conn *const *tgts, int ntgt, struct ss_check_result *res);

void ss_check_result_free(struct ss_check_result *r);
void ss_check_result_note(struct ss_check_result *r, const char *fmt, ...) SS_PRINTF(2, 3);

#endif
