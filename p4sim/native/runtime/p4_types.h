/* Common types of the p4sim native runtime: fixed-width integers, 128-bit values. */
#ifndef P4_TYPES_H
#define P4_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 p4_u128;

#define P4_MASK64(w) ((w) >= 64 ? UINT64_MAX : ((UINT64_C(1) << (w)) - 1))
#define P4_MASK128(w) ((w) >= 128 ? ~(p4_u128)0 : (((p4_u128)1 << (w)) - 1))

/* Sign-extend the low `w` bits of `v` (1 <= w <= 64). */
static inline int64_t p4_sx64(uint64_t v, unsigned w)
{
    if (w >= 64)
        return (int64_t)v;
    uint64_t m = UINT64_C(1) << (w - 1);
    v &= P4_MASK64(w);
    return (int64_t)((v ^ m) - m);
}

#endif
