"""Helpers shared by the type checker tests: build a program from a fragment with
core.p4 and v1model.p4 in front, check it, and assert where an error points."""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from p4sim.frontend import ast, parse, preprocess
from p4sim.frontend.check import check
from p4sim.frontend.errors import P4Error

FILE = "t.p4"

HEADERS = """
header h_t { bit<8> a; bit<8> b; bit<16> w; int<8> s; }
header u_t { bit<32> v; }
header_union hu_t { h_t h; u_t u; }
struct hs_t { h_t h; h_t[3] st; u_t u; hu_t un; }
struct m_t { bit<32> x; bit<8> y; bool f; bit<4> n; int<8> i; }
enum color_t { RED, GREEN }
enum bit<8> kind_t { A = 1, B = 2 }
type bit<9> port_t;
"""


@functools.cache
def prelude() -> str:
    """core.p4 + v1model.p4 preprocessed once; fragments are appended after it."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "prelude.p4"
        p.write_text("#include <core.p4>\n#include <v1model.p4>\n")
        return preprocess(p)


def program(src: str) -> ast.Program:
    return parse(prelude() + f'\n# 1 "{FILE}"\n' + src, FILE)


def ok(src: str, main: bool = False) -> ast.Program:
    prog = program(src)
    check(prog, require_main=main)
    return prog


def at(src: str, needle: str, offset: int = 0, nth: int = 0) -> tuple[int, int]:
    """1-based (line, col) of the `nth` occurrence of `needle` in `src`, plus `offset`."""
    i = -1
    for _ in range(nth + 1):
        i = src.index(needle, i + 1)
    i += offset
    line = src.count("\n", 0, i) + 1
    col = i - (src.rfind("\n", 0, i) + 1) + 1
    return line, col


def bad(
    src: str,
    needle: str,
    message: str,
    offset: int = 0,
    nth: int = 0,
    exc: type[P4Error] = P4Error,
) -> P4Error:
    """Check `src`, expect `exc` whose message matches the regex `message` and whose
    location is the start of `needle` (+ offset)."""
    with pytest.raises(exc) as info:
        ok(src)
    e = info.value
    assert re.search(message, e.message), e.message
    assert e.loc.file == FILE, str(e)
    assert (e.loc.line, e.loc.col) == at(src, needle, offset, nth), str(e)
    return e


def ctl(body: str, locals_: str = "", extra: str = "") -> str:
    """A control over the test headers with `locals_` and apply `body`."""
    return (
        HEADERS
        + extra
        + "\ncontrol C(inout hs_t hdr, inout m_t meta, inout standard_metadata_t sm) {\n"
        + locals_
        + "\n    apply {\n"
        + body
        + "\n    }\n}\n"
    )


def find(decls: Sequence[ast.Decl | ast.Stmt], name: str) -> ast.Decl:
    for d in decls:
        if getattr(d, "name", None) == name:
            return d  # type: ignore[return-value]
    raise AssertionError(f"no declaration {name}")


def body_of(prog: ast.Program, control: str = "C") -> list[ast.Stmt | ast.Decl]:
    c = find(prog.decls, control)
    assert isinstance(c, ast.ControlDecl)
    return c.body.stmts


def const_value(expr: str, type_: str = "int", extra: str = "") -> object:
    """The folded value of `expr` as the initializer of `const type_ X`."""
    prog = ok(HEADERS + extra + f"\nconst {type_} X = {expr};\n")
    d = find(prog.decls, "X")
    assert isinstance(d, ast.ConstDecl) and d.value is not None
    return d.value.const
