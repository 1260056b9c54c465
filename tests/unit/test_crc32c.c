/*
 * test_crc32c.c -- CRC-32C: the standard check value, the hardware and the
 * table paths agreeing at every length and alignment, and checksumming in
 * pieces giving the same value as in one go.
 */
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>

#include "crc32c.h"

static void test_check_value(void)
{
	CHECK_INT(ss_crc32c(0, "123456789", 9), 0xE3069283u);
	CHECK_INT(ss_crc32c_portable(0, "123456789", 9), 0xE3069283u);
	CHECK_INT(ss_crc32c(0, "", 0), 0);
	/* 32 bytes of zeros, from RFC 3720 (iSCSI) B.4 */
	uint8_t z[32] = {0};
	CHECK_INT(ss_crc32c(0, z, sizeof z), 0x8A9136AAu);
}

static void test_paths_agree(void)
{
	uint8_t buf[1100];
	uint32_t seed = 12345;

	for (size_t i = 0; i < sizeof buf; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len + off <= sizeof buf; len += (len < 40 ? 1 : 37))
			CHECK_INT(ss_crc32c(0, buf + off, len),
				  ss_crc32c_portable(0, buf + off, len));
}

static void test_pieces(void)
{
	const char *s = "The quick brown fox jumps over the lazy dog, twice over.";
	size_t n = strlen(s);
	uint32_t whole = ss_crc32c(0, s, n);

	for (size_t cut = 0; cut <= n; cut++) {
		CHECK_INT(ss_crc32c(ss_crc32c(0, s, cut), s + cut, n - cut), whole);
		CHECK_INT(ss_crc32c_portable(ss_crc32c_portable(0, s, cut), s + cut, n - cut),
			  whole);
	}
}

int main(void)
{
	UNIT_RUN(test_check_value);
	UNIT_RUN(test_paths_agree);
	UNIT_RUN(test_pieces);
	return UNIT_DONE();
}
