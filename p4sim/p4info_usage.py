"""Which declarations of a checked program p4c would keep for the control plane.

p4c's front end deletes declarations nothing refers to before it serializes the
P4Info: a table never applied disappears, and so does an action that no
(remaining) table lists and nothing calls; a parser or control instance never
applied disappears with everything in it. Extern instances are always kept.
p4sim reproduces that as reachability from the `apply` blocks (and parser
states) of the blocks bound to `main`.

The walk also records, per top-level block, the order in which the block first
refers to top-level actions: p4c copies such actions (NoAction) into each
control that uses them, ahead of the control's own declarations, which fixes
their position in the P4Info action list.
"""

from __future__ import annotations

from typing import Any

from . import naming
from .astwalk import walk
from .frontend import ast


class Usage:
    """Reachability of tables, actions, block instances and functions."""

    def __init__(self, program: ast.Program) -> None:
        self.program = program
        self.used: set[int] = set()
        self.global_actions = {d.name: d for d in program.decls if isinstance(d, ast.ActionDecl)}
        self.functions = {d.name: d for d in program.decls if isinstance(d, ast.FunctionDecl)}
        self.blocks = {
            d.name: d for d in program.decls if isinstance(d, (ast.ControlDecl, ast.ParserDecl))
        }
        # id(top-level block decl) -> top-level actions in order of first use
        self.global_action_order: dict[int, list[ast.ActionDecl]] = {}
        self._current: list[ast.ActionDecl] = []
        self._seen_here: set[int] = set()
        for top in naming.block_instances(program):
            self._current = self.global_action_order.setdefault(id(top.decl), [])
            self._seen_here = {id(a) for a in self._current}
            self._visit_block(top.decl)

    def is_used(self, decl: ast.Node) -> bool:
        return id(decl) in self.used

    # ------------------------------------------------------------------ walk

    def _visit_block(self, decl: ast.ControlDecl | ast.ParserDecl) -> None:
        if isinstance(decl, ast.ControlDecl):
            self._scan(decl.body, decl)
        else:
            for state in decl.states:
                self._scan(state, decl)

    def _scan(self, node: ast.Node, block: ast.ControlDecl | ast.ParserDecl) -> None:
        for n in walk(node):
            if isinstance(n, ast.PathExpr):
                self._use(self._resolve(n.decl, n.name, block), block)
            elif isinstance(n, ast.Call):
                if n.target is not None:
                    self._use(n.target, block)
            elif isinstance(n, ast.ActionRef):
                self._use(self._resolve(n.decl, n.name, block), block)

    def _resolve(self, decl: Any, name: str, block: ast.ControlDecl | ast.ParserDecl) -> Any:
        """The declaration a name refers to: the checker's answer, else the
        block's locals, else the top level."""
        if decl is not None:
            return decl
        for local in block.locals:
            if getattr(local, "name", None) == name:
                return local
        return self.global_actions.get(name) or self.functions.get(name)

    def _use(self, decl: Any, block: ast.ControlDecl | ast.ParserDecl) -> None:
        if decl is None:
            return
        if isinstance(decl, ast.ActionDecl) and decl in self.global_actions.values():
            if id(decl) not in self._seen_here:
                self._seen_here.add(id(decl))
                self._current.append(decl)
        if id(decl) in self.used:
            return
        if isinstance(decl, ast.TableDecl):
            self.used.add(id(decl))
            self._scan(decl, block)
            if decl.default_action is None:
                # p4c's front end gives such a table `default_action = NoAction`.
                self._use(self.global_actions.get("NoAction"), block)
        elif isinstance(decl, ast.ActionDecl):
            self.used.add(id(decl))
            if decl.body is not None:
                self._scan(decl.body, block)
        elif isinstance(decl, ast.FunctionDecl):
            self.used.add(id(decl))
            if decl.body is not None:
                self._scan(decl.body, block)
        elif isinstance(decl, ast.Instantiation):
            self.used.add(id(decl))
            sub = self._instance_block(decl)
            if sub is not None:
                self._visit_block(sub)
            else:
                for arg in decl.args:
                    self._scan(arg, block)
        elif isinstance(decl, (ast.ControlDecl, ast.ParserDecl)):
            # `C.apply(...)` on a control type: an implicit instance.
            self.used.add(id(decl))
            self._visit_block(decl)
        elif isinstance(decl, ast.Decl):
            self.used.add(id(decl))

    def _instance_block(self, inst: ast.Instantiation) -> ast.ControlDecl | ast.ParserDecl | None:
        resolved = getattr(inst.type, "resolved", None)
        decl = getattr(resolved, "decl", None)
        if isinstance(decl, (ast.ControlDecl, ast.ParserDecl)):
            return decl
        if isinstance(inst.type, ast.NamedType):
            return self.blocks.get(inst.type.name.lstrip("."))
        return None
