/*
 * odbc_sqlite.c -- the SQLite flavour of the ODBC dialect: a capture source
 * and a target, through the SQLite3 ODBC driver.
 *
 * Owns SQLite's SQL: identifier quoting, introspection (pragma_table_xinfo;
 * declared type -> journal type by SQLite's affinity rules plus type names),
 * the trigger capture (templates in ddl/sqlite/: a shadow table per job and
 * AFTER INSERT/UPDATE/DELETE triggers writing json_object() row images;
 * on a table with a secondary unique index, BEFORE triggers for the rows
 * REPLACE removes, odbc_sqlite_replace.c),
 * reading and deleting shadow rows, and applying batches with multi-row
 * INSERT ... ON CONFLICT DO UPDATE and DELETE ... IN (VALUES ...).
 *
 * SQLite's dynamic typing shapes the row images: every column's expression
 * guards against values of an unexpected storage class (a BLOB in a TEXT
 * column must not make the trigger, and so the application's write, fail).
 * REAL values leave the trigger exactly, as C99 hex floats computed with
 * log2/power (SQLite's own printf is not correctly rounded); capture_fetch
 * turns them into shortest round-trip decimals before anyone else sees the
 * image.  Limits, documented in doc/types.md: a REAL column cannot hold -0
 * (stored as 0) or NaN (stored as NULL: applying NaN is an error naming the
 * row); NUMERIC columns hold 64-bit integers or doubles, not exact decimals.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_ops.h"
#include "engine.h"
#include "odbc_int.h"

#define SQ_SCHEMA "main"

/* A name made safe for a "-- comment" line. */
static void comment_text(struct ss_buf *out, const char *s)
{
	for (const char *p = s; *p; p++)
		ss_buf_addc(out, *p == '\n' || *p == '\r' ? ' ' : *p);
}

/* ---- connection ------------------------------------------------------------ */

/* Per-connection state: the REAL/NUMERIC columns of tables seen in shadow
 * rows (to decode their hex-float values), and the busy timeout. */
struct sq_table {
	char *name;
	struct ss_odbc_floatcols f;
};

struct sq_state {
	struct sq_table *t;
	int nt;
};

static void sq_free_state(void *p)
{
	struct sq_state *s = p;

	if (!s)
		return;
	for (int i = 0; i < s->nt; i++) {
		free(s->t[i].name);
		ss_strv_free(s->t[i].f.cols, s->t[i].f.ncols);
		free(s->t[i].f.vtypes);
	}
	free(s->t);
	free(s);
}

static int sq_setup(struct odbc_conn *c, struct ss_err *err)
{
	char *ver = NULL, sql[64];
	long ms = c->base.db->connect_timeout_us > 0 ?
			  (long)(c->base.db->connect_timeout_us / 1000) :
			  10000;
	int maj = 0, min = 0;

	if (ms < 1000)
		ms = 1000;
	snprintf(sql, sizeof sql, "PRAGMA busy_timeout = %ld", ms);
	if (ss_odbc_run(&c->base, sql, 0, NULL, NULL, NULL, err) < 0 ||
	    ss_odbc_value(&c->base, "SELECT sqlite_version()", 0, NULL, &ver, err) < 0)
		return -1;
	if (ver)
		sscanf(ver, "%d.%d", &maj, &min);
	free(ver);
	/* 32766 bound variables since 3.32, 999 before */
	c->max_params = (maj > 3 || (maj == 3 && min >= 32)) ? 32766 : 999;
	c->schema = ss_xstrdup(SQ_SCHEMA);
	c->fstate = ss_xcalloc(1, sizeof(struct sq_state));
	return 0;
}

static int sq_transient(const char *state, long native, const char *msg)
{
	(void)state;
	/* SQLITE_BUSY (5), SQLITE_LOCKED (6): another connection holds the lock */
	return native == 5 || native == 6 || strstr(msg, "database is locked") != NULL ||
	       strstr(msg, "database table is locked") != NULL;
}

static int sq_now_us(struct ss_conn *c, int64_t *us, struct ss_err *err)
{
	char *v = NULL;

	if (ss_odbc_value(c, "SELECT CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)",
			  0, NULL, &v, err) < 0)
		return -1;
	*us = v ? strtoll(v, NULL, 10) : 0;
	free(v);
	return 0;
}

/* ---- catalog -------------------------------------------------------------------- */

static int check_schema(struct ss_conn *c, const char *schema, struct ss_err *err)
{
	if (schema && *schema && strcmp(schema, SQ_SCHEMA) != 0) {
		ss_err_set(err, "database %s: SQLite has one schema, \"main\"; \"%s\" is not it",
			   c->db->name, schema);
		return -1;
	}
	return 0;
}

/* "numeric(10,2)" -> 10, 2 */
static void decl_precision(const char *decl, int *prec, int *scale)
{
	const char *p = decl ? strchr(decl, '(') : NULL;

	*prec = -1;
	*scale = -1;
	if (p && sscanf(p, "(%d,%d)", prec, scale) < 1) {
		*prec = -1;
		*scale = -1;
	}
}

static int sq_ti_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct ss_tableinfo *t = arg;
	struct ss_colinfo *col;

	(void)l;
	(void)err;
	/* cid, name, type, notnull, dflt_value, pk, hidden */
	if (n < 7 || !v[1])
		return 0;
	if (v[6] && atoi(v[6]) != 0)
		return 0; /* generated (2, 3) or hidden columns cannot be written */
	t->cols = ss_xrealloc(t->cols, sizeof *t->cols * (size_t)(t->ncols + 1));
	col = &t->cols[t->ncols++];
	memset(col, 0, sizeof *col);
	col->name = ss_xstrdup(v[1]);
	col->type = ss_xstrdup(v[2] ? v[2] : "");
	col->vtype = ss_odbc_vtype_from_decl(col->type);
	col->nullable = !(v[3] && atoi(v[3]));
	col->pk_pos = v[5] ? atoi(v[5]) : 0;
	decl_precision(col->type, &col->precision, &col->scale);
	return 0;
}

static int sq_table_info(struct ss_conn *c, const char *schema, const char *name,
			 struct ss_tableinfo *out, struct ss_err *err)
{
	struct odbc_param p[2] = {odbc_text(name), odbc_text(SQ_SCHEMA)};
	char *real_name = NULL;
	int npk = 0;

	memset(out, 0, sizeof *out);
	if (check_schema(c, schema, err) < 0)
		return -1;
	/* the catalog's spelling (SQLite names are case-insensitive) */
	if (ss_odbc_value(c,
			  "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name = ?"
			  " COLLATE NOCASE ORDER BY name = ? DESC LIMIT 1",
			  2, (struct odbc_param[]){p[0], p[0]}, &real_name, err) < 0)
		return -1;
	if (!real_name) {
		ss_err_set(err, "database %s: table main.%s does not exist", c->db->name, name);
		return -1;
	}
	p[0].data = real_name;
	p[0].len = strlen(real_name);
	if (ss_odbc_run(c,
			"SELECT cid, name, type, \"notnull\", dflt_value, pk, hidden"
			"  FROM pragma_table_xinfo(?, ?) ORDER BY cid",
			2, p, sq_ti_row, out, err) < 0) {
		free(real_name);
		ss_tableinfo_free(out);
		return -1;
	}
	out->schema = ss_xstrdup(SQ_SCHEMA);
	out->name = real_name;
	for (int i = 0; i < out->ncols; i++)
		if (out->cols[i].pk_pos > npk)
			npk = out->cols[i].pk_pos;
	out->pk = ss_xcalloc((size_t)(npk ? npk : 1), sizeof *out->pk);
	out->npk = npk;
	for (int i = 0; i < out->ncols; i++)
		if (out->cols[i].pk_pos > 0)
			out->pk[out->cols[i].pk_pos - 1] = i;
	return 0;
}

/* SQLite has one schema: each row is a table name in it. */
static int sq_list_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	(void)l;
	(void)err;
	if (n >= 1 && v[0])
		ss_table_list_add(arg, SQ_SCHEMA, v[0]);
	return 0;
}

static int sq_list_tables(struct ss_conn *c, const char *schema_pat, const char *name_pat,
			  char ***schemas, char ***names, int *n, struct ss_err *err)
{
	struct ss_table_list l = {schema_pat ? schema_pat : SQ_SCHEMA, name_pat, NULL, NULL, 0};
	int r = ss_odbc_run(c,
			    "SELECT name FROM main.sqlite_master WHERE type = 'table'"
			    "   AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
			    "   AND name NOT LIKE 'shadowsync\\_%' ESCAPE '\\' ORDER BY name",
			    0, NULL, sq_list_row, &l, err);

	return ss_table_list_finish(&l, r, schemas, names, n);
}

/* ---- capture DDL -------------------------------------------------------------------- */

/* shadowsync_<kind>_<job>: the job's shadow table ("log") and the table of
 * rows a write may remove by REPLACE ("replaced"). */
static void log_name(const char *job, const char *kind, struct ss_buf *out)
{
	struct ss_buf b;

	ss_buf_init(&b);
	ss_buf_addf(&b, "shadowsync_%s_%s", kind, job);
	ss_sql_quote_ident(out, b.data);
	ss_buf_free(&b);
}

/* shadowsync_<job>_<tag>_<ins|upd|del|rins|rupd>: unique per (job, table), and
 * recognisable again by uninstall. */
static void trigger_name(const char *job, const char *tag, const char *kind, struct ss_buf *out)
{
	struct ss_buf b;

	ss_buf_init(&b);
	ss_buf_addf(&b, "shadowsync_%s_%s_%s", job, tag, kind);
	ss_sql_quote_ident(out, b.data);
	ss_buf_free(&b);
}

/* Is name "shadowsync_<job>_<16 hex>_<ins|upd|del|rins|rupd>"? */
static int is_job_trigger(const char *job, const char *name)
{
	size_t jl = strlen(job);

	if (strncmp(name, "shadowsync_", 11) != 0 || strncmp(name + 11, job, jl) != 0)
		return 0;
	const char *p = name + 11 + jl;
	if (*p++ != '_')
		return 0;
	for (int i = 0; i < 16; i++, p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return strcmp(p, "_ins") == 0 || strcmp(p, "_upd") == 0 || strcmp(p, "_del") == 0 ||
	       strcmp(p, "_rins") == 0 || strcmp(p, "_rupd") == 0;
}

/* A REAL as a C99 hex float, exactly ("-0x1fp-3"), or Infinity / 0.  With
 * s the binary exponent shift (log2 may be one off either way; the margin
 * of 54 absorbs it), |r| * 2^-s is an integer below 2^56; the two power()
 * factors keep 2^-s finite for subnormals. */
static void hexfloat_expr(const char *ref, struct ss_buf *out)
{
	ss_buf_addf(
		out,
		"CASE WHEN %s = 0 THEN 0 WHEN %s = 9e999 THEN 'Infinity'"
		" WHEN %s = -9e999 THEN '-Infinity'"
		" ELSE (SELECT printf('%%s0x%%xp%%d', CASE WHEN %s < 0 THEN '-' ELSE '' END,"
		" CAST(abs(%s) * power(2.0, -s / 2) * power(2.0, -s - (-s / 2)) AS INTEGER), s)"
		" FROM (SELECT max(CAST(floor(log2(abs(%s))) AS INTEGER) - 54, -1074) AS s)) END",
		ref, ref, ref, ref, ref, ref);
}

/* The expression whose JSON rendering is the journal form of a column. */
void ss_odbc_sqlite_value_expr(const struct ss_colinfo *col, const char *rec, struct ss_buf *out)
{
	struct ss_buf r;

	ss_buf_init(&r);
	ss_buf_addf(&r, "%s.", rec);
	ss_sql_quote_ident(&r, col->name);
	const char *ref = r.data;
	switch (col->vtype) {
	case SS_V_BINARY:
		ss_buf_addf(out, "CASE WHEN %s IS NULL THEN NULL ELSE hex(%s) END", ref, ref);
		break;
	case SS_V_FLOAT:
	case SS_V_NUMERIC:
		ss_buf_addf(out, "CASE typeof(%s) WHEN 'real' THEN ", ref);
		hexfloat_expr(ref, out);
		ss_buf_addf(out, " WHEN 'blob' THEN CAST(%s AS TEXT) ELSE %s END", ref, ref);
		break;
	case SS_V_BOOL:
		ss_buf_addf(out,
			    "CASE typeof(%s) WHEN 'integer' THEN %s <> 0 WHEN 'real' THEN %s <> 0"
			    " WHEN 'blob' THEN CAST(%s AS TEXT) ELSE %s END",
			    ref, ref, ref, ref, ref);
		break;
	case SS_V_JSON:
		ss_buf_addf(
			out,
			"CASE WHEN typeof(%s) = 'text' AND json_valid(%s) THEN json(%s)"
			" WHEN typeof(%s) IN ('blob', 'real') THEN CAST(%s AS TEXT) ELSE %s END",
			ref, ref, ref, ref, ref, ref);
		break;
	case SS_V_UUID:
		ss_buf_addf(
			out,
			"CASE WHEN typeof(%s) = 'blob' AND length(%s) = 16 THEN"
			" lower(substr(hex(%s), 1, 8) || '-' || substr(hex(%s), 9, 4) || '-' ||"
			" substr(hex(%s), 13, 4) || '-' || substr(hex(%s), 17, 4) || '-' ||"
			" substr(hex(%s), 21))"
			" WHEN typeof(%s) IN ('blob', 'real') THEN CAST(%s AS TEXT) ELSE %s END",
			ref, ref, ref, ref, ref, ref, ref, ref, ref, ref);
		break;
	default:
		ss_buf_addf(out,
			    "CASE WHEN typeof(%s) IN ('blob', 'real') THEN CAST(%s AS TEXT) ELSE "
			    "%s END",
			    ref, ref, ref);
		break;
	}
	ss_buf_free(&r);
}

#define JSON_GROUP 60 /* columns per json_object() call (SQLite allows 127 arguments) */

/* json_object('a', <a>, ...) over cols; wider rows are glued from groups. */
void ss_odbc_sqlite_image_expr(const struct ss_tableinfo *t, const int *idx, int n, const char *rec,
			       struct ss_buf *out)
{
	int ngroups = (n + JSON_GROUP - 1) / JSON_GROUP;

	for (int g = 0; g < ngroups; g++) {
		struct ss_buf obj;
		int from = g * JSON_GROUP, to = from + JSON_GROUP < n ? from + JSON_GROUP : n;

		ss_buf_init(&obj);
		ss_buf_adds(&obj, "json_object(");
		for (int i = from; i < to; i++) {
			const struct ss_colinfo *col = &t->cols[idx ? idx[i] : i];
			if (i > from)
				ss_buf_adds(&obj, ",\n        ");
			ss_sql_quote_literal(&obj, col->name);
			ss_buf_adds(&obj, ", ");
			ss_odbc_sqlite_value_expr(col, rec, &obj);
		}
		ss_buf_addc(&obj, ')');
		if (ngroups == 1) {
			ss_buf_add(out, obj.data, obj.len);
		} else {
			/* {"a":1,"b":2} -> {"a":1,"b":2 ... ,"c":3} */
			if (g > 0)
				ss_buf_adds(out, " || ',' || ");
			ss_buf_addf(out, "substr(%s, %d", obj.data, g == 0 ? 1 : 2);
			if (g < ngroups - 1)
				ss_buf_addf(out, ", length(%s) - %d", obj.data, g == 0 ? 1 : 2);
			ss_buf_addc(out, ')');
		}
		ss_buf_free(&obj);
	}
}

static int needs_math(const struct ss_tableinfo *tables, int n)
{
	for (int i = 0; i < n; i++)
		for (int k = 0; k < tables[i].ncols; k++)
			if (tables[i].cols[k].vtype == SS_V_FLOAT ||
			    tables[i].cols[k].vtype == SS_V_NUMERIC)
				return 1;
	return 0;
}

static int check_job_name(struct ss_conn *c, const char *job, struct ss_err *err)
{
	for (const char *p = job; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\0') {
			ss_err_set(err, "database %s: job name may not contain line breaks",
				   c->db->name);
			return -1;
		}
	return 0;
}

/* "x.k1 IS rec.k1 AND ..." over the primary key. */
static void key_is(const struct ss_tableinfo *t, const char *rec, struct ss_buf *out)
{
	for (int k = 0; k < t->npk; k++) {
		const char *name = t->cols[t->pk[k]].name;
		if (k)
			ss_buf_adds(out, " AND ");
		ss_buf_adds(out, "x.");
		ss_sql_quote_ident(out, name);
		ss_buf_addf(out, " IS %s.", rec);
		ss_sql_quote_ident(out, name);
	}
}

/* The capture triggers of one table (install_table.sql), and for a table
 * with a secondary unique index those that capture the rows REPLACE removes
 * (install_replace.sql, install_replaced.sql; odbc_sqlite_replace.c). */
static int table_ddl(struct ss_conn *c, const char *job, const char *log, const char *pending,
		     const struct ss_tableinfo *t, struct ss_buf *out, struct ss_err *err)
{
	struct ss_buf q, qc, tn, slit, tlit, ti, tu, td, tri, tru, newk, oldk, newr, changed;
	struct ss_buf collides, skipped, skipc, pk1, xkey, xold, replaced;
	char tag[17];
	int rc = -1;

	if (check_schema(c, t->schema, err) < 0)
		return -1;
	ss_ddl_table_tag(job, t->schema, t->name, tag);
	struct ss_buf *bufs[] = {&q,        &qc,      &tn,    &slit, &tlit, &ti,   &tu,
				 &td,       &tri,     &tru,   &newk, &oldk, &newr, &changed,
				 &collides, &skipped, &skipc, &pk1,  &xkey, &xold, &replaced};
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		ss_buf_init(bufs[i]);
	ss_tableinfo_qname(c->d, t->schema, t->name, &q);
	comment_text(&qc, q.data);
	ss_sql_quote_ident(&tn, t->name);
	ss_sql_quote_literal(&slit, t->schema);
	ss_sql_quote_literal(&tlit, t->name);
	trigger_name(job, tag, "ins", &ti);
	trigger_name(job, tag, "upd", &tu);
	trigger_name(job, tag, "del", &td);
	trigger_name(job, tag, "rins", &tri);
	trigger_name(job, tag, "rupd", &tru);
	ss_odbc_sqlite_image_expr(t, t->pk, t->npk, "NEW", &newk);
	ss_odbc_sqlite_image_expr(t, t->pk, t->npk, "OLD", &oldk);
	ss_odbc_sqlite_image_expr(t, NULL, t->ncols, "NEW", &newr);
	for (int k = 0; k < t->npk; k++) {
		const char *name = t->cols[t->pk[k]].name;
		if (k)
			ss_buf_adds(&changed, " OR ");
		ss_buf_adds(&changed, "OLD.");
		ss_sql_quote_ident(&changed, name);
		ss_buf_adds(&changed, " IS NOT NEW.");
		ss_sql_quote_ident(&changed, name);
		ss_buf_adds(&changed, " COLLATE BINARY");
	}
	if (t->npk > 0 && ss_odbc_sqlite_replace_cond(c, t, &collides, &skipped, err) < 0)
		goto done;
	if (skipped.len) {
		ss_buf_adds(&skipc, "\n-- Not seen (unique indexes on expressions): ");
		comment_text(&skipc, skipped.data);
	}
	if (collides.len) {
		ss_sql_quote_ident(&pk1, t->cols[t->pk[0]].name);
		ss_odbc_sqlite_image_expr(t, t->pk, t->npk, "x", &xkey);
		key_is(t, "OLD", &xold);
		const char *kv[] = {"LOG",   log,          "PENDING", pending,     "TABLE",
				    tn.data, "SCHEMA_LIT", slit.data, "TABLE_LIT", tlit.data,
				    "PK1",   pk1.data,     "X_KEY",   xkey.data,   NULL};
		if (ss_ddl_expand(ss_ddl_get("sqlite/install_replaced.sql"), kv, &replaced, err) <
		    0)
			goto done;
	}
	{
		const char *kv[] = {"QTABLE",      qc.data,
				    "TABLE",       tn.data,
				    "LOG",         log,
				    "SCHEMA_LIT",  slit.data,
				    "TABLE_LIT",   tlit.data,
				    "TRIG_INS",    ti.data,
				    "TRIG_UPD",    tu.data,
				    "TRIG_DEL",    td.data,
				    "TRIG_RINS",   tri.data,
				    "TRIG_RUPD",   tru.data,
				    "NEW_KEY",     newk.data,
				    "OLD_KEY",     oldk.data,
				    "NEW_ROW",     newr.data,
				    "KEY_CHANGED", changed.data ? changed.data : "0",
				    "REPLACED",    replaced.data ? replaced.data : "",
				    NULL};
		if (ss_ddl_expand(ss_ddl_get("sqlite/install_table.sql"), kv, out, err) < 0)
			goto done;
	}
	if (collides.len) {
		const char *kv[] = {"QTABLE",    qc.data,
				    "TABLE",     tn.data,
				    "PENDING",   pending,
				    "TABLE_LIT", tlit.data,
				    "TRIG_RINS", tri.data,
				    "TRIG_RUPD", tru.data,
				    "PK1",       pk1.data,
				    "X_KEY",     xkey.data,
				    "COLLIDES",  collides.data,
				    "X_IS_OLD",  xold.data,
				    "SKIPPED",   skipc.data ? skipc.data : "",
				    NULL};
		if (ss_ddl_expand(ss_ddl_get("sqlite/install_replace.sql"), kv, out, err) < 0)
			goto done;
	} else if (skipc.len) {
		ss_buf_addf(out, "-- %s:", qc.data);
		ss_buf_add(out, skipc.data, skipc.len);
		ss_buf_addc(out, '\n');
	}
	rc = 0;
done:
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		ss_buf_free(bufs[i]);
	return rc;
}

static int sq_capture_install_sql(struct ss_conn *c, const char *job,
				  const struct ss_tableinfo *tables, int n, struct ss_buf *out,
				  struct ss_err *err)
{
	struct ss_buf log, pending, jobc, dbc;
	char *probe = NULL;
	int rc = -1;

	if (check_job_name(c, job, err) < 0)
		return -1;
	/* the triggers need json1 (built in since 3.38) and, for REAL values,
	 * the math functions: find out now, not on the application's next write */
	if (ss_odbc_value(c, "SELECT json_object('a', 1)", 0, NULL, &probe, err) < 0) {
		ss_err_prefix(err, "the SQLite library behind the ODBC driver lacks the JSON "
				   "functions shadowsync's capture triggers need");
		return -1;
	}
	free(probe);
	probe = NULL;
	if (needs_math(tables, n)) {
		if (ss_odbc_value(c, "SELECT log2(8.0) + power(2.0, 3) + floor(1.5)", 0, NULL,
				  &probe, err) < 0) {
			ss_err_prefix(err,
				      "the SQLite library behind the ODBC driver lacks the math "
				      "functions (SQLITE_ENABLE_MATH_FUNCTIONS) needed to capture "
				      "REAL/NUMERIC values exactly");
			return -1;
		}
		free(probe);
	}
	ss_buf_init(&log);
	ss_buf_init(&pending);
	ss_buf_init(&jobc);
	ss_buf_init(&dbc);
	log_name(job, "log", &log);
	log_name(job, "replaced", &pending);
	comment_text(&jobc, job);
	comment_text(&dbc, c->db->name);
	{
		const char *kv[] = {"JOB_NAME", jobc.data, "DATABASE",   dbc.data, "LOG",
				    log.data,   "PENDING", pending.data, NULL};
		if (ss_ddl_expand(ss_ddl_get("sqlite/install_head.sql"), kv, out, err) < 0)
			goto done;
	}
	for (int i = 0; i < n; i++)
		if (table_ddl(c, job, log.data, pending.data, &tables[i], out, err) < 0)
			goto done;
	ss_buf_adds(out, ss_ddl_get("sqlite/install_tail.sql"));
	rc = 0;
done:
	ss_buf_free(&log);
	ss_buf_free(&pending);
	ss_buf_free(&jobc);
	ss_buf_free(&dbc);
	return rc;
}

struct sq_uninst {
	const char *job;
	struct ss_buf *out;
};

static int sq_uninst_row(void *arg, int n, const char *const *v, const size_t *l,
			 struct ss_err *err)
{
	struct sq_uninst *s = arg;
	struct ss_buf q;
	int r;

	(void)l;
	if (n < 1 || !v[0] || !is_job_trigger(s->job, v[0]))
		return 0;
	ss_buf_init(&q);
	ss_sql_quote_ident(&q, v[0]);
	const char *kv[] = {"TRIGGER", q.data, NULL};
	r = ss_ddl_expand(ss_ddl_get("sqlite/uninstall_trigger.sql"), kv, s->out, err);
	ss_buf_free(&q);
	return r < 0 ? -1 : 0;
}

static int sq_capture_uninstall_sql(struct ss_conn *c, const char *job,
				    const struct ss_tableinfo *tables, int n, struct ss_buf *out,
				    struct ss_err *err)
{
	struct ss_buf log, pending, jobc, dbc;
	struct sq_uninst st = {job, out};
	int rc = -1;

	(void)tables;
	(void)n;
	if (check_job_name(c, job, err) < 0)
		return -1;
	ss_buf_init(&log);
	ss_buf_init(&pending);
	ss_buf_init(&jobc);
	ss_buf_init(&dbc);
	log_name(job, "log", &log);
	log_name(job, "replaced", &pending);
	comment_text(&jobc, job);
	comment_text(&dbc, c->db->name);
	{
		const char *kv[] = {"JOB_NAME", jobc.data, "DATABASE", dbc.data, NULL};
		if (ss_ddl_expand(ss_ddl_get("sqlite/uninstall_head.sql"), kv, out, err) < 0)
			goto done;
	}
	/* every trigger of this job, found in the catalog (the table list may
	 * have changed since install) */
	if (ss_odbc_run(c,
			"SELECT name FROM main.sqlite_master WHERE type = 'trigger'"
			"   AND name LIKE 'shadowsync\\_%' ESCAPE '\\' ORDER BY tbl_name, name",
			0, NULL, sq_uninst_row, &st, err) < 0)
		goto done;
	{
		const char *kv[] = {"LOG", log.data, "PENDING", pending.data, NULL};
		if (ss_ddl_expand(ss_ddl_get("sqlite/uninstall_tail.sql"), kv, out, err) < 0)
			goto done;
	}
	rc = 0;
done:
	ss_buf_free(&log);
	ss_buf_free(&pending);
	ss_buf_free(&jobc);
	ss_buf_free(&dbc);
	return rc;
}

/* ---- capture: reading and consuming shadow rows ---------------------------------- */

static const struct sq_table *float_cols(struct ss_conn *c, const char *table)
{
	struct sq_state *s = ODBC(c)->fstate;
	struct ss_tableinfo ti;
	struct ss_err e;
	struct sq_table *t;

	for (int i = 0; i < s->nt; i++)
		if (strcmp(s->t[i].name, table) == 0)
			return &s->t[i];
	s->t = ss_xrealloc(s->t, sizeof *s->t * (size_t)(s->nt + 1));
	t = &s->t[s->nt++];
	memset(t, 0, sizeof *t);
	t->name = ss_xstrdup(table);
	if (sq_table_info(c, SQ_SCHEMA, table, &ti, &e) < 0)
		return t; /* gone: nothing to decode; the capture reports the table */
	for (int i = 0; i < ti.ncols; i++) {
		uint8_t vt = ti.cols[i].vtype;
		if (vt != SS_V_FLOAT && vt != SS_V_NUMERIC)
			continue;
		t->f.cols = ss_xrealloc(t->f.cols, sizeof *t->f.cols * (size_t)(t->f.ncols + 1));
		t->f.vtypes = ss_xrealloc(t->f.vtypes, (size_t)(t->f.ncols + 1));
		t->f.cols[t->f.ncols] = ss_xstrdup(ti.cols[i].name);
		t->f.vtypes[t->f.ncols++] = vt;
	}
	ss_tableinfo_free(&ti);
	return t;
}

struct sq_fetch {
	struct ss_conn *c;
	ss_shadow_cb cb;
	void *arg;
	struct ss_buf key, row;
};

static int sq_fetch_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct sq_fetch *s = arg;
	struct ss_shadow_row r;
	const struct sq_table *ft;

	if (!ss_shadow_row_decode(n, v, l, &r))
		return 0;
	ft = float_cols(s->c, r.table);
	if (ss_odbc_sqlite_decode_floats(&ft->f, r.key_image, r.key_len, &s->key)) {
		r.key_image = s->key.data;
		r.key_len = s->key.len;
	}
	if (r.row_image && ss_odbc_sqlite_decode_floats(&ft->f, r.row_image, r.row_len, &s->row)) {
		r.row_image = s->row.data;
		r.row_len = s->row.len;
	}
	return s->cb(s->arg, &r, err);
}

static int sq_capture_fetch(struct ss_conn *c, const char *job, int limit, ss_shadow_cb cb,
			    void *arg, struct ss_err *err)
{
	struct ss_buf sql;
	char lim[24];
	struct odbc_param p;
	struct sq_fetch st = {c, cb, arg, {NULL, 0, 0}, {NULL, 0, 0}};
	int r;

	snprintf(lim, sizeof lim, "%d", limit > 0 ? limit : 1000);
	p = odbc_text(lim);
	ss_buf_init(&sql);
	ss_buf_adds(&sql, "SELECT id, txid, schema_name, table_name, op, key_image, row_image,"
			  " captured_us FROM ");
	log_name(job, "log", &sql);
	ss_buf_adds(&sql, " ORDER BY id LIMIT ?");
	r = ss_odbc_run(c, sql.data, 1, &p, sq_fetch_row, &st, err);
	ss_buf_free(&sql);
	ss_buf_free(&st.key);
	ss_buf_free(&st.row);
	return r;
}

static int sq_capture_delete(struct ss_conn *c, const char *job, const uint64_t *ids, int n,
			     struct ss_err *err)
{
	struct ss_buf sql, arr;
	struct odbc_param p;
	int r;

	if (n <= 0)
		return 0;
	ss_buf_init(&sql);
	ss_buf_init(&arr);
	ss_buf_addc(&arr, '[');
	for (int i = 0; i < n; i++)
		ss_buf_addf(&arr, "%s%llu", i ? "," : "", (unsigned long long)ids[i]);
	ss_buf_addc(&arr, ']');
	ss_buf_adds(&sql, "DELETE FROM ");
	log_name(job, "log", &sql);
	ss_buf_adds(&sql, " WHERE id IN (SELECT value FROM json_each(?))");
	p = odbc_text(arr.data);
	r = ss_odbc_run(c, sql.data, 1, &p, NULL, NULL, err);
	ss_buf_free(&sql);
	ss_buf_free(&arr);
	return r;
}

/* ---- apply ----------------------------------------------------------------------------- */

static int sq_apply_prepare(struct ss_conn *c, struct ss_err *err)
{
	static const char *const columns[] = {
		"epoch",
		"ALTER TABLE shadowsync_applied_position"
		" ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0",
		"journal_id", "ALTER TABLE shadowsync_applied_position ADD COLUMN journal_id TEXT",
		NULL};

	if (ss_odbc_run(c, "PRAGMA foreign_keys = OFF", 0, NULL, NULL, NULL, err) < 0 ||
	    ss_odbc_exec_script(c, ss_ddl_get("sqlite/position.sql"), err) < 0)
		return -1;
	/* a table made before epochs and journal identities: add them */
	for (int i = 0; columns[i]; i += 2) {
		struct odbc_param p = odbc_text(columns[i]);
		char *v = NULL;
		if (ss_odbc_value(
			    c,
			    "SELECT count(*) FROM pragma_table_info('shadowsync_applied_position')"
			    " WHERE name = ?",
			    1, &p, &v, err) < 0)
			return -1;
		int have = v && strcmp(v, "0") != 0;
		free(v);
		if (!have && ss_odbc_run(c, columns[i + 1], 0, NULL, NULL, NULL, err) < 0)
			return -1;
	}
	return 0;
}

static void sq_upsert_sql(const struct ss_tableinfo *t, const int *cols, int ncols, int nrows,
			  struct ss_buf *out)
{
	ss_buf_adds(out, "INSERT INTO ");
	ss_tableinfo_qname(&ss_dialect_odbc_sqlite, t->schema, t->name, out);
	ss_buf_adds(out, " (");
	ss_sql_col_list(t, cols, ncols, ss_sql_quote_ident, out);
	ss_buf_adds(out, ") VALUES ");
	ss_sql_placeholders(out, nrows, ncols);
	ss_sql_on_conflict_update(t, cols, ncols, "excluded", out);
}

static void sq_delete_sql(const struct ss_tableinfo *t, int nrows, struct ss_buf *out)
{
	ss_buf_adds(out, "DELETE FROM ");
	ss_tableinfo_qname(&ss_dialect_odbc_sqlite, t->schema, t->name, out);
	ss_buf_adds(out, " WHERE ");
	if (t->npk == 1) {
		ss_sql_quote_ident(out, t->cols[t->pk[0]].name);
		ss_buf_adds(out, " IN (");
		for (int r = 0; r < nrows; r++)
			ss_buf_adds(out, r ? ", ?" : "?");
		ss_buf_addc(out, ')');
		return;
	}
	ss_buf_addc(out, '(');
	ss_sql_col_list(t, t->pk, t->npk, ss_sql_quote_ident, out);
	ss_buf_adds(out, ") IN (VALUES ");
	ss_sql_placeholders(out, nrows, t->npk);
	ss_buf_addc(out, ')');
}

static int is_numeric_col(const struct ss_colinfo *col)
{
	return col->vtype == SS_V_FLOAT || col->vtype == SS_V_NUMERIC || col->vtype == SS_V_INT ||
	       col->vtype == SS_V_BOOL;
}

static int field_is(const struct ss_field *f, const char *s)
{
	return f->len == strlen(s) && memcmp(f->data, s, f->len) == 0;
}

/* Only digits, with an optional sign: SQLite reads it exactly as INTEGER. */
static int is_integer_text(const char *s, size_t n)
{
	size_t i = n && (s[0] == '-' || s[0] == '+') ? 1 : 0;

	if (i == n)
		return 0;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Journal form -> SQLite input.  Bytes stay bytes (a BLOB whatever the
 * declared type: SQLite keeps them exact).  Numbers for numeric columns go
 * as doubles parsed here: SQLite's own text-to-REAL conversion is off by
 * one unit in the last place for about 0.5% of doubles.  Infinities are
 * REAL infinities; NaN has no SQLite representation; -0 is stored as 0. */
static int sq_value(const struct ss_colinfo *col, const struct ss_field *f, struct odbc_param *out,
		    struct ss_buf *scratch, struct ss_err *err)
{
	out->data = f->data;
	out->len = f->len;
	out->kind = ODBC_P_TEXT;
	switch (f->type) {
	case SS_V_BINARY: out->kind = ODBC_P_BINARY; break;
	case SS_V_FLOAT:
	case SS_V_NUMERIC: {
		char num[512], *end;
		if (!is_numeric_col(col))
			break;
		if (field_is(f, "NaN")) {
			ss_err_set(err,
				   "column %s: SQLite cannot store NaN (a REAL NaN becomes NULL)",
				   col->name);
			return -1;
		}
		if (f->type == SS_V_NUMERIC && is_integer_text(f->data, f->len))
			break; /* exact as INTEGER (or SQLite's REAL beyond 64 bits) */
		if (f->len >= sizeof num)
			break;
		memcpy(num, f->data, f->len);
		num[f->len] = '\0';
		out->d = strtod(num, &end);
		if (end == num || *end)
			break; /* not a number: let SQLite keep the text */
		out->kind = ODBC_P_DOUBLE;
		break;
	}
	case SS_V_TIMESTAMPTZ:
		/* "...+00" -> "...+00:00", a zone SQLite's date functions read */
		if (f->len > 3 && memcmp(f->data + f->len - 3, "+00", 3) == 0) {
			ss_buf_add(scratch, f->data, f->len);
			ss_buf_adds(scratch, ":00");
			out->data = scratch->data;
			out->len = scratch->len;
		}
		break;
	default: break;
	}
	return 0;
}

/* The epoch is compared in C: the ODBC driver gives no rows for RETURNING.
 * The apply transaction (BEGIN IMMEDIATE) holds the database's write lock,
 * so the row cannot change between the two statements. */
static const struct ss_position_sql sq_position_sql = {
	"SELECT pos, epoch, journal_id FROM shadowsync_applied_position"
	" WHERE job = ? AND target = ?",
	"SELECT epoch FROM shadowsync_applied_position WHERE job = ? AND target = ?",
	"INSERT INTO shadowsync_applied_position (job, target, pos, epoch, journal_id, updated_at)"
	" VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%d %H:%M:%f', 'now'))"
	" ON CONFLICT (job, target) DO UPDATE SET pos = excluded.pos, epoch = excluded.epoch,"
	" journal_id = excluded.journal_id, updated_at = excluded.updated_at",
};

static int sq_position_get(struct ss_conn *c, const char *job, const char *target,
			   struct ss_position *p, struct ss_err *err)
{
	return ss_db_position_get(c, &sq_position_sql, job, target, p, err);
}

static int sq_position_set(struct ss_conn *c, const char *job, const char *target,
			   const struct ss_position *p, struct ss_err *err)
{
	return ss_db_position_set(c, &sq_position_sql, job, target, p, err);
}

const struct ss_dialect ss_dialect_odbc_sqlite = {
	.name = "sqlite",
	SS_ODBC_TRANSPORT,
	.now_us = sq_now_us,
	.table_info = sq_table_info,
	.list_tables = sq_list_tables,
	.quote_ident = ss_sql_quote_ident,
	.capture_install_sql = sq_capture_install_sql,
	.capture_uninstall_sql = sq_capture_uninstall_sql,
	.capture_fetch = sq_capture_fetch,
	.capture_txn_more = NULL,
	.capture_delete = sq_capture_delete,
	.apply_prepare = sq_apply_prepare,
	.position_get = sq_position_get,
	.position_set = sq_position_set,
	.lease = &ss_sqlite_lease_ops,
	.upsert_sql = sq_upsert_sql,
	.delete_sql = sq_delete_sql,
	.check = &ss_sqlite_check_ops,
	.poll = &ss_sqlite_poll_ops,
};

const struct odbc_flavour ss_odbc_flavour_sqlite = {
	.d = &ss_dialect_odbc_sqlite,
	.begin_sql = "BEGIN IMMEDIATE",
	.setup = sq_setup,
	.transient = sq_transient,
	.free_state = sq_free_state,
	.value = sq_value,
	.max_params = 999,
};
