/*
 * test_canon.c -- the canonical value encoding of the drift check: MD5
 * vectors, the 60-bit row hash and chunk sums, canonical numerics, floats,
 * times and JSON, and the framing that keeps NULL, '' and separators apart.
 *
 * Expected values marked "PostgreSQL:" / "MariaDB:" were produced by those
 * servers' SQL expressions (the dialects' *_check.c); the C side must match them.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "change.h"
#include "unit.h"

static char *md5hex(const char *s, size_t n)
{
	static char out[33];
	uint8_t d[16];

	ss_md5(s, n, d);
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	return out;
}

static void test_md5_vectors(void)
{
	/* RFC 1321, appendix A.5 */
	CHECK_STR(md5hex("", 0), "d41d8cd98f00b204e9800998ecf8427e");
	CHECK_STR(md5hex("a", 1), "0cc175b9c0f1b6a831c399e269772661");
	CHECK_STR(md5hex("abc", 3), "900150983cd24fb0d6963f7d28e17f72");
	CHECK_STR(md5hex("message digest", 14), "f96b697d7cb7938d525a2f31aaf161d0");
	CHECK_STR(md5hex("abcdefghijklmnopqrstuvwxyz", 26), "c3fcd3d76192e4007dfb496cca67e13b");
	const char *s62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	CHECK_STR(md5hex(s62, 62), "d174ab98d277d9f5a5611c2c9f419d9f");
	const char *s80 = "1234567890123456789012345678901234567890"
			  "1234567890123456789012345678901234567890";
	CHECK_STR(md5hex(s80, 80), "57edf4a22be3c955ac49da2e2107b67a");
}

static void test_md5_streaming(void)
{
	/* every split of a 200-byte message gives the one-shot digest; covers
	 * the 55/56/63/64-byte padding edges */
	char msg[200];
	uint8_t one[16], two[16];

	for (int i = 0; i < 200; i++)
		msg[i] = (char)(i * 7 + 3);
	for (size_t len = 0; len <= 200; len += 1) {
		ss_md5(msg, len, one);
		for (size_t cut = 0; cut <= len; cut += 13) {
			struct ss_md5 m;
			ss_md5_init(&m);
			ss_md5_update(&m, msg, cut);
			ss_md5_update(&m, msg + cut, len - cut);
			ss_md5_final(&m, two);
			CHECK(memcmp(one, two, 16) == 0);
		}
	}
	/* a million 'a' */
	struct ss_md5 m;
	char a[1000];
	memset(a, 'a', sizeof a);
	ss_md5_init(&m);
	for (int i = 0; i < 1000; i++)
		ss_md5_update(&m, a, sizeof a);
	ss_md5_final(&m, one);
	char hex[33];
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", one[i]);
	CHECK_STR(hex, "7707d6ae4e027c70eea2a935c2296f21");
}

static void test_row_hash(void)
{
	/* PostgreSQL: ('x' || substr(md5('abc'), 1, 15))::bit(60)::bigint
	 * MariaDB:    CAST(CONV(SUBSTRING(MD5('abc'), 1, 15), 16, 10) AS UNSIGNED) */
	CHECK(ss_canon_hash("abc", 3) == 648541476951500027ULL);
	CHECK(ss_canon_hash("", 0) == 0xd41d8cd98f00b20ULL);
	CHECK(ss_canon_hash("x", 1) < (1ULL << 60));
}

static void test_sums(void)
{
	struct ss_canon_sum s = {0, 0, 0};
	char buf[48];
	uint64_t lo, hi;

	for (int i = 0; i < 1000; i++)
		ss_canon_sum_add(&s, (1ULL << 60) - 1);
	CHECK_INT(s.count, 1000);
	ss_canon_sum_format(s.lo, s.hi, buf, sizeof buf);
	CHECK_STR(buf, "1152921504606846975000"); /* 1000 * (2^60 - 1) */
	CHECK(ss_canon_sum_parse("1152921504606846975000", &lo, &hi) == 0);
	CHECK(lo == s.lo && hi == s.hi);
	CHECK(ss_canon_sum_parse("1152921504606846975000.000", &lo, &hi) == 0);
	CHECK(lo == s.lo && hi == s.hi);
	CHECK(ss_canon_sum_parse("0", &lo, &hi) == 0 && lo == 0 && hi == 0);
	ss_canon_sum_format(0, 0, buf, sizeof buf);
	CHECK_STR(buf, "0");
	ss_canon_sum_format(UINT64_MAX, 0, buf, sizeof buf);
	CHECK_STR(buf, "18446744073709551615");
	ss_canon_sum_format(0, 1, buf, sizeof buf);
	CHECK_STR(buf, "18446744073709551616");
	CHECK(ss_canon_sum_parse("12a", &lo, &hi) < 0);
	CHECK(ss_canon_sum_parse("", &lo, &hi) < 0);
	CHECK(ss_canon_sum_parse("1.5", &lo, &hi) < 0);
	CHECK(ss_canon_sum_parse("340282366920938463463374607431768211456", &lo, &hi) <
	      0); /* 2^128 */
}

static const char *dec(const char *s)
{
	static struct ss_buf b;

	ss_buf_free(&b);
	ss_buf_init(&b);
	if (ss_canon_decimal(s, strlen(s), &b) < 0)
		return "(error)";
	return b.data;
}

static void test_decimal(void)
{
	CHECK_STR(dec("0"), "0");
	CHECK_STR(dec("-0"), "0");
	CHECK_STR(dec("-0.000"), "0");
	CHECK_STR(dec("1.2300000000"), "1.23");
	CHECK_STR(dec("100"), "100");
	CHECK_STR(dec("100.000"), "100");
	CHECK_STR(dec("-12.50"), "-12.5");
	CHECK_STR(dec("0012.5"), "12.5");
	CHECK_STR(dec("+.5"), "0.5");
	CHECK_STR(dec("5."), "5");
	CHECK_STR(dec("0.000123"), "0.000123");
	CHECK_STR(dec("1.5e-3"), "0.0015");
	CHECK_STR(dec("1E3"), "1000");
	CHECK_STR(dec("1.25e1"), "12.5");
	CHECK_STR(dec("9223372036854775807"), "9223372036854775807");
	CHECK_STR(dec("-9223372036854775808"), "-9223372036854775808");
	CHECK_STR(dec("1234567890123456789012345678.1234567890"),
		  "1234567890123456789012345678.123456789");
	CHECK_STR(dec("-9999999999999999999999999999.9999999999"),
		  "-9999999999999999999999999999.9999999999");
	CHECK_STR(dec("NaN"), "NaN");
	CHECK_STR(dec("abc"), "(error)");
	CHECK_STR(dec(""), "(error)");
	CHECK_STR(dec("1e"), "(error)");
	CHECK_STR(dec("."), "(error)");
}

/* Results live in a small ring of buffers so two may be compared. */
static const char *flt(const char *s, int digits)
{
	static struct ss_buf ring[4];
	static int next;
	struct ss_buf *b = &ring[next++ % 4];

	ss_buf_free(b);
	ss_buf_init(b);
	if (ss_canon_float(s, strlen(s), digits, b) < 0)
		return "(error)";
	return b->data;
}

/* "0." and n - 1 zeros and "1": 10^-n */
static const char *tiny(int n)
{
	static char buf[400];

	memcpy(buf, "0.", 2);
	memset(buf + 2, '0', (size_t)n - 1);
	buf[n + 1] = '1';
	buf[n + 2] = '\0';
	return buf;
}

static void test_float(void)
{
	/* PostgreSQL: trim_scale(round(x::text::numeric, 14 - exponent)) */
	CHECK_STR(flt("0.30000000000000004", 15), "0.3");
	CHECK_STR(flt("0.1", 15), "0.1");
	CHECK_STR(flt("-0", 15), "0");
	CHECK_STR(flt("0", 15), "0");
	CHECK_STR(flt("1e-300", 15), tiny(300));
	struct ss_buf b;
	ss_buf_init(&b);
	CHECK(ss_canon_float("1e+300", 6, 15, &b) == 0);
	CHECK_INT(b.len, 301);
	CHECK(b.data[0] == '1' && strspn(b.data + 1, "0") == 300);
	CHECK_STR(flt("1e300", 15), flt("1e+300", 15));
	CHECK_STR(flt("123456789012345678", 15), "123456789012346000");
	CHECK_STR(flt("1.2345678901234567e-300", 15), flt("1.23456789012346e-300", 15));
	CHECK_STR(flt("3.141592653589793", 15), "3.14159265358979");
	CHECK_STR(flt("2.5", 15), "2.5");
	CHECK_STR(flt("-1.5e-7", 15), "-0.00000015");
	b.len = 0;
	CHECK(ss_canon_float("1.7976931348623157e308", 22, 15, &b) == 0);
	CHECK_INT(b.len, 309);
	CHECK(strncmp(b.data, "179769313486232000", 18) == 0);
	ss_buf_free(&b);
	/* the same double written with 17 digits (SQLite's %!.17g) */
	CHECK_STR(flt("0.10000000000000001", 15), "0.1");
	CHECK_STR(flt("1.0000000000000001e+300", 15), flt("1e300", 15));
	/* 16 significant digits, half rounds away from zero */
	CHECK_STR(flt("0.1234567890123455", 15), "0.123456789012346");
	CHECK_STR(flt("-0.1234567890123455", 15), "-0.123456789012346");
	CHECK_STR(flt("9.999999999999999", 15), "10");
	/* subnormals: the shortest text has fewer digits than %.15g prints */
	{
		char b2[40];
		ss_canon_shortest(4.9406564584124654e-324, b2, sizeof b2);
		CHECK_STR(b2, "5e-324");
		ss_canon_shortest(2.5e-310, b2, sizeof b2);
		CHECK_STR(b2, "2.5e-310");
		ss_canon_shortest(0.1, b2, sizeof b2);
		CHECK_STR(b2, "0.1");
		ss_canon_shortest(1.7976931348623157e308, b2, sizeof b2);
		CHECK_STR(b2, "1.7976931348623157e+308");
	}
	CHECK_STR(flt("2.50000000000002e-310", 15), flt("2.5e-310", 15));
	CHECK_STR(flt("NaN", 15), "NaN");
	CHECK_STR(flt("Infinity", 15), "Infinity");
	CHECK_STR(flt("-Infinity", 15), "-Infinity");
	CHECK_STR(flt("x", 15), "(error)");
	/* single precision: PostgreSQL real::numeric and MariaDB FLOAT text */
	CHECK_STR(flt("3.14159", 6), "3.14159");
	CHECK_STR(flt("1.234565", 6), "1.23457");
	CHECK_STR(flt("16777217", 6), "16777200");
	CHECK_STR(flt("0.1", 6), "0.1");
	CHECK_STR(flt("1e-40", 6), "0.0000000000000000000000000000000000000000999995");
	CHECK_STR(flt("1e38", 6), "100000000000000000000000000000000000000");
	CHECK_STR(flt("1e300", 6), flt("1e300", 15)); /* outside float: the double path */
}

static const char *frac(const char *s, int d)
{
	static struct ss_buf b;

	ss_buf_free(&b);
	ss_buf_init(&b);
	ss_canon_fraction(s, strlen(s), d, &b);
	return b.data;
}

static void test_fraction(void)
{
	CHECK_STR(frac("10:00:00", 0), "10:00:00");
	CHECK_STR(frac("10:00:00", 3), "10:00:00.000");
	CHECK_STR(frac("10:00:00.5", 3), "10:00:00.500");
	CHECK_STR(frac("10:00:00.123456", 3), "10:00:00.123");
	CHECK_STR(frac("10:00:00.123999", 3), "10:00:00.123"); /* truncated, as MariaDB stores */
	CHECK_STR(frac("10:00:00.123456", 0), "10:00:00");
	CHECK_STR(frac("2024-01-02 03:04:05.1", 6), "2024-01-02 03:04:05.100000");
	CHECK_STR(frac("-838:59:59.5", 1), "-838:59:59.5");
}

static const char *json(const char *s)
{
	static struct ss_buf b;

	ss_buf_free(&b);
	ss_buf_init(&b);
	if (ss_canon_json(s, strlen(s), &b) < 0)
		return "(error)";
	return b.data ? b.data : "";
}

static void test_json(void)
{
	/* PostgreSQL: '...'::jsonb::text */
	CHECK_STR(json("{\"b\": 1, \"a\": [1, 2.50], \"aa\": 1e2, \"s\": \"\\u00e9\\n\"}"),
		  "{\"a\": [1, 2.50], \"b\": 1, \"s\": \"\xc3\xa9\\n\", \"aa\": 100}");
	CHECK_STR(json("{\"b\":1,\"a\":[1,2.50]}"), "{\"a\": [1, 2.50], \"b\": 1}");
	CHECK_STR(json("  [ ]  "), "[]");
	CHECK_STR(json("{}"), "{}");
	CHECK_STR(json("{\"a\":1,\"a\":2}"), "{\"a\": 2}");
	CHECK_STR(json("{\"a\":{\"z\":null,\"y\":true},\"c\":false}"),
		  "{\"a\": {\"y\": true, \"z\": null}, \"c\": false}");
	CHECK_STR(json("[1.5E-3, -0, -0.0, 1.50e1, 10]"), "[0.0015, 0, 0.0, 15.0, 10]");
	CHECK_STR(json("\"tab\\there \\\"q\\\" \\\\ \\/ \\u0001\""),
		  "\"tab\\there \\\"q\\\" \\\\ / \\u0001\"");
	CHECK_STR(json("\"\\ud83d\\ude00\""), "\"\xf0\x9f\x98\x80\"");
	CHECK_STR(json("{\"a\" 1}"), "(error)");
	CHECK_STR(json("[1,]"), "(error)");
	CHECK_STR(json("[1] x"), "(error)");
	CHECK_STR(json(""), "(error)");
}

static const char *val(char cls, int digits, uint8_t vtype, const char *v)
{
	static struct ss_buf b;
	struct ss_canon_col c = {cls, digits};
	struct ss_err err;

	ss_buf_free(&b);
	ss_buf_init(&b);
	if (ss_canon_value(&c, vtype, v, v ? strlen(v) : 0, &b, &err) < 0)
		return "(error)";
	return b.data;
}

static void test_framing(void)
{
	CHECK_STR(val('s', 0, SS_V_TEXT, NULL), "N");
	CHECK_STR(val('s', 0, SS_V_TEXT, ""), "s0:");
	CHECK_STR(val('s', 0, SS_V_TEXT, "N"), "s1:N");
	CHECK_STR(val('s', 0, SS_V_TEXT, "a;b"), "s3:a;b");
	CHECK_STR(val('s', 0, SS_V_TEXT, "\xf0\x9f\x98\x80"),
		  "s4:\xf0\x9f\x98\x80"); /* bytes, not chars */
	CHECK_STR(val('i', 0, SS_V_INT, "-9223372036854775808"), "i-9223372036854775808;");
	CHECK_STR(val('n', 0, SS_V_NUMERIC, "1.2300000000"), "n1.23;");
	CHECK_STR(val('n', 0, SS_V_INT, "42"), "n42;");
	CHECK_STR(val('b', 0, SS_V_BOOL, "1"), "b1;");
	CHECK_STR(val('b', 0, SS_V_INT, "0"), "b0;");
	CHECK_STR(val('b', 0, SS_V_INT, "2"), "b1;");
	CHECK_STR(val('x', 0, SS_V_BINARY, "\x00\xff"), "x;"); /* strlen stops at NUL */
	{
		struct ss_canon_col c = {'x', 0};
		struct ss_buf b;
		struct ss_err err;
		ss_buf_init(&b);
		CHECK(ss_canon_value(&c, SS_V_BINARY, "\x00\xff", 2, &b, &err) == 0);
		CHECK_STR(b.data, "x00ff;");
		ss_buf_free(&b);
	}
	CHECK_STR(val('p', 3, SS_V_TIMESTAMPTZ, "2024-01-02 03:04:05.123456+00"),
		  "p2024-01-02 03:04:05.123;");
	CHECK_STR(val('p', 6, SS_V_TIMESTAMPTZ, "2024-01-02 05:04:05.5+02:00"),
		  "p2024-01-02 03:04:05.500000;");
	CHECK_STR(val('p', 0, SS_V_TIMESTAMP, "2024-01-02T03:04:05.9"), "p2024-01-02 03:04:05;");
	CHECK_STR(val('t', 6, SS_V_TIME, "10:11:12.5"), "t10:11:12.500000;");
	CHECK_STR(val('d', 0, SS_V_DATE, "2024-02-29"), "d2024-02-29;");
	CHECK_STR(val('u', 0, SS_V_TEXT, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
		  "ua0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11;");
	CHECK_STR(val('j', 0, SS_V_JSON, "{\"b\":1,\"a\":2}"), "j16:{\"a\": 2, \"b\": 1}");
	CHECK_STR(val('j', 0, SS_V_JSON, "{oops"), "(error)");
	CHECK_STR(val('f', 15, SS_V_FLOAT, "-0"), "f0;");
	CHECK_STR(val('n', 0, SS_V_NUMERIC, "x"), "(error)");

	/* rows that differ only in where a value ends cannot collide */
	struct ss_canon_col s = {'s', 0};
	struct ss_buf r1, r2;
	struct ss_err err;
	ss_buf_init(&r1);
	ss_buf_init(&r2);
	CHECK(ss_canon_value(&s, SS_V_TEXT, "ab", 2, &r1, &err) == 0);
	CHECK(ss_canon_value(&s, SS_V_TEXT, "c", 1, &r1, &err) == 0);
	CHECK(ss_canon_value(&s, SS_V_TEXT, "a", 1, &r2, &err) == 0);
	CHECK(ss_canon_value(&s, SS_V_TEXT, "bc", 2, &r2, &err) == 0);
	CHECK(strcmp(r1.data, r2.data) != 0);
	ss_buf_reset(&r1);
	ss_buf_reset(&r2);
	CHECK(ss_canon_value(&s, SS_V_TEXT, NULL, 0, &r1, &err) == 0);
	CHECK(ss_canon_value(&s, SS_V_TEXT, "", 0, &r2, &err) == 0);
	CHECK(strcmp(r1.data, r2.data) != 0);
	ss_buf_free(&r1);
	ss_buf_free(&r2);
}

static void test_pick(void)
{
	struct ss_canon_src pg_ts = {SS_V_TIMESTAMPTZ, 15, 6}, my_dt3 = {SS_V_TIMESTAMP, 15, 3};
	struct ss_canon_src pg_bool = {SS_V_BOOL, 15, -1}, my_tiny = {SS_V_INT, 15, -1};
	struct ss_canon_src dbl = {SS_V_FLOAT, 15, -1}, real = {SS_V_FLOAT, 6, -1};
	struct ss_canon_src txt = {SS_V_TEXT, 15, -1}, uuid = {SS_V_UUID, 15, -1};
	struct ss_canon_src num = {SS_V_NUMERIC, 15, -1}, bin = {SS_V_BINARY, 15, -1};
	struct ss_canon_col c;

	ss_canon_pick(&pg_ts, &my_dt3, &c);
	CHECK(c.cls == 'p' && c.digits == 3);
	ss_canon_pick(&pg_ts, &pg_ts, &c);
	CHECK(c.cls == 'p' && c.digits == 6);
	ss_canon_pick(&pg_bool, &my_tiny, &c);
	CHECK(c.cls == 'b');
	ss_canon_pick(&dbl, &real, &c);
	CHECK(c.cls == 'f' && c.digits == 6);
	ss_canon_pick(&dbl, &dbl, &c);
	CHECK(c.cls == 'f' && c.digits == 15);
	ss_canon_pick(&uuid, &txt, &c);
	CHECK(c.cls == 'u');
	ss_canon_pick(&my_tiny, &num, &c);
	CHECK(c.cls == 'n');
	ss_canon_pick(&bin, &txt, &c);
	CHECK(c.cls == 's');
}

int main(void)
{
	UNIT_RUN(test_md5_vectors);
	UNIT_RUN(test_md5_streaming);
	UNIT_RUN(test_row_hash);
	UNIT_RUN(test_sums);
	UNIT_RUN(test_decimal);
	UNIT_RUN(test_float);
	UNIT_RUN(test_fraction);
	UNIT_RUN(test_json);
	UNIT_RUN(test_framing);
	UNIT_RUN(test_pick);
	return UNIT_DONE();
}
