/*
 * test_change.c -- the journal form of a change: the binary payload round
 * trip (NULL vs '', every byte value, unicode), the reader of the JSON row
 * images PostgreSQL's to_json() writes (bytea, timestamptz to UTC,
 * timestamp, booleans, exact numerics, nested JSON, string escapes and
 * surrogate pairs, null), and the JSON line `journal dump` prints.
 */
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"
#include "util.h"

static struct ss_field *add(struct ss_change *c, int key, const char *name, uint8_t type,
			    const char *data, size_t len)
{
	struct ss_field *f = key ? ss_change_add_key(c) : ss_change_add_row(c);

	ss_change_field_store(c, f, name, strlen(name), type, data, len);
	return f;
}

/* Field name of f equals s. */
static int name_is(const struct ss_field *f, const char *s)
{
	return f->name_len == strlen(s) && memcmp(f->name, s, f->name_len) == 0;
}

/* Field value of f equals the n bytes at s. */
static int value_is(const struct ss_field *f, const char *s, size_t n)
{
	return !f->is_null && f->len == n && (n == 0 || memcmp(f->data, s, n) == 0);
}

#define CHECK_VALUE(f, s) CHECK((f) && value_is((f), (s), strlen(s)))

static void test_round_trip(void)
{
	struct ss_change c, d;
	struct ss_buf payload;
	struct ss_err err;
	char bin[256];
	const char *uni = "Grüße, 日本語, emoji 😀, quote \" backslash \\ tab \t nul-free";

	for (int i = 0; i < 256; i++)
		bin[i] = (char)i;
	ss_change_init(&c);
	ss_change_init(&d);
	ss_buf_init(&payload);
	c.op = 'U';
	c.source_id = 1234567890123ULL;
	c.source_ts_us = 1795600000123456LL;
	c.schema = "Sales";
	c.schema_len = 5;
	c.table = "Order Items";
	c.table_len = 11;
	add(&c, 1, "id", SS_V_INT, "42", 2);
	add(&c, 1, "region", SS_V_TEXT, "", 0); /* an empty key part is not NULL */
	add(&c, 0, "id", SS_V_INT, "42", 2);
	add(&c, 0, "region", SS_V_TEXT, "", 0);
	add(&c, 0, "note", SS_V_NULL, NULL, 0);
	add(&c, 0, "empty", SS_V_TEXT, "", 0);
	add(&c, 0, "blob", SS_V_BINARY, bin, sizeof bin);
	add(&c, 0, "text", SS_V_TEXT, uni, strlen(uni));
	add(&c, 0, "amount", SS_V_NUMERIC, "12345678901234567890.1234567890", 31);
	add(&c, 0, "ratio", SS_V_FLOAT, "-0", 2);
	add(&c, 0, "flag", SS_V_BOOL, "1", 1);
	add(&c, 0, "at", SS_V_TIMESTAMPTZ, "2026-01-01 08:00:00.5+00", 24);
	add(&c, 0, "doc", SS_V_JSON, "{\"a\": [1, 2]}", 13);
	add(&c, 0, "nul byte", SS_V_BINARY, "a\0b", 3);
	ss_change_finish(&c);

	ss_change_encode(&c, &payload);
	CHECK(payload.len > 0);
	CHECK_INT(ss_change_decode(&d, (const uint8_t *)payload.data, payload.len, &err), 0);
	CHECK_INT(d.op, 'U');
	CHECK_INT(d.source_id, 1234567890123ULL);
	CHECK_INT(d.source_ts_us, 1795600000123456LL);
	CHECK(d.schema_len == 5 && memcmp(d.schema, "Sales", 5) == 0);
	CHECK(d.table_len == 11 && memcmp(d.table, "Order Items", 11) == 0);
	CHECK_INT(d.nkey, 2);
	CHECK_INT(d.nrow, c.nrow);
	if (d.nkey == 2 && d.nrow == c.nrow) {
		for (int i = 0; i < c.nkey; i++) {
			CHECK(d.key[i].name_len == c.key[i].name_len &&
			      memcmp(d.key[i].name, c.key[i].name, c.key[i].name_len) == 0);
			CHECK_INT(d.key[i].is_null, c.key[i].is_null);
			CHECK(value_is(&d.key[i], c.key[i].data, c.key[i].len));
		}
		for (int i = 0; i < c.nrow; i++) {
			const struct ss_field *a = &c.row[i], *b = &d.row[i];
			CHECK(b->name_len == a->name_len &&
			      memcmp(b->name, a->name, a->name_len) == 0);
			CHECK_INT(b->is_null, a->is_null);
			if (!a->is_null) {
				CHECK_INT(b->type, a->type);
				CHECK(value_is(b, a->data, a->len));
			}
		}
	}
	/* NULL and '' stay apart */
	const struct ss_field *note = ss_change_field(d.row, d.nrow, "note");
	const struct ss_field *empty = ss_change_field(d.row, d.nrow, "empty");
	CHECK(note && note->is_null);
	CHECK(empty && !empty->is_null && empty->len == 0 && empty->type == SS_V_TEXT);
	const struct ss_field *blob = ss_change_field(d.row, d.nrow, "blob");
	CHECK(blob && blob->len == 256 && memcmp(blob->data, bin, 256) == 0);
	CHECK(ss_change_field(d.row, d.nrow, "missing") == NULL);
	CHECK(ss_change_field(d.row, d.nrow, "nul") == NULL); /* exact names only */

	/* re-encoding the decoded change gives the same bytes */
	struct ss_buf again;
	ss_buf_init(&again);
	ss_change_encode(&d, &again);
	CHECK(again.len == payload.len && memcmp(again.data, payload.data, payload.len) == 0);
	ss_buf_free(&again);

	ss_change_release(&c);
	ss_change_release(&d);
	ss_buf_free(&payload);
}

static void test_delete_and_negative_time(void)
{
	struct ss_change c, d;
	struct ss_buf payload;
	struct ss_err err;

	ss_change_init(&c);
	ss_change_init(&d);
	ss_buf_init(&payload);
	c.op = 'D';
	c.source_ts_us = -1; /* 1969-12-31T23:59:59.999999Z */
	c.schema = "public";
	c.schema_len = 6;
	c.table = "t";
	c.table_len = 1;
	add(&c, 1, "id", SS_V_INT, "-9223372036854775808", 20);
	ss_change_finish(&c);
	ss_change_encode(&c, &payload);
	CHECK_INT(ss_change_decode(&d, (const uint8_t *)payload.data, payload.len, &err), 0);
	CHECK_INT(d.op, 'D');
	CHECK_INT(d.source_ts_us, -1);
	CHECK_INT(d.nrow, 0);
	CHECK_INT(d.nkey, 1);
	if (d.nkey == 1)
		CHECK_VALUE(&d.key[0], "-9223372036854775808");

	/* a change object is reusable after reset */
	ss_change_reset(&c);
	CHECK_INT(c.nkey, 0);
	CHECK_INT(c.nrow, 0);
	c.op = 'I';
	c.schema = "s";
	c.schema_len = 1;
	c.table = "t";
	c.table_len = 1;
	add(&c, 1, "k", SS_V_TEXT, "x", 1);
	add(&c, 0, "k", SS_V_TEXT, "x", 1);
	ss_change_finish(&c);
	CHECK_VALUE(&c.key[0], "x");
	ss_change_release(&c);
	ss_change_release(&d);
	ss_buf_free(&payload);
}

/* A damaged payload is an error, never a crash or a wrong change. */
static void test_decode_damaged(void)
{
	struct ss_change c, d;
	struct ss_buf payload;
	struct ss_err err;

	ss_change_init(&c);
	ss_buf_init(&payload);
	c.op = 'I';
	c.schema = "public";
	c.schema_len = 6;
	c.table = "orders";
	c.table_len = 6;
	add(&c, 1, "id", SS_V_INT, "1", 1);
	add(&c, 0, "id", SS_V_INT, "1", 1);
	add(&c, 0, "name", SS_V_TEXT, "Alice", 5);
	add(&c, 0, "none", SS_V_NULL, NULL, 0);
	ss_change_finish(&c);
	ss_change_encode(&c, &payload);

	for (size_t len = 0; len < payload.len; len++) {
		ss_change_init(&d);
		memset(&err, 0, sizeof err);
		/* a copy of exactly len bytes, so reading past it is caught */
		uint8_t *cut = malloc(len ? len : 1);
		memcpy(cut, payload.data, len);
		if (ss_change_decode(&d, cut, len, &err) == 0) {
			fprintf(stderr, "  truncated payload (%zu of %zu bytes) decoded\n", len,
				payload.len);
			unit_failed_checks++;
		} else {
			CHECK(err.msg[0] != '\0');
		}
		free(cut);
		ss_change_release(&d);
	}
	/* trailing garbage */
	ss_buf_addc(&payload, 'x');
	ss_change_init(&d);
	CHECK_INT(ss_change_decode(&d, (const uint8_t *)payload.data, payload.len, &err), -1);
	ss_change_release(&d);
	/* unknown version */
	payload.data[0] = 9;
	ss_change_init(&d);
	CHECK_INT(ss_change_decode(&d, (const uint8_t *)payload.data, payload.len - 1, &err), -1);
	CHECK(strstr(err.msg, "version") != NULL);
	ss_change_release(&d);
	ss_change_release(&c);
	ss_buf_free(&payload);
}

/* ---- row images ----------------------------------------------------------- */

static const struct ss_image_col cols[] = {
	{"id", SS_V_INT},
	{"b", SS_V_BINARY},
	{"plainhex", SS_V_BINARY},
	{"tz", SS_V_TIMESTAMPTZ},
	{"tz2", SS_V_TIMESTAMPTZ},
	{"tz3", SS_V_TIMESTAMPTZ},
	{"tzinf", SS_V_TIMESTAMPTZ},
	{"ts", SS_V_TIMESTAMP},
	{"flag", SS_V_BOOL},
	{"off", SS_V_BOOL},
	{"n", SS_V_NUMERIC},
	{"f", SS_V_FLOAT},
	{"fnan", SS_V_FLOAT},
	{"doc", SS_V_JSON},
	{"jstr", SS_V_JSON},
	{"s", SS_V_TEXT},
	{"esc", SS_V_TEXT},
	{"nul", SS_V_TEXT},
	{"empty", SS_V_TEXT},
	{"u", SS_V_UUID},
	{"d", SS_V_DATE},
	{"Mixed Case", SS_V_TEXT},
};
#define NCOLS ((int)(sizeof cols / sizeof cols[0]))

static void test_image_postgres_to_json(void)
{
	/* as PostgreSQL 15's to_json(NEW) writes a row (one line; spacing as
	 * PostgreSQL leaves it) */
	const char *json =
		"{\"id\":-42,\"b\":\"\\\\x00ff\",\"plainhex\":\"DEADbeef\","
		"\"tz\":\"2026-01-01T10:00:00.5+02:00\",\"tz2\":\"2026-01-01T00:30:00+01:00\","
		"\"tz3\":\"2026-06-30T23:59:59.123456-05:30\",\"tzinf\":\"infinity\","
		"\"ts\":\"2026-01-01T10:00:00\",\"flag\":true,\"off\":false,"
		"\"n\":12345678901234567890.1234567890,\"f\":-1.5e-07,\"fnan\":\"NaN\","
		"\"doc\":{\"a\": [1, \"x}\", {\"b\": null}], \"c\": \"q\\\"\"},"
		"\"jstr\":\"just text\","
		"\"s\":\"caf\\u00e9 \\ud83d\\ude00 \\u65e5\","
		"\"esc\":\"q\\\" b\\\\ s\\/ n\\n t\\t r\\r bs\\b ff\\f u\\u0001\","
		"\"nul\":null,\"empty\":\"\",\"skipped\":{\"x\":[1,2,{\"y\":\"}\"}]},"
		"\"u\":\"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11\",\"d\":\"2026-02-28\","
		"\"Mixed Case\":\"k\"}";
	struct ss_change c;
	struct ss_err err;

	ss_change_init(&c);
	memset(&err, 0, sizeof err);
	CHECK_INT(ss_image_parse(&c, 0, json, strlen(json), cols, NCOLS, &err), 0);
	if (err.msg[0])
		fprintf(stderr, "  %s\n", err.msg);
	ss_change_finish(&c);
	CHECK_INT(c.nrow, NCOLS); /* "skipped" is not one of the columns */
	CHECK_INT(c.nkey, 0);

	const struct ss_field *f;
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "id"), "-42");
	f = ss_change_field(c.row, c.nrow, "b");
	CHECK(f && f->type == SS_V_BINARY && value_is(f, "\x00\xff", 2));
	f = ss_change_field(c.row, c.nrow, "plainhex");
	CHECK(f && value_is(f, "\xde\xad\xbe\xef", 4));
	f = ss_change_field(c.row, c.nrow, "tz");
	CHECK(f && f->type == SS_V_TIMESTAMPTZ);
	CHECK_VALUE(f, "2026-01-01 08:00:00.5+00");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "tz2"), "2025-12-31 23:30:00+00");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "tz3"), "2026-07-01 05:29:59.123456+00");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "tzinf"), "infinity");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "ts"), "2026-01-01 10:00:00");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "flag"), "1");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "off"), "0");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "n"), "12345678901234567890.1234567890");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "f"), "-1.5e-07");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "fnan"), "NaN");
	f = ss_change_field(c.row, c.nrow, "doc");
	CHECK(f && f->type == SS_V_JSON);
	CHECK_VALUE(f, "{\"a\": [1, \"x}\", {\"b\": null}], \"c\": \"q\\\"\"}");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "jstr"), "\"just text\"");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "s"),
		    "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe6\x97\xa5"); /* café 😀 日 */
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "esc"),
		    "q\" b\\ s/ n\n t\t r\r bs\b ff\f u\x01");
	f = ss_change_field(c.row, c.nrow, "nul");
	CHECK(f && f->is_null);
	f = ss_change_field(c.row, c.nrow, "empty");
	CHECK(f && !f->is_null && f->len == 0);
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "u"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "d"), "2026-02-28");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "Mixed Case"), "k");
	CHECK(ss_change_field(c.row, c.nrow, "skipped") == NULL);
	ss_change_release(&c);
}

static void test_image_key_and_spacing(void)
{
	/* json_build_object() output has spaces around : and , */
	const char *key = " { \"id\" : 7 , \"region\" : \"EU\" } ";
	const struct ss_image_col kc[] = {{"id", SS_V_INT}, {"region", SS_V_TEXT}};
	struct ss_change c;
	struct ss_err err;

	ss_change_init(&c);
	CHECK_INT(ss_image_parse(&c, 1, key, strlen(key), kc, 2, &err), 0);
	ss_change_finish(&c);
	CHECK_INT(c.nkey, 2);
	CHECK_INT(c.nrow, 0);
	if (c.nkey == 2) {
		CHECK(name_is(&c.key[0], "id"));
		CHECK_VALUE(&c.key[0], "7");
		CHECK(name_is(&c.key[1], "region"));
		CHECK_VALUE(&c.key[1], "EU");
	}
	/* an empty object adds nothing */
	ss_change_reset(&c);
	CHECK_INT(ss_image_parse(&c, 0, "{}", 2, kc, 2, &err), 0);
	CHECK_INT(c.nrow, 0);
	ss_change_release(&c);
}

static void test_image_errors(void)
{
	const struct ss_image_col bc[] = {
		{"b", SS_V_BINARY}, {"flag", SS_V_BOOL}, {"tz", SS_V_TIMESTAMPTZ}};
	const char *bad[] = {"",
			     "[1,2]",
			     "{\"b\":\"\\\\x00ff\"",
			     "{\"b\" \"\\\\x00\"}",
			     "{b:1}",
			     "{\"b\":\"\\\\x00ff\",}",
			     "{\"s\":\"unterminated}",
			     NULL};
	struct ss_change c;
	struct ss_err err;

	for (int i = 0; bad[i]; i++) {
		ss_change_init(&c);
		memset(&err, 0, sizeof err);
		if (ss_image_parse(&c, 0, bad[i], strlen(bad[i]), bc, 3, &err) == 0) {
			fprintf(stderr, "  malformed image accepted: %s\n", bad[i]);
			unit_failed_checks++;
		} else {
			CHECK(err.msg[0] != '\0');
		}
		ss_change_release(&c);
	}
	/* a binary value that is not hex is a broken image: named by column */
	const char *badval[] = {"{\"b\":\"\\\\x0g\"}", "{\"b\":\"abc\"}", NULL};
	for (int i = 0; badval[i]; i++) {
		ss_change_init(&c);
		memset(&err, 0, sizeof err);
		if (ss_image_parse(&c, 0, badval[i], strlen(badval[i]), bc, 3, &err) == 0) {
			fprintf(stderr, "  bad value accepted: %s\n", badval[i]);
			unit_failed_checks++;
		} else if (!strstr(err.msg, "column b")) {
			fprintf(stderr, "  error for %s does not name column b: %s\n", badval[i],
				err.msg);
			unit_failed_checks++;
		}
		ss_change_release(&c);
	}
	/* any other value the reader does not know travels as the source wrote
	 * it, typed TEXT: capture never stops on a value */
	const char *odd = "{\"flag\":\"maybe\",\"tz\":\"2026-13-01T00:00:00Z\"}";
	ss_change_init(&c);
	memset(&err, 0, sizeof err);
	CHECK_INT(ss_image_parse(&c, 0, odd, strlen(odd), bc, 3, &err), 0);
	ss_change_finish(&c);
	const struct ss_field *f = ss_change_field(c.row, c.nrow, "flag");
	CHECK(f && f->type == SS_V_TEXT);
	CHECK_VALUE(f, "maybe");
	f = ss_change_field(c.row, c.nrow, "tz");
	CHECK(f && f->type == SS_V_TEXT);
	CHECK_VALUE(f, "2026-13-01T00:00:00Z");
	ss_change_release(&c);
}

/* PostgreSQL's capture writes every value as its text form, in UTC
 * (install_table.sql): years before 1 and after 9999, infinities, and
 * the JSON document null (a string) apart from SQL NULL. */
static void test_image_text(void)
{
	const char *json = "{\"id\" : \"1\", \"tz\" : \"0044-03-15 10:00:00+00 BC\", "
			   "\"tz5\" : \"12345-06-07 08:09:10.5+00\", \"tzi\" : \"-infinity\", "
			   "\"d\" : \"0044-03-15 BC\", \"ts\" : \"12345-06-07 08:09:10\", "
			   "\"jnull\" : \"null\", \"jsql\" : null, \"jstr\" : \"\\\"s\\\"\", "
			   "\"jarr\" : \"[1, 2]\", \"jnested\" : [3], \"arr\" : \"{1,NULL}\", "
			   "\"flag\" : \"true\", \"b\" : \"\\\\xcafe\"}";
	const struct ss_image_col ic[] = {
		{"id", SS_V_INT},          {"tz", SS_V_TIMESTAMPTZ}, {"tz5", SS_V_TIMESTAMPTZ},
		{"tzi", SS_V_TIMESTAMPTZ}, {"d", SS_V_DATE},         {"ts", SS_V_TIMESTAMP},
		{"jnull", SS_V_JSON},      {"jsql", SS_V_JSON},      {"jstr", SS_V_JSON},
		{"jarr", SS_V_JSON},       {"jnested", SS_V_JSON},   {"arr", SS_V_TEXT},
		{"flag", SS_V_BOOL},       {"b", SS_V_BINARY}};
	struct ss_change c;
	struct ss_err err;

	ss_change_init(&c);
	memset(&err, 0, sizeof err);
	CHECK_INT(ss_image_parse_text(&c, 0, json, strlen(json), ic, 14, &err), 0);
	if (err.msg[0])
		fprintf(stderr, "  %s\n", err.msg);
	ss_change_finish(&c);
	CHECK_INT(c.nrow, 14);
	const struct ss_field *f = ss_change_field(c.row, c.nrow, "tz");
	CHECK(f && f->type == SS_V_TIMESTAMPTZ);
	CHECK_VALUE(f, "0044-03-15 10:00:00+00 BC");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "tz5"), "12345-06-07 08:09:10.5+00");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "tzi"), "-infinity");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "d"), "0044-03-15 BC");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "ts"), "12345-06-07 08:09:10");
	f = ss_change_field(c.row, c.nrow, "jnull");
	CHECK(f && !f->is_null && f->type == SS_V_JSON);
	CHECK_VALUE(f, "null");
	f = ss_change_field(c.row, c.nrow, "jsql");
	CHECK(f && f->is_null);
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "jstr"), "\"s\"");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "jarr"), "[1, 2]");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "jnested"), "[3]");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "arr"), "{1,NULL}");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "flag"), "1");
	f = ss_change_field(c.row, c.nrow, "b");
	CHECK(f && value_is(f, "\xca\xfe", 2));
	ss_change_release(&c);
	/* the same string in an image of typed JSON values is a JSON string */
	ss_change_init(&c);
	const char *typed = "{\"jarr\":\"[1, 2]\"}";
	CHECK_INT(ss_image_parse(&c, 0, typed, strlen(typed), ic, 14, &err), 0);
	ss_change_finish(&c);
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "jarr"), "\"[1, 2]\"");
	ss_change_release(&c);
}

/* Verbatim from PostgreSQL 15 (SET TimeZone = 'Europe/Amsterdam';
 * SELECT to_json(t) ...): before 1892 the zone's offset has seconds, and
 * to_json writes them.  The row must still be captured, in UTC. */
/* Found by tests/fuzz/fuzz_image (corpus image/crash-*): a row image is
 * (pointer, length), not a C string.  Every proper prefix of an image is
 * malformed and must be refused with a message, reading nothing past its
 * end (each is copied into a buffer of exactly its length, so ASan sees an
 * overread, in the value or in the error message); a NUL byte where a value
 * should be is malformed too, not an endless loop; a value that is only a
 * separator or a closing bracket is not a value. */
static void test_image_cut_short(void)
{
	const char *full =
		"{\"id\":7,\"nul\":null,\"s\":\"a\\\"b\",\"j\":[1,{\"k\":\"}\"}],\"x\":2}";
	const struct ss_image_col ic[] = {
		{"id", SS_V_INT}, {"nul", SS_V_TEXT}, {"s", SS_V_TEXT}, {"j", SS_V_JSON}};
	struct ss_change c;
	struct ss_err err;
	size_t n = strlen(full);

	for (size_t len = 0; len < n; len++) {
		char *img = malloc(len ? len : 1);
		memcpy(img, full, len);
		ss_change_init(&c);
		memset(&err, 0, sizeof err);
		if (ss_image_parse(&c, 0, img, len, ic, 4, &err) == 0) {
			fprintf(stderr, "  prefix of %zu bytes accepted: %.*s\n", len, (int)len,
				full);
			unit_failed_checks++;
		} else {
			CHECK(err.msg[0] != '\0');
		}
		ss_change_release(&c);
		free(img);
	}
	/* every value NULL: nothing in the change's store (UBSan: no offset
	 * from a NULL store pointer), NULLs stay NULL */
	ss_change_init(&c);
	CHECK_INT(ss_image_parse(&c, 0, "{\"id\":null,\"s\":null}", 20, ic, 4, &err), 0);
	ss_change_finish(&c);
	CHECK_INT(c.nrow, 2);
	if (c.nrow == 2)
		CHECK(c.row[0].is_null && c.row[0].data == NULL && c.row[1].is_null);
	ss_change_release(&c);
	static const struct {
		const char *img;
		size_t len;
	} bad[] = {
		{"{\"x\":[1,\0]}", 11},    {"{\"x\":\0}", 7},  {"{\"id\":\0}", 8},
		{"{\"x\":,\"id\":1}", 13}, {"{\"x\":]}", 7},   {"{\"id\":}", 7},
		{"{\"j\":]}", 7},          {"{\"x\":\"\\", 7},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *img = malloc(bad[i].len);
		memcpy(img, bad[i].img, bad[i].len);
		ss_change_init(&c);
		memset(&err, 0, sizeof err);
		if (ss_image_parse(&c, 0, img, bad[i].len, ic, 4, &err) == 0) {
			fprintf(stderr, "  malformed image %zu accepted\n", i);
			unit_failed_checks++;
		}
		ss_change_release(&c);
		free(img);
	}
}

static void test_image_offset_with_seconds(void)
{
	const char *json = "{\"id\":1,\"b\":\"\\\\x00ff\",\"tz\":\"1850-01-01T00:00:00+00:19:32\","
			   "\"j\":{\"a\": [1, \"x}\"]},\"Mixed Case\":\"tab\\there\",\"n\":1.50}";
	const struct ss_image_col ic[] = {{"id", SS_V_INT},          {"b", SS_V_BINARY},
					  {"tz", SS_V_TIMESTAMPTZ},  {"j", SS_V_JSON},
					  {"Mixed Case", SS_V_TEXT}, {"n", SS_V_NUMERIC}};
	struct ss_change c;
	struct ss_err err;

	ss_change_init(&c);
	memset(&err, 0, sizeof err);
	CHECK_INT(ss_image_parse(&c, 0, json, strlen(json), ic, 6, &err), 0);
	if (err.msg[0])
		fprintf(stderr, "  %s\n", err.msg);
	ss_change_finish(&c);
	CHECK_INT(c.nrow, 6);
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "tz"), "1849-12-31 23:40:28+00");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "j"), "{\"a\": [1, \"x}\"]}");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "Mixed Case"), "tab\there");
	CHECK_VALUE(ss_change_field(c.row, c.nrow, "n"), "1.50");
	ss_change_release(&c);
}

static void test_value_normalize(void)
{
	struct ss_buf out;
	struct ss_err err;

	ss_buf_init(&out);
	CHECK_INT(ss_value_normalize(SS_V_BOOL, "t", 1, &out, &err), 0);
	CHECK_STR(out.data, "1");
	ss_buf_reset(&out);
	CHECK_INT(ss_value_normalize(SS_V_BOOL, "false", 5, &out, &err), 0);
	CHECK_STR(out.data, "0");
	ss_buf_reset(&out);
	CHECK_INT(ss_value_normalize(SS_V_TIMESTAMPTZ, "2026-11-21 10:00:00Z", 20, &out, &err), 0);
	CHECK_STR(out.data, "2026-11-21 10:00:00+00");
	ss_buf_reset(&out);
	CHECK_INT(
		ss_value_normalize(SS_V_TIMESTAMPTZ, "2026-11-21 10:00:00.120+00", 26, &out, &err),
		0);
	CHECK_STR(out.data, "2026-11-21 10:00:00.12+00");
	ss_buf_reset(&out);
	CHECK_INT(ss_value_normalize(SS_V_TEXT, "as is ", 6, &out, &err), 0);
	CHECK_STR(out.data, "as is ");
	ss_buf_free(&out);

	/* hex helpers */
	uint8_t all[256];
	struct ss_buf hex, back;
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	ss_buf_init(&hex);
	ss_buf_init(&back);
	ss_hex_encode(all, sizeof all, &hex);
	CHECK_INT(hex.len, 512);
	CHECK(strncmp(hex.data, "000102", 6) == 0);
	CHECK(strcmp(hex.data + 506, "fdfeff") == 0);
	CHECK_INT(ss_hex_decode(hex.data, hex.len, &back), 0);
	CHECK(back.len == 256 && memcmp(back.data, all, 256) == 0);
	ss_buf_reset(&back);
	CHECK_INT(ss_hex_decode("abc", 3, &back), -1);
	CHECK_INT(ss_hex_decode("zz", 2, &back), -1);
	ss_buf_free(&hex);
	ss_buf_free(&back);
}

/* ---- journal dump line ------------------------------------------------------ */

static void test_to_json(void)
{
	struct ss_change c;
	struct ss_buf out;

	ss_change_init(&c);
	ss_buf_init(&out);
	c.pos = 7;
	c.ts_us = 1795255200000000LL;        /* 2026-11-21T10:00:00Z */
	c.source_ts_us = 1795255199500000LL; /* half a second earlier */
	c.txid = 42;
	c.flags = 1;
	c.op = 'U';
	c.schema = "public";
	c.schema_len = 6;
	c.table = "orders";
	c.table_len = 6;
	add(&c, 1, "id", SS_V_INT, "1", 1);
	add(&c, 0, "id", SS_V_INT, "1", 1);
	add(&c, 0, "note", SS_V_TEXT, "say \"hi\"\n", 9);
	add(&c, 0, "gone", SS_V_NULL, NULL, 0);
	add(&c, 0, "bin", SS_V_BINARY, "\x00\xff", 2);
	add(&c, 0, "doc", SS_V_JSON, "{\"a\":1}", 7);
	add(&c, 0, "caf\xc3\xa9", SS_V_TEXT, "\xf0\x9f\x98\x80", 4);
	ss_change_finish(&c);
	ss_change_to_json(&c, &out);
	CHECK_STR(out.data, "{\"pos\":7,\"time\":\"2026-11-21T10:00:00.000000Z\","
			    "\"source_time\":\"2026-11-21T09:59:59.500000Z\",\"txid\":42,"
			    "\"txend\":true,\"table\":\"public.orders\",\"op\":\"U\","
			    "\"key\":{\"id\":\"1\"},"
			    "\"row\":{\"id\":\"1\",\"note\":\"say \\\"hi\\\"\\n\",\"gone\":null,"
			    "\"bin\":{\"$hex\":\"00ff\"},\"doc\":{\"$json\":\"{\\\"a\\\":1}\"},"
			    "\"caf\xc3\xa9\":\"\xf0\x9f\x98\x80\"}}");
	CHECK(strchr(out.data, '\n') == NULL); /* one line */

	/* a delete has no row */
	ss_change_reset(&c);
	ss_buf_reset(&out);
	c.pos = 8;
	c.ts_us = 1795255200000000LL;
	c.source_ts_us = 1795255200000000LL;
	c.op = 'D';
	c.schema = "public";
	c.schema_len = 6;
	c.table = "orders";
	c.table_len = 6;
	add(&c, 1, "id", SS_V_INT, "1", 1);
	ss_change_finish(&c);
	ss_change_to_json(&c, &out);
	CHECK_STR(out.data, "{\"pos\":8,\"time\":\"2026-11-21T10:00:00.000000Z\","
			    "\"source_time\":\"2026-11-21T10:00:00.000000Z\",\"txid\":0,"
			    "\"txend\":false,\"table\":\"public.orders\",\"op\":\"D\","
			    "\"key\":{\"id\":\"1\"}}");
	ss_change_release(&c);
	ss_buf_free(&out);
}

int main(void)
{
	UNIT_RUN(test_round_trip);
	UNIT_RUN(test_delete_and_negative_time);
	UNIT_RUN(test_decode_damaged);
	UNIT_RUN(test_image_postgres_to_json);
	UNIT_RUN(test_image_key_and_spacing);
	UNIT_RUN(test_image_errors);
	UNIT_RUN(test_image_cut_short);
	UNIT_RUN(test_image_offset_with_seconds);
	UNIT_RUN(test_image_text);
	UNIT_RUN(test_value_normalize);
	UNIT_RUN(test_to_json);
	return UNIT_DONE();
}
