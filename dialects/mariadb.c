/*
 * mariadb.c -- the MariaDB (and MySQL) dialect, on MariaDB Connector/C.
 *
 * Owns: connections (sessions pinned to UTC, utf8mb4 and a strict sql_mode),
 * statements with bound parameters through the prepared-statement protocol
 * (row streaming, values handed on as text, FLOAT/DOUBLE formatted as the
 * shortest text that reads back to the same value), scripts split on a
 * DELIMITER the way the mariadb client does, catalog introspection from
 * information_schema (a MariaDB schema is a database), backtick quoting, the
 * trigger capture (templates in ddl/mariadb/, one log table per job in the
 * `shadowsync` database, polled: MariaDB has no notifications), and applying
 * batches: multi-row INSERT ... ON DUPLICATE KEY UPDATE and DELETE by key,
 * chunked under max_allowed_packet and the 65535-placeholder limit.
 *
 * Leaves to others: which changes to apply and when (replicator/), turning
 * row images into the journal form (change.c), and the type table the user
 * reads (doc/types.md, kept in step with my_vtype and ss_my_image_expr below).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check_ops.h"
#include "dialect.h"
#include "mariadb_int.h"
#include "log.h"

#define MY_SQL_MODE                                                                  \
	"STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO," \
	"NO_ENGINE_SUBSTITUTION"
#define MY_MAX_ROWS 1000      /* rows per INSERT / DELETE statement */
#define MY_MAX_PARAMS 65535   /* placeholders per statement (protocol limit) */
#define MY_PACKET_MARGIN 4096 /* execute-packet bytes beyond the values */
#define MY_JOB_MAX 32         /* trigger names: 64 characters at most */
#define MY_STMT_CACHE 8
#define MY_TRIGGER_CHECK_US (10 * 1000000LL) /* capture triggers re-checked */

struct my_stmt_cache {
	char *sql;
	MYSQL_STMT *st;
};

struct my_conn {
	struct ss_conn base;
	MYSQL *my;
	char *dbname; /* the default schema; "" when none */
	int in_txn;
	unsigned long server_packet;               /* @@max_allowed_packet; 0 until read */
	struct my_stmt_cache cache[MY_STMT_CACHE]; /* apply statements, by SQL text */
	int cache_next;
	int64_t trig_check_us; /* last check of the capture triggers (mono) */
};

#define MYC(c) ((struct my_conn *)(c))
#define MY(c) (MYC(c)->my)

/* A bound parameter.  data == NULL is SQL NULL (for every type). */
struct my_val {
	enum enum_field_types type; /* STRING, BLOB, NEWDECIMAL or LONGLONG */
	const char *data;
	unsigned long len;
	long long ll;
	my_bool is_null;
	my_bool is_unsigned;
};

/* ---- quoting ------------------------------------------------------------- */

static void my_quote_ident(struct ss_buf *out, const char *ident)
{
	ss_buf_addc(out, '`');
	for (const char *p = ident; *p; p++) {
		if (*p == '`')
			ss_buf_addc(out, '`');
		ss_buf_addc(out, *p);
	}
	ss_buf_addc(out, '`');
}

/* A string literal that reads the same whatever NO_BACKSLASH_ESCAPES says:
 * quotes doubled, and text holding a backslash or a control character
 * written as a hex literal instead. */
static void my_quote_literal(struct ss_buf *out, const char *s)
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
	ss_buf_addc(out, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			ss_buf_addc(out, '\'');
		ss_buf_addc(out, *p);
	}
	ss_buf_addc(out, '\'');
}

/* Text for a "-- " comment line: control characters (a newline in a table
 * name would end the comment) become '?'. */
static void comment_text(struct ss_buf *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		ss_buf_addc(out, *p < 0x20 || *p == 0x7f ? '?' : (char)*p);
}

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
			goto bad;
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
				goto bad;
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
			goto bad;
		}
		free(*slot);
		*slot = val.data ? ss_buf_steal(&val) : ss_xstrdup("");
		ss_buf_free(&key);
		ss_buf_free(&val);
		continue;
bad:
		ss_buf_free(&key);
		ss_buf_free(&val);
		dsn_free(d);
		return -1;
	}
}

/* One statement over the text protocol; any result is read and dropped. */
static int my_exec_text(struct ss_conn *c, const char *sql, struct ss_err *err)
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
static int my_query_typed(struct ss_conn *c, const char *sql, struct my_val *v, int n, ss_row_cb cb,
			  void *arg, struct ss_err *err);

static int first_text_cb(void *arg, int n, const char *const *v, const size_t *l,
			 struct ss_err *err)
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
		if (my_exec_text(&c->base, session[i], err) < 0)
			goto fail;
	if (d.dbname && *d.dbname) {
		c->dbname = ss_xstrdup(d.dbname);
	} else {
		if (my_query_typed(&c->base, "SELECT DATABASE()", NULL, 0, first_text_cb,
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

static void val_text(struct my_val *v, const char *s, size_t len)
{
	memset(v, 0, sizeof *v);
	v->type = MYSQL_TYPE_STRING;
	v->data = s;
	v->len = (unsigned long)len;
	v->is_null = s == NULL;
}

static void val_u64(struct my_val *v, uint64_t x)
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

static int my_query_typed(struct ss_conn *c, const char *sql, struct my_val *v, int n, ss_row_cb cb,
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
static int my_exec_cached(struct ss_conn *c, const char *sql, size_t len, struct my_val *v, int n,
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
		val_text(&v[i], params[i], l);
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
		return my_exec_text(c, sql, err);
	v = text_vals(nparams, params, lens);
	rc = my_query_typed(c, sql, v, nparams, NULL, NULL, err);
	free(v);
	return rc;
}

static int my_query(struct ss_conn *c, const char *sql, int nparams, const char *const *params,
		    const size_t *lens, ss_row_cb cb, void *arg, struct ss_err *err)
{
	struct my_val *v = text_vals(nparams, params, lens);
	int rc = my_query_typed(c, sql, v, nparams, cb, arg, err);

	free(v);
	return rc;
}

static int my_begin(struct ss_conn *c, struct ss_err *err)
{
	if (my_exec_text(c, "START TRANSACTION", err) < 0)
		return -1;
	MYC(c)->in_txn = 1;
	return 0;
}

static int my_commit(struct ss_conn *c, struct ss_err *err)
{
	MYC(c)->in_txn = 0;
	return my_exec_text(c, "COMMIT", err);
}

static int my_rollback(struct ss_conn *c, struct ss_err *err)
{
	if (!MYC(c)->in_txn)
		return 0;
	MYC(c)->in_txn = 0;
	return my_exec_text(c, "ROLLBACK", err);
}

static int my_now_us(struct ss_conn *c, int64_t *us, struct ss_err *err)
{
	char *v = NULL;

	if (my_query_typed(c,
			   "SELECT TIMESTAMPDIFF(MICROSECOND, TIMESTAMP'1970-01-01 00:00:00',"
			   " UTC_TIMESTAMP(6))",
			   NULL, 0, first_text_cb, &v, err) < 0)
		return -1;
	*us = v ? strtoll(v, NULL, 10) : 0;
	free(v);
	return 0;
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

static int run_statements(struct ss_conn *c, const char *sql, struct ss_err *err)
{
	struct ss_buf delim, stmt;
	const char *p = sql;
	int rc = 0;

	ss_buf_init(&delim);
	ss_buf_init(&stmt);
	ss_buf_addc(&delim, ';');
	while (script_next(sql, &p, &delim, &stmt))
		if (my_exec_text(c, stmt.data, err) < 0) {
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
	return my_query_typed(
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
				my_quote_ident(&sql, sep + 1);
			} else {
				ss_buf_adds(&sql,
					    "SET @shadowsync_tables = (SELECT COUNT(*) FROM"
					    " information_schema.TABLES WHERE TABLE_SCHEMA = "
					    "'shadowsync');"
					    "\nEXECUTE IMMEDIATE IF(@shadowsync_tables = 0,"
					    " 'DROP DATABASE IF EXISTS `shadowsync`', 'DO 0');\n");
			}
			free(schema);
			if (run_statements(c, sql.data, &e2) < 0)
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

	if (my_query_typed(c, "SELECT GET_LOCK('shadowsync.install', 60)", NULL, 0, first_text_cb,
			   &got, err) < 0)
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
	rc = run_statements(c, sql, err);
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
	if (my_exec_text(c, "DO RELEASE_LOCK('shadowsync.install')", rc == 0 ? err : NULL) < 0)
		rc = -1;
	/* the script may have changed session settings; put ours back */
	if (rc == 0)
		rc = my_exec_text(c, "SET SESSION sql_mode = '" MY_SQL_MODE "'", err);
	return rc;
}

/* ---- catalog --------------------------------------------------------------- */

static const char *my_default_schema(struct ss_conn *c)
{
	return MYC(c)->dbname;
}

int ss_my_type_is(const char *type, const char *name)
{
	size_t n = strlen(name);

	return strncmp(type, name, n) == 0 && !isalnum((unsigned char)type[n]) && type[n] != '_';
}

static int is_text_type(const char *t)
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
	if (is_json && is_text_type(data_type))
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
	if (n < 10 || strcmp(v[0], s->schema) != 0 || strcmp(v[1], s->name) != 0)
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
	col->pk_pos = v[9] ? atoi(v[9]) : 0;
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
static int my_table_info(struct ss_conn *c, const char *schema, const char *name,
			 struct ss_tableinfo *out, struct ss_err *err)
{
	static const char cols_sql[] =
		"SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.DATA_TYPE,"
		"       c.IS_NULLABLE, c.NUMERIC_PRECISION, c.NUMERIC_SCALE, c.DATETIME_PRECISION,"
		"       (SELECT MIN(s.SEQ_IN_INDEX) FROM information_schema.STATISTICS s"
		"         WHERE s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = c.TABLE_NAME"
		"           AND BINARY s.TABLE_NAME = BINARY c.TABLE_NAME"
		"           AND s.INDEX_NAME = 'PRIMARY' AND s.COLUMN_NAME = c.COLUMN_NAME)"
		"  FROM information_schema.COLUMNS c"
		" WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? AND c.IS_GENERATED = 'NEVER'"
		" ORDER BY c.ORDINAL_POSITION";
	struct ti_state st;
	struct my_val v[2];
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (!*schema) {
		ss_err_set(err,
			   "database %s: no database named for table %s: write it as "
			   "database.table, or give dbname in the dsn",
			   c->db->name, name);
		return -1;
	}
	memset(&st, 0, sizeof st);
	st.schema = schema;
	st.name = name;
	st.t = out;
	val_text(&v[0], schema, strlen(schema));
	val_text(&v[1], name, strlen(name));
	if (my_query_typed(
		    c,
		    "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES"
		    " WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		    v, 2, table_type_row, &st, err) < 0)
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
	if (my_query_typed(
		    c,
		    "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS"
		    " WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?",
		    v, 2, json_check_row, &st, err) < 0)
		goto done;
	if (my_query_typed(c, cols_sql, v, 2, ti_row, &st, err) < 0)
		goto done;
	if (out->ncols == 0) {
		ss_err_set(err, "database %s: table %s.%s has no columns shadowsync can read",
			   c->db->name, schema, name);
		goto done;
	}
	out->schema = ss_xstrdup(schema);
	out->name = ss_xstrdup(name);
	ss_tableinfo_finish_pk(out);
	rc = 0;
done:
	if (rc < 0)
		ss_tableinfo_free(out);
	ss_strv_free(st.json_cols, st.njson);
	free(st.table_type);
	return rc;
}

static int my_list_tables(struct ss_conn *c, const char *schema_pat, const char *name_pat,
			  char ***schemas, char ***names, int *n, struct ss_err *err)
{
	struct ss_table_list s = {schema_pat ? schema_pat : MYC(c)->dbname, name_pat, NULL, NULL,
				  0};
	struct ss_buf sql;
	struct my_val v[1];
	int nv = 0, r;

	ss_buf_init(&sql);
	ss_buf_adds(&sql, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES"
			  " WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')"
			  "   AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema',"
			  "       'performance_schema', 'sys', 'shadowsync')");
	if (!strpbrk(s.schema_pat, "*?")) {
		ss_buf_adds(&sql, " AND TABLE_SCHEMA = ?");
		val_text(&v[nv++], s.schema_pat, strlen(s.schema_pat));
	}
	ss_buf_adds(&sql, " ORDER BY 1, 2");
	r = my_query_typed(c, sql.data, v, nv, ss_table_list_row, &s, err);
	ss_buf_free(&sql);
	return ss_table_list_finish(&s, r, schemas, names, n);
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
	my_quote_ident(out, b.data);
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
	my_quote_ident(&x, col->name);
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
		if (is_text_type(col->type))
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
		my_quote_literal(out, col->name);
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
		my_quote_ident(out, col);
		ss_buf_adds(out, " AS BINARY) <=> CAST(NEW.");
		my_quote_ident(out, col);
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

	val_text(&v[0], t->schema, strlen(t->schema));
	val_text(&v[1], t->name, strlen(t->name));
	if (my_query_typed(c,
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
	my_quote_literal(&slit, t->schema);
	my_quote_literal(&tlit, t->name);
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

static int my_capture_install_sql(struct ss_conn *c, const char *job,
				  const struct ss_tableinfo *tables, int n, struct ss_buf *out,
				  struct ss_err *err)
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
	my_quote_literal(&commentlit, comment.data);
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

static int my_capture_uninstall_sql(struct ss_conn *c, const char *job,
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
	val_text(&v[0], like.data, like.len);
	if (my_query_typed(c,
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
static int my_capture_listen(struct ss_conn *c, const char *job, struct ss_err *err)
{
	(void)c;
	(void)job;
	(void)err;
	return -1;
}

static int my_capture_drain(struct ss_conn *c, struct ss_err *err)
{
	(void)c;
	(void)err;
	return 0;
}

struct fetch_state {
	ss_shadow_cb cb;
	void *arg;
};

static int fetch_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct fetch_state *s = arg;
	struct ss_shadow_row r = {0};

	if (n < 8)
		return 0;
	r.id = strtoull(v[0], NULL, 10);
	r.txid = strtoull(v[1], NULL, 10);
	r.schema = v[2];
	r.table = v[3];
	r.op = v[4][0];
	r.key_image = v[5];
	r.key_len = l[5];
	r.row_image = v[6];
	r.row_len = v[6] ? l[6] : 0;
	r.captured_us = strtoll(v[7], NULL, 10);
	return s->cb(s->arg, &r, err);
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
	val_text(&v[0], like.data, like.len);
	if (my_query_typed(
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
			if (my_table_info(c, schema, table, &t, err) < 0)
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

static int my_capture_fetch(struct ss_conn *c, const char *job, int limit, ss_shadow_cb cb,
			    void *arg, struct ss_err *err)
{
	struct ss_buf sql;
	struct fetch_state st = {cb, arg};
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
	val_u64(&v[0], (uint64_t)(limit > 0 ? limit : 1));
	r = my_query_typed(c, sql.data, v, 1, fetch_row, &st, err);
	if (r < 0 && strcmp(err->sqlstate, "42S02") == 0)
		ss_err_prefix(err, "capture for job %s is not installed (run shadowsync install)",
			      job);
	ss_buf_free(&sql);
	return r;
}

static int my_capture_delete(struct ss_conn *c, const char *job, const uint64_t *ids, int n,
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
			val_u64(&v[k], ids[i + k]);
		}
		ss_buf_addc(&sql, ')');
		rc = my_exec_cached(c, sql.data, sql.len, v, m, err);
	}
	ss_buf_free(&sql);
	free(v);
	return rc;
}

/* ---- apply ----------------------------------------------------------------- */

static int my_apply_prepare(struct ss_conn *c, struct ss_err *err)
{
	static const char *const session[] = {
		"SET SESSION foreign_key_checks = 0",
		"SET SESSION unique_checks = 1",
		"SET SESSION sql_mode = '" MY_SQL_MODE "'",
		NULL,
	};
	char *v = NULL;

	for (int i = 0; session[i]; i++)
		if (my_exec_text(c, session[i], err) < 0)
			return -1;
	if (run_statements(c, ss_ddl_get("mariadb/position.sql"), err) < 0)
		return -1;
	if (my_query_typed(c, "SELECT @@max_allowed_packet", NULL, 0, first_text_cb, &v, err) < 0)
		return -1;
	MYC(c)->server_packet = v ? strtoul(v, NULL, 10) : 0;
	free(v);
	return 0;
}

/* How a target column compares and takes values, from its catalog type. */
enum my_kind { K_STR, K_INT, K_DEC, K_FLOAT, K_BIN, K_TEMPORAL };

static enum my_kind col_kind(const struct ss_colinfo *col)
{
	switch (col->vtype) {
	case SS_V_INT:
	case SS_V_BOOL: return K_INT;
	case SS_V_NUMERIC: return K_DEC;
	case SS_V_FLOAT: return K_FLOAT;
	case SS_V_BINARY: return K_BIN;
	case SS_V_DATE:
	case SS_V_TIME:
	case SS_V_TIMESTAMP:
	case SS_V_TIMESTAMPTZ: return K_TEMPORAL;
	default: return K_STR;
	}
}

static int word_is(const struct ss_field *f, const char *w)
{
	return f->len == strlen(w) && strncasecmp(f->data, w, f->len) == 0;
}

static int non_finite(const struct ss_field *f)
{
	static const char *const words[] = {"nan", "infinity", "-infinity", "+infinity",
					    "inf", "-inf",     "+inf",      NULL};
	for (int i = 0; words[i]; i++)
		if (word_is(f, words[i]))
			return 1;
	return 0;
}

/* "(k1, k2)=(v1, v2)" for messages. */
static void key_text(const struct ss_tableinfo *t, const struct ss_change *ch, struct ss_buf *out)
{
	ss_buf_addc(out, '(');
	for (int k = 0; k < t->npk; k++)
		ss_buf_addf(out, "%s%s", k ? ", " : "", t->cols[t->pk[k]].name);
	ss_buf_adds(out, ")=(");
	for (int k = 0; k < t->npk; k++) {
		const struct ss_field *f =
			ss_change_field(ch->key, ch->nkey, t->cols[t->pk[k]].name);
		if (k)
			ss_buf_adds(out, ", ");
		if (!f || f->is_null)
			ss_buf_adds(out, "NULL");
		else if (f->type == SS_V_BINARY) {
			ss_buf_adds(out, "\\x");
			ss_hex_encode((const uint8_t *)f->data, f->len > 32 ? 32 : f->len, out);
		} else
			ss_buf_addf(out, "%.*s", (int)(f->len > 100 ? 100 : f->len), f->data);
	}
	ss_buf_addc(out, ')');
}

/* A journal value as a parameter for a target column (doc/types.md):
 * integers bound as integers and decimals as decimals (so comparisons are
 * exact, not in floating point), bytes as a binary string, timestamps with
 * zone as UTC without it (the session is UTC); NaN and infinities, which
 * MariaDB cannot store, are an error naming table, column and key. */
static int bind_value(struct ss_conn *c, const struct ss_tableinfo *t, const struct ss_colinfo *col,
		      const struct ss_field *f, const struct ss_change *ch, struct my_val *v,
		      struct ss_err *err)
{
	enum my_kind kind = col_kind(col);
	const char *what = NULL;

	if (!f || f->is_null) {
		val_text(v, NULL, 0);
		return 0;
	}
	val_text(v, f->data ? f->data : "", f->len);
	if (f->type == SS_V_BINARY || kind == K_BIN) {
		v->type = MYSQL_TYPE_BLOB;
		return 0;
	}
	switch (kind) {
	case K_INT: {
		char tmp[24], *end;
		if (f->len == 0 || f->len >= sizeof tmp)
			return 0;
		memcpy(tmp, f->data, f->len);
		tmp[f->len] = '\0';
		errno = 0;
		if (tmp[0] == '-') {
			long long x = strtoll(tmp, &end, 10);
			if (errno || *end || !isdigit((unsigned char)tmp[1]))
				return 0; /* not an integer: the server says what is wrong */
			v->ll = x;
		} else {
			unsigned long long x = strtoull(tmp, &end, 10);
			if (errno || *end || !isdigit((unsigned char)tmp[0]))
				return 0;
			v->ll = (long long)x;
			v->is_unsigned = x > (unsigned long long)INT64_MAX;
		}
		v->type = MYSQL_TYPE_LONGLONG;
		return 0;
	}
	case K_DEC:
		if (non_finite(f))
			what = "DECIMAL holds no NaN or Infinity";
		v->type = MYSQL_TYPE_NEWDECIMAL;
		break;
	case K_FLOAT:
		if (non_finite(f))
			what = "FLOAT and DOUBLE hold no NaN or Infinity";
		break;
	case K_TEMPORAL:
		if (word_is(f, "infinity") || word_is(f, "-infinity"))
			what = "dates and times hold no infinity";
		else if (f->type == SS_V_TIMESTAMPTZ && f->len > 3 &&
			 memcmp(f->data + f->len - 3, "+00", 3) == 0)
			v->len -= 3; /* UTC, and so is the session */
		break;
	default: break;
	}
	if (what) {
		struct ss_buf k;
		ss_buf_init(&k);
		key_text(t, ch, &k);
		ss_err_set(err,
			   "database %s: table %s.%s column %s: value %.*s cannot be stored in "
			   "MariaDB (%s); key %s",
			   c->db->name, t->schema, t->name, col->name, (int)f->len, f->data, what,
			   k.data);
		ss_buf_free(&k);
		return -1;
	}
	return 0;
}

static void my_upsert_sql(const struct ss_tableinfo *t, const int *cols, int ncols, int nrows,
			  struct ss_buf *out)
{
	ss_buf_adds(out, "INSERT INTO ");
	ss_tableinfo_qname(&ss_dialect_mariadb, t->schema, t->name, out);
	ss_buf_adds(out, " (");
	for (int i = 0; i < ncols; i++) {
		if (i)
			ss_buf_adds(out, ", ");
		my_quote_ident(out, t->cols[cols[i]].name);
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
		my_quote_ident(out, name);
		ss_buf_adds(out, " = IF(");
		my_quote_ident(out, name);
		ss_buf_adds(out, " <=> VALUES(");
		my_quote_ident(out, name);
		ss_buf_adds(out, "), ");
		my_quote_ident(out, name);
		ss_buf_adds(out, ", NULL)");
	}
	for (int i = 0; i < ncols; i++) {
		if (t->cols[cols[i]].pk_pos)
			continue;
		ss_buf_adds(out, ", ");
		my_quote_ident(out, t->cols[cols[i]].name);
		ss_buf_adds(out, " = VALUES(");
		my_quote_ident(out, t->cols[cols[i]].name);
		ss_buf_addc(out, ')');
	}
}

static void my_delete_sql(const struct ss_tableinfo *t, int nrows, struct ss_buf *out)
{
	ss_buf_adds(out, "DELETE FROM ");
	ss_tableinfo_qname(&ss_dialect_mariadb, t->schema, t->name, out);
	ss_buf_adds(out, " WHERE ");
	if (t->npk == 1) {
		my_quote_ident(out, t->cols[t->pk[0]].name);
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
			my_quote_ident(out, t->cols[t->pk[k]].name);
			ss_buf_adds(out, " = ?");
		}
		ss_buf_addc(out, ')');
	}
}

/* Bytes a row adds to the execute packet (values plus length prefixes,
 * type codes and null bits). */
static size_t row_bytes(const struct ss_apply_batch *b, int r, int del)
{
	const struct ss_tableinfo *t = b->target;
	const struct ss_change *ch = b->changes[r];
	int n = del ? t->npk : b->ncols;
	size_t bytes = 0;

	for (int i = 0; i < n; i++) {
		const char *name = del ? t->cols[t->pk[i]].name : t->cols[b->cols[i]].name;
		const struct ss_field *f = del ? ss_change_field(ch->key, ch->nkey, name) :
						 ss_change_field(ch->row, ch->nrow, name);
		bytes += 12 + (f && !f->is_null ? f->len : 0);
	}
	return bytes;
}

/* "... at row 3" in a server message: which row of the statement. */
static int message_row(const char *msg)
{
	const char *p = NULL, *q = msg;

	while ((q = strstr(q, " at row ")) != NULL)
		p = q++;
	return p ? atoi(p + 8) : 0;
}

static int apply_rows(struct ss_conn *c, const struct ss_apply_batch *b, int del,
		      struct ss_err *err)
{
	const struct ss_tableinfo *t = b->target;
	int per_row = del ? t->npk : b->ncols;
	int max_rows = MY_MAX_PARAMS / (per_row ? per_row : 1);
	unsigned long packet = MYC(c)->server_packet ? MYC(c)->server_packet : 16UL << 20;
	size_t budget = packet > 2 * MY_PACKET_MARGIN ? packet - MY_PACKET_MARGIN : packet / 2;
	struct ss_buf sql;
	struct my_val *v = NULL;
	int rc = 0;

	if (max_rows > MY_MAX_ROWS)
		max_rows = MY_MAX_ROWS;
	if (max_rows < 1) {
		ss_err_set(err, "database %s: table %s.%s has more than %d columns", c->db->name,
			   t->schema, t->name, MY_MAX_PARAMS);
		return -1;
	}
	ss_buf_init(&sql);
	for (int i = 0; i < b->n && rc == 0;) {
		size_t bytes = 0;
		int j = i;
		while (j < b->n && j - i < max_rows) {
			size_t rb = row_bytes(b, j, del);
			if (j == i && rb > budget) {
				struct ss_buf k;
				ss_buf_init(&k);
				key_text(t, b->changes[j], &k);
				ss_err_set(
					err,
					"database %s: table %s.%s: the row with key %s needs %zu "
					"bytes, more than max_allowed_packet (%lu) allows; raise "
					"max_allowed_packet on that server",
					c->db->name, t->schema, t->name, k.data, rb, packet);
				ss_buf_free(&k);
				rc = -1;
				break;
			}
			if (bytes + rb > budget)
				break;
			bytes += rb;
			j++;
		}
		if (rc < 0)
			break;
		int m = j - i;
		v = ss_xrealloc(v, sizeof *v * (size_t)(m * per_row));
		for (int r = 0; r < m && rc == 0; r++) {
			const struct ss_change *ch = b->changes[i + r];
			for (int k = 0; k < per_row && rc == 0; k++) {
				const struct ss_colinfo *col =
					del ? &t->cols[t->pk[k]] : &t->cols[b->cols[k]];
				const struct ss_field *f =
					del ? ss_change_field(ch->key, ch->nkey, col->name) :
					      ss_change_field(ch->row, ch->nrow, col->name);
				rc = bind_value(c, t, col, f, ch, &v[r * per_row + k], err);
			}
		}
		if (rc < 0)
			break;
		ss_buf_reset(&sql);
		if (del)
			my_delete_sql(t, m, &sql);
		else
			my_upsert_sql(t, b->cols, b->ncols, m, &sql);
		rc = my_exec_cached(c, sql.data, sql.len, v, m * per_row, err);
		if (rc < 0 && !del && strcmp(err->sqlstate, "23000") == 0 &&
		    strstr(err->msg, "cannot be null")) {
			for (int k = 0; k < t->npk; k++) {
				char col[300];
				snprintf(col, sizeof col, "Column '%s' cannot be null",
					 t->cols[t->pk[k]].name);
				if (strstr(err->msg, col)) {
					ss_err_prefix(
						err,
						"a row with another primary key already holds "
						"a value of a unique key of these rows: the target "
						"has drifted from the source");
					break;
				}
			}
		}
		if (rc < 0) {
			int row = message_row(err->msg);
			struct ss_buf k;
			ss_buf_init(&k);
			if (row >= 1 && row <= m) {
				key_text(t, b->changes[i + row - 1], &k);
				ss_err_prefix(err, "table %s.%s, row with key %s", t->schema,
					      t->name, k.data);
			} else {
				ss_err_prefix(err, "table %s.%s", t->schema, t->name);
			}
			ss_buf_free(&k);
		}
		i = j;
	}
	ss_buf_free(&sql);
	free(v);
	return rc;
}

static int my_apply_upsert(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err)
{
	return apply_rows(c, b, 0, err);
}

static int my_apply_delete(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err)
{
	return apply_rows(c, b, 1, err);
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
	.now_us = my_now_us,
	.default_schema = my_default_schema,
	.table_info = my_table_info,
	.list_tables = my_list_tables,
	.quote_ident = my_quote_ident,
	.capture_install_sql = my_capture_install_sql,
	.capture_uninstall_sql = my_capture_uninstall_sql,
	.capture_listen = my_capture_listen,
	.capture_drain = my_capture_drain,
	.capture_fetch = my_capture_fetch,
	.capture_txn_more = NULL, /* MariaDB exposes no cheap transaction id */
	.capture_delete = my_capture_delete,
	.apply_prepare = my_apply_prepare,
	.apply_upsert = my_apply_upsert,
	.apply_delete = my_apply_delete,
	.position_get = ss_mariadb_position_get, /* dialects/lease.c */
	.position_set = ss_mariadb_position_set,
	.upsert_sql = my_upsert_sql,
	.delete_sql = my_delete_sql,
	.check = &ss_mariadb_check_ops,
	.poll = &ss_mariadb_poll_ops,
	.lease = &ss_mariadb_lease_ops,
};
