/*
 * registry.c -- the front door of dialects/: which dialect serves a
 * configured database (postgres, mariadb, odbc: for odbc the flavour is
 * picked after connecting), the default schema of a database without
 * connecting, and a job's table list resolved against the source catalog.
 *
 * Nothing here knows any one database's syntax; the dialects do not call
 * into this file (their shared helpers are in dialect.c).
 */
#include "dialect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

const char *ss_dbconf_default_schema(const struct ss_dbconf *db, char *buf, size_t n)
{
	const char *p = db->dsn;

	switch (db->driver) {
	case SS_DRIVER_POSTGRES: return "public";
	case SS_DRIVER_ODBC: return "main";
	default: break;
	}
	/* key=value pairs separated by blanks: find dbname= */
	while (p && *p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "dbname=", 7) == 0) {
			size_t l = strcspn(p + 7, " \t");
			snprintf(buf, n, "%.*s", (int)l, p + 7);
			return buf;
		}
		p += strcspn(p, " \t");
	}
	return NULL;
}

struct ss_conn *ss_db_connect(const struct ss_dbconf *db, struct ss_err *err)
{
	struct ss_conn *c = NULL;

	switch (db->driver) {
	case SS_DRIVER_POSTGRES: c = ss_dialect_postgres.connect(db, err); break;
	case SS_DRIVER_MARIADB: c = ss_dialect_mariadb.connect(db, err); break;
	case SS_DRIVER_ODBC: c = ss_odbc_connect(db, err); break;
	default: ss_err_set(err, "database %s: unknown driver", db->name);
	}
	return c;
}

void ss_db_disconnect(struct ss_conn *c)
{
	if (c)
		c->d->disconnect(c);
}

static int has_table(struct ss_tableinfo *t, int n, const char *schema, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(t[i].schema, schema) == 0 && strcmp(t[i].name, name) == 0)
			return 1;
	return 0;
}

/* Every column a table's settings name must be a column of the table:
 * a misspelt exclude_columns entry would otherwise replicate the column it
 * meant to keep out.  A key column cannot be left out. */
static int check_named_columns(const struct ss_jobconf *job, const struct ss_tableinfo *t,
			       const char *db, struct ss_err *err)
{
	struct ss_table_settings s;
	int line = job->line;

	ss_config_table_settings(job, t->schema, t->name, &s);
	for (int i = 0; i < job->ntableconfs; i++) {
		const struct ss_tableconf *tc = &job->tableconfs[i];
		if (strcmp(tc->spec.name, t->name) == 0 &&
		    (!tc->spec.schema || strcmp(tc->spec.schema, t->schema) == 0) &&
		    tc->s.nexclude > 0)
			line = tc->line;
	}
	for (int k = 0; k < s.nexclude; k++) {
		int ci = ss_tableinfo_col(t, s.exclude_columns[k]);
		if (ci < 0) {
			ss_err_set(err,
				   "%s:%d: exclude_columns names \"%s\", which is not a column of "
				   "%s.%s in database %s",
				   job->path ? job->path : "?", line, s.exclude_columns[k],
				   t->schema, t->name, db);
			return -1;
		}
		if (t->cols[ci].pk_pos) {
			ss_err_set(err,
				   "%s:%d: exclude_columns names \"%s\", a primary key column of "
				   "%s.%s: changes are applied by key, so it cannot be left out",
				   job->path ? job->path : "?", line, s.exclude_columns[k],
				   t->schema, t->name);
			return -1;
		}
	}
	return 0;
}

int ss_db_job_tables(struct ss_conn *c, const struct ss_jobconf *job, struct ss_tableinfo **out,
		     int *n, struct ss_err *err)
{
	struct ss_tableinfo *t = NULL;
	int cnt = 0;

	for (int i = 0; i < job->ntables; i++) {
		const struct ss_tablespec *spec = &job->tables[i];
		const char *schema = spec->schema ? spec->schema : c->d->default_schema(c);
		char **schemas = NULL, **names = NULL;
		int m = 0;

		if (spec->is_pattern) {
			if (c->d->list_tables(c, schema, spec->name, &schemas, &names, &m, err) < 0)
				goto fail;
			if (m == 0) {
				ss_err_set(err, "no table in database %s matches %s.%s",
					   c->db->name, schema, spec->name);
				goto fail;
			}
		} else {
			m = 1;
			schemas = ss_xcalloc(1, sizeof *schemas);
			names = ss_xcalloc(1, sizeof *names);
			schemas[0] = ss_xstrdup(schema);
			names[0] = ss_xstrdup(spec->name);
		}
		for (int k = 0; k < m; k++) {
			if (has_table(t, cnt, schemas[k], names[k]))
				continue;
			t = ss_xrealloc(t, sizeof *t * (size_t)(cnt + 1));
			memset(&t[cnt], 0, sizeof t[cnt]);
			if (c->d->table_info(c, schemas[k], names[k], &t[cnt], err) < 0) {
				ss_strv_free(schemas, m);
				ss_strv_free(names, m);
				goto fail;
			}
			cnt++;
			if (t[cnt - 1].npk == 0) {
				ss_err_set(err,
					   "table %s.%s in database %s has no primary key; "
					   "shadowsync needs one to apply changes by key",
					   schemas[k], names[k], c->db->name);
				ss_strv_free(schemas, m);
				ss_strv_free(names, m);
				goto fail;
			}
			if (check_named_columns(job, &t[cnt - 1], c->db->name, err) < 0) {
				ss_strv_free(schemas, m);
				ss_strv_free(names, m);
				goto fail;
			}
		}
		ss_strv_free(schemas, m);
		ss_strv_free(names, m);
	}
	*out = t;
	*n = cnt;
	return 0;
fail:
	ss_tableinfo_free_array(t, cnt);
	return -1;
}
