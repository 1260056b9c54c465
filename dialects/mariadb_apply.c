/*
 * mariadb_apply.c -- applying batches to MariaDB through Connector/C.
 *
 * Owns: the applier's session (foreign key checks off, unique checks on,
 * strict sql_mode, the position table), binding journal values as typed
 * parameters (integers and decimals exact, bytes as binary strings,
 * timestamps with zone as UTC; NaN and infinities refused naming table,
 * column and key), chunking multi-row statements under max_allowed_packet
 * and the 65535-placeholder limit, naming the failing row.
 *
 * Leaves to others: the statement text (mariadb_sql.c, shared with the
 * ODBC transport), running statements (mariadb.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine.h"
#include "mariadb_conn.h"

/* ---- apply ----------------------------------------------------------------- */

int ss_my_apply_prepare(struct ss_conn *c, struct ss_err *err)
{
	static const char *const session[] = {
		"SET SESSION foreign_key_checks = 0",
		"SET SESSION unique_checks = 1",
		"SET SESSION sql_mode = '" MY_SQL_MODE "'",
		NULL,
	};
	char *v = NULL;

	for (int i = 0; session[i]; i++)
		if (ss_my_exec_text(c, session[i], err) < 0)
			return -1;
	if (ss_my_run_statements(c, ss_ddl_get("mariadb/position.sql"), err) < 0)
		return -1;
	if (ss_my_query_typed(c, "SELECT @@max_allowed_packet", NULL, 0, ss_my_first_text_cb, &v,
			      err) < 0)
		return -1;
	MYC(c)->server_packet = v ? strtoul(v, NULL, 10) : 0;
	free(v);
	return 0;
}

/* How a target column compares and takes values, from its catalog type. */
enum my_kind { K_STR, K_INT, K_DEC, K_FLOAT, K_BIN, K_TEMPORAL };

static enum my_kind col_kind(const struct ss_colinfo *col)
{
	switch (col->vtype) {
	case SS_V_INT:
	case SS_V_BOOL: return K_INT;
	case SS_V_NUMERIC: return K_DEC;
	case SS_V_FLOAT: return K_FLOAT;
	case SS_V_BINARY: return K_BIN;
	case SS_V_DATE:
	case SS_V_TIME:
	case SS_V_TIMESTAMP:
	case SS_V_TIMESTAMPTZ: return K_TEMPORAL;
	default: return K_STR;
	}
}

static int word_is(const struct ss_field *f, const char *w)
{
	return f->len == strlen(w) && strncasecmp(f->data, w, f->len) == 0;
}

static int non_finite(const struct ss_field *f)
{
	static const char *const words[] = {"nan", "infinity", "-infinity", "+infinity",
					    "inf", "-inf",     "+inf",      NULL};
	for (int i = 0; words[i]; i++)
		if (word_is(f, words[i]))
			return 1;
	return 0;
}

/* "(k1, k2)=(v1, v2)" for messages. */
static void key_text(const struct ss_tableinfo *t, const struct ss_change *ch, struct ss_buf *out)
{
	ss_buf_addc(out, '(');
	for (int k = 0; k < t->npk; k++)
		ss_buf_addf(out, "%s%s", k ? ", " : "", t->cols[t->pk[k]].name);
	ss_buf_adds(out, ")=(");
	for (int k = 0; k < t->npk; k++) {
		const struct ss_field *f =
			ss_change_field(ch->key, ch->nkey, t->cols[t->pk[k]].name);
		if (k)
			ss_buf_adds(out, ", ");
		if (!f || f->is_null)
			ss_buf_adds(out, "NULL");
		else if (f->type == SS_V_BINARY) {
			ss_buf_adds(out, "\\x");
			ss_hex_encode((const uint8_t *)f->data, f->len > 32 ? 32 : f->len, out);
		} else
			ss_buf_addf(out, "%.*s", (int)(f->len > 100 ? 100 : f->len), f->data);
	}
	ss_buf_addc(out, ')');
}

/* A journal value as a parameter for a target column (doc/types.md):
 * integers bound as integers and decimals as decimals (so comparisons are
 * exact, not in floating point), bytes as a binary string, timestamps with
 * zone as UTC without it (the session is UTC); NaN and infinities, which
 * MariaDB cannot store, are an error naming table, column and key. */
static int bind_value(struct ss_conn *c, const struct ss_tableinfo *t, const struct ss_colinfo *col,
		      const struct ss_field *f, const struct ss_change *ch, struct my_val *v,
		      struct ss_err *err)
{
	enum my_kind kind = col_kind(col);
	const char *what = NULL;

	if (!f || f->is_null) {
		ss_my_val_text(v, NULL, 0);
		return 0;
	}
	ss_my_val_text(v, f->data ? f->data : "", f->len);
	if (f->type == SS_V_BINARY || kind == K_BIN) {
		v->type = MYSQL_TYPE_BLOB;
		return 0;
	}
	switch (kind) {
	case K_INT: {
		char tmp[24], *end;
		if (f->len == 0 || f->len >= sizeof tmp)
			return 0;
		memcpy(tmp, f->data, f->len);
		tmp[f->len] = '\0';
		errno = 0;
		if (tmp[0] == '-') {
			long long x = strtoll(tmp, &end, 10);
			if (errno || *end || !isdigit((unsigned char)tmp[1]))
				return 0; /* not an integer: the server says what is wrong */
			v->ll = x;
		} else {
			unsigned long long x = strtoull(tmp, &end, 10);
			if (errno || *end || !isdigit((unsigned char)tmp[0]))
				return 0;
			v->ll = (long long)x;
			v->is_unsigned = x > (unsigned long long)INT64_MAX;
		}
		v->type = MYSQL_TYPE_LONGLONG;
		return 0;
	}
	case K_DEC:
		if (non_finite(f))
			what = "DECIMAL holds no NaN or Infinity";
		v->type = MYSQL_TYPE_NEWDECIMAL;
		break;
	case K_FLOAT:
		if (non_finite(f))
			what = "FLOAT and DOUBLE hold no NaN or Infinity";
		break;
	case K_TEMPORAL:
		if (word_is(f, "infinity") || word_is(f, "-infinity"))
			what = "dates and times hold no infinity";
		else if (f->type == SS_V_TIMESTAMPTZ && f->len > 3 &&
			 memcmp(f->data + f->len - 3, "+00", 3) == 0)
			v->len -= 3; /* UTC, and so is the session */
		break;
	default: break;
	}
	if (what) {
		struct ss_buf k;
		ss_buf_init(&k);
		key_text(t, ch, &k);
		ss_err_set(err,
			   "database %s: table %s.%s column %s: value %.*s cannot be stored in "
			   "MariaDB (%s); key %s",
			   c->db->name, t->schema, t->name, col->name, (int)f->len, f->data, what,
			   k.data);
		ss_buf_free(&k);
		return -1;
	}
	return 0;
}

/* Bytes a row adds to the execute packet (values plus length prefixes,
 * type codes and null bits). */
static size_t row_bytes(const struct ss_apply_batch *b, int r, int del)
{
	const struct ss_tableinfo *t = b->target;
	const struct ss_change *ch = b->changes[r];
	int n = del ? t->npk : b->ncols;
	size_t bytes = 0;

	for (int i = 0; i < n; i++) {
		const char *name = del ? t->cols[t->pk[i]].name : t->cols[b->cols[i]].name;
		const struct ss_field *f = del ? ss_change_field(ch->key, ch->nkey, name) :
						 ss_change_field(ch->row, ch->nrow, name);
		bytes += 12 + (f && !f->is_null ? f->len : 0);
	}
	return bytes;
}

/* "... at row 3" in a server message: which row of the statement. */
static int message_row(const char *msg)
{
	const char *p = NULL, *q = msg;

	while ((q = strstr(q, " at row ")) != NULL)
		p = q++;
	return p ? atoi(p + 8) : 0;
}

static int apply_rows(struct ss_conn *c, const struct ss_apply_batch *b, int del,
		      struct ss_err *err)
{
	const struct ss_tableinfo *t = b->target;
	int per_row = del ? t->npk : b->ncols;
	int max_rows = MY_MAX_PARAMS / (per_row ? per_row : 1);
	unsigned long packet = MYC(c)->server_packet ? MYC(c)->server_packet : 16UL << 20;
	size_t budget = packet > 2 * MY_PACKET_MARGIN ? packet - MY_PACKET_MARGIN : packet / 2;
	struct ss_buf sql;
	struct my_val *v = NULL;
	int rc = 0;

	if (max_rows > MY_MAX_ROWS)
		max_rows = MY_MAX_ROWS;
	if (max_rows < 1) {
		ss_err_set(err, "database %s: table %s.%s has more than %d columns", c->db->name,
			   t->schema, t->name, MY_MAX_PARAMS);
		return -1;
	}
	ss_buf_init(&sql);
	for (int i = 0; i < b->n && rc == 0;) {
		size_t bytes = 0;
		int j = i;
		while (j < b->n && j - i < max_rows) {
			size_t rb = row_bytes(b, j, del);
			if (j == i && rb > budget) {
				struct ss_buf k;
				ss_buf_init(&k);
				key_text(t, b->changes[j], &k);
				ss_err_set(
					err,
					"database %s: table %s.%s: the row with key %s needs %zu "
					"bytes, more than max_allowed_packet (%lu) allows; raise "
					"max_allowed_packet on that server",
					c->db->name, t->schema, t->name, k.data, rb, packet);
				ss_buf_free(&k);
				rc = -1;
				break;
			}
			if (bytes + rb > budget)
				break;
			bytes += rb;
			j++;
		}
		if (rc < 0)
			break;
		int m = j - i;
		v = ss_xrealloc(v, sizeof *v * (size_t)(m * per_row));
		for (int r = 0; r < m && rc == 0; r++) {
			const struct ss_change *ch = b->changes[i + r];
			for (int k = 0; k < per_row && rc == 0; k++) {
				const struct ss_colinfo *col =
					del ? &t->cols[t->pk[k]] : &t->cols[b->cols[k]];
				const struct ss_field *f =
					del ? ss_change_field(ch->key, ch->nkey, col->name) :
					      ss_change_field(ch->row, ch->nrow, col->name);
				rc = bind_value(c, t, col, f, ch, &v[r * per_row + k], err);
			}
		}
		if (rc < 0)
			break;
		ss_buf_reset(&sql);
		if (del)
			ss_my_delete_sql(t, m, &sql);
		else
			ss_my_upsert_sql(t, b->cols, b->ncols, m, &sql);
		rc = ss_my_exec_cached(c, sql.data, sql.len, v, m * per_row, err);
		if (rc < 0 && !del)
			ss_my_upsert_explain(t, err);
		if (rc < 0) {
			int row = message_row(err->msg);
			struct ss_buf k;
			ss_buf_init(&k);
			if (row >= 1 && row <= m) {
				key_text(t, b->changes[i + row - 1], &k);
				ss_err_prefix(err, "table %s.%s, row with key %s", t->schema,
					      t->name, k.data);
			} else {
				ss_err_prefix(err, "table %s.%s", t->schema, t->name);
			}
			ss_buf_free(&k);
		}
		i = j;
	}
	ss_buf_free(&sql);
	free(v);
	return rc;
}

int ss_my_apply_upsert(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err)
{
	return apply_rows(c, b, 0, err);
}

int ss_my_apply_delete(struct ss_conn *c, const struct ss_apply_batch *b, struct ss_err *err)
{
	return apply_rows(c, b, 1, err);
}
