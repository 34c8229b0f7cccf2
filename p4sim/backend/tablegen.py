"""Tables: key building, lookup in the device state, action dispatch.

Each table becomes `def B<k>_T_<name>(c)` returning the apply result `(hit, action_id)`:
it builds the key tuple in P4Info match-field order (declaration order, as p4c),
calls `TableState.lookup`, runs the entry's action (or the table's current default
action on a miss) through a dispatch dict keyed by P4Info action id, counts a direct
counter and executes a direct meter on hits. Action data arrives as unsigned ints (the
P4Runtime encoding); a small wrapper converts it for bool and int<W> parameters and
binds the directional arguments written in the table's `actions` list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error, Unsupported

from .codegen import TableSetup
from .exprgen import _u, mask, resolved, sx, type_of

if TYPE_CHECKING:
    from .codegen import Compiler


class TableGen:
    def __init__(self, comp: Compiler, decl: ast.TableDecl) -> None:
        self.c = comp
        self.decl = decl
        self.name = comp.cp_name(decl)

    def emit(self, fn: str) -> None:
        c = self.c
        decl = self.decl
        try:
            state = c.binder.table(self.name)
        except P4Error:
            # Not in the P4Info: p4c drops tables the program never applies.
            with c.em.block(f"def {fn}(c):"):
                c.line(
                    f"raise _rt.DropSignal({('table ' + self.name + ' is not in the P4Info')!r})"
                )
            return
        tname = c.glob(state, "T_" + decl.name)
        dispatch: dict[int, Any] = {}
        dname = c.glob(dispatch, "D_" + decl.name)
        wrappers = []
        refs = list(decl.actions)
        listed = {id(r.decl) for r in refs}
        default = decl.default_action
        if default is not None and id(default.decl) not in listed:
            refs.append(default)
        elif default is None:
            # p4c gives a table without default_action NoAction (@defaultonly).
            no_action = self.no_action()
            if id(no_action) not in listed:
                refs.append(ast.ActionRef(name="NoAction", decl=no_action))
        for ref in refs:
            adecl = ref.decl
            if not isinstance(adecl, ast.ActionDecl):
                raise P4Error(ref.loc, f"table {decl.name}: '{ref.name}' is not an action")
            aid = c.binder.action_id(c.cp_name(adecl))
            wrappers.append((aid, self.wrapper(fn, adecl, ref)))
        direct_counter = "counters" in decl.properties
        direct_meter = "meters" in decl.properties
        with c.em.block(f"def {fn}(c):"):
            key = "()"
            if decl.keys:
                keys = [self.key(k) for k in decl.keys]
                key = f"({''.join(k + ', ' for k in keys)})"
                if c.trace:
                    c.line(f"k = {key}")
                    key = "k"
                c.line(f"e = {tname}.lookup({key})")
            else:
                c.line("e = None")
            with c.em.block("if e is None:"):
                c.line(f"aid = {tname}.default_action_id")
                if c.trace:
                    c.line(f"_tr.table({tname}, {key}, False, aid, {tname}.default_args)")
                if direct_meter:
                    c.line("_ctx.dm_hit = False")
                c.line(f"{dname}[aid](c, *{tname}.default_args)")
                c.line("return (False, aid)")
            c.line("aid = e.action_id")
            if c.trace:
                c.line(f"_tr.table({tname}, {key}, True, aid, e.args)")
            if direct_counter:
                c.line(f"{tname}.count(e, _ctx.nbytes)")
            if direct_meter:
                c.line(f"_ctx.dm_color = {tname}.meter(e, _ctx.nbytes)")
                c.line("_ctx.dm_hit = True")
            c.line(f"{dname}[aid](c, *e.args)")
            c.line("return (True, aid)")
        # Dispatch entries are bound after exec (they name generated functions).
        c.post_exec.append((dispatch, dict(wrappers)))
        c.table_setups.append(self.setup())

    def no_action(self) -> ast.ActionDecl:
        for d in self.c.prog.decls:
            if isinstance(d, ast.ActionDecl) and d.name == "NoAction":
                return d
        raise P4Error(self.decl.loc, f"table {self.decl.name} needs NoAction (core.p4)")

    def key(self, k: ast.KeyElement) -> str:
        v = self.c.ex(k.expr)
        t = type_of(k.expr)
        if isinstance(t, T.BoolT):
            return f"int({v})"
        if isinstance(t, T.BitT) and t.signed:
            return f"({v} & {mask(t.width):#x})"
        return v

    def wrapper(self, fn: str, adecl: ast.ActionDecl, ref: ast.ActionRef) -> str:
        """The dispatch target for one action: the action itself when it takes only
        plain action data, else a wrapper binding directional args / converting data."""
        c = self.c
        target = c.fn_name(adecl)
        directional = [p for p in adecl.params if p.direction]
        data = [p for p in adecl.params if not p.direction]
        needs_conv = any(_needs_conversion(_u(resolved(p.type))) for p in data)
        if not directional and not needs_conv:
            return target
        wname = f"{fn}__{adecl.name}"
        bound = [a.value for a in ref.args][: len(directional)]
        if len(bound) < len(directional):
            raise P4Error(ref.loc, f"action '{adecl.name}': directional arguments missing")
        dnames = [f"d{i}" for i in range(len(data))]
        with c.em.block(f"def {wname}(c, {', '.join(dnames)}):"):
            pyargs, back = c.args_for(directional, bound)
            for p, dn in zip(data, dnames, strict=True):
                pyargs.append(_convert_data(dn, _u(resolved(p.type))))
            if back:
                c.line(f"r = {target}(c, {', '.join(pyargs)})")
                c.copy_back("r", back)
            else:
                c.line(f"{target}(c, {', '.join(pyargs)})")
        return wname

    def setup(self) -> TableSetup:
        decl = self.decl
        c = self.c
        ref = decl.default_action
        if ref is None:
            default_name = "NoAction"
            args: tuple[int, ...] = ()
        else:
            if not isinstance(ref.decl, ast.ActionDecl):
                raise P4Error(ref.loc, f"table {decl.name}: bad default action")
            default_name = c.cp_name(ref.decl)
            args = self.data_args(ref)
        setup = TableSetup(self.name, default_name, args, decl.default_is_const, decl.entries_const)
        for entry in decl.entries:
            if entry.action is None or not isinstance(entry.action.decl, ast.ActionDecl):
                raise P4Error(entry.loc, "table entry without an action")
            keys = [self.entry_key(k, kd) for k, kd in zip(entry.keys, decl.keys, strict=False)]
            prio = entry.priority.const if entry.priority is not None else None
            setup.entries.append(
                (keys, c.cp_name(entry.action.decl), self.data_args(entry.action), prio)
            )
        return setup

    def data_args(self, ref: ast.ActionRef) -> tuple[int, ...]:
        adecl = ref.decl
        data = [p for p in adecl.params if not p.direction]
        vals = [a.value for a in ref.args][-len(data) :] if data else []
        out = []
        for p, v in zip(data, vals, strict=True):
            if v is None or v.const is None:
                raise Unsupported(ref.loc, "action data that is not a compile-time constant")
            out.append(_raw_const(v.const, _u(resolved(p.type)), self.c, v.type))
        return tuple(out)

    def entry_key(self, k: ast.Expr, kd: ast.KeyElement) -> tuple[Any, ...]:
        """A const entry's key as `(kind, ...)`: ("exact", v), ("ternary", v, m),
        ("lpm", v, prefix_len), ("range", lo, hi), ("optional", v) or ("any",)."""
        kt = type_of(kd.expr)
        width = T.width_of(kt) if isinstance(kt, T.BitT | T.BoolT) else 32
        if isinstance(k, ast.DefaultExpr | ast.DontCare):
            return ("any",)
        if isinstance(k, ast.MaskExpr):
            v = _raw_const(k.value.const, kt, self.c, k.value.type)
            m = _raw_const(k.mask.const, kt, self.c, k.mask.type)
            if kd.match_kind == "lpm":
                plen = bin(m).count("1")
                return ("lpm", v & m, plen)
            return ("ternary", v & m, m)
        if isinstance(k, ast.RangeExpr):
            return (
                "range",
                _raw_const(k.lo.const, kt, self.c, k.lo.type),
                _raw_const(k.hi.const, kt, self.c, k.hi.type),
            )
        v = _raw_const(k.const, kt, self.c, k.type)
        if kd.match_kind == "lpm":
            return ("lpm", v, width)
        if kd.match_kind == "ternary":
            return ("ternary", v, mask(width))
        if kd.match_kind == "optional":
            return ("optional", v)
        if kd.match_kind == "range":
            return ("range", v, v)
        return ("exact", v)


def _needs_conversion(t: Any) -> bool:
    return isinstance(t, T.BoolT) or (isinstance(t, T.BitT) and t.signed)


def _convert_data(name: str, t: Any) -> str:
    if isinstance(t, T.BoolT):
        return f"bool({name})"
    if isinstance(t, T.BitT) and t.signed:
        return sx(name, t.width)
    return name


def _raw_const(value: Any, t: Any, c: Compiler, t2: Any = None) -> int:
    """A compile-time value as the unsigned int the control plane uses."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        lit = c.member_lit(t2 if t2 is not None else t, value)
        if lit is None:
            raise Unsupported(None, f"constant '{value}' as table data")
        value = int(lit)
    if not isinstance(value, int):
        raise Unsupported(None, "a key or action data value that is not a constant")
    u = _u(t)
    if isinstance(u, T.BitT):
        return value & mask(u.width)
    return value
