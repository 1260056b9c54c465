/*
 * journal.c -- `shadowsync journal dump`: print journal records as JSON
 * lines, optionally from / to a time (found through the journal's time
 * index).  Reads the journal without locking, so it works beside a running
 * daemon.  `shadowsync journal adopt`: after a target was re-synced, record
 * that it follows the job's journal from its current end (the way forward
 * when a target's position belongs to another journal).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"
#include "daemon.h"
#include "dialect.h"
#include "journal.h"
#include "tools.h"

static int dump_job(const struct ss_config *cfg, const struct ss_jobconf *job, int have_from,
		    int64_t from, int have_to, int64_t to)
{
	char dir[4096];
	struct ss_err err;
	struct ss_journal *j;
	struct ss_journal_reader *r;
	struct ss_jrec rec;
	struct ss_change c;
	struct ss_buf out, name;
	int rc = 0, got;

	ss_config_journal_dir(cfg, job->name, dir, sizeof dir);
	j = ss_journal_open_readonly(dir, &err);
	if (!j) {
		ss_tool_error("journal", "job %s: %s", job->name, err.msg);
		return 2;
	}
	r = have_from ? ss_journal_reader_new_at_time(j, from, &err) :
			ss_journal_reader_new(
				j, ss_journal_first_pos(j) ? ss_journal_first_pos(j) - 1 : 0, &err);
	if (!r) {
		ss_tool_error("journal", "job %s: %s", job->name, err.msg);
		ss_journal_free(j);
		return 2;
	}
	ss_change_init(&c);
	ss_buf_init(&out);
	ss_buf_init(&name);
	while ((got = ss_journal_reader_next(r, &rec, &err)) == 1) {
		if (have_to && rec.ts_us > to)
			break;
		ss_change_reset(&c);
		if (ss_change_decode(&c, rec.payload, rec.len, &err) < 0) {
			ss_tool_error("journal", "job %s: journal position %llu: %s", job->name,
				      (unsigned long long)rec.pos, err.msg);
			rc = 2;
			break;
		}
		c.pos = rec.pos;
		c.ts_us = rec.ts_us;
		c.txid = rec.txid;
		c.flags = rec.flags;
		ss_buf_reset(&out);
		ss_change_to_json(&c, &out);
		/* the change's object with the job in front: {"job":..,"pos":..} */
		fputs("{\"job\":", stdout);
		ss_buf_reset(&name);
		ss_buf_add_json_str(&name, job->name, strlen(job->name));
		fputs(name.data, stdout);
		fputc(',', stdout);
		fputs(out.data + 1, stdout);
		fputc('\n', stdout);
	}
	if (got < 0) {
		ss_tool_error("journal", "job %s: %s", job->name, err.msg);
		rc = 2;
	}
	ss_change_release(&c);
	ss_buf_free(&out);
	ss_buf_free(&name);
	ss_journal_reader_free(r);
	ss_journal_free(j);
	return rc;
}

/* The target now follows this journal from its end: it holds (re-synced)
 * everything journaled so far.  The journal is opened for writing, so this
 * fails while a daemon runs the job. */
static int adopt(const struct ss_config *cfg, const struct ss_jobconf *job, const char *target)
{
	char dir[4096];
	const char *id;
	struct ss_err err, e2;
	struct ss_journal *j;
	const struct ss_dbconf *db = NULL;
	struct ss_conn *c = NULL;
	struct ss_position old, now;
	int rc = 2, w;

	for (int i = 0; i < job->ntargets; i++)
		if (strcmp(job->targets[i]->name, target) == 0)
			db = job->targets[i];
	if (!db) {
		ss_tool_error("journal", "adopt: job %s has no target \"%s\"", job->name, target);
		return 2;
	}
	ss_config_journal_dir(cfg, job->name, dir, sizeof dir);
	j = ss_journal_open(dir, (enum ss_fsync_mode)cfg->fsync, cfg->journal_segment_size, &err);
	if (!j) {
		ss_tool_error("journal", "adopt: job %s: %s (stop shadowsync first)", job->name,
			      err.msg);
		return 2;
	}
	id = ss_journal_id(j);
	c = ss_db_connect(db, &err);
	if (!c || c->d->apply_prepare(c, &err) < 0 || c->d->begin(c, &err) < 0 ||
	    c->d->position_get(c, job->name, db->name, &old, &err) < 0)
		goto done;
	now = old;
	now.pos = ss_journal_last_pos(j);
	snprintf(now.journal_id, sizeof now.journal_id, "%s", id);
	w = c->d->position_set(c, job->name, db->name, &now, &err);
	if (w < 0 || (w == 1 && c->d->commit(c, &err) < 0))
		goto done;
	if (w == 0) {
		ss_err_set(&err, "the position row changed under us (a daemon runs the job?)");
		goto done;
	}
	printf("job %s target %s: follows journal %s (%s) from position %llu; it was at position "
	       "%llu of journal %s\n",
	       job->name, db->name, id, dir, (unsigned long long)now.pos,
	       (unsigned long long)old.pos, old.journal_id[0] ? old.journal_id : "(none)");
	rc = 0;
done:
	if (rc != 0) {
		ss_tool_error("journal", "adopt: job %s target %s: %s", job->name, target, err.msg);
		if (c)
			(void)c->d->rollback(c, &e2);
	}
	ss_db_disconnect(c);
	ss_journal_free(j);
	return rc;
}

int ss_cmd_journal(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"job", required_argument, NULL, 'j'},
		{"from", required_argument, NULL, 'f'},   {"to", required_argument, NULL, 't'},
		{"target", required_argument, NULL, 'T'}, {NULL, 0, NULL, 0},
	};
	const char *path = NULL, *job = NULL, *target = NULL;
	int64_t from = 0, to = 0;
	int have_from = 0, have_to = 0, o, rc = 0, n;
	struct ss_jobconf **jobs;

	optind = 1;
	while ((o = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (o) {
		case 'c': path = optarg; break;
		case 'j': job = optarg; break;
		case 'T': target = optarg; break;
		case 'f':
			if (ss_parse_time(optarg, &from) < 0) {
				ss_tool_error("journal",
					      "--from \"%s\": expected an ISO 8601 time like "
					      "2026-11-21T10:00:00Z",
					      optarg);
				return 2;
			}
			have_from = 1;
			break;
		case 't':
			if (ss_parse_time(optarg, &to) < 0) {
				ss_tool_error("journal",
					      "--to \"%s\": expected an ISO 8601 time like "
					      "2026-11-21T10:00:00Z",
					      optarg);
				return 2;
			}
			have_to = 1;
			break;
		default: ss_tool_usage("journal", stderr); return 2;
		}
	}
	int is_adopt = optind < argc && strcmp(argv[optind], "adopt") == 0;
	if (optind >= argc || (!is_adopt && strcmp(argv[optind], "dump") != 0) ||
	    optind + 1 < argc) {
		ss_tool_error("journal", "expected the action \"dump\" or \"adopt\" (shadowsync "
					 "journal -c FILE dump)");
		return 2;
	}
	if (have_from && have_to && from > to) {
		ss_tool_error("journal", "--from is after --to: the window is empty");
		return 2;
	}
	if (is_adopt && (!job || !target)) {
		ss_tool_error("journal", "adopt needs --job J and --target X");
		return 2;
	}
	struct ss_config *cfg = ss_tool_config("journal", path);
	if (!cfg)
		return 2;
	if (ss_tool_jobs("journal", cfg, job, &jobs, &n) < 0) {
		ss_config_free(cfg);
		return 2;
	}
	for (int i = 0; i < n && rc == 0; i++)
		rc = is_adopt ? adopt(cfg, jobs[i], target) :
				dump_job(cfg, jobs[i], have_from, from, have_to, to);
	free(jobs);
	ss_config_free(cfg);
	return rc;
}
