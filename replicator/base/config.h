/*
 * config.h -- the INI configuration: sections, keys, defaults, validation.
 *
 * One table of keys (config.c) drives parsing, defaults, validation and the
 * reference documentation check.  A loaded struct ss_config is immutable;
 * everything else reads settings from it.  Connection handling, table
 * discovery and pattern expansion belong to the dialects, not here.
 */
#ifndef SS_CONFIG_H
#define SS_CONFIG_H

#include <stdint.h>

#include "err.h"

enum ss_driver { SS_DRIVER_POSTGRES, SS_DRIVER_MARIADB, SS_DRIVER_ODBC };
enum ss_capture_mode { SS_CAPTURE_TRIGGER, SS_CAPTURE_TIMESTAMP };
enum ss_delete_detection { SS_DELDET_NONE, SS_DELDET_KEYSCAN };
enum ss_log_level { SS_LOG_ERROR, SS_LOG_WARN, SS_LOG_INFO, SS_LOG_DEBUG };
enum ss_log_format { SS_LOG_TEXT, SS_LOG_JSON };

struct ss_dbconf {
	char *name;
	int line;
	int driver;
	char *dsn;
	char *password_env;
	int64_t connect_timeout_us;
};

/* A table named in `tables` or in a [job J table T] section.  schema is NULL
 * when the name was not qualified (the dialect supplies its default). */
struct ss_tablespec {
	char *schema;
	char *name;
	int is_pattern; /* name or schema holds * or ? */
};

/* Settings that a [job J table T] section may override.  "set" flags say
 * which ones it did. */
struct ss_table_settings {
	int capture;
	char *timestamp_column;
	char *target_table;
	char **exclude_columns;
	int nexclude;
	char *soft_delete_column;
	int delete_detection;
	int64_t lookback_us;
	int64_t keyscan_interval_us;
};

struct ss_tableconf {
	struct ss_tablespec spec;
	int line;
	unsigned set; /* bit per key index in the table-section key table */
	struct ss_table_settings s;
};

struct ss_jobconf {
	char *name;
	int line;
	const char *path; /* the configuration file (for file:line messages) */
	char *source_name;
	struct ss_dbconf *source;
	char **target_names;
	struct ss_dbconf **targets;
	int ntargets;
	struct ss_tablespec *tables;
	int ntables;
	int64_t poll_interval_us;
	int64_t batch_rows;
	int64_t max_backoff_us;
	int64_t lease_timeout_us;
	struct ss_table_settings defaults; /* job-level values of overridable keys */
	struct ss_tableconf *tableconfs;
	int ntableconfs;
};

struct ss_config {
	char *path;
	char *journal_dir;
	int fsync; /* enum ss_fsync_mode (journal.h): off, batch, always */
	int64_t journal_retention_us;
	uint64_t journal_segment_size;
	char *status_listen;
	int log_level;
	int log_format; /* enum ss_log_format */
	struct ss_dbconf *dbs;
	int ndbs;
	struct ss_jobconf *jobs;
	int njobs;
};

struct ss_config *ss_config_load(const char *path, struct ss_err *err);
struct ss_config *ss_config_load_string(const char *text, const char *name, struct ss_err *err);
void ss_config_free(struct ss_config *cfg);

struct ss_dbconf *ss_config_db(const struct ss_config *cfg, const char *name);
struct ss_jobconf *ss_config_job(const struct ss_config *cfg, const char *name);
/* The directory of a job's journal: journal_dir/job. */
void ss_config_journal_dir(const struct ss_config *cfg, const char *job, char *out, size_t n);

/* The effective settings for one concrete table of a job: the job's values
 * with the first matching [job J table T] section laid over them.  The
 * returned pointers point into the config. */
void ss_config_table_settings(const struct ss_jobconf *job, const char *schema, const char *name,
			      struct ss_table_settings *out);

/* Parse "a, b, \"c,d\"" style lists and schema.table names. */
int ss_config_split_list(const char *s, char ***out, int *n, struct ss_err *err) SS_MUST_CHECK;
int ss_config_parse_table(const char *s, struct ss_tablespec *out,
			  struct ss_err *err) SS_MUST_CHECK;
void ss_tablespec_free(struct ss_tablespec *t);
/* Glob match with * and ? (for table patterns). */
int ss_glob_match(const char *pattern, const char *s);

/* The key table, for documentation checks: section kind ("shadowsync",
 * "database", "job", "job table"), key name, default ("" = none), help. */
struct ss_config_keyinfo {
	const char *section;
	const char *key;
	const char *def;
	const char *help;
};
const struct ss_config_keyinfo *ss_config_keys(int *n);

void ss_strv_free(char **v, int n);

#endif
