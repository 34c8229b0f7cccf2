/* Bit strings MSB first: reading fields from a packet, writing them to a buffer.
 * Every access is bounds checked by the caller's length (see p4_bits_get/put). */
#ifndef P4_BITS_H
#define P4_BITS_H

#include "p4_types.h"

/* A byte buffer filled bit by bit (deparser output, field lists for hashes). */
typedef struct {
    uint8_t *buf;
    size_t cap;    /* bytes */
    size_t nbits;  /* bits written */
    bool overflow; /* a write did not fit: the result must not be used */
} p4_bitbuf;

static inline void p4_bb_init(p4_bitbuf *b, uint8_t *buf, size_t cap)
{
    b->buf = buf;
    b->cap = cap;
    b->nbits = 0;
    b->overflow = false;
}

/* Append the low `w` bits of `v` (w <= 128). */
static inline void p4_bb_put(p4_bitbuf *b, p4_u128 v, unsigned w)
{
    if (w == 0)
        return;
    if (b->nbits + w > b->cap * 8) {
        b->overflow = true;
        return;
    }
    if (!(b->nbits & 7) && !(w & 7)) {
        size_t at = b->nbits >> 3;
        for (unsigned i = w >> 3; i > 0; i--) {
            b->buf[at++] = (uint8_t)(v >> ((i - 1) * 8));
        }
        b->nbits += w;
        return;
    }
    for (unsigned i = w; i > 0; i--) {
        unsigned bit = (unsigned)(v >> (i - 1)) & 1;
        size_t pos = b->nbits++;
        uint8_t m = (uint8_t)(0x80 >> (pos & 7));
        if (!(pos & 7))
            b->buf[pos >> 3] = 0; /* a fresh byte: no stale bits past the end */
        if (bit)
            b->buf[pos >> 3] |= m;
        else
            b->buf[pos >> 3] &= (uint8_t)~m;
    }
}

/* Append `nbits` bits taken MSB first from `src` (a varbit's bytes). */
static inline void p4_bb_put_bytes(p4_bitbuf *b, const uint8_t *src, size_t nbits)
{
    size_t i = 0;
    for (; i + 8 <= nbits; i += 8)
        p4_bb_put(b, src[i >> 3], 8);
    if (i < nbits)
        p4_bb_put(b, src[i >> 3] >> (8 - (nbits - i)), (unsigned)(nbits - i));
}

static inline size_t p4_bb_bytes(const p4_bitbuf *b)
{
    return (b->nbits + 7) >> 3;
}

/* Read `w` bits (w <= 128) at bit offset `pos` of `data`; the caller checked that
 * pos + w <= 8 * len. */
static inline p4_u128 p4_bits_get(const uint8_t *data, size_t pos, unsigned w)
{
    p4_u128 v = 0;
    if (!(pos & 7) && !(w & 7)) {
        const uint8_t *p = data + (pos >> 3);
        for (unsigned i = 0; i < (w >> 3); i++)
            v = (v << 8) | p[i];
        return v;
    }
    size_t first = pos >> 3, last = (pos + w + 7) >> 3;
    unsigned nb = (unsigned)(last - first);
    if (nb <= 16) {
        p4_u128 chunk = 0;
        for (size_t i = first; i < last; i++)
            chunk = (chunk << 8) | data[i];
        chunk >>= (last << 3) - (pos + w);
        return chunk & P4_MASK128(w);
    }
    for (unsigned i = 0; i < w; i++) {
        size_t q = pos + i;
        v = (v << 1) | ((data[q >> 3] >> (7 - (q & 7))) & 1);
    }
    return v;
}

/* Copy `nbits` bits at bit offset `pos` of `data` into `dst`, MSB first. */
static inline void p4_bits_copy(uint8_t *dst, const uint8_t *data, size_t pos, size_t nbits)
{
    size_t i = 0;
    for (; i + 8 <= nbits; i += 8)
        dst[i >> 3] = (uint8_t)p4_bits_get(data, pos + i, 8);
    if (i < nbits) {
        unsigned r = (unsigned)(nbits - i);
        dst[i >> 3] = (uint8_t)(p4_bits_get(data, pos + i, r) << (8 - r));
    }
}

#endif
