"""Lexing of literals and parsing of expressions: values, forms, precedence."""

from __future__ import annotations

import pytest

from p4sim.frontend import ast, parse
from p4sim.frontend.errors import P4Error
from p4sim.frontend.lexer import INT, tokenize


def expr(text: str, decls: str = "") -> ast.Expr:
    src = (
        "header H { bit<8> a; bit<8> b; }\n"
        "typedef bit<16> port_t;\n"
        "enum bit<8> E { A = 1, B = 2 }\n"
        f"{decls}\n"
        "control C(inout H h, inout H[4] st) { bit<32> x; bit<32> y; bit<32> z; bool p; bool q;\n"
        f"apply {{ x = {text}; }} }}"
    )
    c = next(d for d in parse(src).decls if d.name == "C")
    assert isinstance(c, ast.ControlDecl)
    s = c.body.stmts[0]
    assert isinstance(s, ast.AssignStmt)
    return s.rhs


def show(e: ast.Expr | None) -> str:
    """A fully parenthesised rendering, to compare tree shapes compactly."""
    if e is None:
        return "_"
    match e:
        case ast.IntLit():
            return e.text
        case ast.BoolLit():
            return str(e.value).lower()
        case ast.StringLit():
            return repr(e.value)
        case ast.PathExpr():
            return ("." if e.top_level else "") + e.name
        case ast.Member():
            return f"{show(e.expr)}.{e.name}"
        case ast.Index():
            return f"{show(e.expr)}[{show(e.index)}]"
        case ast.Slice():
            return f"{show(e.expr)}[{show(e.hi)}:{show(e.lo)}]"
        case ast.Unary():
            return f"({e.op}{show(e.expr)})"
        case ast.Binary():
            return f"({show(e.left)} {e.op} {show(e.right)})"
        case ast.Ternary():
            return f"({show(e.cond)} ? {show(e.then)} : {show(e.other)})"
        case ast.Cast():
            return f"(cast {show_type(e.to)} {show(e.expr)})"
        case ast.Call():
            targs = f"<{', '.join(show_type(t) for t in e.type_args)}>" if e.type_args else ""
            args = ", ".join((f"{a.name}=" if a.name else "") + show(a.value) for a in e.args)
            return f"{show(e.func)}{targs}({args})"
        case ast.ListExpr():
            return "{" + ", ".join(show(i) for i in e.items) + "}"
        case ast.StructInit():
            return "{" + ", ".join(f"{n} = {show(v)}" for n, v in e.fields) + "}"
        case ast.DontCare():
            return "_"
        case ast.MaskExpr():
            return f"({show(e.value)} &&& {show(e.mask)})"
        case ast.RangeExpr():
            return f"({show(e.lo)} .. {show(e.hi)})"
        case ast.DefaultExpr():
            return "default"
        case ast.TypeArgExpr():
            return show_type(e.typeref)
    raise AssertionError(type(e))


def show_type(t: ast.TypeRef | None) -> str:
    match t:
        case ast.BitType():
            return f"{'int' if t.signed else 'bit'}<{show(t.width)}>"
        case ast.VarbitType():
            return f"varbit<{show(t.width)}>"
        case ast.BaseType():
            return t.name
        case ast.NamedType():
            if t.type_args:
                return f"{t.name}<{', '.join(show_type(a) for a in t.type_args)}>"
            return t.name
        case ast.StackType():
            return f"{show_type(t.elem)}[{show(t.size)}]"
        case ast.TupleType():
            return f"tuple<{', '.join(show_type(a) for a in t.elems)}>"
    raise AssertionError(type(t))


# ----------------------------------------------------------------------------- literals


@pytest.mark.parametrize(
    ("text", "value", "width", "signed"),
    [
        ("5", 5, None, False),
        ("0x1F", 31, None, False),
        ("0X1f", 31, None, False),
        ("0b101", 5, None, False),
        ("0B1_0_1", 5, None, False),
        ("0o17", 15, None, False),
        ("0d9", 9, None, False),
        ("1_000_000", 1000000, None, False),
        ("8w5", 5, 8, False),
        ("8s5", 5, 8, True),
        ("16w0xFFFF", 0xFFFF, 16, False),
        ("32w0b1111", 15, 32, False),
        ("4s0o7", 7, 4, True),
        ("48w0xAABB_CCDD_EEFF", 0xAABBCCDDEEFF, 48, False),
        ("0", 0, None, False),
    ],
)
def test_integer_literal_forms(text: str, value: int, width: int | None, signed: bool) -> None:
    e = expr(text)
    assert isinstance(e, ast.IntLit)
    assert (e.value, e.width, e.signed, e.text) == (value, width, signed, text)


def test_negative_sized_literal_is_unary_minus() -> None:
    e = expr("-8s3")
    assert isinstance(e, ast.Unary) and e.op == "-"
    assert isinstance(e.expr, ast.IntLit) and (e.expr.value, e.expr.width, e.expr.signed) == (
        3,
        8,
        True,
    )


@pytest.mark.parametrize("bad", ["0x", "8w", "12abc", "0b102", "8x5"])
def test_malformed_literals_are_errors(bad: str) -> None:
    with pytest.raises(P4Error) as ei:
        expr(bad)
    assert (ei.value.loc.line, ei.value.loc.col) == (6, 13)


def test_string_literal_escapes() -> None:
    toks, _ = tokenize(r'"a\"b\\c\nd"', "t.p4")
    assert toks[0].value == 'a"b\\c\nd'


def test_tokens_for_operators() -> None:
    toks, _ = tokenize("a &&& b .. c |+| d |-| e ++ f << g <= h >= i == j != k && l || m", "t")
    ops = [t.text for t in toks if t.kind == "OP"]
    # `>=` is lexed as `>` `=` (joined by the parser) so that `>` closes type lists.
    assert ops == ["&&&", "..", "|+|", "|-|", "++", "<<", "<=", ">", "=", "==", "!=", "&&", "||"]
    assert all(t.kind != INT for t in toks)


def test_comments_are_skipped_and_lines_counted() -> None:
    toks, _ = tokenize("a /* one\ntwo */ b // three\nc", "t.p4")
    assert [(t.text, t.loc.line, t.loc.col) for t in toks[:3]] == [
        ("a", 1, 1),
        ("b", 2, 8),
        ("c", 3, 1),
    ]


def test_bool_string_and_paths() -> None:
    assert show(expr("true")) == "true"
    assert show(expr("p == false")) == "(p == false)"
    assert show(expr(".x")) == ".x"
    assert show(expr("error.NoMatch")) == "error.NoMatch"
    assert show(expr("E.A")) == "E.A"


# ----------------------------------------------------------------------------- precedence


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("x + y * z", "(x + (y * z))"),
        ("x * y + z", "((x * y) + z)"),
        ("x - y - z", "((x - y) - z)"),
        ("x << 2 + y", "(x << (2 + y))"),
        ("x & y == z", "((x & y) == z)"),  # P4: & binds tighter than ==, unlike C
        ("x | y ^ z & x", "(x | (y ^ (z & x)))"),
        ("x < y == p", "((x < y) == p)"),
        ("p || q && p", "(p || (q && p))"),
        ("x == y && y != z || p", "(((x == y) && (y != z)) || p)"),
        ("x >> 2", "(x >> 2)"),
        ("x >> y >> z", "((x >> y) >> z)"),
        ("x >= y", "(x >= y)"),
        ("x > y", "(x > y)"),
        ("x ++ y ++ z", "((x ++ y) ++ z)"),
        ("x |+| y |-| z", "((x |+| y) |-| z)"),
        ("x + y ++ z", "((x + y) ++ z)"),
        ("-x * y", "((-x) * y)"),
        ("~x & y", "((~x) & y)"),
        ("!p && q", "((!p) && q)"),
        ("!!p", "(!(!p))"),
        ("- -x", "(-(-x))"),
        ("+x", "(+x)"),
        ("p ? x : y + 1", "(p ? x : (y + 1))"),
        ("p ? q ? x : y : z", "(p ? (q ? x : y) : z)"),
        ("p ? x : q ? y : z", "(p ? x : (q ? y : z))"),
        ("(x + y) * z", "((x + y) * z)"),
        ("x % y / z", "((x % y) / z)"),
        ("x[7:0] ++ y[31:24]", "(x[7:0] ++ y[31:24])"),
        ("h.a + st[1].b", "(h.a + st[1].b)"),
        ("st[x + 1].a", "st[(x + 1)].a"),
    ],
)
def test_precedence(text: str, shape: str) -> None:
    assert show(expr(text)) == shape


def test_binary_loc_points_at_operator() -> None:
    e = expr("x   +   y")
    assert isinstance(e, ast.Binary)
    assert e.loc.col == e.left.loc.col + 4


# ----------------------------------------------------------------------------- postfix, casts


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("(bit<8>) x", "(cast bit<8> x)"),
        ("(bit<16>)(x + y)", "(cast bit<16> (x + y))"),
        ("(port_t) x", "(cast port_t x)"),
        ("(int<8>) -x", "(cast int<8> (-x))"),
        ("(bool) x", "(cast bool x)"),
        ("(E) x", "(cast E x)"),
        ("(bit<32>)(bit<8>) x + y", "((cast bit<32> (cast bit<8> x)) + y)"),
        ("(bit<(4 + 4)>) x", "(cast bit<(4 + 4)> x)"),
        ("(x) + y", "(x + y)"),
        ("x[15:8]", "x[15:8]"),
        ("x[7:0][3:0]", "x[7:0][3:0]"),
        ("st[2]", "st[2]"),
        ("st.next.a", "st.next.a"),
        ("h.a", "h.a"),
        ("h.minSizeInBits()", "h.minSizeInBits()"),
        ("H.minSizeInBits()", "H.minSizeInBits()"),
        ("f(x, y)", "f(x, y)"),
        ("f(a = x, b = _)", "f(a=x, b=_)"),
        ("f(_, x)", "f(_, x)"),
        ("f()", "f()"),
        ("f<bit<8>>(x)", "f<bit<8>>(x)"),
        ("f<H, bit<16>>(x)", "f<H, bit<16>>(x)"),
        ("g.lookahead<bit<16>>()", "g.lookahead<bit<16>>()"),
        ("g.lookahead<H>()[7:0]", "g.lookahead<H>()[7:0]"),
        ("x < y", "(x < y)"),
        ("{x, y, 8w1}", "{x, y, 8w1}"),
        ("{x, y,}", "{x, y}"),
        ("{}", "{}"),
        ("{a = x, b = 8w2}", "{a = x, b = 8w2}"),
        ("{a = x, b = {c = y}}", "{a = x, b = {c = y}}"),
        ('f("s")', "f('s')"),
        ("x == 16w0xFFFF ? 8w1 : 8w0", "((x == 16w0xFFFF) ? 8w1 : 8w0)"),
        ("h.isValid()", "h.isValid()"),
    ],
)
def test_postfix_and_casts(text: str, shape: str) -> None:
    assert show(expr(text)) == shape


def test_comparison_with_type_name_operand_is_not_type_args() -> None:
    # `x < y` with y a variable must stay a comparison even when followed by '>'.
    assert show(expr("x < y && y > z")) == "((x < y) && (y > z))"


def test_call_type_args_close_with_shift_like_tokens() -> None:
    e = expr("f<tuple<bit<8>, bit<16>>>(x)")
    assert show(e) == "f<tuple<bit<8>, bit<16>>>(x)"


def test_named_argument_nodes() -> None:
    e = expr("f(a = x, b = _)")
    assert isinstance(e, ast.Call)
    assert [(a.name, a.value is None) for a in e.args] == [("a", False), ("b", True)]
    assert isinstance(e.func, ast.PathExpr)


def test_member_loc_is_member_name() -> None:
    e = expr("h.a")
    assert isinstance(e, ast.Member)
    assert e.loc.col == e.expr.loc.col + 2


@pytest.mark.parametrize("bad", ["x +", "(x", "x ? y", "f(x,", "x[1:", "{a = 1, 2}", "x y"])
def test_expression_syntax_errors(bad: str) -> None:
    with pytest.raises(P4Error) as ei:
        expr(bad)
    assert "expected" in ei.value.message


def test_line_markers_switch_files_and_lines() -> None:
    text = '# 1 "a.p4"\nx\n# 5 "dir/b.p4" 1\n\ny z\n# 3 "a.p4" 2\nw\n#line 10 "c.p4"\nv\n#pragma once\nu'
    toks, files = tokenize(text, "ignored.p4")
    got = [(t.text, t.loc.file, t.loc.line, t.loc.col) for t in toks if t.kind == "ID"]
    assert got == [
        ("x", "a.p4", 1, 1),
        ("y", "dir/b.p4", 6, 1),
        ("z", "dir/b.p4", 6, 3),
        ("w", "a.p4", 3, 1),
        ("v", "c.p4", 10, 1),
        ("pragma", "c.p4", 11, 2),  # `#pragma` reads as `@pragma`
        ("once", "c.p4", 11, 9),
        ("u", "c.p4", 12, 1),
    ]
    assert files == ["a.p4", "dir/b.p4", "c.p4"]


def test_builtin_marker_names_are_not_files() -> None:
    _, files = tokenize('# 0 "m.p4"\n# 0 "<built-in>"\n# 0 "<command-line>"\n# 1 "m.p4"\nx', "m")
    assert files == ["m.p4"]
