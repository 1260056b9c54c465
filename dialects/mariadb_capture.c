/*
 * mariadb_capture.c -- trigger capture on MariaDB through Connector/C.
 *
 * Owns: the capture DDL (templates in ddl/mariadb/: one log table per job
 * in the `shadowsync` database, three triggers per table writing row images
 * with JSON_OBJECT), its checks (server version, job name length, foreign
 * key actions that fire no trigger), uninstall, the periodic check that the
 * installed triggers are still what install would create, and reading and
 * deleting shadow rows (polled: MariaDB has no notifications).
 *
 * Leaves to others: statements and scripts (mariadb.c), quoting and the
 * catalog (mariadb_sql.c), decoding a shadow row (dialect.c), turning row
 * images into the journal form (change.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "mariadb_conn.h"
#include "mariadb_int.h"

/* Text for a "-- " comment line: control characters (a newline in a table
 * name would end the comment) become '?'. */
static void comment_text(struct ss_buf *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		ss_buf_addc(out, *p < 0x20 || *p == 0x7f ? '?' : (char)*p);
}

/* Rows of a query kept as strings, for work that needs the connection
 * again (an unbuffered result must be read to its end first). */
struct strrows {
	char **v; /* row-major, ncols per row; NULL for SQL NULL */
	int ncols, n;
};

static int strrows_add(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct strrows *s = arg;

	(void)err;
	s->ncols = n;
	s->v = ss_xrealloc(s->v, sizeof *s->v * (size_t)((s->n + 1) * n));
	for (int i = 0; i < n; i++)
		s->v[s->n * n + i] = v[i] ? ss_xstrndup(v[i], l[i]) : NULL;
	s->n++;
	return 0;
}

static void strrows_free(struct strrows *s)
{
	for (int i = 0; i < s->n * s->ncols; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

/* ---- capture DDL ------------------------------------------------------------- */

static void log_table_name(const char *job, struct ss_buf *out)
{
	struct ss_buf b;

	ss_buf_init(&b);
	ss_buf_addf(&b, "log_%s", job);
	ss_my_quote_ident(out, b.data);
	ss_buf_free(&b);
}

/* shadowsync_<job>_<tag>_<ins|upd|del>: unique per job and table (trigger
 * names are per database), at most 64 characters for a job of 32. */
static void trigger_name(const char *job, const char *tag, const char *event, struct ss_buf *out)
{
	ss_buf_addf(out, "shadowsync_%s_%s_%s", job, tag, event);
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static int check_job_name(struct ss_conn *c, const char *job, struct ss_err *err)
{
	if (utf8_chars(job) > MY_JOB_MAX) {
		ss_err_set(err,
			   "database %s: job name \"%s\" is longer than %d characters, too long "
			   "for the MariaDB trigger names derived from it",
			   c->db->name, job, MY_JOB_MAX);
		return -1;
	}
	return 0;
}

/* The trigger DDL needs MariaDB 10.5: CREATE OR REPLACE TRIGGER, several
 * triggers per event, CHECK constraints, CAST(... AS DOUBLE). */
static int check_server(struct ss_conn *c, struct ss_err *err)
{
	const char *info = mysql_get_server_info(MY(c));
	unsigned long v = mysql_get_server_version(MY(c));

	if (!info || !strstr(info, "MariaDB") || v < 100500) {
		ss_err_set(err,
			   "database %s: trigger capture needs MariaDB 10.5 or later (server is "
			   "%s %s)",
			   c->db->name, info && strstr(info, "MariaDB") ? "MariaDB" : "MySQL",
			   info ? info : "?");
		return -1;
	}
	return 0;
}

/* TRIM(TRAILING ...) of fractional zeros: "10:00:00.500000" -> "10:00:00.5",
 * "10:00:00.000000" -> "10:00:00" (only for values that carry a fraction). */
static void trim_fraction(struct ss_buf *out, const char *inner)
{
	ss_buf_addf(out, "TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM %s))", inner);
}

/* The expression giving a column's value in a row image, in the form the
 * capture's reader (change.c ss_image_parse) turns into the journal form. */
void ss_my_image_expr(const struct ss_colinfo *col, const char *rec, struct ss_buf *out)
{
	struct ss_buf x, cast;

	ss_buf_init(&x);
	ss_buf_init(&cast);
	ss_buf_addf(&x, "%s.", rec);
	ss_my_quote_ident(&x, col->name);
	switch (col->vtype) {
	case SS_V_INT:
		if (ss_my_type_is(col->type, "bit"))
			ss_buf_addf(out, "%s + 0", x.data);
		else
			ss_buf_adds(out, x.data);
		break;
	case SS_V_BOOL: /* BIT(1) */ ss_buf_addf(out, "%s + 0", x.data); break;
	case SS_V_NUMERIC: /* exact, as a string */
		ss_buf_addf(out, "CAST(%s AS CHAR)", x.data);
		break;
	case SS_V_FLOAT: /* a JSON number, shortest round-trip text of the double */
		ss_buf_addf(out, "CAST(%s AS DOUBLE)", x.data);
		break;
	case SS_V_BINARY: ss_buf_addf(out, "HEX(%s)", x.data); break;
	case SS_V_DATE: ss_buf_addf(out, "NULLIF(CAST(%s AS CHAR), '0000-00-00')", x.data); break;
	case SS_V_TIME:
		ss_buf_addf(&cast, "CAST(%s AS CHAR)", x.data);
		if (col->precision > 0)
			trim_fraction(out, cast.data);
		else
			ss_buf_adds(out, cast.data);
		break;
	case SS_V_TIMESTAMP: /* DATETIME */
		ss_buf_addf(&cast, "CAST(%s AS CHAR)", x.data);
		ss_buf_adds(out, "NULLIF(");
		if (col->precision > 0)
			trim_fraction(out, cast.data);
		else
			ss_buf_adds(out, cast.data);
		ss_buf_adds(out, ", '0000-00-00 00:00:00')");
		break;
	case SS_V_TIMESTAMPTZ:
		/* TIMESTAMP: UNIX_TIMESTAMP() of the column is its stored UTC value,
		 * whatever the session's time zone (CONVERT_TZ would be wrong in the
		 * hour a DST change repeats); 0 is MariaDB's zero date */
		ss_buf_addf(&cast,
			    "CAST(TIMESTAMPADD(MICROSECOND, UNIX_TIMESTAMP(%s) * 1000000,"
			    " TIMESTAMP'1970-01-01 00:00:00') AS CHAR)",
			    x.data);
		ss_buf_addf(out, "IF(UNIX_TIMESTAMP(%s) = 0, NULL, CONCAT(", x.data);
		trim_fraction(out, cast.data);
		ss_buf_adds(out, ", '+00'))");
		break;
	case SS_V_JSON: /* nested JSON, not a string */
		ss_buf_addf(out, "JSON_EXTRACT(%s, '$')", x.data);
		break;
	case SS_V_UUID: ss_buf_addf(out, "CAST(%s AS CHAR)", x.data); break;
	default:
		if (ss_my_is_text_type(col->type))
			ss_buf_adds(out, x.data);
		else
			ss_buf_addf(out, "CAST(%s AS CHAR)", x.data);
	}
	ss_buf_free(&x);
	ss_buf_free(&cast);
}

/* 'name', expr, 'name', expr ... for JSON_OBJECT. */
void ss_my_image_args(const struct ss_tableinfo *t, int keys_only, const char *rec,
		      struct ss_buf *out)
{
	int n = keys_only ? t->npk : t->ncols;

	for (int i = 0; i < n; i++) {
		const struct ss_colinfo *col = &t->cols[keys_only ? t->pk[i] : i];
		if (i)
			ss_buf_adds(out, ", ");
		ss_my_quote_literal(out, col->name);
		ss_buf_adds(out, ", ");
		ss_my_image_expr(col, rec, out);
	}
}

/* True when the key did not change; compared as bytes, so that a change of
 * case or trailing blanks (equal under most collations) counts as a change. */
static void key_unchanged(const struct ss_tableinfo *t, struct ss_buf *out)
{
	for (int k = 0; k < t->npk; k++) {
		const char *col = t->cols[t->pk[k]].name;
		if (k)
			ss_buf_adds(out, " AND ");
		ss_buf_adds(out, "CAST(OLD.");
		ss_my_quote_ident(out, col);
		ss_buf_adds(out, " AS BINARY) <=> CAST(NEW.");
		ss_my_quote_ident(out, col);
		ss_buf_adds(out, " AS BINARY)");
	}
}

/* MariaDB fires no trigger for rows a foreign-key action changes (ON DELETE
 * CASCADE, SET NULL ...): such changes to a captured table would be lost
 * without a trace, so a table with such a foreign key is refused. */
static int check_fk_actions(struct ss_conn *c, const struct ss_tableinfo *t, struct ss_err *err)
{
	struct strrows rows = {NULL, 0, 0};
	struct my_val v[2];
	int rc = 0;

	ss_my_val_text(&v[0], t->schema, strlen(t->schema));
	ss_my_val_text(&v[1], t->name, strlen(t->name));
	if (ss_my_query_typed(
		    c,
		    "SELECT TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_NAME, DELETE_RULE,"
		    " UPDATE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS"
		    " WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?"
		    "   AND (DELETE_RULE NOT IN ('RESTRICT', 'NO ACTION')"
		    "        OR UPDATE_RULE NOT IN ('RESTRICT', 'NO ACTION'))"
		    " ORDER BY CONSTRAINT_NAME",
		    v, 2, strrows_add, &rows, err) < 0)
		return -1;
	for (int i = 0; i < rows.n && rc == 0; i++) {
		char **r = &rows.v[i * rows.ncols];
		if (!r[0] || strcmp(r[0], t->name) != 0)
			continue;
		int del = strcmp(r[3], "RESTRICT") != 0 && strcmp(r[3], "NO ACTION") != 0;
		ss_err_set(err,
			   "table %s.%s in database %s has foreign key %s with ON %s %s (to %s): "
			   "MariaDB fires no trigger for the rows such an action changes, so "
			   "those changes could not be captured; use RESTRICT or NO ACTION and "
			   "change the rows explicitly",
			   t->schema, t->name, c->db->name, r[1], del ? "DELETE" : "UPDATE",
			   del ? r[3] : r[4], r[2] ? r[2] : "?");
		rc = -1;
	}
	strrows_free(&rows);
	return rc;
}

/* The three triggers of one table (ddl/mariadb/install_table.sql). */
static int table_ddl(struct ss_conn *c, const char *job, const struct ss_tableinfo *t,
		     struct ss_buf *out, struct ss_err *err)
{
	struct ss_buf log, q, desc, slit, tlit, ti, tu, td, nm, newk, oldk, newr, same;
	char tag[17];
	int r;

	if (t->npk == 0) {
		ss_err_set(err,
			   "table %s.%s in database %s has no primary key; shadowsync needs one "
			   "to apply changes by key",
			   t->schema, t->name, c->db->name);
		return -1;
	}
	ss_ddl_table_tag(job, t->schema, t->name, tag);
	ss_buf_init(&log);
	ss_buf_init(&q);
	ss_buf_init(&desc);
	ss_buf_init(&slit);
	ss_buf_init(&tlit);
	ss_buf_init(&ti);
	ss_buf_init(&tu);
	ss_buf_init(&td);
	ss_buf_init(&nm);
	ss_buf_init(&newk);
	ss_buf_init(&oldk);
	ss_buf_init(&newr);
	ss_buf_init(&same);
	log_table_name(job, &log);
	ss_tableinfo_qname(&ss_dialect_mariadb, t->schema, t->name, &q);
	comment_text(&desc, q.data);
	ss_my_quote_literal(&slit, t->schema);
	ss_my_quote_literal(&tlit, t->name);
	/* a trigger lives in its table's database: name it there */
	trigger_name(job, tag, "ins", &nm);
	ss_tableinfo_qname(&ss_dialect_mariadb, t->schema, nm.data, &ti);
	ss_buf_reset(&nm);
	trigger_name(job, tag, "upd", &nm);
	ss_tableinfo_qname(&ss_dialect_mariadb, t->schema, nm.data, &tu);
	ss_buf_reset(&nm);
	trigger_name(job, tag, "del", &nm);
	ss_tableinfo_qname(&ss_dialect_mariadb, t->schema, nm.data, &td);
	ss_my_image_args(t, 1, "NEW", &newk);
	ss_my_image_args(t, 1, "OLD", &oldk);
	ss_my_image_args(t, 0, "NEW", &newr);
	key_unchanged(t, &same);
	const char *kv[] = {"TABLE_DESC", desc.data,  "QTABLE",        q.data,     "LOG",
			    log.data,     "TRIG_INS", ti.data,         "TRIG_UPD", tu.data,
			    "TRIG_DEL",   td.data,    "SCHEMA_LIT",    slit.data,  "TABLE_LIT",
			    tlit.data,    "NEW_KEY",  newk.data,       "OLD_KEY",  oldk.data,
			    "NEW_ROW",    newr.data,  "KEY_UNCHANGED", same.data,  NULL};
	r = ss_ddl_expand(ss_ddl_get("mariadb/install_table.sql"), kv, out, err);
	ss_buf_free(&log);
	ss_buf_free(&q);
	ss_buf_free(&desc);
	ss_buf_free(&slit);
	ss_buf_free(&tlit);
	ss_buf_free(&ti);
	ss_buf_free(&tu);
	ss_buf_free(&td);
	ss_buf_free(&nm);
	ss_buf_free(&newk);
	ss_buf_free(&oldk);
	ss_buf_free(&newr);
	ss_buf_free(&same);
	return r;
}

int ss_my_capture_install_sql(struct ss_conn *c, const char *job, const struct ss_tableinfo *tables,
			      int n, struct ss_buf *out, struct ss_err *err)
{
	struct ss_buf log, jobc, dbc, comment, commentlit;
	int rc = -1;

	if (check_job_name(c, job, err) < 0 || check_server(c, err) < 0)
		return -1;
	ss_buf_init(&log);
	ss_buf_init(&jobc);
	ss_buf_init(&dbc);
	ss_buf_init(&comment);
	ss_buf_init(&commentlit);
	log_table_name(job, &log);
	comment_text(&jobc, job);
	comment_text(&dbc, c->db->name);
	ss_buf_addf(&comment, "shadowsync job %s: changes waiting for capture", job);
	ss_my_quote_literal(&commentlit, comment.data);
	{
		const char *kv[] = {"JOB_NAME",      jobc.data,   "DATABASE",
				    dbc.data,        "LOG",       log.data,
				    "SQL_MODE",      MY_SQL_MODE, "LOG_COMMENT_LIT",
				    commentlit.data, NULL};
		if (ss_ddl_expand(ss_ddl_get("mariadb/install_head.sql"), kv, out, err) < 0)
			goto done;
	}
	for (int i = 0; i < n; i++)
		if (check_fk_actions(c, &tables[i], err) < 0 ||
		    table_ddl(c, job, &tables[i], out, err) < 0)
			goto done;
	ss_buf_adds(out, ss_ddl_get("mariadb/install_tail.sql"));
	rc = 0;
done:
	ss_buf_free(&log);
	ss_buf_free(&jobc);
	ss_buf_free(&dbc);
	ss_buf_free(&comment);
	ss_buf_free(&commentlit);
	return rc;
}

struct uninst_state {
	const char *job;
	struct ss_buf *out;
};

/* Is name exactly shadowsync_<job>_<16 hex>_<ins|upd|del>? */
static int job_trigger(const char *job, const char *name)
{
	size_t jl = strlen(job);

	if (strncmp(name, "shadowsync_", 11) != 0 || strncmp(name + 11, job, jl) != 0 ||
	    name[11 + jl] != '_')
		return 0;
	const char *p = name + 12 + jl;
	if (strlen(p) != 20)
		return 0;
	for (int i = 0; i < 16; i++)
		if (!strchr("0123456789abcdef", p[i]))
			return 0;
	return strcmp(p + 16, "_ins") == 0 || strcmp(p + 16, "_upd") == 0 ||
	       strcmp(p + 16, "_del") == 0;
}

/* A LIKE pattern for the job's trigger names (exact match: job_trigger). */
static void job_like(const char *job, struct ss_buf *out)
{
	ss_buf_adds(out, "shadowsync\\_");
	for (const char *p = job; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			ss_buf_addc(out, '\\');
		ss_buf_addc(out, *p);
	}
	ss_buf_adds(out, "\\_%");
}

static int uninst_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct uninst_state *s = arg;
	struct ss_buf q;
	int r;

	(void)n;
	(void)l;
	if (!job_trigger(s->job, v[1]))
		return 0;
	ss_buf_init(&q);
	ss_tableinfo_qname(&ss_dialect_mariadb, v[0], v[1], &q);
	const char *kv[] = {"QTRIGGER", q.data, NULL};
	r = ss_ddl_expand(ss_ddl_get("mariadb/uninstall_trigger.sql"), kv, s->out, err);
	ss_buf_free(&q);
	return r < 0 ? -1 : 0;
}

int ss_my_capture_uninstall_sql(struct ss_conn *c, const char *job,
				const struct ss_tableinfo *tables, int n, struct ss_buf *out,
				struct ss_err *err)
{
	struct ss_buf log, jobc, dbc, like;
	struct uninst_state st = {job, out};
	struct my_val v[1];
	int rc = -1;

	(void)tables;
	(void)n;
	ss_buf_init(&log);
	ss_buf_init(&jobc);
	ss_buf_init(&dbc);
	ss_buf_init(&like);
	log_table_name(job, &log);
	comment_text(&jobc, job);
	comment_text(&dbc, c->db->name);
	job_like(job, &like);
	{
		const char *kv[] = {"JOB_NAME", jobc.data, "DATABASE", dbc.data, NULL};
		if (ss_ddl_expand(ss_ddl_get("mariadb/uninstall_head.sql"), kv, out, err) < 0)
			goto done;
	}
	/* every trigger of the job, found in the catalog (the table list may
	 * have changed since install) */
	ss_my_val_text(&v[0], like.data, like.len);
	if (ss_my_query_typed(c,
			      "SELECT TRIGGER_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS"
			      " WHERE TRIGGER_NAME LIKE ? ORDER BY 1, 2",
			      v, 1, uninst_row, &st, err) < 0)
		goto done;
	{
		const char *kv[] = {"LOG", log.data, NULL};
		if (ss_ddl_expand(ss_ddl_get("mariadb/uninstall_tail.sql"), kv, out, err) < 0)
			goto done;
	}
	rc = 0;
done:
	ss_buf_free(&log);
	ss_buf_free(&jobc);
	ss_buf_free(&dbc);
	ss_buf_free(&like);
	return rc;
}

/* MariaDB has no notifications: the capture polls. */
int ss_my_capture_listen(struct ss_conn *c, const char *job, struct ss_err *err)
{
	(void)c;
	(void)job;
	(void)err;
	return -1;
}

int ss_my_capture_drain(struct ss_conn *c, struct ss_err *err)
{
	(void)c;
	(void)err;
	return 0;
}

/* The capture triggers list the table's columns as they were at install: a
 * column added later would be missing from every row image, silently.  So
 * at a connection's first fetch, and every MY_TRIGGER_CHECK_US after, each
 * trigger of the job must be exactly what install would create now. */
static int check_triggers(struct ss_conn *c, const char *job, struct ss_err *err)
{
	struct strrows rows = {NULL, 0, 0};
	struct ss_buf like, ddl, needle;
	struct my_val v[1];
	const char *schema = NULL, *table = NULL;
	int rc = -1;

	ss_buf_init(&like);
	ss_buf_init(&ddl);
	ss_buf_init(&needle);
	job_like(job, &like);
	ss_my_val_text(&v[0], like.data, like.len);
	if (ss_my_query_typed(
		    c,
		    "SELECT TRIGGER_SCHEMA, EVENT_OBJECT_TABLE, TRIGGER_NAME, ACTION_STATEMENT"
		    " FROM information_schema.TRIGGERS WHERE TRIGGER_NAME LIKE ? ORDER BY 1, 2",
		    v, 1, strrows_add, &rows, err) < 0)
		goto done;
	for (int i = 0; i < rows.n; i++) {
		char **r = &rows.v[i * rows.ncols];
		if (!r[0] || !r[1] || !r[2] || !r[3] || !job_trigger(job, r[2]))
			continue;
		if (!schema || strcmp(schema, r[0]) != 0 || strcmp(table, r[1]) != 0) {
			struct ss_tableinfo t;
			schema = r[0];
			table = r[1];
			ss_buf_reset(&ddl);
			if (ss_my_table_info(c, schema, table, &t, err) < 0)
				goto done;
			int k = table_ddl(c, job, &t, &ddl, err);
			ss_tableinfo_free(&t);
			if (k < 0)
				goto done;
		}
		ss_buf_reset(&needle);
		ss_buf_addf(&needle, "FOR EACH ROW\n%s$$", r[3]);
		if (!strstr(ddl.data, needle.data)) {
			ss_err_set(
				err,
				"database %s: capture trigger %s of job %s is not what install "
				"creates for table %s.%s now (its columns changed, it was renamed, "
				"or shadowsync was upgraded): run install again, then backfill the "
				"table: rows changed in between may lack new columns",
				c->db->name, r[2], job, schema, table);
			goto done;
		}
	}
	rc = 0;
done:
	strrows_free(&rows);
	ss_buf_free(&like);
	ss_buf_free(&ddl);
	ss_buf_free(&needle);
	return rc;
}

int ss_my_capture_fetch(struct ss_conn *c, const char *job, int limit, ss_shadow_cb cb, void *arg,
			struct ss_err *err)
{
	struct ss_buf sql;
	struct ss_shadow_fetch st = {cb, arg, 0};
	struct my_val v[1];
	int64_t now = ss_mono_us();
	int r;

	if (!MYC(c)->trig_check_us || now - MYC(c)->trig_check_us >= MY_TRIGGER_CHECK_US) {
		if (check_triggers(c, job, err) < 0)
			return -1;
		MYC(c)->trig_check_us = now;
	}
	ss_buf_init(&sql);
	ss_buf_adds(&sql, "SELECT id, txid, schema_name, table_name, op, key_image, row_image,"
			  " TIMESTAMPDIFF(MICROSECOND, TIMESTAMP'1970-01-01 00:00:00', captured_at)"
			  " FROM `shadowsync`.");
	log_table_name(job, &sql);
	ss_buf_adds(&sql, " ORDER BY id LIMIT ?");
	ss_my_val_u64(&v[0], (uint64_t)(limit > 0 ? limit : 1));
	r = ss_my_query_typed(c, sql.data, v, 1, ss_shadow_fetch_row, &st, err);
	if (r < 0 && strcmp(err->sqlstate, "42S02") == 0)
		ss_err_prefix(err, "capture for job %s is not installed (run shadowsync install)",
			      job);
	ss_buf_free(&sql);
	return r;
}

int ss_my_capture_delete(struct ss_conn *c, const char *job, const uint64_t *ids, int n,
			 struct ss_err *err)
{
	struct ss_buf sql;
	struct my_val *v = ss_xcalloc((size_t)(n < MY_MAX_ROWS ? n : MY_MAX_ROWS) + 1, sizeof *v);
	int rc = 0;

	ss_buf_init(&sql);
	for (int i = 0; i < n && rc == 0; i += MY_MAX_ROWS) {
		int m = n - i < MY_MAX_ROWS ? n - i : MY_MAX_ROWS;
		ss_buf_reset(&sql);
		ss_buf_adds(&sql, "DELETE FROM `shadowsync`.");
		log_table_name(job, &sql);
		ss_buf_adds(&sql, " WHERE id IN (");
		for (int k = 0; k < m; k++) {
			ss_buf_adds(&sql, k ? ", ?" : "?");
			ss_my_val_u64(&v[k], ids[i + k]);
		}
		ss_buf_addc(&sql, ')');
		rc = ss_my_exec_cached(c, sql.data, sql.len, v, m, err);
	}
	ss_buf_free(&sql);
	free(v);
	return rc;
}
