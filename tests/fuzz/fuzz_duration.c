/*
 * fuzz_duration.c -- ss_parse_duration, behind every duration key of the
 * configuration and `--for`/`--timeout` style options: a value that parses
 * is never negative.
 */
#include "fuzz.h"

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	int64_t us;

	if (ss_parse_duration(s, &us) == 0)
		FUZZ_CHECK(us >= 0, "\"%s\" gives %lld", s, (long long)us);
	free(s);
	return 0;
}
