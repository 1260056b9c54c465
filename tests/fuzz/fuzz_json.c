/*
 * fuzz_json.c -- the JSON string decoder shared by the row-image reader and
 * canon.c (ss_json_string), and the JSON string writer used by `journal
 * dump` and /status (ss_buf_add_json_str).
 *
 * Decoding any input stays inside it and, on success, stops right after a
 * closing quote.  Writing any bytes as a JSON string and decoding that gives
 * back the same bytes.
 */
#include "fuzz.h"

#include "change.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ss_buf out, lit, back;

	ss_buf_init(&out);
	ss_buf_init(&lit);
	ss_buf_init(&back);
	if (size && data[0] == '"') {
		const char *p = (const char *)data, *end = p + size;
		if (ss_json_string(&p, end, &out) == 0)
			FUZZ_CHECK(p > (const char *)data && p <= end && p[-1] == '"',
				   "stopped at offset %td", p - (const char *)data);
	}
	ss_buf_add_json_str(&lit, (const char *)data, size);
	const char *p = lit.data;
	FUZZ_CHECK(ss_json_string(&p, lit.data + lit.len, &back) == 0, "own literal %s rejected",
		   lit.data);
	FUZZ_CHECK(p == lit.data + lit.len, "literal not consumed");
	FUZZ_CHECK(back.len == size && memcmp(back.data, data, size) == 0,
		   "bytes do not round-trip through %s", lit.data);
	ss_buf_free(&out);
	ss_buf_free(&lit);
	ss_buf_free(&back);
	return 0;
}
