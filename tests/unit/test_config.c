/*
 * test_config.c -- the INI configuration loader: every error is one line
 * naming file:line and what was expected; every default of the key table is
 * applied; table names (quoted, spaced, patterns) and per-table overrides
 * come out as written; durations, sizes, password_env.  Last, the
 * documentation check (CONVENTIONS habit 8): every key of the key table is
 * described in doc/configuration.md with its default, and appears in the
 * example etc/shadowsync.ini, which must itself load.
 *
 * Run from the repository root (tests/run.sh does); the doc files are also
 * looked for relative to build/tests/.
 */
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dialect.h"
#include "journal.h"
#include "util.h"

#define MS 1000LL
#define SEC 1000000LL

/* A valid configuration; tests append to it.  Line numbers matter. */
static const char BASE[] = "[shadowsync]\n"                  /* 1 */
			   "journal_dir = /tmp/ss-journal\n" /* 2 */
			   "\n"                              /* 3 */
			   "[database src]\n"                /* 4 */
			   "driver = postgres\n"             /* 5 */
			   "dsn = host=a dbname=s\n"         /* 6 */
			   "\n"                              /* 7 */
			   "[database dst]\n"                /* 8 */
			   "driver = postgres\n"             /* 9 */
			   "dsn = host=b dbname=d\n"         /* 10 */
			   "\n"                              /* 11 */
			   "[job j]\n"                       /* 12 */
			   "source = src\n"                  /* 13 */
			   "targets = dst\n"                 /* 14 */
			   "tables = public.t\n";            /* 15 */

static char *base_plus(const char *extra)
{
	struct ss_buf b;

	ss_buf_init(&b);
	ss_buf_adds(&b, BASE);
	ss_buf_adds(&b, extra);
	return ss_buf_steal(&b);
}

static char *with_main(const char *main_extra);

static struct ss_config *load(const char *text, struct ss_err *err)
{
	memset(err, 0, sizeof *err);
	return ss_config_load_string(text, "test.ini", err);
}

/* The text must be refused with one line "test.ini:LINE: ..." that holds
 * every word in words (NULL-terminated). */
static void expect_error_at(const char *what, const char *text, int line, const char *const *words)
{
	struct ss_err err;
	struct ss_config *cfg = load(text, &err);
	char prefix[64];

	if (cfg) {
		fprintf(stderr, "  %s: accepted, expected an error at line %d\n", what, line);
		unit_failed_checks++;
		ss_config_free(cfg);
		return;
	}
	snprintf(prefix, sizeof prefix, "test.ini:%d: ", line);
	if (strncmp(err.msg, prefix, strlen(prefix)) != 0) {
		fprintf(stderr, "  %s: expected \"%s...\", got \"%s\"\n", what, prefix, err.msg);
		unit_failed_checks++;
	}
	if (strchr(err.msg, '\n')) {
		fprintf(stderr, "  %s: message is not one line: \"%s\"\n", what, err.msg);
		unit_failed_checks++;
	}
	for (int i = 0; words && words[i]; i++)
		if (!strstr(err.msg, words[i])) {
			fprintf(stderr, "  %s: message lacks \"%s\": \"%s\"\n", what, words[i],
				err.msg);
			unit_failed_checks++;
		}
}

#define EXPECT_ERROR(what, text, line, ...)                   \
	do {                                                  \
		const char *const w_[] = {__VA_ARGS__, NULL}; \
		expect_error_at(what, text, line, w_);        \
	} while (0)

#define EXPECT_ERROR_PLUS(what, extra, line, ...)          \
	do {                                               \
		char *t_ = base_plus(extra);               \
		EXPECT_ERROR(what, t_, line, __VA_ARGS__); \
		free(t_);                                  \
	} while (0)

/* ---- errors ------------------------------------------------------------- */

static void test_base_is_valid(void)
{
	struct ss_err err;
	struct ss_config *cfg = load(BASE, &err);

	CHECK(cfg != NULL);
	if (!cfg) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	CHECK_INT(cfg->ndbs, 2);
	CHECK_INT(cfg->njobs, 1);
	CHECK_STR(cfg->path, "test.ini");
	CHECK_STR(cfg->journal_dir, "/tmp/ss-journal");
	CHECK_STR(cfg->dbs[0].name, "src");
	CHECK_INT(cfg->dbs[0].driver, SS_DRIVER_POSTGRES);
	CHECK_STR(cfg->dbs[0].dsn, "host=a dbname=s");
	CHECK_INT(cfg->dbs[0].line, 4);
	struct ss_jobconf *j = ss_config_job(cfg, "j");
	CHECK(j != NULL);
	if (j) {
		CHECK_INT(j->line, 12);
		CHECK(j->source == ss_config_db(cfg, "src"));
		CHECK_INT(j->ntargets, 1);
		CHECK(j->targets[0] == ss_config_db(cfg, "dst"));
		CHECK_INT(j->ntables, 1);
		CHECK_STR(j->tables[0].schema, "public");
		CHECK_STR(j->tables[0].name, "t");
	}
	CHECK(ss_config_job(cfg, "nope") == NULL);
	CHECK(ss_config_db(cfg, "nope") == NULL);
	ss_config_free(cfg);
	ss_config_free(NULL); /* a no-op */
}

static void test_unknown_section(void)
{
	EXPECT_ERROR_PLUS("misspelt section", "[databse x]\ndriver = postgres\n", 16,
			  "unknown section", "databse x", "[database NAME]");
	EXPECT_ERROR_PLUS("database without a name", "\n[database]\n", 17, "unknown section");
	EXPECT_ERROR_PLUS("job without a name", "[job]\n", 16, "unknown section");
	EXPECT_ERROR("unknown section first", "; comment\n[global]\njournal_dir = /x\n", 2,
		     "unknown section", "global");
	EXPECT_ERROR_PLUS("header without ]", "[database x\n", 16, "]");
}

static void test_unknown_key(void)
{
	EXPECT_ERROR("in [shadowsync]", "[shadowsync]\njournal_dir = /x\njournal_size = 1GB\n", 3,
		     "unknown key", "journal_size", "journal_segment_size");
	EXPECT_ERROR("in [database]",
		     "[shadowsync]\njournal_dir = /x\n[database a]\ndriver = postgres\n"
		     "password = secret\n",
		     5, "unknown key", "password", "password_env");
	EXPECT_ERROR_PLUS("in [job]", "target = dst\n", 16, "unknown key", "\"target\"", "targets");
	EXPECT_ERROR_PLUS("job table key in [job table]", "[job j table public.t]\nsource = src\n",
			  17, "unknown key", "source");
	EXPECT_ERROR_PLUS("in [job table]", "[job j table public.t]\ncapture_mode = timestamp\n",
			  17, "unknown key", "capture_mode", "timestamp_column");
	/* a [database] key in [job] */
	EXPECT_ERROR_PLUS("database key in [job]", "dsn = x\n", 16, "unknown key", "dsn");
	/* a [shadowsync] key in [database] */
	EXPECT_ERROR("shadowsync key in [database]",
		     "[shadowsync]\njournal_dir = /x\n[database a]\nfsync = off\n", 4,
		     "unknown key", "fsync");
}

static void test_missing_required(void)
{
	/* missing keys are reported at their section's header */
	EXPECT_ERROR("journal_dir",
		     "; shadowsync\n[shadowsync]\nlog_level = info\n"
		     "[database a]\ndriver = postgres\ndsn = x\n",
		     2, "journal_dir");
	EXPECT_ERROR("no [shadowsync] at all", "[database a]\ndriver = postgres\ndsn = x\n", 1,
		     "journal_dir");
	EXPECT_ERROR("empty journal_dir", "[shadowsync]\njournal_dir =\n", 1, "journal_dir");
	EXPECT_ERROR("driver", "[shadowsync]\njournal_dir = /x\n\n[database a]\ndsn = x\n", 4,
		     "driver", "database a");
	EXPECT_ERROR("dsn", "[shadowsync]\njournal_dir = /x\n\n[database a]\ndriver = mariadb\n", 4,
		     "dsn", "database a");
	const char *job_head = "[shadowsync]\njournal_dir = /x\n"
			       "[database a]\ndriver = postgres\ndsn = x\n"
			       "[database b]\ndriver = postgres\ndsn = y\n"
			       "\n[job j]\n"; /* the job header is line 10 */
	char text[1024];
	snprintf(text, sizeof text, "%stargets = b\ntables = t\n", job_head);
	EXPECT_ERROR("source", text, 10, "source", "job j");
	snprintf(text, sizeof text, "%ssource = a\ntables = t\n", job_head);
	EXPECT_ERROR("targets", text, 10, "targets", "job j");
	snprintf(text, sizeof text, "%ssource = a\ntargets = b\n", job_head);
	EXPECT_ERROR("tables", text, 10, "tables", "job j");
}

static void test_undefined_database(void)
{
	const char *head = "[shadowsync]\njournal_dir = /x\n"
			   "[database a]\ndriver = postgres\ndsn = x\n"
			   "[database b]\ndriver = postgres\ndsn = y\n"
			   "[job orders]\n"; /* line 9 */
	char text[1024];

	snprintf(text, sizeof text, "%ssource = shop\ntargets = b\ntables = t\n", head);
	EXPECT_ERROR("undefined source", text, 9, "source", "\"shop\"", "[database]");
	snprintf(text, sizeof text, "%ssource = a\ntargets = b, lake\ntables = t\n", head);
	EXPECT_ERROR("undefined target", text, 9, "target", "\"lake\"", "[database]");
	snprintf(text, sizeof text, "%ssource = a\ntargets = a\ntables = t\n", head);
	EXPECT_ERROR("target = source", text, 9, "\"a\"", "source");
	snprintf(text, sizeof text, "%ssource = a\ntargets = b, a\ntables = t\n", head);
	EXPECT_ERROR("source among the targets", text, 9, "\"a\"", "source");
	snprintf(text, sizeof text, "%ssource = a\ntargets = b, b\ntables = t\n", head);
	EXPECT_ERROR("duplicate target", text, 9, "\"b\"", "twice");
	snprintf(text, sizeof text, "%ssource = a\ntargets = b,\ntables = t\n", head);
	EXPECT_ERROR("empty item in targets", text, 11, "targets");
}

static void test_bad_values(void)
{
	EXPECT_ERROR("fsync", "[shadowsync]\njournal_dir = /x\nfsync = sometimes\n", 3, "fsync",
		     "\"sometimes\"", "off, batch or always");
	EXPECT_ERROR("log_level", "[shadowsync]\njournal_dir = /x\nlog_level = verbose\n", 3,
		     "log_level", "\"verbose\"", "debug");
	EXPECT_ERROR("retention duration",
		     "[shadowsync]\njournal_dir = /x\njournal_retention = 7 days\n", 3,
		     "journal_retention", "duration", "7d");
	EXPECT_ERROR("segment size",
		     "[shadowsync]\njournal_dir = /x\njournal_segment_size = 64XB\n", 3,
		     "journal_segment_size", "size", "64MB");
	EXPECT_ERROR("negative size",
		     "[shadowsync]\njournal_dir = /x\njournal_segment_size = -1MB\n", 3,
		     "journal_segment_size");
	EXPECT_ERROR("driver", "[shadowsync]\njournal_dir = /x\n[database a]\ndriver = oracle\n", 4,
		     "driver", "\"oracle\"", "postgres, mariadb or odbc");
	EXPECT_ERROR("connect_timeout",
		     "[shadowsync]\njournal_dir = /x\n[database a]\ndriver = postgres\n"
		     "connect_timeout = soon\n",
		     5, "connect_timeout", "duration");
	EXPECT_ERROR_PLUS("poll_interval", "poll_interval = 5 parsecs\n", 16, "poll_interval",
			  "duration");
	EXPECT_ERROR_PLUS("negative poll_interval", "poll_interval = -1s\n", 16, "poll_interval");
	EXPECT_ERROR_PLUS("batch_rows word", "batch_rows = many\n", 16, "batch_rows",
			  "whole number");
	EXPECT_ERROR_PLUS("batch_rows zero", "batch_rows = 0\n", 16, "batch_rows");
	EXPECT_ERROR_PLUS("batch_rows negative", "batch_rows = -5\n", 16, "batch_rows");
	EXPECT_ERROR_PLUS("batch_rows fraction", "batch_rows = 2.5\n", 16, "batch_rows");
	EXPECT_ERROR_PLUS("capture", "capture = logical\n", 16, "capture", "\"logical\"",
			  "trigger or timestamp");
	EXPECT_ERROR_PLUS("delete_detection", "delete_detection = sometimes\n", 16,
			  "delete_detection", "none or keyscan");
	EXPECT_ERROR_PLUS("capture in a table section", "\n[job j table public.t]\ncapture = wal\n",
			  18, "capture", "\"wal\"");
	EXPECT_ERROR_PLUS("lookback", "[job j table public.t]\nlookback = a while\n", 17,
			  "lookback", "duration");
}

static void test_empty_tables(void)
{
	const char *head = "[shadowsync]\njournal_dir = /x\n"
			   "[database a]\ndriver = postgres\ndsn = x\n"
			   "[database b]\ndriver = postgres\ndsn = y\n"
			   "[job j]\nsource = a\ntargets = b\n"; /* line 12 next */
	char text[1024];

	snprintf(text, sizeof text, "%stables =\n", head);
	EXPECT_ERROR("empty tables", text, 12, "tables", "empty");
	snprintf(text, sizeof text, "%stables =   \n", head);
	EXPECT_ERROR("blank tables", text, 12, "tables");
	snprintf(text, sizeof text, "%stables = public.a, , public.b\n", head);
	EXPECT_ERROR("empty item in tables", text, 12, "tables");
	snprintf(text, sizeof text, "%stables = a.b.c\n", head);
	EXPECT_ERROR("three-part name", text, 12, "a.b.c", "schema.table");
	snprintf(text, sizeof text, "%stables = \"unterminated\n", head);
	EXPECT_ERROR("unbalanced quote", text, 12, "quote");
}

static void test_duplicate_sections(void)
{
	EXPECT_ERROR_PLUS("[database] twice", "\n[database src]\ndriver = postgres\ndsn = x\n", 17,
			  "duplicate", "database src", "line 4");
	EXPECT_ERROR_PLUS("[job] twice", "[job j]\nsource = src\n", 16, "duplicate", "job j",
			  "line 12");
	EXPECT_ERROR_PLUS("[job table] twice",
			  "[job j table public.t]\ntarget_table = a\n"
			  "[job j table public.t]\ntarget_table = b\n",
			  18, "duplicate", "line 16");
	EXPECT_ERROR_PLUS("[job table] twice, quoted the second time",
			  "[job j table public.t]\ntarget_table = a\n"
			  "[job j table \"public\".\"t\"]\ntarget_table = b\n",
			  18, "duplicate", "line 16");
	/* [shadowsync] twice would let a key be given twice unnoticed */
	EXPECT_ERROR("[shadowsync] twice",
		     "[shadowsync]\njournal_dir = /x\n[shadowsync]\njournal_dir = /y\n", 3,
		     "duplicate", "shadowsync");
}

static void test_key_twice(void)
{
	EXPECT_ERROR("journal_dir twice", "[shadowsync]\njournal_dir = /x\n\njournal_dir = /y\n", 4,
		     "journal_dir", "twice");
	EXPECT_ERROR("dsn twice",
		     "[shadowsync]\njournal_dir = /x\n[database a]\ndsn = x\ndriver = postgres\n"
		     "dsn = y\n",
		     6, "dsn", "twice");
	EXPECT_ERROR_PLUS("tables twice", "tables = public.u\n", 16, "tables", "twice");
	EXPECT_ERROR_PLUS("job table key twice in [job]",
			  "capture = trigger\nexclude_columns = a\ncapture = trigger\n", 18,
			  "capture", "twice");
	EXPECT_ERROR_PLUS("key twice in [job table]",
			  "[job j table public.t]\ntarget_table = a\ntarget_table = b\n", 18,
			  "target_table", "twice");
}

static void test_table_before_job(void)
{
	EXPECT_ERROR("[job j table t] before [job j]",
		     "[shadowsync]\njournal_dir = /x\n"
		     "[database a]\ndriver = postgres\ndsn = x\n"
		     "[database b]\ndriver = postgres\ndsn = y\n"
		     "[job j table public.t]\ntarget_table = u\n"
		     "[job j]\nsource = a\ntargets = b\ntables = public.t\n",
		     9, "job", "\"j\"");
	EXPECT_ERROR_PLUS("[job table] of another job",
			  "[job k table public.t]\ntarget_table = u\n", 16, "\"k\"");
	EXPECT_ERROR_PLUS("[job table] naming a pattern",
			  "[job j table public.*]\ntarget_table = u\n", 16, "pattern");
	EXPECT_ERROR_PLUS("[job table] with a bad name", "[job j table a.b.c]\ntarget_table = u\n",
			  16, "a.b.c");
}

static void test_timestamp_needs_column(void)
{
	EXPECT_ERROR_PLUS("in [job]", "capture = timestamp\n", 12, "timestamp_column");
	EXPECT_ERROR_PLUS("in [job table]", "\n[job j table public.legacy]\ncapture = timestamp\n",
			  17, "timestamp_column");
	/* a column given at job level serves the table sections */
	struct ss_err err;
	char *t = base_plus("timestamp_column = modified_at\n"
			    "[job j table public.legacy]\ncapture = timestamp\n");
	struct ss_config *cfg = load(t, &err);
	CHECK(cfg != NULL);
	if (!cfg)
		fprintf(stderr, "  %s\n", err.msg);
	ss_config_free(cfg);
	free(t);
}

static void test_key_outside_section(void)
{
	EXPECT_ERROR("first line", "journal_dir = /x\n[shadowsync]\n", 1, "journal_dir", "section");
	EXPECT_ERROR("after comments", "# example\n; more\n\nfsync = off\n[shadowsync]\n", 4,
		     "fsync", "section");
}

static void test_syntax_error(void)
{
	EXPECT_ERROR_PLUS("no =", "just some words\n", 16, "syntax");
	EXPECT_ERROR("no = in [shadowsync]", "[shadowsync]\njournal_dir /x\n", 2, "syntax");
}

/* Long lines (a long tables list or DSN) are read whole, and the next line
 * is still a line of its own. */
static void test_long_lines(void)
{
	struct ss_buf b;
	struct ss_err err;

	ss_buf_init(&b);
	ss_buf_adds(&b, "[shadowsync]\njournal_dir = /x\n"
			"[database a]\ndriver = postgres\n"
			"dsn = host=a dbname=s application_name=");
	for (int i = 0; i < 300; i++)
		ss_buf_addc(&b, (char)('a' + i % 26));
	ss_buf_adds(&b, "\nconnect_timeout = 3s\n"
			"[database b]\ndriver = postgres\ndsn = y\n"
			"[job j]\nsource = a\ntargets = b\ntables = public.t0");
	for (int i = 1; i < 120; i++)
		ss_buf_addf(&b, ", public.\"table number %d\"", i);
	ss_buf_adds(&b, "\npoll_interval = 1s\n");
	struct ss_config *cfg = load(b.data, &err);
	CHECK(cfg != NULL);
	if (!cfg) {
		fprintf(stderr, "  %s\n", err.msg);
		ss_buf_free(&b);
		return;
	}
	CHECK_INT(strlen(cfg->dbs[0].dsn), strlen("host=a dbname=s application_name=") + 300);
	CHECK_INT(cfg->dbs[0].connect_timeout_us, 3 * SEC);
	CHECK_INT(cfg->jobs[0].ntables, 120);
	if (cfg->jobs[0].ntables == 120)
		CHECK_STR(cfg->jobs[0].tables[119].name, "table number 119");
	CHECK_INT(cfg->jobs[0].poll_interval_us, 1 * SEC);
	ss_config_free(cfg);
	ss_buf_free(&b);
}

/* Comments, inline comments, CRLF line ends, blank lines, case. */
static void test_comments_and_layout(void)
{
	struct ss_err err;
	const char *text = "# a comment\r\n"
			   "; another\r\n"
			   "[shadowsync]\r\n"
			   "   journal_dir = /var/lib/shadowsync   ; required\r\n"
			   "fsync = ALWAYS\r\n"
			   "\r\n"
			   "[database lite]\r\n"
			   "driver = odbc\r\n"
			   "dsn = Driver=SQLite3;Database=/tmp/x.db\r\n"
			   "[database wh]\r\n"
			   "driver = mariadb\r\n"
			   "dsn = host=127.0.0.1 port=3306 dbname=wh user=repl\r\n"
			   "[job j]\r\n"
			   "source = lite\r\n"
			   "targets = wh\r\n"
			   "tables = main.t\r\n";
	struct ss_config *cfg = load(text, &err);
	CHECK(cfg != NULL);
	if (!cfg) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	CHECK_STR(cfg->journal_dir, "/var/lib/shadowsync");
	CHECK_INT(cfg->fsync, SS_FSYNC_ALWAYS);
	CHECK_INT(cfg->dbs[0].driver, SS_DRIVER_ODBC);
	CHECK_STR(cfg->dbs[0].dsn, "Driver=SQLite3;Database=/tmp/x.db");
	CHECK_INT(cfg->dbs[1].driver, SS_DRIVER_MARIADB);
	CHECK_STR(cfg->jobs[0].tables[0].schema, "main");
	ss_config_free(cfg);
}

/* ---- defaults ------------------------------------------------------------ */

/* What the key table must say each default is; a key missing here fails the
 * test so that a new key gets its default checked. */
static const struct {
	const char *key, *def;
} expected_defaults[] = {
	{"journal_dir", ""},
	{"fsync", "batch"},
	{"journal_retention", "7d"},
	{"journal_segment_size", "64MB"},
	{"status_listen", ""},
	{"log_level", "info"},
	{"log_format", "text"},
	{"driver", ""},
	{"dsn", ""},
	{"password_env", ""},
	{"connect_timeout", "10s"},
	{"source", ""},
	{"targets", ""},
	{"tables", ""},
	{"poll_interval", "200ms"},
	{"batch_rows", "5000"},
	{"max_backoff", "30s"},
	{"lease_timeout", "30s"},
	{"capture", "trigger"},
	{"timestamp_column", ""},
	{"lookback", "5s"},
	{"delete_detection", "none"},
	{"keyscan_interval", "1m"},
	{"soft_delete_column", ""},
	{"target_table", ""},
	{"exclude_columns", ""},
};

static void test_key_table(void)
{
	int n;
	const struct ss_config_keyinfo *k = ss_config_keys(&n);
	size_t ne = sizeof expected_defaults / sizeof expected_defaults[0];

	CHECK(n > 0);
	CHECK_INT(n, (int)ne);
	for (int i = 0; i < n; i++) {
		size_t e;
		CHECK(k[i].section && k[i].key && k[i].def && k[i].help);
		CHECK(k[i].help && strlen(k[i].help) > 10);
		CHECK(strcmp(k[i].section, "shadowsync") == 0 ||
		      strcmp(k[i].section, "database") == 0 || strcmp(k[i].section, "job") == 0 ||
		      strcmp(k[i].section, "job table") == 0);
		for (e = 0; e < ne; e++)
			if (strcmp(expected_defaults[e].key, k[i].key) == 0)
				break;
		if (e == ne) {
			fprintf(stderr, "  key %s: no expected default in test_config.c\n",
				k[i].key);
			unit_failed_checks++;
			continue;
		}
		CHECK_STR(k[i].def, expected_defaults[e].def);
		/* key names are unique */
		for (int j = 0; j < i; j++)
			CHECK(strcmp(k[i].key, k[j].key) != 0);
	}
}

static void test_defaults_applied(void)
{
	struct ss_err err;
	struct ss_config *cfg = load(BASE, &err);

	CHECK(cfg != NULL);
	if (!cfg)
		return;
	CHECK_INT(cfg->fsync, SS_FSYNC_BATCH);
	CHECK_INT(cfg->journal_retention_us, 7 * 86400 * SEC);
	CHECK_INT(cfg->journal_segment_size, 64ULL << 20);
	CHECK_STR(cfg->status_listen, "");
	CHECK_INT(cfg->log_level, SS_LOG_INFO);
	for (int i = 0; i < cfg->ndbs; i++) {
		CHECK_STR(cfg->dbs[i].password_env, "");
		CHECK_INT(cfg->dbs[i].connect_timeout_us, 10 * SEC);
	}
	struct ss_jobconf *j = &cfg->jobs[0];
	CHECK_INT(j->poll_interval_us, 200 * MS);
	CHECK_INT(j->batch_rows, 5000);
	CHECK_INT(j->max_backoff_us, 30 * SEC);
	CHECK_INT(j->lease_timeout_us, 30 * SEC);
	CHECK_INT(j->defaults.capture, SS_CAPTURE_TRIGGER);
	CHECK_STR(j->defaults.timestamp_column, "");
	CHECK_INT(j->defaults.lookback_us, 5 * SEC);
	CHECK_INT(j->defaults.delete_detection, SS_DELDET_NONE);
	CHECK_INT(j->defaults.keyscan_interval_us, 60 * SEC);
	CHECK_STR(j->defaults.soft_delete_column, "");
	CHECK_STR(j->defaults.target_table, "");
	CHECK_INT(j->defaults.nexclude, 0);
	CHECK_INT(j->ntableconfs, 0);

	/* the effective settings of a table without a section are the job's */
	struct ss_table_settings s;
	ss_config_table_settings(j, "public", "t", &s);
	CHECK_INT(s.capture, SS_CAPTURE_TRIGGER);
	CHECK_INT(s.lookback_us, 5 * SEC);
	CHECK_INT(s.keyscan_interval_us, 60 * SEC);
	CHECK_INT(s.nexclude, 0);
	ss_config_free(cfg);
}

/* Every key set away from its default, in every section kind. */
static void test_every_key_set(void)
{
	struct ss_err err;
	const char *text = "[shadowsync]\n"
			   "journal_dir = /srv/journal\n"
			   "fsync = off\n"
			   "journal_retention = 36h\n"
			   "journal_segment_size = 512KB\n"
			   "status_listen = 127.0.0.1:9187\n"
			   "log_level = debug\n"
			   "[database shop]\n"
			   "driver = postgres\n"
			   "dsn = host=127.0.0.1 port=5432 dbname=shop user=repl\n"
			   "password_env = SHOP_PASSWORD\n"
			   "connect_timeout = 2500ms\n"
			   "[database wh]\n"
			   "driver = mariadb\n"
			   "dsn = host=127.0.0.1 dbname=wh\n"
			   "[database lake]\n"
			   "driver = odbc\n"
			   "dsn = DSN=lake\n"
			   "[job orders]\n"
			   "source = shop\n"
			   "targets = wh, lake\n"
			   "tables = public.orders, public.customers\n"
			   "poll_interval = 50ms\n"
			   "batch_rows = 100\n"
			   "max_backoff = 2m\n"
			   "capture = timestamp\n"
			   "timestamp_column = updated_at\n"
			   "lookback = 10s\n"
			   "delete_detection = keyscan\n"
			   "keyscan_interval = 5m\n"
			   "soft_delete_column = deleted\n"
			   "target_table = ignored_at_job_level\n"
			   "exclude_columns = card_number, \"odd, name\"\n";
	struct ss_config *cfg = load(text, &err);

	CHECK(cfg != NULL);
	if (!cfg) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	CHECK_STR(cfg->journal_dir, "/srv/journal");
	CHECK_INT(cfg->fsync, SS_FSYNC_OFF);
	CHECK_INT(cfg->journal_retention_us, 36 * 3600 * SEC);
	CHECK_INT(cfg->journal_segment_size, 512 * 1024);
	CHECK_STR(cfg->status_listen, "127.0.0.1:9187");
	CHECK_INT(cfg->log_level, SS_LOG_DEBUG);
	struct ss_dbconf *shop = ss_config_db(cfg, "shop");
	CHECK(shop != NULL);
	if (shop) {
		CHECK_STR(shop->password_env, "SHOP_PASSWORD");
		CHECK_INT(shop->connect_timeout_us, 2500 * MS);
	}
	CHECK_INT(ss_config_db(cfg, "wh")->driver, SS_DRIVER_MARIADB);
	CHECK_INT(ss_config_db(cfg, "lake")->driver, SS_DRIVER_ODBC);
	struct ss_jobconf *j = ss_config_job(cfg, "orders");
	CHECK(j != NULL);
	if (j) {
		CHECK_INT(j->ntargets, 2);
		CHECK_STR(j->target_names[0], "wh");
		CHECK_STR(j->target_names[1], "lake");
		CHECK_INT(j->ntables, 2);
		CHECK_INT(j->poll_interval_us, 50 * MS);
		CHECK_INT(j->batch_rows, 100);
		CHECK_INT(j->max_backoff_us, 120 * SEC);
		CHECK_INT(j->defaults.capture, SS_CAPTURE_TIMESTAMP);
		CHECK_STR(j->defaults.timestamp_column, "updated_at");
		CHECK_INT(j->defaults.lookback_us, 10 * SEC);
		CHECK_INT(j->defaults.delete_detection, SS_DELDET_KEYSCAN);
		CHECK_INT(j->defaults.keyscan_interval_us, 300 * SEC);
		CHECK_STR(j->defaults.soft_delete_column, "deleted");
		CHECK_INT(j->defaults.nexclude, 2);
		if (j->defaults.nexclude == 2) {
			CHECK_STR(j->defaults.exclude_columns[0], "card_number");
			CHECK_STR(j->defaults.exclude_columns[1], "odd, name");
		}
	}
	ss_config_free(cfg);
}

/* ---- table names, per-table settings ------------------------------------- */

static void test_table_names(void)
{
	struct ss_err err;
	char *t = base_plus("\n[job k]\nsource = src\ntargets = dst\n"
			    "tables = \"a.b\".\"c,d\", Sales.\"Order Items\", public.order lines,"
			    " public.*, plain, \"we\"\"ird\".\"x\", s?.t_*\n");
	struct ss_config *cfg = load(t, &err);

	free(t);
	CHECK(cfg != NULL);
	if (!cfg) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	struct ss_jobconf *j = ss_config_job(cfg, "k");
	CHECK_INT(j->ntables, 7);
	if (j->ntables != 7) {
		ss_config_free(cfg);
		return;
	}
	CHECK_STR(j->tables[0].schema, "a.b");
	CHECK_STR(j->tables[0].name, "c,d");
	CHECK_INT(j->tables[0].is_pattern, 0);
	CHECK_STR(j->tables[1].schema, "Sales");
	CHECK_STR(j->tables[1].name, "Order Items");
	CHECK_STR(j->tables[2].schema, "public");
	CHECK_STR(j->tables[2].name, "order lines");
	CHECK_STR(j->tables[3].schema, "public");
	CHECK_STR(j->tables[3].name, "*");
	CHECK_INT(j->tables[3].is_pattern, 1);
	CHECK(j->tables[4].schema == NULL);
	CHECK_STR(j->tables[4].name, "plain");
	CHECK_INT(j->tables[4].is_pattern, 0);
	CHECK_STR(j->tables[5].schema, "we\"ird");
	CHECK_STR(j->tables[5].name, "x");
	CHECK_STR(j->tables[6].schema, "s?");
	CHECK_INT(j->tables[6].is_pattern, 1);
	ss_config_free(cfg);
}

static void test_parse_table(void)
{
	struct ss_tablespec s;
	struct ss_err err;

	CHECK_INT(ss_config_parse_table("  public.orders  ", &s, &err), 0);
	CHECK_STR(s.schema, "public");
	CHECK_STR(s.name, "orders");
	ss_tablespec_free(&s);
	CHECK_INT(ss_config_parse_table("\"Mixed Case\".\"a\"\"b\"", &s, &err), 0);
	CHECK_STR(s.schema, "Mixed Case");
	CHECK_STR(s.name, "a\"b");
	ss_tablespec_free(&s);
	CHECK_INT(ss_config_parse_table("\"a.b\"", &s, &err), 0);
	CHECK(s.schema == NULL);
	CHECK_STR(s.name, "a.b");
	ss_tablespec_free(&s);
	ss_tablespec_free(NULL);

	const char *bad[] = {"", "a.b.c", ".t", "s.", "\"open", "\"a\"b", "s.\"t\" x", NULL};
	for (int i = 0; bad[i]; i++) {
		memset(&err, 0, sizeof err);
		int r = ss_config_parse_table(bad[i], &s, &err);
		if (r == 0) {
			fprintf(stderr, "  parse_table accepted \"%s\"\n", bad[i]);
			unit_failed_checks++;
			ss_tablespec_free(&s);
		} else {
			CHECK(strstr(err.msg, "schema.table") != NULL);
		}
	}
}

static void test_split_list(void)
{
	char **v;
	int n;
	struct ss_err err;

	CHECK_INT(ss_config_split_list(" wh ,lake,  \"odd, name\" , \"q\"\"q\"", &v, &n, &err), 0);
	CHECK_INT(n, 4);
	if (n == 4) {
		CHECK_STR(v[0], "wh");
		CHECK_STR(v[1], "lake");
		CHECK_STR(v[2], "odd, name");
		CHECK_STR(v[3], "q\"q");
	}
	ss_strv_free(v, n);
	CHECK_INT(ss_config_split_list("a,,b", &v, &n, &err), -1);
	CHECK_INT(ss_config_split_list("\"a, b", &v, &n, &err), -1);
	CHECK(strstr(err.msg, "quote") != NULL);
	ss_strv_free(NULL, 0);
}

static void test_glob(void)
{
	CHECK(ss_glob_match("*", "orders"));
	CHECK(ss_glob_match("*", ""));
	CHECK(ss_glob_match("ord*", "orders"));
	CHECK(ss_glob_match("*ers", "orders"));
	CHECK(ss_glob_match("o?ders", "orders"));
	CHECK(ss_glob_match("o*d*s", "orders"));
	CHECK(!ss_glob_match("ord", "orders"));
	CHECK(!ss_glob_match("?", ""));
	CHECK(!ss_glob_match("x*", "orders"));
	CHECK(ss_glob_match("Order Items", "Order Items"));
	CHECK(!ss_glob_match("order items", "Order Items")); /* case is kept */
}

static void test_table_overrides(void)
{
	struct ss_err err;
	char *t = base_plus("exclude_columns = secret\n"
			    "lookback = 7s\n"
			    "\n"
			    "[job j table public.legacy]\n"
			    "capture = timestamp\n"
			    "timestamp_column = modified_at\n"
			    "target_table = archive.legacy_copy\n"
			    "exclude_columns = card_number, \"ssn, full\"\n"
			    "\n"
			    "[job j table Sales.\"Order Items\"]\n"
			    "target_table = order_items\n"
			    "\n"
			    "[job j table anywhere]\n"
			    "soft_delete_column = gone\n");
	struct ss_config *cfg = load(t, &err);
	struct ss_table_settings s;

	free(t);
	CHECK(cfg != NULL);
	if (!cfg) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	struct ss_jobconf *j = &cfg->jobs[0];
	CHECK_INT(j->ntableconfs, 3);

	/* the overridden table */
	ss_config_table_settings(j, "public", "legacy", &s);
	CHECK_INT(s.capture, SS_CAPTURE_TIMESTAMP);
	CHECK_STR(s.timestamp_column, "modified_at");
	CHECK_STR(s.target_table, "archive.legacy_copy");
	CHECK_INT(s.nexclude, 2);
	if (s.nexclude == 2) {
		CHECK_STR(s.exclude_columns[0], "card_number");
		CHECK_STR(s.exclude_columns[1], "ssn, full");
	}
	CHECK_INT(s.lookback_us, 7 * SEC); /* not overridden: the job's value */

	/* a table without a section: the job's values */
	ss_config_table_settings(j, "public", "orders", &s);
	CHECK_INT(s.capture, SS_CAPTURE_TRIGGER);
	CHECK_STR(s.target_table, "");
	CHECK_INT(s.nexclude, 1);
	if (s.nexclude == 1)
		CHECK_STR(s.exclude_columns[0], "secret");

	/* same name, other schema: not overridden */
	ss_config_table_settings(j, "other", "legacy", &s);
	CHECK_INT(s.capture, SS_CAPTURE_TRIGGER);
	CHECK_STR(s.target_table, "");

	/* quoted name with a space; exclusions inherited from the job */
	ss_config_table_settings(j, "Sales", "Order Items", &s);
	CHECK_STR(s.target_table, "order_items");
	CHECK_INT(s.nexclude, 1);
	ss_config_table_settings(j, "sales", "Order Items", &s); /* case is kept */
	CHECK_STR(s.target_table, "");

	/* a section without a schema applies in any schema */
	ss_config_table_settings(j, "public", "anywhere", &s);
	CHECK_STR(s.soft_delete_column, "gone");
	ss_config_table_settings(j, "x", "anywhere", &s);
	CHECK_STR(s.soft_delete_column, "gone");
	ss_config_free(cfg);
}

/* ---- values ---------------------------------------------------------------- */

static void test_durations_and_sizes(void)
{
	static const struct {
		const char *text;
		long long us;
	} durs[] = {{"200ms", 200 * MS}, {"5s", 5 * SEC},         {"2m", 120 * SEC},
		    {"1h", 3600 * SEC},  {"7d", 7 * 86400 * SEC}, {"90", 90 * SEC},
		    {"1.5s", 1500 * MS}, {"2 m", 120 * SEC}};
	static const struct {
		const char *text;
		unsigned long long bytes;
	} sizes[] = {{"512KB", 512ULL << 10},
		     {"64MB", 64ULL << 20},
		     {"1GB", 1ULL << 30},
		     {"4096", 4096},
		     {"100B", 100}};
	struct ss_err err;
	char extra[128];

	for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
		snprintf(extra, sizeof extra, "poll_interval = %s\nmax_backoff = %s\n",
			 durs[i].text, durs[i].text);
		char *t = base_plus(extra);
		struct ss_config *cfg = load(t, &err);
		free(t);
		CHECK(cfg != NULL);
		if (!cfg) {
			fprintf(stderr, "  duration %s: %s\n", durs[i].text, err.msg);
			continue;
		}
		CHECK_INT(cfg->jobs[0].poll_interval_us, durs[i].us);
		CHECK_INT(cfg->jobs[0].max_backoff_us, durs[i].us);
		ss_config_free(cfg);
	}
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char line[128];
		snprintf(line, sizeof line, "journal_segment_size = %s", sizes[i].text);
		char *text = with_main(line);
		struct ss_config *cfg = load(text, &err);
		free(text);
		CHECK(cfg != NULL);
		if (!cfg) {
			fprintf(stderr, "  size %s: %s\n", sizes[i].text, err.msg);
			continue;
		}
		CHECK_INT(cfg->journal_segment_size, sizes[i].bytes);
		ss_config_free(cfg);
	}
	EXPECT_ERROR("size given as a duration",
		     "[shadowsync]\njournal_dir = /x\njournal_segment_size = 5s\n", 3, "size");
	EXPECT_ERROR("duration given as a size",
		     "[shadowsync]\njournal_dir = /x\njournal_retention = 64MB\n", 3, "duration");
}

static void test_password_env(void)
{
	struct ss_err err;
	const char *text = "[shadowsync]\njournal_dir = /x\n"
			   "[database shop]\ndriver = postgres\ndsn = host=a\n"
			   "password_env = SS_TEST_SHOP_PASSWORD\n"
			   "[database plain]\ndriver = postgres\ndsn = host=b\n"
			   "[job j]\nsource = shop\ntargets = plain\ntables = t\n";
	struct ss_config *cfg = load(text, &err);

	CHECK(cfg != NULL);
	if (!cfg) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	struct ss_dbconf *shop = ss_config_db(cfg, "shop"), *plain = ss_config_db(cfg, "plain");
	CHECK_STR(shop->password_env, "SS_TEST_SHOP_PASSWORD");
	unsetenv("SS_TEST_SHOP_PASSWORD");
	CHECK(ss_db_password(shop) == NULL);
	setenv("SS_TEST_SHOP_PASSWORD", "s3cret pass", 1);
	CHECK_STR(ss_db_password(shop), "s3cret pass");
	CHECK(ss_db_password(plain) == NULL);
	unsetenv("SS_TEST_SHOP_PASSWORD");
	ss_config_free(cfg);
}

static void test_load_file_errors(void)
{
	struct ss_err err;

	memset(&err, 0, sizeof err);
	CHECK(ss_config_load("/nonexistent/dir/shadowsync.ini", &err) == NULL);
	CHECK(strstr(err.msg, "/nonexistent/dir/shadowsync.ini") != NULL);
	CHECK(strchr(err.msg, '\n') == NULL);
}

/* ---- strict input ------------------------------------------------------------ */

/* A valid file whose [shadowsync] section holds main_extra on line 3. */
static char *with_main(const char *main_extra)
{
	struct ss_buf b;

	ss_buf_init(&b);
	ss_buf_addf(&b,
		    "[shadowsync]\njournal_dir = /x\n%s\n"
		    "[database a]\ndriver = postgres\ndsn = x\n"
		    "[database b]\ndriver = postgres\ndsn = y\n"
		    "[job j]\nsource = a\ntargets = b\ntables = t\n",
		    main_extra);
	return ss_buf_steal(&b);
}

static void test_no_job(void)
{
	EXPECT_ERROR("only [shadowsync]", "[shadowsync]\njournal_dir = /x\n", 2, "no [job NAME]");
	EXPECT_ERROR("databases, no job",
		     "[shadowsync]\njournal_dir = /x\n[database a]\ndriver = postgres\ndsn = x\n",
		     5, "no [job NAME]");
}

static void test_relative_journal_dir(void)
{
	char *t = with_main("log_level = info");
	char *rel = strstr(t, "= /x");

	rel[2] = 'x';
	rel[3] = ' ';
	EXPECT_ERROR("journal_dir = x", t, 2, "journal_dir", "\"x\"", "absolute");
	free(t);
	EXPECT_ERROR("journal_dir = ./j", "[shadowsync]\njournal_dir = ./j\n", 2, "absolute");
}

static void test_positive_durations(void)
{
	EXPECT_ERROR_PLUS("poll_interval = 0", "poll_interval = 0\n", 16, "poll_interval",
			  "more than zero");
	EXPECT_ERROR_PLUS("poll_interval = 0ms", "poll_interval = 0ms\n", 16, "poll_interval");
	EXPECT_ERROR_PLUS("max_backoff = 0s", "max_backoff = 0s\n", 16, "max_backoff");
	EXPECT_ERROR_PLUS("keyscan_interval = 0m", "keyscan_interval = 0m\n", 16,
			  "keyscan_interval");
	EXPECT_ERROR("connect_timeout = 0",
		     "[shadowsync]\njournal_dir = /x\n[database a]\ndriver = postgres\ndsn = x\n"
		     "connect_timeout = 0\n",
		     6, "connect_timeout", "more than zero");
	/* zero is meaningful for these: keep nothing longer than needed, no look-back */
	char *t = base_plus("lookback = 0s\n");
	struct ss_err err;
	struct ss_config *cfg = load(t, &err);
	CHECK(cfg != NULL);
	ss_config_free(cfg);
	free(t);
	t = with_main("journal_retention = 0s");
	cfg = load(t, &err);
	CHECK(cfg != NULL);
	ss_config_free(cfg);
	free(t);
}

static void test_status_listen(void)
{
	static const char *const bad[] = {
		"127.0.0.1:abc", ":0",       ":99999",   "127.0.0.1:0", "127.0.0.1",
		"127.0.0.1:",    "::1:9187", "[::1]",    "[]:9187",     "[::1]9187",
		"host:12ab",     "host:-1",  "host:+80", "host:65536",  "[::1]:0",
	};
	static const char *const good[] = {"127.0.0.1:9187", "[::1]:9187", "localhost:1",
					   "0.0.0.0:65535", "[fe80::1%eth0]:80"};
	char line[128];

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		snprintf(line, sizeof line, "status_listen = %s", bad[i]);
		char *t = with_main(line);
		EXPECT_ERROR(bad[i], t, 3, "status_listen", bad[i], "host:port");
		free(t);
	}
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		struct ss_err err;
		snprintf(line, sizeof line, "status_listen = %s", good[i]);
		char *t = with_main(line);
		struct ss_config *cfg = load(t, &err);
		if (!cfg) {
			fprintf(stderr, "  status_listen = %s refused: %s\n", good[i], err.msg);
			unit_failed_checks++;
		} else {
			CHECK_STR(cfg->status_listen, good[i]);
		}
		ss_config_free(cfg);
		free(t);
	}
	char *t = with_main("status_listen =");
	struct ss_err err;
	struct ss_config *cfg = load(t, &err);
	CHECK(cfg != NULL && cfg->status_listen && !*cfg->status_listen); /* empty: off */
	ss_config_free(cfg);
	free(t);
}

/* A long value or name is cut in the message, which keeps saying what was
 * expected, on one line. */
static void test_long_values_in_errors(void)
{
	struct ss_buf b;
	char *big = ss_xmalloc(5001);

	memset(big, 'x', 5000);
	big[5000] = '\0';
	ss_buf_init(&b);
	ss_buf_addf(&b, "fsync = %s", big);
	char *t = with_main(b.data);
	EXPECT_ERROR("long fsync", t, 3, "fsync", "5000 bytes", "(expected off, batch or always)");
	free(t);
	ss_buf_reset(&b);
	ss_buf_addf(&b, "%s = 1", big);
	t = with_main(b.data);
	EXPECT_ERROR("long key name", t, 3, "unknown key", "5000 bytes",
		     "expected one of:", "journal_dir");
	free(t);
	ss_buf_reset(&b);
	ss_buf_addf(&b, "poll_interval = %s\n", big);
	t = base_plus(b.data);
	EXPECT_ERROR("long duration", t, 16, "poll_interval", "5000 bytes", "expected");
	free(t);
	ss_buf_reset(&b);
	ss_buf_addf(&b, "[job %s]\n", big);
	t = base_plus(b.data);
	EXPECT_ERROR("long section header", t, 16, "5006 bytes", "too long");
	free(t);
	ss_buf_free(&b);
	free(big);
}

static void test_load_file_strict(void)
{
	struct ss_err err;
	char path[] = "/tmp/ss-test-config-XXXXXX";
	int fd = mkstemp(path);
	static const char text[] = "[shadowsync]\njournal_dir = /x\nlog_level = info\0\n"
				   "[database a]\n";

	CHECK(fd >= 0);
	CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
	close(fd);
	memset(&err, 0, sizeof err);
	CHECK(ss_config_load(path, &err) == NULL);
	char prefix[64];
	snprintf(prefix, sizeof prefix, "%s:3: ", path);
	CHECK(strncmp(err.msg, prefix, strlen(prefix)) == 0);
	CHECK(strstr(err.msg, "NUL") != NULL);
	unlink(path);
	/* -c naming a directory */
	memset(&err, 0, sizeof err);
	CHECK(ss_config_load("/tmp", &err) == NULL);
	CHECK(strstr(err.msg, "/tmp") != NULL);
	CHECK(strstr(err.msg, "directory") != NULL);
	CHECK(strstr(err.msg, "missing required key") == NULL);
}

/* ---- documentation ---------------------------------------------------------- */

static char *read_file(const char *rel)
{
	static const char *const prefixes[] = {"", "../../", "../", NULL};
	char path[512];

	for (int i = 0; prefixes[i]; i++) {
		snprintf(path, sizeof path, "%s%s", prefixes[i], rel);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		struct ss_buf b;
		char chunk[4096];
		size_t n;
		ss_buf_init(&b);
		while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
			ss_buf_add(&b, chunk, n);
		fclose(f);
		return ss_buf_steal(&b);
	}
	fprintf(stderr, "  cannot find %s (run from the repository root)\n", rel);
	unit_failed_checks++;
	return NULL;
}

/* The line of text that starts with prefix (after leading blanks), or NULL. */
static char *line_starting(const char *text, const char *prefix, char *out, size_t outlen)
{
	const char *p = text;

	while (p && *p) {
		const char *s = p;
		while (*s == ' ' || *s == '\t')
			s++;
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (strncmp(s, prefix, strlen(prefix)) == 0) {
			snprintf(out, outlen, "%.*s", (int)len, p);
			return out;
		}
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}

/* doc/configuration.md has a table row "| `key` | ... | `default` | ..." for
 * every key of the key table. */
static void test_doc_lists_every_key(void)
{
	char *doc = read_file("doc/configuration.md");
	int n;
	const struct ss_config_keyinfo *k = ss_config_keys(&n);

	if (!doc)
		return;
	for (int i = 0; i < n; i++) {
		char prefix[128], row[2048], def[128];
		snprintf(prefix, sizeof prefix, "| `%s` |", k[i].key);
		if (!line_starting(doc, prefix, row, sizeof row)) {
			fprintf(stderr, "  doc/configuration.md has no row \"%s ...\" for key %s\n",
				prefix, k[i].key);
			unit_failed_checks++;
			continue;
		}
		if (*k[i].def) {
			snprintf(def, sizeof def, "`%s`", k[i].def);
			if (!strstr(row, def)) {
				fprintf(stderr,
					"  doc/configuration.md: key %s: default %s not in its "
					"row\n",
					k[i].key, def);
				unit_failed_checks++;
			}
		}
	}
	free(doc);
}

/* etc/shadowsync.ini shows every key, set or commented out ("; key = ..."). */
static void test_example_has_every_key(void)
{
	char *ini = read_file("etc/shadowsync.ini");
	int n;
	const struct ss_config_keyinfo *k = ss_config_keys(&n);

	if (!ini)
		return;
	for (int i = 0; i < n; i++) {
		int found = 0;
		for (const char *p = ini; p && *p && !found;) {
			const char *s = p;
			while (*s == ' ' || *s == '\t')
				s++;
			if (*s == ';' || *s == '#')
				s++;
			while (*s == ' ' || *s == '\t')
				s++;
			size_t kl = strlen(k[i].key);
			if (strncmp(s, k[i].key, kl) == 0) {
				s += kl;
				while (*s == ' ' || *s == '\t')
					s++;
				found = *s == '=';
			}
			p = strchr(p, '\n');
			if (p)
				p++;
		}
		if (!found) {
			fprintf(stderr, "  etc/shadowsync.ini has no line \"%s = ...\"\n",
				k[i].key);
			unit_failed_checks++;
		}
	}
	free(ini);
}

static void test_example_loads(void)
{
	static const char *const paths[] = {"etc/shadowsync.ini", "../../etc/shadowsync.ini", NULL};
	struct ss_err err;
	struct ss_config *cfg = NULL;
	int i;

	for (i = 0; paths[i]; i++) {
		FILE *f = fopen(paths[i], "r");
		if (!f)
			continue;
		fclose(f);
		memset(&err, 0, sizeof err);
		cfg = ss_config_load(paths[i], &err);
		break;
	}
	if (!paths[i]) {
		fprintf(stderr, "  etc/shadowsync.ini not found\n");
		unit_failed_checks++;
		return;
	}
	CHECK(cfg != NULL);
	if (!cfg) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	/* what the example promises: a PostgreSQL source, PostgreSQL and
	 * MariaDB targets, a per-table section */
	int pg = 0, maria = 0, sections = 0;
	for (int d = 0; d < cfg->ndbs; d++) {
		pg += cfg->dbs[d].driver == SS_DRIVER_POSTGRES;
		maria += cfg->dbs[d].driver == SS_DRIVER_MARIADB;
	}
	CHECK(pg >= 2);
	CHECK(maria >= 1);
	CHECK(cfg->njobs >= 1);
	for (int j = 0; j < cfg->njobs; j++) {
		CHECK_INT(cfg->jobs[j].source->driver, SS_DRIVER_POSTGRES);
		sections += cfg->jobs[j].ntableconfs;
	}
	CHECK(sections >= 1);
	ss_config_free(cfg);
}

int main(void)
{
	UNIT_RUN(test_base_is_valid);
	UNIT_RUN(test_unknown_section);
	UNIT_RUN(test_unknown_key);
	UNIT_RUN(test_missing_required);
	UNIT_RUN(test_undefined_database);
	UNIT_RUN(test_bad_values);
	UNIT_RUN(test_empty_tables);
	UNIT_RUN(test_key_twice);
	UNIT_RUN(test_key_outside_section);
	UNIT_RUN(test_syntax_error);
	UNIT_RUN(test_long_lines);
	UNIT_RUN(test_comments_and_layout);
	UNIT_RUN(test_key_table);
	UNIT_RUN(test_defaults_applied);
	UNIT_RUN(test_every_key_set);
	UNIT_RUN(test_table_names);
	UNIT_RUN(test_parse_table);
	UNIT_RUN(test_split_list);
	UNIT_RUN(test_glob);
	UNIT_RUN(test_durations_and_sizes);
	UNIT_RUN(test_password_env);
	UNIT_RUN(test_load_file_errors);
	UNIT_RUN(test_no_job);
	UNIT_RUN(test_relative_journal_dir);
	UNIT_RUN(test_positive_durations);
	UNIT_RUN(test_status_listen);
	UNIT_RUN(test_long_values_in_errors);
	UNIT_RUN(test_load_file_strict);
	UNIT_RUN(test_doc_lists_every_key);
	UNIT_RUN(test_example_has_every_key);
	UNIT_RUN(test_example_loads);
	/* these set keys in [job J table T] sections */
	UNIT_RUN(test_duplicate_sections);
	UNIT_RUN(test_table_before_job);
	UNIT_RUN(test_timestamp_needs_column);
	UNIT_RUN(test_table_overrides);
	return UNIT_DONE();
}
