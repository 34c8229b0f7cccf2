/* v1model hash and checksum algorithms, computed as bmv2 computes them.
 * Input: the bytes of a field list (bits MSB first, zero-padded to a byte). */
#ifndef P4_HASH_H
#define P4_HASH_H

#include "p4_types.h"

uint64_t p4_crc16(const uint8_t *data, size_t n);
uint64_t p4_crc32(const uint8_t *data, size_t n);
uint64_t p4_csum16(const uint8_t *data, size_t n);
/* csum16 over two byte strings as if concatenated (header bits + payload). */
uint64_t p4_csum16_2(const uint8_t *a, size_t na, const uint8_t *b, size_t nb);
uint64_t p4_xor16(const uint8_t *data, size_t n);
uint64_t p4_identity(const uint8_t *data, size_t n);

#endif
