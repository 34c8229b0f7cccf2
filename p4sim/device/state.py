"""``DeviceState``: every piece of data-plane state a P4Info describes.

One object per pushed pipeline. The pipeline reads and updates it per packet; the
P4Runtime server writes and reads it for the controller. Both hold ``lock`` while
they touch it, so a controller write never lands in the middle of a packet.

Reads take the lock in slices (``read_slices``): a wildcard read of a large register
must not stop the packet path for its whole length. A native state offers the same
method with the same contract.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from p4.config.v1 import p4info_pb2

from p4sim.device.digests import DigestEngine
from p4sim.device.externs import CounterState, MeterState, RegisterState
from p4sim.device.info import P4InfoIndex, PacketMetadataInfo, index_p4info
from p4sim.device.pre import PreState
from p4sim.device.tables import TableState

_T = TypeVar("_T")


class DeviceState:
    """Tables, registers, counters, meters (keyed by P4Info name), PRE and digests."""

    def __init__(
        self, p4info: p4info_pb2.P4Info, clock: Callable[[], int] = time.monotonic_ns
    ) -> None:
        self.p4info = p4info
        self.index: P4InfoIndex = index_p4info(p4info)
        self.now_ns = clock
        self.lock = threading.RLock()
        idx = self.index
        self.tables_by_id = {
            tid: TableState(info, idx.actions, clock) for tid, info in idx.tables.items()
        }
        self.counters_by_id = {cid: CounterState(info) for cid, info in idx.counters.items()}
        self.meters_by_id = {mid: MeterState(info, clock) for mid, info in idx.meters.items()}
        self.registers_by_id = {rid: RegisterState(info) for rid, info in idx.registers.items()}
        self.tables: dict[str, TableState] = {t.name: t for t in self.tables_by_id.values()}
        self.counters: dict[str, CounterState] = {c.name: c for c in self.counters_by_id.values()}
        self.meters: dict[str, MeterState] = {m.name: m for m in self.meters_by_id.values()}
        self.registers: dict[str, RegisterState] = {
            r.name: r for r in self.registers_by_id.values()
        }
        self.pre = PreState()
        self.digests = DigestEngine(clock)
        self.digest_sink = self.digests.push
        self.digest_ids: dict[str, int] = {d.preamble.name: i for i, d in idx.digests.items()}
        # Set by a native back end: brings what it counts in native memory (direct
        # counters, idle-timeout hit times) into the entries before the control plane
        # reads or writes them.
        self.on_sync: Callable[[], None] | None = None

    def sync(self) -> None:
        """Make the entries' data-plane counts current (a no-op without a native back end)."""
        if self.on_sync is not None:
            self.on_sync()

    @property
    def packet_in_metadata(self) -> tuple[PacketMetadataInfo, ...]:
        """Fields of the ``@controller_header("packet_in")`` header (empty: none)."""
        return self.index.packet_metadata.get("packet_in", ())

    @property
    def packet_out_metadata(self) -> tuple[PacketMetadataInfo, ...]:
        return self.index.packet_metadata.get("packet_out", ())

    def table(self, name: str) -> TableState:
        """A table by its fully qualified name or by a unique suffix (``"ipv4_lpm"``)."""
        if name in self.tables:
            return self.tables[name]
        hits = [t for n, t in self.tables.items() if n.endswith("." + name)]
        if len(hits) != 1:
            raise KeyError(f"no unique table named {name!r}")
        return hits[0]

    def read_slices(self, items: Iterator[_T], size: int) -> Iterator[list[_T]]:
        """Drain ``items``, a generator that reads this state, ``size`` items at a time,
        each slice under one hold of ``lock``: the packet path waits for one slice at
        most, never for a whole read. Packets and writes may run between two slices, so
        a read spanning several slices is not a snapshot (P4Runtime promises none);
        each item is consistent in itself. Yields nothing for an empty read."""
        while True:
            with self.lock:
                batch = list(itertools.islice(items, size))
            # Let a thread waiting for the lock (the packet loop) take it now: without
            # this the reader, still holding the GIL, takes the lock again first.
            time.sleep(0)
            if batch:
                yield batch
            if len(batch) < size:
                return

    def reset(self) -> None:
        """Forget all control-plane writes (for RECONCILE-less re-pushes of a pipeline)."""
        with self.lock:
            for table in self.tables_by_id.values():
                table.clear()
            self.pre.clear()
            self.digests.clear()
