/*
 * fuzz_size.c -- ss_parse_size, behind journal_segment_size and the other
 * size keys: a value that parses fits in an int64_t.
 */
#include "fuzz.h"

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	uint64_t bytes;

	if (ss_parse_size(s, &bytes) == 0)
		FUZZ_CHECK(bytes <= (uint64_t)INT64_MAX, "\"%s\" gives %llu", s,
			   (unsigned long long)bytes);
	free(s);
	return 0;
}
