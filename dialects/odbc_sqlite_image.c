/*
 * odbc_sqlite_image.c -- the SQLite capture's row images after they leave
 * the shadow table: REAL and NUMERIC values arrive from the triggers as
 * exact C99 hex floats (SQLite cannot print a double exactly) and are turned
 * here into the journal's decimal forms: shortest round-trip text for
 * floats, the same digits as a plain decimal for numerics.  Everything else
 * in the image passes through byte for byte; reading the JSON into a change
 * is change.c's job.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odbc_int.h"

/* A double as a plain decimal (no exponent), shortest digits that read
 * back as the same double: the journal form of a NUMERIC. */
void ss_odbc_plain_decimal(double v, struct ss_buf *out)
{
	char s[64], digits[40];
	int prec, exp10, nd = 0;

	for (prec = 0; prec <= 16; prec++) {
		snprintf(s, sizeof s, "%.*e", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	/* s = "-d.ddde+XX" */
	const char *p = s;
	if (*p == '-') {
		ss_buf_addc(out, '-');
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	exp10 = *p == 'e' ? atoi(p + 1) : 0;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	/* value = 0.d1d2..dn * 10^(exp10+1) */
	int point = exp10 + 1;
	if (point <= 0) {
		ss_buf_adds(out, "0.");
		for (int i = 0; i < -point; i++)
			ss_buf_addc(out, '0');
		ss_buf_add(out, digits, (size_t)nd);
	} else if (point >= nd) {
		ss_buf_add(out, digits, (size_t)nd);
		for (int i = nd; i < point; i++)
			ss_buf_addc(out, '0');
	} else {
		ss_buf_add(out, digits, (size_t)point);
		ss_buf_addc(out, '.');
		ss_buf_add(out, digits + point, (size_t)(nd - point));
	}
}

static int hex4(const char *s, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char ch = s[i];
		int h = ch >= '0' && ch <= '9' ? ch - '0' :
			ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
			ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 :
						 -1;
		if (h < 0)
			return -1;
		*v = *v << 4 | (unsigned)h;
	}
	return 0;
}

static void put_utf8(struct ss_buf *b, unsigned cp)
{
	if (cp < 0x80) {
		ss_buf_addc(b, (char)cp);
	} else if (cp < 0x800) {
		ss_buf_addc(b, (char)(0xC0 | cp >> 6));
		ss_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		ss_buf_addc(b, (char)(0xE0 | cp >> 12));
		ss_buf_addc(b, (char)(0x80 | (cp >> 6 & 0x3F)));
		ss_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
	} else {
		ss_buf_addc(b, (char)(0xF0 | cp >> 18));
		ss_buf_addc(b, (char)(0x80 | (cp >> 12 & 0x3F)));
		ss_buf_addc(b, (char)(0x80 | (cp >> 6 & 0x3F)));
		ss_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
	}
}

/* Parse a JSON string at *p (on the quote) into out; advances *p. */
static int json_str(const char **p, const char *end, struct ss_buf *out)
{
	const char *s = *p + 1;

	while (s < end && *s != '"') {
		if (*s != '\\') {
			ss_buf_addc(out, *s++);
			continue;
		}
		if (s + 1 >= end)
			return -1;
		char e = s[1];
		s += 2;
		switch (e) {
		case 'n': ss_buf_addc(out, '\n'); break;
		case 't': ss_buf_addc(out, '\t'); break;
		case 'r': ss_buf_addc(out, '\r'); break;
		case 'b': ss_buf_addc(out, '\b'); break;
		case 'f': ss_buf_addc(out, '\f'); break;
		case 'u': {
			unsigned cp, lo;
			if (end - s < 4 || hex4(s, &cp) < 0)
				return -1;
			s += 4;
			if (cp >= 0xD800 && cp < 0xDC00 && end - s >= 6 && s[0] == '\\' &&
			    s[1] == 'u' && hex4(s + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				s += 6;
			}
			put_utf8(out, cp);
			break;
		}
		default: ss_buf_addc(out, e); break;
		}
	}
	if (s >= end)
		return -1;
	*p = s + 1;
	return 0;
}

/* Skip one JSON value at *p (up to the ',' or '}' after it). */
static int json_skip(const char **p, const char *end)
{
	const char *s = *p;
	int depth = 0;

	while (s < end) {
		if (*s == '"') {
			s++;
			while (s < end && *s != '"')
				s += *s == '\\' ? 2 : 1;
			if (s >= end)
				return -1;
			s++;
			continue;
		}
		if (*s == '{' || *s == '[') {
			depth++;
		} else if (*s == '}' || *s == ']') {
			if (depth == 0)
				break;
			depth--;
		} else if (*s == ',' && depth == 0) {
			break;
		}
		s++;
	}
	if (s >= end)
		return -1;
	*p = s;
	return 0;
}

/* Rewrite the hex-float strings of REAL/NUMERIC columns in a JSON image as
 * decimal numbers.  Returns 1 when out holds a rewritten image. */
int ss_odbc_sqlite_decode_floats(const struct ss_odbc_floatcols *t, const char *img, size_t len,
				 struct ss_buf *out)
{
	const char *p = img, *end = img + len;
	struct ss_buf key, val;
	int changed = 0;

	if (!t || t->ncols == 0 || len < 2 || *p != '{')
		return 0;
	ss_buf_init(&key);
	ss_buf_init(&val);
	ss_buf_reset(out);
	ss_buf_addc(out, '{');
	p++;
	while (p < end && *p != '}') {
		const char *kstart = p, *vstart;
		int vt = 0;
		if (*p != '"')
			goto bad;
		ss_buf_reset(&key);
		if (json_str(&p, end, &key) < 0 || p >= end || *p != ':')
			goto bad;
		ss_buf_add(out, kstart, (size_t)(p - kstart + 1));
		p++;
		for (int i = 0; i < t->ncols; i++)
			if (key.data && strcmp(t->cols[i], key.data) == 0)
				vt = t->vtypes[i];
		vstart = p;
		if (vt && *p == '"' && (p[1] == '0' || (p[1] == '-' && p[2] == '0')) &&
		    (p[2] == 'x' || p[3] == 'x')) {
			ss_buf_reset(&val);
			if (json_str(&p, end, &val) < 0)
				goto bad;
			double d = strtod(val.data, NULL);
			if (vt == SS_V_NUMERIC)
				ss_odbc_plain_decimal(d, out);
			else
				ss_odbc_format_double(d, out);
			changed = 1;
		} else {
			if (json_skip(&p, end) < 0)
				goto bad;
			ss_buf_add(out, vstart, (size_t)(p - vstart));
		}
		if (p < end && *p == ',') {
			ss_buf_addc(out, ',');
			p++;
		}
	}
	ss_buf_addc(out, '}');
	ss_buf_free(&key);
	ss_buf_free(&val);
	return changed;
bad:
	ss_buf_free(&key);
	ss_buf_free(&val);
	return 0; /* leave it to the image parser to report */
}
