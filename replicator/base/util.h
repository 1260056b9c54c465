/*
 * util.h -- small shared pieces: a growable byte buffer, varints, parsing of
 * durations / sizes / ISO 8601 times, wall-clock time in microseconds.
 *
 * Nothing here knows about databases, configuration or the journal.
 */
#ifndef SS_UTIL_H
#define SS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A growable buffer; always NUL-terminated past len so it can be used as a
 * C string when it holds text.  Allocation failure aborts (we cannot do
 * anything useful without memory). */
struct ss_buf {
	char *data;
	size_t len;
	size_t cap;
};

void ss_buf_init(struct ss_buf *b);
void ss_buf_free(struct ss_buf *b);  /* releases data; the struct may be reused */
void ss_buf_reset(struct ss_buf *b); /* len = 0, keeps the allocation */
void ss_buf_reserve(struct ss_buf *b, size_t extra);
void ss_buf_add(struct ss_buf *b, const void *p, size_t n);
void ss_buf_adds(struct ss_buf *b, const char *s);
void ss_buf_addc(struct ss_buf *b, char c);
void ss_buf_addf(struct ss_buf *b, const char *fmt, ...) SS_PRINTF(2, 3);
/* Append s as a JSON string literal, quotes included. */
void ss_buf_add_json_str(struct ss_buf *b, const char *s, size_t n);
/* Hand the data to the caller (caller frees); the buffer is left empty. */
char *ss_buf_steal(struct ss_buf *b);

void ss_buf_add_varint(struct ss_buf *b, uint64_t v);
/* Read a varint from [*p, end); advances *p.  -1 on truncation. */
int ss_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v) SS_MUST_CHECK;

void *ss_xmalloc(size_t n);
void *ss_xcalloc(size_t n, size_t m);
void *ss_xrealloc(void *p, size_t n);
char *ss_xstrdup(const char *s);
char *ss_xstrndup(const char *s, size_t n);

/* "200ms", "5s", "2m", "1h", "7d"; a bare number is seconds.  -> microseconds */
int ss_parse_duration(const char *s, int64_t *us) SS_MUST_CHECK;
/* "64MB", "512KB", "1GB", "100B"; a bare number is bytes. */
int ss_parse_size(const char *s, uint64_t *bytes) SS_MUST_CHECK;

/* Wall clock, microseconds since the Unix epoch (UTC). */
int64_t ss_now_us(void);
/* Monotonic clock in microseconds (for timeouts and latency). */
int64_t ss_mono_us(void);

/* ISO 8601: "2026-11-21T10:00:00Z", "2026-11-21 10:00:00.123+02:00",
 * "2026-11-21" (midnight UTC).  No zone means UTC. */
int ss_parse_time(const char *s, int64_t *us) SS_MUST_CHECK;
/* "2026-11-21T10:00:00.123456Z" into out (at least 32 bytes). */
void ss_format_time(int64_t us, char *out, size_t outlen);

/* Days since 1970-01-01 for a proleptic Gregorian date, and back. */
int64_t ss_days_from_civil(int64_t y, unsigned m, unsigned d);
void ss_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Fault injection for the crash-safety tests: when the environment has
 * SS_CRASH_AT=name, the process kills itself with SIGKILL on the
 * SS_CRASH_AFTER-th (default first) arrival at this point.  A no-op
 * otherwise. */
void ss_crashpoint(const char *name);

/* Trim ASCII white space in place; returns s. */
char *ss_trim(char *s);

#endif
