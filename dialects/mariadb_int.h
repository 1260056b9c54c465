/*
 * mariadb_int.h -- what the files of the MariaDB dialect share; not for use
 * outside dialects/mariadb*.c.
 */
#ifndef SS_MARIADB_INT_H
#define SS_MARIADB_INT_H

#include "dialect.h"

/* True when a column type (information_schema COLUMN_TYPE) is `name`,
 * possibly followed by a length or attributes: "bit(1)" is "bit". */
int ss_my_type_is(const char *type, const char *name);
/* True for the character types (char, varchar, the texts, enum, set). */
int ss_my_is_text_type(const char *type);

/* The expression giving a column's value in a row image (the JSON the
 * capture trigger writes), for the column of the row alias `rec`. */
void ss_my_image_expr(const struct ss_colinfo *col, const char *rec, struct ss_buf *out);

/* 'name', expr, 'name', expr ... for JSON_OBJECT: every column, or only the
 * key columns. */
void ss_my_image_args(const struct ss_tableinfo *t, int keys_only, const char *rec,
		      struct ss_buf *out);

#endif
