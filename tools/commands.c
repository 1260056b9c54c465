/*
 * commands.c -- the table of subcommands (name, entry point, --help text)
 * and what every subcommand shares: error printing, usage, loading -c FILE,
 * selecting --job.  main.c dispatches through the table; `shadowsync
 * COMMAND --help`, `shadowsync --help` and doc/shadowsync.1 say the same
 * thing because they print these texts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tools.h"
#include "util.h"

const struct ss_command ss_commands[] = {
	{"run", ss_cmd_run, "the daemon: capture changes and apply them to every target",
	 "usage: shadowsync run -c FILE [--once] [--job J]\n"
	 "\n"
	 "Capture changes from every job's source into the journal and apply them to\n"
	 "every target, until SIGTERM or SIGINT.  A job runs in one process at a time,\n"
	 "the owner of its lease in the source database; started while another process\n"
	 "owns it, run waits as a standby and takes over when the owner stops (within\n"
	 "about 1 s of a killed owner, lease_timeout + 1 s of a vanished host); run\n"
	 "--once exits 1 with an error instead.\n"
	 "\n"
	 "  -c, --config FILE   configuration file (INI)\n"
	 "      --once          move everything captured so far to every target, then exit 0\n"
	 "      --job J         run only job J\n"},
	{"install", ss_cmd_install, "create the shadow table and capture triggers on a source",
	 "usage: shadowsync install -c FILE [--job J] [--dry-run]\n"
	 "\n"
	 "Create, in each job's source database, the shadowsync schema with the job's\n"
	 "shadow change table, and one capture trigger per table.  Idempotent.  On\n"
	 "PostgreSQL and SQLite one transaction (all or nothing); MariaDB commits each\n"
	 "DDL statement on its own, so there a failed install drops what it created.\n"
	 "The capture runs with the rights of the installing user: run install as the\n"
	 "daemon's user; nothing it creates is open to others, and applications writing\n"
	 "the captured tables need no grant.\n"
	 "\n"
	 "  -c, --config FILE   configuration file\n"
	 "      --job J         only job J (default: every job)\n"
	 "      --dry-run       print the SQL that would run, change nothing\n"},
	{"uninstall", ss_cmd_uninstall, "remove what install created",
	 "usage: shadowsync uninstall -c FILE [--job J] [--dry-run]\n"
	 "\n"
	 "Remove the job's capture triggers, trigger functions and shadow table; the\n"
	 "shadowsync schema goes too when nothing else uses it.\n"
	 "\n"
	 "  -c, --config FILE   configuration file\n"
	 "      --job J         only job J (default: every job)\n"
	 "      --dry-run       print the SQL that would run, change nothing\n"},
	{"check", ss_cmd_check, "compare source and target tables and report drift",
	 "usage: shadowsync check -c FILE [--job J] [--table T] [--format text|json|html]\n"
	 "                        [--output F] [--min-age DURATION] [--max-wait DURATION]\n"
	 "                        [--chunk-rows N]\n"
	 "\n"
	 "Compare every table of each job on the source with its copy on every target,\n"
	 "without copying the data: both databases hash key-range chunks of rows in SQL\n"
	 "(MD5 of a canonical text that is the same on every engine), and chunks that\n"
	 "differ are bisected down to the rows and columns that differ.  A difference is\n"
	 "reported only if it persists: differing chunks are hashed again once the\n"
	 "difference is --min-age old and the target's applier has caught up with what\n"
	 "the source had captured.  Progress goes to stderr when it is a terminal.\n"
	 "\n"
	 "Exit status: 0 in sync, 1 drift found, 2 error.\n"
	 "\n"
	 "  -c, --config FILE      configuration file\n"
	 "      --job J            only job J (default: every job)\n"
	 "      --table T          only table T (schema.table, or table)\n"
	 "      --format F         text (default: a line per table and the first differing\n"
	 "                         rows), json (every differing row with key and values) or\n"
	 "                         html (one self-contained page)\n"
	 "      --output F         write the report to F instead of stdout\n"
	 "      --min-age D        report only differences at least D old (default 5s)\n"
	 "      --max-wait D       wait at most D for the appliers to catch up (default 60s)\n"
	 "      --chunk-rows N     rows per chunk (default: adaptive, 10000 to 100000)\n"},
	{"journal", ss_cmd_journal, "read the local journal; adopt a new one for a target",
	 "usage: shadowsync journal -c FILE dump [--job J] [--from TIME] [--to TIME]\n"
	 "       shadowsync journal -c FILE adopt --job J --target X\n"
	 "\n"
	 "dump: print journal records as JSON lines (one object per change: pos, time,\n"
	 "txid, table, op, key, row; binary values as {\"$hex\": ...}).\n"
	 "TIME is ISO 8601, e.g. 2026-11-21T10:00:00Z or 2026-11-21 12:00:00+02:00.\n"
	 "\n"
	 "adopt: make target X follow job J's journal from its current end.  For a\n"
	 "target whose position belongs to another journal (the journal directory was\n"
	 "lost or replaced): stop shadowsync, re-sync the target's tables from the\n"
	 "source, run adopt, start shadowsync.  Changes journaled before now are\n"
	 "taken to be in the re-synced target; everything captured later is applied.\n"
	 "\n"
	 "  -c, --config FILE   configuration file\n"
	 "      --job J         only job J (default: every job)\n"
	 "      --target X      adopt: the target database\n"
	 "      --from TIME     dump: first record at or after TIME\n"
	 "      --to TIME       dump: stop before records after TIME\n"},
	{"demo", ss_cmd_demo, "the main job on the embedded default: SQLite files, no server",
	 "usage: shadowsync demo [--dir DIR]\n"
	 "\n"
	 "Create two SQLite databases (through ODBC) under DIR (default ./demo) with a\n"
	 "small shop schema, install capture on the source, run a workload of inserts,\n"
	 "updates and deletes, replicate it with one run --once, and compare source and\n"
	 "target row by row.  Starts from a clean state each time; leaves\n"
	 "DIR/shadowsync.ini behind to read and rerun.\n"
	 "\n"
	 "      --dir DIR       where the databases, journal and config go\n"},
	{NULL, NULL, NULL, NULL},
};

void ss_tool_main_usage(FILE *f)
{
	fprintf(f, "usage: shadowsync COMMAND [options]\n"
		   "       shadowsync COMMAND --help\n"
		   "       shadowsync --version\n\n"
		   "Keep tables in different relational databases in step.\n\ncommands:\n");
	for (int i = 0; ss_commands[i].name; i++)
		fprintf(f, "  %-10s  %s\n", ss_commands[i].name, ss_commands[i].summary);
}

void ss_tool_usage(const char *cmd, FILE *f)
{
	for (int i = 0; ss_commands[i].name; i++)
		if (strcmp(ss_commands[i].name, cmd) == 0)
			fputs(ss_commands[i].usage, f);
}

void ss_tool_error(const char *cmd, const char *fmt, ...)
{
	char msg[4096], masked[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ss_mask_secrets(msg, masked, sizeof masked);
	fprintf(stderr, "shadowsync %s: %s\n", cmd, masked);
}

struct ss_config *ss_tool_config(const char *cmd, const char *path)
{
	struct ss_err err;
	struct ss_config *cfg;

	if (!path) {
		ss_tool_error(cmd, "missing -c FILE (the configuration)");
		return NULL;
	}
	cfg = ss_config_load(path, &err);
	if (!cfg) {
		ss_tool_error(cmd, "%s", err.msg);
		return NULL;
	}
	ss_log_set_level(cfg->log_level);
	ss_log_set_format(cfg->log_format);
	return cfg;
}

int ss_tool_jobs(const char *cmd, struct ss_config *cfg, const char *job, struct ss_jobconf ***out,
		 int *n)
{
	struct ss_jobconf **v = ss_xcalloc((size_t)(cfg->njobs ? cfg->njobs : 1), sizeof *v);
	int cnt = 0;

	for (int i = 0; i < cfg->njobs; i++)
		if (!job || strcmp(cfg->jobs[i].name, job) == 0)
			v[cnt++] = &cfg->jobs[i];
	if (job && cnt == 0) {
		ss_tool_error(cmd, "%s: no job \"%s\" (defined: %d job%s)", cfg->path, job,
			      cfg->njobs, cfg->njobs == 1 ? "" : "s");
		free(v);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}
