/*
 * check_int.h -- the drift check engine's insides, shared by its files:
 * check_table.c (a table on one target: chunks, waiting for the appliers,
 * confirming, the verdicts), check_diff.c (finding the rows in a chunk
 * that differs: bisecting, streamed row hashes, row-by-row comparison) and
 * check_side.c (what one database of the pair runs: the statements
 * dialects/check_sql.c builds, read into hashes, keys and rows, with
 * canon.c hashing where the database cannot).  Not for use outside
 * replicator/check_*.c.
 */
#ifndef SS_CHECK_INT_H
#define SS_CHECK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "canon.h"
#include "check.h"
#include "check_ops.h"

/* One database of the pair: the source or the target. */
struct ss_check_side {
	const char *db;
	struct ss_conn *c;
	const struct ss_check_ops *ops;
	const struct ss_tableinfo *ti;
	int *col;              /* compared column -> index into ti->cols */
	struct ss_check_sql q; /* the side's statements */
};

/* A row fetched whole: its key and every compared column. */
struct ss_check_row {
	char *key; /* canonical text of the key columns */
	size_t keylen;
	int seq;     /* position in the side's key-ordered fetch */
	char **kraw; /* the key columns as value_expr gave them (parameters) */
	int nkey;
	char **canon;
	size_t *clen;
	char **disp;
};

/* A row found differing, before the final verdict. */
struct ss_check_pend {
	char kind; /* M, E, D */
	struct ss_check_row *a, *b;
};

/* One table on the source and its copy on one target. */
struct ss_check_pair {
	const struct ss_check_opts *o;
	int ncols;
	struct ss_canon_col *spec;
	int nkey;
	int *key; /* compared-column indexes in key order */
	struct ss_check_side s, t;
	struct ss_check_result *res;
	struct ss_check_pend *pend;
	int npend, cappend;
};

typedef char **ss_check_keyv; /* nkey values as value_expr gave them; NULL = unbounded */

ss_check_keyv ss_check_keyv_dup(int n, const char *const *v);
void ss_check_keyv_free(int n, ss_check_keyv k);           /* NULL: no-op */
void ss_check_row_free(int ncols, struct ss_check_row *r); /* NULL: no-op */

static inline const struct ss_colinfo *ss_check_col(const struct ss_check_side *sd, int i)
{
	return &sd->ti->cols[sd->col[i]];
}

/* ---- one side (check_side.c) ---------------------------------------------------- */

/* The side's statements, from x's compared columns and canonical forms;
 * decides whether it hashes in SQL (and notes why not). */
void ss_check_side_build(struct ss_check_pair *x, struct ss_check_side *sd);
void ss_check_side_free(struct ss_check_side *sd);

/* Count and hash sum of the rows in (lo, hi] (NULL: unbounded), split into
 * nb + 1 buckets at bounds when nb > 0. */
int ss_check_side_hash(struct ss_check_pair *x, struct ss_check_side *sd, ss_check_keyv lo,
		       ss_check_keyv hi, ss_check_keyv *bounds, int nb, struct ss_canon_sum *sums,
		       struct ss_err *err);

/* Keys of (lo, hi] in key order (limit > 0: LIMIT limit OFFSET offset). */
struct ss_check_keys {
	int nkey;
	ss_check_keyv *v;
	int n, cap;
};

int ss_check_side_keys(struct ss_check_pair *x, struct ss_check_side *sd, ss_check_keyv lo,
		       ss_check_keyv hi, int limit, int offset, struct ss_check_keys *out,
		       struct ss_err *err);

/* Rows of (lo, hi], or those with one of keys[0..nkeys) when keys is set,
 * with display values and canonical texts. */
struct ss_check_rows {
	struct ss_check_pair *x;
	struct ss_check_side *sd;
	struct ss_check_row **v;
	int n, cap;
	struct ss_buf norm, tmp;
};

int ss_check_side_rows(struct ss_check_pair *x, struct ss_check_side *sd, ss_check_keyv lo,
		       ss_check_keyv hi, ss_check_keyv *keys, int nkeys, struct ss_check_rows *out,
		       struct ss_err *err);

/* Key and row hash of every row of (lo, hi]. */
struct ss_check_khash {
	char *key; /* canonical text of the key columns */
	size_t keylen;
	uint64_t h;
	char **kraw; /* the key columns as value_expr gave them */
};

struct ss_check_khashes {
	struct ss_check_pair *x;
	struct ss_check_side *sd;
	struct ss_check_khash *v;
	int n, cap;
	struct ss_buf norm, row, key;
};

int ss_check_side_khash(struct ss_check_pair *x, struct ss_check_side *sd, ss_check_keyv lo,
			ss_check_keyv hi, struct ss_check_khashes *out, struct ss_err *err);
int ss_check_khash_cmp(const void *a, const void *b);
void ss_check_khash_free(int nkey, struct ss_check_khashes *s);

/* ---- both sides at once (check_diff.c) -------------------------------------------- */

/* Count and hash sums of (lo, hi] (bucketed at bounds when nb > 0) on
 * the source and the target, in parallel. */
int ss_check_hash_both(struct ss_check_pair *x, ss_check_keyv lo, ss_check_keyv hi,
		       ss_check_keyv *bounds, int nb, struct ss_canon_sum *ssum,
		       struct ss_canon_sum *tsum, struct ss_err *err);
int ss_check_sums_equal(const struct ss_canon_sum *a, const struct ss_canon_sum *b);

/* Find the rows that differ in (lo, hi], where the sides hold about ns and
 * nt rows; each is added to x->pend. */
int ss_check_bisect(struct ss_check_pair *x, ss_check_keyv lo, ss_check_keyv hi, uint64_t ns,
		    uint64_t nt, int depth, struct ss_err *err);

/* Fetch the rows found differing (x->pend) once more, by key, and keep
 * only those that still differ. */
int ss_check_confirm(struct ss_check_pair *x, struct ss_err *err);

/* One verdict per key (a row missing in one range and extra in another
 * is one row), turned into the result's diffs; empties x->pend. */
void ss_check_finish_diffs(struct ss_check_pair *x);

#endif
