/*
 * log.c -- logging to stderr with level, UTC time and context prefix.
 * Thread-safe (one write(2) per line).  Two formats (log_format): text
 * lines, or one JSON object a line.  When stderr is the systemd journal
 * (JOURNAL_STREAM names its device and inode) each line starts with its
 * syslog priority "<N>" instead of a timestamp, as sd-daemon(3) describes,
 * so journalctl knows the level.  Every line is masked for secrets
 * (ss_mask_secrets, err.h).  See log.h.
 */
#include "log.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

static int log_level = SS_LOG_INFO;
static int log_format = SS_LOG_TEXT;
static int log_journal = -1; /* stderr is the systemd journal: -1 not known yet */

void ss_log_set_level(int level)
{
	log_level = level;
}

int ss_log_get_level(void)
{
	return log_level;
}

void ss_log_set_format(int format)
{
	log_format = format;
}

/* JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected; it is only
 * ours if stderr is still that stream (a child may inherit the variable). */
static int stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!v || sscanf(v, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static void json_str(char *out, size_t n, const char *s)
{
	size_t o = 0;

	if (n < 3)
		return;
	out[o++] = '"';
	for (; *s && o + 8 < n; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, n - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

static void vlog(int level, const char *tag, const char *ctx, const char *fmt, va_list ap)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	static const int prio[] = {3, 4, 6, 7}; /* syslog: err, warning, info, debug */
	char line[16384], msg[7000], masked[7000], ts[40], jmsg[7200], jctx[600], pfx[8] = "";
	int n;

	if (level > log_level)
		return;
	if (log_journal < 0)
		log_journal = stderr_is_journal();
	vsnprintf(msg, sizeof msg, fmt, ap);
	ss_mask_secrets(msg, masked, sizeof masked);
	ss_format_time(ss_now_us(), ts, sizeof ts);
	ts[23] = 'Z'; /* milliseconds are enough in logs */
	ts[24] = '\0';
	if (log_journal)
		snprintf(pfx, sizeof pfx, "<%d>", prio[level]);
	if (log_format == SS_LOG_JSON) {
		json_str(jmsg, sizeof jmsg, masked);
		json_str(jctx, sizeof jctx, ctx ? ctx : "");
		n = snprintf(line, sizeof line,
			     "%s{\"time\":\"%s\",\"level\":\"%s\",\"context\":%s,\"message\":%s}\n",
			     pfx, ts, names[level], jctx, jmsg);
	} else if (log_journal) {
		n = snprintf(line, sizeof line, "%s%s %s%s%s\n", pfx, tag, ctx ? ctx : "",
			     ctx ? ": " : "", masked);
	} else {
		n = snprintf(line, sizeof line, "%s %s %s%s%s\n", ts, tag, ctx ? ctx : "",
			     ctx ? ": " : "", masked);
	}
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
