/*
 * canon.h -- the canonical value encoding and row hash shared by every
 * engine, for the drift check.
 *
 * A row is compared across databases by the MD5 of its canonical text: the
 * concatenation, in a fixed column order, of each value's canonical form.
 * Every dialect builds the same text with an SQL expression (so the hash is
 * computed inside the database); this module builds it in C from
 * journal-form values, for engines that cannot hash in SQL and for the
 * row-level diff.  The two must agree byte for byte: doc/check.md is the
 * specification, tests/unit/test_canon.c pins it down.
 *
 * A value is framed so that no two different rows share a text:
 *   NULL                     N
 *   text, JSON               <class><byte length>:<bytes>      s3:abc
 *   everything else          <class><canonical text>;          i-42;
 * (the canonical text of the unframed classes never contains ';').
 *
 * Row hash: the first 15 hex digits of MD5(row text), a 60-bit unsigned
 * number (SQL: ('x' || substr(md5(t), 1, 15))::bit(60)::bigint,
 * CAST(CONV(SUBSTRING(MD5(t), 1, 15), 16, 10) AS UNSIGNED)); a chunk's
 * checksum is the exact sum of its rows' hashes plus the row count.
 */
#ifndef SS_CANON_H
#define SS_CANON_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

/* Canonical classes (the letter written in front of each value). */
enum ss_canon_class {
	SS_C_TEXT = 's', /* UTF-8 bytes, length-prefixed */
	SS_C_INT = 'i',  /* -?[0-9]+ */
	SS_C_NUMERIC =
		'n', /* exact decimal: no exponent, no trailing fraction zeros, no '.' at the end, -0 = 0; NaN */
	SS_C_FLOAT =
		'f', /* rounded to digits significant digits, then written as a canonical decimal */
	SS_C_BOOL = 'b',   /* 1 or 0 */
	SS_C_BINARY = 'x', /* lowercase hex */
	SS_C_DATE = 'd',   /* YYYY-MM-DD */
	SS_C_TIME = 't',   /* HH:MM:SS[.f] with exactly digits fraction digits (truncated) */
	SS_C_TIMESTAMP =
		'p', /* YYYY-MM-DD HH:MM:SS[.f], UTC for zoned columns, digits fraction digits */
	SS_C_JSON = 'j', /* PostgreSQL jsonb text form, length-prefixed */
	SS_C_UUID = 'u', /* lowercase 8-4-4-4-12 */
};

/* What one side's column holds, as its dialect describes it. */
struct ss_canon_src {
	uint8_t vtype;    /* enum ss_vtype */
	int float_digits; /* 15: double precision, 6: single precision */
	int frac_digits;  /* fractional-second digits of time/timestamp columns (0..6) */
};

/* The form both sides of one compared column are written in. */
struct ss_canon_col {
	char cls;   /* enum ss_canon_class */
	int digits; /* FLOAT: 15 or 6 significant digits; TIME/TIMESTAMP: fraction digits */
};

/* The class of a journal vtype. */
char ss_canon_class_of(uint8_t vtype);
/* The common canonical form for a column described by two sides: the
 * coarser precision of the two, and a class both can be written in. */
void ss_canon_pick(const struct ss_canon_src *a, const struct ss_canon_src *b,
		   struct ss_canon_col *out);

/* Append the framed canonical form of one value, given in journal form
 * (change.h) of vtype; val == NULL is SQL NULL. */
int ss_canon_value(const struct ss_canon_col *spec, uint8_t vtype, const char *val, size_t len,
		   struct ss_buf *out, struct ss_err *err) SS_MUST_CHECK;

/* The pieces, exposed for tests and reports (each appends, unframed). */
/* Exact decimal in any of 12, -1.50, 1.5e-3, +.5 -> canonical; -1 if not a number. */
int ss_canon_decimal(const char *s, size_t len, struct ss_buf *out);
/* A float given as text (any round-trip form: 0.1, 1e+300, -0, NaN, Infinity)
 * at digits (15 or 6) significant digits. */
int ss_canon_float(const char *s, size_t len, int digits, struct ss_buf *out);
/* The shortest text that reads back as v (%.15g, %.16g or %.17g), what
 * PostgreSQL and MariaDB print for a double; out holds at least 32 bytes. */
void ss_canon_shortest(double v, char *out, size_t n);
/* "HH:MM:SS.ffffff" / "YYYY-MM-DD HH:MM:SS.ff": the part before '.' and
 * exactly digits fraction digits (zero-padded, truncated). */
void ss_canon_fraction(const char *s, size_t len, int digits, struct ss_buf *out);
/* JSON text in PostgreSQL's jsonb output form: object keys sorted by length
 * then bytes (last duplicate wins), ", " and ": " separators, numbers as
 * exact decimals, strings with jsonb's escapes.  -1 on malformed JSON. */
int ss_canon_json(const char *s, size_t len, struct ss_buf *out);

/* MD5 (RFC 1321). */
struct ss_md5 {
	uint32_t a, b, c, d;
	uint64_t bytes;
	uint8_t buf[64];
};
void ss_md5_init(struct ss_md5 *m);
void ss_md5_update(struct ss_md5 *m, const void *p, size_t n);
void ss_md5_final(struct ss_md5 *m, uint8_t out[16]);
void ss_md5(const void *p, size_t n, uint8_t out[16]);

/* The 60-bit row hash of a canonical row text. */
uint64_t ss_canon_hash(const void *p, size_t n);

/* A chunk checksum: row count and the exact (128-bit) sum of row hashes. */
struct ss_canon_sum {
	uint64_t count;
	uint64_t lo, hi;
};
void ss_canon_sum_add(struct ss_canon_sum *s, uint64_t h);
/* Parse a database's decimal sum ("0" for an empty chunk); -1 if malformed. */
int ss_canon_sum_parse(const char *s, uint64_t *lo, uint64_t *hi) SS_MUST_CHECK;
/* Decimal text of lo/hi into out (at least 40 bytes). */
void ss_canon_sum_format(uint64_t lo, uint64_t hi, char *out, size_t outlen);

#endif
