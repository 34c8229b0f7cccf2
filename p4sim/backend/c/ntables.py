"""The native copies of a device's tables, kept in step with the `TableState`s.

`TableState` calls `on_change(table)` after every mutation (insert, modify, delete,
default action, clear, rollback); the table is marked dirty and rebuilt in native
memory before the next packet, under the device lock, so a packet sees a batch
entirely or not at all, as with the Python back end. Tables whose fields are all exact
(the session table: tens of thousands of entries, changed by every new connection)
report each entry added, removed or changed instead (`on_entry`), and those changes are
made one by one in the native hash, at the same point: a rebuild per batch would cost
the whole table each time. Before the control plane reads or
writes entries (`DeviceState.on_sync`, `TableState.on_sync` for idle-timeout scans),
the hits counted natively since the last time are added into the `Entry` objects
(direct counters, last-hit times).
"""

from __future__ import annotations

from typing import Any

from p4sim.device.info import MatchKind
from p4sim.device.tables import ENTRY_ADDED, ENTRY_REMOVED
from p4sim.frontend.errors import P4Error


class _Native:
    __slots__ = ("index", "ptr", "ts", "handles", "handle_of", "next_handle", "ops",
                 "nbytes", "stats", "buffers")

    def __init__(self, index: int, ptr: Any, ts: Any, nbytes: list[int]) -> None:
        self.index = index
        self.ptr = ptr
        self.ts = ts
        self.handles: dict[int, Any] = {}  # native handle -> Entry
        self.handle_of: dict[tuple[Any, int], int] = {}  # (match, priority) -> handle
        self.next_handle = 0
        self.ops: list[tuple[int, Any]] = []  # entry changes not yet made natively
        self.nbytes = nbytes
        self.stats = ts.has_direct_counter or ts.supports_idle_timeout
        self.buffers: tuple[Any, Any, Any, Any] | None = None  # p4t_take_stats's arrays


class NativeTables:
    def __init__(
        self,
        lib: Any,
        ffi: Any,
        dev: Any,
        state: Any,
        names: list[str],
        key_widths: dict[str, list[int]],
    ) -> None:
        self.lib = lib
        self.ffi = ffi
        self.by_name: dict[str, _Native] = {}
        self.by_index: dict[int, _Native] = {}
        self.dirty: set[str] = set()  # tables with changes not yet made natively
        self.full: set[str] = set()  # ... of which these are rebuilt whole
        for i, name in enumerate(names):
            ts = state.tables[name]
            nbytes = [(f.bitwidth + 7) // 8 for f in ts.fields]
            widths = key_widths.get(name)
            if widths is not None and [(w + 7) // 8 for w in widths] != nbytes:
                raise P4Error(None, f"table {name}: key widths differ from the P4Info")
            is_range = [1 if f.kind == MatchKind.RANGE else 0 for f in ts.fields]
            ptr = lib.p4t_new(
                len(nbytes),
                ffi.new("uint32_t[]", nbytes or [0]),
                ffi.new("uint8_t[]", is_range or [0]),
            )
            if ptr == ffi.NULL:
                raise P4Error(None, f"table {name}: too many match fields for the C back end")
            ptr = ffi.gc(ptr, lib.p4t_free)
            lib.p4_dev_set_table(dev, i, ptr)
            self.by_name[name] = self.by_index[i] = _Native(i, ptr, ts, nbytes)
            ts.on_change = self._changed
            ts.on_entry = self._entry
            ts.on_sync = self._pull_one
            self.dirty.add(name)
            self.full.add(name)
        state.on_sync = self.pull

    # ------------------------------------------------------------------ hooks

    def _changed(self, ts: Any) -> None:
        self.dirty.add(ts.name)
        self.full.add(ts.name)
        self.by_name[ts.name].ops.clear()

    def _entry(self, ts: Any, op: int, entry: Any) -> None:
        self.dirty.add(ts.name)
        if ts.name not in self.full:
            self.by_name[ts.name].ops.append((op, entry))

    def _pull_one(self, ts: Any) -> None:
        nt = self.by_name.get(ts.name)
        if nt is not None:
            self._pull(nt)

    def pull(self) -> None:
        """Add native hit counts into the device's entries (every table)."""
        for nt in self.by_name.values():
            self._pull(nt)

    def _pull(self, nt: _Native) -> None:
        if not nt.stats or not nt.handles:
            return
        n = len(nt.handles)
        if nt.buffers is None or len(nt.buffers[0]) < n:
            size = max(64, 2 * n)  # kept and reused: reads come every few milliseconds
            ffi = self.ffi
            nt.buffers = (ffi.new("uint32_t[]", size), ffi.new("uint64_t[]", size),
                          ffi.new("uint64_t[]", size), ffi.new("uint64_t[]", size))
        handles, packets, nbytes, last = nt.buffers
        got = self.lib.p4t_take_stats(nt.ptr, handles, packets, nbytes, last, n)
        counter = nt.ts.has_direct_counter
        idle = nt.ts.supports_idle_timeout
        for i in range(got):  # only the entries hit since the last time
            entry = nt.handles[handles[i]]
            if counter:
                entry.packets += packets[i]
                entry.bytes += nbytes[i]
            if idle and last[i] > entry.last_hit_ns:
                entry.last_hit_ns = int(last[i])

    # ------------------------------------------------------------------ rebuild

    def sync(self) -> None:
        """Make every change of the device's tables in native memory."""
        while self.dirty:
            nt = self.by_name[self.dirty.pop()]
            if nt.ts.name in self.full:
                self.full.discard(nt.ts.name)
                nt.ops.clear()
                self._rebuild(nt)
            else:
                ops, nt.ops = nt.ops, []
                self._apply(nt, ops)

    def _encode(self, nt: _Native, entry: Any) -> tuple[bytes, bytes, bytes, bytes, int]:
        """The entry's value, mask, lo and hi key strings and its rank."""
        keylen = max(sum(nt.nbytes), 1)
        value = bytearray(keylen)
        mask = bytearray(keylen)
        lo = bytearray(keylen)
        hi = bytearray(keylen)
        off = 0
        plen = 0
        ts = nt.ts
        for f, nb, v in zip(ts.fields, nt.nbytes, entry.match, strict=True):
            top = (1 << f.bitwidth) - 1
            a, m, low, high = 0, 0, 0, top
            if v is None:
                pass
            elif f.kind == MatchKind.RANGE:
                low, high = v
            elif f.kind == MatchKind.LPM:
                a, plen = v
                m = top ^ (top >> plen)
            elif f.kind == MatchKind.TERNARY:
                a, m = v
            else:
                a, m = v, top
            value[off : off + nb] = (a & m).to_bytes(nb, "big")
            mask[off : off + nb] = m.to_bytes(nb, "big")
            lo[off : off + nb] = low.to_bytes(nb, "big")
            hi[off : off + nb] = high.to_bytes(nb, "big")
            off += nb
        rank = entry.priority if ts.needs_priority else plen
        return bytes(value), bytes(mask), bytes(lo), bytes(hi), rank

    def _args(self, nt: _Native, entry: Any) -> list[int]:
        return self._words(nt, list(entry.args))

    def _words(self, nt: _Native, args: list[int]) -> list[int]:
        """The native form of action data: the low 64 bits of every argument, then
        the high 64 bits of every argument (ctables.dispatch reads a parameter of
        64 < W <= 128 bits from both halves)."""
        if any(a >> 128 for a in args):
            raise P4Error(None, f"{nt.ts.name}: action data over 128 bits (C back end)")
        mask = (1 << 64) - 1
        return [a & mask for a in args] + [a >> 64 for a in args]

    def _add(self, nt: _Native, entry: Any) -> None:
        value, mask, lo, hi, rank = self._encode(nt, entry)
        args = self._args(nt, entry)
        handle = nt.next_handle
        nt.next_handle = (handle + 1) & 0xFFFFFFFF
        rc = self.lib.p4t_add(
            nt.ptr, value, mask, lo, hi, rank, handle, entry.action_id, len(args),
            self.ffi.new("uint64_t[]", args or [0]),
        )
        if rc != 0:
            raise MemoryError(f"{nt.ts.name}: native table insert failed")
        nt.handles[handle] = entry
        nt.handle_of[(entry.match, entry.priority)] = handle

    def _apply(self, nt: _Native, ops: list[tuple[int, Any]]) -> None:
        """Entry by entry, in the order they happened (exact-only tables)."""
        lib, ffi = self.lib, self.ffi
        for op, entry in ops:
            ident = (entry.match, entry.priority)
            if op == ENTRY_ADDED:
                if ident not in nt.handle_of:
                    self._add(nt, entry)
                continue
            handle = nt.handle_of.get(ident)
            if handle is None:
                continue  # added and taken out again before this sync
            value = self._encode(nt, entry)[0]
            if op == ENTRY_REMOVED:
                del nt.handle_of[ident]
                del nt.handles[handle]
                rc = lib.p4t_delete_exact(nt.ptr, value)
            else:
                nt.handles[handle] = entry
                args = self._args(nt, entry)
                rc = lib.p4t_modify_exact(nt.ptr, value, entry.action_id, len(args),
                                          ffi.new("uint64_t[]", args or [0]))
            if rc != 0:  # the two copies disagree: the next packet sees a whole rebuild
                self._changed(nt.ts)
                return

    def _rebuild(self, nt: _Native) -> None:
        self._pull(nt)
        ts = nt.ts
        self.lib.p4t_clear(nt.ptr)
        nt.handles, nt.handle_of, nt.next_handle = {}, {}, 0
        for entry in ts.entries():
            self._add(nt, entry)
        dargs = self._words(nt, list(ts.default_args))
        self.lib.p4t_set_default(
            nt.ptr, ts.default_action_id, len(dargs), self.ffi.new("uint64_t[]", dargs or [0])
        )
