/*
 * fuzz.h -- what every libFuzzer target in tests/fuzz/ shares: the entry
 * point's prototype, a NUL-terminated copy of the input, and FUZZ_CHECK for
 * the properties a target asserts beyond "no sanitizer report".
 *
 * A target is tests/fuzz/fuzz_NAME.c defining LLVMFuzzerTestOneInput; the
 * Makefile's fuzz block builds it with clang against the foundation sources
 * (replicator/base/), and tests/fuzz/run.sh runs it on tests/fuzz/corpus/NAME/.
 */
#ifndef SS_FUZZ_H
#define SS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken property is a crash, so that libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, ...)                                                               \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, \
				#cond);                                                     \
			fprintf(stderr, __VA_ARGS__);                                       \
			fputc('\n', stderr);                                                \
			abort();                                                            \
		}                                                                           \
	} while (0)

/* The input as a C string (cut at its first NUL, as a C caller would see
 * it); free() it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
