/*
 * test_util.c -- the small shared pieces: ISO 8601 times in and out (the
 * TIME of --from/--to), durations and sizes (the config values), varints
 * (the journal payload), JSON string escaping (journal dump, /status), the
 * growable buffer, and password masking in anything that may echo a
 * connection string (log.h).
 *
 * Expected epoch values were checked against PostgreSQL
 * (extract(epoch from '...'::timestamptz)).
 */
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define SEC 1000000LL

/* ---- times ------------------------------------------------------------------ */

static void test_parse_time(void)
{
	static const struct {
		const char *s;
		long long us;
	} ok[] = {
		{"1970-01-01T00:00:00Z", 0},
		{"1970-01-01", 0},
		{"2026-11-21T10:00:00Z", 1795255200 * SEC},
		{"2026-11-21t10:00:00z", 1795255200 * SEC},
		{"2026-11-21 10:00:00", 1795255200 * SEC}, /* no zone: UTC */
		{"2026-11-21T10:00", 1795255200 * SEC},    /* no seconds */
		{"2026-11-21T12:00:00+02:00", 1795255200 * SEC},
		{"2026-11-21T12:00:00+0200", 1795255200 * SEC},
		{"2026-11-21T12:00:00+02", 1795255200 * SEC},
		{"2026-11-21T04:30:00-05:30", 1795255200 * SEC},
		{"2026-11-21T10:00:00.123+02:00", 1795248000 * SEC + 123000},
		{"2026-11-21T10:00:00,5Z", 1795255200 * SEC + 500000},
		{"2026-11-21T10:00:00.000001Z", 1795255200 * SEC + 1},
		{"2026-11-21T10:00:00.1234569Z", 1795255200 * SEC + 123456}, /* past µs: cut */
		{"2000-02-29T23:59:59.999999-00:30", 951870599 * SEC + 999999},
		{"1969-07-20T20:17:40Z", -14182940 * SEC},
		{"2026-03-10", 1773100800 * SEC},
		{"1849-12-31T23:40:28Z", -3786826772LL * SEC},
		{"1850-01-01T00:00:00+00:19:32", -3786826772LL * SEC}, /* offset with seconds */
		{"2026-11-21T24:00:00Z", 1795305600 * SEC},            /* the end of the day */
		{"2026-11-21T10:00:00-23:59", (1795255200LL + 23 * 3600 + 59 * 60) * SEC},
		{"2026-11-21T10:00:59.999999Z", 1795255259 * SEC + 999999},
	};
	static const char *const bad[] = {
		"",
		"yesterday",
		"2026",
		"2026-11",
		"26-11-21",
		"2026/11/21",
		"2026-13-01",
		"2026-00-10",
		"2026-11-00",
		"2026-11-32",
		"2026-02-30", /* no such day */
		"2026-04-31",
		"2026-11-21T",
		"2026-11-21T10",
		"2026-11-21T25:00:00Z",
		"2026-11-21T10:60:00Z",
		"2026-11-21T10:00:61Z",
		"2026-11-21T10:00:00.Z",
		"2026-11-21T10:00:00+",
		"2026-11-21T10:00:00+2",
		"2026-11-21T10:00:00ZZ",
		"2026-11-21T10:00:00 UTC",
		"2026-11-21T10:00:00Z ",
		" 2026-11-21",
		"2026-11-21X10:00:00",
		"2026-11-21T10:00:60Z", /* no leap seconds */
		"2026-11-21T23:59:60.5Z",
		"2026-11-21T24:00:01Z",
		"2026-11-21T24:30:00Z",
		"2026-11-21T24:00:00.1Z",
		"2026-11-21T10:00:00+99:00", /* an offset is less than a day */
		"2026-11-21T10:00:00+24:00",
		"2026-11-21T10:00:00-25",
		"2026-11-21T10:00:00+05:60",
		"2026-11-21T10:00:00+00:19:60",
	};
	int64_t us;

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		us = 42;
		if (ss_parse_time(ok[i].s, &us) != 0) {
			fprintf(stderr, "  ss_parse_time(\"%s\") failed\n", ok[i].s);
			unit_failed_checks++;
			continue;
		}
		if (us != ok[i].us) {
			fprintf(stderr, "  ss_parse_time(\"%s\") = %lld, expected %lld\n", ok[i].s,
				(long long)us, ok[i].us);
			unit_failed_checks++;
		}
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (ss_parse_time(bad[i], &us) == 0) {
			fprintf(stderr, "  ss_parse_time(\"%s\") accepted (= %lld)\n", bad[i],
				(long long)us);
			unit_failed_checks++;
		}
	}
}

static void test_format_time(void)
{
	char out[64];

	ss_format_time(0, out, sizeof out);
	CHECK_STR(out, "1970-01-01T00:00:00.000000Z");
	ss_format_time(1795255200 * SEC + 123456, out, sizeof out);
	CHECK_STR(out, "2026-11-21T10:00:00.123456Z");
	ss_format_time(-1, out, sizeof out);
	CHECK_STR(out, "1969-12-31T23:59:59.999999Z");
	ss_format_time(-14182940 * SEC, out, sizeof out);
	CHECK_STR(out, "1969-07-20T20:17:40.000000Z");
	ss_format_time(951782400 * SEC, out, sizeof out);
	CHECK_STR(out, "2000-02-29T00:00:00.000000Z");
	ss_format_time(253402300799 * SEC + 999999, out, sizeof out);
	CHECK_STR(out, "9999-12-31T23:59:59.999999Z");
	/* the whole int64_t range (a damaged journal record can carry any time;
	 * found by tests/fuzz/fuzz_change): no overflow, UBSan stays quiet */
	ss_format_time(INT64_MIN, out, sizeof out);
	CHECK_STR(out, "-290308-12-21T19:59:05.224192Z");
	ss_format_time(INT64_MAX, out, sizeof out);
	CHECK_STR(out, "294247-01-10T04:00:54.775807Z");

	/* what is printed parses back to the same instant */
	int64_t v = -5000000000 * SEC + 7;
	for (int i = 0; i < 2000; i++) {
		int64_t back = 0;
		ss_format_time(v, out, sizeof out);
		if (ss_parse_time(out, &back) != 0 || back != v) {
			fprintf(stderr, "  %lld -> %s -> %lld\n", (long long)v, out,
				(long long)back);
			unit_failed_checks++;
			break;
		}
		v += 4999999999999LL + i; /* ~58 days and a varying fraction */
	}

	/* the civil-date helpers agree with each other */
	for (int64_t z = -800000; z <= 800000; z += 97) {
		int64_t y;
		unsigned m, d;
		ss_civil_from_days(z, &y, &m, &d);
		if (ss_days_from_civil(y, m, d) != z) {
			fprintf(stderr, "  day %lld does not round-trip\n", (long long)z);
			unit_failed_checks++;
			break;
		}
	}
	CHECK_INT(ss_days_from_civil(1970, 1, 1), 0);
	CHECK_INT(ss_days_from_civil(2000, 3, 1), 11017);
}

static void test_clocks(void)
{
	int64_t a = ss_now_us(), m1 = ss_mono_us(), m2 = ss_mono_us();

	CHECK(a > 1700000000 * SEC); /* after 2023 */
	CHECK(m2 >= m1);
}

/* ---- durations and sizes ------------------------------------------------------ */

static void test_durations(void)
{
	static const struct {
		const char *s;
		long long us;
	} ok[] = {
		{"200ms", 200000},
		{"5s", 5 * SEC},
		{"2m", 120 * SEC},
		{"2min", 120 * SEC},
		{"1h", 3600 * SEC},
		{"7d", 7 * 86400 * SEC},
		{"1w", 7 * 86400 * SEC},
		{"250us", 250},
		{"0", 0},
		{"30", 30 * SEC},
		{"1.5s", 1500000},
		{"0.5h", 1800 * SEC},
		{" 10s ", 10 * SEC},
		{"10 s", 10 * SEC},
		{"5S", 5 * SEC},
		{"100MS", 100000},
		{"36500d", 36500LL * 86400 * SEC},
	};
	static const char *const bad[] = {
		"",      " ",   "s",   "ms",     "-1s", "+1s", "5x",   "5 parsecs",
		"1h30m", "5s5", "abc", "1e400s", "inf", "nan", "infs", "1e30",
	};
	int64_t us;

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		us = -1;
		if (ss_parse_duration(ok[i].s, &us) != 0 || us != ok[i].us) {
			fprintf(stderr, "  ss_parse_duration(\"%s\") = %lld, expected %lld\n",
				ok[i].s, (long long)us, ok[i].us);
			unit_failed_checks++;
		}
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (ss_parse_duration(bad[i], &us) == 0) {
			fprintf(stderr, "  ss_parse_duration(\"%s\") accepted (= %lld)\n", bad[i],
				(long long)us);
			unit_failed_checks++;
		}
	}
}

static void test_sizes(void)
{
	static const struct {
		const char *s;
		unsigned long long bytes;
	} ok[] = {
		{"512KB", 512ULL << 10},
		{"64MB", 64ULL << 20},
		{"1GB", 1ULL << 30},
		{"2TB", 2ULL << 40},
		{"100B", 100},
		{"4096", 4096},
		{"0", 0},
		{"64mb", 64ULL << 20},
		{"16M", 16ULL << 20},
		{"1.5MB", 3ULL << 19},
		{" 8 KB ", 8192},
	};
	static const char *const bad[] = {"",     "MB",  "-1MB", "+1MB", "10XB",         "64 MiB",
					  "1MB2", "inf", "nan",  "1e30", "99999999999TB"};
	uint64_t b;

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		b = 1;
		if (ss_parse_size(ok[i].s, &b) != 0 || b != ok[i].bytes) {
			fprintf(stderr, "  ss_parse_size(\"%s\") = %llu, expected %llu\n", ok[i].s,
				(unsigned long long)b, ok[i].bytes);
			unit_failed_checks++;
		}
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (ss_parse_size(bad[i], &b) == 0) {
			fprintf(stderr, "  ss_parse_size(\"%s\") accepted (= %llu)\n", bad[i],
				(unsigned long long)b);
			unit_failed_checks++;
		}
	}
}

/* ---- varints ------------------------------------------------------------------ */

static void test_varints(void)
{
	static const uint64_t vals[] = {0,
					1,
					127,
					128,
					300,
					16383,
					16384,
					(1ULL << 32) - 1,
					1ULL << 32,
					(1ULL << 56) + 5,
					UINT64_MAX - 1,
					UINT64_MAX};
	static const size_t sizes[] = {1, 1, 1, 2, 2, 2, 3, 5, 5, 9, 10, 10};
	struct ss_buf b;

	ss_buf_init(&b);
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		size_t before = b.len;
		ss_buf_add_varint(&b, vals[i]);
		CHECK_INT(b.len - before, sizes[i]);
	}
	/* read back in sequence */
	const uint8_t *p = (const uint8_t *)b.data, *end = p + b.len;
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		uint64_t v = 0;
		CHECK_INT(ss_varint_get(&p, end, &v), 0);
		CHECK(v == vals[i]);
	}
	CHECK(p == end);
	/* 300 is ac 02 (LEB128) */
	ss_buf_reset(&b);
	ss_buf_add_varint(&b, 300);
	CHECK_INT((uint8_t)b.data[0], 0xac);
	CHECK_INT((uint8_t)b.data[1], 0x02);

	/* truncated: -1, and *p is not moved */
	const uint8_t trunc[] = {0x80, 0x80};
	const uint8_t *q = trunc;
	uint64_t v;
	CHECK_INT(ss_varint_get(&q, trunc + sizeof trunc, &v), -1);
	CHECK(q == trunc);
	q = trunc;
	CHECK_INT(ss_varint_get(&q, trunc, &v), -1); /* empty */
	/* too long: more than 10 bytes of continuation */
	const uint8_t endless[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				     0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	q = endless;
	CHECK_INT(ss_varint_get(&q, endless + sizeof endless, &v), -1);
	ss_buf_free(&b);
}

/* ---- buffers and JSON strings -------------------------------------------------- */

static void test_buf(void)
{
	struct ss_buf b;

	ss_buf_init(&b);
	CHECK(b.data == NULL && b.len == 0);
	ss_buf_adds(&b, "abc");
	ss_buf_addc(&b, 'd');
	ss_buf_add(&b, "e\0f", 3);
	CHECK_INT(b.len, 7);
	CHECK(memcmp(b.data, "abcde\0f", 7) == 0);
	CHECK_INT(b.data[b.len], '\0'); /* always terminated */
	ss_buf_reset(&b);
	CHECK_INT(b.len, 0);
	CHECK_STR(b.data, "");
	/* addf longer than any first allocation */
	char big[5000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ss_buf_addf(&b, "<%s|%d>", big, 42);
	CHECK_INT(b.len, strlen(big) + 5);
	CHECK(strcmp(b.data + b.len - 4, "|42>") == 0);
	char *s = ss_buf_steal(&b);
	CHECK(s != NULL && s[0] == '<');
	CHECK(b.data == NULL && b.len == 0);
	free(s);
	s = ss_buf_steal(&b); /* empty buffer: an empty string, not NULL */
	CHECK_STR(s, "");
	free(s);
	ss_buf_free(&b);
	ss_buf_free(&b); /* twice is harmless */

	char t[] = "  \t trim me \n ";
	CHECK_STR(ss_trim(t), "trim me");
	char e[] = "   ";
	CHECK_STR(ss_trim(e), "");
}

static void json_is(const char *in, size_t n, const char *expect)
{
	struct ss_buf b;

	ss_buf_init(&b);
	ss_buf_add_json_str(&b, in, n);
	CHECK_STR(b.data, expect);
	ss_buf_free(&b);
}

static void test_json_str(void)
{
	json_is("", 0, "\"\"");
	json_is("plain", 5, "\"plain\"");
	json_is("say \"hi\"", 8, "\"say \\\"hi\\\"\"");
	json_is("back\\slash", 10, "\"back\\\\slash\"");
	json_is("a\nb\rc\td", 7, "\"a\\nb\\rc\\td\"");
	json_is("\x01\x1f", 2, "\"\\u0001\\u001f\"");
	json_is("\b\f", 2, "\"\\u0008\\u000c\"");
	json_is("nul\0byte", 8, "\"nul\\u0000byte\"");
	json_is("del\x7f", 4, "\"del\x7f\"");
	json_is("caf\xc3\xa9 \xf0\x9f\x98\x80", 10,
		"\"caf\xc3\xa9 \xf0\x9f\x98\x80\""); /* UTF-8 kept */
	json_is("</script>", 9, "\"</script>\"");
	json_is("only part", 4, "\"only\"");
}

/* ---- password masking ---------------------------------------------------------- */

/* Masking s must keep every string in keep and drop every one in drop. */
static void masked(const char *s, const char *const *keep, const char *const *drop)
{
	char out[512];

	ss_mask_secrets(s, out, sizeof out);
	for (int i = 0; keep && keep[i]; i++)
		if (!strstr(out, keep[i])) {
			fprintf(stderr, "  mask(\"%s\") = \"%s\": lost \"%s\"\n", s, out, keep[i]);
			unit_failed_checks++;
		}
	for (int i = 0; drop && drop[i]; i++)
		if (strstr(out, drop[i])) {
			fprintf(stderr, "  mask(\"%s\") = \"%s\": still shows \"%s\"\n", s, out,
				drop[i]);
			unit_failed_checks++;
		}
}

#define MASKED(s, keep, drop)                  \
	do {                                   \
		const char *const k_[] = keep; \
		const char *const d_[] = drop; \
		masked(s, k_, d_);             \
	} while (0)
#define L(...)                    \
	{                         \
		__VA_ARGS__, NULL \
	}

static void test_mask_secrets(void)
{
	char out[256];

	/* libpq key=value */
	ss_mask_secrets("host=db port=5432 password=s3cr3t user=repl", out, sizeof out);
	CHECK_STR(out, "host=db port=5432 password=***** user=repl");
	ss_mask_secrets("database shop: cannot connect: password authentication failed for user "
			"\"repl\"",
			out, sizeof out);
	CHECK_STR(out, "database shop: cannot connect: password authentication failed for user "
		       "\"repl\"");
	/* ODBC connection strings */
	ss_mask_secrets("Driver=MariaDB;Server=db;UID=repl;PWD=hunter2;Database=wh", out,
			sizeof out);
	CHECK_STR(out, "Driver=MariaDB;Server=db;UID=repl;PWD=*****;Database=wh");
	MASKED("DSN=lake;Pwd=hunter2", L("DSN=lake"), L("hunter2"));
	MASKED("Password=hunter2", L("Password="), L("hunter2"));
	MASKED("PASSWORD=hunter2;x=1", L("x=1"), L("hunter2"));
	MASKED("password=last", L("password="), L("last"));
	/* values libpq and ODBC allow that hold blanks or separators */
	MASKED("host=db password='two words' user=repl", L("host=db", "user=repl"),
	       L("two", "words"));
	MASKED("host=db password = spaced user=repl", L("host=db", "user=repl"), L("spaced"));
	MASKED("Driver=X;PWD={semi;colon};UID=u", L("Driver=X", "UID=u"), L("semi", "colon"));
	/* URIs: libpq echoes a malformed one whole in its error */
	ss_mask_secrets("invalid URI: \"postgresql://repl:SECRET@[::1/shop\"", out, sizeof out);
	CHECK_STR(out, "invalid URI: \"postgresql://repl:*****@[::1/shop\"");
	MASKED("postgres://u:p%40ss/w@db:5432/shop?sslmode=require", L("postgres://u:", "@db:5432"),
	       L("p%40ss", "/w@db"));
	MASKED("nats://alice:s3cret@127.0.0.1:4222 and more", L("alice", "127.0.0.1", "and more"),
	       L("s3cret"));
	MASKED("postgresql://repl@db/shop", L("postgresql://repl@db/shop"), L("*****"));
	MASKED("see https://example.org/a:b", L("https://example.org/a:b"), L("*****"));
	/* every error message is masked when it is made */
	struct ss_err e;
	ss_err_set(&e, "database shop: cannot connect: %s", "postgresql://repl:SECRET@[::1/shop");
	CHECK(strstr(e.msg, "SECRET") == NULL);
	ss_err_set(&e, "connection failed");
	ss_err_prefix(&e, "dsn %s", "host=db password=hunter2");
	CHECK(strstr(e.msg, "hunter2") == NULL);
	CHECK(strstr(e.msg, "connection failed") != NULL);
	/* nothing to mask */
	ss_mask_secrets("", out, sizeof out);
	CHECK_STR(out, "");
	ss_mask_secrets("no secrets here", out, sizeof out);
	CHECK_STR(out, "no secrets here");
	/* output is cut to the buffer, still terminated */
	char small[8];
	ss_mask_secrets("password=abcdefghijkl", small, sizeof small);
	CHECK(strlen(small) < sizeof small);
	CHECK(strstr(small, "abc") == NULL);
}

int main(void)
{
	UNIT_RUN(test_parse_time);
	UNIT_RUN(test_format_time);
	UNIT_RUN(test_clocks);
	UNIT_RUN(test_durations);
	UNIT_RUN(test_sizes);
	UNIT_RUN(test_varints);
	UNIT_RUN(test_buf);
	UNIT_RUN(test_json_str);
	UNIT_RUN(test_mask_secrets);
	return UNIT_DONE();
}
