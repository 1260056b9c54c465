/*
 * tools.h -- the subcommands of the shadowsync binary and what they share:
 * option parsing helpers and loading the configuration named by -c.
 *
 * Each subcommand is one file in tools/ with an entry point
 * int ss_cmd_NAME(int argc, char **argv) returning the process exit status.
 */
#ifndef SS_TOOLS_H
#define SS_TOOLS_H

#include <stdio.h>

#include "config.h"

struct ss_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *usage; /* the full --help text */
};

extern const struct ss_command ss_commands[];

int ss_cmd_run(int argc, char **argv);
int ss_cmd_install(int argc, char **argv);
int ss_cmd_uninstall(int argc, char **argv);
int ss_cmd_check(int argc, char **argv);
int ss_cmd_backfill(int argc, char **argv);
int ss_cmd_replay(int argc, char **argv);
int ss_cmd_status(int argc, char **argv);
int ss_cmd_journal(int argc, char **argv);
int ss_cmd_demo(int argc, char **argv);

/* Print "shadowsync NAME: message" on stderr. */
void ss_tool_error(const char *cmd, const char *fmt, ...) SS_PRINTF(2, 3);
/* The list of commands (shadowsync --help). */
void ss_tool_main_usage(FILE *f);
/* Print the usage of cmd to f. */
void ss_tool_usage(const char *cmd, FILE *f);
/* Load -c FILE; prints the error and returns NULL on failure. */
struct ss_config *ss_tool_config(const char *cmd, const char *path);
/* The jobs selected by --job (all when job is NULL); prints an error and
 * returns -1 when the job does not exist. */
int ss_tool_jobs(const char *cmd, struct ss_config *cfg, const char *job, struct ss_jobconf ***out,
		 int *n);

#endif
