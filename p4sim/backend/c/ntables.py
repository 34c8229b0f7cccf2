"""The native copies of a device's tables, kept in step with the `TableState`s.

`TableState` calls `on_change(table)` after every mutation (insert, modify, delete,
default action, clear, rollback); the table is marked dirty and rebuilt in native
memory before the next packet, under the device lock, so a packet sees a batch
entirely or not at all, as with the Python back end. Before the control plane reads or
writes entries (`DeviceState.on_sync`, `TableState.on_sync` for idle-timeout scans),
the hits counted natively since the last time are added into the `Entry` objects
(direct counters, last-hit times).
"""

from __future__ import annotations

from typing import Any

from p4sim.device.info import MatchKind
from p4sim.frontend.errors import P4Error


class _Native:
    __slots__ = ("index", "ptr", "ts", "handles", "nbytes", "stats")

    def __init__(self, index: int, ptr: Any, ts: Any, nbytes: list[int]) -> None:
        self.index = index
        self.ptr = ptr
        self.ts = ts
        self.handles: list[Any] = []
        self.nbytes = nbytes
        self.stats = ts.has_direct_counter or ts.supports_idle_timeout


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
        self.dirty: set[str] = set()
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
            ts.on_sync = self._pull_one
            self.dirty.add(name)
        state.on_sync = self.pull

    # ------------------------------------------------------------------ hooks

    def _changed(self, ts: Any) -> None:
        self.dirty.add(ts.name)

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
        ffi, n = self.ffi, len(nt.handles)
        handles = ffi.new("uint32_t[]", n)
        packets = ffi.new("uint64_t[]", n)
        nbytes = ffi.new("uint64_t[]", n)
        last = ffi.new("uint64_t[]", n)
        got = self.lib.p4t_take_stats(nt.ptr, handles, packets, nbytes, last, n)
        counter = nt.ts.has_direct_counter
        idle = nt.ts.supports_idle_timeout
        for i in range(got):
            pk = packets[i]
            if not pk:
                continue
            entry = nt.handles[handles[i]]
            if counter:
                entry.packets += pk
                entry.bytes += nbytes[i]
            if idle and last[i] > entry.last_hit_ns:
                entry.last_hit_ns = int(last[i])

    # ------------------------------------------------------------------ rebuild

    def sync(self) -> None:
        """Rebuild every dirty table in native memory."""
        while self.dirty:
            self._rebuild(self.by_name[self.dirty.pop()])

    def _rebuild(self, nt: _Native) -> None:
        self._pull(nt)
        ffi, lib, ts = self.ffi, self.lib, nt.ts
        lib.p4t_clear(nt.ptr)
        nt.handles = []
        keylen = max(sum(nt.nbytes), 1)
        for entry in ts.entries():
            value = bytearray(keylen)
            mask = bytearray(keylen)
            lo = bytearray(keylen)
            hi = bytearray(keylen)
            off = 0
            plen = 0
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
            args = list(entry.args)
            if any(a >> 64 for a in args):
                raise P4Error(None, f"{ts.name}: action data over 64 bits (C back end)")
            rc = lib.p4t_add(
                nt.ptr,
                bytes(value),
                bytes(mask),
                bytes(lo),
                bytes(hi),
                rank,
                len(nt.handles),
                entry.action_id,
                len(args),
                ffi.new("uint64_t[]", args or [0]),
            )
            if rc != 0:
                raise MemoryError(f"{ts.name}: native table insert failed")
            nt.handles.append(entry)
        dargs = list(ts.default_args)
        lib.p4t_set_default(
            nt.ptr, ts.default_action_id, len(dargs), ffi.new("uint64_t[]", dargs or [0])
        )
