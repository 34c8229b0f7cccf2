"""Parsers: the state machine as labels and `goto`s in the parser's apply function.

Each state reachable from `start` becomes a block `S_<name>: { ... }`; a transition
is a `goto`, `accept` a `return`, `reject` and parser errors `p4_reject` (which
leaves through the parser's handler, see `cpipeline`). A select without a matching
case is the NoMatch error, as in the Python back end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from p4sim.frontend import ast
from p4sim.frontend.errors import P4Error

from .ctypes_gen import ident

if TYPE_CHECKING:
    from .cgen import CCompiler


class CParser:
    def __init__(self, comp: CCompiler, decl: ast.ParserDecl) -> None:
        self.c = comp
        self.decl = decl
        self.by_name = {s.name: s for s in decl.states}
        if "start" not in self.by_name:
            raise P4Error(decl.loc, f"parser '{decl.name}' has no start state")

    def reachable(self) -> list[ast.ParserState]:
        seen: list[str] = []
        todo = ["start"]
        while todo:
            name = todo.pop()
            if name in seen or name not in self.by_name:
                continue
            seen.append(name)
            tr = self.by_name[name].transition
            targets = [tr] if isinstance(tr, str) else [case.state for case in tr.cases]
            todo.extend(reversed(targets))
        return [s for s in self.decl.states if s.name in seen]

    def emit(self) -> None:
        c = self.c
        states = self.reachable()
        c.line("goto S_start;")
        for st in states:
            c.depth -= 1
            c.line(f"S_{ident(st.name)}: /* state {st.name} */")
            c.depth += 1
            c.open("")
            c.stmts(st.stmts)
            self.transition(st.transition)
            c.close()

    def goto(self, name: str) -> None:
        if name == "accept":
            self.c.line("return;")
        elif name == "reject":
            self.c.line("p4_reject(ctx, -1);")
        elif name in self.by_name:
            self.c.line(f"goto S_{ident(name)};")
        else:
            raise P4Error(self.decl.loc, f"unknown parser state '{name}'")

    def transition(self, tr: str | ast.SelectExpr) -> None:
        c = self.c
        if isinstance(tr, str):
            self.goto(tr)
            return
        c.loc_comment(tr)
        keys = []
        for e in tr.exprs:
            k = c.tmp("k")
            c.line(f"{c.ctype(e.type, e.loc)} {k} = {c.ex(e)};")
            keys.append(k)
        for case in tr.cases:
            cond = self.case_cond(case.keyset, keys)
            if cond is None:
                self.goto(case.state)
                return
            c.open(f"if ({cond})")
            self.goto(case.state)
            c.close()
        c.line(f"p4_reject(ctx, {c.error_code('NoMatch')});")

    def case_cond(self, keyset: ast.Expr, keys: list[str]) -> str | None:
        if isinstance(keyset, ast.ListExpr) and (len(keys) > 1 or len(keyset.items) == 1):
            items = keyset.items
        else:
            items = [keyset] * len(keys) if _is_default(keyset) else [keyset]
        if len(items) != len(keys):
            raise P4Error(keyset.loc, "keyset size does not match the select expression")
        conds = []
        for k, item in zip(keys, items, strict=True):
            cond = self.one(k, item)
            if cond is not None:
                conds.append(cond)
        return " && ".join(conds) if conds else None

    def one(self, k: str, item: ast.Expr) -> str | None:
        c = self.c
        if _is_default(item):
            return None
        if isinstance(item, ast.MaskExpr):
            v = c.ex(item.value)
            m = c.ex(item.mask)
            return f"(({k} & {m}) == ({v} & {m}))"
        if isinstance(item, ast.RangeExpr):
            return f"({c.ex(item.lo)} <= {k} && {k} <= {c.ex(item.hi)})"
        return f"({k} == {c.ex(item)})"


def _is_default(e: ast.Expr) -> bool:
    return isinstance(e, ast.DefaultExpr | ast.DontCare) or (
        isinstance(e, ast.PathExpr) and e.name in ("default", "_")
    )
