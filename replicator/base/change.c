/*
 * change.c -- the journal form of a row change: building, the binary
 * payload encoding, JSON rendering and the JSON row-image reader.
 *
 * Payload layout (all integers varints, strings length-prefixed):
 *   u8 version(1) u8 op  source_id  zigzag(source_ts_us)
 *   schema table  nkey field*  nrow field*
 *   field := name  u8 type  [len bytes]   (type 0 = NULL, no bytes follow)
 */
#include "change.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void ss_change_init(struct ss_change *c)
{
	memset(c, 0, sizeof *c);
	ss_buf_init(&c->store);
}

void ss_change_release(struct ss_change *c)
{
	free(c->key);
	free(c->row);
	ss_buf_free(&c->store);
	ss_change_init(c);
}

void ss_change_reset(struct ss_change *c)
{
	struct ss_field *k = c->key, *r = c->row;
	int kc = c->key_cap, rc = c->row_cap;
	struct ss_buf st = c->store;

	memset(c, 0, sizeof *c);
	c->key = k;
	c->row = r;
	c->key_cap = kc;
	c->row_cap = rc;
	c->store = st;
	ss_buf_reset(&c->store);
}

static struct ss_field *grow(struct ss_field **v, int *n, int *cap)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = ss_xrealloc(*v, sizeof **v * (size_t)*cap);
	}
	struct ss_field *f = &(*v)[(*n)++];
	memset(f, 0, sizeof *f);
	return f;
}

struct ss_field *ss_change_add_key(struct ss_change *c)
{
	return grow(&c->key, &c->nkey, &c->key_cap);
}

struct ss_field *ss_change_add_row(struct ss_change *c)
{
	return grow(&c->row, &c->nrow, &c->row_cap);
}

void ss_change_field_store(struct ss_change *c, struct ss_field *f, const char *name,
			   size_t name_len, uint8_t type, const char *data, size_t len)
{
	f->name = name;
	f->name_len = name_len;
	f->type = type;
	f->is_null = data == NULL;
	f->len = data ? len : 0;
	f->off = c->store.len;
	f->in_store = 1;
	if (data)
		ss_buf_add(&c->store, data, len);
}

/* A NULL's data stays NULL, as decoded ones have it (and the store may have
 * no allocation when every value is NULL). */
void ss_change_finish(struct ss_change *c)
{
	for (int i = 0; i < c->nkey; i++)
		if (c->key[i].in_store && !c->key[i].is_null)
			c->key[i].data = c->store.data + c->key[i].off;
	for (int i = 0; i < c->nrow; i++)
		if (c->row[i].in_store && !c->row[i].is_null)
			c->row[i].data = c->store.data + c->row[i].off;
}

static void put_str(struct ss_buf *b, const char *s, size_t n)
{
	ss_buf_add_varint(b, n);
	ss_buf_add(b, s, n);
}

static void put_fields(struct ss_buf *b, const struct ss_field *f, int n)
{
	ss_buf_add_varint(b, (uint64_t)n);
	for (int i = 0; i < n; i++) {
		put_str(b, f[i].name, f[i].name_len);
		if (f[i].is_null) {
			ss_buf_addc(b, 0);
			continue;
		}
		ss_buf_addc(b, (char)f[i].type);
		put_str(b, f[i].data, f[i].len);
	}
}

void ss_change_encode(const struct ss_change *c, struct ss_buf *out)
{
	uint64_t zz = ((uint64_t)c->source_ts_us << 1) ^ (uint64_t)(c->source_ts_us >> 63);

	ss_buf_addc(out, 1);
	ss_buf_addc(out, c->op);
	ss_buf_add_varint(out, c->source_id);
	ss_buf_add_varint(out, zz);
	put_str(out, c->schema, c->schema_len);
	put_str(out, c->table, c->table_len);
	put_fields(out, c->key, c->nkey);
	put_fields(out, c->row, c->nrow);
}

static int get_str(const uint8_t **p, const uint8_t *end, const char **s, size_t *n)
{
	uint64_t l;

	if (ss_varint_get(p, end, &l) < 0 || l > (uint64_t)(end - *p))
		return -1;
	*s = (const char *)*p;
	*n = (size_t)l;
	*p += l;
	return 0;
}

static int get_fields(struct ss_change *c, int as_key, const uint8_t **p, const uint8_t *end)
{
	uint64_t n;

	if (ss_varint_get(p, end, &n) < 0 || n > (uint64_t)(end - *p))
		return -1;
	/* room for exactly n: decoding runs for every change applied, and
	 * right-sized arrays stay small enough for malloc's fast paths */
	struct ss_field **v = as_key ? &c->key : &c->row;
	int *cap = as_key ? &c->key_cap : &c->row_cap;
	int have = as_key ? c->nkey : c->nrow;
	if ((uint64_t)*cap < have + n) {
		*cap = have + (int)n;
		*v = ss_xrealloc(*v, sizeof **v * (size_t)*cap);
	}
	for (uint64_t i = 0; i < n; i++) {
		struct ss_field *f = as_key ? ss_change_add_key(c) : ss_change_add_row(c);
		if (get_str(p, end, &f->name, &f->name_len) < 0 || *p >= end)
			return -1;
		f->type = *(*p)++;
		if (f->type == 0) {
			f->is_null = 1;
			continue;
		}
		if (get_str(p, end, &f->data, &f->len) < 0)
			return -1;
	}
	return 0;
}

int ss_change_decode(struct ss_change *c, const uint8_t *p, size_t len, struct ss_err *err)
{
	const uint8_t *end = p + len;
	uint64_t zz;

	c->nkey = c->nrow = 0;
	if (len < 2 || p[0] != 1) {
		ss_err_set(err, "change payload: unknown version %d", len ? p[0] : -1);
		return -1;
	}
	c->op = (char)p[1];
	p += 2;
	if (ss_varint_get(&p, end, &c->source_id) < 0 || ss_varint_get(&p, end, &zz) < 0 ||
	    get_str(&p, end, &c->schema, &c->schema_len) < 0 ||
	    get_str(&p, end, &c->table, &c->table_len) < 0 || get_fields(c, 1, &p, end) < 0 ||
	    get_fields(c, 0, &p, end) < 0 || p != end) {
		ss_err_set(err, "change payload: malformed (%zu bytes)", len);
		return -1;
	}
	c->source_ts_us = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
	return 0;
}

void ss_hex_encode(const uint8_t *p, size_t n, struct ss_buf *out)
{
	static const char hex[] = "0123456789abcdef";

	ss_buf_reserve(out, n * 2);
	for (size_t i = 0; i < n; i++) {
		out->data[out->len++] = hex[p[i] >> 4];
		out->data[out->len++] = hex[p[i] & 15];
	}
	out->data[out->len] = '\0';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int ss_hex_decode(const char *s, size_t n, struct ss_buf *out)
{
	if (n % 2)
		return -1;
	ss_buf_reserve(out, n / 2);
	for (size_t i = 0; i < n; i += 2) {
		int a = hexval((unsigned char)s[i]), b = hexval((unsigned char)s[i + 1]);
		if (a < 0 || b < 0)
			return -1;
		out->data[out->len++] = (char)(a << 4 | b);
	}
	out->data[out->len] = '\0';
	return 0;
}

static void fields_json(const struct ss_field *f, int n, struct ss_buf *out)
{
	ss_buf_addc(out, '{');
	for (int i = 0; i < n; i++) {
		if (i)
			ss_buf_addc(out, ',');
		ss_buf_add_json_str(out, f[i].name, f[i].name_len);
		ss_buf_addc(out, ':');
		if (f[i].is_null) {
			ss_buf_adds(out, "null");
		} else if (f[i].type == SS_V_BINARY) {
			ss_buf_adds(out, "{\"$hex\":\"");
			ss_hex_encode((const uint8_t *)f[i].data, f[i].len, out);
			ss_buf_adds(out, "\"}");
		} else if (f[i].type == SS_V_JSON) {
			ss_buf_adds(out, "{\"$json\":");
			ss_buf_add_json_str(out, f[i].data, f[i].len);
			ss_buf_addc(out, '}');
		} else {
			ss_buf_add_json_str(out, f[i].data, f[i].len);
		}
	}
	ss_buf_addc(out, '}');
}

void ss_change_to_json(const struct ss_change *c, struct ss_buf *out)
{
	char ts[40], sts[40];

	ss_format_time(c->ts_us, ts, sizeof ts);
	ss_format_time(c->source_ts_us, sts, sizeof sts);
	ss_buf_addf(out,
		    "{\"pos\":%llu,\"time\":\"%s\",\"source_time\":\"%s\",\"txid\":%llu,"
		    "\"txend\":%s,\"table\":",
		    (unsigned long long)c->pos, ts, sts, (unsigned long long)c->txid,
		    (c->flags & 1) ? "true" : "false");
	struct ss_buf t;
	ss_buf_init(&t);
	ss_buf_add(&t, c->schema, c->schema_len);
	ss_buf_addc(&t, '.');
	ss_buf_add(&t, c->table, c->table_len);
	ss_buf_add_json_str(out, t.data, t.len);
	ss_buf_free(&t);
	ss_buf_addf(out, ",\"op\":\"%c\",\"key\":", c->op);
	fields_json(c->key, c->nkey, out);
	if (c->op != 'D') {
		ss_buf_adds(out, ",\"row\":");
		fields_json(c->row, c->nrow, out);
	}
	ss_buf_addc(out, '}');
}

const struct ss_field *ss_change_field(const struct ss_field *f, int n, const char *name)
{
	size_t l = strlen(name);

	for (int i = 0; i < n; i++)
		if (f[i].name_len == l && memcmp(f[i].name, name, l) == 0)
			return &f[i];
	return NULL;
}

/* ---- value normalisation ------------------------------------------------ */

/* Is s a timestamp with time zone already in the journal form, as
 * PostgreSQL prints one in UTC: a year of four or more digits, "+00", no
 * trailing zero in the fraction, and " BC" for years before 1? */
static int utc_canonical(const char *s, size_t len)
{
	size_t i = 0, y;

	while (i < len && isdigit((unsigned char)s[i]))
		i++;
	y = i;
	if (y < 4 || len < y + 18 || s[y] != '-' || s[y + 3] != '-' || s[y + 6] != ' ' ||
	    s[y + 9] != ':' || s[y + 12] != ':')
		return 0;
	static const int at[] = {1, 2, 4, 5, 7, 8, 10, 11, 13, 14};
	for (size_t k = 0; k < sizeof at / sizeof at[0]; k++)
		if (!isdigit((unsigned char)s[y + (size_t)at[k]]))
			return 0;
	i = y + 15;
	if (i < len && s[i] == '.') {
		size_t f = ++i;
		while (i < len && isdigit((unsigned char)s[i]))
			i++;
		if (i == f || s[i - 1] == '0')
			return 0;
	}
	if (len - i == 3 && memcmp(s + i, "+00", 3) == 0)
		return 1;
	return len - i == 6 && memcmp(s + i, "+00 BC", 6) == 0;
}

int ss_value_normalize(uint8_t vtype, const char *s, size_t len, struct ss_buf *out,
		       struct ss_err *err)
{
	switch (vtype) {
	case SS_V_BINARY:
		if (len >= 2 && s[0] == '\\' && s[1] == 'x') {
			s += 2;
			len -= 2;
		}
		if (ss_hex_decode(s, len, out) < 0) {
			ss_err_set(err, "binary value is not hex: \"%.40s\"", s);
			return -1;
		}
		return 0;
	case SS_V_BOOL:
		if (len && (s[0] == 't' || s[0] == 'T' || s[0] == '1' || s[0] == 'y'))
			ss_buf_addc(out, '1');
		else if (len && (s[0] == 'f' || s[0] == 'F' || s[0] == '0' || s[0] == 'n'))
			ss_buf_addc(out, '0');
		else {
			ss_err_set(err, "boolean value \"%.*s\" not understood", (int)len, s);
			return -1;
		}
		return 0;
	case SS_V_TIMESTAMPTZ: {
		char tmp[64], iso[40];
		int64_t us;
		if (utc_canonical(s, len) || (len && !isdigit((unsigned char)s[0]))) {
			ss_buf_add(out, s, len); /* already UTC; infinity, -infinity */
			return 0;
		}
		if (len >= sizeof tmp)
			goto not_understood;
		memcpy(tmp, s, len);
		tmp[len] = '\0';
		if (ss_parse_time(tmp, &us) < 0)
			goto not_understood;
		ss_format_time(us, iso, sizeof iso);
		/* 2026-11-21T10:00:00.123000Z -> 2026-11-21 10:00:00.123+00 */
		iso[10] = ' ';
		size_t n = 19;
		if (strncmp(iso + 19, ".000000", 7) != 0) {
			n = 26;
			while (iso[n - 1] == '0')
				n--;
		}
		ss_buf_add(out, iso, n);
		ss_buf_adds(out, "+00");
		return 0;
not_understood:
		ss_err_set(err, "timestamp with time zone \"%.*s\" not understood", (int)len, s);
		return -1;
	}
	case SS_V_TIMESTAMP:
		for (size_t i = 0; i < len; i++)
			ss_buf_addc(out, i == 10 && s[i] == 'T' ? ' ' : s[i]);
		return 0;
	case SS_V_UUID:
		for (size_t i = 0; i < len; i++)
			ss_buf_addc(out, (char)tolower((unsigned char)s[i]));
		return 0;
	default: ss_buf_add(out, s, len); return 0;
	}
}

/* ---- a small JSON reader for row images ---------------------------------- */

struct jp {
	const char *p, *end;
};

static void ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
		j->p++;
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

static int hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval((unsigned char)p[i]);
		if (h < 0)
			return -1;
		*v = *v << 4 | (unsigned)h;
	}
	return 0;
}

int ss_json_string(const char **pp, const char *end, struct ss_buf *out)
{
	const char *p = *pp + 1;

	while (p < end) {
		const char *run = p;
		while (p < end && *p != '"' && *p != '\\')
			p++;
		ss_buf_add(out, run, (size_t)(p - run));
		if (p >= end)
			return -1;
		if (*p == '"') {
			*pp = p + 1;
			return 0;
		}
		if (end - p < 2)
			return -1;
		char e = p[1];
		p += 2;
		switch (e) {
		case '"': ss_buf_addc(out, '"'); break;
		case '\\': ss_buf_addc(out, '\\'); break;
		case '/': ss_buf_addc(out, '/'); break;
		case 'b': ss_buf_addc(out, '\b'); break;
		case 'f': ss_buf_addc(out, '\f'); break;
		case 'n': ss_buf_addc(out, '\n'); break;
		case 'r': ss_buf_addc(out, '\r'); break;
		case 't': ss_buf_addc(out, '\t'); break;
		case 'u': {
			unsigned cp, lo;
			if (end - p < 4 || hex4(p, &cp) < 0)
				return -1;
			p += 4;
			if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 6 && p[0] == '\\' &&
			    p[1] == 'u' && hex4(p + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				p += 6;
			}
			put_utf8(out, cp);
			break;
		}
		default: return -1; /* not a JSON escape */
		}
	}
	return -1;
}

static int jstring(struct jp *j, struct ss_buf *out)
{
	return ss_json_string(&j->p, j->end, out);
}

/* Skip any JSON value, leaving j->p after it.  A separator or a closing
 * bracket where a value should start, or a byte no value can hold (NUL),
 * is malformed. */
static int jskip(struct jp *j)
{
	int depth = 0;

	ws(j);
	do {
		if (j->p >= j->end)
			return -1;
		char ch = *j->p;
		if (ch == '"') {
			j->p++;
			while (j->p < j->end && *j->p != '"') {
				if (*j->p == '\\' && j->end - j->p > 1)
					j->p++;
				j->p++;
			}
			if (j->p >= j->end)
				return -1;
			j->p++;
		} else if (ch == '{' || ch == '[') {
			depth++;
			j->p++;
		} else if (ch == '}' || ch == ']') {
			if (depth == 0)
				return -1;
			depth--;
			j->p++;
		} else if (ch == ',' || ch == ':' || ch == ' ' || ch == '\n' || ch == '\t' ||
			   ch == '\r') {
			if (depth == 0)
				return -1;
			j->p++;
		} else {
			const char *start = j->p;
			while (j->p < j->end && !strchr(",]} \n\t\r", *j->p))
				j->p++;
			if (j->p == start) /* NUL: strchr finds the terminator */
				return -1;
		}
	} while (depth > 0);
	return 0;
}

static int image_parse(struct ss_change *c, int as_key, const char *json, size_t len,
		       const struct ss_image_col *cols, int ncols, int text, struct ss_err *err)
{
	struct jp j = {json, json + len};
	struct ss_buf key, raw, norm;
	int rc = -1;

	ss_buf_init(&key);
	ss_buf_init(&raw);
	ss_buf_init(&norm);
	ws(&j);
	if (j.p >= j.end || *j.p != '{')
		goto fail;
	j.p++;
	ws(&j);
	if (j.p < j.end && *j.p == '}') {
		rc = 0;
		goto done;
	}
	for (;;) {
		ws(&j);
		if (j.p >= j.end || *j.p != '"')
			goto fail;
		ss_buf_reset(&key);
		if (jstring(&j, &key) < 0)
			goto fail;
		ws(&j);
		if (j.p >= j.end || *j.p++ != ':')
			goto fail;
		ws(&j);
		if (j.p >= j.end)
			goto fail;
		const struct ss_image_col *col = NULL;
		for (int i = 0; i < ncols; i++)
			if (strcmp(cols[i].name, key.data) == 0) {
				col = &cols[i];
				break;
			}
		const char *vstart = j.p;
		if (!col) {
			if (jskip(&j) < 0)
				goto fail;
		} else {
			struct ss_field *f = as_key ? ss_change_add_key(c) : ss_change_add_row(c);
			ss_buf_reset(&raw);
			ss_buf_reset(&norm);
			if (*j.p == 'n') {
				if (jskip(&j) < 0)
					goto fail;
				ss_change_field_store(c, f, col->name, strlen(col->name), SS_V_NULL,
						      NULL, 0);
				goto next;
			}
			if (col->vtype == SS_V_JSON && !(text && *j.p == '"')) {
				if (jskip(&j) < 0)
					goto fail;
				ss_buf_add(&raw, vstart, (size_t)(j.p - vstart));
			} else if (*j.p == '"') {
				if (jstring(&j, &raw) < 0)
					goto fail;
			} else {
				if (jskip(&j) < 0)
					goto fail;
				ss_buf_add(&raw, vstart, (size_t)(j.p - vstart));
			}
			uint8_t vtype = col->vtype;
			if (ss_value_normalize(vtype, raw.data ? raw.data : "", raw.len, &norm,
					       err) < 0) {
				if (vtype == SS_V_BINARY) { /* not a value: a broken image */
					ss_err_prefix(err, "column %s", col->name);
					goto done;
				}
				/* A value without a journal form of its class (a date
				 * the reader does not know) travels as the source
				 * wrote it: a target that cannot hold it stops on it,
				 * naming the row; capture never stops on a value. */
				ss_err_clear(err);
				ss_buf_reset(&norm);
				ss_buf_add(&norm, raw.data ? raw.data : "", raw.len);
				vtype = SS_V_TEXT;
			}
			ss_change_field_store(c, f, col->name, strlen(col->name), vtype,
					      norm.data ? norm.data : "", norm.len);
		}
next:
		ws(&j);
		if (j.p < j.end && *j.p == ',') {
			j.p++;
			continue;
		}
		if (j.p < j.end && *j.p == '}')
			break;
		goto fail;
	}
	rc = 0;
	goto done;
fail:
	/* json is not NUL-terminated: print at most len bytes of it */
	ss_err_set(err, "malformed row image near offset %zu: %.*s", (size_t)(j.p - json),
		   (int)(len < 60 ? len : 60), json);
done:
	ss_buf_free(&key);
	ss_buf_free(&raw);
	ss_buf_free(&norm);
	return rc;
}

int ss_image_parse(struct ss_change *c, int as_key, const char *json, size_t len,
		   const struct ss_image_col *cols, int ncols, struct ss_err *err)
{
	return image_parse(c, as_key, json, len, cols, ncols, 0, err);
}

int ss_image_parse_text(struct ss_change *c, int as_key, const char *json, size_t len,
			const struct ss_image_col *cols, int ncols, struct ss_err *err)
{
	return image_parse(c, as_key, json, len, cols, ncols, 1, err);
}
