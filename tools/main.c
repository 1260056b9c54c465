/*
 * main.c -- the shadowsync binary: global options (--help, --version) and
 * dispatch to the subcommands of tools/commands.c (git style:
 * `shadowsync COMMAND [options]`).
 */
#include <stdio.h>
#include <string.h>

#include "tools.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		ss_tool_main_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			ss_tool_usage(argv[2], stdout);
			return 0;
		}
		ss_tool_main_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("shadowsync %s\n", SS_VERSION);
		return 0;
	}
	for (int i = 0; ss_commands[i].name; i++) {
		if (strcmp(ss_commands[i].name, argv[1]) != 0)
			continue;
		for (int a = 2; a < argc; a++)
			if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
				fputs(ss_commands[i].usage, stdout);
				return 0;
			}
		return ss_commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "shadowsync: unknown command \"%s\" (see shadowsync --help)\n", argv[1]);
	return 2;
}
