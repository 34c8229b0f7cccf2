/* Match-action tables: sorted scan for masked/range keys, open addressing for exact. */
#include "p4_table.h"

#include <stdlib.h>
#include <string.h>

struct p4t_table {
    uint32_t nfields;
    uint32_t field_off[P4T_MAX_FIELDS];
    uint32_t field_len[P4T_MAX_FIELDS];
    uint8_t field_range[P4T_MAX_FIELDS];
    bool has_range;
    uint32_t keylen;
    p4t_entry *entries;
    uint32_t n, cap;
    uint8_t *pool; /* per entry: value, mask, lo, hi (keylen bytes each) */
    size_t pool_used, pool_cap;
    bool all_exact; /* every entry has a full mask and no range: hashed */
    uint32_t *slots; /* exact index: entry index + 1, 0 empty */
    uint32_t nslots;
    p4t_entry deflt;
    uint64_t hits; /* since the last p4t_take_stats */
};

static uint64_t key_hash(const uint8_t *k, uint32_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

p4t_table *p4t_new(uint32_t nfields, const uint32_t *field_bytes, const uint8_t *field_is_range)
{
    if (nfields > P4T_MAX_FIELDS)
        return NULL;
    p4t_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->nfields = nfields;
    for (uint32_t i = 0; i < nfields; i++) {
        t->field_off[i] = t->keylen;
        t->field_len[i] = field_bytes[i];
        t->field_range[i] = field_is_range[i];
        t->has_range |= field_is_range[i] != 0;
        t->keylen += field_bytes[i];
    }
    t->all_exact = true;
    return t;
}

void p4t_free(p4t_table *t)
{
    if (!t)
        return;
    free(t->entries);
    free(t->pool);
    free(t->slots);
    free(t);
}

void p4t_clear(p4t_table *t)
{
    t->n = 0;
    t->hits = 0;
    t->pool_used = 0;
    t->all_exact = true;
    if (t->slots)
        memset(t->slots, 0, t->nslots * sizeof *t->slots);
}

uint32_t p4t_key_bytes(const p4t_table *t) { return t->keylen; }
uint32_t p4t_size(const p4t_table *t) { return t->n; }
const p4t_entry *p4t_default(const p4t_table *t) { return &t->deflt; }

static const uint8_t *ekey(const p4t_table *t, const p4t_entry *e, int which)
{
    return t->pool + e->key_at + (size_t)which * t->keylen;
}

static int reindex(p4t_table *t)
{
    uint32_t want = 16;
    while (want < t->n * 2 + 2)
        want <<= 1;
    if (want != t->nslots) {
        uint32_t *s = realloc(t->slots, want * sizeof *s);
        if (!s)
            return -1;
        t->slots = s;
        t->nslots = want;
    }
    memset(t->slots, 0, t->nslots * sizeof *t->slots);
    for (uint32_t i = 0; i < t->n; i++) {
        const uint8_t *v = ekey(t, &t->entries[i], 0);
        uint32_t s = (uint32_t)key_hash(v, t->keylen) & (t->nslots - 1);
        while (t->slots[s]) {
            /* the same key twice: the first (higher ranked) entry stays */
            if (!memcmp(ekey(t, &t->entries[t->slots[s] - 1], 0), v, t->keylen))
                goto next;
            s = (s + 1) & (t->nslots - 1);
        }
        t->slots[s] = i + 1;
    next:;
    }
    return 0;
}

/* Index entry `i` (its key not yet indexed); a key already there (ranked higher) stays. */
static void hash_put(p4t_table *t, uint32_t i)
{
    const uint8_t *v = ekey(t, &t->entries[i], 0);
    uint32_t s = (uint32_t)key_hash(v, t->keylen) & (t->nslots - 1);
    while (t->slots[s]) {
        if (!memcmp(ekey(t, &t->entries[t->slots[s] - 1], 0), v, t->keylen))
            return;
        s = (s + 1) & (t->nslots - 1);
    }
    t->slots[s] = i + 1;
}

/* The index slot holding the entry whose (full-mask) key is `value`, or -1. */
static int64_t hash_find(const p4t_table *t, const uint8_t *value)
{
    if (!t->nslots)
        return -1;
    uint32_t s = (uint32_t)key_hash(value, t->keylen) & (t->nslots - 1);
    while (t->slots[s]) {
        if (!memcmp(ekey(t, &t->entries[t->slots[s] - 1], 0), value, t->keylen))
            return s;
        s = (s + 1) & (t->nslots - 1);
    }
    return -1;
}

/* Empty slot `s` of the open-addressed index and move later members of its run back
 * into the gap where their probe sequence allows (no tombstones). */
static void hash_remove_slot(p4t_table *t, uint32_t s)
{
    uint32_t mask = t->nslots - 1, gap = s, j = s;
    t->slots[gap] = 0;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->slots[j])
            return;
        const uint8_t *v = ekey(t, &t->entries[t->slots[j] - 1], 0);
        uint32_t home = (uint32_t)key_hash(v, t->keylen) & mask;
        /* movable when its home does not lie cyclically in (gap, j] */
        bool stays = gap <= j ? (gap < home && home <= j) : (gap < home || home <= j);
        if (!stays) {
            t->slots[gap] = t->slots[j];
            t->slots[j] = 0;
            gap = j;
        }
    }
}

/* Copy every entry's key bytes to the front of a fresh pool (deletes leave holes). */
static int compact_pool(p4t_table *t)
{
    size_t need = (size_t)4 * t->keylen;
    size_t cap = 1024;
    while (cap < (size_t)t->n * need)
        cap *= 2;
    uint8_t *np = malloc(cap);
    if (!np)
        return -1;
    for (uint32_t i = 0; i < t->n; i++) {
        memcpy(np + (size_t)i * need, t->pool + t->entries[i].key_at, need);
        t->entries[i].key_at = (uint32_t)((size_t)i * need);
    }
    free(t->pool);
    t->pool = np;
    t->pool_cap = cap;
    t->pool_used = (size_t)t->n * need;
    return 0;
}

int p4t_delete_exact(p4t_table *t, const uint8_t *value)
{
    if (!t->all_exact)
        return -1;
    int64_t s = hash_find(t, value);
    if (s < 0)
        return -1;
    uint32_t i = t->slots[s] - 1, last = t->n - 1;
    hash_remove_slot(t, (uint32_t)s);
    if (i != last) {
        /* the last entry fills the hole: point its slot at its new place (exact-only
         * tables have equal ranks, so the order does not change what matches) */
        int64_t ls = hash_find(t, ekey(t, &t->entries[last], 0));
        t->entries[i] = t->entries[last];
        if (ls >= 0)
            t->slots[ls] = i + 1;
    }
    t->n--;
    if (t->pool_used > 4096 && t->pool_used > (size_t)8 * t->n * t->keylen * 2)
        return compact_pool(t);
    return 0;
}

int p4t_modify_exact(p4t_table *t, const uint8_t *value, uint32_t action_id, uint32_t nargs,
                     const uint64_t *args)
{
    if (!t->all_exact || nargs > P4T_MAX_ARGS)
        return -1;
    int64_t s = hash_find(t, value);
    if (s < 0)
        return -1;
    p4t_entry *e = &t->entries[t->slots[s] - 1];
    e->action_id = action_id;
    e->nargs = nargs;
    memset(e->args, 0, sizeof e->args);
    if (nargs)
        memcpy(e->args, args, nargs * sizeof *args);
    return 0;
}

int p4t_add(p4t_table *t, const uint8_t *value, const uint8_t *mask, const uint8_t *lo,
            const uint8_t *hi, int32_t rank, uint32_t handle, uint32_t action_id,
            uint32_t nargs, const uint64_t *args)
{
    if (nargs > P4T_MAX_ARGS)
        return -1;
    if (t->n == t->cap) {
        uint32_t nc = t->cap ? t->cap * 2 : 16;
        p4t_entry *ne = realloc(t->entries, nc * sizeof *ne);
        if (!ne)
            return -1;
        t->entries = ne;
        t->cap = nc;
    }
    size_t need = (size_t)4 * t->keylen;
    if (t->pool_used + need > t->pool_cap) {
        size_t nc = t->pool_cap ? t->pool_cap * 2 : 1024;
        while (nc < t->pool_used + need)
            nc *= 2;
        uint8_t *np = realloc(t->pool, nc);
        if (!np)
            return -1;
        t->pool = np;
        t->pool_cap = nc;
    }
    p4t_entry e;
    memset(&e, 0, sizeof e);
    e.action_id = action_id;
    e.nargs = nargs;
    if (nargs)
        memcpy(e.args, args, nargs * sizeof *args);
    e.rank = rank;
    e.handle = handle;
    e.key_at = (uint32_t)t->pool_used;
    uint8_t *k = t->pool + t->pool_used;
    t->pool_used += need;
    for (uint32_t i = 0; i < t->keylen; i++) {
        k[i] = value[i] & mask[i];
        k[t->keylen + i] = mask[i];
        k[2 * t->keylen + i] = lo ? lo[i] : 0;
        k[3 * t->keylen + i] = hi ? hi[i] : 0;
        if (mask[i] != 0xFF)
            t->all_exact = false;
    }
    for (uint32_t f = 0; f < t->nfields; f++)
        if (t->field_range[f]) {
            t->all_exact = false;
            /* a range field matches through lo/hi only */
            memset(k + t->field_off[f], 0, t->field_len[f]);
            memset(k + t->keylen + t->field_off[f], 0, t->field_len[f]);
        }
    /* sorted by rank, highest first; equal ranks keep insertion order */
    uint32_t at = t->n;
    while (at > 0 && t->entries[at - 1].rank < rank) {
        t->entries[at] = t->entries[at - 1];
        at--;
    }
    t->entries[at] = e;
    t->n++;
    if (!t->all_exact)
        return 0;
    /* Appended (equal ranks: every exact-only table) into an index with room: one slot.
     * Otherwise (an entry moved, the index too small) the index is built anew, at most
     * once per doubling of the table. */
    if (at != t->n - 1 || t->nslots < t->n * 2 + 2)
        return reindex(t);
    hash_put(t, at);
    return 0;
}

void p4t_set_default(p4t_table *t, uint32_t action_id, uint32_t nargs, const uint64_t *args)
{
    if (nargs > P4T_MAX_ARGS)
        nargs = P4T_MAX_ARGS;
    t->deflt.action_id = action_id;
    t->deflt.nargs = nargs;
    memset(t->deflt.args, 0, sizeof t->deflt.args);
    if (nargs)
        memcpy(t->deflt.args, args, nargs * sizeof *args);
}

static bool matches(const p4t_table *t, const p4t_entry *e, const uint8_t *key)
{
    const uint8_t *v = ekey(t, e, 0), *m = ekey(t, e, 1);
    for (uint32_t i = 0; i < t->keylen; i++)
        if ((key[i] & m[i]) != v[i])
            return false;
    if (t->has_range) {
        const uint8_t *lo = ekey(t, e, 2), *hi = ekey(t, e, 3);
        for (uint32_t f = 0; f < t->nfields; f++) {
            if (!t->field_range[f])
                continue;
            uint32_t off = t->field_off[f], len = t->field_len[f];
            if (memcmp(key + off, lo + off, len) < 0 || memcmp(key + off, hi + off, len) > 0)
                return false;
        }
    }
    return true;
}

p4t_entry *p4t_lookup(p4t_table *t, const uint8_t *key, uint64_t nbytes, uint64_t now_ns)
{
    p4t_entry *hit = NULL;
    if (t->n == 0)
        return NULL;
    if (t->all_exact) {
        uint32_t s = (uint32_t)key_hash(key, t->keylen) & (t->nslots - 1);
        while (t->slots[s]) {
            p4t_entry *e = &t->entries[t->slots[s] - 1];
            if (!memcmp(ekey(t, e, 0), key, t->keylen)) {
                hit = e;
                break;
            }
            s = (s + 1) & (t->nslots - 1);
        }
    } else {
        for (uint32_t i = 0; i < t->n; i++)
            if (matches(t, &t->entries[i], key)) {
                hit = &t->entries[i];
                break;
            }
    }
    if (hit) {
        t->hits++;
        hit->packets++;
        hit->bytes += nbytes;
        hit->last_hit_ns = now_ns;
    }
    return hit;
}

uint32_t p4t_take_stats(p4t_table *t, uint32_t *handles, uint64_t *packets, uint64_t *bytes,
                        uint64_t *last_hit_ns, uint32_t max)
{
    if (!t->hits)
        return 0;
    t->hits = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->n && n < max; i++) {
        p4t_entry *e = &t->entries[i];
        if (!e->packets)
            continue;
        handles[n] = e->handle;
        packets[n] = e->packets;
        bytes[n] = e->bytes;
        last_hit_ns[n] = e->last_hit_ns;
        e->packets = 0;
        e->bytes = 0;
        n++;
    }
    return n;
}
