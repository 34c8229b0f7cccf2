/* Match-action tables of the native runtime.
 *
 * A key is a byte string: each match field big-endian in (bitwidth + 7) / 8 bytes, in
 * P4Info order. An entry matches when, for every field, (key & mask) == value (exact,
 * LPM, ternary, optional; a don't-care field has a zero mask), or lo <= key <= hi
 * (range fields, compared as big-endian numbers). Entries are kept sorted by rank
 * (priority, or prefix length for LPM tables without priorities), highest first, ties
 * in insertion order: the first match wins. All-exact tables are hashed, and entries
 * are added to and taken out of them in constant time (amortised).
 *
 * Entries are added on the control path (which may allocate); lookups never allocate.
 * Each entry counts its hits (direct counter) and the time of its last hit (idle
 * timeout); the control path reads and resets those counts with p4t_entry_stats. */
#ifndef P4_TABLE_H
#define P4_TABLE_H

#include "p4_types.h"

#define P4T_MAX_ARGS 32
#define P4T_MAX_FIELDS 32

typedef struct {
    uint32_t action_id;
    uint32_t nargs;
    uint64_t args[P4T_MAX_ARGS];
    int32_t rank;
    uint32_t handle; /* the control plane's name for the entry */
    uint64_t packets, bytes, last_hit_ns;
    uint32_t key_at; /* offset of value/mask/lo/hi in the table's key pool */
} p4t_entry;

typedef struct p4t_table p4t_table;

p4t_table *p4t_new(uint32_t nfields, const uint32_t *field_bytes, const uint8_t *field_is_range);
void p4t_free(p4t_table *t);
void p4t_clear(p4t_table *t);
/* Add an entry; value/mask/lo/hi are key-length byte strings (lo/hi read only for
 * range fields, mask ignored there). Returns 0, or -1 if out of memory / bad args. */
int p4t_add(p4t_table *t, const uint8_t *value, const uint8_t *mask, const uint8_t *lo,
            const uint8_t *hi, int32_t rank, uint32_t handle, uint32_t action_id,
            uint32_t nargs, const uint64_t *args);
/* Tables whose entries all have full masks and no range (hashed): take out, or change
 * the action of, the entry whose key is `value`. Return 0, or -1 if there is no such
 * entry (or the table is not hashed). The last entry takes a deleted one's place. */
int p4t_delete_exact(p4t_table *t, const uint8_t *value);
int p4t_modify_exact(p4t_table *t, const uint8_t *value, uint32_t action_id, uint32_t nargs,
                     const uint64_t *args);
void p4t_set_default(p4t_table *t, uint32_t action_id, uint32_t nargs, const uint64_t *args);
const p4t_entry *p4t_default(const p4t_table *t);
uint32_t p4t_key_bytes(const p4t_table *t);
uint32_t p4t_size(const p4t_table *t);
/* The matching entry or NULL; a hit adds one packet of `nbytes` and records `now_ns`. */
p4t_entry *p4t_lookup(p4t_table *t, const uint8_t *key, uint64_t nbytes, uint64_t now_ns);
/* Hits since the last call (then reset) of the entries that had any, up to `max` of
 * them in rank order: returns how many were written. A table without hits since the
 * last call returns 0 at once. */
uint32_t p4t_take_stats(p4t_table *t, uint32_t *handles, uint64_t *packets, uint64_t *bytes,
                        uint64_t *last_hit_ns, uint32_t max);

#endif
