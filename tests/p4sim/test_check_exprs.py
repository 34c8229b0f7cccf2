"""Type checker: operator typing, implicit conversions, casts and constant folding
(known answers from the P4_16 specification's width and wrap-around rules)."""

from __future__ import annotations

import logging

import pytest

from p4sim.frontend import ast
from p4sim.frontend import types as T
from tests.p4sim.check_fixtures import HEADERS, bad, body_of, const_value, ctl, ok

# ----------------------------------------------------------------------------- folding


@pytest.mark.parametrize(
    ("expr", "type_", "value"),
    [
        # bit<W>: arithmetic modulo 2^W
        ("8w255 + 8w1", "bit<8>", 0),
        ("8w5 - 8w10", "bit<8>", 251),
        ("8w16 * 8w17", "bit<8>", 16),
        ("8w7 / 8w2", "bit<8>", 3),
        ("8w7 % 8w2", "bit<8>", 1),
        ("-8w1", "bit<8>", 255),
        ("~8w0", "bit<8>", 255),
        ("8w0xF0 >> 4", "bit<8>", 0x0F),
        ("8w1 << 8", "bit<8>", 0),
        ("8w0xF0 & 8w0x3C | 8w1", "bit<8>", 0x31),
        ("8w0xFF ^ 8w0x0F", "bit<8>", 0xF0),
        # saturating
        ("8w200 |+| 8w100", "bit<8>", 255),
        ("8w10 |-| 8w20", "bit<8>", 0),
        ("8s100 |+| 8s100", "int<8>", 127),
        ("-8s100 |-| 8s100", "int<8>", -128),
        # int<W>: two's complement
        ("8s127 + 8s1", "int<8>", -128),
        ("-8s128", "int<8>", -128),
        ("~(int<8>)0", "int<8>", -1),
        ("(int<8>)-16 >> 2", "int<8>", -4),
        ("(int<8>)8w255", "int<8>", -1),
        ("(bit<8>)-8s1", "bit<8>", 255),
        ("(int<16>)-8s2", "int<16>", -2),
        ("(bit<16>)8w0xFF", "bit<16>", 255),
        ("(bit<4>)8w0xAB", "bit<4>", 0xB),
        # concatenation and slices
        ("4w0xA ++ 4w0x5", "bit<8>", 0xA5),
        ("(int<4>)-1 ++ 4w0", "int<8>", -16),
        ("16w0xABCD[11:4]", "bit<8>", 0xBC),
        ("(-8s1)[3:0]", "bit<4>", 15),
        # unsized int: exact
        ("1 << 40", "int", 1 << 40),
        ("7 / 2", "int", 3),
        ("-7 + 2 * 3", "int", -1),
        ("0x10 | 0x01", "int", 17),
        # int converted to the declared width
        ("300", "bit<8>", 44),
        ("-1", "bit<8>", 255),
        ("-1", "int<4>", -1),
        ("200", "int<8>", -56),
        ("(bit<8>)300", "bit<8>", 44),
        # int mixed with a sized operand takes its type before the operation
        ("8w250 + 10", "bit<8>", 4),
        ("10 - 8w11", "bit<8>", 255),
        # booleans and comparisons
        ("true && !false", "bool", True),
        ("8w3 < 8w200", "bool", True),
        ("-8s3 < 8s2", "bool", True),
        ("(bit<1>)true == 1w1", "bool", True),
        ("(bool)1w0", "bool", False),
        ("(bool)1", "bool", True),
        ("8w1 == 1 ? 8w7 : 8w9", "bit<8>", 7),
        ("false || 8w1 != 8w2", "bool", True),
        # serializable enums convert to their underlying type
        ("(bit<8>)kind_t.B", "bit<8>", 2),
        ("kind_t.A == kind_t.A", "bool", True),
        ("kind_t.B + 8w1", "bit<8>", 3),
        # constants referring to constants
        ("4 * 4", "bit<32>", 16),
    ],
)
def test_constant_folding(expr: str, type_: str, value: object) -> None:
    got = const_value(expr, type_)
    assert got == value and type(got) is type(value)


def test_literal_that_does_not_fit_wraps_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="p4sim.frontend"):
        assert const_value("300", "bit<8>") == 44
    assert any("value 300 does not fit in bit<8>" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="p4sim.frontend"):
        assert const_value("255", "bit<8>") == 255
    assert not caplog.records


def test_constants_usable_as_widths_sizes_and_bounds() -> None:
    src = (
        "const int W = 3 * 4;\nconst bit<8> N = 2;\n"
        "header v_t { bit<W> f; bit<(W - 4)> g; }\n"
        "struct s_t { v_t[N + 1] st; }\n"
        "const bit<8> LO = ((bit<16>)0xABCD)[W - 1:W - 8];\n"
    )
    prog = ok(src)
    v = next(d for d in prog.decls if getattr(d, "name", "") == "v_t")
    assert isinstance(v, ast.HeaderDecl)
    assert v.fields[0].type is not None and v.fields[0].type.resolved == T.BitT(12)
    assert v.fields[1].type is not None and v.fields[1].type.resolved == T.BitT(8)
    s = next(d for d in prog.decls if getattr(d, "name", "") == "s_t")
    assert isinstance(s, ast.StructDecl) and s.fields[0].type is not None
    assert isinstance(s.fields[0].type.resolved, T.StackT)
    assert s.fields[0].type.resolved.size == 3
    lo = next(d for d in prog.decls if getattr(d, "name", "") == "LO")
    assert isinstance(lo, ast.ConstDecl) and lo.value is not None
    assert lo.value.const == 0xBC


def test_enum_and_error_members_fold_to_names() -> None:
    assert const_value("color_t.GREEN", "color_t") == "color_t.GREEN"
    assert const_value("kind_t.B", "kind_t") == "kind_t.B"
    assert const_value("error.NoMatch", "error") == "error.NoMatch"


@pytest.mark.parametrize(
    ("expr", "type_", "message", "at_"),
    [
        ("7 / 0", "int", "division by zero", "0"),
        ("-7 / 2", "int", "negative int", "/"),
        ("-8s7 / 8s2", "int<8>", "not defined on signed", "/"),
        ("(bool)2", "bool", "only 0 and 1", "("),
        ("(bit<16>)-8s1", "bit<16>", "cannot cast int<8> to bit<16>", "("),
        ("1 ++ 8w1", "bit<16>", "needs a width", "1"),
        ("3 |+| 4", "int", "saturating", "|+|"),
        ("16w0xABCD[16:4]", "bit<13>", r"slice \[16:4\] is out of range", "16w"),
        ("16w0xABCD[3:4]", "bit<1>", r"out of range", "16w"),
        ("8w1 << -1", "bit<8>", "must not be negative", "-1"),
        ("8w1 << 8s1", "bit<8>", "must be unsigned", "8s1"),
        ("color_t.BLUE", "color_t", "no member 'BLUE'", "BLUE"),
        ("error.Nope", "error", "error.Nope is not declared", "Nope"),
        ("8w1 + 16w1", "bit<8>", "different types: bit<8> and bit<16>", "+"),
        ("true + 1", "int", "different types: bool and int", "+"),
        ("true + false", "bool", "needs bit<W>", "+"),
        ("!8w1", "bool", "needs a bool", "!"),
    ],
)
def test_constant_expression_errors(expr: str, type_: str, message: str, at_: str) -> None:
    src = HEADERS + f"const {type_} X = {expr};\n"
    bad(src, f"X = {expr}", message, offset=4 + expr.index(at_))


# ----------------------------------------------------------------------------- assignments


def test_assignment_of_wider_value_is_rejected_with_location() -> None:
    src = ctl("        hdr.h.a = hdr.h.w;")
    e = bad(src, "hdr.h.w", r"cannot assign bit<16> to bit<8> \(hdr.h.a\); use a cast", offset=6)
    assert "t.p4:" in str(e)


def test_assignment_int_literal_takes_target_type() -> None:
    prog = ok(ctl("        hdr.h.a = 3; meta.x = meta.x + 1; meta.i = -2;"))
    a, b, c = body_of(prog)[:3]
    assert isinstance(a, ast.AssignStmt) and a.rhs.type == T.BitT(8) and a.rhs.const == 3
    assert isinstance(b, ast.AssignStmt) and isinstance(b.rhs, ast.Binary)
    assert b.rhs.type == T.BitT(32) and b.rhs.right.type == T.BitT(32)
    assert b.rhs.right.const == 1 and b.rhs.const is None
    assert isinstance(c, ast.AssignStmt) and c.rhs.type == T.BitT(8, True) and c.rhs.const == -2


def test_assignment_to_read_only_things_is_rejected() -> None:
    bad(ctl("        X = 1;", extra="const bit<8> X = 2;\n"), "X = 1", "l-value.*constant")
    action = ctl("        a(1);", locals_="    action a(bit<8> v) { v = 2; }")
    bad(action, "v = 2", "direction-less parameter")
    bad(ctl("        hdr.st.size = 1;"), "hdr.st.size", "read-only", offset=7)


def test_bool_and_bit1_do_not_mix_without_cast() -> None:
    src = ctl("        meta.f = 1w1;")
    bad(src, "1w1", r"cannot assign bit<1> to bool \(meta.f\); use a cast")
    ok(ctl("        meta.f = (bool)1w1; meta.n = (bit<4>)meta.y;"))


def test_signedness_change_needs_same_width() -> None:
    bad(ctl("        meta.x = (bit<32>)meta.i;"), "(bit<32>)", r"cannot cast int<8> to bit<32>")
    ok(ctl("        meta.x = (bit<32>)(int<32>)meta.i;"))


def test_new_type_needs_explicit_casts() -> None:
    src = ctl("        port_t p = sm.ingress_port;")
    bad(src, "sm.ingress_port", r"cannot initialize p \(port_t\) with bit<9>; use a cast", offset=3)
    bad(ctl("        port_t p = 5;"), "5;", r"cannot initialize p \(port_t\) with int")
    prog = ok(ctl("        port_t p = (port_t)sm.ingress_port; sm.egress_spec = (bit<9>)p;"))
    d = body_of(prog)[0]
    assert isinstance(d, ast.VarDecl) and d.type is not None
    assert isinstance(d.type.resolved, T.NewT) and d.type.resolved.name == "port_t"


def test_serializable_enum_converts_implicitly_to_underlying_only() -> None:
    ok(ctl("        meta.y = kind_t.A; kind_t k = (kind_t)meta.y;"))
    bad(ctl("        kind_t k = meta.y;"), "meta.y;", r"cannot initialize k \(kind_t\)", offset=5)


def test_ternary_typing() -> None:
    prog = ok(ctl("        meta.y = meta.f ? 1 : 2;"))
    s = body_of(prog)[0]
    assert isinstance(s, ast.AssignStmt) and isinstance(s.rhs, ast.Ternary)
    assert s.rhs.then.type == T.BitT(8) and s.rhs.other.const == 2
    bad(ctl("        meta.y = meta.f ? hdr.h.a : hdr.h.w;"), "? hdr", "different types", offset=0)
    bad(ctl("        meta.y = meta.x ? 1 : 2;"), "meta.x ?", "condition must be bool", offset=5)


# ----------------------------------------------------------------------------- operators


def test_operator_result_types() -> None:
    prog = ok(
        ctl(
            "        bit<24> c = hdr.h.a ++ hdr.h.w;\n"
            "        bool lt = hdr.h.a < 5;\n"
            "        bit<8> sh = hdr.h.a << meta.n;\n"
            "        bit<3> sl = meta.x[31:29];\n"
            "        int<8> neg = -meta.i;\n"
        )
    )
    c, lt, sh, sl, neg = body_of(prog)[:5]
    assert isinstance(c, ast.VarDecl) and c.init is not None and c.init.type == T.BitT(24)
    assert isinstance(lt, ast.VarDecl) and lt.init is not None and lt.init.type == T.BoolT()
    assert isinstance(lt.init, ast.Binary) and lt.init.right.type == T.BitT(8)
    assert isinstance(sh, ast.VarDecl) and sh.init is not None and sh.init.type == T.BitT(8)
    assert isinstance(sl, ast.VarDecl) and isinstance(sl.init, ast.Slice)
    assert (sl.init.hi_v, sl.init.lo_v) == (31, 29) and sl.init.type == T.BitT(3)
    assert isinstance(neg, ast.VarDecl) and neg.init is not None
    assert neg.init.type == T.BitT(8, True)


def test_shift_of_int_by_runtime_amount_is_rejected() -> None:
    bad(ctl("        meta.x = 1 << meta.n;"), "<< meta", "compile-time known amount")


def test_logical_operators_need_bool() -> None:
    bad(ctl("        meta.f = meta.f && meta.y;"), "meta.y;", "needs bool operands", offset=5)


def test_concatenation_with_int_literal_is_rejected() -> None:
    bad(ctl("        meta.x = hdr.h.w ++ 16;"), "16;", "needs a width")


def test_slice_needs_constant_bounds() -> None:
    bad(ctl("        meta.n = meta.x[meta.n:0];"), "meta.n:", "compile-time known", offset=5)


def test_comparison_of_different_widths_is_rejected() -> None:
    bad(ctl("        meta.f = hdr.h.a == hdr.h.w;"), "== hdr", r"bit<8> and bit<16>")


def test_equality_on_headers_and_structs_is_allowed() -> None:
    ok(ctl("        meta.f = hdr.h == hdr.st[0] && hdr.u != hdr.u;"))


# ----------------------------------------------------------------------------- members


def test_member_access_types() -> None:
    prog = ok(
        ctl(
            "        hdr.st[1].a = hdr.st[2].b;\n"
            "        meta.x = meta.x + hdr.st.size;\n"
            "        hdr.un.u.v = 1;\n"
            "        meta.f = hdr.un.isValid();\n"
        )
    )
    s0, s1, s2, _ = body_of(prog)[:4]
    assert isinstance(s0, ast.AssignStmt) and isinstance(s0.lhs, ast.Member)
    assert isinstance(s0.lhs.expr, ast.Index) and s0.lhs.expr.type.name == "h_t"
    assert isinstance(s1, ast.AssignStmt) and isinstance(s1.rhs, ast.Binary)
    assert s1.rhs.right.const == 3 and s1.rhs.right.type == T.BitT(32)
    assert isinstance(s2, ast.AssignStmt) and s2.lhs.type == T.BitT(32)


def test_stack_next_and_last_only_in_parsers() -> None:
    bad(
        ctl("        hdr.st.next.a = 1;"),
        "next",
        "stack member 'next' can only be used in a parser",
    )
    bad(ctl("        meta.x = hdr.st.lastIndex;"), "lastIndex", "only be used in a parser")


def test_stack_last_is_read_only_and_push_pop_not_in_parsers() -> None:
    parser = HEADERS + (
        "parser P(packet_in pk, out hs_t hdr) {\n"
        "    state start { pk.extract(hdr.st.next); BODY transition accept; }\n}\n"
    )
    ok(parser.replace("BODY", "hdr.st.next.a = hdr.st.last.b;"))
    bad(
        parser.replace("BODY", "hdr.st.last.a = 1;"), "last.a", "hdr.st.last is read-only", offset=5
    )
    bad(parser.replace("BODY", "hdr.st.pop_front(1);"), "pop_front", "cannot be used in a parser")


def test_unknown_field_is_rejected() -> None:
    bad(ctl("        hdr.h.zz = 1;"), "zz", "h_t has no field 'zz'")


def test_stack_index_out_of_bounds() -> None:
    bad(
        ctl("        hdr.st[3].a = 1;"),
        "st[3].a",
        offset=3,
        message=r"index 3 out of bounds of h_t\[3\]",
    )


def test_indexing_a_non_stack_is_rejected() -> None:
    bad(
        ctl("        meta.x[0] = 1;"),
        "meta.x[",
        "only header stacks and tuples can be indexed",
        offset=5,
    )


def test_list_and_struct_initializers() -> None:
    prog = ok(
        ctl(
            "        m_t m = { 1, 2, true, 3, -1 };\n"
            "        m_t n = { x = 1, y = 2, f = false, n = 0, i = 0 };\n"
            "        hdr.u = { 32w7 };\n"
        )
    )
    m = body_of(prog)[0]
    assert isinstance(m, ast.VarDecl) and isinstance(m.init, ast.ListExpr)
    assert m.init.type.name == "m_t" and [i.type for i in m.init.items][:2] == [
        T.BitT(32),
        T.BitT(8),
    ]
    bad(ctl("        m_t m = { 1, 2 };"), "{ 1, 2 }", "has 5 fields but the initializer gives 2")
    bad(
        ctl("        m_t m = { x = 1, y = 2, f = false, n = 0 };"),
        "{ x = 1",
        "misses field 'i'",
    )
    bad(ctl("        m_t m = { 1, 2, 3, 3, -1 };"), "3, 3", r"element 'f' of m_t: expected bool")


def test_tuples() -> None:
    prog = ok(ctl("        tuple<bit<8>, bool> t = { 1, true }; meta.y = t[0]; meta.f = t[1];"))
    d = body_of(prog)[0]
    assert isinstance(d, ast.VarDecl) and d.type is not None
    assert d.type.resolved == T.TupleT((T.BitT(8), T.BoolT()))
    bad(
        ctl("        tuple<bit<8>, bool> t = { 1, true }; meta.y = t[2];"),
        "2]",
        r"index 2 out of bounds",
    )


def test_header_stack_operations() -> None:
    ok(ctl("        hdr.st.push_front(1); hdr.st.pop_front(2); hdr.st[0].setValid();"))
    bad(ctl("        hdr.st.push_front(meta.x);"), "meta.x)", "non-negative constant", offset=5)
