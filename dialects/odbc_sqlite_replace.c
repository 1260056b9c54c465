/*
 * odbc_sqlite_replace.c -- the SQLite capture of rows that REPLACE conflict
 * resolution removes.  INSERT OR REPLACE, REPLACE INTO, UPDATE OR REPLACE and
 * a UNIQUE constraint declared ON CONFLICT REPLACE delete the rows a new row
 * collides with, and SQLite fires no delete trigger for them (unless the
 * writing session turned recursive_triggers on).  A collision on the primary
 * key needs nothing: the new row has the same key, and its I/U image
 * overwrites the old row on every target.  A collision on a secondary unique
 * index removes a row with another key, and that row must reach the targets
 * as a delete.
 *
 * So each captured table with a secondary unique index gets BEFORE INSERT and
 * BEFORE UPDATE triggers that note, in the job's pending table, every row the
 * new row collides with on such an index (a superset is fine), and the AFTER
 * triggers capture as a delete each noted row that is gone by then, before
 * the new row's own image.  The statement's conflict mode is invisible to a
 * trigger, and it does not need to be: OR IGNORE and failed statements never
 * reach the AFTER trigger (the notes are dropped by the next BEFORE or AFTER
 * trigger), OR ABORT/ROLLBACK undo everything, and a noted row that is still
 * there is not captured.
 *
 * This file reads the unique indexes from the catalog and builds the SQL
 * expressions; the trigger text is ddl/sqlite/install_replace.sql and
 * install_replaced.sql, expanded by odbc_sqlite.c.  Unique indexes on
 * expressions cannot be matched from a trigger: they are named in the
 * generated DDL's comments and in doc/types.md.
 */
#include <stdlib.h>
#include <string.h>

#include "odbc_int.h"

/* One key column of a secondary unique index, as the catalog gives it. */
struct uq_col {
	char *index, *col, *coll, *dflt;
	int notnull;
};

struct uq_list {
	struct uq_col *c;
	int n;
};

static char *dup_or_null(const char *s)
{
	return s ? ss_xstrdup(s) : NULL;
}

static int uq_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct uq_list *u = arg;
	struct uq_col *c;

	(void)l;
	(void)err;
	/* index, column (NULL: an expression), collation, notnull, default */
	if (n < 5 || !v[0])
		return 0;
	u->c = ss_xrealloc(u->c, sizeof *u->c * (size_t)(u->n + 1));
	c = &u->c[u->n++];
	c->index = ss_xstrdup(v[0]);
	c->col = dup_or_null(v[1]);
	c->coll = ss_xstrdup(v[2] ? v[2] : "BINARY");
	c->notnull = v[3] && atoi(v[3]) != 0;
	c->dflt = dup_or_null(v[4]);
	return 0;
}

static void uq_free(struct uq_list *u)
{
	for (int i = 0; i < u->n; i++) {
		free(u->c[i].index);
		free(u->c[i].col);
		free(u->c[i].coll);
		free(u->c[i].dflt);
	}
	free(u->c);
}

/* x."col" = NEW."col" COLLATE "coll"; a NOT NULL column with a default may
 * be written as NULL and stored as the default (NOT NULL ON CONFLICT
 * REPLACE), so NEW's NULL compares as the default. */
static void col_match(const struct uq_col *c, const char *rec, struct ss_buf *out)
{
	ss_buf_adds(out, "x.");
	ss_sql_quote_ident(out, c->col);
	ss_buf_adds(out, " = ");
	if (c->notnull && c->dflt)
		ss_buf_adds(out, "coalesce(");
	ss_buf_addf(out, "%s.", rec);
	ss_sql_quote_ident(out, c->col);
	if (c->notnull && c->dflt)
		ss_buf_addf(out, ", (%s))", c->dflt);
	ss_buf_adds(out, " COLLATE ");
	ss_sql_quote_ident(out, c->coll);
}

int ss_odbc_sqlite_replace_cond(struct ss_conn *c, const struct ss_tableinfo *t,
				struct ss_buf *cond, struct ss_buf *skipped, struct ss_err *err)
{
	struct odbc_param p[2] = {odbc_text(t->name), odbc_text(t->name)};
	struct uq_list u = {NULL, 0};
	int rc = -1;

	/* secondary unique indexes (origin 'u': a UNIQUE constraint, 'c': CREATE
	 * UNIQUE INDEX; a partial one's WHERE is left out: a superset), key
	 * columns in index order */
	if (ss_odbc_run(c,
			"SELECT il.name, ii.name, ii.coll, ti.\"notnull\", ti.dflt_value"
			"  FROM pragma_index_list(?, 'main') AS il"
			"  JOIN pragma_index_xinfo(il.name, 'main') AS ii"
			"  LEFT JOIN pragma_table_xinfo(?, 'main') AS ti ON ti.cid = ii.cid"
			" WHERE il.\"unique\" AND il.origin <> 'pk' AND ii.\"key\""
			" ORDER BY il.name, ii.seqno",
			2, p, uq_row, &u, err) < 0) {
		ss_err_prefix(err, "table main.%s: reading its unique indexes", t->name);
		goto done;
	}
	for (int i = 0; i < u.n;) {
		int j = i, expr = 0;

		while (j < u.n && strcmp(u.c[j].index, u.c[i].index) == 0) {
			if (!u.c[j].col)
				expr = 1;
			j++;
		}
		if (expr) {
			ss_buf_adds(skipped, skipped->len ? ", " : "");
			ss_buf_adds(skipped, u.c[i].index);
		} else {
			ss_buf_adds(cond, cond->len ? "\n        OR (" : "(");
			for (int k = i; k < j; k++) {
				if (k > i)
					ss_buf_adds(cond, " AND ");
				col_match(&u.c[k], "NEW", cond);
			}
			ss_buf_addc(cond, ')');
		}
		i = j;
	}
	rc = 0;
done:
	uq_free(&u);
	return rc;
}
