"""An indented line buffer for generated Python source."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class Emitter:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0
        self._tmp = 0

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        """Write `header` (ending in ':') and indent what follows; an empty body
        gets a `pass` so the result always compiles."""
        self.line(header)
        self.depth += 1
        start = len(self.lines)
        try:
            yield
        finally:
            if len(self.lines) == start:
                self.line("pass")
            self.depth -= 1

    def tmp(self, hint: str = "t") -> str:
        self._tmp += 1
        return f"_{hint}{self._tmp}"

    def source(self) -> str:
        return "\n".join(self.lines) + "\n"
