"""Parsers: the state machine as one Python function with a dispatch loop.

States are numbered; the body is `while True:` over an `if st == k` chain, each state
ending by setting `st` (a transition), `return` (accept) or raising `ParserReject`
(reject / error). A transition to a state that has no other predecessor, or whose body
is tiny (the head of an option loop), copies that state's code in place instead of going
round the dispatch, a few levels deep; every state stays in the dispatch as well.
Parser-local variables live in the frame (`c.l…`), state-local ones are Python locals. Errors are raised by the packet cursor (PacketTooShort), the stack
helpers (StackOutOfBounds), `verify`, varbit extraction (HeaderTooShort) and a select
without a matching case (NoMatch); the v1model pipeline turns them into
`standard_metadata.parser_error` and lets the packet continue into ingress, as bmv2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from p4sim.frontend import ast
from p4sim.frontend.errors import P4Error

if TYPE_CHECKING:
    from .codegen import Compiler


MAX_INLINE = 3  # states copied into one another along one path


class ParserGen:
    def __init__(self, comp: Compiler, decl: ast.ParserDecl) -> None:
        self.c = comp
        self.decl = decl
        self.ids = {s.name: i for i, s in enumerate(decl.states)}
        if "start" not in self.ids:
            raise P4Error(decl.loc, f"parser '{decl.name}' has no start state")
        self.by_name = {s.name: s for s in decl.states}
        self.refs: dict[str, int] = {}
        for st in decl.states:
            tr = st.transition
            targets = [tr] if isinstance(tr, str) else [case.state for case in tr.cases]
            for t in targets:
                self.refs[t] = self.refs.get(t, 0) + 1
        self.inlining: list[str] = []  # states being copied in place, innermost last

    def emit(self) -> None:
        # A loop over numbered states; the state is found by a balanced tree of
        # comparisons, so a parser with many states (option loops revisit states
        # many times per packet) pays O(log n) per transition, not O(n).
        self.c.line(f"st = {self.ids['start']}")
        with self.c.em.block("while True:"):
            self._dispatch(list(self.decl.states))

    def _dispatch(self, states: list[ast.ParserState]) -> None:
        em = self.c.em
        if len(states) <= 3:
            for i, state in enumerate(states):
                last = i == len(states) - 1
                header = (
                    "else:"
                    if last and i
                    else f"{'if' if i == 0 else 'elif'} st == {self.ids[state.name]}:"
                )
                if last and i == 0:
                    header = "if True:"
                with em.block(header):
                    self.trace_state(state.name)
                    self.c.stmts(state.stmts)
                    self.transition(state.transition)
            return
        mid = len(states) // 2
        with em.block(f"if st < {self.ids[states[mid].name]}:"):
            self._dispatch(states[:mid])
        with em.block("else:"):
            self._dispatch(states[mid:])

    def trace_state(self, name: str) -> None:
        if self.c.trace:
            self.c.line(f"_tr.state({self.decl.name!r}, {name!r})")

    def goto(self, name: str) -> None:
        if name == "accept":
            self.c.line("return")
        elif name == "reject":
            self.c.line("raise _rt.ParserReject(None)")
        else:
            if name not in self.ids:
                raise P4Error(self.decl.loc, f"unknown parser state '{name}'")
            if self._inline(name):
                state = self.by_name[name]
                self.inlining.append(name)
                self.trace_state(name)
                self.c.stmts(state.stmts)
                self.transition(state.transition)
                self.inlining.pop()
                return
            self.c.line(f"st = {self.ids[name]}")
            self.c.line("continue")

    def _inline(self, name: str) -> bool:
        """Copy state `name` in place of a jump to it? Not `start` (the dispatch
        begins there), never into itself, at most MAX_INLINE deep."""
        if name == "start" or name in self.inlining or len(self.inlining) >= MAX_INLINE:
            return False
        return self.refs.get(name, 0) == 1 or len(self.by_name[name].stmts) <= 1

    def transition(self, tr: str | ast.SelectExpr) -> None:
        if isinstance(tr, str):
            self.goto(tr)
            return
        keys = []
        for e in tr.exprs:
            k = self.c.em.tmp("k")
            self.c.line(f"{k} = {self.c.ex(e)}")
            keys.append((k, e))
        first = True
        for case in tr.cases:
            cond = self.case_cond(case.keyset, keys)
            if cond is None:
                if first:
                    self.goto(case.state)
                else:
                    with self.c.em.block("else:"):
                        self.goto(case.state)
                return
            with self.c.em.block(f"{'if' if first else 'elif'} {cond}:"):
                self.goto(case.state)
            first = False
        no_match = self.c.error_code("NoMatch")
        if first:
            self.c.line(f"raise _rt.ParserReject({no_match})")
        else:
            with self.c.em.block("else:"):
                self.c.line(f"raise _rt.ParserReject({no_match})")

    def case_cond(self, keyset: ast.Expr, keys: list[tuple[str, ast.Expr]]) -> str | None:
        """The Python condition of one keyset (None: always matches)."""
        if isinstance(keyset, ast.ListExpr) and (len(keys) > 1 or len(keyset.items) == 1):
            items = keyset.items
        else:
            items = [keyset] * len(keys) if _is_default(keyset) else [keyset]
        if len(items) != len(keys):
            raise P4Error(keyset.loc, "keyset size does not match the select expression")
        conds = []
        for (k, kexpr), item in zip(keys, items, strict=True):
            cond = self.one(k, kexpr, item)
            if cond is not None:
                conds.append(cond)
        return " and ".join(conds) if conds else None

    def one(self, k: str, kexpr: ast.Expr, item: ast.Expr) -> str | None:
        if _is_default(item):
            return None
        if isinstance(item, ast.MaskExpr):
            v = self.c.ex(item.value)
            m = self.c.ex(item.mask)
            return f"({k} & {m}) == ({v} & {m})"
        if isinstance(item, ast.RangeExpr):
            return f"{self.c.ex(item.lo)} <= {k} <= {self.c.ex(item.hi)}"
        v = self.c.ex(item)
        del kexpr
        return f"{k} == {v}"


def _is_default(e: ast.Expr) -> bool:
    return isinstance(e, ast.DefaultExpr | ast.DontCare) or (
        isinstance(e, ast.PathExpr) and e.name in ("default", "_")
    )
