/*
 * fuzz_change.c -- the journal payload decoder (ss_change_decode), fed
 * arbitrary bytes as a corrupted or hostile journal record would be.  A
 * payload that decodes is rendered as `journal dump` renders it
 * (ss_change_to_json), and re-encoded: the encoding decodes to the same
 * change (encoding it again gives the same bytes), and is never longer than
 * the input (the decoder accepts over-long varints, the encoder writes the
 * shortest).
 */
#include "fuzz.h"

#include "change.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ss_change c, d;
	struct ss_err err;
	struct ss_buf out, again;

	ss_change_init(&c);
	ss_change_init(&d);
	ss_buf_init(&out);
	ss_buf_init(&again);
	memset(&err, 0, sizeof err);
	if (ss_change_decode(&c, data, size, &err) == 0) {
		c.pos = 1;
		c.ts_us = c.source_ts_us;
		ss_change_to_json(&c, &out);
		ss_buf_reset(&out);
		ss_change_encode(&c, &out);
		FUZZ_CHECK(out.len <= size,
			   "re-encoding gives %zu bytes, more than the %zu decoded", out.len, size);
		FUZZ_CHECK(ss_change_decode(&d, (const uint8_t *)out.data, out.len, &err) == 0,
			   "own encoding does not decode: %s", err.msg);
		FUZZ_CHECK(d.op == c.op && d.source_id == c.source_id &&
				   d.source_ts_us == c.source_ts_us && d.nkey == c.nkey &&
				   d.nrow == c.nrow,
			   "decoded re-encoding differs");
		ss_change_encode(&d, &again);
		FUZZ_CHECK(again.len == out.len && memcmp(again.data, out.data, out.len) == 0,
			   "encoding is not stable");
	} else {
		FUZZ_CHECK(err.msg[0], "decode failed without a message");
	}
	ss_buf_free(&out);
	ss_buf_free(&again);
	ss_change_release(&c);
	ss_change_release(&d);
	return 0;
}
