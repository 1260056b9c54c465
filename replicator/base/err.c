/*
 * err.c -- filling struct ss_err, and masking secrets in any text.
 *
 * Every message is masked when it is made (ss_err_set, ss_err_prefix), so
 * an error that carries a client library's text (libpq echoes a malformed
 * connection URI whole) can go to stderr, the log, /status or a report
 * without showing a password.  See err.h.
 */
#include "err.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* In "scheme://user:secret@host..." the end of the secret: the last '@' of
 * the URI's token (a password may hold '/' or '@' when a DSN is malformed,
 * and libpq echoes malformed URIs whole); NULL when there is no user:secret@.
 * s points just after "://"; *colon gets the ':' before the secret. */
static const char *uri_secret_end(const char *s, const char **colon)
{
	const char *p, *at = NULL, *c = NULL;

	for (p = s; *p && !isspace((unsigned char)*p) && *p != '"' && *p != '\''; p++) {
		if (*p == '@')
			at = p;
		if (*p == ':' && !c)
			c = p;
	}
	if (!at || !c || c > at)
		return NULL;
	*colon = c;
	return at;
}

void ss_mask_secrets(const char *s, char *out, size_t outlen)
{
	static const char *const keys[] = {"password", "pwd", NULL};
	size_t o = 0;

	if (!outlen)
		return;
	while (*s && o + 1 < outlen) {
		size_t kl = 0;
		const char *colon, *at;

		if (strncmp(s, "://", 3) == 0 && (at = uri_secret_end(s + 3, &colon)) != NULL) {
			while (s <= colon && o + 1 < outlen) /* "://user:" */
				out[o++] = *s++;
			for (const char *m = "*****"; *m && o + 1 < outlen; m++)
				out[o++] = *m;
			s = at;
			continue;
		}
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
	char buf[sizeof err->msg];
	va_list ap;

	if (!err)
		return;
	err->sqlstate[0] = '\0';
	err->transient = 0;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	ss_mask_secrets(buf, err->msg, sizeof err->msg);
}

void ss_err_prefix(struct ss_err *err, const char *fmt, ...)
{
	char head[512], old[sizeof err->msg], buf[sizeof err->msg];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	snprintf(buf, sizeof buf, "%s: %s", head, old);
	ss_mask_secrets(buf, err->msg, sizeof err->msg);
}
