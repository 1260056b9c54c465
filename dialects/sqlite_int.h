/*
 * sqlite_int.h -- the SQLite engine's SQL that files beyond the ODBC
 * plumbing share: the row-image expressions of the capture triggers (also
 * read by the timestamp poll, sqlite_poll.c), decoding the exact floats
 * those images carry, and the dialect table.  Defined in odbc_sqlite.c and
 * odbc_sqlite_image.c; not for use outside dialects/.
 */
#ifndef SS_SQLITE_INT_H
#define SS_SQLITE_INT_H

#include <stdint.h>

#include "dialect.h"

extern const struct ss_dialect ss_dialect_odbc_sqlite;

/* SQLite row images, as the capture triggers write them: the expression
 * for one column of the row alias rec, and json_object(...) over the
 * columns idx[0..n) (idx NULL: the first n).  REAL/NUMERIC values come out
 * as exact hex floats, for ss_odbc_sqlite_decode_floats. */
void ss_odbc_sqlite_value_expr(const struct ss_colinfo *col, const char *rec, struct ss_buf *out);
void ss_odbc_sqlite_image_expr(const struct ss_tableinfo *t, const int *idx, int n, const char *rec,
			       struct ss_buf *out);

/* SQLite capture: REAL/NUMERIC values leave the triggers as exact C99 hex
 * floats ("0x1999999999999ap-56"); rewrite those of the named columns in a
 * JSON row image as decimal numbers.  Returns 1 when out holds the new
 * image, 0 when the image needs no change (or is not an object). */
struct ss_odbc_floatcols {
	char **cols;
	uint8_t *vtypes; /* SS_V_FLOAT or SS_V_NUMERIC */
	int ncols;
};
int ss_odbc_sqlite_decode_floats(const struct ss_odbc_floatcols *t, const char *img, size_t len,
				 struct ss_buf *out);

#endif
