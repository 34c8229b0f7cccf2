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

from p4sim.frontend import ast
from p4sim.frontend.astwalk import children

from . import naming


class Usage:
    """Which tables, actions, block instances and functions p4c keeps.

    Rules (p4c front end): a table is kept when something applies it; an
    action is kept when a kept table lists it (`table_actions`) or a control's
    `apply` block calls it directly (`direct_actions`). An action called only
    from other actions is inlined into them and disappears, and an action only
    ever called directly loses its parameters (they become locals), so only
    actions in `table_actions` show parameters in P4Info. Code behind a
    constant condition (`if (false)`, `false ? a : b`, `false && x`) is folded
    away before any of this, so references there do not count.
    """

    def __init__(self, program: ast.Program) -> None:
        self.program = program
        self.used: set[int] = set()
        self.table_actions: set[int] = set()
        self.direct_actions: set[int] = set()
        self.global_actions = {d.name: d for d in program.decls if isinstance(d, ast.ActionDecl)}
        self._global_ids = {id(d) for d in self.global_actions.values()}
        self.functions = {d.name: d for d in program.decls if isinstance(d, ast.FunctionDecl)}
        self.blocks = {
            d.name: d for d in program.decls if isinstance(d, (ast.ControlDecl, ast.ParserDecl))
        }
        # id(top-level block decl) -> top-level actions in order of first use
        self.global_action_order: dict[int, list[ast.ActionDecl]] = {}
        self._current: list[ast.ActionDecl] = []
        self._seen_here: set[int] = set()
        self._inlining: set[int] = set()
        for top in naming.block_instances(program):
            self._current = self.global_action_order.setdefault(id(top.decl), [])
            self._seen_here = {id(a) for a in self._current}
            self._visit_block(top.decl)

    def is_used(self, decl: ast.Node) -> bool:
        return id(decl) in self.used

    def has_params(self, action: ast.ActionDecl) -> bool:
        """Whether P4Info lists the action's parameters (it is in some table)."""
        return id(action) in self.table_actions

    # ------------------------------------------------------------------ walk

    def _visit_block(self, decl: ast.ControlDecl | ast.ParserDecl) -> None:
        if isinstance(decl, ast.ControlDecl):
            self._scan(decl.body, decl, "body")
        else:
            for state in decl.states:
                self._scan(state, decl, "body")

    def _scan(self, node: ast.Node, block: ast.ControlDecl | ast.ParserDecl, ctx: str) -> None:
        """Record what `node` refers to. `ctx` is "body" (a control's apply
        block or a parser), "table" (inside a table declaration) or "action"
        (inside an action body, where action calls get inlined)."""
        stack: list[ast.Node] = [node]
        while stack:
            n = stack.pop()
            live = _live_children(n)
            if live is not None:
                stack.extend(reversed(live))
                continue
            if isinstance(n, ast.ActionRef):
                self._use(self._resolve(n.decl, n.name, block), block, "table")
            elif isinstance(n, ast.Call):
                target = n.target
                if target is None and isinstance(n.func, ast.PathExpr):
                    target = self._resolve(n.func.decl, n.func.name, block)
                if target is not None:
                    self._use(target, block, ctx)
                stack.extend(reversed([c for c in children(n) if c is not n.func]))
                if not isinstance(n.func, ast.PathExpr):
                    stack.append(n.func)
                continue
            elif isinstance(n, ast.PathExpr):
                self._use(self._resolve(n.decl, n.name, block), block, ctx)
            stack.extend(reversed(list(children(n))))

    def _resolve(self, decl: Any, name: str, block: ast.ControlDecl | ast.ParserDecl) -> Any:
        """The declaration a name refers to: the checker's answer, else the
        block's locals, else the top level."""
        if decl is not None:
            return decl
        for local in block.locals:
            if getattr(local, "name", None) == name:
                return local
        return self.global_actions.get(name) or self.functions.get(name)

    def _use(self, decl: Any, block: ast.ControlDecl | ast.ParserDecl, ctx: str) -> None:
        if decl is None:
            return
        if isinstance(decl, ast.ActionDecl):
            self._use_action(decl, block, ctx)
            return
        if id(decl) in self.used:
            return
        if isinstance(decl, ast.TableDecl):
            self.used.add(id(decl))
            self._scan(decl, block, "table")
            if decl.default_action is None:
                # p4c's front end gives such a table `default_action = NoAction`.
                self._use(self.global_actions.get("NoAction"), block, "table")
        elif isinstance(decl, ast.FunctionDecl):
            self.used.add(id(decl))
            if decl.body is not None:
                self._scan(decl.body, block, ctx)
        elif isinstance(decl, ast.Instantiation):
            self.used.add(id(decl))
            sub = self._instance_block(decl)
            if sub is not None:
                self._visit_block(sub)
            else:
                for arg in decl.args:
                    self._scan(arg, block, ctx)
        elif isinstance(decl, (ast.ControlDecl, ast.ParserDecl)):
            # `C.apply(...)` on a control type: an implicit instance.
            self.used.add(id(decl))
            self._visit_block(decl)
        elif isinstance(decl, ast.Decl):
            self.used.add(id(decl))

    def _use_action(
        self, decl: ast.ActionDecl, block: ast.ControlDecl | ast.ParserDecl, ctx: str
    ) -> None:
        if ctx == "action":
            # Inlined into the calling action: only what its body uses counts.
            if id(decl) in self._inlining or decl.body is None:
                return
            self._inlining.add(id(decl))
            self._scan(decl.body, block, "action")
            self._inlining.discard(id(decl))
            return
        if id(decl) in self._global_ids and id(decl) not in self._seen_here:
            self._seen_here.add(id(decl))
            self._current.append(decl)
        (self.table_actions if ctx == "table" else self.direct_actions).add(id(decl))
        if id(decl) in self.used:
            return
        self.used.add(id(decl))
        if decl.body is not None:
            self._scan(decl.body, block, "action")

    def _instance_block(self, inst: ast.Instantiation) -> ast.ControlDecl | ast.ParserDecl | None:
        resolved = getattr(inst.type, "resolved", None)
        decl = getattr(resolved, "decl", None)
        if isinstance(decl, (ast.ControlDecl, ast.ParserDecl)):
            return decl
        if isinstance(inst.type, ast.NamedType):
            return self.blocks.get(inst.type.name.lstrip("."))
        return None


def _const_bool(e: ast.Expr | None) -> bool | None:
    if e is None:
        return None
    if isinstance(e.const, bool):
        return e.const
    if isinstance(e, ast.BoolLit):
        return e.value
    return None


def _live_children(n: ast.Node) -> list[ast.Node] | None:
    """For a node whose condition is a compile-time constant, the children that
    survive constant folding; None for every other node."""
    if isinstance(n, ast.IfStmt):
        c = _const_bool(n.cond)
        if c is None:
            return None
        branch = n.then if c else n.other
        return [branch] if branch is not None else []
    if isinstance(n, ast.Ternary):
        c = _const_bool(n.cond)
        if c is None:
            return None
        return [n.then if c else n.other]
    if isinstance(n, ast.Binary) and n.op in ("&&", "||"):
        c = _const_bool(n.left)
        if c is None:
            return None
        short = (n.op == "&&" and not c) or (n.op == "||" and c)
        return [] if short else [n.right]
    return None
