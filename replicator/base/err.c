/*
 * err.c -- filling struct ss_err.  See err.h.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ss_err_clear(struct ss_err *err)
{
	if (!err)
		return;
	err->sqlstate[0] = '\0';
	err->transient = 0;
	err->msg[0] = '\0';
}

void ss_err_set(struct ss_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->sqlstate[0] = '\0';
	err->transient = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
}

void ss_err_prefix(struct ss_err *err, const char *fmt, ...)
{
	char head[512], old[sizeof err->msg];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	snprintf(err->msg, sizeof err->msg, "%s: %s", head, old);
}
