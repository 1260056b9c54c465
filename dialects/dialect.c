/*
 * dialect.c -- the helper library the dialects share: the compiled-in DDL
 * templates, table-info helpers, standard SQL quoting and column lists,
 * placeholders, collecting catalog rows that match patterns, the
 * shadow-row decoder (engine.h), which database a connection reaches, the
 * timestamp-poll helpers, and small wrappers over the dialect table.
 *
 * Nothing here knows any one database's syntax (that is in the engines'
 * *_sql.c files and the transports), and nothing here picks a dialect
 * (registry.c does).
 */
#include "dialect.h"
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

struct ss_ddl_file {
	const char *name;
	const char *text;
};
extern const struct ss_ddl_file ss_ddl_files[];

const char *ss_ddl_get(const char *name)
{
	for (int i = 0; ss_ddl_files[i].name; i++)
		if (strcmp(ss_ddl_files[i].name, name) == 0)
			return ss_ddl_files[i].text;
	return NULL;
}

int ss_ddl_expand(const char *tmpl, const char *const *kv, struct ss_buf *out, struct ss_err *err)
{
	const char *p = tmpl;

	while (*p) {
		const char *at = strchr(p, '@');
		if (!at) {
			ss_buf_adds(out, p);
			break;
		}
		ss_buf_add(out, p, (size_t)(at - p));
		const char *end = at + 1;
		while ((*end >= 'A' && *end <= 'Z') || *end == '_' || (*end >= '0' && *end <= '9'))
			end++;
		if (*end != '@' || end == at + 1) {
			ss_buf_addc(out, '@');
			p = at + 1;
			continue;
		}
		size_t tl = (size_t)(end - at - 1);
		const char *val = NULL;
		for (int i = 0; kv[i]; i += 2)
			if (strlen(kv[i]) == tl && memcmp(kv[i], at + 1, tl) == 0)
				val = kv[i + 1];
		if (!val) {
			ss_err_set(err, "DDL template: unknown token @%.*s@", (int)tl, at + 1);
			return -1;
		}
		ss_buf_adds(out, val);
		p = end + 1;
	}
	return 0;
}

void ss_ddl_table_tag(const char *job, const char *schema, const char *table, char out[17])
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 */
	const char *parts[3] = {job, schema, table};

	for (int i = 0; i < 3; i++) {
		for (const unsigned char *s = (const unsigned char *)parts[i]; *s; s++) {
			h ^= *s;
			h *= 1099511628211ULL;
		}
		h ^= 0xff;
		h *= 1099511628211ULL;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

void ss_tableinfo_free(struct ss_tableinfo *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->ncols; i++) {
		free(t->cols[i].name);
		free(t->cols[i].type);
	}
	free(t->cols);
	free(t->pk);
	free(t->schema);
	free(t->name);
	memset(t, 0, sizeof *t);
}

void ss_tableinfo_finish_pk(struct ss_tableinfo *t)
{
	int npk = 0;

	for (int i = 0; i < t->ncols; i++)
		if (t->cols[i].pk_pos > npk)
			npk = t->cols[i].pk_pos;
	free(t->pk);
	t->pk = ss_xcalloc((size_t)(npk ? npk : 1), sizeof *t->pk);
	t->npk = npk;
	for (int i = 0; i < t->ncols; i++)
		if (t->cols[i].pk_pos > 0)
			t->pk[t->cols[i].pk_pos - 1] = i;
}

void ss_tableinfo_finish(struct ss_tableinfo *t, const char *schema, const char *name)
{
	t->schema = ss_xstrdup(schema);
	t->name = ss_xstrdup(name);
	ss_tableinfo_finish_pk(t);
}

void ss_tableinfo_free_array(struct ss_tableinfo *t, int n)
{
	if (!t)
		return;
	for (int i = 0; i < n; i++)
		ss_tableinfo_free(&t[i]);
	free(t);
}

int ss_tableinfo_col(const struct ss_tableinfo *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return i;
	return -1;
}

void ss_tableinfo_qname(const struct ss_dialect *d, const char *schema, const char *name,
			struct ss_buf *out)
{
	if (schema && *schema) {
		d->quote_ident(out, schema);
		ss_buf_addc(out, '.');
	}
	d->quote_ident(out, name);
}

void ss_sql_quote_with(struct ss_buf *out, const char *s, char q)
{
	ss_buf_addc(out, q);
	for (const char *p = s; *p; p++) {
		if (*p == q)
			ss_buf_addc(out, q);
		ss_buf_addc(out, *p);
	}
	ss_buf_addc(out, q);
}

void ss_sql_quote_ident(struct ss_buf *out, const char *ident)
{
	ss_sql_quote_with(out, ident, '"');
}

void ss_sql_quote_literal(struct ss_buf *out, const char *s)
{
	ss_sql_quote_with(out, s, '\'');
}

void ss_sql_col_list(const struct ss_tableinfo *t, const int *idx, int n,
		     void (*q)(struct ss_buf *out, const char *ident), struct ss_buf *out)
{
	for (int i = 0; i < n; i++) {
		if (i)
			ss_buf_adds(out, ", ");
		q(out, t->cols[idx[i]].name);
	}
}

void ss_sql_on_conflict_update(const struct ss_tableinfo *t, const int *cols, int ncols,
			       const char *excluded, struct ss_buf *out)
{
	int nonkey = 0;

	ss_buf_adds(out, " ON CONFLICT (");
	ss_sql_col_list(t, t->pk, t->npk, ss_sql_quote_ident, out);
	ss_buf_adds(out, ") DO ");
	for (int i = 0; i < ncols; i++) {
		if (t->cols[cols[i]].pk_pos)
			continue;
		ss_buf_adds(out, nonkey++ ? ", " : "UPDATE SET ");
		ss_sql_quote_ident(out, t->cols[cols[i]].name);
		ss_buf_addf(out, " = %s.", excluded);
		ss_sql_quote_ident(out, t->cols[cols[i]].name);
	}
	if (!nonkey)
		ss_buf_adds(out, "NOTHING");
}

void ss_table_list_add(struct ss_table_list *l, const char *schema, const char *name)
{
	if (!ss_glob_match(l->schema_pat, schema) || !ss_glob_match(l->name_pat, name))
		return;
	l->schemas = ss_xrealloc(l->schemas, sizeof *l->schemas * (size_t)(l->n + 1));
	l->names = ss_xrealloc(l->names, sizeof *l->names * (size_t)(l->n + 1));
	l->schemas[l->n] = ss_xstrdup(schema);
	l->names[l->n] = ss_xstrdup(name);
	l->n++;
}

int ss_table_list_row(void *arg, int ncols, const char *const *vals, const size_t *lens,
		      struct ss_err *err)
{
	(void)lens;
	(void)err;
	if (ncols >= 2 && vals[0] && vals[1])
		ss_table_list_add(arg, vals[0], vals[1]);
	return 0;
}

int ss_table_list_finish(struct ss_table_list *l, int rc, char ***schemas, char ***names, int *n)
{
	if (rc < 0) {
		ss_strv_free(l->schemas, l->n);
		ss_strv_free(l->names, l->n);
		return -1;
	}
	*schemas = l->schemas;
	*names = l->names;
	*n = l->n;
	return 0;
}

const char *ss_db_password(const struct ss_dbconf *db)
{
	if (!db->password_env || !*db->password_env)
		return NULL;
	return getenv(db->password_env);
}

int ss_db_exec(struct ss_conn *c, const char *sql, struct ss_err *err)
{
	return c->d->exec(c, sql, 0, NULL, NULL, err);
}

static int first_value_cb(void *arg, int ncols, const char *const *vals, const size_t *lens,
			  struct ss_err *err)
{
	char **out = arg;

	(void)err;
	if (ncols > 0 && vals[0])
		*out = ss_xstrndup(vals[0], lens[0]);
	return 1;
}

int ss_db_query_value(struct ss_conn *c, const char *sql, int nparams, const char *const *params,
		      char **out, struct ss_err *err)
{
	size_t lens[16];

	*out = NULL;
	for (int i = 0; i < nparams && i < 16; i++)
		lens[i] = params[i] ? strlen(params[i]) : 0;
	return c->d->query(c, sql, nparams, params, lens, first_value_cb, out, err);
}

int ss_db_identity(struct ss_conn *c, char **out, struct ss_err *err)
{
	char path[64];
	const char *engine = c->d->name, *sql;

	*out = NULL;
	/* an ODBC flavour ("odbc-postgres") reaches the same engine */
	if (strncmp(engine, "odbc-", 5) == 0)
		engine += 5;
	snprintf(path, sizeof path, "%s/identity.sql", engine);
	sql = ss_ddl_get(path);
	if (!sql)
		return 0;
	if (ss_db_query_value(c, sql, 0, NULL, out, err) < 0) {
		ss_err_prefix(err, "database %s: which database this is", c->db->name);
		return -1;
	}
	return 0;
}

int ss_db_query_i64(struct ss_conn *c, const char *sql, int64_t *out, struct ss_err *err)
{
	char *v = NULL;

	if (ss_db_query_value(c, sql, 0, NULL, &v, err) < 0)
		return -1;
	*out = v ? strtoll(v, NULL, 10) : 0;
	free(v);
	return 0;
}

/* ---- timestamp capture ---------------------------------------------------- */

void ss_poll_keyscan_sql(const struct ss_dialect *d, const struct ss_poll_spec *s,
			 const char *alias,
			 void (*key_expr)(const struct ss_colinfo *col, const char *rec,
					  struct ss_buf *out),
			 struct ss_buf *out)
{
	ss_buf_adds(out, "SELECT ");
	for (int k = 0; k < s->t->npk; k++) {
		if (k)
			ss_buf_adds(out, ", ");
		key_expr(&s->t->cols[s->t->pk[k]], alias, out);
	}
	ss_buf_adds(out, " FROM ");
	ss_tableinfo_qname(d, s->t->schema, s->t->name, out);
	ss_buf_addf(out, " AS %s", alias);
}

void ss_poll_ts_text(int64_t us, const char *suffix, char *out, size_t n)
{
	char iso[40];

	ss_format_time(us, iso, sizeof iso); /* 2026-11-21T10:00:00.123456Z */
	iso[10] = ' ';
	iso[26] = '\0';
	snprintf(out, n, "%s%s", iso, suffix);
}

void ss_poll_order_cols(const struct ss_dialect *d, const struct ss_poll_spec *s,
			struct ss_buf *out)
{
	for (int k = -1; k < s->t->npk; k++) {
		if (k >= 0)
			ss_buf_adds(out, ", ");
		ss_buf_adds(out, SS_POLL_ROW ".");
		d->quote_ident(out, k < 0 ? s->ts_col : s->t->cols[s->t->pk[k]].name);
	}
}

/* ---- engine.h: placeholders, positions, shadow rows ---------------------- */

void ss_sql_ph(struct ss_buf *out, enum ss_ph ph, int n)
{
	if (ph == SS_PH_DOLLAR)
		ss_buf_addf(out, "$%d", n);
	else
		ss_buf_addc(out, '?');
}

void ss_sql_placeholders(struct ss_buf *out, int nrows, int ncols)
{
	for (int r = 0; r < nrows; r++) {
		ss_buf_adds(out, r ? ", (" : "(");
		for (int i = 0; i < ncols; i++)
			ss_buf_adds(out, i ? ", ?" : "?");
		ss_buf_addc(out, ')');
	}
}

int ss_shadow_row_decode(int n, const char *const *v, const size_t *l, struct ss_shadow_row *r)
{
	if (n < 8 || !v[0] || !v[2] || !v[3] || !v[4] || !v[5])
		return 0;
	memset(r, 0, sizeof *r);
	r->id = strtoull(v[0], NULL, 10);
	r->txid = v[1] ? strtoull(v[1], NULL, 10) : 0;
	r->schema = v[2];
	r->table = v[3];
	r->op = v[4][0];
	r->key_image = v[5];
	r->key_len = l[5];
	r->row_image = v[6];
	r->row_len = v[6] ? l[6] : 0;
	r->captured_us = v[7] ? strtoll(v[7], NULL, 10) : 0;
	return 1;
}

int ss_shadow_fetch_row(void *arg, int n, const char *const *v, const size_t *l, struct ss_err *err)
{
	struct ss_shadow_fetch *s = arg;
	struct ss_shadow_row r;

	if (!ss_shadow_row_decode(n, v, l, &r))
		return 0;
	r.text_values = s->text_values;
	return s->cb(s->arg, &r, err);
}
