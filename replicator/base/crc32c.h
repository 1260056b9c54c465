/*
 * crc32c.h -- CRC-32C (Castagnoli), the checksum that frames journal records.
 *
 * ss_crc32c() uses the SSE4.2 crc32 instruction when the CPU has it and a
 * table-driven (slice-by-8) loop otherwise; both give the same values.
 */
#ifndef SS_CRC32C_H
#define SS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of len bytes, continuing from crc: pass 0 to start, or the value a
 * previous call returned to checksum data given in pieces.
 * ss_crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t ss_crc32c(uint32_t crc, const void *data, size_t len);

/* The same, always through the tables (tests compare the two). */
uint32_t ss_crc32c_portable(uint32_t crc, const void *data, size_t len);

#endif
