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

#include "change.h"
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
			goto fail;
		ss_buf_reset(&key);
		if (ss_json_string(&p, end, &key) < 0 || p >= end || *p != ':')
			goto fail;
		ss_buf_add(out, kstart, (size_t)(p - kstart + 1));
		p++;
		for (int i = 0; i < t->ncols; i++)
			if (key.data && strcmp(t->cols[i], key.data) == 0)
				vt = t->vtypes[i];
		vstart = p;
		if (vt && *p == '"' && (p[1] == '0' || (p[1] == '-' && p[2] == '0')) &&
		    (p[2] == 'x' || p[3] == 'x')) {
			ss_buf_reset(&val);
			if (ss_json_string(&p, end, &val) < 0)
				goto fail;
			double d = strtod(val.data, NULL);
			if (vt == SS_V_NUMERIC)
				ss_odbc_plain_decimal(d, out);
			else
				ss_odbc_format_double(d, out);
			changed = 1;
		} else {
			if (json_skip(&p, end) < 0)
				goto fail;
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
fail:
	ss_buf_free(&key);
	ss_buf_free(&val);
	return 0; /* leave it to the image parser to report */
}
