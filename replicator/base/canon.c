/*
 * canon.c -- the canonical value text, the MD5 row hash and chunk sums
 * used by the drift check (see canon.h for the format, doc/check.md for
 * the reasoning behind each canonical form).
 *
 * This file is the C twin of the SQL expressions in the dialects' *_check.c files:
 * whatever a dialect computes inside the database, the functions here
 * compute from journal-form values, byte for byte the same.  Nothing here
 * talks to a database.
 */
#include "canon.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"

/* ---- MD5 (RFC 1321) ------------------------------------------------------ */

static const uint32_t md5_k[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
	0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
	0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
	0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
	0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
	0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
	0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
	0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
	0xeb86d391,
};
static const uint8_t md5_r[64] = {
	7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 5,  9,  14, 20, 5,  9,
	14, 20, 5,  9,  14, 20, 5,  9,  14, 20, 4,  11, 16, 23, 4,  11, 16, 23, 4,  11, 16, 23,
	4,  11, 16, 23, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21,
};

static void md5_block(struct ss_md5 *m, const uint8_t *p)
{
	uint32_t w[16], a = m->a, b = m->b, c = m->c, d = m->d;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[i * 4] | (uint32_t)p[i * 4 + 1] << 8 |
		       (uint32_t)p[i * 4 + 2] << 16 | (uint32_t)p[i * 4 + 3] << 24;
	for (int i = 0; i < 64; i++) {
		uint32_t f;
		int g;
		if (i < 16) {
			f = (b & c) | (~b & d);
			g = i;
		} else if (i < 32) {
			f = (d & b) | (~d & c);
			g = (5 * i + 1) & 15;
		} else if (i < 48) {
			f = b ^ c ^ d;
			g = (3 * i + 5) & 15;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) & 15;
		}
		uint32_t t = d;
		d = c;
		c = b;
		uint32_t x = a + f + md5_k[i] + w[g];
		b = b + (x << md5_r[i] | x >> (32 - md5_r[i]));
		a = t;
	}
	m->a += a;
	m->b += b;
	m->c += c;
	m->d += d;
}

void ss_md5_init(struct ss_md5 *m)
{
	m->a = 0x67452301;
	m->b = 0xefcdab89;
	m->c = 0x98badcfe;
	m->d = 0x10325476;
	m->bytes = 0;
}

void ss_md5_update(struct ss_md5 *m, const void *data, size_t n)
{
	const uint8_t *p = data;
	size_t have = (size_t)(m->bytes & 63);

	m->bytes += n;
	if (have) {
		size_t take = 64 - have < n ? 64 - have : n;
		memcpy(m->buf + have, p, take);
		p += take;
		n -= take;
		if (have + take < 64)
			return;
		md5_block(m, m->buf);
	}
	for (; n >= 64; p += 64, n -= 64)
		md5_block(m, p);
	if (n)
		memcpy(m->buf, p, n);
}

void ss_md5_final(struct ss_md5 *m, uint8_t out[16])
{
	uint64_t bits = m->bytes * 8;
	uint8_t pad[72] = {0x80};
	size_t have = (size_t)(m->bytes & 63);
	size_t padlen = have < 56 ? 56 - have : 120 - have;

	for (int i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (uint8_t)(bits >> (8 * i));
	ss_md5_update(m, pad, padlen + 8);
	uint32_t v[4] = {m->a, m->b, m->c, m->d};
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 4; k++)
			out[i * 4 + k] = (uint8_t)(v[i] >> (8 * k));
}

void ss_md5(const void *p, size_t n, uint8_t out[16])
{
	struct ss_md5 m;

	ss_md5_init(&m);
	ss_md5_update(&m, p, n);
	ss_md5_final(&m, out);
}

uint64_t ss_canon_hash(const void *p, size_t n)
{
	uint8_t d[16];
	uint64_t v = 0;

	ss_md5(p, n, d);
	for (int i = 0; i < 8; i++)
		v = v << 8 | d[i];
	return v >> 4; /* the first 15 hex digits */
}

/* ---- chunk sums ---------------------------------------------------------- */

void ss_canon_sum_add(struct ss_canon_sum *s, uint64_t h)
{
	s->count++;
	s->lo += h;
	if (s->lo < h)
		s->hi++;
}

int ss_canon_sum_parse(const char *s, uint64_t *lo, uint64_t *hi)
{
	uint64_t l = 0, h = 0;

	if (!s || !*s)
		return -1;
	/* a database may write an exact sum as 123 or 123.0 */
	for (; *s && *s != '.'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		/* (h:l) = (h:l) * 10 + digit, in 32-bit limbs */
		uint64_t limbs[4] = {l & 0xffffffffu, l >> 32, h & 0xffffffffu, h >> 32};
		uint64_t carry = (uint64_t)(*s - '0');
		for (int i = 0; i < 4; i++) {
			uint64_t x = limbs[i] * 10 + carry;
			limbs[i] = x & 0xffffffffu;
			carry = x >> 32;
		}
		if (carry)
			return -1;
		l = limbs[0] | limbs[1] << 32;
		h = limbs[2] | limbs[3] << 32;
	}
	if (*s == '.')
		for (s++; *s; s++)
			if (*s != '0')
				return -1;
	*lo = l;
	*hi = h;
	return 0;
}

void ss_canon_sum_format(uint64_t lo, uint64_t hi, char *out, size_t outlen)
{
	char tmp[48];
	int n = 0;
	uint64_t limbs[4] = {lo & 0xffffffffu, lo >> 32, hi & 0xffffffffu, hi >> 32};

	do {
		uint64_t rem = 0;
		for (int i = 3; i >= 0; i--) {
			uint64_t x = rem << 32 | limbs[i];
			limbs[i] = x / 10;
			rem = x % 10;
		}
		tmp[n++] = (char)('0' + rem);
	} while (limbs[0] | limbs[1] | limbs[2] | limbs[3]);
	size_t k = 0;
	while (n > 0 && k + 1 < outlen)
		out[k++] = tmp[--n];
	out[k] = '\0';
}

/* ---- decimals ------------------------------------------------------------ */

/* A decimal number as digits and a power of ten: (-1)^neg * D * 10^q, D
 * without leading zeros ("" for zero). */
struct dec {
	int neg;
	struct ss_buf d;
	long q;
};

static int dec_parse(const char *s, size_t len, struct dec *x)
{
	size_t i = 0, fraclen = 0;
	int ndig = 0;
	long e = 0;

	x->neg = 0;
	x->q = 0;
	ss_buf_reset(&x->d);
	if (i < len && (s[i] == '-' || s[i] == '+'))
		x->neg = s[i++] == '-';
	for (; i < len && isdigit((unsigned char)s[i]); i++, ndig++)
		if (x->d.len || s[i] != '0')
			ss_buf_addc(&x->d, s[i]);
	if (i < len && s[i] == '.') {
		for (i++; i < len && isdigit((unsigned char)s[i]); i++, ndig++, fraclen++)
			if (x->d.len || s[i] != '0')
				ss_buf_addc(&x->d, s[i]);
	}
	if (!ndig)
		return -1;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		int eneg = 0, edig = 0;
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			eneg = s[i++] == '-';
		for (; i < len && isdigit((unsigned char)s[i]); i++, edig++)
			if (e < 100000)
				e = e * 10 + (s[i] - '0');
		if (!edig)
			return -1;
		if (eneg)
			e = -e;
	}
	if (i != len || e > 20000 || e < -20000)
		return -1;
	x->q = e - (long)fraclen;
	return 0;
}

/* Round D to at most ndig significant digits, half away from zero. */
static void dec_round(struct dec *x, int ndig)
{
	if ((int)x->d.len <= ndig)
		return;
	int up = x->d.data[ndig] >= '5';
	x->q += (long)x->d.len - ndig;
	x->d.len = (size_t)ndig;
	x->d.data[ndig] = '\0';
	for (int i = ndig - 1; up && i >= 0; i--) {
		if (x->d.data[i] == '9') {
			x->d.data[i] = '0';
		} else {
			x->d.data[i]++;
			up = 0;
		}
	}
	if (up) { /* 999 -> 1000 */
		memmove(x->d.data + 1, x->d.data, x->d.len + 1);
		x->d.data[0] = '1';
		x->d.len++;
	}
}

/* Canonical exact decimal: no exponent, no trailing fraction zeros, no
 * trailing '.', "0" for any zero. */
static void dec_emit(const struct dec *x, struct ss_buf *out)
{
	size_t n = x->d.len;
	const char *d = x->d.data;

	if (n == 0) {
		ss_buf_addc(out, '0');
		return;
	}
	if (x->neg)
		ss_buf_addc(out, '-');
	if (x->q >= 0) {
		ss_buf_add(out, d, n);
		for (long i = 0; i < x->q; i++)
			ss_buf_addc(out, '0');
		return;
	}
	size_t fl = (size_t)-x->q; /* fraction digits */
	size_t keep = n;
	/* trailing zeros of D that lie in the fraction go */
	while (keep > 0 && fl > 0 && d[keep - 1] == '0' && n - keep < fl)
		keep--;
	size_t fdig = fl - (n - keep); /* fraction digits left */
	if (n > fl) {
		ss_buf_add(out, d, n - fl);
	} else {
		ss_buf_addc(out, '0');
	}
	if (fdig == 0)
		return;
	ss_buf_addc(out, '.');
	if (n < fl)
		for (size_t i = 0; i < fl - n; i++)
			ss_buf_addc(out, '0');
	size_t start = n > fl ? n - fl : 0;
	ss_buf_add(out, d + start, keep - start);
}

static int is_word(const char *s, size_t len, const char *w)
{
	return strlen(w) == len && strncasecmp(s, w, len) == 0;
}

int ss_canon_decimal(const char *s, size_t len, struct ss_buf *out)
{
	struct dec x;
	int rc;

	if (is_word(s, len, "nan")) {
		ss_buf_adds(out, "NaN");
		return 0;
	}
	if (is_word(s, len, "infinity") || is_word(s, len, "+infinity") || is_word(s, len, "inf")) {
		ss_buf_adds(out, "Infinity");
		return 0;
	}
	if (is_word(s, len, "-infinity") || is_word(s, len, "-inf")) {
		ss_buf_adds(out, "-Infinity");
		return 0;
	}
	ss_buf_init(&x.d);
	rc = dec_parse(s, len, &x);
	if (rc == 0)
		dec_emit(&x, out);
	ss_buf_free(&x.d);
	return rc;
}

/* ---- floats -------------------------------------------------------------- */

/* The shortest text that reads back as v (what PostgreSQL and MariaDB
 * print for a double). */
void ss_canon_shortest(double v, char *buf, size_t n)
{
	/* A normal double whose shortest text has at most 15 digits prints
	 * exactly those digits with %.15g (its error is far below half a unit
	 * of the 15th digit).  Subnormals hold fewer digits: search from 1. */
	int from = v != 0 && fabs(v) < 2.2250738585072014e-308 ? 1 : 15;

	for (int p = from; p <= 17; p++) {
		snprintf(buf, n, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

int ss_canon_float(const char *s, size_t len, int digits, struct ss_buf *out)
{
	char tmp[64], txt[64];
	struct dec x;
	double v;
	char *end;

	if (is_word(s, len, "nan")) {
		ss_buf_adds(out, "NaN");
		return 0;
	}
	if (is_word(s, len, "infinity") || is_word(s, len, "inf") || is_word(s, len, "+infinity")) {
		ss_buf_adds(out, "Infinity");
		return 0;
	}
	if (is_word(s, len, "-infinity") || is_word(s, len, "-inf")) {
		ss_buf_adds(out, "-Infinity");
		return 0;
	}
	if (len == 0 || len >= sizeof tmp)
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	v = strtod(tmp, &end);
	if (*end || end == tmp)
		return -1;
	if (v == 0) {
		ss_buf_addc(out, '0');
		return 0;
	}
	if (isinf(v)) {
		ss_buf_adds(out, v > 0 ? "Infinity" : "-Infinity");
		return 0;
	}
	/* Single precision: the value as a float, correctly rounded to 6
	 * digits (%.6g, as PostgreSQL's real::numeric and MariaDB's FLOAT
	 * text); outside the float range the double path below, at 6 digits. */
	if (digits <= 6 && fabs(v) <= 3.4e38 && fabs(v) >= 1e-44) {
		snprintf(txt, sizeof txt, "%.6g", (double)(float)v);
		return ss_canon_decimal(txt, strlen(txt), out);
	}
	/* Double precision: the shortest round-trip text, rounded half away
	 * from zero to digits significant digits. */
	ss_canon_shortest(v, txt, sizeof txt);
	ss_buf_init(&x.d);
	if (dec_parse(txt, strlen(txt), &x) < 0) {
		ss_buf_free(&x.d);
		return -1;
	}
	dec_round(&x, digits <= 6 ? 6 : digits);
	dec_emit(&x, out);
	ss_buf_free(&x.d);
	return 0;
}

/* ---- times --------------------------------------------------------------- */

void ss_canon_fraction(const char *s, size_t len, int digits, struct ss_buf *out)
{
	const char *dot = memchr(s, '.', len);
	size_t base = dot ? (size_t)(dot - s) : len;

	ss_buf_add(out, s, base);
	if (digits <= 0)
		return;
	ss_buf_addc(out, '.');
	size_t have = dot ? len - base - 1 : 0;
	for (int i = 0; i < digits; i++)
		ss_buf_addc(out, (size_t)i < have ? dot[1 + i] : '0');
}

/* A timestamp in journal form (or text) as "YYYY-MM-DD HH:MM:SS[.ffffff]",
 * converted to UTC when it carries a zone. */
static int timestamp_utc(const char *s, size_t len, struct ss_buf *out)
{
	char tmp[64], iso[40];
	int64_t us;
	int zoned = 0;

	if (len < 19 || len >= sizeof tmp || !isdigit((unsigned char)s[0])) {
		ss_buf_add(out, s, len); /* infinity and other oddities: as they are */
		return 0;
	}
	for (size_t i = 19; i < len; i++)
		if (s[i] == '+' || s[i] == '-' || s[i] == 'Z' || s[i] == 'z')
			zoned = 1;
	if (!zoned) {
		for (size_t i = 0; i < len; i++)
			ss_buf_addc(out, i == 10 && (s[i] == 'T' || s[i] == 't') ? ' ' : s[i]);
		return 0;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (ss_parse_time(tmp, &us) < 0)
		return -1;
	ss_format_time(us, iso, sizeof iso); /* 2026-11-21T10:00:00.123456Z */
	iso[10] = ' ';
	size_t n = strlen(iso);
	if (n && iso[n - 1] == 'Z')
		n--;
	ss_buf_add(out, iso, n);
	return 0;
}

/* ---- JSON in jsonb's text form ------------------------------------------- */

struct jcur {
	const char *p, *end;
	int depth;
};

static void jws(struct jcur *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* Decode the string at j->p (on its opening quote) into raw bytes. */
static int jstr(struct jcur *j, struct ss_buf *out)
{
	return ss_json_string(&j->p, j->end, out);
}

static void jstr_out(const char *s, size_t n, struct ss_buf *out)
{
	ss_buf_addc(out, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '\b': ss_buf_adds(out, "\\b"); break;
		case '\f': ss_buf_adds(out, "\\f"); break;
		case '\n': ss_buf_adds(out, "\\n"); break;
		case '\r': ss_buf_adds(out, "\\r"); break;
		case '\t': ss_buf_adds(out, "\\t"); break;
		case '"': ss_buf_adds(out, "\\\""); break;
		case '\\': ss_buf_adds(out, "\\\\"); break;
		default:
			if (c < 0x20)
				ss_buf_addf(out, "\\u%04x", c);
			else
				ss_buf_addc(out, (char)c);
		}
	}
	ss_buf_addc(out, '"');
}

/* A JSON number as PostgreSQL's numeric prints it: exact, with
 * max(0, fraction digits - exponent) fraction digits. */
static int jnum(struct jcur *j, struct ss_buf *out)
{
	const char *s = j->p;
	struct dec x;
	long fl;
	int rc = -1;

	while (j->p < j->end && (isdigit((unsigned char)*j->p) || *j->p == '-' || *j->p == '+' ||
				 *j->p == '.' || *j->p == 'e' || *j->p == 'E'))
		j->p++;
	ss_buf_init(&x.d);
	if (dec_parse(s, (size_t)(j->p - s), &x) < 0)
		goto done;
	fl = x.q < 0 ? -x.q : 0; /* the scale numeric keeps */
	if (x.d.len == 0) {
		ss_buf_addc(out, '0');
	} else {
		if (x.neg)
			ss_buf_addc(out, '-');
		size_t n = x.d.len;
		if (x.q >= 0) {
			ss_buf_add(out, x.d.data, n);
			for (long i = 0; i < x.q; i++)
				ss_buf_addc(out, '0');
			rc = 0;
			goto done;
		}
		if ((long)n > fl)
			ss_buf_add(out, x.d.data, n - (size_t)fl);
		else
			ss_buf_addc(out, '0');
	}
	if (fl > 0) {
		ss_buf_addc(out, '.');
		long n = (long)x.d.len;
		for (long i = 0; i < fl - n; i++)
			ss_buf_addc(out, '0');
		long start = n > fl ? n - fl : 0;
		if (n > 0)
			ss_buf_add(out, x.d.data + start, (size_t)(n - start));
	}
	rc = 0;
done:
	ss_buf_free(&x.d);
	return rc;
}

struct jmember {
	char *key;
	size_t klen;
	char *val;
	size_t vlen;
	int order;
};

static int jmember_cmp(const void *a, const void *b)
{
	const struct jmember *x = a, *y = b;

	if (x->klen != y->klen)
		return x->klen < y->klen ? -1 : 1;
	int c = memcmp(x->key, y->key, x->klen);
	if (c)
		return c;
	return x->order - y->order;
}

static int jvalue(struct jcur *j, struct ss_buf *out);

static int jobject(struct jcur *j, struct ss_buf *out)
{
	struct jmember *m = NULL;
	int n = 0, rc = -1;

	j->p++; /* { */
	jws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		ss_buf_adds(out, "{}");
		return 0;
	}
	for (;;) {
		struct ss_buf k, v;
		jws(j);
		if (j->p >= j->end || *j->p != '"')
			goto done;
		ss_buf_init(&k);
		ss_buf_init(&v);
		if (jstr(j, &k) < 0) {
			ss_buf_free(&k);
			goto done;
		}
		jws(j);
		if (j->p >= j->end || *j->p != ':') {
			ss_buf_free(&k);
			goto done;
		}
		j->p++;
		if (jvalue(j, &v) < 0) {
			ss_buf_free(&k);
			ss_buf_free(&v);
			goto done;
		}
		m = ss_xrealloc(m, sizeof *m * (size_t)(n + 1));
		m[n].klen = k.len;
		m[n].key = ss_buf_steal(&k);
		m[n].vlen = v.len;
		m[n].val = ss_buf_steal(&v);
		m[n].order = n;
		n++;
		jws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			break;
		}
		goto done;
	}
	qsort(m, (size_t)n, sizeof *m, jmember_cmp);
	ss_buf_addc(out, '{');
	int first = 1;
	for (int i = 0; i < n; i++) {
		/* duplicate keys: the last one written wins */
		if (i + 1 < n && m[i + 1].klen == m[i].klen &&
		    memcmp(m[i + 1].key, m[i].key, m[i].klen) == 0)
			continue;
		if (!first)
			ss_buf_adds(out, ", ");
		first = 0;
		jstr_out(m[i].key, m[i].klen, out);
		ss_buf_adds(out, ": ");
		ss_buf_add(out, m[i].val, m[i].vlen);
	}
	ss_buf_addc(out, '}');
	rc = 0;
done:
	for (int i = 0; i < n; i++) {
		free(m[i].key);
		free(m[i].val);
	}
	free(m);
	return rc;
}

static int jvalue(struct jcur *j, struct ss_buf *out)
{
	int rc;

	jws(j);
	if (j->p >= j->end || ++j->depth > 500)
		return -1;
	switch (*j->p) {
	case '{': rc = jobject(j, out); break;
	case '[':
		j->p++;
		ss_buf_addc(out, '[');
		jws(j);
		if (j->p < j->end && *j->p == ']') {
			j->p++;
		} else {
			for (int first = 1;; first = 0) {
				if (!first)
					ss_buf_adds(out, ", ");
				if (jvalue(j, out) < 0)
					return -1;
				jws(j);
				if (j->p < j->end && *j->p == ',') {
					j->p++;
					continue;
				}
				if (j->p < j->end && *j->p == ']') {
					j->p++;
					break;
				}
				return -1;
			}
		}
		ss_buf_addc(out, ']');
		rc = 0;
		break;
	case '"': {
		struct ss_buf s;
		ss_buf_init(&s);
		rc = jstr(j, &s);
		if (rc == 0)
			jstr_out(s.data ? s.data : "", s.len, out);
		ss_buf_free(&s);
		break;
	}
	case 't':
	case 'f':
	case 'n': {
		static const char *const lit[] = {"true", "false", "null"};
		rc = -1;
		for (int i = 0; i < 3; i++) {
			size_t l = strlen(lit[i]);
			if ((size_t)(j->end - j->p) >= l && memcmp(j->p, lit[i], l) == 0) {
				ss_buf_adds(out, lit[i]);
				j->p += l;
				rc = 0;
				break;
			}
		}
		break;
	}
	default: rc = jnum(j, out); break;
	}
	j->depth--;
	return rc;
}

int ss_canon_json(const char *s, size_t len, struct ss_buf *out)
{
	struct jcur j = {s, s + len, 0};
	size_t mark = out->len;

	if (jvalue(&j, out) < 0) {
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
		return -1;
	}
	jws(&j);
	if (j.p != j.end) {
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
		return -1;
	}
	return 0;
}

/* ---- classes and values -------------------------------------------------- */

char ss_canon_class_of(uint8_t vtype)
{
	switch (vtype) {
	case SS_V_INT: return SS_C_INT;
	case SS_V_NUMERIC: return SS_C_NUMERIC;
	case SS_V_FLOAT: return SS_C_FLOAT;
	case SS_V_BOOL: return SS_C_BOOL;
	case SS_V_BINARY: return SS_C_BINARY;
	case SS_V_DATE: return SS_C_DATE;
	case SS_V_TIME: return SS_C_TIME;
	case SS_V_TIMESTAMP:
	case SS_V_TIMESTAMPTZ: return SS_C_TIMESTAMP;
	case SS_V_JSON: return SS_C_JSON;
	case SS_V_UUID: return SS_C_UUID;
	default: return SS_C_TEXT;
	}
}

static int pair(char a, char b, char x, char y)
{
	return (a == x && b == y) || (a == y && b == x);
}

void ss_canon_pick(const struct ss_canon_src *a, const struct ss_canon_src *b,
		   struct ss_canon_col *out)
{
	char ca = ss_canon_class_of(a->vtype), cb = ss_canon_class_of(b->vtype);
	char c;

	if (ca == cb)
		c = ca;
	else if (pair(ca, cb, SS_C_INT, SS_C_BOOL))
		c = SS_C_BOOL;
	else if (pair(ca, cb, SS_C_INT, SS_C_NUMERIC))
		c = SS_C_NUMERIC;
	else if (pair(ca, cb, SS_C_FLOAT, SS_C_NUMERIC) || pair(ca, cb, SS_C_FLOAT, SS_C_INT))
		c = SS_C_FLOAT;
	else if (ca == SS_C_TEXT && cb != SS_C_BINARY)
		c = cb; /* text read as the richer type (SQLite affinity, CHAR(36) uuids, JSON in text) */
	else if (cb == SS_C_TEXT && ca != SS_C_BINARY)
		c = ca;
	else
		c = SS_C_TEXT;
	out->cls = c;
	out->digits = 0;
	if (c == SS_C_FLOAT) {
		int da = ca == SS_C_FLOAT ? a->float_digits : 15;
		int db = cb == SS_C_FLOAT ? b->float_digits : 15;
		out->digits = (da <= 6 || db <= 6) ? 6 : 15;
	} else if (c == SS_C_TIME || c == SS_C_TIMESTAMP) {
		int fa = a->frac_digits < 0 || a->frac_digits > 6 ? 6 : a->frac_digits;
		int fb = b->frac_digits < 0 || b->frac_digits > 6 ? 6 : b->frac_digits;
		if (ca != c)
			fa = 6;
		if (cb != c)
			fb = 6;
		out->digits = fa < fb ? fa : fb;
	}
}

static int is_true_text(const char *v, size_t len)
{
	if (len == 0)
		return 0;
	switch (v[0]) {
	case 't':
	case 'T':
	case 'y':
	case 'Y': return 1;
	case 'f':
	case 'F':
	case 'n':
	case 'N': return 0;
	default:
		/* a number: true unless it is zero */
		for (size_t i = 0; i < len; i++)
			if (v[i] != '0' && v[i] != '.' && v[i] != '-' && v[i] != '+')
				return 1;
		return 0;
	}
}

int ss_canon_value(const struct ss_canon_col *spec, uint8_t vtype, const char *v, size_t len,
		   struct ss_buf *out, struct ss_err *err)
{
	struct ss_buf t;
	int rc = 0;

	if (!v) {
		ss_buf_addc(out, 'N');
		return 0;
	}
	ss_buf_init(&t);
	switch (spec->cls) {
	case SS_C_TEXT:
		ss_buf_addf(out, "s%zu:", len);
		ss_buf_add(out, v, len);
		goto done;
	case SS_C_JSON:
		if (ss_canon_json(v, len, &t) < 0) {
			ss_err_set(err, "value is not JSON: \"%.*s\"", (int)(len > 60 ? 60 : len),
				   v);
			rc = -1;
			goto done;
		}
		ss_buf_addf(out, "j%zu:", t.len);
		ss_buf_add(out, t.data ? t.data : "", t.len);
		goto done;
	case SS_C_INT: ss_buf_add(&t, v, len); break;
	case SS_C_NUMERIC:
		if (ss_canon_decimal(v, len, &t) < 0) {
			ss_err_set(err, "value is not a number: \"%.*s\"",
				   (int)(len > 60 ? 60 : len), v);
			rc = -1;
			goto done;
		}
		break;
	case SS_C_FLOAT:
		if (ss_canon_float(v, len, spec->digits, &t) < 0) {
			ss_err_set(err, "value is not a floating-point number: \"%.*s\"",
				   (int)(len > 60 ? 60 : len), v);
			rc = -1;
			goto done;
		}
		break;
	case SS_C_BOOL: ss_buf_addc(&t, is_true_text(v, len) ? '1' : '0'); break;
	case SS_C_BINARY: ss_hex_encode((const uint8_t *)v, len, &t); break;
	case SS_C_TIME: ss_canon_fraction(v, len, spec->digits, &t); break;
	case SS_C_TIMESTAMP: {
		struct ss_buf u;
		ss_buf_init(&u);
		if (timestamp_utc(v, len, &u) < 0) {
			ss_err_set(err, "value is not a timestamp: \"%.*s\"",
				   (int)(len > 60 ? 60 : len), v);
			ss_buf_free(&u);
			rc = -1;
			goto done;
		}
		ss_canon_fraction(u.data ? u.data : "", u.len, spec->digits, &t);
		ss_buf_free(&u);
		break;
	}
	case SS_C_UUID:
		for (size_t i = 0; i < len; i++)
			ss_buf_addc(&t, (char)tolower((unsigned char)v[i]));
		break;
	default: /* SS_C_DATE and anything else: as written */ ss_buf_add(&t, v, len); break;
	}
	(void)vtype;
	ss_buf_addc(out, spec->cls);
	ss_buf_add(out, t.data ? t.data : "", t.len);
	ss_buf_addc(out, ';');
done:
	ss_buf_free(&t);
	return rc;
}
