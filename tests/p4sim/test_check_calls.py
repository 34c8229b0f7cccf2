"""Type checker: calls of actions, functions, extern functions and methods, builtins,
overloads, named/default/optional arguments, generics, directions and apply."""

from __future__ import annotations

from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error, Unsupported
from tests.p4sim.check_fixtures import HEADERS, bad, body_of, ctl, find, ok


def call_of(stmt: ast.Stmt | ast.Decl) -> ast.Call:
    assert isinstance(stmt, ast.CallStmt)
    return stmt.call


def test_extern_function_overloads_by_argument_count() -> None:
    prog = ok(ctl("        mark_to_drop(sm);\n        mark_to_drop();"))
    c1, c2 = (call_of(s) for s in body_of(prog)[:2])
    assert c1.kind == c2.kind == "extern_function"
    assert isinstance(c1.target, ast.ExternFunctionDecl) and len(c1.target.params) == 1
    assert isinstance(c2.target, ast.ExternFunctionDecl) and c2.target.params == []
    assert (
        c1.resolved_args[0] is not None and c1.resolved_args[0].type.name == "standard_metadata_t"
    )
    bad(
        ctl("        mark_to_drop(sm, sm);"),
        "mark_to_drop(sm, sm)",
        "no overload of 'mark_to_drop' takes 2",
    )


def test_generic_extern_function_binds_type_variables() -> None:
    prog = ok(
        ctl(
            "        hash(meta.x, HashAlgorithm.crc16, 32w0, { hdr.h.a, hdr.h.w }, 32w1024);\n"
            '        log_msg("a={}", { hdr.h.a });\n'
            '        log_msg("plain");\n'
        )
    )
    h, l2, l1 = (call_of(s) for s in body_of(prog)[:3])
    assert h.kind == "extern_function" and h.target.name == "hash"
    assert h.type_bindings["O"] == T.BitT(32) and h.type_bindings["M"] == T.BitT(32)
    assert h.type_bindings["D"] == T.TupleT((T.BitT(8), T.BitT(16)))
    assert [a is not None for a in h.resolved_args] == [True] * 5
    assert len(l2.params) == 2 and len(l1.params) == 1
    assert isinstance(l2.type_bindings["T"], T.TupleT)


def test_generic_argument_needs_a_width() -> None:
    src = ctl("        hash(meta.x, HashAlgorithm.crc16, 0, { hdr.h.a }, 32w1024);")
    bad(src, "0, {", "cannot infer the type of parameter 'base' of hash from int")


def test_generic_bindings_must_agree() -> None:
    src = ctl("        random(meta.y, 8w0, 16w9);")
    bad(src, "16w9", r"argument 'hi' of random: expected bit<8>, got bit<16>")


def test_explicit_type_arguments() -> None:
    prog = ok(
        ctl(
            "        digest<m_t>(1, { 1, 2, true, 3, 4 });",
        )
    )
    c = call_of(body_of(prog)[0])
    assert c.type_bindings["T"].name == "m_t"
    data = c.resolved_args[1]
    assert isinstance(data, ast.ListExpr) and data.type.name == "m_t"
    assert data.items[2].type == T.BoolT()
    bad(ctl("        digest<m_t, m_t>(1, meta);"), "digest<", "takes 1 type argument")


def test_out_argument_must_be_lvalue_of_exact_type() -> None:
    bad(
        ctl("        random(8w1, 8w0, 8w9);"),
        "8w1,",
        "must be an l-value",
    )
    bad(
        ctl("        bit<16> r; random<bit<8>>(r, 8w0, 8w9);"),
        "r, 8w0",
        r"expected bit<8>, got bit<16> \(out arguments must have exactly",
    )


def test_named_and_default_arguments() -> None:
    extra = "extern void ext(in bit<8> a, in bit<8> b = 7, @optional in bit<16> c);\n"
    prog = ok(ctl("        ext(b = 1, a = 2);\n        ext(3);", extra=extra))
    c1, c2 = (call_of(s) for s in body_of(prog)[:2])
    assert [getattr(a, "const", None) for a in c1.resolved_args] == [2, 1, None]
    assert c1.resolved_args[2] is None
    assert c2.resolved_args[1] is not None and c2.resolved_args[1].const == 7
    bad(ctl("        ext(a = 1, d = 2);", extra=extra), "d = 2", "ext has no parameter 'd'")
    bad(ctl("        ext(1, b = 2);", extra=extra), "ext(1", "mixes named and positional")
    bad(ctl("        ext(b = 2);", extra=extra), "ext(b", "missing argument for parameter 'a'")


def test_dont_care_only_for_out_parameters() -> None:
    extra = "extern void ext2(out bit<8> o, in bit<8> i);\n"
    prog = ok(ctl("        ext2(_, 1);", extra=extra))
    assert call_of(body_of(prog)[0]).resolved_args[0] is None
    bad(ctl("        ext2(meta.y, _);", extra=extra), "_)", "'_' can only be passed to an out")


def test_extern_methods_of_instances() -> None:
    locals_ = (
        "    register<bit<16>>(32w64) r;\n"
        "    counter(32w8, CounterType.packets) c;\n"
        "    meter(32w8, MeterType.bytes) mt;\n"
    )
    prog = ok(
        ctl(
            "        bit<16> v; r.read(v, 3); r.write(2, v + 1); c.count(5);"
            " mt.execute_meter(1, meta.n);",
            locals_,
        )
    )
    ctrl = find(prog.decls, "C")
    assert isinstance(ctrl, ast.ControlDecl)
    r = find(ctrl.locals, "r")
    assert isinstance(r, ast.Instantiation) and r.type is not None
    assert isinstance(r.type.resolved, T.ExternT) and r.type.resolved.type_args == (T.BitT(16),)
    read = call_of(body_of(prog)[1])
    assert read.kind == "extern_method" and read.method == "read"
    assert isinstance(read.target, ast.MethodDecl) and read.target.name == "read"
    assert isinstance(read.receiver, ast.PathExpr) and read.receiver.decl is r
    assert read.resolved_args[1] is not None and read.resolved_args[1].type == T.BitT(32)
    ex = call_of(body_of(prog)[4])
    assert ex.type_bindings["T"] == T.BitT(4)
    bad(ctl("        r.write(1, 8w1);", locals_), "8w1", r"argument 'value' of read|write")
    bad(
        ctl("        r.peek(1);", locals_), "peek", r"extern register<bit<16>> has no method 'peek'"
    )


def test_extern_constructor_arguments() -> None:
    bad(
        ctl("", "    register<bit<8>>(32w4, 1) r;"), "register<bit<8>>", "register takes 1 argument"
    )
    bad(
        ctl("", "    counter(32w8, MeterType.bytes) c;"),
        "MeterType.bytes",
        r"expected CounterType",
        offset=10,
    )
    bad(
        ctl("", "    register<bit<8>>(meta.x) r;"),
        "meta.x",
        "compile-time (known|constant)",
        offset=5,
    )
    bad(ctl("", "    register(32w4) r;"), "register(", "cannot infer the type arguments")


def test_inference_waits_for_other_arguments() -> None:
    prog = ok(ctl("        random(meta.y, 0, 255);"))
    c = call_of(body_of(prog)[0])
    assert c.type_bindings == {"T": T.BitT(8)}
    assert [a.type for a in c.resolved_args if a is not None] == [T.BitT(8)] * 3


def test_directionless_extern_arguments_must_be_constant() -> None:
    ok(ctl("        resubmit_preserving_field_list(1);"))
    bad(
        ctl("        resubmit_preserving_field_list(meta.y);"),
        "meta.y",
        "compile-time known",
        offset=5,
    )
    # action data and constructor parameters count as compile-time known (as in p4c)
    ok(ctl("        a(2);", "    action a(bit<8> i) { resubmit_preserving_field_list(i + 1); }"))
    extra = "control Sub(inout hs_t hdr)(bit<32> n) { register<bit<8>>(n) r; apply { } }\n"
    ok(ctl("", "    Sub(32w4) s;", extra))


def test_packet_methods_in_parser() -> None:
    src = HEADERS + (
        "parser P(packet_in pk, out hs_t hdr, inout m_t meta, inout standard_metadata_t sm) {\n"
        "    state start {\n"
        "        pk.extract(hdr.h);\n"
        "        pk.extract(hdr.st.next);\n"
        "        bit<16> peek = pk.lookahead<bit<16>>();\n"
        "        pk.advance(32w8);\n"
        "        transition accept;\n"
        "    }\n}\n"
    )
    prog = ok(src)
    p = find(prog.decls, "P")
    assert isinstance(p, ast.ParserDecl)
    s = p.states[0].stmts
    ex = s[0]
    assert isinstance(ex, ast.CallStmt)
    assert ex.call.kind == "extern_method" and ex.call.method == "extract"
    assert ex.call.type_bindings == {"T": ex.call.resolved_args[0].type}  # type: ignore[union-attr]
    peek = s[2]
    assert isinstance(peek, ast.VarDecl) and peek.init is not None and peek.init.type == T.BitT(16)
    assert p.states[0].next_decl is not None and p.states[0].next_decl.name == "accept"
    bad(
        src.replace("lookahead<bit<16>>()", "lookahead()"),
        "lookahead()",
        "cannot infer the result type",
    )


def test_header_builtins() -> None:
    prog = ok(
        ctl(
            "        hdr.h.setValid(); meta.f = hdr.h.isValid(); hdr.h.setInvalid();"
            " meta.x = (bit<32>)hdr.h.minSizeInBits();"
        )
    )
    c = call_of(body_of(prog)[0])
    assert c.kind == "builtin" and c.method == "setValid" and c.target is None
    assert isinstance(c.receiver, ast.Member) and c.receiver.name == "h"
    s3 = body_of(prog)[3]
    assert isinstance(s3, ast.AssignStmt) and isinstance(s3.rhs, ast.Cast)
    assert s3.rhs.const == 40
    bad(ctl("        hdr.h.frob();"), "frob", r"hdr.h \(h_t\) has no method 'frob'")
    bad(ctl("        hdr.h.isValid(1);"), "isValid", "takes no arguments")


def test_actions_called_directly_need_all_arguments() -> None:
    locals_ = "    action a(inout bit<8> x, bit<8> d) { x = d; }"
    prog = ok(ctl("        a(hdr.h.a, 5);", locals_))
    c = call_of(body_of(prog)[0])
    assert c.kind == "action" and isinstance(c.target, ast.ActionDecl)
    assert c.resolved_args[1] is not None and c.resolved_args[1].type == T.BitT(8)
    bad(ctl("        a(hdr.h.a);", locals_), "a(hdr", "missing argument for parameter 'd'")
    bad(ctl("        a(5, 5);", locals_), "5, 5", "l-value")


def test_action_parameter_order() -> None:
    bad(
        ctl("", "    action a(bit<8> d, inout bit<8> x) { }"),
        "inout bit<8> x",
        "must come before action data",
    )


def test_functions() -> None:
    extra = "bit<8> twice(in bit<8> v) { return v + v; }\n"
    prog = ok(ctl("        hdr.h.a = twice(hdr.h.b);", extra=extra))
    s = body_of(prog)[0]
    assert isinstance(s, ast.AssignStmt) and isinstance(s.rhs, ast.Call)
    assert s.rhs.kind == "function" and s.rhs.type == T.BitT(8)
    bad(
        ctl("", extra="bit<8> f(in bit<8> v) { return v == 1; }\n"),
        "v == 1",
        "return value: expected bit<8>, got bool",
        offset=2,
    )
    bad(ctl("", extra="bit<8> f(in bit<8> v) { return; }\n"), "return;", "return needs a value")
    bad(
        ctl("", extra="bit<8> f(in bit<8> v) { exit; }\n"),
        "exit;",
        "exit is not allowed in a function",
    )


def test_function_must_return_on_every_path() -> None:
    ok(ctl("", extra="bit<8> f(in bit<8> v) { if (v == 0) { return 1; } else { return v; } }\n"))
    ok(
        ctl(
            "",
            extra="bit<8> g(in bit<8> v) { switch (v) { 1: { return 2; } default: { return 3; } } }\n",
        )
    )
    src = ctl("", extra="bit<8> f(in bit<8> v) { if (v == 0) { return 1; } }\n")
    bad(src, "bit<8> f", "function f does not return a value on every path")


def test_generic_function_is_unsupported() -> None:
    src = ctl("", extra="T id<T>(in T v) { return v; }\n")
    try:
        ok(src)
    except Unsupported as e:
        assert "generic function id" in e.message
    except P4Error as e:  # the parser may not accept the form at all
        assert e.loc.file
    else:
        raise AssertionError("generic function accepted")


def test_table_and_control_apply() -> None:
    extra = "control Sub(inout hs_t hdr) { apply { hdr.h.a = 1; } }\n"
    locals_ = "    Sub() sub;\n    table t { key = { hdr.h.a: exact; } actions = { NoAction; } }"
    prog = ok(ctl("        sub.apply(hdr);\n        if (t.apply().hit) { }", locals_, extra))
    a = call_of(body_of(prog)[0])
    assert a.kind == "control_apply" and isinstance(a.target, ast.Instantiation)
    assert a.method == "apply" and len(a.params) == 1
    iff = body_of(prog)[1]
    assert isinstance(iff, ast.IfStmt) and isinstance(iff.cond, ast.Member)
    ap = iff.cond.expr
    assert isinstance(ap, ast.Call) and ap.kind == "table_apply"
    assert isinstance(ap.target, ast.TableDecl) and isinstance(ap.type, T.ApplyResultT)
    bad(ctl("        sub.apply(meta);", locals_, extra), "meta)", "expected hs_t, got m_t|exactly")
    bad(
        ctl(
            "        a();",
            "    table t { key = { hdr.h.a: exact; } actions = { NoAction; } }\n"
            "    action a() { t.apply(); }",
        ),
        "apply(); }",
        "tables can only be applied in a control's apply block",
    )
