"""Match-action table state: entries, validation per P4Runtime, and fast lookup.

Match values (one per P4Info match field, in P4Info order):

* EXACT: ``int``
* LPM: ``(value, prefix_len)``
* TERNARY: ``(value, mask)``
* RANGE: ``(low, high)``
* OPTIONAL: ``int``
* any non-EXACT field: ``None`` for "don't care" (the P4Runtime canonical form, where
  the field is omitted from the request).

Lookup strategy, chosen once per table from its match kinds:

* all EXACT: one dict keyed by the key tuple, O(1);
* no RANGE field: tuple-space search. Every entry reduces to a (mask tuple, masked
  value tuple); entries sharing a mask tuple live in one dict. Groups are visited in
  decreasing order of their best priority, so the search stops as soon as no group can
  beat the best hit found. LPM without priorities uses the prefix length as priority,
  which makes the longest prefix win.
* with a RANGE field: a scan over entries sorted by priority, highest first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from p4sim.device.errors import Code, DeviceError, invalid
from p4sim.device.externs import GREEN, MeterConfig, TrTcm
from p4sim.device.info import ActionInfo, MatchKind, Scope, TableInfo, Unit

FieldValue = Any  # int | tuple[int, int] | None, see the module docstring
MatchSpec = tuple[FieldValue, ...]

_PRIORITY_KINDS = (MatchKind.TERNARY, MatchKind.RANGE, MatchKind.OPTIONAL)
# What `on_entry` is told of an entry (tables whose fields are all exact).
ENTRY_ADDED, ENTRY_REMOVED, ENTRY_CHANGED = 0, 1, 2


class Entry:
    """One table entry. ``action_id`` and ``args`` (P4Info param order) drive the action."""

    __slots__ = (
        "match",
        "priority",
        "action_id",
        "args",
        "idle_timeout_ns",
        "last_hit_ns",
        "packets",
        "bytes",
        "meter",
        "meter_config",
        "metadata",
        "controller_metadata",
        "is_const",
        "_rank",
        "_check",
    )

    def __init__(
        self,
        match: MatchSpec,
        priority: int,
        action_id: int,
        args: tuple[int, ...],
        idle_timeout_ns: int = 0,
        metadata: bytes = b"",
        controller_metadata: int = 0,
        is_const: bool = False,
    ) -> None:
        self.match = match
        self.priority = priority
        self.action_id = action_id
        self.args = args
        self.idle_timeout_ns = idle_timeout_ns
        self.last_hit_ns = 0
        self.packets = 0
        self.bytes = 0
        self.meter: TrTcm | None = None
        self.meter_config: MeterConfig | None = None
        self.metadata = metadata
        self.controller_metadata = controller_metadata
        self.is_const = is_const
        self._rank = priority
        self._check: tuple[tuple[int, int, int], ...] = ()

    def __repr__(self) -> str:
        return f"Entry(match={self.match!r}, priority={self.priority}, action={self.action_id})"


class _Group:
    """Entries whose match reduces to the same mask tuple (one tuple-space cell).

    ``project`` maps a lookup key to the group's dict key: it is generated once per
    group (fields with a zero mask dropped, full masks not applied), because a generic
    ``tuple(map(and_, key, masks))`` costs several times more per lookup.
    """

    __slots__ = ("masks", "entries", "best", "project")

    def __init__(self, masks: tuple[int, ...], widths: tuple[int, ...]) -> None:
        self.masks = masks
        self.entries: dict[Any, list[Entry]] = {}
        self.best = 0
        self.project: Callable[[tuple[int, ...]], Any] = _projector(masks, widths)


def _projector(masks: tuple[int, ...], widths: tuple[int, ...]) -> Callable[[Any], Any]:
    parts = []
    for i, (mask, width) in enumerate(zip(masks, widths, strict=True)):
        if mask == 0:
            continue
        parts.append(f"k[{i}]" if mask == _full(width) else f"k[{i}] & {int(mask)}")
    if len(parts) == 1:
        source = f"lambda k: {parts[0]}"
    else:
        source = f"lambda k: ({', '.join(parts)}{',' if parts else ''})"
    # Only integers of our own making go into the source text.
    fn: Callable[[Any], Any] = eval(source)  # noqa: S307
    return fn


def _full(width: int) -> int:
    return (1 << width) - 1


class TableState:
    """One table: its entries, its default action and its direct resources."""

    def __init__(
        self,
        info: TableInfo,
        actions: dict[int, ActionInfo],
        clock: Callable[[], int],
    ) -> None:
        self.info = info
        self.name = info.name
        self.fields = info.fields
        self._actions = actions
        self._clock = clock
        kinds = [f.kind for f in info.fields]
        self.needs_priority = any(k in _PRIORITY_KINDS for k in kinds)
        self._all_exact = all(k == MatchKind.EXACT for k in kinds)
        self._has_range = MatchKind.RANGE in kinds
        self._lpm_index = kinds.index(MatchKind.LPM) if MatchKind.LPM in kinds else -1
        self.supports_idle_timeout = info.supports_idle_timeout
        self.has_direct_counter = info.direct_counter_unit is not None
        self.has_direct_meter = info.direct_meter_unit is not None
        self._meter_by_packets = info.direct_meter_unit == Unit.PACKETS
        self._entries: dict[tuple[MatchSpec, int], Entry] = {}
        self._ttl: dict[tuple[MatchSpec, int], Entry] = {}  # entries with an idle timeout
        self.min_ttl_ns = 0  # smallest TTL seen by the last ``expired`` scan (0: none)
        self._exact: dict[tuple[int, ...], Entry] = {}
        self._groups: dict[tuple[int, ...], _Group] = {}
        self._widths = tuple(f.bitwidth for f in info.fields)
        self._order: list[_Group] = []
        self._ranged: list[Entry] = []
        # The default entry is an Entry too, so direct resources and reads treat it alike.
        self.default_entry = Entry((), 0, 0, ())
        self._initial_default: tuple[int, tuple[int, ...]] = (0, ())
        if info.initial_default is not None:
            self._initial_default = info.initial_default
        elif info.const_default_action_id:
            action = actions.get(info.const_default_action_id)
            nparams = len(action.params) if action else 0
            self._initial_default = (info.const_default_action_id, (0,) * nparams)
        self.default_action_id, self.default_args = self._initial_default
        self.default_entry.action_id, self.default_entry.args = self._initial_default
        # A native back end's copy of the table: told of every change, and asked to add
        # its hit counts into the entries before they are read (see backend/c/ntables).
        self.on_change: Callable[[TableState], None] | None = None
        self.on_sync: Callable[[TableState], None] | None = None
        # ... and, for tables whose fields are all exact, told of each entry added,
        # removed or changed instead (ENTRY_*), so that it need not copy the whole table.
        self.on_entry: Callable[[TableState, int, Entry], None] | None = None

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def _entry_changed(self, op: int, entry: Entry) -> None:
        if self.on_entry is not None and self._all_exact:
            self.on_entry(self, op, entry)
        else:
            self._changed()

    # ------------------------------------------------------------------ data path

    def lookup(self, key: tuple[int, ...]) -> Entry | None:
        """The matching entry for ``key`` (values in match-field order), or None on a miss."""
        if self._all_exact:
            entry = self._exact.get(key)
        elif self._has_range:
            entry = self._scan(key)
        else:
            entry = None
            best = -1
            for group in self._order:
                if group.best <= best:
                    break
                hits = group.entries.get(group.project(key))
                if hits is not None and hits[0]._rank > best:
                    entry = hits[0]
                    best = entry._rank
        if entry is not None and self.supports_idle_timeout:
            entry.last_hit_ns = self._clock()
        return entry

    def _scan(self, key: tuple[int, ...]) -> Entry | None:
        for entry in self._ranged:
            for (kind, a, b), value in zip(entry._check, key, strict=True):
                if kind == 0:
                    if value & a != b:
                        break
                elif not a <= value <= b:
                    break
            else:
                return entry
        return None

    def count(self, entry: Entry, nbytes: int) -> None:
        """Update the direct counter of a hit entry."""
        entry.packets += 1
        entry.bytes += nbytes

    def meter(self, entry: Entry, nbytes: int) -> int:
        """Execute the direct meter of a hit entry; unconfigured meters say green."""
        cell = entry.meter
        if cell is None:
            return GREEN
        return cell.execute(1 if self._meter_by_packets else nbytes, self._clock())

    # ------------------------------------------------------------- validation

    def check_match(self, match: MatchSpec, priority: int) -> MatchSpec:
        """Validate a match spec and priority as P4Runtime requires; return it normalised."""
        if len(match) != len(self.fields):
            raise invalid(
                f"{self.name}: expected {len(self.fields)} match fields, got {len(match)}"
            )
        out: list[FieldValue] = []
        for f, value in zip(self.fields, match, strict=True):
            top = _full(f.bitwidth)
            where = f"{self.name}: match field {f.name}"
            if value is None:
                if f.kind == MatchKind.EXACT:
                    raise invalid(f"{where} is an exact match and cannot be omitted")
                out.append(None)
                continue
            if f.kind in (MatchKind.EXACT, MatchKind.OPTIONAL):
                if not isinstance(value, int):
                    raise invalid(f"{where} expects one value")
                _fits(where, value, top)
                out.append(value)
                continue
            if not (isinstance(value, tuple) and len(value) == 2):
                raise invalid(f"{where} expects a pair of values")
            a, b = value
            if f.kind == MatchKind.LPM:
                _fits(where, a, top)
                if not 0 < b <= f.bitwidth:
                    raise invalid(f"{where}: prefix length {b} outside [1, {f.bitwidth}]")
                if a & (top >> b):
                    raise invalid(f"{where}: bits past the prefix length must be zero")
            elif f.kind == MatchKind.TERNARY:
                _fits(where, a, top)
                _fits(where, b, top)
                if b == 0:
                    raise invalid(f"{where}: a zero mask must be sent as an omitted field")
                if a & ~b:
                    raise invalid(f"{where}: value has bits set outside the mask")
            else:
                _fits(where, a, top)
                _fits(where, b, top)
                if a > b:
                    raise invalid(f"{where}: range low {a} is above high {b}")
                if a == 0 and b == top:
                    raise invalid(f"{where}: a full range must be sent as an omitted field")
            out.append((a, b))
        if self.needs_priority:
            if priority <= 0:
                raise invalid(f"{self.name}: a priority > 0 is required for this table")
            if priority > 0x7FFFFFFF:
                raise invalid(f"{self.name}: priority {priority} too large")
        elif priority != 0:
            raise invalid(
                f"{self.name}: priority must be 0 for a table without ternary, "
                "range or optional fields"
            )
        return tuple(out)

    def check_action(self, action_id: int, args: tuple[int, ...], default: bool) -> None:
        """Validate an action and its arguments against the table and the P4Info."""
        scope = self.info.actions.get(action_id)
        action = self._actions.get(action_id)
        if scope is None or action is None:
            raise invalid(f"{self.name}: action id {action_id} is not an action of this table")
        if default and scope == Scope.TABLE_ONLY:
            raise invalid(f"{self.name}: action {action.name} cannot be the default action")
        if not default and scope == Scope.DEFAULT_ONLY:
            raise invalid(f"{self.name}: action {action.name} may only be the default action")
        if len(args) != len(action.params):
            raise invalid(
                f"{action.name}: expected {len(action.params)} parameters, got {len(args)}"
            )
        for param, value in zip(action.params, args, strict=True):
            _fits(f"{action.name}: parameter {param.name}", value, _full(param.bitwidth))

    # ------------------------------------------------------------- control path

    def action_info(self, action_id: int) -> ActionInfo:
        return self._actions[action_id]

    def get(self, match: MatchSpec, priority: int) -> Entry | None:
        return self._entries.get((match, priority))

    def entries(self) -> Iterator[Entry]:
        """All entries (not the default one), in insertion order."""
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def insert(
        self,
        match: MatchSpec,
        priority: int,
        action_id: int,
        args: tuple[int, ...],
        *,
        idle_timeout_ns: int = 0,
        metadata: bytes = b"",
        controller_metadata: int = 0,
        static: bool = False,
    ) -> Entry:
        """Add an entry. ``static`` marks entries of the program itself (``const entries``),
        which are the only ones a const table accepts."""
        if self.info.is_const and not static:
            raise DeviceError(Code.PERMISSION_DENIED, f"{self.name} is a const table")
        if self.info.implementation_id:
            raise DeviceError(Code.UNIMPLEMENTED, f"{self.name}: action profiles are not supported")
        match = self.check_match(match, priority)
        self.check_action(action_id, args, default=False)
        self._check_idle(idle_timeout_ns)
        ident = (match, priority)
        if ident in self._entries:
            raise DeviceError(Code.ALREADY_EXISTS, f"{self.name}: entry already exists")
        if 0 < self.info.size <= len(self._entries):
            raise DeviceError(
                Code.RESOURCE_EXHAUSTED, f"{self.name}: table is full ({self.info.size} entries)"
            )
        entry = Entry(
            match,
            priority,
            action_id,
            tuple(args),
            idle_timeout_ns,
            metadata,
            controller_metadata,
            static,
        )
        entry.last_hit_ns = self._clock()
        self._entries[ident] = entry
        if idle_timeout_ns:
            self._ttl[ident] = entry
        self._index(entry)
        return entry

    def modify(
        self,
        match: MatchSpec,
        priority: int,
        action_id: int | None,
        args: tuple[int, ...],
        *,
        idle_timeout_ns: int | None = None,
        metadata: bytes | None = None,
        controller_metadata: int | None = None,
    ) -> Entry:
        """Change an entry's action (``None``: keep it, as for const entries' resources)."""
        match = self.check_match(match, priority)
        entry = self._entries.get((match, priority))
        if entry is None:
            raise DeviceError(Code.NOT_FOUND, f"{self.name}: entry not found")
        if action_id is not None:
            if self.info.is_const or entry.is_const:
                raise DeviceError(Code.PERMISSION_DENIED, f"{self.name} is a const table")
            self.check_action(action_id, args, default=False)
        if idle_timeout_ns is not None:
            self._check_idle(idle_timeout_ns)
        if action_id is not None:
            entry.action_id = action_id
            entry.args = tuple(args)
        if idle_timeout_ns is not None:
            entry.idle_timeout_ns = idle_timeout_ns
            if idle_timeout_ns:
                self._ttl[(entry.match, entry.priority)] = entry
            else:
                self._ttl.pop((entry.match, entry.priority), None)
        if metadata is not None:
            entry.metadata = metadata
        if controller_metadata is not None:
            entry.controller_metadata = controller_metadata
        self._entry_changed(ENTRY_CHANGED, entry)
        return entry

    def delete(self, match: MatchSpec, priority: int) -> Entry:
        if self.info.is_const:
            raise DeviceError(Code.PERMISSION_DENIED, f"{self.name} is a const table")
        match = self.check_match(match, priority)
        entry = self._entries.pop((match, priority), None)
        if entry is None:
            raise DeviceError(Code.NOT_FOUND, f"{self.name}: entry not found")
        self._ttl.pop((match, priority), None)
        self._unindex(entry)
        return entry

    def remove_entry(self, entry: Entry) -> None:
        """Take an entry out, whatever the table (used to roll a batch back)."""
        ident = (entry.match, entry.priority)
        if self._entries.get(ident) is entry:
            del self._entries[ident]
            self._ttl.pop(ident, None)
            self._unindex(entry)

    def restore_entry(self, entry: Entry) -> None:
        """Put a removed entry back as it was (used to roll a batch back)."""
        ident = (entry.match, entry.priority)
        if ident in self._entries:
            return
        self._entries[ident] = entry
        if entry.idle_timeout_ns:
            self._ttl[ident] = entry
        self._index(entry)

    def restore_default(self, action_id: int, args: tuple[int, ...], entry: Entry) -> None:
        """Put back a default action and its entry (used to roll a batch back)."""
        self.default_action_id = action_id
        self.default_args = args
        entry.action_id = action_id
        entry.args = args
        self.default_entry = entry
        self._changed()

    def clear(self) -> None:
        """Remove every non-static entry."""
        for entry in list(self._entries.values()):
            if not entry.is_const:
                del self._entries[(entry.match, entry.priority)]
                self._ttl.pop((entry.match, entry.priority), None)
                self._unindex(entry)

    def set_default(self, action_id: int, args: tuple[int, ...]) -> None:
        """Change the default action (the P4Runtime MODIFY of the default entry)."""
        if self.info.const_default_action_id:
            raise DeviceError(Code.PERMISSION_DENIED, f"{self.name}: the default action is const")
        self.check_action(action_id, args, default=True)
        self.default_action_id = action_id
        self.default_args = tuple(args)
        self.default_entry.action_id = action_id
        self.default_entry.args = self.default_args
        self._changed()

    def reset_default(self) -> None:
        """Back to the program's default action, with fresh direct resources."""
        if self.info.const_default_action_id:
            raise DeviceError(Code.PERMISSION_DENIED, f"{self.name}: the default action is const")
        self._apply_initial_default()

    def set_initial_default(self, action_id: int, args: tuple[int, ...]) -> None:
        """Record the program's own default action (called by the pipeline on load)."""
        self._initial_default = (action_id, tuple(args))
        self._apply_initial_default()

    def _apply_initial_default(self) -> None:
        self.default_action_id, self.default_args = self._initial_default
        self.default_entry = Entry((), 0, self.default_action_id, self.default_args)
        self._changed()

    def set_meter_config(self, entry: Entry, config: MeterConfig | None) -> None:
        if not self.has_direct_meter:
            raise invalid(f"{self.name} has no direct meter")
        if config is None:
            entry.meter = None
            entry.meter_config = None
            return
        config.validate(self.name)
        entry.meter_config = config
        entry.meter = TrTcm(config, self._clock())

    def expired(self, now_ns: int) -> list[Entry]:
        """Entries idle for at least their TTL; their idle timer restarts (P4Runtime 9.x).

        Only entries with a TTL are visited, and ``min_ttl_ns`` tells the caller how
        often scanning is worth it.
        """
        if self.on_sync is not None:
            self.on_sync(self)
        out = []
        smallest = 0
        for entry in self._ttl.values():
            ttl = entry.idle_timeout_ns
            if smallest == 0 or ttl < smallest:
                smallest = ttl
            if now_ns - entry.last_hit_ns >= ttl:
                entry.last_hit_ns = now_ns
                out.append(entry)
        self.min_ttl_ns = smallest
        return out

    def _check_idle(self, idle_timeout_ns: int) -> None:
        if idle_timeout_ns < 0:
            raise invalid(f"{self.name}: idle timeout must not be negative")
        if idle_timeout_ns and not self.supports_idle_timeout:
            raise invalid(f"{self.name} does not support idle timeout")

    # ------------------------------------------------------------- indexing

    def _masks(self, match: MatchSpec) -> tuple[tuple[int, ...], tuple[int, ...], int]:
        """(mask tuple, masked value tuple, lpm prefix length) of a range-free entry."""
        masks = []
        values = []
        plen = 0
        for f, value in zip(self.fields, match, strict=True):
            top = _full(f.bitwidth)
            if value is None:
                masks.append(0)
                values.append(0)
            elif f.kind == MatchKind.LPM:
                v, plen = value
                mask = top ^ (top >> plen)
                masks.append(mask)
                values.append(v & mask)
            elif f.kind == MatchKind.TERNARY:
                masks.append(value[1])
                values.append(value[0] & value[1])
            else:
                masks.append(top)
                values.append(value)
        return tuple(masks), tuple(values), plen

    def _index(self, entry: Entry) -> None:
        self._entry_changed(ENTRY_ADDED, entry)
        if self._all_exact:
            self._exact[entry.match] = entry
            return
        if self._has_range:
            checks = []
            for f, value in zip(self.fields, entry.match, strict=True):
                top = _full(f.bitwidth)
                if value is None:
                    checks.append((0, 0, 0))
                elif f.kind == MatchKind.RANGE:
                    checks.append((1, value[0], value[1]))
                elif f.kind == MatchKind.LPM:
                    mask = top ^ (top >> value[1])
                    checks.append((0, mask, value[0] & mask))
                elif f.kind == MatchKind.TERNARY:
                    checks.append((0, value[1], value[0] & value[1]))
                else:
                    checks.append((0, top, value))
            entry._check = tuple(checks)
            self._ranged.append(entry)
            self._ranged.sort(key=lambda e: -e.priority)
            return
        masks, values, plen = self._masks(entry.match)
        entry._rank = entry.priority if self.needs_priority else plen
        group = self._groups.get(masks)
        fresh = group is None
        if group is None:
            group = self._groups[masks] = _Group(masks, self._widths)
        hits = group.entries.setdefault(group.project(values), [])
        hits.append(entry)
        hits.sort(key=lambda e: -e._rank)
        if fresh or entry._rank > group.best:
            group.best = max(group.best, entry._rank)
            self._reorder()

    def _unindex(self, entry: Entry) -> None:
        self._entry_changed(ENTRY_REMOVED, entry)
        if self._all_exact:
            self._exact.pop(entry.match, None)
            return
        if self._has_range:
            self._ranged = [e for e in self._ranged if e is not entry]
            return
        masks, values, _ = self._masks(entry.match)
        group = self._groups[masks]
        projected = group.project(values)
        hits = [e for e in group.entries[projected] if e is not entry]
        if hits:
            group.entries[projected] = hits
        else:
            del group.entries[projected]
        if not group.entries:
            del self._groups[masks]
            self._reorder()
        elif entry._rank >= group.best:
            group.best = max(hits[0]._rank for hits in group.entries.values())
            self._reorder()

    def _reorder(self) -> None:
        # A new list is swapped in whole, so a concurrent lookup sees old or new order.
        self._order = sorted(self._groups.values(), key=lambda g: -g.best)


def _fits(where: str, value: int, top: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= top:
        raise invalid(f"{where}: value {value!r} does not fit in {top.bit_length()} bits")
