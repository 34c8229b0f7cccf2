"""Source locations and the one error type the front end raises."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Loc:
    """A position in the original (pre-preprocessor) source: 1-based line and column."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NOWHERE = Loc("<builtin>", 0, 0)


class P4Error(Exception):
    """A program the front end rejects: a syntax, name, type or width error, or a
    construct p4sim does not support. Printed as `file:line:col: error: message`."""

    def __init__(self, loc: Loc | None, message: str) -> None:
        self.loc = loc or NOWHERE
        self.message = message
        super().__init__(f"{self.loc}: error: {message}")


class Unsupported(P4Error):
    """A valid P4_16 construct that p4sim does not implement (never silently ignored)."""

    def __init__(self, loc: Loc | None, what: str) -> None:
        super().__init__(loc, f"unsupported by p4sim: {what}")
