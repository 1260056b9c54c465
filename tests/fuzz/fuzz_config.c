/*
 * fuzz_config.c -- the INI configuration loader (ss_config_load_string):
 * any text either loads or fails with a message naming the file and a line,
 * never crashes or leaks (ASan's leak check runs after every input).  A
 * configuration that loads is walked the way the daemon walks it: every
 * job's databases, journal directory and per-table settings.
 */
#include "fuzz.h"

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ss_err err;
	char *text = fuzz_cstr(data, size);

	memset(&err, 0, sizeof err);
	struct ss_config *cfg = ss_config_load_string(text, "fuzz.ini", &err);
	if (!cfg) {
		FUZZ_CHECK(strncmp(err.msg, "fuzz.ini:", 9) == 0, "error without file: %s",
			   err.msg);
		free(text);
		return 0;
	}
	FUZZ_CHECK(cfg->journal_dir && *cfg->journal_dir, "loaded without journal_dir");
	for (int i = 0; i < cfg->njobs; i++) {
		struct ss_jobconf *j = &cfg->jobs[i];
		char dir[4096];
		FUZZ_CHECK(j->source && ss_config_db(cfg, j->source_name) == j->source, "job %s",
			   j->name);
		for (int t = 0; t < j->ntargets; t++)
			FUZZ_CHECK(j->targets[t] && j->targets[t] != j->source, "job %s", j->name);
		FUZZ_CHECK(ss_config_job(cfg, j->name) != NULL, "job %s not found", j->name);
		ss_config_journal_dir(cfg, j->name, dir, sizeof dir);
		for (int t = 0; t < j->ntables; t++) {
			struct ss_table_settings s;
			ss_config_table_settings(j, j->tables[t].schema, j->tables[t].name, &s);
			FUZZ_CHECK(s.capture != SS_CAPTURE_TIMESTAMP || s.timestamp_column,
				   "timestamp capture without column");
		}
		for (int t = 0; t < j->ntableconfs; t++) {
			struct ss_table_settings s;
			ss_config_table_settings(j, j->tableconfs[t].spec.schema,
						 j->tableconfs[t].spec.name, &s);
		}
	}
	ss_config_free(cfg);
	free(text);
	return 0;
}
