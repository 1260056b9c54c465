/*
 * postgres.c -- the PostgreSQL dialect, on libpq.
 *
 * Owns: connections (sessions pinned to UTC / ISO dates / full float
 * precision so text values are canonical), statements with text
 * parameters, single-row-mode result streaming, catalog introspection from
 * pg_catalog, identifier quoting, the trigger capture (templates in
 * ddl/postgres/, NOTIFY wake-ups), and applying batches: small ones as
 * one INSERT ... SELECT FROM json_populate_recordset(...) ON CONFLICT DO
 * UPDATE per table, large ones by COPY into a temporary staging table and
 * one INSERT ... SELECT from it; DELETE ... WHERE key IN (...) from JSON;
 * all under session_replication_role = replica.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_ops.h"
#include "dialect.h"
#include "engine.h"
#include "log.h"

/* A staging table for COPY-based upserts: a temporary table with the
 * target's columns (cols), ON COMMIT DELETE ROWS. */
struct pg_stage {
	char *key;   /* target name and column list: what the stage is for */
	int id;      /* pg_temp._ss_stage_<id> */
	int created; /* created in the open transaction (gone on rollback) */
	int used;    /* holds rows of the open transaction */
};

struct pg_conn {
	struct ss_conn base;
	PGconn *pg;
	char *dbname;
	struct pg_stage *stages;
	int nstages, next_stage;
};

#define PG(c) (((struct pg_conn *)(c))->pg)

/* Fill err from a failed result (or the connection when res is NULL). */
static void pg_fail(struct ss_conn *c, PGresult *res, const char *sql, struct ss_err *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(PG(c));
	char m[1200];
	size_t n;

	snprintf(m, sizeof m, "%s", msg && *msg ? msg : PQerrorMessage(PG(c)));
	n = strlen(m);
	while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
		m[--n] = '\0';
	for (char *p = m; *p; p++)
		if (*p == '\n')
			*p = ' ';
	if (sql)
		ss_err_set(err, "database %s: %s [statement: %.200s]", c->db->name, m, sql);
	else
		ss_err_set(err, "database %s: %s", c->db->name, m);
	if (err) {
		snprintf(err->sqlstate, sizeof err->sqlstate, "%s", state ? state : "");
		err->transient = PQstatus(PG(c)) != CONNECTION_OK || !state ||
				 strncmp(state, "08", 2) == 0 || strcmp(state, "40001") == 0 ||
				 strcmp(state, "40P01") == 0 || strncmp(state, "57P", 3) == 0 ||
				 strncmp(state, "53", 2) == 0 ||
				 /* lock_timeout, statement_timeout: the lock or the
				  * load goes away */
				 strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0;
	}
}

/* Server NOTICEs ("already exists, skipping") go to the debug log, not to
 * the terminal of a DBA running install. */
static void pg_notice(void *arg, const char *msg)
{
	struct ss_conn *c = arg;

	ss_log_debug(c->db->name, "%s", msg);
}

static struct ss_conn *pg_connect(const struct ss_dbconf *db, struct ss_err *err)
{
	const char *keys[8], *vals[8];
	char timeout[32];
	int n = 0;
	struct pg_conn *c;

	snprintf(timeout, sizeof timeout, "%lld",
		 (long long)((db->connect_timeout_us + 999999) / 1000000));
	keys[n] = "dbname";
	vals[n++] = db->dsn;
	keys[n] = "connect_timeout";
	vals[n++] = timeout;
	keys[n] = "application_name";
	vals[n++] = "shadowsync";
	keys[n] = "client_encoding";
	vals[n++] = "UTF8";
	keys[n] = "options";
	vals[n++] = "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c "
		    "extra_float_digits=3 -c bytea_output=hex -c lc_monetary=C";
	if (ss_db_password(db)) {
		keys[n] = "password";
		vals[n++] = ss_db_password(db);
	}
	keys[n] = NULL;
	vals[n] = NULL;
	c = ss_xcalloc(1, sizeof *c);
	c->base.d = &ss_dialect_postgres;
	c->base.db = db;
	c->pg = PQconnectdbParams(keys, vals, 1);
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
		char m[1024];
		snprintf(m, sizeof m, "%s", c->pg ? PQerrorMessage(c->pg) : "out of memory");
		for (char *p = m; *p; p++)
			if (*p == '\n')
				*p = ' ';
		ss_err_set(err, "database %s: cannot connect: %s", db->name, ss_trim(m));
		if (err)
			err->transient = 1;
		PQfinish(c->pg);
		free(c);
		return NULL;
	}
	c->dbname = ss_xstrdup(PQdb(c->pg));
	PQsetNoticeProcessor(c->pg, pg_notice, c);
	return &c->base;
}

static void pg_disconnect(struct ss_conn *c)
{
	if (!c)
		return;
	struct pg_conn *p = (struct pg_conn *)c;

	PQfinish(p->pg);
	for (int i = 0; i < p->nstages; i++)
		free(p->stages[i].key);
	free(p->stages);
	free(p->dbname);
	free(c);
}

static int pg_exec(struct ss_conn *c, const char *sql, int nparams, const char *const *params,
		   const size_t *lens, struct ss_err *err)
{
	PGresult *res;

	(void)lens; /* text parameters are NUL-terminated for libpq */
	res = PQexecParams(PG(c), sql, nparams, NULL, params, NULL, NULL, 0);
	if (!res ||
	    (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)) {
		pg_fail(c, res, sql, err);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

static int pg_exec_script(struct ss_conn *c, const char *sql, struct ss_err *err)
{
	PGresult *res = PQexec(PG(c), sql);
	int ok = res && (PQresultStatus(res) == PGRES_COMMAND_OK ||
			 PQresultStatus(res) == PGRES_TUPLES_OK);

	if (!ok) {
		pg_fail(c, res, NULL, err);
		PQclear(res);
		/* leave no transaction open after a failed script */
		PQclear(PQexec(PG(c), "ROLLBACK"));
		return -1;
	}
	PQclear(res);
	return 0;
}

/* Run a query and hand each row to cb.  single: stream in single-row mode
 * (a result of any size in bounded memory); otherwise one result for the
 * whole query, cheaper per row for a result bounded by a LIMIT. */
static int query_rows(struct ss_conn *c, const char *sql, int nparams, const char *const *params,
		      int single, ss_row_cb cb, void *arg, struct ss_err *err)
{
	PGresult *res;
	int rc = 0, stopped = 0;
	const char *vals[256];
	size_t vlens[256];

	if (!PQsendQueryParams(PG(c), sql, nparams, NULL, params, NULL, NULL, 0)) {
		pg_fail(c, NULL, sql, err);
		return -1;
	}
	if (single)
		PQsetSingleRowMode(PG(c));
	while ((res = PQgetResult(PG(c))) != NULL) {
		ExecStatusType st = PQresultStatus(res);
		if ((st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) && rc == 0) {
			int n = PQnfields(res), nt = PQntuples(res);
			if (n > 256)
				n = 256;
			for (int t = 0; t < nt && !stopped && rc == 0; t++) {
				for (int i = 0; i < n; i++) {
					vals[i] = PQgetisnull(res, t, i) ? NULL :
									   PQgetvalue(res, t, i);
					vlens[i] = (size_t)PQgetlength(res, t, i);
				}
				int r = cb(arg, n, vals, vlens, err);
				if (r < 0)
					rc = -1;
				else if (r > 0)
					stopped = 1;
			}
		} else if (st != PGRES_COMMAND_OK && st != PGRES_SINGLE_TUPLE &&
			   st != PGRES_TUPLES_OK && rc == 0) {
			pg_fail(c, res, sql, err);
			rc = -1;
		}
		PQclear(res);
	}
	return rc;
}

static int pg_query(struct ss_conn *c, const char *sql, int nparams, const char *const *params,
		    const size_t *lens, ss_row_cb cb, void *arg, struct ss_err *err)
{
	(void)lens; /* text parameters are NUL-terminated for libpq */
	return query_rows(c, sql, nparams, params, 1, cb, arg, err);
}

static int pg_begin(struct ss_conn *c, struct ss_err *err)
{
	return pg_exec(c, "BEGIN", 0, NULL, NULL, err);
}

/* The transaction ended: stages created in it survive only a commit, and
 * ON COMMIT DELETE ROWS has emptied the rest. */
static void stages_txn_end(struct ss_conn *c, int committed)
{
	struct pg_conn *p = (struct pg_conn *)c;
	int n = 0;

	for (int i = 0; i < p->nstages; i++) {
		if (p->stages[i].created && !committed) {
			free(p->stages[i].key);
			continue;
		}
		p->stages[i].created = p->stages[i].used = 0;
		p->stages[n++] = p->stages[i];
	}
	p->nstages = n;
}

static int pg_commit(struct ss_conn *c, struct ss_err *err)
{
	int r = pg_exec(c, "COMMIT", 0, NULL, NULL, err);

	stages_txn_end(c, r == 0);
	return r;
}

static int pg_rollback(struct ss_conn *c, struct ss_err *err)
{
	stages_txn_end(c, 0);
	if (PQtransactionStatus(PG(c)) == PQTRANS_IDLE)
		return 0;
	return pg_exec(c, "ROLLBACK", 0, NULL, NULL, err);
}

static const char *pg_default_schema(struct ss_conn *c)
{
	(void)c;
	return "public";
}

static int pg_table_info(struct ss_conn *c, const char *schema, const char *name,
			 struct ss_tableinfo *out, struct ss_err *err)
{
	return ss_pg_table_info(c, SS_PH_DOLLAR, schema, name, out, err);
}

/* ---- capture DDL ---------------------------------------------------------- */

static void log_table_name(const char *job, struct ss_buf *out)
{
	struct ss_buf b;

	ss_buf_init(&b);
	ss_buf_addf(&b, "log_%s", job);
	ss_sql_quote_ident(out, b.data);
	ss_buf_free(&b);
}

static void trigger_name(const char *job, struct ss_buf *out)
{
	struct ss_buf b;

	ss_buf_init(&b);
	ss_buf_addf(&b, "shadowsync_capture_%s", job);
	ss_sql_quote_ident(out, b.data);
	ss_buf_free(&b);
}

static void channel_name(const char *job, struct ss_buf *out)
{
	ss_buf_addf(out, "shadowsync_%s", job);
}

static int check_job_name(struct ss_conn *c, const char *job, struct ss_err *err)
{
	if (strlen(job) > 40) {
		ss_err_set(err,
			   "database %s: job name \"%s\" is longer than 40 characters, too long "
			   "for PostgreSQL object names derived from it",
			   c->db->name, job);
		return -1;
	}
	return 0;
}

/* The image of a row of the transition table rec: a JSON object of each
 * column's own text form (its output function under the capture function's
 * pinned settings) or null.  json_build_object takes up to 50 columns
 * and is the cheaper; json_object(names, values) takes any number. */
void ss_postgres_image_expr(const struct ss_tableinfo *t, const char *rec, int keys_only,
			    struct ss_buf *out)
{
	int n = keys_only ? t->npk : t->ncols, pairs = n <= 50;

	ss_buf_adds(out, pairs ? "json_build_object(" : "json_object(ARRAY[");
	for (int i = 0; i < n; i++) {
		const char *name = t->cols[keys_only ? t->pk[i] : i].name;
		if (i)
			ss_buf_adds(out, ", ");
		ss_sql_quote_literal(out, name);
		if (pairs)
			ss_buf_addf(out, ", %s.", rec);
		if (pairs) {
			ss_sql_quote_ident(out, name);
			ss_buf_adds(out, "::text");
		}
	}
	if (pairs) {
		ss_buf_addc(out, ')');
		return;
	}
	ss_buf_adds(out, "]::text[], ARRAY[");
	for (int i = 0; i < n; i++) {
		if (i)
			ss_buf_adds(out, ", ");
		ss_buf_addf(out, "%s.", rec);
		ss_sql_quote_ident(out, t->cols[keys_only ? t->pk[i] : i].name);
		ss_buf_adds(out, "::text");
	}
	ss_buf_adds(out, "]::text[])");
}

/* The WHEN of the row trigger that writes the delete of a changed key:
 * the key changed by the type's equality or by its text (-0 and 0, a
 * citext 'a' and 'A').  A false alarm only deletes a key the statement
 * writes again right after. */
static void key_changed_expr(const struct ss_tableinfo *t, struct ss_buf *out)
{
	for (int pass = 0; pass < 2; pass++) {
		ss_buf_adds(out, pass ? " OR ROW(" : "ROW(");
		for (int side = 0; side < 2; side++) {
			if (side)
				ss_buf_adds(out, ") IS DISTINCT FROM ROW(");
			for (int k = 0; k < t->npk; k++) {
				ss_buf_adds(out, k ? ", " : "");
				ss_buf_adds(out, side ? "NEW." : "OLD.");
				ss_sql_quote_ident(out, t->cols[t->pk[k]].name);
				if (pass)
					ss_buf_adds(out, "::text");
			}
		}
		ss_buf_addc(out, ')');
	}
}

/* SET clauses for the settings that change how a value of one of t's
 * columns prints (doc/types.md): none for a table of integers and text,
 * every one for a type not known here (arrays of them, composites,
 * domains, extensions' types).  Each costs a little on every call. */
static void pinned_settings(const struct ss_tableinfo *t, struct ss_buf *out)
{
	enum { DT = 1, FL = 2, BY = 4, MO = 8, ALL = 15 | 16 };
	static const struct {
		const char *prefix; /* format_type() output, modifier removed */
		int needs;
	} known[] = {
		{"smallint", 0},
		{"integer", 0},
		{"bigint", 0},
		{"numeric", 0},
		{"text", 0},
		{"character varying", 0},
		{"character", 0},
		{"boolean", 0},
		{"uuid", 0},
		{"json", 0},
		{"jsonb", 0},
		{"oid", 0},
		{"inet", 0},
		{"cidr", 0},
		{"macaddr", 0},
		{"real", FL},
		{"double precision", FL},
		{"bytea", BY},
		{"money", MO},
		{"date", DT},
		{"time", DT}, /* time, timetz, timestamp, timestamptz */
		{"interval", DT},
		{"tstzrange", DT},
		{"tsrange", DT},
		{"daterange", DT},
	};
	int needs = 0;

	for (int i = 0; i < t->ncols; i++) {
		char base[64];
		const char *ty = t->cols[i].type ? t->cols[i].type : "";
		size_t n = 0;
		/* "timestamp(3) with time zone[]" -> "timestamp with time zone" */
		for (const char *p = ty; *p && *p != '[' && n + 1 < sizeof base; p++) {
			if (*p == '(') {
				while (*p && *p != ')')
					p++;
				if (!*p)
					break;
				continue;
			}
			base[n++] = *p;
		}
		base[n] = '\0';
		int found = ALL;
		for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
			size_t l = strlen(known[k].prefix);
			if (strncmp(base, known[k].prefix, l) == 0 &&
			    (base[l] == '\0' || (known[k].needs == DT && base[l] == ' ') ||
			     (known[k].needs == DT && strncmp(base, "time", 4) == 0))) {
				found = known[k].needs;
				break;
			}
		}
		needs |= found;
	}
	if (needs & DT)
		ss_buf_adds(out, "SET DateStyle = 'ISO, YMD'\nSET IntervalStyle = 'postgres'\n"
				 "SET TimeZone = 'UTC'\n");
	if (needs & FL)
		ss_buf_adds(out, "SET extra_float_digits = 3\n");
	if (needs & BY)
		ss_buf_adds(out, "SET bytea_output = 'hex'\n");
	if (needs & MO)
		ss_buf_adds(out, "SET lc_monetary = 'C'\n");
	if (needs & 16)
		ss_buf_adds(out, "SET quote_all_identifiers = off\n");
}

/* shadowsync_<event>_<job>: one trigger per event (a trigger with
 * transition tables has one). */
static void event_trigger_name(const char *event, const char *job, struct ss_buf *out)
{
	struct ss_buf b;

	ss_buf_init(&b);
	ss_buf_addf(&b, "shadowsync_%s_%s", event, job);
	ss_sql_quote_ident(out, b.data);
	ss_buf_free(&b);
}

static int pg_capture_install_sql(struct ss_conn *c, const char *job,
				  const struct ss_tableinfo *tables, int n, struct ss_buf *out,
				  struct ss_err *err)
{
	struct ss_buf log, idx, trig, chan, chanlit, jobname;
	int rc = -1;

	if (check_job_name(c, job, err) < 0)
		return -1;
	ss_buf_init(&log);
	ss_buf_init(&idx);
	ss_buf_init(&trig);
	ss_buf_init(&chan);
	ss_buf_init(&chanlit);
	ss_buf_init(&jobname);
	log_table_name(job, &log);
	ss_buf_addf(&jobname, "log_%s_txid", job);
	ss_sql_quote_ident(&idx, jobname.data);
	ss_buf_reset(&jobname);
	ss_buf_adds(&jobname, job);
	trigger_name(job, &trig);
	channel_name(job, &chan);
	ss_sql_quote_literal(&chanlit, chan.data);
	{
		const char *kv[] = {"JOB_NAME",     job,      "DATABASE",
				    c->db->name,    "LOG",    log.data,
				    "LOG_TXID_IDX", idx.data, NULL};
		if (ss_ddl_expand(ss_ddl_get("postgres/install_head.sql"), kv, out, err) < 0)
			goto done;
	}
	for (int i = 0; i < n; i++) {
		const struct ss_tableinfo *t = &tables[i];
		struct ss_buf q, slit, tlit, func, newk, oldk, newr, same, comment, cl, ti, tu, td;
		struct ss_buf oldrk, tk, pins;
		char tag[17], fname[40];
		int r;

		ss_ddl_table_tag(job, t->schema, t->name, tag);
		snprintf(fname, sizeof fname, "capture_%s", tag);
		ss_buf_init(&q);
		ss_buf_init(&slit);
		ss_buf_init(&tlit);
		ss_buf_init(&func);
		ss_buf_init(&newk);
		ss_buf_init(&oldk);
		ss_buf_init(&newr);
		ss_buf_init(&same);
		ss_buf_init(&oldrk);
		ss_buf_init(&tk);
		ss_buf_init(&pins);
		ss_buf_init(&comment);
		ss_buf_init(&cl);
		ss_buf_init(&ti);
		ss_buf_init(&tu);
		ss_buf_init(&td);
		ss_tableinfo_qname(c->d, t->schema, t->name, &q);
		ss_sql_quote_literal(&slit, t->schema);
		ss_sql_quote_literal(&tlit, t->name);
		ss_sql_quote_ident(&func, fname);
		ss_postgres_image_expr(t, "n", 1, &newk);
		ss_postgres_image_expr(t, "o", 1, &oldk);
		ss_postgres_image_expr(t, "n", 0, &newr);
		key_changed_expr(t, &same);
		ss_postgres_image_expr(t, "OLD", 1, &oldrk);
		event_trigger_name("keys", job, &tk);
		pinned_settings(t, &pins);
		event_trigger_name("insert", job, &ti);
		event_trigger_name("update", job, &tu);
		event_trigger_name("delete", job, &td);
		ss_buf_addf(&comment, "shadowsync job %s: capture trigger for %s.%s", job,
			    t->schema, t->name);
		ss_sql_quote_literal(&cl, comment.data);
		const char *kv[] = {"QTABLE",
				    q.data,
				    "LOG",
				    log.data,
				    "FUNC",
				    func.data,
				    "SCHEMA_LIT",
				    slit.data,
				    "TABLE_LIT",
				    tlit.data,
				    "NEW_KEY",
				    newk.data,
				    "OLD_KEY",
				    oldk.data,
				    "NEW_ROW",
				    newr.data,
				    "CHANNEL_LIT",
				    chanlit.data,
				    "FUNC_COMMENT_LIT",
				    cl.data,
				    "OLD_TRIGGER",
				    trig.data,
				    "TRIGGER_INSERT",
				    ti.data,
				    "TRIGGER_UPDATE",
				    tu.data,
				    "TRIGGER_DELETE",
				    td.data,
				    "KEY_CHANGED",
				    same.data,
				    "OLD_ROW_KEY",
				    oldrk.data,
				    "TRIGGER_KEYS",
				    tk.data,
				    "PINNED_SETTINGS",
				    pins.data ? pins.data : "",
				    NULL};
		r = ss_ddl_expand(ss_ddl_get("postgres/install_table.sql"), kv, out, err);
		ss_buf_free(&q);
		ss_buf_free(&slit);
		ss_buf_free(&tlit);
		ss_buf_free(&func);
		ss_buf_free(&newk);
		ss_buf_free(&oldk);
		ss_buf_free(&newr);
		ss_buf_free(&same);
		ss_buf_free(&oldrk);
		ss_buf_free(&tk);
		ss_buf_free(&pins);
		ss_buf_free(&comment);
		ss_buf_free(&cl);
		ss_buf_free(&ti);
		ss_buf_free(&tu);
		ss_buf_free(&td);
		if (r < 0)
			goto done;
	}
	if (strstr(out->data, "$shadowsync_body$") && (strstr(job, "$shadowsync_body$") != NULL)) {
		ss_err_set(err, "job name may not contain $shadowsync_body$");
		goto done;
	}
	ss_buf_adds(out, ss_ddl_get("postgres/install_tail.sql"));
	rc = 0;
done:
	ss_buf_free(&log);
	ss_buf_free(&idx);
	ss_buf_free(&trig);
	ss_buf_free(&chan);
	ss_buf_free(&chanlit);
	ss_buf_free(&jobname);
	return rc;
}

struct uninst_state {
	struct ss_conn *c;
	struct ss_buf *out;
	struct ss_buf funcs; /* DROP FUNCTION for each, after every trigger */
	struct ss_err *err;
};

static int uninst_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct uninst_state *s = arg;
	struct ss_buf q, g, f;
	int r;

	(void)n;
	(void)l;
	ss_buf_init(&q);
	ss_buf_init(&g);
	ss_buf_init(&f);
	ss_tableinfo_qname(s->c->d, v[0], v[1], &q);
	ss_sql_quote_ident(&g, v[2]);
	ss_sql_quote_ident(&f, v[3]);
	const char *kv[] = {"TRIGGER", g.data, "QTABLE", q.data, "FUNC", f.data, NULL};
	r = ss_ddl_expand(ss_ddl_get("postgres/uninstall_table.sql"), kv, s->out, err);
	if (r == 0 && v[4][0] == 't') /* the function's last trigger of this job */
		r = ss_ddl_expand(ss_ddl_get("postgres/uninstall_function.sql"), kv, &s->funcs,
				  err);
	ss_buf_free(&q);
	ss_buf_free(&g);
	ss_buf_free(&f);
	return r < 0 ? -1 : 0;
}

static int pg_capture_uninstall_sql(struct ss_conn *c, const char *job,
				    const struct ss_tableinfo *tables, int n, struct ss_buf *out,
				    struct ss_err *err)
{
	struct ss_buf log, names;
	struct uninst_state st;
	static const char *const events[] = {"capture", "insert", "keys", "update", "delete"};
	int rc = -1;

	(void)tables;
	(void)n;
	ss_buf_init(&log);
	ss_buf_init(&names);
	ss_buf_init(&st.funcs);
	log_table_name(job, &log);
	/* the triggers of this version (one per event) and of versions with
	 * one row trigger (shadowsync_capture_<job>) */
	ss_buf_addc(&names, '{');
	for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
		struct ss_buf one;
		ss_buf_init(&one);
		ss_buf_addf(&one, "shadowsync_%s_%s", events[i], job);
		if (i)
			ss_buf_addc(&names, ',');
		ss_buf_addc(&names, '"');
		for (const char *p = one.data; *p; p++) {
			if (*p == '"' || *p == '\\')
				ss_buf_addc(&names, '\\');
			ss_buf_addc(&names, *p);
		}
		ss_buf_addc(&names, '"');
		ss_buf_free(&one);
	}
	ss_buf_addc(&names, '}');
	ss_buf_addf(out, "-- remove shadowsync capture for job %s from database %s\nBEGIN;\n", job,
		    c->db->name);
	/* every trigger this job installed, found in the catalog (the table
	 * list may have changed since install) */
	st.c = c;
	st.out = out;
	st.err = err;
	const char *params[1] = {names.data};
	if (pg_query(c,
		     "SELECT n.nspname, c.relname, g.tgname, p.proname,"
		     "       row_number() OVER (PARTITION BY p.oid ORDER BY g.tgname DESC) = 1"
		     "  FROM pg_catalog.pg_trigger g"
		     "  JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid"
		     "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		     "  JOIN pg_catalog.pg_proc p ON p.oid = g.tgfoid"
		     " WHERE g.tgname = ANY ($1::text[]) ORDER BY 1, 2, 3",
		     1, params, NULL, uninst_row, &st, err) < 0)
		goto done;
	ss_buf_add(out, st.funcs.data ? st.funcs.data : "", st.funcs.len);
	{
		const char *kv[] = {"LOG", log.data, NULL};
		if (ss_ddl_expand(ss_ddl_get("postgres/uninstall_tail.sql"), kv, out, err) < 0)
			goto done;
	}
	rc = 0;
done:
	ss_buf_free(&log);
	ss_buf_free(&names);
	ss_buf_free(&st.funcs);
	return rc;
}

static int pg_capture_listen(struct ss_conn *c, const char *job, struct ss_err *err)
{
	struct ss_buf sql, chan;
	int r;

	ss_buf_init(&sql);
	ss_buf_init(&chan);
	channel_name(job, &chan);
	ss_buf_adds(&sql, "LISTEN ");
	ss_sql_quote_ident(&sql, chan.data);
	r = pg_exec(c, sql.data, 0, NULL, NULL, err);
	ss_buf_free(&sql);
	ss_buf_free(&chan);
	if (r < 0)
		return -1;
	return PQsocket(PG(c));
}

static int pg_capture_drain(struct ss_conn *c, struct ss_err *err)
{
	PGnotify *n;
	int cnt = 0;

	if (!PQconsumeInput(PG(c))) {
		pg_fail(c, NULL, NULL, err);
		return -1;
	}
	while ((n = PQnotifies(PG(c))) != NULL) {
		cnt++;
		PQfreemem(n);
	}
	return cnt;
}

static int pg_capture_fetch(struct ss_conn *c, const char *job, int limit, ss_shadow_cb cb,
			    void *arg, struct ss_err *err)
{
	struct ss_buf sql;
	char lim[24];
	const char *params[1] = {lim};
	struct ss_shadow_fetch st = {cb, arg, 1}; /* install_table.sql: values as text */
	int r;

	snprintf(lim, sizeof lim, "%d", limit);
	ss_buf_init(&sql);
	ss_buf_adds(&sql, "SELECT id, txid, schema_name, table_name, op, key_image, row_image,"
			  " (extract(epoch FROM captured_at) * 1000000)::bigint FROM shadowsync.");
	log_table_name(job, &sql);
	ss_buf_adds(&sql, " ORDER BY id LIMIT $1");
	r = query_rows(c, sql.data, 1, params, 0, ss_shadow_fetch_row, &st,
		       err); /* LIMIT: bounded */
	ss_buf_free(&sql);
	return r;
}

static void id_array(const uint64_t *ids, int n, struct ss_buf *out)
{
	char digits[24];

	ss_buf_addc(out, '{');
	for (int i = 0; i < n; i++) {
		size_t k = sizeof digits;
		uint64_t v = ids[i];
		do
			digits[--k] = (char)('0' + v % 10);
		while ((v /= 10) != 0);
		if (i)
			ss_buf_addc(out, ',');
		ss_buf_add(out, digits + k, sizeof digits - k);
	}
	ss_buf_addc(out, '}');
}

struct txn_state {
	uint8_t *more;
	int n, next;
};

static int txn_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct txn_state *s = arg;

	(void)n;
	(void)l;
	(void)err;
	/* rows come in the order of the txids array */
	if (s->next < s->n)
		s->more[s->next++] = v[0] && v[0][0] == 't';
	return 0;
}

static int pg_capture_txn_more(struct ss_conn *c, const char *job, const uint64_t *txids, int n,
			       uint64_t after_id, uint8_t *more, struct ss_err *err)
{
	struct ss_buf sql, arr;
	struct txn_state st = {more, n, 0};
	char after[24];
	int r;

	ss_buf_init(&sql);
	ss_buf_init(&arr);
	id_array(txids, n, &arr);
	snprintf(after, sizeof after, "%llu", (unsigned long long)after_id);
	/* an index probe of (txid, id) per transaction */
	ss_buf_adds(&sql, "SELECT EXISTS (SELECT 1 FROM shadowsync.");
	log_table_name(job, &sql);
	ss_buf_adds(&sql, " l WHERE l.txid = t.x AND l.id > $2)"
			  " FROM unnest($1::bigint[]) WITH ORDINALITY t(x, o) ORDER BY t.o");
	memset(more, 1, (size_t)n); /* unknown: not ended */
	const char *params[2] = {arr.data, after};
	r = query_rows(c, sql.data, 2, params, 0, txn_row, &st, err);
	ss_buf_free(&sql);
	ss_buf_free(&arr);
	return r;
}

/* Delete exactly the rows read.  Ids come sorted; each maximal run of
 * consecutive ids is one range (no other row can have an id inside it),
 * and the ranges join the primary key as index scans.  (id = ANY(array of
 * thousands) gets a custom plan that estimates thousands of rows and picks
 * a sequential scan of the whole shadow table, dead rows included.) */
static int pg_capture_delete(struct ss_conn *c, const char *job, const uint64_t *ids, int n,
			     struct ss_err *err)
{
	struct ss_buf sql, lo, hi;
	uint64_t *los = ss_xcalloc((size_t)n + 1, sizeof *los);
	uint64_t *his = ss_xcalloc((size_t)n + 1, sizeof *his);
	int nr = 0, r;

	for (int i = 0; i < n; i++) {
		if (nr && ids[i] == his[nr - 1] + 1) {
			his[nr - 1] = ids[i];
		} else {
			los[nr] = his[nr] = ids[i];
			nr++;
		}
	}
	ss_buf_init(&sql);
	ss_buf_init(&lo);
	ss_buf_init(&hi);
	id_array(los, nr, &lo);
	id_array(his, nr, &hi);
	ss_buf_adds(&sql, "DELETE FROM shadowsync.");
	log_table_name(job, &sql);
	ss_buf_adds(&sql, " l USING unnest($1::bigint[], $2::bigint[]) r(lo, hi)"
			  " WHERE l.id BETWEEN r.lo AND r.hi");
	const char *params[2] = {lo.data, hi.data};
	r = pg_exec(c, sql.data, 2, params, NULL, err);
	ss_buf_free(&sql);
	ss_buf_free(&lo);
	ss_buf_free(&hi);
	free(los);
	free(his);
	return r;
}

/* ---- apply --------------------------------------------------------------- */

static void col_list(const struct ss_tableinfo *t, const int *cols, int ncols, struct ss_buf *out)
{
	ss_sql_col_list(t, cols, ncols, ss_sql_quote_ident, out);
}

/* The rows of the JSON parameter $1 (rows_json) as the columns idx[0..n)
 * of t.  Every value arrives as text and goes through the column type's own
 * input function with the column's modifier, as on the COPY path:
 * json_populate_record does that for every type but json and jsonb, where
 * it would keep the text as a JSON string; their texts come in the array
 * under the key "" (no column has an empty name) and are cast. */
static void typed_rows(const struct ss_tableinfo *t, const int *idx, int n, struct ss_buf *out)
{
	int nj = 0;

	ss_buf_adds(out, "SELECT ");
	for (int i = 0; i < n; i++) {
		const struct ss_colinfo *col = &t->cols[idx[i]];
		if (i)
			ss_buf_adds(out, ", ");
		if (col->vtype == SS_V_JSON) {
			ss_buf_addf(out, "(e.v -> '' ->> %d)::%s", nj++, col->type);
		} else {
			ss_buf_adds(out, "p.");
			ss_sql_quote_ident(out, col->name);
		}
	}
	ss_buf_adds(out, " FROM json_array_elements($1) AS e(v), json_populate_record(NULL::");
	ss_tableinfo_qname(&ss_dialect_postgres, t->schema, t->name, out);
	ss_buf_adds(out, ", e.v) AS p");
}

/* INSERT INTO t (cols) SELECT cols FROM <from> ON CONFLICT (key) DO UPDATE
 * ...; from NULL: the rows of one JSON parameter. */
static void upsert_from(const struct ss_tableinfo *t, const int *cols, int ncols, const char *from,
			struct ss_buf *out)
{
	struct ss_buf rows;

	ss_buf_init(&rows);
	if (from) {
		ss_buf_adds(&rows, "SELECT ");
		col_list(t, cols, ncols, &rows);
		ss_buf_addf(&rows, " FROM %s", from);
	} else {
		typed_rows(t, cols, ncols, &rows);
	}
	ss_pg_upsert_sql(t, cols, ncols, rows.data, 0, out);
	ss_buf_free(&rows);
}

static void pg_upsert_sql(const struct ss_tableinfo *t, const int *cols, int ncols, int nrows,
			  struct ss_buf *out)
{
	(void)nrows; /* one JSON parameter carries every row */
	upsert_from(t, cols, ncols, NULL, out);
}

static void pg_delete_sql(const struct ss_tableinfo *t, int nrows, struct ss_buf *out)
{
	struct ss_buf keys;

	ss_buf_init(&keys);
	typed_rows(t, t->pk, t->npk, &keys);
	ss_pg_delete_sql(t, keys.data, nrows, out);
	ss_buf_free(&keys);
}

/* A value as the text the column type's input function reads (the same
 * text COPY sends): binary as bytea's hex form, JSON as its document text
 * (so the document null is not SQL NULL). */
static void json_value(const struct ss_field *f, struct ss_buf *out)
{
	if (!f || f->is_null) {
		ss_buf_adds(out, "null");
	} else if (f->type == SS_V_BINARY) {
		ss_buf_adds(out, "\"\\\\x");
		ss_hex_encode((const uint8_t *)f->data, f->len, out);
		ss_buf_addc(out, '"');
	} else {
		ss_buf_add_json_str(out, f->data, f->len);
	}
}

static void rows_json(const struct ss_apply_batch *b, int keys_only, struct ss_buf *out)
{
	const struct ss_tableinfo *t = b->target;
	int n = keys_only ? t->npk : b->ncols;
	const int *idx = keys_only ? t->pk : b->cols;

	ss_buf_addc(out, '[');
	for (int r = 0; r < b->n; r++) {
		const struct ss_change *ch = b->changes[r];
		int nj = 0;
		if (r)
			ss_buf_addc(out, ',');
		ss_buf_addc(out, '{');
		for (int pass = 0; pass < 2; pass++) { /* the columns, then "": [json...] */
			for (int i = 0; i < n; i++) {
				const struct ss_colinfo *col = &t->cols[idx[i]];
				if ((col->vtype == SS_V_JSON) != pass)
					continue;
				const struct ss_field *f =
					keys_only ? ss_change_field(ch->key, ch->nkey, col->name) :
						    ss_change_field(ch->row, ch->nrow, col->name);
				if (out->data[out->len - 1] != '{' &&
				    out->data[out->len - 1] != '[')
					ss_buf_addc(out, ',');
				if (pass && nj++ == 0)
					ss_buf_adds(out, "\"\":[");
				if (!pass) {
					ss_buf_add_json_str(out, col->name, strlen(col->name));
					ss_buf_addc(out, ':');
				}
				json_value(f, out);
			}
		}
		if (nj)
			ss_buf_addc(out, ']');
		ss_buf_addc(out, '}');
	}
	ss_buf_addc(out, ']');
}

static int apply_json(struct ss_conn *c, const struct ss_apply_batch *b, int del,
		      struct ss_err *err)
{
	struct ss_buf sql, rows;
	int r;

	ss_buf_init(&sql);
	ss_buf_init(&rows);
	if (del)
		pg_delete_sql(b->target, b->n, &sql);
	else
		pg_upsert_sql(b->target, b->cols, b->ncols, b->n, &sql);
	rows_json(b, del, &rows);
	const char *params[1] = {rows.data};
	r = pg_exec(c, sql.data, 1, params, NULL, err);
	if (r < 0)
		ss_err_prefix(err, "table %s.%s", b->target->schema, b->target->name);
	ss_buf_free(&sql);
	ss_buf_free(&rows);
	return r;
}

/* ---- COPY-based upserts ---------------------------------------------------
 * A batch of at least PG_COPY_MIN rows goes into a staging table with COPY
 * and from there into the target with one INSERT ... SELECT ... ON
 * CONFLICT: the bulk path, about 1.7x cheaper per row than decoding JSON.
 * Smaller batches (the latency case) take one JSON statement, a single
 * round trip. */

#define PG_COPY_MIN 64

/* The staging table for b's target and columns, created on first use. */
static struct pg_stage *stage_get(struct ss_conn *c, const struct ss_apply_batch *b,
				  struct ss_err *err)
{
	struct pg_conn *p = (struct pg_conn *)c;
	const struct ss_tableinfo *t = b->target;
	struct ss_buf key, sql;
	struct pg_stage *st = NULL;

	/* the target, its columns and their types: a stage made before an
	 * ALTER TABLE of the target is not used for the new shape */
	ss_buf_init(&key);
	ss_tableinfo_qname(&ss_dialect_postgres, t->schema, t->name, &key);
	for (int i = 0; i < b->ncols; i++)
		ss_buf_addf(&key, "%s%s %s", i ? ", " : " (", t->cols[b->cols[i]].name,
			    t->cols[b->cols[i]].type ? t->cols[b->cols[i]].type : "");
	ss_buf_addc(&key, ')');
	for (int i = 0; i < p->nstages; i++)
		if (strcmp(p->stages[i].key, key.data) == 0) {
			ss_buf_free(&key);
			return &p->stages[i];
		}
	ss_buf_init(&sql);
	ss_buf_addf(&sql, "CREATE TEMPORARY TABLE _ss_stage_%d ON COMMIT DELETE ROWS AS SELECT ",
		    p->next_stage);
	col_list(t, b->cols, b->ncols, &sql);
	ss_buf_adds(&sql, " FROM ");
	ss_tableinfo_qname(&ss_dialect_postgres, t->schema, t->name, &sql);
	ss_buf_adds(&sql, " WITH NO DATA");
	if (pg_exec(c, sql.data, 0, NULL, NULL, err) == 0) {
		p->stages = ss_xrealloc(p->stages, sizeof *p->stages * (size_t)(p->nstages + 1));
		st = &p->stages[p->nstages++];
		st->key = ss_buf_steal(&key);
		st->id = p->next_stage++;
		st->created = 1;
		st->used = 0;
	}
	ss_buf_free(&sql);
	ss_buf_free(&key);
	return st;
}

/* One value in COPY's text format. */
static void copy_value(const struct ss_field *f, struct ss_buf *out)
{
	if (!f || f->is_null) {
		ss_buf_adds(out, "\\N");
		return;
	}
	if (f->type == SS_V_BINARY) {
		ss_buf_adds(out, "\\\\x");
		ss_hex_encode((const uint8_t *)f->data, f->len, out);
		return;
	}
	size_t run = 0;
	for (size_t i = 0; i < f->len; i++) {
		const char *esc;
		switch (f->data[i]) {
		case '\\': esc = "\\\\"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		default: continue;
		}
		ss_buf_add(out, f->data + run, i - run);
		ss_buf_adds(out, esc);
		run = i + 1;
	}
	ss_buf_add(out, f->data + run, f->len - run);
}

static int copy_rows(struct ss_conn *c, const struct ss_apply_batch *b, const char *sql,
		     struct ss_err *err)
{
	const struct ss_tableinfo *t = b->target;
	PGresult *res = PQexec(PG(c), sql);
	struct ss_buf data;
	int ok, reported;

	if (PQresultStatus(res) != PGRES_COPY_IN) {
		pg_fail(c, res, sql, err);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	ss_buf_init(&data);
	ok = 1;
	for (int r = 0; r < b->n && ok; r++) {
		const struct ss_change *ch = b->changes[r];
		for (int i = 0; i < b->ncols; i++) {
			if (i)
				ss_buf_addc(&data, '\t');
			copy_value(ss_change_field(ch->row, ch->nrow, t->cols[b->cols[i]].name),
				   &data);
		}
		ss_buf_addc(&data, '\n');
		if (data.len >= (1u << 20) || r == b->n - 1) {
			ok = PQputCopyData(PG(c), data.data, (int)data.len) == 1;
			ss_buf_reset(&data);
		}
	}
	ss_buf_free(&data);
	if (PQputCopyEnd(PG(c), ok ? NULL : "shadowsync: sending rows failed") != 1)
		ok = 0;
	reported = 0;
	while ((res = PQgetResult(PG(c))) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && !reported) {
			pg_fail(c, res, sql, err);
			reported = 1;
		}
		PQclear(res);
	}
	if (!ok && !reported)
		pg_fail(c, NULL, sql, err);
	return ok && !reported ? 0 : -1;
}

static int apply_copy(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err)
{
	struct pg_stage *st = stage_get(c, b, err);
	struct ss_buf sql, name;
	int r = -1;

	if (!st)
		return -1;
	ss_buf_init(&sql);
	ss_buf_init(&name);
	ss_buf_addf(&name, "pg_temp._ss_stage_%d", st->id);
	/* a second batch of the same transaction: clear the first one's rows */
	if (st->used) {
		ss_buf_addf(&sql, "TRUNCATE %s", name.data);
		if (pg_exec(c, sql.data, 0, NULL, NULL, err) < 0)
			goto done;
		ss_buf_reset(&sql);
	}
	st->used = 1;
	ss_buf_addf(&sql, "COPY %s (", name.data);
	col_list(b->target, b->cols, b->ncols, &sql);
	ss_buf_adds(&sql, ") FROM STDIN");
	if (copy_rows(c, b, sql.data, err) < 0)
		goto done;
	ss_buf_reset(&sql);
	upsert_from(b->target, b->cols, b->ncols, name.data, &sql);
	r = pg_exec(c, sql.data, 0, NULL, NULL, err);
done:
	ss_buf_free(&sql);
	ss_buf_free(&name);
	return r;
}

static int pg_apply_upsert(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err)
{
	if (b->n < PG_COPY_MIN)
		return apply_json(c, b, 0, err);
	if (apply_copy(c, b, err) < 0) {
		ss_err_prefix(err, "table %s.%s", b->target->schema, b->target->name);
		return -1;
	}
	return 0;
}

static int pg_apply_delete(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err)
{
	return apply_json(c, b, 1, err);
}

static int pg_position_get(struct ss_conn *c, const char *job, const char *target,
			   struct ss_position *p, struct ss_err *err)
{
	return ss_db_position_get(c, &ss_pg_position_sql_dollar, job, target, p, err);
}

static int pg_position_set(struct ss_conn *c, const char *job, const char *target,
			   const struct ss_position *p, struct ss_err *err)
{
	return ss_db_position_set(c, &ss_pg_position_sql_dollar, job, target, p, err);
}

const struct ss_dialect ss_dialect_postgres = {
	.name = "postgres",
	.connect = pg_connect,
	.disconnect = pg_disconnect,
	.exec = pg_exec,
	.exec_script = pg_exec_script,
	.query = pg_query,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.now_us = ss_pg_now_us,
	.default_schema = pg_default_schema,
	.table_info = pg_table_info,
	.list_tables = ss_pg_list_tables,
	.quote_ident = ss_sql_quote_ident,
	.capture_install_sql = pg_capture_install_sql,
	.capture_uninstall_sql = pg_capture_uninstall_sql,
	.capture_listen = pg_capture_listen,
	.capture_drain = pg_capture_drain,
	.capture_fetch = pg_capture_fetch,
	.capture_txn_more = pg_capture_txn_more,
	.capture_delete = pg_capture_delete,
	.apply_prepare = ss_pg_apply_prepare,
	.apply_upsert = pg_apply_upsert,
	.apply_delete = pg_apply_delete,
	.position_get = pg_position_get,
	.position_set = pg_position_set,
	.upsert_sql = pg_upsert_sql,
	.delete_sql = pg_delete_sql,
	.poll = &ss_pg_poll_ops,
	.check = &ss_postgres_check_ops,
	.lease = &ss_pg_lease_ops,
};
