"""Undo records for ROLLBACK_ON_ERROR and DATAPLANE_ATOMIC write batches.

Before each update of such a batch, ``snapshot`` records what the update may change
and returns a function putting it back. If an update fails, the server runs the
undo functions of the updates already applied, newest first. The whole batch runs
under the device lock, so packets see the state before the batch or after it:
data-plane atomic as well.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import copy
from typing import Any

from p4.v1 import p4runtime_pb2 as pb

from p4sim.device.errors import DeviceError
from p4sim.device.p4rt import decode_match
from p4sim.device.state import DeviceState

Undo = Callable[[], None]

_ENTRY_FIELDS = (
    "action_id",
    "args",
    "idle_timeout_ns",
    "metadata",
    "controller_metadata",
    "packets",
    "bytes",
    "meter",
    "meter_config",
)


def _nothing() -> None:
    return None


def _contents(*live: list[Any] | dict[Any, Any]) -> Undo:
    """A function putting back what the lists and dicts ``live`` hold now, in place
    (compiled programs keep references to them)."""
    saved = [(obj, copy(obj)) for obj in live]

    def undo_contents() -> None:
        for obj, before in saved:
            if isinstance(obj, dict):
                obj.clear()
                obj.update(before)
            else:
                obj[:] = before

    return undo_contents


def snapshot(state: DeviceState, update: pb.Update) -> Undo:
    """A function undoing ``update`` once it has been applied (a no-op if it fails)."""
    entity = update.entity
    kind = entity.WhichOneof("entity")
    if kind == "table_entry":
        return _table(state, entity.table_entry)
    if kind == "direct_counter_entry":
        return _table(state, entity.direct_counter_entry.table_entry)
    if kind == "direct_meter_entry":
        return _table(state, entity.direct_meter_entry.table_entry)
    if kind == "counter_entry":
        counter = state.counters_by_id.get(entity.counter_entry.counter_id)
        return _nothing if counter is None else _contents(counter.packets, counter.bytes)
    if kind == "meter_entry":
        meter = state.meters_by_id.get(entity.meter_entry.meter_id)
        return _nothing if meter is None else _contents(meter.cells)
    if kind == "register_entry":
        reg = state.registers_by_id.get(entity.register_entry.register_id)
        return _nothing if reg is None else _contents(reg.values)
    if kind == "packet_replication_engine_entry":
        pre = state.pre
        return _contents(pre.clone_sessions, pre.multicast_groups, pre.multicast_metadata)
    if kind == "digest_entry":
        digest_id = entity.digest_entry.digest_id
        before = state.digests.config(digest_id)

        def undo_digest() -> None:
            now = state.digests.config(digest_id)
            if before is None and now is not None:
                state.digests.configure("delete", digest_id, None)
            elif before is not None and now is None:
                state.digests.configure("insert", digest_id, before)
            elif before is not None:
                state.digests.configure("modify", digest_id, before)

        return undo_digest
    return _nothing


def _table(state: DeviceState, te: pb.TableEntry) -> Undo:
    table = state.tables_by_id.get(te.table_id)
    if table is None:
        return _nothing
    if te.is_default_action:
        action_id, args, default = table.default_action_id, table.default_args, table.default_entry
        saved_default = {name: getattr(default, name) for name in _ENTRY_FIELDS}

        def undo_default() -> None:
            for name, value in saved_default.items():
                setattr(default, name, value)
            table.restore_default(action_id, args, default)

        return undo_default
    try:
        match = table.check_match(decode_match(table, te.match), te.priority)
    except DeviceError:
        return _nothing  # the update fails before changing anything
    before = table.get(match, te.priority)
    saved = (
        None if before is None else {name: copy(getattr(before, name)) for name in _ENTRY_FIELDS}
    )

    def undo_entry() -> None:
        now = table.get(match, te.priority)
        if before is None:
            if now is not None:
                table.remove_entry(now)
            return
        if now is not None:
            table.remove_entry(now)  # re-indexed below with the old fields
        assert saved is not None
        for name, value in saved.items():
            setattr(before, name, value)
        table.restore_entry(before)

    return undo_entry
