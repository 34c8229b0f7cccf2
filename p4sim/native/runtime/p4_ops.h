/* Arithmetic of P4 values held in 64-bit words: shifts that P4 defines for any
 * amount, saturating operations, division that yields 0 for a zero divisor. Unsigned
 * values are kept masked to their width, signed ones sign-extended. */
#ifndef P4_OPS_H
#define P4_OPS_H

#include "p4_types.h"

static inline uint64_t p4_shl_u(uint64_t a, uint64_t b, unsigned w)
{
    return b >= w ? 0 : (a << b) & P4_MASK64(w);
}

static inline int64_t p4_shl_s(int64_t a, uint64_t b, unsigned w)
{
    return b >= w ? 0 : p4_sx64((uint64_t)a << b, w);
}

static inline uint64_t p4_shr_u(uint64_t a, uint64_t b)
{
    return b >= 64 ? 0 : a >> b;
}

static inline int64_t p4_shr_s(int64_t a, uint64_t b)
{
    if (b >= 64)
        return a < 0 ? -1 : 0;
    return a >> b; /* arithmetic shift (gcc, clang) */
}

static inline p4_u128 p4_shl_u128(p4_u128 a, uint64_t b, unsigned w)
{
    return b >= w ? 0 : (a << b) & P4_MASK128(w);
}

static inline p4_u128 p4_shr_u128(p4_u128 a, uint64_t b)
{
    return b >= 128 ? 0 : a >> b;
}

static inline uint64_t p4_div_u(uint64_t a, uint64_t b) { return b ? a / b : 0; }
static inline uint64_t p4_mod_u(uint64_t a, uint64_t b) { return b ? a % b : 0; }

static inline uint64_t p4_sat_add_u(uint64_t a, uint64_t b, unsigned w)
{
    uint64_t r, m = P4_MASK64(w);
    if (__builtin_add_overflow(a, b, &r) || r > m)
        return m;
    return r;
}

static inline uint64_t p4_sat_sub_u(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static inline int64_t p4_sat_s(__int128 r, unsigned w)
{
    __int128 hi = ((__int128)1 << (w - 1)) - 1, lo = -((__int128)1 << (w - 1));
    return (int64_t)(r > hi ? hi : r < lo ? lo : r);
}

static inline int64_t p4_sat_add_s(int64_t a, int64_t b, unsigned w)
{
    return p4_sat_s((__int128)a + b, w);
}

static inline int64_t p4_sat_sub_s(int64_t a, int64_t b, unsigned w)
{
    return p4_sat_s((__int128)a - b, w);
}

/* Write the low 8*n bits of v big-endian (table keys). */
static inline void p4_put_be(uint8_t *dst, p4_u128 v, unsigned n)
{
    for (unsigned i = n; i > 0; i--) {
        dst[i - 1] = (uint8_t)v;
        v >>= 8;
    }
}

#endif
