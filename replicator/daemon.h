/*
 * daemon.h -- `shadowsync run`: the event loop that drives every job's
 * capture, owns the applier threads, retention and the status endpoint.
 */
#ifndef SS_DAEMON_H
#define SS_DAEMON_H

#include "config.h"

/* Run until SIGTERM/SIGINT (or, with once, until everything captured at
 * start has reached every target).  job: only that job (NULL: all).
 * Returns the process exit status. */
int ss_daemon_run(struct ss_config *cfg, const char *job, int once);

#endif
