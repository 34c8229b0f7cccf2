/* Unit tests of the native runtime: tables, hashes, bit strings, arithmetic.
 * Built and run by tests/p4sim/test_native_runtime.py; prints one line per failed
 * check and a closing "N passed, N failed" line; exits non-zero on any failure. */
#include <stdio.h>
#include <string.h>

#include "../p4_bits.h"
#include "../p4_hash.h"
#include "../p4_ops.h"
#include "../p4_table.h"

static int passed, failed;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (cond) {                                                        \
            passed++;                                                      \
        } else {                                                           \
            failed++;                                                      \
            printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
        }                                                                  \
    } while (0)

static const uint8_t CHECK_STR[] = "123456789";

static void test_hashes(void)
{
    CHECK(p4_crc16(CHECK_STR, 9) == 0xBB3D);
    CHECK(p4_crc32(CHECK_STR, 9) == 0xCBF43926u);
    CHECK(p4_csum16(CHECK_STR, 9) == 0xF62A);
    CHECK(p4_xor16(CHECK_STR, 9) == 0x3908);
    CHECK(p4_identity((const uint8_t *)"\x01\x02\x03", 3) == 0x010203);
    uint8_t ten[10];
    for (int i = 0; i < 10; i++)
        ten[i] = (uint8_t)(i + 1);
    CHECK(p4_identity(ten, 10) == 0x0102030405060708ull);
    static const uint8_t ipv4[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                   0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    CHECK(p4_csum16(ipv4, sizeof ipv4) == 0xB861);
    /* split anywhere, odd lengths included: the same sum as one string */
    for (size_t cut = 0; cut <= 9; cut++)
        CHECK(p4_csum16_2(CHECK_STR, cut, CHECK_STR + cut, 9 - cut) == 0xF62A);
    CHECK(p4_csum16(NULL, 0) == 0xFFFF);
    static const uint8_t ones[] = {0xFF, 0xFF, 0xFF, 0xFF};
    CHECK(p4_csum16(ones, 4) == 0x0000);
}

static void test_bits(void)
{
    uint8_t buf[8];
    p4_bitbuf b;
    memset(buf, 0xAA, sizeof buf);
    p4_bb_init(&b, buf, sizeof buf);
    p4_bb_put(&b, 0x5, 3);   /* 101 */
    p4_bb_put(&b, 0x1, 1);   /* 1 */
    p4_bb_put(&b, 0xAB, 8);  /* 1010 1011 */
    CHECK(b.nbits == 12);
    CHECK(p4_bb_bytes(&b) == 2);
    CHECK(buf[0] == 0xBA && buf[1] == 0xB0); /* stale bits past the end are zero */
    CHECK(p4_bits_get(buf, 0, 3) == 5);
    CHECK(p4_bits_get(buf, 4, 8) == 0xAB);
    p4_bb_put(&b, 0xFFFFFFFFFFFFFFull, 56); /* 68 bits do not fit in 8 bytes */
    CHECK(b.overflow);
    uint8_t wide[17];
    for (int i = 0; i < 17; i++)
        wide[i] = (uint8_t)(0x11 * (i + 1));
    p4_u128 v = p4_bits_get(wide, 4, 128);
    CHECK((uint64_t)(v >> 64) == 0x1223344556677889ull);
    uint8_t dst[3] = {0xFF, 0xFF, 0xFF};
    p4_bits_copy(dst, wide, 4, 20);
    CHECK(dst[0] == 0x12 && dst[1] == 0x23 && dst[2] == 0x30);
}

static void test_ops(void)
{
    CHECK(p4_shl_u(1, 8, 8) == 0);
    CHECK(p4_shl_u(0x81, 1, 8) == 0x02);
    CHECK(p4_shl_u(1, 200, 64) == 0);
    CHECK(p4_shr_u(0x80, 64) == 0);
    CHECK(p4_shr_s(-8, 1) == -4);
    CHECK(p4_shr_s(-8, 100) == -1);
    CHECK(p4_shl_s(1, 7, 8) == -128);
    CHECK(p4_sx64(0xFF, 8) == -1);
    CHECK(p4_sx64(0x7F, 8) == 127);
    CHECK(p4_div_u(7, 0) == 0 && p4_mod_u(7, 0) == 0 && p4_div_u(7, 2) == 3);
    CHECK(p4_sat_add_u(250, 10, 8) == 255);
    CHECK(p4_sat_add_u(UINT64_MAX, 1, 64) == UINT64_MAX);
    CHECK(p4_sat_sub_u(3, 5) == 0);
    CHECK(p4_sat_add_s(120, 10, 8) == 127);
    CHECK(p4_sat_sub_s(-120, 10, 8) == -128);
    CHECK(p4_sat_add_s(INT64_MAX, 1, 64) == INT64_MAX);
    uint8_t k[3];
    p4_put_be(k, 0x0A0B0C, 3);
    CHECK(k[0] == 0x0A && k[1] == 0x0B && k[2] == 0x0C);
}

static void add(p4t_table *t, uint32_t v, uint32_t m, int32_t rank, uint32_t handle, uint32_t aid,
                uint64_t arg)
{
    uint8_t value[4], mask[4];
    p4_put_be(value, v, 4);
    p4_put_be(mask, m, 4);
    CHECK(p4t_add(t, value, mask, NULL, NULL, rank, handle, aid, 1, &arg) == 0);
}

static const p4t_entry *look(p4t_table *t, uint32_t key)
{
    uint8_t k[4];
    p4_put_be(k, key, 4);
    return p4t_lookup(t, k, 100, 7);
}

static void test_tables(void)
{
    uint32_t f4[] = {4};
    uint8_t no_range[] = {0};
    /* exact: hashed; a miss; the default action */
    p4t_table *ex = p4t_new(1, f4, no_range);
    CHECK(ex && p4t_key_bytes(ex) == 4);
    for (uint32_t i = 0; i < 1000; i++)
        add(ex, i * 7919, 0xFFFFFFFF, 0, i, 1, i);
    CHECK(p4t_size(ex) == 1000);
    const p4t_entry *e = look(ex, 500 * 7919);
    CHECK(e && e->handle == 500 && e->args[0] == 500);
    CHECK(look(ex, 3) == NULL);
    uint64_t dargs[2] = {9, 8};
    p4t_set_default(ex, 42, 2, dargs);
    CHECK(p4t_default(ex)->action_id == 42 && p4t_default(ex)->args[1] == 8);
    /* hit statistics: taken once, then reset */
    uint32_t handles[1000];
    uint64_t pk[1000], by[1000], last[1000];
    uint32_t n = p4t_take_stats(ex, handles, pk, by, last, 1000);
    CHECK(n == 1); /* only the entries that were hit */
    uint64_t hits = 0;
    for (uint32_t i = 0; i < n; i++)
        if (pk[i]) {
            hits += pk[i];
            CHECK(handles[i] == 500 && by[i] == 100 && last[i] == 7);
        }
    CHECK(hits == 1);
    CHECK(p4t_take_stats(ex, handles, pk, by, last, 1000) == 0); /* no hits since */
    p4t_clear(ex);
    CHECK(p4t_size(ex) == 0 && look(ex, 500 * 7919) == NULL);
    p4t_free(ex);

    /* LPM: the longest prefix (rank = prefix length) wins, whatever the order */
    p4t_table *lpm = p4t_new(1, f4, no_range);
    add(lpm, 0x0A000000, 0xFF000000, 8, 1, 1, 0);
    add(lpm, 0x0A010100, 0xFFFFFF00, 24, 3, 1, 0);
    add(lpm, 0x0A010000, 0xFFFF0000, 16, 2, 1, 0);
    CHECK(look(lpm, 0x0A010105)->handle == 3);
    CHECK(look(lpm, 0x0A010205)->handle == 2);
    CHECK(look(lpm, 0x0A020205)->handle == 1);
    CHECK(look(lpm, 0x0B000000) == NULL);
    p4t_free(lpm);

    /* ternary: the highest priority wins; equal priorities keep insertion order */
    p4t_table *tern = p4t_new(1, f4, no_range);
    add(tern, 0x00000001, 0x000000FF, 5, 1, 1, 0);
    add(tern, 0x00000000, 0x00000000, 1, 2, 1, 0); /* matches everything */
    add(tern, 0x00000101, 0x0000FFFF, 9, 3, 1, 0);
    add(tern, 0x00000001, 0x0000000F, 5, 4, 1, 0);
    CHECK(look(tern, 0x0101)->handle == 3);
    CHECK(look(tern, 0x0201)->handle == 1);
    CHECK(look(tern, 0x0211)->handle == 4);
    CHECK(look(tern, 0x0212)->handle == 2);
    p4t_free(tern);

    /* range (with an exact field beside it) */
    uint32_t f22[] = {2, 2};
    uint8_t r01[] = {0, 1};
    p4t_table *rng = p4t_new(2, f22, r01);
    uint8_t v[4] = {0x00, 0x06, 0, 0}, m[4] = {0xFF, 0xFF, 0, 0};
    uint8_t lo[4] = {0, 0, 0x00, 0x50}, hi[4] = {0, 0, 0x00, 0x60};
    uint64_t a0 = 0;
    CHECK(p4t_add(rng, v, m, lo, hi, 3, 1, 5, 1, &a0) == 0);
    uint8_t lo2[4] = {0, 0, 0x00, 0x00}, hi2[4] = {0, 0, 0xFF, 0xFF};
    CHECK(p4t_add(rng, v, m, lo2, hi2, 1, 2, 5, 1, &a0) == 0);
    uint8_t key[4] = {0x00, 0x06, 0x00, 0x55};
    CHECK(p4t_lookup(rng, key, 1, 1)->handle == 1);
    key[3] = 0x61;
    CHECK(p4t_lookup(rng, key, 1, 1)->handle == 2);
    key[1] = 0x11;
    CHECK(p4t_lookup(rng, key, 1, 1) == NULL);
    p4t_free(rng);

    /* bad arguments */
    uint32_t many[P4T_MAX_FIELDS + 1] = {0};
    uint8_t r[P4T_MAX_FIELDS + 1] = {0};
    CHECK(p4t_new(P4T_MAX_FIELDS + 1, many, r) == NULL);
    p4t_table *t = p4t_new(1, f4, no_range);
    uint64_t args[P4T_MAX_ARGS + 1] = {0};
    uint8_t z[4] = {0};
    CHECK(p4t_add(t, z, z, NULL, NULL, 0, 0, 1, P4T_MAX_ARGS + 1, args) == -1);
    p4t_free(t);
}

/* Exact tables under churn: random adds, deletes and modifies (keys that collide in the
 * index among them, the index growing and the key pool compacted), checked against a
 * plain array of what should be there. */
static void test_exact_churn(void)
{
    enum { KEYS = 5000, STEPS = 60000 };
    static int64_t want[KEYS]; /* -1: absent, else the action argument */
    uint32_t f4[] = {4};
    uint8_t no_range[] = {0};
    p4t_table *t = p4t_new(1, f4, no_range);
    uint32_t rng = 12345, live = 0, bad = 0, peak = 0;
    for (uint32_t k = 0; k < KEYS; k++)
        want[k] = -1;
    for (uint32_t step = 0; step < STEPS; step++) {
        rng = rng * 1103515245u + 12345u;
        uint32_t k = (rng >> 8) % KEYS, op = (rng >> 4) % 8;
        uint8_t key[4];
        p4_put_be(key, k * 64, 4); /* keys 64 apart: many share probe runs */
        uint64_t arg = step;
        if (want[k] < 0 && op < 5) {
            bad += p4t_add(t, key, (const uint8_t *)"\xff\xff\xff\xff", NULL, NULL, 0, k, 1,
                           1, &arg) != 0;
            want[k] = (int64_t)arg;
            live++;
        } else if (want[k] >= 0 && op < 5) {
            bad += p4t_delete_exact(t, key) != 0;
            want[k] = -1;
            live--;
        } else if (want[k] >= 0) {
            bad += p4t_modify_exact(t, key, 2, 1, &arg) != 0;
            want[k] = (int64_t)arg;
        } else {
            bad += p4t_delete_exact(t, key) != -1; /* absent: refused */
        }
        peak = live > peak ? live : peak;
        if (step % 997 == 0 || step == STEPS - 1) {
            for (uint32_t j = 0; j < KEYS; j++) {
                const p4t_entry *e = look(t, j * 64);
                if (want[j] < 0 ? e != NULL : !e || e->handle != j || e->args[0] != (uint64_t)want[j])
                    bad++;
            }
            bad += p4t_size(t) != live;
        }
    }
    CHECK(bad == 0);
    CHECK(peak > KEYS / 2);
    p4t_free(t);
}

int main(void)
{
    test_hashes();
    test_bits();
    test_ops();
    test_tables();
    test_exact_churn();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
