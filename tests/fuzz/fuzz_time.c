/*
 * fuzz_time.c -- ss_parse_time (the TIME of `replay --from`, timestamps with
 * time zone from capture) and ss_format_time.  A time that parses formats
 * and, when the instant lies in years 0000-9999 (what `journal dump` can
 * print), parses back to the same instant; the same text normalised as a
 * timestamptz value either fails with a message or gives "... +00".
 */
#include "fuzz.h"

#include "change.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	int64_t us, back;
	char iso[64];
	struct ss_buf norm;
	struct ss_err err;

	if (ss_parse_time(s, &us) == 0) {
		ss_format_time(us, iso, sizeof iso);
		if (iso[0] >= '0' && iso[0] <= '9' && iso[4] == '-') {
			FUZZ_CHECK(ss_parse_time(iso, &back) == 0,
				   "\"%s\" formats as unparsable \"%s\"", s, iso);
			FUZZ_CHECK(back == us, "\"%s\" -> %lld -> \"%s\" -> %lld", s, (long long)us,
				   iso, (long long)back);
		}
	}
	ss_buf_init(&norm);
	memset(&err, 0, sizeof err);
	if (ss_value_normalize(SS_V_TIMESTAMPTZ, (const char *)data, size, &norm, &err) < 0)
		FUZZ_CHECK(err.msg[0], "normalize failed without a message");
	ss_buf_free(&norm);
	/* any instant formats without overflow */
	if (size >= 8) {
		int64_t v;
		memcpy(&v, data, 8);
		ss_format_time(v, iso, sizeof iso);
		FUZZ_CHECK(strlen(iso) < sizeof iso, "format overflow");
	}
	free(s);
	return 0;
}
