/*
 * log.h -- the one logging path: level filter, timestamp, a context prefix
 * (job / database / table), and password masking for anything that might
 * echo a connection string.  libevent's own messages are routed here too.
 */
#ifndef SS_LOG_H
#define SS_LOG_H

#include <stddef.h>

#include "err.h"

void ss_log_set_level(int level); /* enum ss_log_level (config.h) */
int ss_log_get_level(void);
void ss_log_set_format(int format); /* enum ss_log_format (config.h) */
void ss_log_init_libevent(void);

void ss_log_error(const char *ctx, const char *fmt, ...) SS_PRINTF(2, 3);
void ss_log_warn(const char *ctx, const char *fmt, ...) SS_PRINTF(2, 3);
void ss_log_info(const char *ctx, const char *fmt, ...) SS_PRINTF(2, 3);
void ss_log_debug(const char *ctx, const char *fmt, ...) SS_PRINTF(2, 3);

/* ss_mask_secrets() is in err.h: every error message is masked when it is
 * made, and every log line again when it is written. */

#endif
