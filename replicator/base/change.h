/*
 * change.h -- one captured row change, its values, and their encodings.
 *
 * A change travels source -> journal -> target.  Values are kept in one
 * engine-neutral, typed text form (the "journal form", see doc/types.md):
 * each dialect turns its native values into it when capturing and turns it
 * into its own input form when applying.  This module owns that form, the
 * compact binary encoding stored as a journal record's payload, the JSON
 * row-image reader used by every capture trigger, and the JSON-lines
 * rendering used by `journal dump`.
 */
#ifndef SS_CHANGE_H
#define SS_CHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

/* Journal form of a value, by type class.  All but BINARY are UTF-8 text. */
enum ss_vtype {
	SS_V_NULL = 0,          /* only as "no type" for a NULL value */
	SS_V_TEXT = 'T',        /* character data */
	SS_V_INT = 'I',         /* integer: -?[0-9]+ */
	SS_V_NUMERIC = 'N',     /* exact decimal as the source wrote it, or NaN */
	SS_V_FLOAT = 'F',       /* shortest round-trip text; -0, NaN, Infinity, -Infinity */
	SS_V_BOOL = 'b',        /* "1" or "0" */
	SS_V_BINARY = 'B',      /* raw bytes */
	SS_V_DATE = 'D',        /* YYYY-MM-DD */
	SS_V_TIME = 't',        /* HH:MM:SS[.ffffff] */
	SS_V_TIMESTAMP = 'S',   /* YYYY-MM-DD HH:MM:SS[.ffffff], no zone */
	SS_V_TIMESTAMPTZ = 'Z', /* YYYY-MM-DD HH:MM:SS[.ffffff]+00, always UTC */
	SS_V_JSON = 'J',        /* JSON text */
	SS_V_UUID = 'U',        /* 8-4-4-4-12 lowercase hex */
};

struct ss_field {
	const char *name;
	size_t name_len;
	uint8_t type; /* enum ss_vtype; SS_V_NULL with is_null */
	uint8_t is_null;
	const char *data; /* not NUL-terminated in general */
	size_t len;
	size_t off; /* while building: offset of data in the change's store */
	uint8_t in_store;
};

/* op: 'I' insert, 'U' update (full new image), 'D' delete (key only).
 * An UPDATE that changes the key arrives as a 'D' of the old key followed
 * by a 'U' of the new row. */
struct ss_change {
	uint64_t pos;         /* journal position (0 until journaled) */
	int64_t ts_us;        /* journal time */
	uint64_t txid;        /* source transaction, 0 = unknown */
	uint8_t flags;        /* SS_JREC_TXEND ... */
	uint64_t source_id;   /* shadow row id on the source (0 for pollers) */
	int64_t source_ts_us; /* when the source trigger/poller saw it */
	char op;
	const char *schema, *table;
	size_t schema_len, table_len;
	int nkey, nrow;
	struct ss_field *key; /* primary key, in key order */
	struct ss_field *row; /* full row for I/U; nrow == 0 for D */
	/* storage owned by the change (decoder scratch) */
	int key_cap, row_cap;
	struct ss_buf store;
};

void ss_change_init(struct ss_change *c);
void ss_change_release(struct ss_change *c); /* frees storage; c may be reused after init */
void ss_change_reset(struct ss_change *c);   /* empties, keeps allocations */
struct ss_field *ss_change_add_key(struct ss_change *c);
struct ss_field *ss_change_add_row(struct ss_change *c);
/* Copy value bytes into the change's own storage and point f at them
 * (resolved by ss_change_finish; call it once all fields are added). */
void ss_change_field_store(struct ss_change *c, struct ss_field *f, const char *name,
			   size_t name_len, uint8_t type, const char *data, size_t len);
void ss_change_finish(struct ss_change *c);

/* Compact binary payload for the journal. */
void ss_change_encode(const struct ss_change *c, struct ss_buf *out);
/* Decode a payload; fields point into payload (which must outlive c's use). */
int ss_change_decode(struct ss_change *c, const uint8_t *p, size_t len,
		     struct ss_err *err) SS_MUST_CHECK;

/* One JSON line: {"pos":..,"time":"..","txid":..,"table":"s.t","op":"U",
 * "key":{..},"row":{..}}; binary as {"$hex":".."}. */
void ss_change_to_json(const struct ss_change *c, struct ss_buf *out);

/* Find a field by name (exact). */
const struct ss_field *ss_change_field(const struct ss_field *f, int n, const char *name);

/* --- row images written by capture triggers ------------------------------ */

/* How the reader should interpret the JSON value of a column. */
struct ss_image_col {
	const char *name;
	uint8_t vtype;
};

/* Parse a JSON object row image into fields (appended to c->row, or c->key
 * when as_key), converting each value to the journal form of its column's
 * vtype: binary from hex ("\\x..." or plain), timestamptz to UTC, booleans to
 * 1/0, date-time 'T' to ' ', nested JSON kept as text.  Columns absent from
 * cols are skipped (excluded columns), unknown ones too.  A value that has
 * no journal form of its class (a timestamp the reader does not know) is
 * kept as the source wrote it, typed TEXT: only a malformed image (or a
 * binary value that is not hex) is an error, naming the column. */
int ss_image_parse(struct ss_change *c, int as_key, const char *json, size_t len,
		   const struct ss_image_col *cols, int ncols, struct ss_err *err) SS_MUST_CHECK;
/* The same for an image whose values are each null or a JSON string holding
 * the value's own text form (PostgreSQL's capture): a JSON column's string
 * is the document's text, so the document null is not SQL NULL. */
int ss_image_parse_text(struct ss_change *c, int as_key, const char *json, size_t len,
			const struct ss_image_col *cols, int ncols,
			struct ss_err *err) SS_MUST_CHECK;

/* Normalise text into the journal form of vtype (used by image parsing and
 * by dialects reading typed result columns).  Appends to out. */
int ss_value_normalize(uint8_t vtype, const char *s, size_t len, struct ss_buf *out,
		       struct ss_err *err) SS_MUST_CHECK;

/* Decode the JSON string starting at *p (on its opening quote) into out as
 * UTF-8, advancing *p past the closing quote.  -1 on a malformed string or
 * an unknown escape.  Shared by the row-image reader and canon.c. */
int ss_json_string(const char **p, const char *end, struct ss_buf *out) SS_MUST_CHECK;

/* Hex helpers. */
void ss_hex_encode(const uint8_t *p, size_t n, struct ss_buf *out);
int ss_hex_decode(const char *s, size_t n, struct ss_buf *out) SS_MUST_CHECK;

#endif
