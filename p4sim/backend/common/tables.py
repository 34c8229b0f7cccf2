"""A table's program-given contents, shared by both back ends: its initial default
action and its `entries` / `const entries`, evaluated at compile time
(`table_setup`) and installed into the device state when the pipeline loads
(`install_tables`). Values are the unsigned ints the control plane uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error, Unsupported


@dataclass
class TableSetup:
    """What the pipeline installs into a table's state at load: its initial default
    action and its `const entries` / `entries` (values already evaluated)."""

    name: str
    default_action: str
    default_args: tuple[int, ...]
    default_is_const: bool
    entries_const: bool = True
    entries: list[tuple[list[Any], str, tuple[int, ...], int | None]] = field(default_factory=list)


class Names(Protocol):
    """What `table_setup` needs from a back end's compiler."""

    def cp_name(self, decl: ast.Decl) -> str:
        """Control-plane name of a table or action seen from the current block instance."""
        ...

    def member_lit(self, t: Any, text: str) -> str | None:
        """The number of an error/enum member `text` of type `t`, as source text."""
        ...


class InstallBinder(Protocol):
    """What `install_tables` needs from the device: table states and action ids."""

    def table(self, name: str) -> Any: ...

    def action_id(self, name: str) -> int: ...


def _u(t: Any) -> Any:
    return T.underlying(t) if isinstance(t, T.Type) else t


def _mask(width: int) -> int:
    return (1 << width) - 1


def table_setup(comp: Names, decl: ast.TableDecl) -> TableSetup:
    """The default action and entries of `decl`, with control-plane names."""
    ref = decl.default_action
    if ref is None:
        default_name = "NoAction"
        args: tuple[int, ...] = ()
    else:
        if not isinstance(ref.decl, ast.ActionDecl):
            raise P4Error(ref.loc, f"table {decl.name}: bad default action")
        default_name = comp.cp_name(ref.decl)
        args = action_data(comp, ref)
    setup = TableSetup(
        comp.cp_name(decl), default_name, args, decl.default_is_const, decl.entries_const
    )
    for entry in decl.entries:
        if entry.action is None or not isinstance(entry.action.decl, ast.ActionDecl):
            raise P4Error(entry.loc, "table entry without an action")
        keys = [entry_key(comp, k, kd) for k, kd in zip(entry.keys, decl.keys, strict=False)]
        prio = entry.priority.const if entry.priority is not None else None
        setup.entries.append(
            (keys, comp.cp_name(entry.action.decl), action_data(comp, entry.action), prio)
        )
    return setup


def action_data(comp: Names, ref: ast.ActionRef) -> tuple[int, ...]:
    """The action data (directionless parameters) an action reference binds."""
    adecl = ref.decl
    data = [p for p in adecl.params if not p.direction]
    vals = [a.value for a in ref.args][-len(data) :] if data else []
    out = []
    for p, v in zip(data, vals, strict=True):
        if v is None or v.const is None:
            raise Unsupported(ref.loc, "action data that is not a compile-time constant")
        out.append(raw_const(v.const, _u(p.type.resolved if p.type is not None else None), comp, v.type))
    return tuple(out)


def entry_key(comp: Names, k: ast.Expr, kd: ast.KeyElement) -> tuple[Any, ...]:
    """A const entry's key as `(kind, ...)`: ("exact", v), ("ternary", v, m),
    ("lpm", v, prefix_len), ("range", lo, hi), ("optional", v) or ("any",)."""
    kt = _u(kd.expr.type)
    width = T.width_of(kt) if isinstance(kt, T.BitT | T.BoolT) else 32
    if isinstance(k, ast.DefaultExpr | ast.DontCare):
        return ("any",)
    if isinstance(k, ast.MaskExpr):
        v = raw_const(k.value.const, kt, comp, k.value.type)
        m = raw_const(k.mask.const, kt, comp, k.mask.type)
        if kd.match_kind == "lpm":
            plen = bin(m).count("1")
            return ("lpm", v & m, plen)
        return ("ternary", v & m, m)
    if isinstance(k, ast.RangeExpr):
        return (
            "range",
            raw_const(k.lo.const, kt, comp, k.lo.type),
            raw_const(k.hi.const, kt, comp, k.hi.type),
        )
    v = raw_const(k.const, kt, comp, k.type)
    if kd.match_kind == "lpm":
        return ("lpm", v, width)
    if kd.match_kind == "ternary":
        return ("ternary", v, _mask(width))
    if kd.match_kind == "optional":
        return ("optional", v)
    if kd.match_kind == "range":
        return ("range", v, v)
    return ("exact", v)


def raw_const(value: Any, t: Any, comp: Names, t2: Any = None) -> int:
    """A compile-time value as the unsigned int the control plane uses."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        lit = comp.member_lit(t2 if t2 is not None else t, value)
        if lit is None:
            raise Unsupported(None, f"constant '{value}' as table data")
        value = int(lit)
    if not isinstance(value, int):
        raise Unsupported(None, "a key or action data value that is not a constant")
    u = _u(t)
    if isinstance(u, T.BitT):
        return value & _mask(u.width)
    return value


def match_value(k: tuple[Any, ...]) -> Any:
    """A const entry key descriptor (see `entry_key`) as a device match value."""
    kind = k[0]
    if kind == "any":
        return None
    if kind in ("exact", "optional"):
        return k[1]
    if kind in ("lpm", "ternary") and k[2] == 0:
        return None  # P4Runtime's canonical form of a wildcard
    return (k[1], k[2])


def install_tables(binder: InstallBinder, setups: list[TableSetup]) -> None:
    """Initial default actions and `entries` of every table, into the device state."""
    for s in setups:
        table = binder.table(s.name)
        table.set_initial_default(binder.action_id(s.default_action), s.default_args)
        n = len(s.entries)
        for i, (keys, action, args, prio) in enumerate(s.entries):
            match = tuple(match_value(k) for k in keys)
            priority = prio if prio is not None else (n - i if table.needs_priority else 0)
            if not table.needs_priority:
                priority = 0
            table.insert(match, priority, binder.action_id(action), args, static=s.entries_const)


__all__ = [
    "InstallBinder",
    "Names",
    "TableSetup",
    "action_data",
    "entry_key",
    "install_tables",
    "match_value",
    "raw_const",
    "table_setup",
]
