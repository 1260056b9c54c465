/*
 * run.c -- `shadowsync run`: parse options, load the configuration, hand
 * over to the daemon (replicator/daemon.c).
 */
#include <getopt.h>
#include <stdio.h>

#include "daemon.h"
#include "tools.h"

int ss_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"once", no_argument, NULL, 'o'},
		{"job", required_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL, *job = NULL;
	int once = 0, o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (o) {
		case 'c': path = optarg; break;
		case 'o': once = 1; break;
		case 'j': job = optarg; break;
		default: ss_tool_usage("run", stderr); return 2;
		}
	}
	if (optind < argc) {
		ss_tool_error("run", "unexpected argument \"%s\"", argv[optind]);
		return 2;
	}
	struct ss_config *cfg = ss_tool_config("run", path);
	if (!cfg)
		return 2;
	rc = ss_daemon_run(cfg, job, once);
	ss_config_free(cfg);
	return rc;
}
