/*
 * odbc.c -- the ODBC dialect's plumbing, on unixODBC: connecting (the
 * configured connection string, the password appended from password_env and
 * never echoed), picking the SQL flavour from SQL_DBMS_NAME, statements with
 * bound parameters (text as SQL_C_CHAR with explicit lengths, bytes as
 * SQL_C_BINARY), results streamed row by row with SQLGetData in a loop so
 * values of any size arrive whole, transactions, diagnostics, multi-statement
 * scripts, and the batch-apply loop every flavour shares.
 *
 * The narrow (UTF-8) API is used throughout: the SQLite, PostgreSQL Unicode
 * and MariaDB Unicode drivers pass UTF-8 through unchanged.  SQL generation
 * lives with the flavours: odbc_sqlite.c and odbc_flavors.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "engine.h"
#include "odbc_int.h"

#define STMT_IN_MSG 200

/* ---- diagnostics ---------------------------------------------------------- */

/* Drop leading "[vendor][driver]" tags from a driver message. */
static const char *strip_tags(const char *m)
{
	while (*m == '[') {
		const char *e = strchr(m, ']');
		if (!e)
			break;
		m = e + 1;
	}
	while (*m == ' ')
		m++;
	return m;
}

/* Replace every occurrence of secret in s by *****. */
static void scrub(char *s, size_t cap, const char *secret)
{
	size_t sl = secret ? strlen(secret) : 0, o = 0;
	char out[2048];

	if (!sl)
		return;
	for (const char *p = s; *p && o + 6 < sizeof out;) {
		if (strncmp(p, secret, sl) == 0) {
			memcpy(out + o, "*****", 5);
			o += 5;
			p += sl;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	snprintf(s, cap, "%s", out);
}

/* Fill err from the diagnostic records of handle h. */
static void odbc_fail(struct ss_conn *c, const struct ss_dbconf *db, SQLSMALLINT ht, SQLHANDLE h,
		      const char *what, const char *sql, struct ss_err *err)
{
	SQLCHAR state[6] = "", msg[1024];
	SQLINTEGER native = 0;
	SQLSMALLINT ml = 0;
	char m[1200] = "";
	char first_state[6] = "";
	long first_native = 0;
	const struct odbc_flavour *fl = c ? ODBC(c)->fl : NULL;

	for (SQLSMALLINT i = 1; i <= 3; i++) {
		msg[0] = '\0';
		if (!SQL_SUCCEEDED(SQLGetDiagRec(ht, h, i, state, &native, msg, sizeof msg, &ml)))
			break;
		if (i == 1) {
			memcpy(first_state, state, sizeof first_state);
			first_native = native;
		} else if (strcmp((char *)state, "01000") == 0 ||
			   strcmp((char *)state, first_state) == 0) {
			continue; /* the same message again, or an informational one */
		}
		size_t n = strlen(m);
		snprintf(m + n, sizeof m - n, "%s%s", n ? "; " : "", strip_tags((char *)msg));
	}
	if (!*m)
		snprintf(m, sizeof m, "unknown ODBC error (no diagnostic record)");
	for (char *p = m; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	scrub(m, sizeof m, ss_db_password(db));
	if (sql)
		ss_err_set(err, "database %s: %s%s (SQLSTATE %s) [statement: %.*s%s]", db->name,
			   what ? what : "", m, first_state[0] ? first_state : "?????", STMT_IN_MSG,
			   sql, strlen(sql) > STMT_IN_MSG ? "..." : "");
	else
		ss_err_set(err, "database %s: %s%s (SQLSTATE %s)", db->name, what ? what : "", m,
			   first_state[0] ? first_state : "?????");
	if (!err)
		return;
	snprintf(err->sqlstate, sizeof err->sqlstate, "%s", first_state);
	err->transient = strncmp(first_state, "08", 2) == 0 || strcmp(first_state, "40001") == 0 ||
			 strcmp(first_state, "40P01") == 0 || strcmp(first_state, "HYT00") == 0 ||
			 strcmp(first_state, "HYT01") == 0 ||
			 (fl && fl->transient && fl->transient(first_state, first_native, m));
}

/* ---- connecting ------------------------------------------------------------- */

static void free_conn(struct odbc_conn *c)
{
	if (!c)
		return;
	if (c->fl && c->fl->free_state)
		c->fl->free_state(c->fstate);
	if (c->dbc) {
		SQLDisconnect(c->dbc);
		SQLFreeHandle(SQL_HANDLE_DBC, c->dbc);
	}
	if (c->env)
		SQLFreeHandle(SQL_HANDLE_ENV, c->env);
	free(c->dbms_name);
	free(c->dbms_ver);
	free(c->schema);
	free(c);
}

void ss_odbc_disconnect(struct ss_conn *c)
{
	if (!c)
		return;
	if (ODBC(c)->in_txn) {
		struct ss_err e;
		(void)ss_odbc_rollback(c, &e);
	}
	free_conn(ODBC(c));
}

static char *get_info_str(SQLHDBC dbc, SQLUSMALLINT what)
{
	char buf[256] = "";
	SQLSMALLINT l = 0;

	if (!SQL_SUCCEEDED(SQLGetInfo(dbc, what, buf, sizeof buf, &l)))
		buf[0] = '\0';
	return ss_xstrdup(buf);
}

static const struct odbc_flavour *pick_flavour(const char *dbms)
{
	if (strcasecmp(dbms, "SQLite") == 0 || strncasecmp(dbms, "SQLite", 6) == 0)
		return &ss_odbc_flavour_sqlite;
	if (strcasestr(dbms, "PostgreSQL"))
		return &ss_odbc_flavour_postgres;
	if (strcasestr(dbms, "MariaDB") || strcasestr(dbms, "MySQL"))
		return &ss_odbc_flavour_mariadb;
	return NULL;
}

/* The configured string plus ;PWD={...} when password_env gives one.  The
 * caller wipes and frees it. */
static char *conn_string(const struct ss_dbconf *db)
{
	const char *pw = ss_db_password(db);
	struct ss_buf b;

	ss_buf_init(&b);
	ss_buf_adds(&b, db->dsn ? db->dsn : "");
	if (pw && *pw) {
		while (b.len && (b.data[b.len - 1] == ' ' || b.data[b.len - 1] == ';'))
			b.data[--b.len] = '\0';
		ss_buf_adds(&b, ";PWD={");
		for (const char *p = pw; *p; p++) {
			if (*p == '}')
				ss_buf_addc(&b, '}');
			ss_buf_addc(&b, *p);
		}
		ss_buf_addc(&b, '}');
	}
	if (!b.data)
		ss_buf_adds(&b, "");
	return ss_buf_steal(&b);
}

struct ss_conn *ss_odbc_connect(const struct ss_dbconf *db, struct ss_err *err)
{
	struct odbc_conn *c = ss_xcalloc(1, sizeof *c);
	char *cs = NULL;
	SQLRETURN r;

	c->base.db = db;
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &c->env)) ||
	    !SQL_SUCCEEDED(
		    SQLSetEnvAttr(c->env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0)) ||
	    !SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, c->env, &c->dbc))) {
		ss_err_set(err, "database %s: cannot set up an ODBC environment (unixODBC)",
			   db->name);
		free_conn(c);
		return NULL;
	}
	if (db->connect_timeout_us > 0) {
		SQLULEN secs = (SQLULEN)((db->connect_timeout_us + 999999) / 1000000);
		(void)SQLSetConnectAttr(c->dbc, SQL_ATTR_LOGIN_TIMEOUT, (SQLPOINTER)secs, 0);
	}
	cs = conn_string(db);
	r = SQLDriverConnect(c->dbc, NULL, (SQLCHAR *)cs, SQL_NTS, NULL, 0, NULL,
			     SQL_DRIVER_NOPROMPT);
	memset(cs, 0, strlen(cs));
	free(cs);
	if (!SQL_SUCCEEDED(r)) {
		odbc_fail(NULL, db, SQL_HANDLE_DBC, c->dbc, "cannot connect: ", NULL, err);
		if (err && strncmp(err->sqlstate, "IM", 2) == 0)
			err->transient = 0; /* driver or DSN not found: retrying will not help */
		else if (err && !err->sqlstate[0])
			err->transient = 1;
		SQLFreeHandle(SQL_HANDLE_DBC, c->dbc);
		c->dbc = NULL;
		free_conn(c);
		return NULL;
	}
	c->dbms_name = get_info_str(c->dbc, SQL_DBMS_NAME);
	c->dbms_ver = get_info_str(c->dbc, SQL_DBMS_VER);
	c->fl = pick_flavour(c->dbms_name);
	if (!c->fl) {
		ss_err_set(err,
			   "database %s: the ODBC driver reports DBMS \"%s\"; shadowsync speaks "
			   "SQLite, PostgreSQL and MariaDB/MySQL through ODBC",
			   db->name, c->dbms_name);
		free_conn(c);
		return NULL;
	}
	c->base.d = c->fl->d;
	c->max_params = c->fl->max_params;
	if (c->fl->setup && c->fl->setup(c, err) < 0) {
		free_conn(c);
		return NULL;
	}
	ss_log_debug(db->name, "connected through ODBC to %s %s (flavour %s)", c->dbms_name,
		     c->dbms_ver, c->base.d->name);
	return &c->base;
}

/* ---- statements --------------------------------------------------------------- */

struct colbuf {
	struct ss_buf b;
	int binary;
};

/* Read column i (1-based) of the current row whole, in chunks. */
static int get_column(SQLHSTMT st, SQLUSMALLINT i, struct colbuf *cb, int *isnull)
{
	const SQLSMALLINT ctype = cb->binary ? SQL_C_BINARY : SQL_C_CHAR;
	const size_t term = cb->binary ? 0 : 1; /* SQL_C_CHAR chunks end in a NUL */
	size_t chunk = 64 * 1024;
	struct ss_buf *b = &cb->b;

	ss_buf_reset(b);
	*isnull = 0;
	for (;;) {
		SQLLEN ind = 0;
		SQLRETURN r;

		ss_buf_reserve(b, chunk);
		r = SQLGetData(st, i, ctype, b->data + b->len, (SQLLEN)chunk, &ind);
		if (r == SQL_NO_DATA)
			break; /* the previous call returned the last part */
		if (!SQL_SUCCEEDED(r))
			return -1;
		if (ind == SQL_NULL_DATA) {
			*isnull = 1;
			break;
		}
		if (r == SQL_SUCCESS || (ind != SQL_NO_TOTAL && (size_t)ind <= chunk - term)) {
			b->len += (size_t)ind;
			break;
		}
		/* truncated (01004): a full chunk arrived, more follows */
		b->len += chunk - term;
		if (ind != SQL_NO_TOTAL && (size_t)ind > chunk - term)
			chunk = (size_t)ind - (chunk - term) + term;
		else if (chunk < 16 * 1024 * 1024)
			chunk *= 2;
	}
	ss_buf_reserve(b, 0);
	b->data[b->len] = '\0';
	return 0;
}

static int is_binary_type(SQLSMALLINT t)
{
	return t == SQL_BINARY || t == SQL_VARBINARY || t == SQL_LONGVARBINARY;
}

static int fetch_rows(struct ss_conn *c, SQLHSTMT st, const char *sql, ss_row_cb cb, void *arg,
		      struct ss_err *err)
{
	SQLSMALLINT ncols = 0;
	struct colbuf *cols = NULL;
	const char **vals = NULL;
	size_t *lens = NULL;
	int rc = 0;

	if (!SQL_SUCCEEDED(SQLNumResultCols(st, &ncols)) || ncols <= 0)
		return 0;
	cols = ss_xcalloc((size_t)ncols, sizeof *cols);
	vals = ss_xcalloc((size_t)ncols, sizeof *vals);
	lens = ss_xcalloc((size_t)ncols, sizeof *lens);
	for (SQLSMALLINT i = 0; i < ncols; i++) {
		SQLSMALLINT type = 0, nl, dd, nu;
		SQLULEN size;
		SQLCHAR name[8];
		if (SQL_SUCCEEDED(SQLDescribeCol(st, (SQLUSMALLINT)(i + 1), name, sizeof name, &nl,
						 &type, &size, &dd, &nu)))
			cols[i].binary = is_binary_type(type);
	}
	for (;;) {
		SQLRETURN r = SQLFetch(st);
		if (r == SQL_NO_DATA)
			break;
		if (!SQL_SUCCEEDED(r)) {
			odbc_fail(c, c->db, SQL_HANDLE_STMT, st, NULL, sql, err);
			rc = -1;
			break;
		}
		for (SQLSMALLINT i = 0; i < ncols; i++) {
			int isnull;
			if (get_column(st, (SQLUSMALLINT)(i + 1), &cols[i], &isnull) < 0) {
				odbc_fail(c, c->db, SQL_HANDLE_STMT, st, NULL, sql, err);
				rc = -1;
				goto done;
			}
			vals[i] = isnull ? NULL : cols[i].b.data;
			lens[i] = isnull ? 0 : cols[i].b.len;
		}
		int k = cb(arg, ncols, vals, lens, err);
		if (k < 0) {
			rc = -1;
			break;
		}
		if (k > 0)
			break;
	}
done:
	SQLCloseCursor(st);
	for (SQLSMALLINT i = 0; i < ncols; i++)
		ss_buf_free(&cols[i].b);
	free(cols);
	free(vals);
	free(lens);
	return rc;
}

int ss_odbc_run(struct ss_conn *c, const char *sql, int nparams, const struct odbc_param *params,
		ss_row_cb cb, void *arg, struct ss_err *err)
{
	SQLHSTMT st = SQL_NULL_HSTMT;
	SQLLEN *ind = NULL;
	SQLRETURN r;
	int rc = -1;

	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, ODBC(c)->dbc, &st))) {
		odbc_fail(c, c->db, SQL_HANDLE_DBC, ODBC(c)->dbc, NULL, sql, err);
		return -1;
	}
	if (nparams > 0)
		ind = ss_xcalloc((size_t)nparams, sizeof *ind);
	for (int i = 0; i < nparams; i++) {
		const struct odbc_param *p = &params[i];
		SQLULEN size = p->len ? (SQLULEN)p->len : 1;

		ind[i] = p->data ? (SQLLEN)p->len : SQL_NULL_DATA;
		if (p->data && p->kind == ODBC_P_DOUBLE) {
			ind[i] = 0;
			r = SQLBindParameter(st, (SQLUSMALLINT)(i + 1), SQL_PARAM_INPUT,
					     SQL_C_DOUBLE, SQL_DOUBLE, 15, 0, (SQLPOINTER)&p->d, 0,
					     &ind[i]);
		} else if (p->data && p->kind == ODBC_P_BINARY) {
			r = SQLBindParameter(st, (SQLUSMALLINT)(i + 1), SQL_PARAM_INPUT,
					     SQL_C_BINARY,
					     p->len > 8000 ? SQL_LONGVARBINARY : SQL_VARBINARY,
					     size, 0, (SQLPOINTER)p->data, (SQLLEN)p->len, &ind[i]);
		} else {
			r = SQLBindParameter(st, (SQLUSMALLINT)(i + 1), SQL_PARAM_INPUT, SQL_C_CHAR,
					     p->len > 8000 ? SQL_LONGVARCHAR : SQL_VARCHAR, size, 0,
					     (SQLPOINTER)(p->data ? p->data : ""), (SQLLEN)p->len,
					     &ind[i]);
		}
		if (!SQL_SUCCEEDED(r)) {
			odbc_fail(c, c->db, SQL_HANDLE_STMT, st, "binding a parameter: ", sql, err);
			goto done;
		}
	}
	r = SQLExecDirect(st, (SQLCHAR *)sql, SQL_NTS);
	if (r != SQL_NO_DATA && !SQL_SUCCEEDED(r)) {
		odbc_fail(c, c->db, SQL_HANDLE_STMT, st, NULL, sql, err);
		goto done;
	}
	if (cb && r != SQL_NO_DATA && fetch_rows(c, st, sql, cb, arg, err) < 0)
		goto done;
	rc = 0;
done:
	SQLFreeHandle(SQL_HANDLE_STMT, st);
	free(ind);
	return rc;
}

static struct odbc_param *text_params(int n, const char *const *params, const size_t *lens)
{
	struct odbc_param *p = ss_xcalloc((size_t)(n > 0 ? n : 1), sizeof *p);

	for (int i = 0; i < n; i++) {
		p[i].data = params[i];
		p[i].len = params[i] ? (lens ? lens[i] : strlen(params[i])) : 0;
	}
	return p;
}

int ss_odbc_exec(struct ss_conn *c, const char *sql, int nparams, const char *const *params,
		 const size_t *lens, struct ss_err *err)
{
	struct odbc_param *p = text_params(nparams, params, lens);
	int r = ss_odbc_run(c, sql, nparams, p, NULL, NULL, err);

	free(p);
	return r;
}

int ss_odbc_query(struct ss_conn *c, const char *sql, int nparams, const char *const *params,
		  const size_t *lens, ss_row_cb cb, void *arg, struct ss_err *err)
{
	struct odbc_param *p = text_params(nparams, params, lens);
	int r = ss_odbc_run(c, sql, nparams, p, cb, arg, err);

	free(p);
	return r;
}

static int value_cb(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	char **out = arg;

	(void)err;
	if (n > 0 && v[0])
		*out = ss_xstrndup(v[0], l[0]);
	return 1;
}

int ss_odbc_value(struct ss_conn *c, const char *sql, int nparams, const struct odbc_param *params,
		  char **out, struct ss_err *err)
{
	*out = NULL;
	return ss_odbc_run(c, sql, nparams, params, value_cb, out, err);
}

/* ---- transactions ------------------------------------------------------------------ */

static int set_autocommit(struct ss_conn *c, int on, struct ss_err *err)
{
	SQLRETURN r = SQLSetConnectAttr(
		ODBC(c)->dbc, SQL_ATTR_AUTOCOMMIT,
		(SQLPOINTER)(uintptr_t)(on ? SQL_AUTOCOMMIT_ON : SQL_AUTOCOMMIT_OFF),
		SQL_IS_UINTEGER);
	if (!SQL_SUCCEEDED(r)) {
		odbc_fail(c, c->db, SQL_HANDLE_DBC, ODBC(c)->dbc,
			  on ? "cannot end the transaction: " : "cannot begin a transaction: ",
			  NULL, err);
		return -1;
	}
	return 0;
}

int ss_odbc_begin(struct ss_conn *c, struct ss_err *err)
{
	struct odbc_conn *oc = ODBC(c);

	if (oc->in_txn)
		return 0;
	if (oc->fl->begin_sql) {
		if (ss_odbc_run(c, oc->fl->begin_sql, 0, NULL, NULL, NULL, err) < 0)
			return -1;
	} else if (set_autocommit(c, 0, err) < 0) {
		return -1;
	}
	oc->in_txn = 1;
	return 0;
}

static int end_txn(struct ss_conn *c, int commit, struct ss_err *err)
{
	struct odbc_conn *oc = ODBC(c);

	if (!oc->in_txn)
		return 0;
	if (oc->fl->begin_sql) {
		struct ss_err e;
		if (ss_odbc_run(c, commit ? "COMMIT" : "ROLLBACK", 0, NULL, NULL, NULL, &e) < 0) {
			/* SQLite ends a transaction itself on some errors */
			if (!commit && strstr(e.msg, "no transaction is active")) {
				oc->in_txn = 0;
				return 0;
			}
			if (err)
				*err = e;
			return -1;
		}
	} else {
		SQLRETURN r =
			SQLEndTran(SQL_HANDLE_DBC, oc->dbc, commit ? SQL_COMMIT : SQL_ROLLBACK);
		if (!SQL_SUCCEEDED(r)) {
			odbc_fail(c, c->db, SQL_HANDLE_DBC, oc->dbc,
				  commit ? "commit failed: " : "rollback failed: ", NULL, err);
			return -1;
		}
		if (set_autocommit(c, 1, err) < 0)
			return -1;
	}
	oc->in_txn = 0;
	return 0;
}

int ss_odbc_commit(struct ss_conn *c, struct ss_err *err)
{
	return end_txn(c, 1, err);
}

int ss_odbc_rollback(struct ss_conn *c, struct ss_err *err)
{
	return end_txn(c, 0, err);
}

const char *ss_odbc_default_schema(struct ss_conn *c)
{
	return ODBC(c)->schema ? ODBC(c)->schema : "";
}

int ss_odbc_capture_listen(struct ss_conn *c, const char *job, struct ss_err *err)
{
	(void)c;
	(void)job;
	(void)err;
	return -1; /* no notifications through ODBC: the capture polls */
}

int ss_odbc_capture_drain(struct ss_conn *c, struct ss_err *err)
{
	(void)c;
	(void)err;
	return 0;
}

/* ---- scripts ------------------------------------------------------------------------ */

static int is_word_char(unsigned char ch)
{
	return ch == '_' || ch == '$' || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z') || ch >= 0x80;
}

static int word_is(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

/*
 * A small tokenizer: enough of SQL to find where statements end.  Quotes
 * ('..', "..", `..`, [..]) and comments are skipped; inside CREATE TRIGGER
 * the statement ends at the ';' after the END that closes its BEGIN (CASE
 * ... END pairs counted apart).
 */
int ss_odbc_split_script(const char *sql, int (*fn)(void *arg, const char *stmt, size_t len),
			 void *arg)
{
	const char *p = sql, *start = NULL;
	int nwords = 0, trigger = 0, in_body = 0, case_depth = 0, create = 0;

	while (*p) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				p++;
			continue;
		}
		if (ch == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			p = e ? e + 2 : p + strlen(p);
			continue;
		}
		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
			p++;
			continue;
		}
		if (!start)
			start = p;
		if (ch == '\'' || ch == '"' || ch == '`' || ch == '[') {
			char close = ch == '[' ? ']' : (char)ch;
			p++;
			while (*p) {
				if (*p == close) {
					if (close != ']' && p[1] == close) {
						p += 2;
						continue;
					}
					break;
				}
				p++;
			}
			if (*p)
				p++;
			nwords++;
			continue;
		}
		if (is_word_char(ch)) {
			const char *w = p;
			while (*p && is_word_char((unsigned char)*p))
				p++;
			size_t n = (size_t)(p - w);
			if (nwords == 0)
				create = word_is(w, n, "CREATE");
			else if (create && nwords <= 3 && word_is(w, n, "TRIGGER"))
				trigger = 1;
			if (trigger) {
				if (word_is(w, n, "BEGIN") && !in_body)
					in_body = 1;
				else if (in_body && word_is(w, n, "CASE"))
					case_depth++;
				else if (in_body && word_is(w, n, "END")) {
					if (case_depth > 0)
						case_depth--;
					else
						in_body = 2; /* the body closed */
				}
			}
			nwords++;
			continue;
		}
		if (ch == ';') {
			if (trigger && in_body == 1) {
				p++;
				continue;
			}
			if (start != p) {
				int r = fn(arg, start, (size_t)(p - start));
				if (r)
					return r;
			}
			start = NULL;
			nwords = trigger = in_body = case_depth = create = 0;
			p++;
			continue;
		}
		p++;
		nwords++;
	}
	if (start) {
		size_t n = strlen(start);
		while (n && (start[n - 1] == ' ' || start[n - 1] == '\n' || start[n - 1] == '\t' ||
			     start[n - 1] == '\r'))
			n--;
		if (n)
			return fn(arg, start, n);
	}
	return 0;
}

struct script_state {
	struct ss_conn *c;
	struct ss_err *err;
	struct ss_buf stmt;
};

/* BEGIN / COMMIT / ROLLBACK statements of a script go through the dialect's
 * transaction calls, so the ODBC driver knows about them. */
static int txn_word(const char *s, size_t n)
{
	char w[32];
	size_t i = 0;

	while (i < n && i < sizeof w - 1 && is_word_char((unsigned char)s[i])) {
		w[i] = s[i];
		i++;
	}
	w[i] = '\0';
	const char *rest = s + i;
	size_t rn = n - i;
	while (rn && (*rest == ' ' || *rest == '\n' || *rest == '\t')) {
		rest++;
		rn--;
	}
	if (strcasecmp(w, "BEGIN") == 0 || strcasecmp(w, "START") == 0)
		return 'B';
	if (strcasecmp(w, "COMMIT") == 0 || strcasecmp(w, "END") == 0)
		return 'C';
	if (strcasecmp(w, "ROLLBACK") == 0 && !(rn >= 2 && strncasecmp(rest, "TO", 2) == 0))
		return 'R';
	return 0;
}

static int script_stmt(void *arg, const char *stmt, size_t len)
{
	struct script_state *s = arg;

	switch (txn_word(stmt, len)) {
	case 'B': return ss_odbc_begin(s->c, s->err) < 0 ? -1 : 0;
	case 'C': return ss_odbc_commit(s->c, s->err) < 0 ? -1 : 0;
	case 'R': return ss_odbc_rollback(s->c, s->err) < 0 ? -1 : 0;
	default: break;
	}
	ss_buf_reset(&s->stmt);
	ss_buf_add(&s->stmt, stmt, len);
	return ss_odbc_run(s->c, s->stmt.data, 0, NULL, NULL, NULL, s->err) < 0 ? -1 : 0;
}

int ss_odbc_exec_script(struct ss_conn *c, const char *sql, struct ss_err *err)
{
	struct script_state s = {c, err, {NULL, 0, 0}};
	int r = ss_odbc_split_script(sql, script_stmt, &s);

	ss_buf_free(&s.stmt);
	if (r) {
		struct ss_err e2;
		(void)ss_odbc_rollback(c, &e2); /* leave no transaction open */
		return -1;
	}
	return 0;
}

/* ---- apply ------------------------------------------------------------------------- */

void ss_odbc_describe_key(const struct ss_change *ch, struct ss_buf *out)
{
	for (int i = 0; i < ch->nkey; i++) {
		const struct ss_field *f = &ch->key[i];
		ss_buf_addf(out, "%s%.*s=", i ? ", " : "", (int)f->name_len, f->name);
		if (f->is_null)
			ss_buf_adds(out, "NULL");
		else if (f->type == SS_V_BINARY)
			ss_hex_encode((const uint8_t *)f->data, f->len > 100 ? 100 : f->len, out);
		else
			ss_buf_add(out, f->data, f->len > 200 ? 200 : f->len);
	}
}

static const struct ss_field *find_field(const struct ss_field *v, int n, const char *name)
{
	size_t nl = strlen(name);

	for (int i = 0; i < n; i++)
		if (v[i].name_len == nl && memcmp(v[i].name, name, nl) == 0)
			return &v[i];
	return NULL;
}

/* Convert the values of rows [from, from+nrows) into params.  Converted
 * bytes are collected in arena; pointers into it are fixed up at the end
 * (the arena may move while it grows). */
static int build_params(struct ss_conn *c, const struct ss_apply_batch *b, int keys, int from,
			int nrows, struct odbc_param *params, struct ss_buf *arena,
			struct ss_err *err)
{
	const struct ss_tableinfo *t = b->target;
	int ncols = keys ? t->npk : b->ncols;
	size_t *offs = ss_xcalloc((size_t)(nrows * ncols) + 1, sizeof *offs);
	struct ss_buf tmp;
	int k = 0, rc = -1;

	ss_buf_init(&tmp);
	ss_buf_reset(arena);
	for (int r = 0; r < nrows; r++) {
		const struct ss_change *ch = b->changes[from + r];
		for (int i = 0; i < ncols; i++, k++) {
			const struct ss_colinfo *col =
				keys ? &t->cols[t->pk[i]] : &t->cols[b->cols[i]];
			const struct ss_field *f = keys ? find_field(ch->key, ch->nkey, col->name) :
							  find_field(ch->row, ch->nrow, col->name);
			struct odbc_param *p = &params[k];
			offs[k] = (size_t)-1;
			memset(p, 0, sizeof *p);
			if (!f || f->is_null)
				continue;
			ss_buf_reset(&tmp);
			if (ODBC(c)->fl->value(col, f, p, &tmp, err) < 0) {
				struct ss_buf kd;
				ss_buf_init(&kd);
				ss_odbc_describe_key(ch, &kd);
				ss_err_prefix(err, "database %s: table %s.%s, key (%s)",
					      c->db->name, t->schema, t->name,
					      kd.data ? kd.data : "");
				ss_buf_free(&kd);
				goto done;
			}
			if (tmp.data && p->data == tmp.data) {
				offs[k] = arena->len;
				ss_buf_add(arena, tmp.data, p->len);
			}
		}
	}
	for (int i = 0; i < k; i++)
		if (offs[i] != (size_t)-1)
			params[i].data = arena->data + offs[i];
	rc = 0;
done:
	ss_buf_free(&tmp);
	free(offs);
	return rc;
}

static int rows_per_statement(struct ss_conn *c, int ncols)
{
	int n = ODBC(c)->max_params / (ncols > 0 ? ncols : 1);

	if (n < 1)
		n = 1;
	if (n > 500)
		n = 500;
	return n;
}

/* Bytes of values per statement: a few MB keeps each statement well under
 * MariaDB's max_allowed_packet (16 MB by default) and the memory bounded. */
#define STATEMENT_BYTES (4u << 20)

/* How many rows from `from` go into one statement: at most per, and no
 * more than STATEMENT_BYTES of values (but at least one row). */
static int rows_in_statement(const struct ss_apply_batch *b, int keys, int from, int per)
{
	size_t bytes = 0;
	int n = 0;

	while (from + n < b->n && n < per) {
		const struct ss_change *ch = b->changes[from + n];
		const struct ss_field *f = keys ? ch->key : ch->row;
		size_t row = 0;
		for (int i = 0; i < (keys ? ch->nkey : ch->nrow); i++)
			row += f[i].len;
		if (n > 0 && bytes + row > STATEMENT_BYTES)
			break;
		bytes += row;
		n++;
	}
	return n;
}

static int apply_batch(struct ss_conn *c, const struct ss_apply_batch *b, int del,
		       struct ss_err *err)
{
	const struct ss_tableinfo *t = b->target;
	int ncols = del ? t->npk : b->ncols;
	int per = rows_per_statement(c, ncols);
	struct odbc_param *params = ss_xcalloc((size_t)(per * ncols) + 1, sizeof *params);
	struct ss_buf sql, arena;
	int rc = -1, last_rows = -1;

	ss_buf_init(&sql);
	ss_buf_init(&arena);
	if (ncols > ODBC(c)->max_params) {
		ss_err_set(err,
			   "database %s: table %s.%s has %d columns to write, more than the %d "
			   "parameters a statement may bind",
			   c->db->name, t->schema, t->name, ncols, ODBC(c)->max_params);
		goto done;
	}
	for (int from = 0, nrows; from < b->n; from += nrows) {
		nrows = rows_in_statement(b, del, from, per);
		if (nrows != last_rows) {
			ss_buf_reset(&sql);
			if (del)
				c->d->delete_sql(t, nrows, &sql);
			else
				c->d->upsert_sql(t, b->cols, b->ncols, nrows, &sql);
			last_rows = nrows;
		}
		if (build_params(c, b, del, from, nrows, params, &arena, err) < 0)
			goto done;
		if (ss_odbc_run(c, sql.data, nrows * ncols, params, NULL, NULL, err) < 0) {
			if (!del && ODBC(c)->fl->upsert_explain)
				ODBC(c)->fl->upsert_explain(t, err);
			if (nrows == 1) {
				struct ss_buf kd;
				ss_buf_init(&kd);
				ss_odbc_describe_key(b->changes[from], &kd);
				ss_err_prefix(err, "table %s.%s, key (%s)", t->schema, t->name,
					      kd.data ? kd.data : "");
				ss_buf_free(&kd);
			} else {
				ss_err_prefix(err, "table %s.%s", t->schema, t->name);
			}
			goto done;
		}
	}
	rc = 0;
done:
	ss_buf_free(&sql);
	ss_buf_free(&arena);
	free(params);
	return rc;
}

int ss_odbc_apply_upsert(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err)
{
	return apply_batch(c, b, 0, err);
}

int ss_odbc_apply_delete(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err)
{
	return apply_batch(c, b, 1, err);
}

/* ---- shared helpers -------------------------------------------------------------- */

void ss_odbc_format_double(double v, struct ss_buf *out)
{
	char s[40];
	int lo = 1, hi = 17;

	if (v == 0) {
		ss_buf_adds(out, signbit(v) ? "-0" : "0");
		return;
	}
	/* reading back is monotonic in the precision: find the least that works */
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		snprintf(s, sizeof s, "%.*g", mid, v);
		if (strtod(s, NULL) == v)
			hi = mid;
		else
			lo = mid + 1;
	}
	snprintf(s, sizeof s, "%.*g", lo, v);
	ss_buf_adds(out, s);
}

static int has(const char *decl, const char *word)
{
	return strcasestr(decl, word) != NULL;
}

uint8_t ss_odbc_vtype_from_decl(const char *decl)
{
	if (!decl || !*decl)
		return SS_V_TEXT;
	/* names first, then SQLite's affinity rules */
	if (has(decl, "BOOL"))
		return SS_V_BOOL;
	if (has(decl, "TIMESTAMPTZ") || has(decl, "WITH TIME ZONE"))
		return SS_V_TIMESTAMPTZ;
	if (has(decl, "DATETIME") || has(decl, "TIMESTAMP"))
		return SS_V_TIMESTAMP;
	if (has(decl, "DATE"))
		return SS_V_DATE;
	if (has(decl, "JSON"))
		return SS_V_JSON;
	if (has(decl, "UUID") || has(decl, "GUID"))
		return SS_V_UUID;
	if (has(decl, "INT"))
		return SS_V_INT;
	if (has(decl, "CHAR") || has(decl, "CLOB") || has(decl, "TEXT"))
		return SS_V_TEXT;
	if (has(decl, "BLOB") || has(decl, "BINARY") || has(decl, "BYTEA"))
		return SS_V_BINARY;
	if (has(decl, "REAL") || has(decl, "FLOA") || has(decl, "DOUB"))
		return SS_V_FLOAT;
	if (has(decl, "NUMERIC") || has(decl, "DECIMAL"))
		return SS_V_NUMERIC;
	if (has(decl, "TIME"))
		return SS_V_TIME;
	return SS_V_TEXT;
}
