/* What generated programs share: the packet cursor, the per-packet context with its
 * side effects, and non-local exits (exit, parser errors, drops, faults).
 *
 * A stage that catches signals pushes a p4_catch; p4_throw jumps to the innermost
 * one, which handles the signal or throws it on (see the generated pipeline). */
#ifndef P4_PIPE_H
#define P4_PIPE_H

#include <setjmp.h>
#include <string.h>

#include "p4_bits.h"
#include "p4_hash.h"
#include "p4_ops.h"
#include "p4_table.h"

#define P4_SIG_EXIT 1   /* `exit`: ends the top-level control */
#define P4_SIG_REJECT 2 /* a parser error: ends the parser, code in ctx->code */
#define P4_SIG_DROP 3   /* a failed assert/assume or a missing object: a counted drop */
#define P4_SIG_FAULT 4  /* a packet the program cannot process: a counted fault */

#define P4_MAX_OUT 256    /* packets sent for one received packet */
#define P4_MAX_DIGESTS 64 /* digests of one received packet */

/* What one received packet produced: packets to send and digests. */
typedef struct {
    uint32_t port, off, len;
} p4_out;

typedef struct {
    uint32_t nout;
    p4_out out[P4_MAX_OUT];
    uint8_t *buf;
    uint32_t cap, used;
    uint32_t ndigest;
    uint32_t digest_site[P4_MAX_DIGESTS];
    uint64_t digest_vals[P4_MAX_DIGESTS][64];
    uint64_t faults, dropped;
} p4_result;

struct p4_dev;
/* Defined by every generated program. */
void p4_process(struct p4_dev *dev, uint64_t now_ns, uint32_t port, const uint8_t *data,
                uint32_t len);
p4_result *p4_dev_result(struct p4_dev *dev);

#define P4_FL_NONE INT32_MIN /* no field list: the side effect was not asked for */
#define P4_SCRATCH 16384

/* The parser's view of the packet. */
typedef struct {
    const uint8_t *data;
    uint64_t pos;   /* bits */
    uint64_t nbits;
} p4_pkt;

typedef struct {
    bool hit;
    uint64_t action_run;
} p4_apply_t;

typedef struct p4_catch {
    jmp_buf jb;
    struct p4_catch *prev;
} p4_catch;

struct p4_dev;

typedef struct p4_ctx {
    struct p4_dev *dev;
    p4_catch *catcher;
    int sig;
    int32_t code;
    uint64_t nbytes;
    uint64_t now_ns;
    bool clone_set;
    uint32_t clone_session;
    int32_t clone_fl, resubmit_fl, recirculate_fl;
    int64_t truncate; /* bytes to keep, -1: no truncate() */
    uint64_t checksum_error;
    const uint8_t *payload;
    uint32_t payload_len;
    void *sm; /* standard_metadata of the stage (mark_to_drop without argument) */
    bool dm_hit;          /* the last table applied with a direct meter hit */
    uint64_t dm_color;    /* and its meter's colour */
    uint32_t digest_site; /* 0: none, else 1 + the digest call site */
    uint64_t digest_vals[64];
    uint64_t rng;
    uint8_t scratch[P4_SCRATCH];
} p4_ctx;

__attribute__((noreturn)) static inline void p4_throw(p4_ctx *ctx, int sig)
{
    ctx->sig = sig;
    longjmp(ctx->catcher->jb, 1);
}

__attribute__((noreturn)) static inline void p4_reject(p4_ctx *ctx, int32_t code)
{
    ctx->code = code;
    p4_throw(ctx, P4_SIG_REJECT);
}

static inline uint64_t p4_random(p4_ctx *ctx)
{
    /* xorshift64*: random() and HashAlgorithm.random are not reproducible across
     * back ends, only uniform. */
    uint64_t x = ctx->rng ? ctx->rng : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ctx->rng = x;
    return (x * 0x2545F4914F6CDD1Dull) >> 32;
}

/* Hash algorithm `algo` (see cextern.ALGORITHMS) over a || b. */
static inline uint64_t p4_hash_run(p4_ctx *ctx, int algo, const uint8_t *a, size_t na,
                                   const uint8_t *b, size_t nb)
{
    if (algo == 4)
        return p4_csum16_2(a, na, b, nb);
    if (nb) {
        if (na + nb > P4_SCRATCH)
            p4_throw(ctx, P4_SIG_FAULT);
        memcpy(ctx->scratch, a, na);
        memcpy(ctx->scratch + na, b, nb);
        a = ctx->scratch;
        na += nb;
    }
    switch (algo) {
    case 0:
        return p4_crc32(a, na);
    case 1:
        return p4_crc16(a, na);
    case 2:
        return p4_random(ctx);
    case 3:
        return p4_identity(a, na);
    case 5:
        return p4_xor16(a, na);
    default:
        p4_throw(ctx, P4_SIG_FAULT);
    }
}

#endif
