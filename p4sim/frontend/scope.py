"""Lexical scopes of the type checker.

A scope maps a name to what it denotes: a declaration node, or a `types.Type` for a
type variable or type parameter bound in a generic declaration. Functions, extern
functions and methods may be overloaded (v1model has two `mark_to_drop`s), so a name
holds a list; any other redeclaration in the same scope is an error.
"""

from __future__ import annotations

from typing import Any

from . import ast
from .errors import Loc, P4Error

_OVERLOADABLE = (ast.ExternFunctionDecl, ast.FunctionDecl, ast.MethodDecl)


def _arity(decl: Any) -> int:
    return len(getattr(decl, "params", []))


class Scope:
    def __init__(self, parent: Scope | None = None, kind: str = "block") -> None:
        self.parent = parent
        self.kind = kind
        self.names: dict[str, list[Any]] = {}

    def declare(self, name: str, what: Any, loc: Loc) -> None:
        """Add `name`; a clash with a declaration of this same scope is an error unless
        both are callables that differ in their number of parameters."""
        if not name:
            return
        prev = self.names.get(name)
        if prev:
            if isinstance(what, _OVERLOADABLE) and all(
                isinstance(p, _OVERLOADABLE) and _arity(p) != _arity(what) for p in prev
            ):
                prev.append(what)
                return
            where = getattr(prev[0], "loc", None)
            at = f" (previous declaration at {where})" if where and where.line else ""
            raise P4Error(loc, f"duplicate declaration of '{name}'{at}")
        self.names[name] = [what]

    def lookup(self, name: str) -> list[Any] | None:
        s: Scope | None = self
        while s is not None:
            found = s.names.get(name)
            if found:
                return found
            s = s.parent
        return None

    def lookup_local(self, name: str) -> list[Any] | None:
        return self.names.get(name)

    def root(self) -> Scope:
        s = self
        while s.parent is not None:
            s = s.parent
        return s

    def enclosing(self, kind: str) -> Scope | None:
        s: Scope | None = self
        while s is not None:
            if s.kind == kind:
                return s
            s = s.parent
        return None
