/*
 * check.c -- `shadowsync check`: compare every table of the selected jobs
 * on the source with each target and report the drift.
 *
 * Owns the command line, connecting (one connection per database),
 * choosing the tables, and the exit status: 0 in sync, 1 drift found, 2
 * error (diff(1) convention).  The comparison itself is the engine's
 * (replicator/check_table.c); the reports are check_report.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_report.h"
#include "dialect.h"
#include "tools.h"

static const char *cmd = "check";

static struct ss_conn *open_db(const struct ss_jobconf *job, const struct ss_dbconf *db)
{
	struct ss_err err;
	struct ss_conn *c = ss_check_connect(db, &err);

	if (!c)
		ss_tool_error(cmd, "job %s: %s", job->name, err.msg);
	return c;
}

/* --table T: "schema.table" or just "table". */
static int table_selected(const char *want, const struct ss_tableinfo *t)
{
	struct ss_tablespec spec;
	struct ss_err err;
	int ok;

	if (!want)
		return 1;
	if (ss_config_parse_table(want, &spec, &err) < 0)
		return strcmp(want, t->name) == 0;
	ok = strcmp(spec.name, t->name) == 0 &&
	     (!spec.schema || strcmp(spec.schema, t->schema) == 0);
	ss_tablespec_free(&spec);
	return ok;
}

struct results {
	struct ss_check_result *v;
	int n;
};

/* Check one job; returns 0, or 2 after printing an error. */
static int check_job(const struct ss_check_opts *o, const struct ss_config *cfg,
		     const struct ss_jobconf *job, const char *table, int *matched,
		     struct results *out)
{
	struct ss_err err;
	struct ss_conn *src, **tgt;
	struct ss_tableinfo *tables = NULL;
	int n = 0, rc = 0;

	src = open_db(job, job->source);
	if (!src)
		return 2;
	tgt = ss_xcalloc((size_t)job->ntargets, sizeof *tgt);
	if (ss_db_job_tables(src, job, &tables, &n, &err) < 0) {
		ss_tool_error(cmd, "job %s: %s", job->name, err.msg);
		rc = 2;
		goto done;
	}
	for (int i = 0; i < job->ntargets; i++) {
		tgt[i] = open_db(job, job->targets[i]);
		if (!tgt[i]) {
			rc = 2;
			goto done;
		}
	}
	for (int i = 0; i < n; i++) {
		if (!table_selected(table, &tables[i]))
			continue;
		(*matched)++;
		out->v = ss_xrealloc(out->v, sizeof *out->v * (size_t)(out->n + job->ntargets));
		struct ss_check_result *r = &out->v[out->n];
		memset(r, 0, sizeof *r * (size_t)job->ntargets);
		out->n += job->ntargets;
		if (ss_check_table(o, cfg, job, src, &tables[i], tgt, job->ntargets, r) < 0) {
			for (int k = 0; k < job->ntargets; k++)
				if (r[k].error)
					ss_tool_error(cmd, "job %s: table %s -> %s: %s", job->name,
						      r[k].table, r[k].target, r[k].error);
			rc = 2;
		}
	}
done:
	for (int i = 0; i < job->ntargets; i++)
		ss_db_disconnect(tgt[i]);
	free(tgt);
	ss_tableinfo_free_array(tables, n);
	ss_db_disconnect(src);
	return rc;
}

int ss_cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"job", required_argument, NULL, 'j'},
		{"table", required_argument, NULL, 't'},
		{"format", required_argument, NULL, 'f'},
		{"output", required_argument, NULL, 'o'},
		{"min-age", required_argument, NULL, 'm'},
		{"max-wait", required_argument, NULL, 'w'},
		{"chunk-rows", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL, *job = NULL, *table = NULL, *output = NULL;
	struct ss_check_opts o = {5000000, 60000000, 0, 0};
	int format = SS_CHECK_TEXT, opt, rc = 0, njobs = 0, matched = 0;
	struct ss_jobconf **jobs = NULL;
	struct results res = {NULL, 0};
	FILE *f = stdout;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'j': job = optarg; break;
		case 't': table = optarg; break;
		case 'o': output = optarg; break;
		case 'f':
			if (strcmp(optarg, "text") == 0)
				format = SS_CHECK_TEXT;
			else if (strcmp(optarg, "json") == 0)
				format = SS_CHECK_JSON;
			else if (strcmp(optarg, "html") == 0)
				format = SS_CHECK_HTML;
			else {
				ss_tool_error(
					cmd,
					"invalid value \"%s\" for --format (text, json or html)",
					optarg);
				return 2;
			}
			break;
		case 'm':
		case 'w':
			if (ss_parse_duration(optarg, opt == 'm' ? &o.min_age_us : &o.max_wait_us) <
				    0 ||
			    (opt == 'm' ? o.min_age_us : o.max_wait_us) < 0) {
				ss_tool_error(
					cmd,
					"invalid duration \"%s\" for --%s (e.g. 5s, 500ms, 1m)",
					optarg, opt == 'm' ? "min-age" : "max-wait");
				return 2;
			}
			break;
		case 'r': {
			char *end;
			long long v = strtoll(optarg, &end, 10);
			if (*end || v < 1) {
				ss_tool_error(
					cmd,
					"invalid value \"%s\" for --chunk-rows (a positive number)",
					optarg);
				return 2;
			}
			o.chunk_rows = v;
			break;
		}
		default: ss_tool_usage(cmd, stderr); return 2;
		}
	}
	if (optind < argc) {
		ss_tool_error(cmd, "unexpected argument \"%s\"", argv[optind]);
		return 2;
	}
	o.progress = isatty(2);
	struct ss_config *cfg = ss_tool_config(cmd, path);
	if (!cfg)
		return 2;
	if (ss_tool_jobs(cmd, cfg, job, &jobs, &njobs) < 0) {
		ss_config_free(cfg);
		return 2;
	}
	if (output && !(f = fopen(output, "w"))) {
		ss_tool_error(cmd, "cannot write %s: %m", output);
		free(jobs);
		ss_config_free(cfg);
		return 2;
	}
	int64_t t0 = ss_mono_us();
	for (int i = 0; i < njobs; i++)
		if (check_job(&o, cfg, jobs[i], table, &matched, &res))
			rc = 2;
	if (table && matched == 0 && rc == 0) {
		ss_tool_error(cmd, "no table %s in %s", table, job ? "the job" : "any job");
		rc = 2;
	}
	ss_check_report(f, format, res.v, res.n, (double)(ss_mono_us() - t0) / 1e6);
	if (output && fclose(f) != 0) {
		ss_tool_error(cmd, "cannot write %s: %m", output);
		rc = 2;
	} else if (!output) {
		fflush(stdout);
	}
	for (int i = 0; i < res.n; i++) {
		if (rc == 0 && (res.v[i].missing || res.v[i].extra || res.v[i].different))
			rc = 1;
		ss_check_result_free(&res.v[i]);
	}
	free(res.v);
	free(jobs);
	ss_config_free(cfg);
	return rc;
}
