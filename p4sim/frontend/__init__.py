"""p4sim's front end: preprocess, parse and check P4_16 programs for v1model.

`load(path)` is the usual entry point: it runs the C preprocessor (with the
architecture folder holding core.p4 and v1model.p4 on the include path), parses
the result and type-checks it. `parse` alone gives the unchecked tree; the
device config path calls `parse_and_check` on text that was preprocessed
earlier, so no preprocessor is needed there.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from . import ast
from .errors import Loc, P4Error, Unsupported
from .parser import parse
from .preprocess import ARCH_DIR, preprocess

__all__ = [
    "ARCH_DIR",
    "Loc",
    "P4Error",
    "Unsupported",
    "load",
    "parse",
    "parse_and_check",
    "preprocess",
]


def parse_and_check(text: str, filename: str = "<input>") -> ast.Program:
    """Parse preprocessed text, then type-check it in place (see ast.py's contract)."""
    from .check import check  # imported here: the checker is a separate, heavier pass

    program = parse(text, filename)
    check(program)
    return program


def load(
    path: str | os.PathLike[str],
    defines: Mapping[str, str | int | None] | None = None,
    include_dirs: Iterable[str | os.PathLike[str]] | None = None,
) -> ast.Program:
    """Preprocess, parse and check the P4 program at `path`."""
    text = preprocess(path, defines, include_dirs)
    return parse_and_check(text, os.fspath(path))
