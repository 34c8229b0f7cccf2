"""Generic walks over the syntax tree (p4sim.frontend.ast).

Passes that only need "every node under X" (usage analysis, finding calls)
use these instead of one visitor method per node class. Only syntactic
children are followed: fields the checker fills with references to other
declarations (`decl`, `target`, ...) or with types are skipped, so a walk
never leaves the subtree it started in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from . import ast

# Fields of syntax nodes that point back at declarations or hold checker
# results rather than syntax: never followed when walking a subtree.
_BACK_REFS = {
    "decl",
    "target",
    "resolved_args",
    "type_bindings",
    "receiver",
    "state_decl",
    "next_decl",
    "resolved",
    "const",
    "loc",
}


def children(node: ast.Node) -> Iterator[ast.Node]:
    """Direct syntactic sub-nodes of `node`, in source order."""
    for f in dataclasses.fields(node):
        name = f.name
        if name in _BACK_REFS:
            continue
        if name == "type" and isinstance(node, ast.Expr):
            continue
        if name == "params" and isinstance(node, ast.Call):
            continue
        yield from _nodes_in(getattr(node, name))


def _nodes_in(value: Any) -> Iterator[ast.Node]:
    if isinstance(value, ast.Node):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _nodes_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _nodes_in(v)


def walk(node: ast.Node) -> Iterator[ast.Node]:
    """`node` and all its syntactic descendants, depth first, in source order."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(list(children(n))))
