/*
 * mariadb.c -- MariaDB (and MySQL) on MariaDB Connector/C: the transport.
 *
 * Owns: connections (sessions pinned to UTC, utf8mb4 and a strict sql_mode),
 * errors (SQLSTATE, which are worth a retry), statements with bound
 * parameters through the prepared-statement protocol (row streaming, values
 * handed on as text, FLOAT/DOUBLE formatted as the shortest text that reads
 * back to the same value, a small cache of prepared apply statements),
 * scripts split on a DELIMITER the way the mariadb client does (an install
 * that fails drops what it created), transactions, and the dialect table.
 *
 * Leaves to others: MariaDB's SQL, shared with the ODBC transport
 * (mariadb_sql.c: quoting, catalog, upsert/delete/position text), the
 * trigger capture (mariadb_capture.c), applying batches (mariadb_apply.c),
 * which changes to apply and when (replicator/).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check_ops.h"
#include "engine.h"
#include "log.h"
#include "mariadb_conn.h"

/* ---- errors -------------------------------------------------------------- */

static int my_transient(unsigned int eno)
{
	switch (eno) {
	case 1040: /* too many connections */
	case 1053: /* server shutdown in progress */
	case 1205: /* lock wait timeout */
	case 1213: /* deadlock */
	case 1927: /* connection killed */
	case 1969: /* max_statement_time exceeded */
	case 3024: /* max_execution_time exceeded (MySQL) */
	case 2002: /* can't connect through socket */
	case 2003: /* can't connect to server */
	case 2006: /* server has gone away */
	case 2013: /* lost connection during query */
	case 2055: /* lost connection (system error) */
	case 4031: /* disconnected: idle too long */ return 1;
	}
	return 0;
}

static void flatten(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r' || *s == '\t')
			*s = ' ';
}

static void my_set_err(struct ss_conn *c, unsigned int eno, const char *state, const char *msg,
		       const char *sql, struct ss_err *err)
{
	char m[1200], q[204];

	if (!err)
		return;
	snprintf(m, sizeof m, "%s", msg && *msg ? msg : "unknown error");
	flatten(m);
	if (sql) {
		snprintf(q, sizeof q, "%s", sql);
		flatten(q);
		ss_err_set(err, "database %s: %s (%u/%s) [statement: %s%s]", c->db->name, m, eno,
			   state ? state : "", q, strlen(sql) > 200 ? "..." : "");
	} else {
		ss_err_set(err, "database %s: %s (%u/%s)", c->db->name, m, eno, state ? state : "");
	}
	snprintf(err->sqlstate, sizeof err->sqlstate, "%s", state ? state : "");
	err->transient = my_transient(eno);
}

static void fail_conn(struct ss_conn *c, const char *sql, struct ss_err *err)
{
	my_set_err(c, mysql_errno(MY(c)), mysql_sqlstate(MY(c)), mysql_error(MY(c)), sql, err);
}

static void fail_stmt(struct ss_conn *c, MYSQL_STMT *st, const char *sql, struct ss_err *err)
{
	my_set_err(c, mysql_stmt_errno(st), mysql_stmt_sqlstate(st), mysql_stmt_error(st), sql,
		   err);
}

/* ---- connection ---------------------------------------------------------- */

struct my_dsn {
	char *host, *port, *dbname, *user, *unix_socket, *password;
	char *sslmode, *sslrootcert, *sslcert, *sslkey;
};

static void dsn_free(struct my_dsn *d)
{
	free(d->host);
	free(d->port);
	free(d->dbname);
	free(d->user);
	free(d->unix_socket);
	free(d->password);
	free(d->sslmode);
	free(d->sslrootcert);
	free(d->sslcert);
	free(d->sslkey);
}

/* libpq style: key=value pairs separated by blanks; a value may be written
 * in single quotes, with \' and \\ inside. */
static int dsn_parse(const struct ss_dbconf *db, struct my_dsn *d, struct ss_err *err)
{
	const char *p = db->dsn;

	memset(d, 0, sizeof *d);
	for (;;) {
		struct ss_buf key, val;
		char **slot = NULL;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			return 0;
		ss_buf_init(&key);
		ss_buf_init(&val);
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			ss_buf_addc(&key, *p++);
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=') {
			ss_err_set(err, "database %s: dsn: expected key=value at \"%s\"", db->name,
				   key.data ? key.data : "");
			goto fail;
		}
		p++;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\'') {
			p++;
			while (*p && *p != '\'') {
				if (*p == '\\' && p[1])
					p++;
				ss_buf_addc(&val, *p++);
			}
			if (*p != '\'') {
				ss_err_set(err,
					   "database %s: dsn: unterminated quoted value for %s",
					   db->name, key.data);
				goto fail;
			}
			p++;
		} else {
			while (*p && !isspace((unsigned char)*p))
				ss_buf_addc(&val, *p++);
		}
		if (strcmp(key.data, "host") == 0)
			slot = &d->host;
		else if (strcmp(key.data, "port") == 0)
			slot = &d->port;
		else if (strcmp(key.data, "dbname") == 0)
			slot = &d->dbname;
		else if (strcmp(key.data, "user") == 0)
			slot = &d->user;
		else if (strcmp(key.data, "unix_socket") == 0)
			slot = &d->unix_socket;
		else if (strcmp(key.data, "password") == 0)
			slot = &d->password;
		else if (strcmp(key.data, "sslmode") == 0)
			slot = &d->sslmode;
		else if (strcmp(key.data, "sslrootcert") == 0)
			slot = &d->sslrootcert;
		else if (strcmp(key.data, "sslcert") == 0)
			slot = &d->sslcert;
		else if (strcmp(key.data, "sslkey") == 0)
			slot = &d->sslkey;
		if (!slot) {
			ss_err_set(err,
				   "database %s: dsn: unknown key \"%s\" (mariadb takes host, "
				   "port, dbname, user, password, unix_socket, sslmode, "
				   "sslrootcert, sslcert, sslkey)",
				   db->name, key.data);
			goto fail;
		}
		free(*slot);
		*slot = val.data ? ss_buf_steal(&val) : ss_xstrdup("");
		ss_buf_free(&key);
		ss_buf_free(&val);
		continue;
fail:
		ss_buf_free(&key);
		ss_buf_free(&val);
		dsn_free(d);
		return -1;
	}
}

/* One statement over the text protocol; any result is read and dropped. */
int ss_my_exec_text(struct ss_conn *c, const char *sql, struct ss_err *err)
{
	MYSQL_RES *res;

	if (mysql_real_query(MY(c), sql, strlen(sql))) {
		fail_conn(c, sql, err);
		return -1;
	}
	for (;;) {
		res = mysql_store_result(MY(c));
		if (res)
			mysql_free_result(res);
		else if (mysql_field_count(MY(c))) {
			fail_conn(c, sql, err);
			return -1;
		}
		if (!mysql_more_results(MY(c)))
			break;
		if (mysql_next_result(MY(c)) > 0) {
			fail_conn(c, sql, err);
			return -1;
		}
	}
	return 0;
}

static void my_disconnect(struct ss_conn *c);

int ss_my_first_text_cb(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	(void)err;
	if (n > 0 && v[0])
		*(char **)arg = ss_xstrndup(v[0], l[0]);
	return 1;
}

/* TLS as libpq's sslmode means it: disable (also the default: no sslmode
 * key), require (encrypted, the server not verified unless sslrootcert is
 * given, as libpq does), verify-ca (the chain against sslrootcert),
 * verify-full (also the host name).  Every mode but disable refuses a
 * server that does not offer TLS (MYSQL_OPT_SSL_ENFORCE).  Connector/C
 * verifies the chain whenever a CA is set, the host name only with
 * MYSQL_OPT_SSL_VERIFY_SERVER_CERT. */
static int my_tls_options(const struct ss_dbconf *db, const struct my_dsn *d, MYSQL *my,
			  struct ss_err *err)
{
	my_bool on = 1, full;

	if (!d->sslmode || strcmp(d->sslmode, "disable") == 0) {
		if (!d->sslmode && (d->sslrootcert || d->sslcert || d->sslkey)) {
			ss_err_set(err,
				   "database %s: dsn: sslrootcert, sslcert and sslkey need "
				   "sslmode (require, verify-ca or verify-full)",
				   db->name);
			return -1;
		}
		return 0;
	}
	if (strcmp(d->sslmode, "require") != 0 && strcmp(d->sslmode, "verify-ca") != 0 &&
	    strcmp(d->sslmode, "verify-full") != 0) {
		ss_err_set(err,
			   "database %s: dsn: invalid sslmode \"%s\" (disable, require, "
			   "verify-ca or verify-full)",
			   db->name, d->sslmode);
		return -1;
	}
	full = strcmp(d->sslmode, "verify-full") == 0;
	if ((full || strcmp(d->sslmode, "verify-ca") == 0) &&
	    (!d->sslrootcert || !*d->sslrootcert)) {
		ss_err_set(err, "database %s: dsn: sslmode=%s needs sslrootcert (the CA file)",
			   db->name, d->sslmode);
		return -1;
	}
	if (mysql_optionsv(my, MYSQL_OPT_SSL_ENFORCE, &on) ||
	    (d->sslrootcert && *d->sslrootcert &&
	     mysql_optionsv(my, MYSQL_OPT_SSL_CA, d->sslrootcert)) ||
	    (d->sslcert && *d->sslcert && mysql_optionsv(my, MYSQL_OPT_SSL_CERT, d->sslcert)) ||
	    (d->sslkey && *d->sslkey && mysql_optionsv(my, MYSQL_OPT_SSL_KEY, d->sslkey)) ||
	    mysql_optionsv(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &full)) {
		ss_err_set(err, "database %s: cannot set the TLS options: %s", db->name,
			   mysql_error(my));
		return -1;
	}
	return 0;
}

static struct ss_conn *my_connect(const struct ss_dbconf *db, struct ss_err *err)
{
	static const char *const session[] = {
		"SET time_zone = '+00:00'",
		"SET NAMES utf8mb4",
		"SET SESSION sql_mode = '" MY_SQL_MODE "'",
		"SET SESSION autocommit = 1",
		NULL,
	};
	struct my_dsn d;
	struct my_conn *c;
	unsigned int timeout, port = 0, no = 0;
	unsigned long maxpacket = 1UL << 30;
	const char *pw;

	if (dsn_parse(db, &d, err) < 0)
		return NULL;
	if (d.port) {
		char *end;
		unsigned long v = strtoul(d.port, &end, 10);
		if (!*d.port || *end || v == 0 || v > 65535) {
			ss_err_set(err, "database %s: dsn: invalid port \"%s\"", db->name, d.port);
			dsn_free(&d);
			return NULL;
		}
		port = (unsigned int)v;
	}
	c = ss_xcalloc(1, sizeof *c);
	c->base.d = &ss_dialect_mariadb;
	c->base.db = db;
	c->my = mysql_init(NULL);
	if (!c->my) {
		ss_err_set(err, "database %s: cannot connect: out of memory", db->name);
		goto fail;
	}
	timeout = (unsigned int)((db->connect_timeout_us + 999999) / 1000000);
	if (timeout == 0)
		timeout = 10;
	mysql_optionsv(c->my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_optionsv(c->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_optionsv(c->my, MYSQL_OPT_MAX_ALLOWED_PACKET, &maxpacket);
	mysql_optionsv(c->my, MYSQL_OPT_LOCAL_INFILE, &no);
	if (my_tls_options(db, &d, c->my, err) < 0)
		goto fail;
	pw = ss_db_password(db) ? ss_db_password(db) : d.password;
	if (!mysql_real_connect(c->my, d.host, d.user, pw, d.dbname, port, d.unix_socket, 0)) {
		char m[1024];
		snprintf(m, sizeof m, "%s", mysql_error(c->my));
		flatten(m);
		ss_err_set(err, "database %s: cannot connect: %s (%u/%s)", db->name, m,
			   mysql_errno(c->my), mysql_sqlstate(c->my));
		if (err)
			err->transient =
				mysql_errno(c->my) >= 2000 || my_transient(mysql_errno(c->my));
		goto fail;
	}
	/* MYSQL_OPT_SSL_ENFORCE alone lets a server without TLS through. */
	if (d.sslmode && strcmp(d.sslmode, "disable") != 0 && !mysql_get_ssl_cipher(c->my)) {
		ss_err_set(err,
			   "database %s: cannot connect: sslmode=%s, but the server does not "
			   "offer TLS",
			   db->name, d.sslmode);
		goto fail;
	}
	for (int i = 0; session[i]; i++)
		if (ss_my_exec_text(&c->base, session[i], err) < 0)
			goto fail;
	if (d.dbname && *d.dbname) {
		c->dbname = ss_xstrdup(d.dbname);
	} else {
		if (ss_my_query_typed(&c->base, "SELECT DATABASE()", NULL, 0, ss_my_first_text_cb,
				      &c->dbname, err) < 0)
			goto fail;
		if (!c->dbname)
			c->dbname = ss_xstrdup("");
	}
	dsn_free(&d);
	return &c->base;
fail:
	dsn_free(&d);
	my_disconnect(&c->base);
	return NULL;
}

static void my_disconnect(struct ss_conn *c)
{
	struct my_conn *m = MYC(c);

	if (!c)
		return;
	for (int i = 0; i < MY_STMT_CACHE; i++) {
		if (m->cache[i].st)
			mysql_stmt_close(m->cache[i].st);
		free(m->cache[i].sql);
	}
	if (m->my)
		mysql_close(m->my);
	free(m->dbname);
	free(m);
}

/* ---- statements ---------------------------------------------------------- */

void ss_my_val_text(struct my_val *v, const char *s, size_t len)
{
	memset(v, 0, sizeof *v);
	v->type = MYSQL_TYPE_STRING;
	v->data = s;
	v->len = (unsigned long)len;
	v->is_null = s == NULL;
}

void ss_my_val_u64(struct my_val *v, uint64_t x)
{
	memset(v, 0, sizeof *v);
	v->type = MYSQL_TYPE_LONGLONG;
	v->ll = (long long)x;
	v->is_unsigned = 1;
	v->data = "";
}

static int utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + n;

	while (p < e) {
		int k = *p < 0x80           ? 0 :
			(*p & 0xE0) == 0xC0 ? 1 :
			(*p & 0xF0) == 0xE0 ? 2 :
			(*p & 0xF8) == 0xF0 ? 3 :
					      -1;
		if (k < 0 || e - p <= k)
			return 0;
		for (int i = 1; i <= k; i++)
			if ((p[i] & 0xC0) != 0x80)
				return 0;
		p += k + 1;
	}
	return 1;
}

/* Shortest text that reads back as the same value (as PostgreSQL prints
 * with extra_float_digits=3), exponent without '+' or leading zeros. */
static void fmt_float(double v, int is_float, char *out, size_t n)
{
	if (isnan(v)) {
		snprintf(out, n, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, n, v < 0 ? "-Infinity" : "Infinity");
		return;
	}
	for (int prec = is_float ? 6 : 15; prec <= (is_float ? 9 : 17); prec++) {
		snprintf(out, n, "%.*g", prec, v);
		if (is_float ? strtof(out, NULL) == (float)v : strtod(out, NULL) == v)
			break;
	}
	char *e = strchr(out, 'e');
	if (e) {
		char *w = e + 1, *r = e + 1;
		if (*r == '+')
			r++;
		else if (*r == '-')
			*w++ = *r++;
		while (*r == '0' && r[1])
			r++;
		memmove(w, r, strlen(r) + 1);
	}
}

static void bind_params(MYSQL_BIND *b, struct my_val *v, int n)
{
	memset(b, 0, sizeof *b * (size_t)n);
	for (int i = 0; i < n; i++) {
		b[i].buffer_type = v[i].type;
		b[i].is_null = &v[i].is_null;
		if (v[i].type == MYSQL_TYPE_LONGLONG) {
			b[i].buffer = &v[i].ll;
			b[i].is_unsigned = v[i].is_unsigned;
		} else {
			b[i].buffer = (void *)(v[i].data ? v[i].data : "");
			b[i].buffer_length = v[i].len;
			b[i].length = &v[i].len;
		}
	}
}

struct my_col {
	char *buf;
	unsigned long cap, len;
	my_bool is_null, error;
	double d;
	float f;
	char num[40];
};

/* Execute a prepared statement and stream its rows (if any) to cb. */
static int stmt_run(struct ss_conn *c, MYSQL_STMT *st, const char *sql, struct my_val *v, int n,
		    ss_row_cb cb, void *arg, struct ss_err *err)
{
	MYSQL_BIND *pb = NULL, *rb = NULL;
	MYSQL_RES *meta = NULL;
	struct my_col *cols = NULL;
	const char **vals = NULL;
	size_t *lens = NULL;
	unsigned int nf = 0;
	int rc = -1, stopped = 0;

	if (mysql_stmt_param_count(st) != (unsigned long)n) {
		ss_err_set(err,
			   "database %s: statement has %lu placeholders but %d values [statement: "
			   "%.200s]",
			   c->db->name, mysql_stmt_param_count(st), n, sql);
		return -1;
	}
	if (n) {
		pb = ss_xcalloc((size_t)n, sizeof *pb);
		bind_params(pb, v, n);
		if (mysql_stmt_bind_param(st, pb)) {
			fail_stmt(c, st, sql, err);
			goto done;
		}
	}
	if (mysql_stmt_execute(st)) {
		fail_stmt(c, st, sql, err);
		goto done;
	}
	nf = mysql_stmt_field_count(st);
	if (nf == 0) {
		rc = 0;
		goto done;
	}
	meta = mysql_stmt_result_metadata(st);
	if (!meta) {
		fail_stmt(c, st, sql, err);
		goto done;
	}
	MYSQL_FIELD *fields = mysql_fetch_fields(meta);
	rb = ss_xcalloc(nf, sizeof *rb);
	cols = ss_xcalloc(nf, sizeof *cols);
	vals = ss_xcalloc(nf, sizeof *vals);
	lens = ss_xcalloc(nf, sizeof *lens);
	for (unsigned int i = 0; i < nf; i++) {
		rb[i].is_null = &cols[i].is_null;
		rb[i].error = &cols[i].error;
		rb[i].length = &cols[i].len;
		if (fields[i].type == MYSQL_TYPE_FLOAT) {
			rb[i].buffer_type = MYSQL_TYPE_FLOAT;
			rb[i].buffer = &cols[i].f;
		} else if (fields[i].type == MYSQL_TYPE_DOUBLE) {
			rb[i].buffer_type = MYSQL_TYPE_DOUBLE;
			rb[i].buffer = &cols[i].d;
		} else {
			cols[i].cap = 256;
			cols[i].buf = ss_xmalloc(cols[i].cap);
			rb[i].buffer_type = MYSQL_TYPE_STRING;
			rb[i].buffer = cols[i].buf;
			rb[i].buffer_length = cols[i].cap;
		}
	}
	if (mysql_stmt_bind_result(st, rb)) {
		fail_stmt(c, st, sql, err);
		goto done;
	}
	for (;;) {
		int r = mysql_stmt_fetch(st);
		int rebind = 0;
		if (r == MYSQL_NO_DATA)
			break;
		if (r == 1) {
			fail_stmt(c, st, sql, err);
			goto done;
		}
		for (unsigned int i = 0; i < nf; i++) {
			struct my_col *k = &cols[i];
			if (k->is_null) {
				vals[i] = NULL;
				lens[i] = 0;
				continue;
			}
			if (rb[i].buffer_type == MYSQL_TYPE_FLOAT ||
			    rb[i].buffer_type == MYSQL_TYPE_DOUBLE) {
				fmt_float(rb[i].buffer_type == MYSQL_TYPE_FLOAT ? (double)k->f :
										  k->d,
					  rb[i].buffer_type == MYSQL_TYPE_FLOAT, k->num,
					  sizeof k->num);
				vals[i] = k->num;
				lens[i] = strlen(k->num);
				continue;
			}
			if (k->len >= k->cap) {
				/* longer than the buffer: grow it and fetch the column again */
				k->cap = k->len + 1;
				k->buf = ss_xrealloc(k->buf, k->cap);
				rb[i].buffer = k->buf;
				rb[i].buffer_length = k->cap;
				if (mysql_stmt_fetch_column(st, &rb[i], i, 0)) {
					fail_stmt(c, st, sql, err);
					goto done;
				}
				rebind = 1;
			}
			k->buf[k->len] = '\0';
			vals[i] = k->buf;
			lens[i] = k->len;
		}
		if (rebind && mysql_stmt_bind_result(st, rb)) {
			fail_stmt(c, st, sql, err);
			goto done;
		}
		if (!stopped) {
			int cr = cb ? cb(arg, (int)nf, vals, lens, err) : 0;
			if (cr < 0)
				goto done;
			if (cr > 0)
				stopped = 1;
		}
	}
	rc = 0;
done:
	if (nf)
		mysql_stmt_free_result(st);
	if (meta)
		mysql_free_result(meta);
	for (unsigned int i = 0; cols && i < nf; i++)
		free(cols[i].buf);
	free(cols);
	free(rb);
	free(pb);
	free(vals);
	free(lens);
	return rc;
}

static MYSQL_STMT *stmt_prepare(struct ss_conn *c, const char *sql, size_t len, struct ss_err *err)
{
	MYSQL_STMT *st = mysql_stmt_init(MY(c));

	if (!st) {
		fail_conn(c, sql, err);
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, (unsigned long)len)) {
		fail_stmt(c, st, sql, err);
		mysql_stmt_close(st);
		return NULL;
	}
	return st;
}

int ss_my_query_typed(struct ss_conn *c, const char *sql, struct my_val *v, int n, ss_row_cb cb,
		      void *arg, struct ss_err *err)
{
	MYSQL_STMT *st = stmt_prepare(c, sql, strlen(sql), err);
	int rc;

	if (!st)
		return -1;
	rc = stmt_run(c, st, sql, v, n, cb, arg, err);
	mysql_stmt_close(st);
	return rc;
}

/* A statement kept prepared on the connection while its SQL text repeats
 * (the apply path runs the same few statements for every chunk). */
int ss_my_exec_cached(struct ss_conn *c, const char *sql, size_t len, struct my_val *v, int n,
		      struct ss_err *err)
{
	struct my_conn *m = MYC(c);
	struct my_stmt_cache *e = NULL;

	for (int i = 0; i < MY_STMT_CACHE; i++)
		if (m->cache[i].sql && strcmp(m->cache[i].sql, sql) == 0)
			e = &m->cache[i];
	if (!e) {
		MYSQL_STMT *st = stmt_prepare(c, sql, len, err);
		if (!st)
			return -1;
		e = &m->cache[m->cache_next];
		m->cache_next = (m->cache_next + 1) % MY_STMT_CACHE;
		if (e->st)
			mysql_stmt_close(e->st);
		free(e->sql);
		e->st = st;
		e->sql = ss_xstrdup(sql);
	}
	if (stmt_run(c, e->st, sql, v, n, NULL, NULL, err) < 0) {
		mysql_stmt_close(e->st);
		free(e->sql);
		e->st = NULL;
		e->sql = NULL;
		return -1;
	}
	return 0;
}

/* Public parameters are text; bytes that are not UTF-8 go as a binary
 * string so nothing converts them. */
static struct my_val *text_vals(int n, const char *const *params, const size_t *lens)
{
	struct my_val *v = n ? ss_xcalloc((size_t)n, sizeof *v) : NULL;

	for (int i = 0; i < n; i++) {
		size_t l = params[i] ? (lens ? lens[i] : strlen(params[i])) : 0;
		ss_my_val_text(&v[i], params[i], l);
		if (params[i] && !utf8_valid(params[i], l))
			v[i].type = MYSQL_TYPE_BLOB;
	}
	return v;
}

static int my_exec(struct ss_conn *c, const char *sql, int nparams, const char *const *params,
		   const size_t *lens, struct ss_err *err)
{
	struct my_val *v;
	int rc;

	if (nparams == 0)
		return ss_my_exec_text(c, sql, err);
	v = text_vals(nparams, params, lens);
	rc = ss_my_query_typed(c, sql, v, nparams, NULL, NULL, err);
	free(v);
	return rc;
}

static int my_query(struct ss_conn *c, const char *sql, int nparams, const char *const *params,
		    const size_t *lens, ss_row_cb cb, void *arg, struct ss_err *err)
{
	struct my_val *v = text_vals(nparams, params, lens);
	int rc = ss_my_query_typed(c, sql, v, nparams, cb, arg, err);

	free(v);
	return rc;
}

static int my_begin(struct ss_conn *c, struct ss_err *err)
{
	if (ss_my_exec_text(c, "START TRANSACTION", err) < 0)
		return -1;
	MYC(c)->in_txn = 1;
	return 0;
}

static int my_commit(struct ss_conn *c, struct ss_err *err)
{
	MYC(c)->in_txn = 0;
	return ss_my_exec_text(c, "COMMIT", err);
}

static int my_rollback(struct ss_conn *c, struct ss_err *err)
{
	if (!MYC(c)->in_txn)
		return 0;
	MYC(c)->in_txn = 0;
	return ss_my_exec_text(c, "ROLLBACK", err);
}

/* ---- scripts --------------------------------------------------------------- */

/* The next statement of a script, split the way the mariadb client splits:
 * at the current delimiter outside quotes and comments, with a line
 * "DELIMITER x" (before any code of a statement) changing the delimiter.
 * Comments before a statement's code are left out.  Returns 1 with the
 * statement in out, 0 at the end of the script. */
static int script_next(const char *start, const char **pp, struct ss_buf *delim, struct ss_buf *out)
{
	const char *p = *pp;
	int code = 0;

	ss_buf_reset(out);
	while (*p) {
		if (!code && (p == start || p[-1] == '\n') && strncasecmp(p, "delimiter", 9) == 0 &&
		    (p[9] == ' ' || p[9] == '\t')) {
			p += 9;
			while (*p == ' ' || *p == '\t')
				p++;
			ss_buf_reset(delim);
			while (*p && !isspace((unsigned char)*p))
				ss_buf_addc(delim, *p++);
			while (*p && *p != '\n')
				p++;
			if (delim->len == 0)
				ss_buf_addc(delim, ';');
			continue;
		}
		char ch = *p;
		if (ch == '\'' || ch == '"' || ch == '`') {
			ss_buf_addc(out, *p++);
			while (*p) {
				if (*p == '\\' && ch != '`' && p[1]) {
					ss_buf_add(out, p, 2);
					p += 2;
					continue;
				}
				if (*p == ch && p[1] == ch) {
					ss_buf_add(out, p, 2);
					p += 2;
					continue;
				}
				if (*p == ch)
					break;
				ss_buf_addc(out, *p++);
			}
			if (*p)
				ss_buf_addc(out, *p++);
			code = 1;
			continue;
		}
		if (ch == '#' ||
		    (ch == '-' && p[1] == '-' && (p[2] == '\0' || isspace((unsigned char)p[2])))) {
			while (*p && *p != '\n') {
				if (code)
					ss_buf_addc(out, *p);
				p++;
			}
			continue;
		}
		if (ch == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			const char *stop = e ? e + 2 : p + strlen(p);
			if (code)
				ss_buf_add(out, p, (size_t)(stop - p));
			p = stop;
			continue;
		}
		if (strncmp(p, delim->data, delim->len) == 0) {
			p += delim->len;
			if (code) {
				*pp = p;
				return 1;
			}
			continue;
		}
		if (!isspace((unsigned char)ch))
			code = 1;
		if (code)
			ss_buf_addc(out, ch);
		p++;
	}
	*pp = p;
	return code;
}

int ss_my_run_statements(struct ss_conn *c, const char *sql, struct ss_err *err)
{
	struct ss_buf delim, stmt;
	const char *p = sql;
	int rc = 0;

	ss_buf_init(&delim);
	ss_buf_init(&stmt);
	ss_buf_addc(&delim, ';');
	while (script_next(sql, &p, &delim, &stmt))
		if (ss_my_exec_text(c, stmt.data, err) < 0) {
			rc = -1;
			break;
		}
	ss_buf_free(&delim);
	ss_buf_free(&stmt);
	return rc;
}

/* The shadowsync objects on the server: "T<schema>\x01<trigger>",
 * "B<table>" (in the shadowsync database), "S" (the database itself). */
struct objset {
	char **v;
	int n;
};

static int objset_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct objset *s = arg;
	struct ss_buf b;

	(void)n;
	(void)l;
	(void)err;
	ss_buf_init(&b);
	ss_buf_addf(&b, "%s%s\x01%s", v[0], v[1] ? v[1] : "", v[2] ? v[2] : "");
	s->v = ss_xrealloc(s->v, sizeof *s->v * (size_t)(s->n + 1));
	s->v[s->n++] = ss_buf_steal(&b);
	return 0;
}

static int objset_read(struct ss_conn *c, struct objset *s, struct ss_err *err)
{
	memset(s, 0, sizeof *s);
	return ss_my_query_typed(
		c,
		"SELECT 'T', TRIGGER_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS"
		" WHERE TRIGGER_NAME LIKE 'shadowsync\\_%'"
		" UNION ALL SELECT 'B', '', TABLE_NAME FROM information_schema.TABLES"
		" WHERE TABLE_SCHEMA = 'shadowsync'"
		" UNION ALL SELECT 'S', '', '' FROM information_schema.SCHEMATA"
		" WHERE SCHEMA_NAME = 'shadowsync'",
		NULL, 0, objset_row, s, err);
}

static int objset_has(const struct objset *s, const char *o)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->v[i], o) == 0)
			return 1;
	return 0;
}

/* Drop what appeared since `before`: triggers, then tables, then the
 * database if it is new and empty.  Returns how many objects went. */
static int undo_created(struct ss_conn *c, const struct objset *before)
{
	struct objset now;
	struct ss_err e2;
	int dropped = 0;

	if (objset_read(c, &now, &e2) < 0) {
		ss_log_error(c->db->name, "cannot list what the failed script created: %s", e2.msg);
		return 0;
	}
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < now.n; i++) {
			const char *o = now.v[i];
			const char kind = "TBS"[pass];
			struct ss_buf sql;
			if (o[0] != kind || objset_has(before, o))
				continue;
			ss_buf_init(&sql);
			const char *sep = strchr(o, '\x01');
			char *schema = ss_xstrndup(o + 1, (size_t)(sep - o - 1));
			if (kind == 'T') {
				ss_buf_adds(&sql, "DROP TRIGGER IF EXISTS ");
				ss_tableinfo_qname(&ss_dialect_mariadb, schema, sep + 1, &sql);
			} else if (kind == 'B') {
				ss_buf_adds(&sql, "DROP TABLE IF EXISTS `shadowsync`.");
				ss_my_quote_ident(&sql, sep + 1);
			} else {
				ss_buf_adds(&sql,
					    "SET @shadowsync_tables = (SELECT COUNT(*) FROM"
					    " information_schema.TABLES WHERE TABLE_SCHEMA = "
					    "'shadowsync');"
					    "\nEXECUTE IMMEDIATE IF(@shadowsync_tables = 0,"
					    " 'DROP DATABASE IF EXISTS `shadowsync`', 'DO 0');\n");
			}
			free(schema);
			if (ss_my_run_statements(c, sql.data, &e2) < 0)
				ss_log_error(c->db->name, "undoing the failed script: %s", e2.msg);
			else
				dropped++;
			ss_buf_free(&sql);
		}
	}
	ss_strv_free(now.v, now.n);
	return dropped;
}

/* MariaDB commits every DDL statement on its own.  To keep install all or
 * nothing as far as that allows, the script runs under a named lock (one
 * install or uninstall per server at a time) and, when a statement fails,
 * the shadowsync objects that appeared during the run are dropped again. */
static int my_exec_script(struct ss_conn *c, const char *sql, struct ss_err *err)
{
	struct objset before;
	char *got = NULL;
	int rc = -1;

	if (ss_my_query_typed(c, "SELECT GET_LOCK('shadowsync.install', 60)", NULL, 0,
			      ss_my_first_text_cb, &got, err) < 0)
		return -1;
	if (!got || strcmp(got, "1") != 0) {
		ss_err_set(err,
			   "database %s: another shadowsync install or uninstall holds lock "
			   "shadowsync.install; try again when it is done",
			   c->db->name);
		free(got);
		return -1;
	}
	free(got);
	if (objset_read(c, &before, err) < 0)
		goto unlock;
	rc = ss_my_run_statements(c, sql, err);
	if (rc < 0 && mysql_errno(MY(c)) != 2006 && mysql_errno(MY(c)) != 2013) {
		int n = undo_created(c, &before);
		if (n > 0)
			ss_err_prefix(err,
				      "nothing installed (%d object%s this run had created %s "
				      "dropped again)",
				      n, n == 1 ? "" : "s", n == 1 ? "was" : "were");
	}
	ss_strv_free(before.v, before.n);
unlock:
	if (ss_my_exec_text(c, "DO RELEASE_LOCK('shadowsync.install')", rc == 0 ? err : NULL) < 0)
		rc = -1;
	/* the script may have changed session settings; put ours back */
	if (rc == 0)
		rc = ss_my_exec_text(c, "SET SESSION sql_mode = '" MY_SQL_MODE "'", err);
	return rc;
}

/* ---- catalog --------------------------------------------------------------- */

static const char *my_default_schema(struct ss_conn *c)
{
	return MYC(c)->dbname;
}

const struct ss_dialect ss_dialect_mariadb = {
	.name = "mariadb",
	.connect = my_connect,
	.disconnect = my_disconnect,
	.exec = my_exec,
	.exec_script = my_exec_script,
	.query = my_query,
	.begin = my_begin,
	.commit = my_commit,
	.rollback = my_rollback,
	.now_us = ss_my_now_us,
	.default_schema = my_default_schema,
	.table_info = ss_my_table_info,
	.list_tables = ss_my_list_tables,
	.quote_ident = ss_my_quote_ident,
	.capture_install_sql = ss_my_capture_install_sql,
	.capture_uninstall_sql = ss_my_capture_uninstall_sql,
	.capture_listen = ss_my_capture_listen,
	.capture_drain = ss_my_capture_drain,
	.capture_fetch = ss_my_capture_fetch,
	.capture_txn_more = NULL, /* MariaDB exposes no cheap transaction id */
	.capture_delete = ss_my_capture_delete,
	.apply_prepare = ss_my_apply_prepare,
	.apply_upsert = ss_my_apply_upsert,
	.apply_delete = ss_my_apply_delete,
	.position_get = ss_mariadb_position_get, /* dialects/lease.c */
	.position_set = ss_mariadb_position_set,
	.upsert_sql = ss_my_upsert_sql,
	.delete_sql = ss_my_delete_sql,
	.check = &ss_mariadb_check_ops,
	.poll = &ss_mariadb_poll_ops,
	.lease = &ss_mariadb_lease_ops,
};
