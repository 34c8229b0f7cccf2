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

from p4sim.backend.common.tables import table_setup
from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error

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
        c.table_setups.append(table_setup(c, decl))

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


def _needs_conversion(t: Any) -> bool:
    return isinstance(t, T.BoolT) or (isinstance(t, T.BitT) and t.signed)


def _convert_data(name: str, t: Any) -> str:
    if isinstance(t, T.BoolT):
        return f"bool({name})"
    if isinstance(t, T.BitT) and t.signed:
        return sx(name, t.width)
    return name
