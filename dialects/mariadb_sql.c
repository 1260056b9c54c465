/*
 * mariadb_sql.c -- MariaDB's (and MySQL's) SQL, written once for every
 * transport that reaches the engine: Connector/C (mariadb.c) and
 * Connector/ODBC (odbc_flavors.c).
 *
 * Owns: backtick quoting and string literals, catalog introspection from
 * information_schema (a MariaDB schema is a database; names matched exactly
 * although information_schema compares them without regard to case), the
 * type mapping (doc/types.md, kept in step with my_vtype), the upsert
 * (INSERT ... ON DUPLICATE KEY UPDATE with the secondary-unique-key guard)
 * and delete text, what a failed guard means, and the applied-position
 * statements.  Statements go through the dialect table (c->d->query) with
 * text parameters, so either transport runs them.
 *
 * Leaves to others: running statements and binding values (mariadb.c,
 * mariadb_apply.c, odbc.c), the capture DDL (mariadb_capture.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "mariadb_int.h"

/* ---- quoting ------------------------------------------------------------- */

void ss_my_quote_ident(struct ss_buf *out, const char *ident)
{
	ss_sql_quote_with(out, ident, '`');
}

/* A string literal that reads the same whatever NO_BACKSLASH_ESCAPES says:
 * quotes doubled, and text holding a backslash or a control character
 * written as a hex literal instead. */
void ss_my_quote_literal(struct ss_buf *out, const char *s)
{
	int plain = 1;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p == '\\' || *p < 0x20 || *p == 0x7f)
			plain = 0;
	if (!plain) {
		ss_buf_adds(out, "_utf8mb4 X'");
		ss_hex_encode((const uint8_t *)s, strlen(s), out);
		ss_buf_addc(out, '\'');
		return;
	}
	ss_sql_quote_with(out, s, '\'');
}

static void qname(const struct ss_tableinfo *t, struct ss_buf *out)
{
	if (t->schema && *t->schema) {
		ss_my_quote_ident(out, t->schema);
		ss_buf_addc(out, '.');
	}
	ss_my_quote_ident(out, t->name);
}

/* The server's clock, µs since the epoch (UTC). */
int ss_my_now_us(struct ss_conn *c, int64_t *us, struct ss_err *err)
{
	return ss_db_query_i64(c,
			       "SELECT TIMESTAMPDIFF(MICROSECOND, TIMESTAMP'1970-01-01 00:00:00',"
			       " UTC_TIMESTAMP(6))",
			       us, err);
}

/* ---- catalog --------------------------------------------------------------- */

int ss_my_type_is(const char *type, const char *name)
{
	size_t n = strlen(name);

	return strncmp(type, name, n) == 0 && !isalnum((unsigned char)type[n]) && type[n] != '_';
}

int ss_my_is_text_type(const char *t)
{
	static const char *const names[] = {"char",     "varchar", "tinytext", "text", "mediumtext",
					    "longtext", "enum",    "set",      NULL};
	for (int i = 0; names[i]; i++)
		if (ss_my_type_is(t, names[i]))
			return 1;
	return 0;
}

/* enum ss_vtype for a column, from information_schema DATA_TYPE.  Choices
 * (doc/types.md): TINYINT(1) alias BOOLEAN stays INT (it holds -128..127;
 * PostgreSQL boolean targets take 1/0), BIT(1) is BOOL, TIMESTAMP (stored
 * as UTC) is TIMESTAMPTZ, DATETIME is TIMESTAMP, LONGTEXT with a
 * json_valid() check (MariaDB's JSON) is JSON, spatial types are BINARY. */
static uint8_t my_vtype(const char *data_type, int precision, int is_json)
{
	static const struct {
		const char *name;
		uint8_t vtype;
	} map[] = {
		{"tinyint", SS_V_INT},
		{"smallint", SS_V_INT},
		{"mediumint", SS_V_INT},
		{"int", SS_V_INT},
		{"integer", SS_V_INT},
		{"bigint", SS_V_INT},
		{"year", SS_V_INT},
		{"decimal", SS_V_NUMERIC},
		{"numeric", SS_V_NUMERIC},
		{"float", SS_V_FLOAT},
		{"double", SS_V_FLOAT},
		{"real", SS_V_FLOAT},
		{"binary", SS_V_BINARY},
		{"varbinary", SS_V_BINARY},
		{"tinyblob", SS_V_BINARY},
		{"blob", SS_V_BINARY},
		{"mediumblob", SS_V_BINARY},
		{"longblob", SS_V_BINARY},
		{"geometry", SS_V_BINARY},
		{"point", SS_V_BINARY},
		{"linestring", SS_V_BINARY},
		{"polygon", SS_V_BINARY},
		{"multipoint", SS_V_BINARY},
		{"multilinestring", SS_V_BINARY},
		{"multipolygon", SS_V_BINARY},
		{"geometrycollection", SS_V_BINARY},
		{"date", SS_V_DATE},
		{"time", SS_V_TIME},
		{"datetime", SS_V_TIMESTAMP},
		{"timestamp", SS_V_TIMESTAMPTZ},
		{"json", SS_V_JSON},
		{"uuid", SS_V_UUID},
	};

	if (strcmp(data_type, "bit") == 0)
		return precision == 1 ? SS_V_BOOL : SS_V_INT;
	if (is_json && ss_my_is_text_type(data_type))
		return SS_V_JSON;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].name, data_type) == 0)
			return map[i].vtype;
	return SS_V_TEXT;
}

struct ti_state {
	const char *schema, *name;
	struct ss_tableinfo *t;
	char **json_cols; /* columns with a json_valid() check */
	int njson;
	char **pk_cols; /* the primary key's columns, in key order */
	int npk;
	char *table_type;
};

static int json_check_row(void *arg, int n, const char *const *v, const size_t *l,
			  struct ss_err *err)
{
	struct ti_state *s = arg;
	const char *cl = v[1];

	(void)n;
	(void)l;
	(void)err;
	if (!v[0] || strcmp(v[0], s->name) != 0 || !cl || strncmp(cl, "json_valid(`", 12) != 0)
		return 0;
	/* json_valid(`we``ird`) -> we`ird */
	struct ss_buf col;
	const char *p = cl + 12;
	ss_buf_init(&col);
	for (; *p; p++) {
		if (*p == '`' && p[1] == '`') {
			ss_buf_addc(&col, '`');
			p++;
		} else if (*p == '`') {
			break;
		} else {
			ss_buf_addc(&col, *p);
		}
	}
	if (*p == '`' && strcmp(p, "`)") == 0) {
		s->json_cols =
			ss_xrealloc(s->json_cols, sizeof *s->json_cols * (size_t)(s->njson + 1));
		s->json_cols[s->njson++] = col.data ? ss_buf_steal(&col) : ss_xstrdup("");
	}
	ss_buf_free(&col);
	return 0;
}

/* (TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, SEQ_IN_INDEX) of the primary key,
 * in key order. */
static int pk_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct ti_state *s = arg;

	(void)l;
	(void)err;
	if (n < 4 || !v[0] || !v[1] || !v[2] || strcmp(v[0], s->schema) != 0 ||
	    strcmp(v[1], s->name) != 0)
		return 0;
	s->pk_cols = ss_xrealloc(s->pk_cols, sizeof *s->pk_cols * (size_t)(s->npk + 1));
	s->pk_cols[s->npk++] = ss_xstrdup(v[2]);
	return 0;
}

static int table_type_row(void *arg, int n, const char *const *v, const size_t *l,
			  struct ss_err *err)
{
	struct ti_state *s = arg;

	(void)n;
	(void)l;
	(void)err;
	if (v[0] && v[1] && strcmp(v[0], s->schema) == 0 && strcmp(v[1], s->name) == 0 && v[2]) {
		free(s->table_type);
		s->table_type = ss_xstrdup(v[2]);
	}
	return 0;
}

static int ti_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct ti_state *s = arg;
	struct ss_tableinfo *t = s->t;
	struct ss_colinfo *col;
	int is_json = 0;

	(void)l;
	(void)err;
	if (n < 9 || strcmp(v[0], s->schema) != 0 || strcmp(v[1], s->name) != 0)
		return 0;
	for (int i = 0; i < s->njson; i++)
		if (strcmp(s->json_cols[i], v[2]) == 0)
			is_json = 1;
	t->cols = ss_xrealloc(t->cols, sizeof *t->cols * (size_t)(t->ncols + 1));
	col = &t->cols[t->ncols++];
	memset(col, 0, sizeof *col);
	col->name = ss_xstrdup(v[2]);
	col->type = ss_xstrdup(is_json && strcmp(v[4], "longtext") == 0 ? "json" : v[3]);
	col->nullable = strcmp(v[5], "YES") == 0;
	for (int k = 0; k < s->npk; k++)
		if (strcmp(s->pk_cols[k], v[2]) == 0)
			col->pk_pos = k + 1;
	col->precision = -1;
	col->scale = -1;
	if (strcmp(v[4], "decimal") == 0 || strcmp(v[4], "numeric") == 0) {
		col->precision = v[6] ? atoi(v[6]) : -1;
		col->scale = v[7] ? atoi(v[7]) : -1;
	} else if (v[8]) {
		col->precision = atoi(v[8]); /* fractional-second digits */
	}
	col->vtype = my_vtype(v[4], v[6] ? atoi(v[6]) : -1, is_json);
	return 0;
}

/* information_schema compares names without regard to case; rows are
 * matched exactly here (tables `T` and `t` may both exist). */
int ss_my_table_info(struct ss_conn *c, const char *schema, const char *name,
		     struct ss_tableinfo *out, struct ss_err *err)
{
	/* The key in a query of its own: a correlated subquery on STATISTICS
	 * per column makes the server build a temporary schema table per row,
	 * and MariaDB 10.11 fails (errno 0) or crashes doing that under load. */
	static const char pk_sql[] =
		"SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, SEQ_IN_INDEX"
		"  FROM information_schema.STATISTICS"
		" WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY'"
		" ORDER BY SEQ_IN_INDEX";
	static const char cols_sql[] =
		"SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE,"
		"       IS_NULLABLE, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION"
		"  FROM information_schema.COLUMNS"
		" WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND IS_GENERATED = 'NEVER'"
		" ORDER BY ORDINAL_POSITION";
	const char *v[2];
	struct ti_state st;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (!schema || !*schema)
		schema = c->d->default_schema(c);
	if (!*schema) {
		ss_err_set(err,
			   "database %s: no database named for table %s: write it as "
			   "database.table, or give dbname in the dsn",
			   c->db->name, name);
		return -1;
	}
	v[0] = schema;
	v[1] = name;
	memset(&st, 0, sizeof st);
	st.schema = schema;
	st.name = name;
	st.t = out;
	if (c->d->query(c,
			"SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES"
			" WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
			2, v, NULL, table_type_row, &st, err) < 0)
		goto done;
	if (!st.table_type) {
		ss_err_set(err, "database %s: table %s.%s does not exist", c->db->name, schema,
			   name);
		goto done;
	}
	if (strcmp(st.table_type, "BASE TABLE") != 0 &&
	    strcmp(st.table_type, "SYSTEM VERSIONED") != 0) {
		ss_err_set(err, "database %s: %s.%s is a %s, not a table", c->db->name, schema,
			   name, st.table_type);
		goto done;
	}
	if (c->d->query(c,
			"SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS"
			" WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?",
			2, v, NULL, json_check_row, &st, err) < 0)
		goto done;
	if (c->d->query(c, pk_sql, 2, v, NULL, pk_row, &st, err) < 0 ||
	    c->d->query(c, cols_sql, 2, v, NULL, ti_row, &st, err) < 0)
		goto done;
	if (out->ncols == 0) {
		ss_err_set(err, "database %s: table %s.%s has no columns shadowsync can read",
			   c->db->name, schema, name);
		goto done;
	}
	ss_tableinfo_finish(out, schema, name);
	rc = 0;
done:
	if (rc < 0)
		ss_tableinfo_free(out);
	ss_strv_free(st.json_cols, st.njson);
	ss_strv_free(st.pk_cols, st.npk);
	free(st.table_type);
	return rc;
}

int ss_my_list_tables(struct ss_conn *c, const char *schema_pat, const char *name_pat,
		      char ***schemas, char ***names, int *n, struct ss_err *err)
{
	struct ss_table_list s = {schema_pat ? schema_pat : c->d->default_schema(c), name_pat, NULL,
				  NULL, 0};
	struct ss_buf sql;
	const char *v[1];
	int nv = 0, r;

	ss_buf_init(&sql);
	ss_buf_adds(&sql, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES"
			  " WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')"
			  "   AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema',"
			  "       'performance_schema', 'sys', 'shadowsync')");
	if (!strpbrk(s.schema_pat, "*?")) {
		ss_buf_adds(&sql, " AND TABLE_SCHEMA = ?");
		v[nv++] = s.schema_pat;
	}
	ss_buf_adds(&sql, " ORDER BY 1, 2");
	r = c->d->query(c, sql.data, nv, v, NULL, ss_table_list_row, &s, err);
	ss_buf_free(&sql);
	return ss_table_list_finish(&s, r, schemas, names, n);
}

/* ---- apply ---------------------------------------------------------------- */

void ss_my_upsert_sql(const struct ss_tableinfo *t, const int *cols, int ncols, int nrows,
		      struct ss_buf *out)
{
	ss_buf_adds(out, "INSERT INTO ");
	qname(t, out);
	ss_buf_adds(out, " (");
	for (int i = 0; i < ncols; i++) {
		if (i)
			ss_buf_adds(out, ", ");
		ss_my_quote_ident(out, t->cols[cols[i]].name);
	}
	ss_buf_adds(out, ") VALUES ");
	for (int r = 0; r < nrows; r++) {
		ss_buf_adds(out, r ? ", (" : "(");
		for (int i = 0; i < ncols; i++)
			ss_buf_adds(out, i ? ", ?" : "?");
		ss_buf_addc(out, ')');
	}
	/* ON DUPLICATE KEY UPDATE fires on any unique key.  The key columns
	 * come first and stay as they are when the conflict is on the primary
	 * key; a conflict on another unique key (a row with a different primary
	 * key holds the value: the target has drifted) sets a key column to
	 * NULL, which strict mode turns into an error rather than overwriting
	 * that other row. */
	ss_buf_adds(out, " ON DUPLICATE KEY UPDATE ");
	for (int k = 0; k < t->npk; k++) {
		const char *name = t->cols[t->pk[k]].name;
		if (k)
			ss_buf_adds(out, ", ");
		ss_my_quote_ident(out, name);
		ss_buf_adds(out, " = IF(");
		ss_my_quote_ident(out, name);
		ss_buf_adds(out, " <=> VALUES(");
		ss_my_quote_ident(out, name);
		ss_buf_adds(out, "), ");
		ss_my_quote_ident(out, name);
		ss_buf_adds(out, ", NULL)");
	}
	for (int i = 0; i < ncols; i++) {
		if (t->cols[cols[i]].pk_pos)
			continue;
		ss_buf_adds(out, ", ");
		ss_my_quote_ident(out, t->cols[cols[i]].name);
		ss_buf_adds(out, " = VALUES(");
		ss_my_quote_ident(out, t->cols[cols[i]].name);
		ss_buf_addc(out, ')');
	}
}

void ss_my_delete_sql(const struct ss_tableinfo *t, int nrows, struct ss_buf *out)
{
	ss_buf_adds(out, "DELETE FROM ");
	qname(t, out);
	ss_buf_adds(out, " WHERE ");
	if (t->npk == 1) {
		ss_my_quote_ident(out, t->cols[t->pk[0]].name);
		ss_buf_adds(out, " IN (");
		for (int r = 0; r < nrows; r++)
			ss_buf_adds(out, r ? ", ?" : "?");
		ss_buf_addc(out, ')');
		return;
	}
	/* (a = ? AND b = ?) OR ...: the range optimizer uses the key for this
	 * form in every version, unlike (a, b) IN ((?, ?), ...) */
	for (int r = 0; r < nrows; r++) {
		ss_buf_adds(out, r ? " OR (" : "(");
		for (int k = 0; k < t->npk; k++) {
			if (k)
				ss_buf_adds(out, " AND ");
			ss_my_quote_ident(out, t->cols[t->pk[k]].name);
			ss_buf_adds(out, " = ?");
		}
		ss_buf_addc(out, ')');
	}
}

/* A failed upsert: the key guard above turns a conflict on another unique
 * key into "Column 'k' cannot be null" for a key column; say what it
 * means. */
void ss_my_upsert_explain(const struct ss_tableinfo *t, struct ss_err *err)
{
	if (strcmp(err->sqlstate, "23000") != 0 || !strstr(err->msg, "cannot be null"))
		return;
	for (int k = 0; k < t->npk; k++) {
		char col[300];
		snprintf(col, sizeof col, "Column '%s' cannot be null", t->cols[t->pk[k]].name);
		if (strstr(err->msg, col)) {
			ss_err_prefix(err,
				      "a row with another primary key already holds a value of "
				      "a unique key of these rows: the target has drifted from "
				      "the source");
			return;
		}
	}
}
