/*
 * err.h -- the error value every fallible function fills.
 *
 * Functions return 0 / -1 (or NULL) and describe what went wrong in a
 * caller-supplied struct ss_err: a message naming the database, table or file
 * involved, and the SQLSTATE where a database gave one.  The caller decides
 * whether to log it, wrap it with more context, or print it and exit.
 */
#ifndef SS_ERR_H
#define SS_ERR_H

#include <stddef.h>

#define SS_MUST_CHECK __attribute__((warn_unused_result))
#define SS_PRINTF(a, b) __attribute__((format(printf, a, b)))

struct ss_err {
	char sqlstate[6]; /* "" when the failure did not come from a database */
	int transient;    /* 1: retrying may help (connection lost, deadlock) */
	char msg[2048];
};

/* Replace the message.  A NULL err is allowed and ignored. */
void ss_err_set(struct ss_err *err, const char *fmt, ...) SS_PRINTF(2, 3);
/* Put "context: " in front of the current message. */
void ss_err_prefix(struct ss_err *err, const char *fmt, ...) SS_PRINTF(2, 3);
void ss_err_clear(struct ss_err *err);

/* Copy s into out with every secret replaced by "*****": the value of each
 * password=... / pwd=... pair (libpq 'quoted', ODBC {braced}), and the
 * password of a URI's user:password@.  ss_err_set/ss_err_prefix apply it to
 * every message; the logger to every line. */
void ss_mask_secrets(const char *s, char *out, size_t outlen);

#endif
