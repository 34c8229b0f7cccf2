"""Tables: key bytes, lookup in the native table (`p4_table.h`), action dispatch.

Each table becomes `static p4_apply_t B<k>_T_<name>(F *c, p4_ctx *ctx)`: it writes
the key (each match field big-endian in whole bytes, in P4Info order), looks it up,
and runs the entry's action, or the table's current default action on a miss, through
a `switch` on the P4Info action id, as the Python back end's dispatch dict does.
Action data arrives as unsigned 64-bit words; bool and int<W> parameters are
converted, directional arguments written in the table's `actions` list are bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from p4sim.backend.common.tables import table_setup
from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error, Unsupported

from .ctypes_gen import u

if TYPE_CHECKING:
    from .cgen import CCompiler


def type_of(e: ast.Expr) -> Any:
    return u(e.type)


class CTable:
    def __init__(self, comp: CCompiler, decl: ast.TableDecl) -> None:
        self.c = comp
        self.decl = decl
        self.name = comp.cp_name(decl)

    def emit(self, fn: str, frame: str) -> None:
        c = self.c
        decl = self.decl
        saved = c.begin_fn()
        c.line("(void)c;")
        proto = f"static p4_apply_t {fn}({frame} *c, p4_ctx *ctx)"
        try:
            index = c.binder.table(self.name)
        except P4Error:
            # Not in the P4Info: p4c drops tables the program never applies.
            c.line("p4_throw(ctx, P4_SIG_DROP); /* table not in the P4Info */")
            c.line("return (p4_apply_t){false, 0};")
            c.end_fn(proto, saved)
            return
        c.loc_comment(decl)
        c.line(f"p4t_table *t = ctx->dev->tables[{index}];")
        widths = []
        if decl.keys:
            total = 0
            parts = []
            for k in decl.keys:
                kt = type_of(k.expr)
                if not isinstance(kt, T.BitT | T.BoolT):
                    raise Unsupported(k.loc, f"a table key of type {kt} in the C back end")
                w = T.width_of(kt)
                nb = (w + 7) // 8
                v = c.ex(k.expr)
                if isinstance(kt, T.BitT) and kt.signed:
                    v = f"((uint64_t)({v}) & P4_MASK64({w}))"
                parts.append(f"p4_put_be(key + {total}, (p4_u128)({v}), {nb});")
                widths.append(w)
                total += nb
            c.line(f"uint8_t key[{total}];")
            for p in parts:
                c.line(p)
            c.line("p4t_entry *e = p4t_lookup(t, key, ctx->nbytes, ctx->now_ns);")
        else:
            c.line("p4t_entry *e = NULL;")
        c.key_widths[self.name] = widths
        if "meters" in decl.properties:
            c.open("if (e)")
            c.line(
                f"ctx->dm_color = (uint64_t)ctx->dev->meter(2, {index}, e->handle, ctx->nbytes);"
            )
            c.line("ctx->dm_hit = true;")
            c.close(" else {")
            c.depth += 1
            c.line("ctx->dm_hit = false;")
            c.close()
        c.line("const p4t_entry *a = e ? e : p4t_default(t);")
        c.line("p4_apply_t r = {e != NULL, a->action_id};")
        c.open("switch (a->action_id)")
        for ref in self.refs():
            adecl = ref.decl
            if not isinstance(adecl, ast.ActionDecl):
                raise P4Error(ref.loc, f"table {decl.name}: '{ref.name}' is not an action")
            aid = c.binder.action_id(c.cp_name(adecl))
            c.open(f"case {aid}:")
            self.dispatch(adecl, ref)
            c.line("break;")
            c.close()
        c.line("default:")
        c.line("    p4_throw(ctx, P4_SIG_FAULT); /* no such action */")
        c.close()
        c.line("return r;")
        c.end_fn(proto, saved)
        c.table_setups.append(table_setup(c, decl))

    def refs(self) -> list[ast.ActionRef]:
        decl = self.decl
        refs = list(decl.actions)
        listed = {id(r.decl) for r in refs}
        default = decl.default_action
        if default is not None and id(default.decl) not in listed:
            refs.append(default)
        elif default is None:
            no_action = next(
                (
                    d
                    for d in self.c.prog.decls
                    if isinstance(d, ast.ActionDecl) and d.name == "NoAction"
                ),
                None,
            )
            if no_action is None:
                raise P4Error(decl.loc, f"table {decl.name} needs NoAction (core.p4)")
            if id(no_action) not in listed:
                refs.append(ast.ActionRef(name="NoAction", decl=no_action))
        return refs

    def dispatch(self, adecl: ast.ActionDecl, ref: ast.ActionRef) -> None:
        c = self.c
        directional = [p for p in adecl.params if p.direction]
        data = [p for p in adecl.params if not p.direction]
        bound = [a.value for a in ref.args][: len(directional)]
        if len(bound) < len(directional):
            raise P4Error(ref.loc, f"action '{adecl.name}': directional arguments missing")
        cargs, back = c.args_for(directional, bound)
        for i, p in enumerate(data):
            pt = u(p.type.resolved if p.type else None)
            word = f"a->args[{i}]"
            if isinstance(pt, T.BoolT):
                cargs.append(f"({word} != 0)")
            elif isinstance(pt, T.BitT) and pt.signed:
                cargs.append(f"p4_sx64({word}, {pt.width})")
            elif isinstance(pt, T.BitT) and pt.width <= 64:
                cargs.append(word)
            elif isinstance(pt, T.BitT) and pt.width <= 128:
                # the high half follows the low halves of all the data (ntables._words)
                cargs.append(f"(((p4_u128)a->args[{len(data) + i}] << 64) | (p4_u128){word})")
            else:
                raise Unsupported(p.loc, f"action data of type {pt} in the C back end")
        c.line(f"{c.fn_name(adecl)}({', '.join(c.fn_prefix(adecl) + cargs)});")
        c.copy_back(back)
