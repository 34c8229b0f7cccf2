/* v1model hashes: CRC-16/ARC, CRC-32 (IEEE), Internet checksum, xor16, identity. */
#include "p4_hash.h"

static uint16_t crc16_table[256];
static uint32_t crc32_table[256];
static int tables_ready;

static uint32_t reflect(uint32_t v, unsigned nbits)
{
    uint32_t out = 0;
    for (unsigned i = 0; i < nbits; i++) {
        out = (out << 1) | (v & 1);
        v >>= 1;
    }
    return out;
}

static void make_tables(void)
{
    uint32_t p16 = reflect(0x8005, 16), p32 = reflect(0x04C11DB7u, 32);
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c16 = b, c32 = b;
        for (int i = 0; i < 8; i++) {
            c16 = (c16 & 1) ? (c16 >> 1) ^ p16 : c16 >> 1;
            c32 = (c32 & 1) ? (c32 >> 1) ^ p32 : c32 >> 1;
        }
        crc16_table[b] = (uint16_t)c16;
        crc32_table[b] = c32;
    }
    tables_ready = 1;
}

uint64_t p4_crc16(const uint8_t *data, size_t n)
{
    if (!tables_ready)
        make_tables();
    uint32_t crc = 0;
    for (size_t i = 0; i < n; i++)
        crc = (crc >> 8) ^ crc16_table[(crc ^ data[i]) & 0xFF];
    return crc & 0xFFFF;
}

uint64_t p4_crc32(const uint8_t *data, size_t n)
{
    if (!tables_ready)
        make_tables();
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        crc = (crc >> 8) ^ crc32_table[(crc ^ data[i]) & 0xFF];
    return crc ^ 0xFFFFFFFFu;
}

/* Sum of 16-bit big-endian words; `odd` says a byte is pending from `a`. */
static uint64_t sum_words(uint64_t sum, const uint8_t *d, size_t n, int *odd, uint8_t *pend)
{
    size_t i = 0;
    if (*odd && n) {
        sum += ((uint64_t)*pend << 8) | d[0];
        *odd = 0;
        i = 1;
    }
    for (; i + 1 < n; i += 2)
        sum += ((uint64_t)d[i] << 8) | d[i + 1];
    if (i < n) {
        *odd = 1;
        *pend = d[i];
    }
    return sum;
}

uint64_t p4_csum16_2(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    uint64_t sum = 0;
    int odd = 0;
    uint8_t pend = 0;
    sum = sum_words(sum, a, na, &odd, &pend);
    sum = sum_words(sum, b, nb, &odd, &pend);
    if (odd)
        sum += (uint64_t)pend << 8;
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (~sum) & 0xFFFF;
}

uint64_t p4_csum16(const uint8_t *data, size_t n)
{
    return p4_csum16_2(data, n, data, 0);
}

uint64_t p4_xor16(const uint8_t *data, size_t n)
{
    uint64_t out = 0;
    for (size_t i = 0; i < n; i += 2)
        out ^= ((uint64_t)data[i] << 8) | (i + 1 < n ? data[i + 1] : 0);
    return out;
}

uint64_t p4_identity(const uint8_t *data, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < 8; i++)
        v = (v << 8) | data[i];
    return v;
}
