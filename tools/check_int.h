/*
 * check_int.h -- the drift check engine's insides, shared by check_table.c
 * (the comparison: chunks, waiting, finding rows, the verdicts) and
 * check_sql.c (what one side runs: the SQL of a table, hashing a range,
 * fetching keys, rows and row hashes).  Not for use outside tools/check*.c.
 */
#ifndef SS_CHECK_INT_H
#define SS_CHECK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "canon.h"
#include "check.h"
#include "check_ops.h"

struct side {
	const char *db;
	struct ss_conn *c;
	const struct ss_check_ops *ops;
	const struct ss_tableinfo *ti;
	int *col;                /* compared column -> index into ti->cols */
	int sql_hash;            /* hashes inside the database */
	struct ss_buf from;      /* " FROM schema.table" */
	struct ss_buf row_expr;  /* SQL hashing: the canonical row text */
	struct ss_buf values;    /* value expressions of every compared column */
	struct ss_buf canons;    /* canonical expressions (SQL hashing) */
	struct ss_buf keycanons; /* canonical expressions of the key columns (SQL hashing) */
	struct ss_buf hash;      /* the row's 60-bit hash (SQL hashing) */
	struct ss_buf keyvals;   /* value expressions of the key columns */
	struct ss_buf order;     /* " ORDER BY k1, k2" */
};

struct row {
	char *key; /* canonical text of the key columns */
	size_t keylen;
	int seq;     /* position in the side's key-ordered fetch */
	char **kraw; /* the key columns as value_expr gave them (parameters) */
	int nkey;
	char **canon;
	size_t *clen;
	char **disp;
};

struct pend {
	char kind; /* M, E, D */
	struct row *a, *b;
};

struct pair {
	const struct ss_check_opts *o;
	int ncols;
	struct ss_canon_col *spec;
	int nkey;
	int *key; /* compared-column indexes in key order */
	struct side s, t;
	struct ss_check_result *res;
	struct pend *pend;
	int npend, cappend;
};

typedef char **keyv; /* nkey values as value_expr gave them; NULL = unbounded */

/* A statement's parameters: text values kept alive by the caller. */
struct params {
	const char **v;
	size_t *len;
	int n, cap;
};

void ss_check_params_free(struct params *p);

keyv ss_check_keyv_dup(int n, const char *const *v);
void ss_check_keyv_free(int n, keyv k);           /* NULL: no-op */
void ss_check_row_free(int ncols, struct row *r); /* NULL: no-op */

static inline const struct ss_colinfo *side_col(const struct side *sd, int i)
{
	return &sd->ti->cols[sd->col[i]];
}

/* The SQL pieces of a side (select lists, FROM, ORDER BY), from x's
 * compared columns and canonical forms; decides whether it hashes in SQL. */
void ss_check_side_build(struct pair *x, struct side *sd);
void ss_check_side_free(struct side *sd);

/* Count and hash sum of the rows in (lo, hi] (NULL: unbounded), split into
 * nb + 1 buckets at bounds when nb > 0. */
int ss_check_side_hash(struct pair *x, struct side *sd, keyv lo, keyv hi, keyv *bounds, int nb,
		       struct ss_canon_sum *sums, struct ss_err *err);

/* Keys of (lo, hi] in key order (limit > 0: LIMIT limit OFFSET offset). */
struct keys_state {
	int nkey;
	keyv *v;
	int n, cap;
};

int ss_check_side_keys(struct pair *x, struct side *sd, keyv lo, keyv hi, int limit, int offset,
		       struct keys_state *out, struct ss_err *err);

/* Rows of (lo, hi], or those with one of keys[0..nkeys) when keys is set,
 * with display values and canonical texts. */
struct rows_state {
	struct pair *x;
	struct side *sd;
	struct row **v;
	int n, cap;
	struct ss_buf norm, tmp;
};

int ss_check_side_rows(struct pair *x, struct side *sd, keyv lo, keyv hi, keyv *keys, int nkeys,
		       struct rows_state *out, struct ss_err *err);

/* Key and row hash of every row of (lo, hi]. */
struct khash {
	char *key; /* canonical text of the key columns */
	size_t keylen;
	uint64_t h;
	char **kraw; /* the key columns as value_expr gave them */
};

struct khash_state {
	struct pair *x;
	struct side *sd;
	struct khash *v;
	int n, cap;
	struct ss_buf norm, row, key;
};

int ss_check_side_khash(struct pair *x, struct side *sd, keyv lo, keyv hi, struct khash_state *out,
			struct ss_err *err);
int ss_check_khash_cmp(const void *a, const void *b);
void ss_check_khash_free(int nkey, struct khash_state *s);

#endif
