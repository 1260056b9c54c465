/*
 * util.c -- buffers, varints, duration/size/time parsing.  See util.h.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

void *ss_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

void *ss_xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);

	if (!p)
		abort();
	return p;
}

void *ss_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

char *ss_xstrdup(const char *s)
{
	return ss_xstrndup(s, strlen(s));
}

char *ss_xstrndup(const char *s, size_t n)
{
	char *p = ss_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void ss_buf_init(struct ss_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void ss_buf_free(struct ss_buf *b)
{
	free(b->data);
	ss_buf_init(b);
}

void ss_buf_reset(struct ss_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void ss_buf_reserve(struct ss_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	b->data = ss_xrealloc(b->data, cap);
	b->cap = cap;
}

void ss_buf_add(struct ss_buf *b, const void *p, size_t n)
{
	ss_buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void ss_buf_adds(struct ss_buf *b, const char *s)
{
	ss_buf_add(b, s, strlen(s));
}

void ss_buf_addc(struct ss_buf *b, char c)
{
	ss_buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void ss_buf_addf(struct ss_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	ss_buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void ss_buf_add_json_str(struct ss_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	ss_buf_reserve(b, n + 2);
	ss_buf_addc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		ss_buf_add(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': ss_buf_add(b, "\\\"", 2); break;
		case '\\': ss_buf_add(b, "\\\\", 2); break;
		case '\n': ss_buf_add(b, "\\n", 2); break;
		case '\r': ss_buf_add(b, "\\r", 2); break;
		case '\t': ss_buf_add(b, "\\t", 2); break;
		default: {
			char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			ss_buf_add(b, u, 6);
		}
		}
	}
	ss_buf_add(b, s + run, n - run);
	ss_buf_addc(b, '"');
}

char *ss_buf_steal(struct ss_buf *b)
{
	char *p = b->data ? b->data : ss_xstrdup("");

	ss_buf_init(b);
	return p;
}

void ss_buf_add_varint(struct ss_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	ss_buf_add(b, tmp, n);
}

int ss_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;
	unsigned shift = 0;
	const uint8_t *q = *p;

	while (q < end && shift < 64) {
		uint8_t c = *q++;
		r |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = r;
			*p = q;
			return 0;
		}
		shift += 7;
	}
	return -1;
}

char *ss_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Number followed by a unit from the table; unit required unless bare_mult. */
static int parse_with_units(const char *s, const char *const *units, const uint64_t *mult,
			    uint64_t bare_mult, uint64_t *out)
{
	char *end;
	double v;
	int i;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s) && *s != '.')
		return -1; /* also keeps out signs, inf, nan */
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	if (!*end) {
		if (v * (double)bare_mult > 9.2e18)
			return -1;
		*out = (uint64_t)(v * (double)bare_mult + 0.5);
		return 0;
	}
	for (i = 0; units[i]; i++) {
		size_t n = strlen(units[i]);
		if (strncasecmp(end, units[i], n) == 0) {
			const char *rest = end + n;
			while (isspace((unsigned char)*rest))
				rest++;
			if (*rest)
				continue;
			double r = v * (double)mult[i];
			if (r > 9.2e18)
				return -1;
			*out = (uint64_t)(r + 0.5);
			return 0;
		}
	}
	return -1;
}

int ss_parse_duration(const char *s, int64_t *us)
{
	/* clang-format off */
	static const char *const units[] = {"us", "ms", "s", "min", "m", "h", "d", "w", NULL};
	static const uint64_t mult[] = {1, 1000, 1000000, 60000000, 60000000, 3600000000ULL,
					86400000000ULL, 604800000000ULL};
	/* clang-format on */
	uint64_t v;

	if (parse_with_units(s, units, mult, 1000000, &v) < 0)
		return -1;
	*us = (int64_t)v;
	return 0;
}

int ss_parse_size(const char *s, uint64_t *bytes)
{
	static const char *const units[] = {"KB", "MB", "GB", "TB", "K", "M", "G", "B", NULL};
	static const uint64_t mult[] = {1ULL << 10, 1ULL << 20, 1ULL << 30, 1ULL << 40,
					1ULL << 10, 1ULL << 20, 1ULL << 30, 1};

	return parse_with_units(s, units, mult, 1, bytes);
}

int64_t ss_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ss_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Howard Hinnant's civil-from-days algorithms. */
int64_t ss_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void ss_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int ss_parse_time(const char *s, int64_t *us)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	int64_t frac = 0, off = 0;
	const char *p = s;

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		return -1;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return -1;
	if (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				return -1;
			if (*p == '.' || *p == ',') {
				int n = 0;
				p++;
				if (!isdigit((unsigned char)*p))
					return -1;
				while (isdigit((unsigned char)*p)) {
					if (n < 6) {
						frac = frac * 10 + (*p - '0');
						n++;
					}
					p++;
				}
				while (n++ < 6)
					frac *= 10;
			}
		}
		/* 24:00 is the end of the day; no leap second (no database keeps one) */
		if (h > 24 || mi > 59 || sec > 59 || (h == 24 && (mi || sec || frac)))
			return -1;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om = 0, os = 0;
		if (digits(&p, 2, &oh))
			return -1;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char)*p) && digits(&p, 2, &om))
			return -1;
		if (*p == ':') { /* +00:19:32: PostgreSQL writes seconds of historic zones */
			p++;
			if (digits(&p, 2, &os))
				return -1;
		}
		if (oh > 23 || om > 59 || os > 59)
			return -1; /* an offset is less than a day */
		off = sign * ((int64_t)oh * 3600 + om * 60 + os);
	}
	if (*p)
		return -1;
	int64_t days = ss_days_from_civil(y, (unsigned)mo, (unsigned)d);
	*us = ((days * 86400 + h * 3600 + mi * 60 + sec) - off) * 1000000 + frac;
	return 0;
}

/* v as exactly n decimal digits, zero-padded. */
static void put_digits(char **p, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		(*p)[i] = (char)('0' + v % 10);
		v /= 10;
	}
	*p += n;
}

void ss_format_time(int64_t us, char *out, size_t outlen)
{
	/* floor division without negating or multiplying back: any int64_t */
	int64_t secs = us / 1000000, frac = us % 1000000;
	if (frac < 0) {
		frac += 1000000;
		secs--;
	}
	int64_t days = secs / 86400, rem = secs % 86400, y;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	unsigned m, d;

	ss_civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999 || outlen < 28) {
		snprintf(out, outlen, "%04lld-%02u-%02uT%02d:%02d:%02d.%06lldZ", (long long)y, m, d,
			 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (long long)frac);
		return;
	}
	/* the common case by hand: this runs for every timestamp captured */
	char *p = out;
	put_digits(&p, (unsigned)y, 4);
	*p++ = '-';
	put_digits(&p, m, 2);
	*p++ = '-';
	put_digits(&p, d, 2);
	*p++ = 'T';
	put_digits(&p, (unsigned)(rem / 3600), 2);
	*p++ = ':';
	put_digits(&p, (unsigned)(rem / 60 % 60), 2);
	*p++ = ':';
	put_digits(&p, (unsigned)(rem % 60), 2);
	*p++ = '.';
	put_digits(&p, (unsigned)frac, 6);
	*p++ = 'Z';
	*p = '\0';
}

void ss_crashpoint(const char *name)
{
	static atomic_int hits;
	const char *at = getenv("SS_CRASH_AT");

	if (!at || strcmp(at, name) != 0)
		return;
	const char *after = getenv("SS_CRASH_AFTER");
	if (atomic_fetch_add(&hits, 1) + 1 >= (after ? atoi(after) : 1))
		kill(getpid(), SIGKILL);
}
