/*
 * install.c -- `shadowsync install` and `uninstall`: generate the capture
 * DDL for each job through its source's dialect, print it (--dry-run) or run
 * it as one script (one transaction where the database allows).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialect.h"
#include "tools.h"

static int install_job(const char *cmd, struct ss_jobconf *job, int uninstall, int dry_run)
{
	struct ss_err err;
	struct ss_conn *c;
	struct ss_tableinfo *tables = NULL;
	struct ss_buf sql;
	int n = 0, rc = 1;

	ss_buf_init(&sql);
	c = ss_db_connect(job->source, &err);
	if (!c) {
		ss_tool_error(cmd, "job %s: %s", job->name, err.msg);
		return 1;
	}
	if (!uninstall && ss_db_job_tables(c, job, &tables, &n, &err) < 0)
		goto fail;
	/* tables captured by their timestamp column get no trigger */
	for (int i = 0; i < n;) {
		struct ss_table_settings s;
		ss_config_table_settings(job, tables[i].schema, tables[i].name, &s);
		if (s.capture == SS_CAPTURE_TIMESTAMP) {
			ss_tableinfo_free(&tables[i]);
			tables[i] = tables[--n];
		} else {
			i++;
		}
	}
	if (uninstall ? c->d->capture_uninstall_sql(c, job->name, tables, n, &sql, &err) :
			c->d->capture_install_sql(c, job->name, tables, n, &sql, &err))
		goto fail;
	if (dry_run) {
		fputs(sql.data, stdout);
	} else {
		if (c->d->exec_script(c, sql.data, &err) < 0)
			goto fail;
		if (uninstall)
			fprintf(stderr, "shadowsync %s: job %s: capture removed from database %s\n",
				cmd, job->name, job->source->name);
		else
			fprintf(stderr,
				"shadowsync %s: job %s: capture installed on %d table%s in "
				"database %s\n",
				cmd, job->name, n, n == 1 ? "" : "s", job->source->name);
	}
	rc = 0;
	goto done;
fail:
	ss_tool_error(cmd, "job %s: %s", job->name, err.msg);
done:
	ss_tableinfo_free_array(tables, n);
	ss_buf_free(&sql);
	ss_db_disconnect(c);
	return rc;
}

static int install_main(const char *cmd, int uninstall, int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"job", required_argument, NULL, 'j'},
		{"dry-run", no_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL, *job = NULL;
	int dry = 0, o, rc = 0, n;
	struct ss_jobconf **jobs;

	optind = 1;
	while ((o = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (o) {
		case 'c': path = optarg; break;
		case 'j': job = optarg; break;
		case 'n': dry = 1; break;
		default: ss_tool_usage(cmd, stderr); return 2;
		}
	}
	if (optind < argc) {
		ss_tool_error(cmd, "unexpected argument \"%s\"", argv[optind]);
		return 2;
	}
	struct ss_config *cfg = ss_tool_config(cmd, path);
	if (!cfg)
		return 2;
	if (ss_tool_jobs(cmd, cfg, job, &jobs, &n) < 0) {
		ss_config_free(cfg);
		return 2;
	}
	for (int i = 0; i < n; i++)
		if (install_job(cmd, jobs[i], uninstall, dry))
			rc = 1;
	free(jobs);
	ss_config_free(cfg);
	return rc;
}

int ss_cmd_install(int argc, char **argv)
{
	return install_main("install", 0, argc, argv);
}

int ss_cmd_uninstall(int argc, char **argv)
{
	return install_main("uninstall", 1, argc, argv);
}
