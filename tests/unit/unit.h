/*
 * unit.h -- the tiny unit-test harness every tests/unit/test_*.c uses.
 *
 * A test file defines test functions and a main() that calls UNIT_RUN for
 * each and returns UNIT_DONE().  Each check that fails prints file:line and
 * the expression; each test prints one "ok"/"not ok" line (TAP style), and
 * tests/run.sh counts those lines into the suite's summary.
 */
#ifndef SS_UNIT_H
#define SS_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failed_checks;
static int unit_passed, unit_failed;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			unit_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                    \
	do {                                                                               \
		const char *a_ = (a), *b_ = (b);                                           \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                   \
			fprintf(stderr, "  %s:%d: %s == %s: \"%s\" vs \"%s\"\n", __FILE__, \
				__LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
			unit_failed_checks++;                                              \
		}                                                                          \
	} while (0)

#define CHECK_INT(a, b)                                                                          \
	do {                                                                                     \
		long long a_ = (long long)(a), b_ = (long long)(b);                              \
		if (a_ != b_) {                                                                  \
			fprintf(stderr, "  %s:%d: %s == %s: %lld vs %lld\n", __FILE__, __LINE__, \
				#a, #b, a_, b_);                                                 \
			unit_failed_checks++;                                                    \
		}                                                                                \
	} while (0)

#define UNIT_RUN(fn)                                  \
	do {                                          \
		int before_ = unit_failed_checks;     \
		fn();                                 \
		if (unit_failed_checks == before_) {  \
			unit_passed++;                \
			printf("ok - %s\n", #fn);     \
		} else {                              \
			unit_failed++;                \
			printf("not ok - %s\n", #fn); \
		}                                     \
		fflush(stdout);                       \
	} while (0)

#define UNIT_DONE() (unit_failed ? 1 : 0)

#endif
