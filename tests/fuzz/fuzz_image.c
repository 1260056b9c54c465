/*
 * fuzz_image.c -- the JSON row-image reader every capture trigger feeds
 * (ss_image_parse, with ss_value_normalize for each column's type).
 *
 * Input: a first line of value-type letters (enum ss_vtype: T I N F b B D t
 * S Z J U), one per column, the columns being named id, a, b, c, ... in
 * that order; the rest is the JSON row image.  It is parsed as a row and as
 * a key, with the same outcome; a change built from what parses must survive the journal encoding
 * (encode, decode, encode gives the same bytes) and `journal dump`.
 */
#include "fuzz.h"

#include "change.h"

static const char *const names[] = {"id", "a", "b", "c", "d", "e", "f", "g"};
#define MAXCOLS (int)(sizeof names / sizeof names[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ss_image_col cols[MAXCOLS];
	int ncols = 0;
	size_t i = 0;
	struct ss_change c, d;
	struct ss_err err;
	struct ss_buf enc, enc2, js;

	for (; i < size && data[i] != '\n'; i++) {
		if (ncols == MAXCOLS)
			continue;
		cols[ncols].name = names[ncols];
		cols[ncols].vtype =
			strchr("TINFbBDtSZJU", data[i]) && data[i] ? data[i] : SS_V_TEXT;
		ncols++;
	}
	if (i < size)
		i++;
	const char *json = (const char *)data + i;
	size_t len = size - i;

	ss_change_init(&c);
	ss_change_init(&d);
	ss_buf_init(&enc);
	ss_buf_init(&enc2);
	ss_buf_init(&js);
	memset(&err, 0, sizeof err);
	c.op = 'U';
	c.schema = "s";
	c.schema_len = 1;
	c.table = "t";
	c.table_len = 1;
	int rk = ss_image_parse(&c, 1, json, len, cols, ncols, &err);
	FUZZ_CHECK(rk == 0 || err.msg[0], "key parse failed without a message");
	int rr = ss_image_parse(&c, 0, json, len, cols, ncols, &err);
	FUZZ_CHECK(rr == 0 || err.msg[0], "row parse failed without a message");
	FUZZ_CHECK(rk == rr, "parsed as key: %d, as row: %d", rk, rr);
	if (rk < 0) /* a failed parse leaves the change unusable: callers drop it */
		goto done;
	ss_change_finish(&c);
	ss_change_encode(&c, &enc);
	FUZZ_CHECK(ss_change_decode(&d, (const uint8_t *)enc.data, enc.len, &err) == 0,
		   "own encoding does not decode: %s", err.msg);
	FUZZ_CHECK(d.nkey == c.nkey && d.nrow == c.nrow, "field counts differ");
	ss_change_encode(&d, &enc2);
	FUZZ_CHECK(enc.len == enc2.len && memcmp(enc.data, enc2.data, enc.len) == 0,
		   "encoding does not round-trip");
	ss_change_to_json(&d, &js);
done:
	ss_buf_free(&enc);
	ss_buf_free(&enc2);
	ss_buf_free(&js);
	ss_change_release(&c);
	ss_change_release(&d);
	return 0;
}
