/*
 * target.c -- which table on a target receives a source table's changes.
 *
 * Owns the lookup shared by the appliers and `shadowsync check`: an explicit
 * target_table as written; otherwise a table in the source's default schema
 * goes to the target's own default schema (public on PostgreSQL, the DSN's
 * database on MariaDB, main on SQLite), and only when the target has no such
 * table to a schema named like the source's (a MariaDB database "shop"
 * replicated into a PostgreSQL schema "shop"); a table in another schema
 * keeps its schema name.  Owns too the refusal of a target table that is the
 * source table itself: source and target reaching one database (a MariaDB
 * server with both databases, a PostgreSQL database with both schemas)
 * would otherwise have the applier write into the source table, firing its
 * capture again, and `check` compare the table with itself.  Connections,
 * catalogs and the engines' identity queries are the dialects' business.
 */
#include <stdlib.h>
#include <string.h>

#include "applier.h"
#include "dialect.h"

void ss_applier_target_name(const struct ss_jobconf *job, const char *src_schema,
			    const char *src_default_schema, const char *table,
			    const char *dst_default_schema, char **schema_out, char **name_out)
{
	struct ss_table_settings s;
	struct ss_tablespec spec;
	struct ss_err err;

	ss_config_table_settings(job, src_schema, table, &s);
	if (s.target_table && *s.target_table &&
	    ss_config_parse_table(s.target_table, &spec, &err) == 0) {
		*schema_out = spec.schema ? spec.schema : ss_xstrdup(dst_default_schema);
		*name_out = spec.name;
		return;
	}
	if (src_default_schema && strcmp(src_schema, src_default_schema) == 0)
		*schema_out = ss_xstrdup(dst_default_schema);
	else
		*schema_out = ss_xstrdup(src_schema);
	*name_out = ss_xstrdup(table);
}

/* The lookup itself, without the identity check. */
static int lookup(struct ss_conn *dst, const struct ss_jobconf *job, const char *src_schema,
		  const char *table, struct ss_tableinfo *out, struct ss_err *err)
{
	char *schema, *name, dbname[256];
	const char *dst_default = dst->d->default_schema(dst);
	const char *src_default = ss_dbconf_default_schema(job->source, dbname, sizeof dbname);
	struct ss_table_settings s;
	int r;

	ss_config_table_settings(job, src_schema, table, &s);
	ss_applier_target_name(job, src_schema, src_default, table, dst_default, &schema, &name);
	r = dst->d->table_info(dst, schema, name, out, err);
	/* the target has no such table in its default schema: a schema named
	 * like the source's */
	if (r < 0 && !(s.target_table && *s.target_table) && strcmp(schema, src_schema) != 0) {
		struct ss_err e2;
		if (dst->d->table_info(dst, src_schema, name, out, &e2) == 0)
			r = 0;
	}
	free(schema);
	free(name);
	return r;
}

/* Is the target table found the source table itself? */
static int is_source(struct ss_conn *dst, const struct ss_jobconf *job, const char *src_ident,
		     const char *src_schema, const char *table, const struct ss_tableinfo *tt,
		     struct ss_err *err)
{
	char *ident = NULL;
	int same;

	if (!src_ident || strcmp(tt->schema, src_schema) != 0 || strcmp(tt->name, table) != 0)
		return 0;
	if (ss_db_identity(dst, &ident, err) < 0)
		return -1;
	same = ident && strcmp(ident, src_ident) == 0;
	free(ident);
	if (!same)
		return 0;
	ss_err_set(err,
		   "the target table of %s.%s on database %s is that source table itself "
		   "([database %s] and [database %s] reach the same database); give the "
		   "target its own table: target_table, or a dsn naming another database",
		   src_schema, table, dst->db->name, job->source->name, dst->db->name);
	err->transient = 0;
	return 1;
}

int ss_applier_find_target(struct ss_conn *dst, const struct ss_jobconf *job, const char *src_ident,
			   const char *src_schema, const char *table, struct ss_tableinfo *out,
			   struct ss_err *err)
{
	if (lookup(dst, job, src_schema, table, out, err) < 0)
		return -1;
	if (is_source(dst, job, src_ident, src_schema, table, out, err) != 0) {
		ss_tableinfo_free(out);
		return -1;
	}
	return 0;
}

int ss_applier_check_targets(struct ss_conn *dst, const struct ss_jobconf *job, char **src_ident,
			     struct ss_err *err)
{
	struct ss_tableinfo *tables = NULL;
	struct ss_conn *src;
	struct ss_err e2;
	char *dst_ident = NULL;
	int n = 0, rc = 0;

	src = ss_db_connect(job->source, &e2);
	if (!src)
		return 0; /* unreachable: then so is a target in the same database */
	if (ss_db_identity(src, src_ident, &e2) < 0 || !*src_ident ||
	    ss_db_identity(dst, &dst_ident, &e2) < 0 || !dst_ident ||
	    strcmp(*src_ident, dst_ident) != 0)
		goto done;
	/* one database: no table of the job may be its own target */
	if (ss_db_job_tables(src, job, &tables, &n, &e2) < 0)
		goto done;
	for (int i = 0; i < n && rc == 0; i++) {
		struct ss_tableinfo tt;
		if (lookup(dst, job, tables[i].schema, tables[i].name, &tt, &e2) < 0)
			continue; /* a missing target table is reported when it is needed */
		if (is_source(dst, job, *src_ident, tables[i].schema, tables[i].name, &tt, err) !=
		    0)
			rc = -1;
		ss_tableinfo_free(&tt);
	}
done:
	ss_tableinfo_free_array(tables, n);
	free(dst_ident);
	ss_db_disconnect(src);
	return rc;
}
