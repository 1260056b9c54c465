/*
 * config.c -- loading and validating the INI configuration.
 *
 * inih does the tokenising; a line-counting reader gives every error its
 * file:line.  The key table below is the single description of every key:
 * which section it belongs to, its type, where it is stored, its default and
 * its one-line help.  Parsing, defaults and the documentation test all read
 * it.  After the file is read, cross-references (a job's source and targets)
 * are resolved and the whole config is validated; on any error nothing is
 * returned.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum sec_kind { SEC_NONE, SEC_MAIN, SEC_DB, SEC_JOB, SEC_TABLE };
/* T_PDUR: a duration that must be above zero; T_LISTEN: host:port, [v6]:port
 * or empty */
enum key_type { T_STR, T_DUR, T_PDUR, T_SIZE, T_INT, T_ENUM, T_LIST, T_TABLES, T_LISTEN };

struct key {
	int sec; /* SEC_MAIN, SEC_DB, SEC_JOB; SEC_TABLE keys are also valid in [job] */
	const char *name;
	int type;
	size_t off;     /* into ss_config, ss_dbconf, ss_jobconf or ss_table_settings */
	size_t cnt_off; /* T_LIST / T_TABLES: where the count goes */
	const char *const *enums;
	const char *def; /* NULL: no default; "" documented as empty */
	int required;
	const char *help;
};

static const char *const fsync_vals[] = {"off", "batch", "always", NULL};
static const char *const level_vals[] = {"error", "warn", "info", "debug", NULL};
static const char *const logfmt_vals[] = {"text", "json", NULL};
static const char *const driver_vals[] = {"postgres", "mariadb", "odbc", NULL};
static const char *const capture_vals[] = {"trigger", "timestamp", NULL};
static const char *const deldet_vals[] = {"none", "keyscan", NULL};

#define CFG(f) offsetof(struct ss_config, f)
#define DB(f) offsetof(struct ss_dbconf, f)
#define JOB(f) offsetof(struct ss_jobconf, f)
#define TS(f) offsetof(struct ss_table_settings, f)

static const struct key keys[] = {
	{SEC_MAIN, "journal_dir", T_STR, CFG(journal_dir), 0, NULL, NULL, 1,
	 "directory of the journal (one subdirectory per job); must be on local disk"},
	{SEC_MAIN, "fsync", T_ENUM, CFG(fsync), 0, fsync_vals, "batch", 0,
	 "batch: one fsync per captured batch; always: also sync directories; off: never (tests "
	 "only)"},
	{SEC_MAIN, "journal_retention", T_DUR, CFG(journal_retention_us), 0, NULL, "7d", 0,
	 "journal kept at least this long, and always until every target applied it"},
	{SEC_MAIN, "journal_segment_size", T_SIZE, CFG(journal_segment_size), 0, NULL, "64MB", 0,
	 "size at which a journal segment file is closed and a new one started"},
	{SEC_MAIN, "status_listen", T_LISTEN, CFG(status_listen), 0, NULL, "", 0,
	 "address:port of the HTTP /status and /metrics endpoint; empty = off"},
	{SEC_MAIN, "log_level", T_ENUM, CFG(log_level), 0, level_vals, "info", 0,
	 "error, warn, info or debug"},
	{SEC_MAIN, "log_format", T_ENUM, CFG(log_format), 0, logfmt_vals, "text", 0,
	 "text: one line a message; json: one JSON object a line, for log shippers"},

	{SEC_DB, "driver", T_ENUM, DB(driver), 0, driver_vals, NULL, 1,
	 "postgres (libpq), mariadb (Connector/C) or odbc (unixODBC)"},
	{SEC_DB, "dsn", T_STR, DB(dsn), 0, NULL, NULL, 1,
	 "libpq-style key=value pairs; for odbc an ODBC connection string or DSN=name"},
	{SEC_DB, "password_env", T_STR, DB(password_env), 0, NULL, "", 0,
	 "name of an environment variable holding the password (kept out of the file)"},
	{SEC_DB, "connect_timeout", T_PDUR, DB(connect_timeout_us), 0, NULL, "10s", 0,
	 "how long a connection attempt may take"},

	{SEC_JOB, "source", T_STR, JOB(source_name), 0, NULL, NULL, 1,
	 "the [database] changes are captured from"},
	{SEC_JOB, "targets", T_LIST, JOB(target_names), JOB(ntargets), NULL, NULL, 1,
	 "one or more [database] names changes are applied to, comma-separated"},
	{SEC_JOB, "tables", T_TABLES, JOB(tables), JOB(ntables), NULL, NULL, 1,
	 "schema.table names (exact catalog names; patterns like public.* allowed)"},
	{SEC_JOB, "poll_interval", T_PDUR, JOB(poll_interval_us), 0, NULL, "200ms", 0,
	 "how often the capture looks for changes (PostgreSQL also wakes on NOTIFY)"},
	{SEC_JOB, "batch_rows", T_INT, JOB(batch_rows), 0, NULL, "5000", 0,
	 "changes per capture read and per target commit (a source transaction is never split)"},
	{SEC_JOB, "max_backoff", T_PDUR, JOB(max_backoff_us), 0, NULL, "30s", 0,
	 "longest wait between retries of a target or source that is down"},
	{SEC_JOB, "lease_timeout", T_DUR, JOB(lease_timeout_us), 0, NULL, "30s", 0,
	 "how long the job lease outlives an owner that went silent (host or network gone)"},

	{SEC_TABLE, "capture", T_ENUM, TS(capture), 0, capture_vals, "trigger", 0,
	 "trigger: shadow rows written by triggers; timestamp: poll a timestamp column"},
	{SEC_TABLE, "timestamp_column", T_STR, TS(timestamp_column), 0, NULL, "", 0,
	 "column the timestamp poller reads (capture = timestamp)"},
	{SEC_TABLE, "lookback", T_DUR, TS(lookback_us), 0, NULL, "5s", 0,
	 "timestamp capture: how far behind the checkpoint each poll re-reads"},
	{SEC_TABLE, "delete_detection", T_ENUM, TS(delete_detection), 0, deldet_vals, "none", 0,
	 "timestamp capture: none, or keyscan (compare source keys with replicated keys)"},
	{SEC_TABLE, "keyscan_interval", T_PDUR, TS(keyscan_interval_us), 0, NULL, "1m", 0,
	 "timestamp capture: how often delete_detection = keyscan runs"},
	{SEC_TABLE, "soft_delete_column", T_STR, TS(soft_delete_column), 0, NULL, "", 0,
	 "timestamp capture: a row whose column is true / not NULL is replicated as a delete"},
	{SEC_TABLE, "target_table", T_STR, TS(target_table), 0, NULL, "", 0,
	 "name of the table on the targets (default: the source's schema.table)"},
	{SEC_TABLE, "exclude_columns", T_LIST, TS(exclude_columns), TS(nexclude), NULL, "", 0,
	 "columns never replicated (comma-separated)"},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const char *sec_label[] = {"", "shadowsync", "database", "job", "job table"};

/* s as it goes into an error message: a long text (a value, a name) is cut
 * to its start and its length, so that the message stays one readable line
 * that still says what was expected. */
static const char *clip(const char *s, char *buf, size_t n)
{
	size_t len = strlen(s), keep = 60;

	if (len <= 100 || n < keep + 32)
		return s;
	while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
		keep--; /* not inside a UTF-8 character */
	snprintf(buf, n, "%.*s... (%zu bytes)", (int)keep, s, len);
	return buf;
}

const struct ss_config_keyinfo *ss_config_keys(int *n)
{
	static struct ss_config_keyinfo info[NKEYS];

	for (size_t i = 0; i < NKEYS; i++) {
		info[i].section = sec_label[keys[i].sec];
		info[i].key = keys[i].name;
		info[i].def = keys[i].def ? keys[i].def : "";
		info[i].help = keys[i].help;
	}
	*n = (int)NKEYS;
	return info;
}

void ss_strv_free(char **v, int n)
{
	if (!v)
		return;
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void ss_tablespec_free(struct ss_tablespec *t)
{
	if (!t)
		return;
	free(t->schema);
	free(t->name);
	t->schema = t->name = NULL;
}

int ss_glob_match(const char *p, const char *s)
{
	if (!*p)
		return !*s;
	if (*p == '*')
		return ss_glob_match(p + 1, s) || (*s && ss_glob_match(p, s + 1));
	if (*s && (*p == '?' || *p == *s))
		return ss_glob_match(p + 1, s + 1);
	return 0;
}

/* Split on commas outside double quotes; quotes are kept (callers that want
 * identifiers run ss_config_parse_table / unquote). */
static int split_raw(const char *s, char ***out, int *n, struct ss_err *err)
{
	char **v = NULL;
	int cnt = 0, inq = 0;
	const char *start = s, *p;

	for (p = s;; p++) {
		if (*p == '"')
			inq = !inq;
		if (*p == '\0' || (*p == ',' && !inq)) {
			char *raw = ss_xstrndup(start, (size_t)(p - start));
			char *copy = ss_xstrdup(ss_trim(raw));
			free(raw);
			if (!*copy) {
				free(copy);
				ss_strv_free(v, cnt);
				char cb[128];
				ss_err_set(err, "empty item in list \"%s\"",
					   clip(s, cb, sizeof cb));
				return -1;
			}
			v = ss_xrealloc(v, sizeof *v * (size_t)(cnt + 1));
			v[cnt++] = copy;
			if (!*p)
				break;
			start = p + 1;
		}
	}
	if (inq) {
		ss_strv_free(v, cnt);
		char cb[128];
		ss_err_set(err, "unbalanced double quote in \"%s\"", clip(s, cb, sizeof cb));
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int ss_config_split_list(const char *s, char ***out, int *n, struct ss_err *err)
{
	char **v;
	int cnt;

	if (split_raw(s, &v, &cnt, err) < 0)
		return -1;
	for (int i = 0; i < cnt; i++) {
		size_t len = strlen(v[i]);
		if (len >= 2 && v[i][0] == '"' && v[i][len - 1] == '"') {
			/* "a""b" -> a"b */
			char *o = v[i], *w = v[i];
			for (size_t k = 1; k + 1 < len; k++) {
				*w++ = o[k];
				if (o[k] == '"' && o[k + 1] == '"')
					k++;
			}
			*w = '\0';
		}
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* One identifier from *p: quoted ("a""b") or bare up to '.' / end. */
static int parse_ident(const char **pp, char **out)
{
	const char *p = *pp;
	struct ss_buf b;

	ss_buf_init(&b);
	if (*p == '"') {
		p++;
		for (;;) {
			if (!*p) {
				ss_buf_free(&b);
				return -1;
			}
			if (*p == '"') {
				if (p[1] == '"') {
					ss_buf_addc(&b, '"');
					p += 2;
					continue;
				}
				p++;
				break;
			}
			ss_buf_addc(&b, *p++);
		}
	} else {
		while (*p && *p != '.')
			ss_buf_addc(&b, *p++);
		/* bare names keep inner spaces but not surrounding ones */
		char *t = ss_trim(b.data ? b.data : (char *)"");
		char *copy = ss_xstrdup(t);
		ss_buf_free(&b);
		if (!*copy) {
			free(copy);
			return -1;
		}
		*pp = p;
		*out = copy;
		return 0;
	}
	*pp = p;
	*out = ss_buf_steal(&b);
	return 0;
}

int ss_config_parse_table(const char *s, struct ss_tablespec *out, struct ss_err *err)
{
	const char *p = s;
	char *a = NULL, *b = NULL;

	memset(out, 0, sizeof *out);
	while (isspace((unsigned char)*p))
		p++;
	if (parse_ident(&p, &a) < 0)
		goto fail;
	if (*p == '.') {
		p++;
		if (parse_ident(&p, &b) < 0)
			goto fail;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p)
		goto fail;
	if (b) {
		out->schema = a;
		out->name = b;
	} else {
		out->name = a;
	}
	out->is_pattern = strpbrk(out->name, "*?") != NULL ||
			  (out->schema && strpbrk(out->schema, "*?") != NULL);
	return 0;
fail:
	free(a);
	free(b);
	char cb[128];
	ss_err_set(err,
		   "invalid table name \"%s\" (expected schema.table; quote names "
		   "holding dots or commas: \"a.b\".\"c,d\")",
		   clip(s, cb, sizeof cb));
	return -1;
}

/* ---- loading ------------------------------------------------------------ */

struct loader {
	struct ss_config *cfg;
	const char *file;
	int line;                /* line of the text most recently read */
	int sec;                 /* kind of the current section */
	void *obj;               /* struct the current section's keys go into */
	struct ss_jobconf *job;  /* current job, for [job J table T] */
	unsigned long long seen; /* keys already given in this section */
	int failed;
	struct ss_err *err;
	const char *text; /* ini_parse_stream reader state */
	size_t off;
	int at_line_start; /* the next reader call starts a new line */
	int main_line;     /* line of [shadowsync], 0 until seen */
};

static int fail_at(struct loader *L, int line, const char *fmt, ...) SS_PRINTF(3, 4);
static int fail_at(struct loader *L, int line, const char *fmt, ...)
{
	char msg[1500];
	va_list ap;

	if (L->failed)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ss_err_set(L->err, "%s:%d: %s", L->file, line, msg);
	L->failed = 1;
	return 0;
}

static void apply_defaults(int sec, void *obj);

static void set_table_defaults(struct ss_table_settings *s)
{
	apply_defaults(SEC_TABLE, s);
}

static int begin_section(struct loader *L, const char *raw)
{
	char name[1024], word2[1024], cb[128];
	const char *p;

	L->seen = 0;
	L->sec = SEC_NONE;
	L->obj = NULL;
	snprintf(name, sizeof name, "%s", raw);
	char *s = ss_trim(name);
	if (strcmp(s, "shadowsync") == 0) {
		if (L->main_line)
			return fail_at(L, L->line,
				       "duplicate section [shadowsync] (first at line %d)",
				       L->main_line);
		L->main_line = L->line;
		L->sec = SEC_MAIN;
		L->obj = L->cfg;
		return 0;
	}
	p = s;
	size_t wl = strcspn(p, " \t");
	if (wl >= sizeof word2)
		wl = sizeof word2 - 1;
	memcpy(word2, p, wl);
	word2[wl] = '\0';
	p += wl;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strcmp(word2, "database") == 0 && *p) {
		for (int i = 0; i < L->cfg->ndbs; i++)
			if (strcmp(L->cfg->dbs[i].name, p) == 0)
				return fail_at(L, L->line,
					       "duplicate section [database %s] (first at line %d)",
					       clip(p, cb, sizeof cb), L->cfg->dbs[i].line);
		L->cfg->dbs =
			ss_xrealloc(L->cfg->dbs, sizeof *L->cfg->dbs * (size_t)(L->cfg->ndbs + 1));
		struct ss_dbconf *db = &L->cfg->dbs[L->cfg->ndbs++];
		memset(db, 0, sizeof *db);
		db->name = ss_xstrdup(p);
		db->line = L->line;
		apply_defaults(SEC_DB, db);
		db->driver = -1; /* required: no default */
		L->sec = SEC_DB;
		L->obj = db;
		return 0;
	}
	if (strcmp(word2, "job") == 0 && *p) {
		const char *t = strstr(p, " table ");
		char jobname[512];
		if (!t) {
			t = strstr(p, "\ttable ");
		}
		size_t jl = t ? (size_t)(t - p) : strlen(p);
		snprintf(jobname, sizeof jobname, "%.*s", (int)jl, p);
		char *jn = ss_trim(jobname);
		for (const char *q = jn; *q; q++)
			if (!isalnum((unsigned char)*q) && *q != '_')
				return fail_at(
					L, L->line,
					"job name \"%s\" may hold only letters, digits and _ (it "
					"names database objects)",
					clip(jn, cb, sizeof cb));
		if (!t) {
			for (int i = 0; i < L->cfg->njobs; i++)
				if (strcmp(L->cfg->jobs[i].name, jn) == 0)
					return fail_at(
						L, L->line,
						"duplicate section [job %s] (first at line %d)", jn,
						L->cfg->jobs[i].line);
			L->cfg->jobs = ss_xrealloc(
				L->cfg->jobs, sizeof *L->cfg->jobs * (size_t)(L->cfg->njobs + 1));
			struct ss_jobconf *job = &L->cfg->jobs[L->cfg->njobs++];
			memset(job, 0, sizeof *job);
			job->name = ss_xstrdup(jn);
			job->line = L->line;
			apply_defaults(SEC_JOB, job);
			set_table_defaults(&job->defaults);
			L->sec = SEC_JOB;
			L->obj = job;
			return 0;
		}
		/* [job J table T] */
		struct ss_jobconf *job = NULL;
		for (int i = 0; i < L->cfg->njobs; i++)
			if (strcmp(L->cfg->jobs[i].name, jn) == 0)
				job = &L->cfg->jobs[i];
		if (!job)
			return fail_at(
				L, L->line,
				"section [%s] names job \"%s\", which is not defined above it",
				clip(s, cb, sizeof cb), jn);
		struct ss_tablespec spec;
		struct ss_err e;
		if (ss_config_parse_table(t + 7, &spec, &e) < 0)
			return fail_at(L, L->line, "%s", e.msg);
		for (int i = 0; i < job->ntableconfs; i++) {
			struct ss_tablespec *o = &job->tableconfs[i].spec;
			if (strcmp(o->name, spec.name) == 0 &&
			    ((!o->schema && !spec.schema) ||
			     (o->schema && spec.schema && strcmp(o->schema, spec.schema) == 0))) {
				int first = job->tableconfs[i].line;
				ss_tablespec_free(&spec);
				return fail_at(L, L->line,
					       "duplicate section [%s] (first at line %d)",
					       clip(s, cb, sizeof cb), first);
			}
		}
		job->tableconfs = ss_xrealloc(
			job->tableconfs, sizeof *job->tableconfs * (size_t)(job->ntableconfs + 1));
		struct ss_tableconf *tc = &job->tableconfs[job->ntableconfs++];
		memset(tc, 0, sizeof *tc);
		tc->spec = spec;
		tc->line = L->line;
		set_table_defaults(&tc->s);
		L->sec = SEC_TABLE;
		L->obj = tc;
		L->job = job;
		return 0;
	}
	return fail_at(L, L->line,
		       "unknown section [%s] (expected [shadowsync], [database NAME], [job NAME] "
		       "or [job NAME table SCHEMA.TABLE])",
		       clip(s, cb, sizeof cb));
}

static int parse_enum(const char *const *vals, const char *v)
{
	for (int i = 0; vals[i]; i++)
		if (strcasecmp(vals[i], v) == 0)
			return i;
	return -1;
}

static void enum_list(const char *const *vals, char *out, size_t n)
{
	out[0] = '\0';
	for (int i = 0; vals[i]; i++) {
		size_t l = strlen(out);
		snprintf(out + l, n - l, "%s%s",
			 i == 0      ? "" :
			 vals[i + 1] ? ", " :
				       " or ",
			 vals[i]);
	}
}

/* Store value v for key k into obj.  Returns 0 or -1 with msg filled. */
/* "host:port" or "[v6 address]:port", port 1-65535. */
static int valid_listen(const char *v)
{
	const char *colon;
	char *end;
	long port;

	if (*v == '[') {
		const char *close = strchr(v, ']');
		if (!close || close == v + 1 || close[1] != ':')
			return 0;
		colon = close + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon || colon == v || memchr(v, ':', (size_t)(colon - v)))
			return 0;
	}
	if (!isdigit((unsigned char)colon[1]))
		return 0;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return !errno && !*end && port >= 1 && port <= 65535;
}

static int store(const struct key *k, void *obj, const char *v, char *msg, size_t msglen,
		 int from_default)
{
	char cb[128];

	char *base = obj;
	struct ss_err e;

	switch (k->type) {
	case T_LISTEN:
		if (*v && !valid_listen(v)) {
			snprintf(msg, msglen,
				 "invalid address \"%s\" for %s (expected host:port or [v6 "
				 "address]:port with a port from 1 to 65535, e.g. 127.0.0.1:9187)",
				 clip(v, cb, sizeof cb), k->name);
			return -1;
		}
		/* fall through */
	case T_STR: {
		char **dst = (char **)(base + k->off);
		free(*dst);
		*dst = ss_xstrdup(v);
		return 0;
	}
	case T_DUR:
	case T_PDUR:
		if (ss_parse_duration(v, (int64_t *)(base + k->off)) < 0 ||
		    (k->type == T_PDUR && *(int64_t *)(base + k->off) <= 0)) {
			snprintf(msg, msglen,
				 "invalid duration \"%s\" for %s (expected %se.g. 200ms, 5s, 2m, "
				 "1h, 7d)",
				 clip(v, cb, sizeof cb), k->name,
				 k->type == T_PDUR ? "more than zero, " : "");
			return -1;
		}
		return 0;
	case T_SIZE:
		if (ss_parse_size(v, (uint64_t *)(base + k->off)) < 0) {
			snprintf(msg, msglen,
				 "invalid size \"%s\" for %s (expected e.g. 512KB, 64MB, 1GB)",
				 clip(v, cb, sizeof cb), k->name);
			return -1;
		}
		return 0;
	case T_INT: {
		char *end;
		errno = 0;
		long long x = strtoll(v, &end, 10);
		if (errno || end == v || *ss_trim(end) || x <= 0) {
			snprintf(msg, msglen,
				 "invalid value \"%s\" for %s (expected a positive whole number)",
				 clip(v, cb, sizeof cb), k->name);
			return -1;
		}
		*(int64_t *)(base + k->off) = x;
		return 0;
	}
	case T_ENUM: {
		int x = parse_enum(k->enums, v);
		if (x < 0) {
			char l[256];
			enum_list(k->enums, l, sizeof l);
			snprintf(msg, msglen, "invalid value \"%s\" for %s (expected %s)",
				 clip(v, cb, sizeof cb), k->name, l);
			return -1;
		}
		*(int *)(base + k->off) = x;
		return 0;
	}
	case T_LIST: {
		char ***dst = (char ***)(base + k->off);
		int *cnt = (int *)(base + k->cnt_off);
		ss_strv_free(*dst, *cnt);
		*dst = NULL;
		*cnt = 0;
		if (from_default && !*v)
			return 0;
		if (ss_config_split_list(v, dst, cnt, &e) < 0) {
			snprintf(msg, msglen, "invalid list for %s: %s", k->name, e.msg);
			return -1;
		}
		return 0;
	}
	case T_TABLES: {
		struct ss_tablespec **dst = (struct ss_tablespec **)(base + k->off);
		int *cnt = (int *)(base + k->cnt_off);
		char **items;
		int n;
		if (!*v) {
			snprintf(msg, msglen,
				 "tables is empty (expected one or more schema.table names)");
			return -1;
		}
		if (split_raw(v, &items, &n, &e) < 0) {
			snprintf(msg, msglen, "invalid tables list: %s", e.msg);
			return -1;
		}
		struct ss_tablespec *t = ss_xcalloc((size_t)n, sizeof *t);
		for (int i = 0; i < n; i++) {
			if (ss_config_parse_table(items[i], &t[i], &e) < 0) {
				snprintf(msg, msglen, "%s", e.msg);
				for (int j = 0; j < i; j++)
					ss_tablespec_free(&t[j]);
				free(t);
				ss_strv_free(items, n);
				return -1;
			}
		}
		ss_strv_free(items, n);
		for (int i = 0; i < *cnt; i++)
			ss_tablespec_free(&(*dst)[i]);
		free(*dst);
		*dst = t;
		*cnt = n;
		return 0;
	}
	}
	return -1;
}

static void apply_defaults(int sec, void *obj)
{
	char msg[256];

	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sec == sec && keys[i].def)
			(void)store(&keys[i], obj, keys[i].def, msg, sizeof msg, 1);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct loader *L = user;
	char msg[1200];
	void *obj = L->obj;
	int kidx = -1;

	(void)section;
	if (L->failed)
		return 0;
	if (L->sec == SEC_NONE) {
		char nb[128];
		return fail_at(L, L->line, "key \"%s\" outside of any section",
			       clip(name, nb, sizeof nb));
	}
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, name) != 0)
			continue;
		if (keys[i].sec == L->sec) {
			kidx = (int)i;
			break;
		}
		if (keys[i].sec == SEC_TABLE && L->sec == SEC_JOB) {
			kidx = (int)i;
			obj = &((struct ss_jobconf *)L->obj)->defaults;
			break;
		}
	}
	if (kidx < 0) {
		char known[800] = "";
		for (size_t i = 0; i < NKEYS; i++) {
			if (keys[i].sec == L->sec ||
			    (keys[i].sec == SEC_TABLE && L->sec == SEC_JOB)) {
				size_t l = strlen(known);
				snprintf(known + l, sizeof known - l, "%s%s", l ? ", " : "",
					 keys[i].name);
			}
		}
		char nb[128], sb[128];
		return fail_at(L, L->line, "unknown key \"%s\" in [%s] (expected one of: %s)",
			       clip(name, nb, sizeof nb), clip(section, sb, sizeof sb), known);
	}
	if (L->seen & (1ULL << kidx))
		return fail_at(L, L->line, "key \"%s\" given twice in [%s]", name, section);
	L->seen |= 1ULL << kidx;
	if (L->sec == SEC_TABLE) {
		/* the keys go into the section's settings, not its header */
		((struct ss_tableconf *)L->obj)->set |= 1u << kidx;
		obj = &((struct ss_tableconf *)L->obj)->s;
	}
	if (store(&keys[kidx], obj, value, msg, sizeof msg, 0) < 0) {
		char sb[128];
		return fail_at(L, L->line, "%s in [%s]", msg, clip(section, sb, sizeof sb));
	}
	if (L->sec == SEC_MAIN && strcmp(name, "journal_dir") == 0 && value[0] != '/' && value[0]) {
		char vb[128];
		return fail_at(L, L->line,
			       "journal_dir \"%s\" is a relative path (expected an absolute one: "
			       "the daemon does not depend on its working directory)",
			       clip(value, vb, sizeof vb));
	}
	return 1;
}

/* ini_reader that counts lines and opens sections itself, so that empty or
 * unknown sections are reported with their line. */
static char *reader(char *str, int num, void *stream)
{
	struct loader *L = stream;
	const char *p = L->text + L->off;
	size_t n = 0;
	int first = L->at_line_start;

	if (!*p)
		return NULL;
	/* fgets semantics: at most num - 1 bytes, the newline included, so
	 * that inih grows its buffer and asks for the rest of a long line
	 * instead of taking the next line as its continuation */
	while (p[n] && n < (size_t)num - 1 && (n == 0 || p[n - 1] != '\n'))
		n++;
	memcpy(str, p, n);
	str[n] = '\0';
	L->off += n;
	L->at_line_start = str[n - 1] == '\n' || !L->text[L->off];
	if (!first)
		return str;
	L->line++;
	if (L->failed)
		return str;
	const char *q = p; /* the whole line, not just this piece */
	while (*q == ' ' || *q == '\t')
		q++;
	if (*q == '[') {
		size_t hl = strcspn(q, "\n");
		char hdr[2048];
		snprintf(hdr, sizeof hdr, "%.*s", (int)hl, q);
		const char *e = strrchr(hdr, ']');
		if (hl >= 1024) {
			fail_at(L, L->line, "section header too long (%zu bytes; at most 1023)",
				hl);
		} else if (!e) {
			fail_at(L, L->line, "section header without closing ]");
		} else {
			char sec[1024];
			snprintf(sec, sizeof sec, "%.*s", (int)(e - hdr - 1), hdr + 1);
			begin_section(L, sec);
		}
	}
	return str;
}

static int validate(struct loader *L)
{
	struct ss_config *c = L->cfg;

	if (!c->journal_dir || !*c->journal_dir)
		return fail_at(L, L->main_line ? L->main_line : 1,
			       "missing required key journal_dir in [shadowsync]");
	for (int i = 0; i < c->ndbs; i++) {
		struct ss_dbconf *d = &c->dbs[i];
		if (d->driver < 0 || !d->dsn || !*d->dsn)
			return fail_at(L, d->line, "missing required key %s in [database %s]",
				       d->driver < 0 ? "driver" : "dsn", d->name);
	}
	if (c->njobs == 0)
		return fail_at(L, L->line, "no [job NAME] section: nothing to replicate");
	for (int i = 0; i < c->njobs; i++) {
		struct ss_jobconf *j = &c->jobs[i];
		j->path = c->path;
		if (!j->source_name)
			return fail_at(L, j->line, "missing required key source in [job %s]",
				       j->name);
		if (!j->target_names || j->ntargets == 0)
			return fail_at(L, j->line, "missing required key targets in [job %s]",
				       j->name);
		if (!j->tables || j->ntables == 0)
			return fail_at(L, j->line, "missing required key tables in [job %s]",
				       j->name);
		j->source = ss_config_db(c, j->source_name);
		if (!j->source)
			return fail_at(L, j->line,
				       "job %s: source \"%s\" is not a defined [database]", j->name,
				       j->source_name);
		j->targets = ss_xcalloc((size_t)j->ntargets, sizeof *j->targets);
		for (int t = 0; t < j->ntargets; t++) {
			j->targets[t] = ss_config_db(c, j->target_names[t]);
			if (!j->targets[t])
				return fail_at(L, j->line,
					       "job %s: target \"%s\" is not a defined [database]",
					       j->name, j->target_names[t]);
			if (j->targets[t] == j->source)
				return fail_at(L, j->line,
					       "job %s: target \"%s\" is also its source", j->name,
					       j->target_names[t]);
			for (int u = 0; u < t; u++)
				if (j->targets[u] == j->targets[t])
					return fail_at(L, j->line,
						       "job %s: target \"%s\" listed twice",
						       j->name, j->target_names[t]);
		}
		if (j->defaults.capture == SS_CAPTURE_TIMESTAMP && !*j->defaults.timestamp_column)
			return fail_at(L, j->line,
				       "job %s: capture = timestamp needs timestamp_column",
				       j->name);
		for (int t = 0; t < j->ntableconfs; t++) {
			struct ss_table_settings s;
			struct ss_tableconf *tc = &j->tableconfs[t];
			if (tc->spec.is_pattern)
				return fail_at(L, tc->line,
					       "a [job %s table ...] section must name one table, "
					       "not a pattern",
					       j->name);
			ss_config_table_settings(j, tc->spec.schema, tc->spec.name, &s);
			if (s.capture == SS_CAPTURE_TIMESTAMP && !*s.timestamp_column)
				return fail_at(L, tc->line,
					       "capture = timestamp needs timestamp_column");
		}
	}
	return 0;
}

static void table_settings_free(struct ss_table_settings *s)
{
	free(s->timestamp_column);
	free(s->target_table);
	free(s->soft_delete_column);
	ss_strv_free(s->exclude_columns, s->nexclude);
}

void ss_config_free(struct ss_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->journal_dir);
	free(c->status_listen);
	for (int i = 0; i < c->ndbs; i++) {
		free(c->dbs[i].name);
		free(c->dbs[i].dsn);
		free(c->dbs[i].password_env);
	}
	free(c->dbs);
	for (int i = 0; i < c->njobs; i++) {
		struct ss_jobconf *j = &c->jobs[i];
		free(j->name);
		free(j->source_name);
		ss_strv_free(j->target_names, j->ntargets);
		free(j->targets);
		for (int t = 0; t < j->ntables; t++)
			ss_tablespec_free(&j->tables[t]);
		free(j->tables);
		table_settings_free(&j->defaults);
		for (int t = 0; t < j->ntableconfs; t++) {
			ss_tablespec_free(&j->tableconfs[t].spec);
			table_settings_free(&j->tableconfs[t].s);
		}
		free(j->tableconfs);
	}
	free(c->jobs);
	free(c);
}

struct ss_config *ss_config_load_string(const char *text, const char *name, struct ss_err *err)
{
	struct loader L;
	struct ss_config *c = ss_xcalloc(1, sizeof *c);

	memset(&L, 0, sizeof L);
	c->path = ss_xstrdup(name);
	apply_defaults(SEC_MAIN, c);
	L.cfg = c;
	L.file = name;
	L.err = err;
	L.text = text;
	L.at_line_start = 1;
	ini_allow_multiline = false;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = 65536;
	int rc = ini_parse_stream(reader, &L, handler, &L);
	if (!L.failed && rc > 0)
		fail_at(&L, rc, "syntax error (expected key = value or [section])");
	if (!L.failed && rc < 0)
		fail_at(&L, 0, "cannot parse");
	if (!L.failed)
		validate(&L);
	if (L.failed) {
		ss_config_free(c);
		return NULL;
	}
	return c;
}

struct ss_config *ss_config_load(const char *path, struct ss_err *err)
{
	FILE *f = fopen(path, "r");
	struct ss_buf b;
	struct ss_config *c = NULL;
	char chunk[8192];
	const char *nul;
	size_t n;

	if (!f) {
		ss_err_set(err, "%s: cannot open configuration: %s", path, strerror(errno));
		return NULL;
	}
	ss_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		ss_buf_add(&b, chunk, n);
	if (ferror(f)) {
		/* a directory opens, and fails here with EISDIR */
		ss_err_set(err, "%s: cannot read configuration: %s", path, strerror(errno));
		fclose(f);
		goto done;
	}
	fclose(f);
	nul = b.len ? memchr(b.data, '\0', b.len) : NULL;
	if (nul) {
		int line = 1;
		for (const char *p = b.data; p < nul; p++)
			line += *p == '\n';
		ss_err_set(err,
			   "%s:%d: a NUL byte in the configuration (byte %zu; expected a text "
			   "file)",
			   path, line, (size_t)(nul - b.data) + 1);
		goto done;
	}
	ss_buf_addc(&b, '\0');
	c = ss_config_load_string(b.data, path, err);
done:
	ss_buf_free(&b);
	return c;
}

struct ss_dbconf *ss_config_db(const struct ss_config *c, const char *name)
{
	for (int i = 0; i < c->ndbs; i++)
		if (strcmp(c->dbs[i].name, name) == 0)
			return &c->dbs[i];
	return NULL;
}

struct ss_jobconf *ss_config_job(const struct ss_config *c, const char *name)
{
	for (int i = 0; i < c->njobs; i++)
		if (strcmp(c->jobs[i].name, name) == 0)
			return &c->jobs[i];
	return NULL;
}

void ss_config_journal_dir(const struct ss_config *cfg, const char *job, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", cfg->journal_dir, job);
}

void ss_config_table_settings(const struct ss_jobconf *job, const char *schema, const char *name,
			      struct ss_table_settings *out)
{
	*out = job->defaults;
	for (int i = 0; i < job->ntableconfs; i++) {
		const struct ss_tableconf *tc = &job->tableconfs[i];
		if (strcmp(tc->spec.name, name) != 0)
			continue;
		if (tc->spec.schema && schema && strcmp(tc->spec.schema, schema) != 0)
			continue;
		for (size_t k = 0; k < NKEYS; k++) {
			if (!(tc->set & (1u << k)))
				continue;
			size_t off = keys[k].off, sz;
			switch (keys[k].type) {
			case T_STR: sz = sizeof(char *); break;
			case T_DUR:
			case T_PDUR: sz = sizeof(int64_t); break;
			case T_ENUM: sz = sizeof(int); break;
			case T_LIST:
				memcpy((char *)out + keys[k].cnt_off,
				       (const char *)&tc->s + keys[k].cnt_off, sizeof(int));
				sz = sizeof(char **);
				break;
			default: sz = 0;
			}
			memcpy((char *)out + off, (const char *)&tc->s + off, sz);
		}
		return;
	}
}
