/*
 * check.h -- `shadowsync check` inside: the per-table comparison engine
 * (check_table.c), the command (check.c) and the reports (check_report.c)
 * share these types.
 *
 * One ss_check_result per (job, table, target): counts, timing, notes and
 * the differing rows, each named by its key, with the differing columns'
 * values on both sides in display form (journal form; binary as \x hex;
 * NULL pointer = SQL NULL).
 */
#ifndef SS_CHECK_H
#define SS_CHECK_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "dialect.h"

enum ss_check_format { SS_CHECK_TEXT, SS_CHECK_JSON, SS_CHECK_HTML };

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

/* Compare one source table with its copy on each target; fills res[0..ntgt)
 * (zeroed by the caller).  Returns 0, or -1 when a database failed (the
 * message is in each affected result's error). */
int ss_check_table(const struct ss_check_opts *o, const struct ss_config *cfg,
		   const struct ss_jobconf *job, struct ss_conn *src, const struct ss_tableinfo *st,
		   struct ss_conn *const *tgts, int ntgt, struct ss_check_result *res);

void ss_check_result_free(struct ss_check_result *r);
void ss_check_result_note(struct ss_check_result *r, const char *fmt, ...) SS_PRINTF(2, 3);

void ss_check_report(FILE *f, int format, const struct ss_check_result *r, int n, double seconds);

#endif
