/*
 * log.c -- logging to stderr with level, UTC time and context prefix.
 * Thread-safe (one write(2) per line).  See log.h.
 */
#include "log.h"

#include <ctype.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

static int log_level = SS_LOG_INFO;

void ss_log_set_level(int level)
{
	log_level = level;
}

int ss_log_get_level(void)
{
	return log_level;
}

void ss_mask_secrets(const char *s, char *out, size_t outlen)
{
	static const char *const keys[] = {"password", "pwd", NULL};
	size_t o = 0;

	if (!outlen)
		return;
	while (*s && o + 1 < outlen) {
		size_t kl = 0;
		for (int k = 0; keys[k] && !kl; k++)
			if (strncasecmp(s, keys[k], strlen(keys[k])) == 0)
				kl = strlen(keys[k]);
		const char *v = s + kl;
		while (kl && (*v == ' ' || *v == '\t'))
			v++;
		if (!kl || *v != '=') {
			out[o++] = *s++;
			continue;
		}
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		while (s < v && o + 1 < outlen) /* the key, '=' and blanks */
			out[o++] = *s++;
		s = v;
		if (*s == '\'') { /* libpq: 'two words', \' inside */
			for (s++; *s && *s != '\''; s++)
				if (*s == '\\' && s[1])
					s++;
			if (*s)
				s++;
		} else if (*s == '{') { /* ODBC: {a;b}, }} inside */
			for (s++; *s; s++) {
				if (*s == '}' && s[1] == '}') {
					s++;
					continue;
				}
				if (*s == '}') {
					s++;
					break;
				}
			}
		} else {
			while (*s && *s != ';' && !isspace((unsigned char)*s))
				s++;
		}
		for (const char *m = "*****"; *m && o + 1 < outlen; m++)
			out[o++] = *m;
	}
	out[o] = '\0';
}

static void vlog(int level, const char *tag, const char *ctx, const char *fmt, va_list ap)
{
	char line[8192], msg[7000], masked[7000], ts[40];
	int n;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	ss_mask_secrets(msg, masked, sizeof masked);
	ss_format_time(ss_now_us(), ts, sizeof ts);
	ts[23] = 'Z'; /* milliseconds are enough in logs */
	ts[24] = '\0';
	n = snprintf(line, sizeof line, "%s %s %s%s%s\n", ts, tag, ctx ? ctx : "", ctx ? ": " : "",
		     masked);
	if (n > (int)sizeof line - 1)
		n = (int)sizeof line - 1;
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nothing sensible to do */
	}
}

#define DEFINE_LOG(fn, lvl, tag)                       \
	void fn(const char *ctx, const char *fmt, ...) \
	{                                              \
		va_list ap;                            \
		va_start(ap, fmt);                     \
		vlog(lvl, tag, ctx, fmt, ap);          \
		va_end(ap);                            \
	}

DEFINE_LOG(ss_log_error, SS_LOG_ERROR, "ERROR")
DEFINE_LOG(ss_log_warn, SS_LOG_WARN, "WARN ")
DEFINE_LOG(ss_log_info, SS_LOG_INFO, "INFO ")
DEFINE_LOG(ss_log_debug, SS_LOG_DEBUG, "DEBUG")

static void libevent_log(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_ERR: ss_log_error("libevent", "%s", msg); break;
	case EVENT_LOG_WARN: ss_log_warn("libevent", "%s", msg); break;
	default: ss_log_debug("libevent", "%s", msg);
	}
}

void ss_log_init_libevent(void)
{
	event_set_log_callback(libevent_log);
}
