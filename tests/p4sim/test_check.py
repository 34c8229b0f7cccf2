"""Type checker: whole programs, scopes and declarations, tables, parsers, switch and
`main`. Expressions are in test_check_exprs.py, calls in test_check_calls.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from p4sim.frontend import ast, load, parse_and_check
from p4sim.frontend import types as T
from p4sim.frontend.check import ACCEPT, REJECT
from p4sim.frontend.errors import P4Error, Unsupported
from tests.p4sim.check_fixtures import HEADERS, at, bad, body_of, ctl, find, ok, program

HERE = Path(__file__).parent
PROGRAMS = sorted([*HERE.glob("programs/*.p4"), *HERE.glob("check_programs/*.p4")])


def walk(node: object) -> list[object]:
    """Every node of a tree (dataclass fields, lists, dicts), depth first."""
    out: list[object] = []
    stack = [node]
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, ast.Node):
            out.append(n)
            for k, v in vars(n).items():
                if k in (
                    "decl",
                    "target",
                    "next_decl",
                    "state_decl",
                    "resolved",
                    "type",
                    "receiver",
                ):
                    continue
                stack.append(v)
        elif isinstance(n, (list, tuple)):
            stack.extend(n)
        elif isinstance(n, dict):
            stack.extend(n.values())
    return out


# ----------------------------------------------------------------------------- whole programs


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_sample_programs_check_and_are_fully_annotated(path: Path) -> None:
    prog = load(path)
    assert prog.main is not None and prog.main.name == "main"
    assert prog.main.type is not None and prog.main.type.resolved.name == "V1Switch"
    in_annotations = {
        id(x)
        for n in walk(prog)
        if isinstance(n, ast.Annotated)
        for a in n.annotations
        for x in walk(a)
    }
    for n in walk(prog):
        if id(n) in in_annotations:
            continue
        if isinstance(n, ast.Expr):
            assert n.type is not None, (n.loc, n)
        if isinstance(n, ast.TypeRef):
            assert n.resolved is not None, (n.loc, n)
        if isinstance(n, ast.Call):
            assert n.kind, n.loc
            if n.kind not in ("builtin", "table_apply"):
                assert len(n.resolved_args) == len(n.params), n.loc
                assert n.target is not None, n.loc
        if isinstance(n, ast.PathExpr):
            assert n.decl is not None or isinstance(n.type, T.ErrorT), n.loc


def test_l3_program_key_annotations() -> None:
    prog = load(HERE / "check_programs" / "l3_full.p4")
    ing = find(prog.decls, "L3Ingress")
    assert isinstance(ing, ast.ControlDecl)
    # Constants fold, and are usable as sizes.
    flows = find(prog.decls, "FLOWS")
    assert isinstance(flows, ast.ConstDecl) and flows.value is not None
    assert flows.value.const == 1024
    routes = find(ing.locals, "routes")
    assert isinstance(routes, ast.TableDecl) and routes.size is not None
    assert routes.size.const == 1024
    assert [r.decl.name for r in routes.actions] == ["forward", "drop", "to_cpu"]
    assert routes.default_action is not None and routes.default_action.decl.name == "drop"
    arg = routes.default_action.args[0].value
    assert arg is not None and arg.const == "drop_reason_t.NO_ROUTE"
    assert isinstance(arg.type, T.SerEnumT) and arg.type.members["NO_ROUTE"] == 2
    # Extern instances are specialised.
    reg = find(ing.locals, "flow_packets")
    assert isinstance(reg, ast.Instantiation) and reg.type is not None
    assert str(reg.type.resolved) == "register<bit<32>>"
    # Const entries are typed against the keys.
    acl = find(ing.locals, "acl")
    assert isinstance(acl, ast.TableDecl)
    first = acl.entries[0]
    mask = first.keys[0]
    assert isinstance(mask, ast.MaskExpr) and mask.mask.const == 0xFF000000
    assert mask.value.type == T.BitT(32)
    rng = first.keys[1]
    assert isinstance(rng, ast.RangeExpr) and rng.hi.type == T.BitT(16) and rng.hi.const == 1023
    assert first.action is not None and first.action.decl.name == "drop"
    # The parser's states are linked.
    par = find(prog.decls, "L3Parser")
    assert isinstance(par, ast.ParserDecl)
    start = par.states[0]
    assert isinstance(start.transition, ast.SelectExpr)
    sel = start.transition.exprs[0]
    assert isinstance(sel, ast.Slice) and sel.type == T.BitT(16)
    assert isinstance(sel.expr, ast.Call) and sel.expr.type == T.BitT(112)
    assert start.transition.cases[0].state_decl is find(par.states, "parse_ethernet")
    ipv4 = find(par.states, "parse_ipv4")
    assert isinstance(ipv4, ast.ParserState) and isinstance(ipv4.transition, ast.SelectExpr)
    tuple_case = ipv4.transition.cases[0].keyset
    assert isinstance(tuple_case, ast.ListExpr)
    assert [k.type for k in tuple_case.items] == [T.BitT(8), T.BitT(13)]
    assert ipv4.transition.cases[2].state_decl is ACCEPT
    tcp = find(par.states, "parse_tcp")
    assert isinstance(tcp, ast.ParserState) and tcp.next_decl is ACCEPT
    # The switch labels are the table's actions.
    body = ing.body.stmts
    sw = [s for s in walk(body) if isinstance(s, ast.SwitchStmt)][0]
    assert isinstance(sw, ast.SwitchStmt) and isinstance(sw.expr.type, T.ActionRunT)
    labels = [lab.decl.name for c in sw.cases for lab in c.labels if isinstance(lab, ast.PathExpr)]
    assert labels == ["forward", "drop", "to_cpu"]
    # The new type keeps its name; the digest binds its struct.
    meta = find(prog.decls, "metadata_t")
    assert isinstance(meta, ast.StructDecl) and meta.fields[1].type is not None
    assert isinstance(meta.fields[1].type.resolved, T.NewT)
    digests = [
        n
        for n in walk(ing)
        if isinstance(n, ast.Call)
        and n.method == ""
        and isinstance(n.target, ast.ExternFunctionDecl)
        and n.target.name == "digest"
    ]
    assert digests and digests[0].type_bindings["T"].name == "learn_t"
    # main binds the package's type parameters.
    assert prog.main is not None and prog.main.type is not None
    assert [t.name for t in prog.main.type.resolved.type_args] == ["headers_t", "metadata_t"]


def test_parse_and_check_reports_file_line_col() -> None:
    with pytest.raises(P4Error) as info:
        parse_and_check("const bit<8> X = 8w1 + 16w1;\n", "prog.p4")
    assert str(info.value).startswith("prog.p4:1:22: error: operands of + have different types")


# ----------------------------------------------------------------------------- scopes


def test_duplicate_declarations() -> None:
    bad(
        HEADERS + "const bit<8> h_t = 1;\n",
        "const bit<8> h_t",
        r"duplicate declaration of 'h_t' \(previous declaration at t.p4:2:1\)",
    )
    bad(ctl("", "    bit<8> hdr;"), "bit<8> hdr", "duplicate declaration of 'hdr'")
    bad(ctl("        bit<8> v; bit<8> v;"), "bit<8> v;", "duplicate declaration of 'v'", nth=1)
    bad(
        HEADERS + "header h_t { bit<8> z; }\n",
        "header h_t { bit<8> z",
        "duplicate declaration of 'h_t'",
    )
    bad(HEADERS + "header z_t { bit<8> a; bit<4> a; }\n", "bit<4> a", "duplicate field 'a' in z_t")


def test_shadowing_in_nested_blocks_is_allowed() -> None:
    prog = ok(ctl("        bit<8> v = 1; { bit<16> v = 2; meta.x = (bit<32>)v; }"))
    inner = body_of(prog)[1]
    assert isinstance(inner, ast.BlockStmt)
    assign = inner.stmts[1]
    assert isinstance(assign, ast.AssignStmt) and isinstance(assign.rhs, ast.Cast)
    path = assign.rhs.expr
    assert isinstance(path, ast.PathExpr) and path.type == T.BitT(16)
    assert path.decl is inner.stmts[0]


def test_top_level_name_reference() -> None:
    extra = "const bit<8> v = 7;\n"
    prog = ok(ctl("        bit<8> v = 1; hdr.h.a = .v;", extra=extra))
    s = body_of(prog)[1]
    assert isinstance(s, ast.AssignStmt) and isinstance(s.rhs, ast.PathExpr)
    assert s.rhs.const == 7 and isinstance(s.rhs.decl, ast.ConstDecl)


def test_use_before_declaration_is_rejected() -> None:
    bad(ctl("        v = 1; bit<8> v;"), "v = 1", "'v' is not declared")
    bad(
        "struct s_t { later_t x; }\nheader later_t { bit<8> a; }\n",
        "later_t x",
        "'later_t' is not declared",
    )


def test_unknown_type_and_non_type() -> None:
    bad("struct s_t { nope_t f; }\n", "nope_t", "'nope_t' is not declared")
    bad("const bit<8> K = 1;\nstruct s_t { K f; }\n", "K f", "'K' is not a type")


def test_error_and_match_kind_members_are_collected() -> None:
    src = "error { Mine }\nerror { Other }\nconst error E = error.Other;\nconst error F = error.NoMatch;\n"
    prog = ok(src)
    e = find(prog.decls, "E")
    assert isinstance(e, ast.ConstDecl) and e.value is not None and e.value.const == "error.Other"
    bad("error { NoMatch }\n", "error { NoMatch", "error member 'NoMatch' declared twice")


def test_header_field_types() -> None:
    bad(
        "struct s_t { bit<8> a; }\nheader x_t { s_t s; }\n",
        "s_t s;",
        "header field x_t.s cannot have type s_t",
    )
    bad("header x_t { varbit<8> a; varbit<8> b; }\n", "header x_t", "more than one varbit")
    bad("header_union x_t { bit<8> a; }\n", "bit<8> a", "must be a header")
    bad("header x_t { bit<(1 - 2)> a; }\n", "(1 - 2)", "invalid width -1", offset=3)


def test_serializable_enum_values() -> None:
    bad("enum bit<2> e_t { A = 5 }\n", "5 }", "value 5 of e_t.A does not fit in bit<2>")
    bad("enum bool e_t { A = 1 }\n", "bool", "needs a bit<W> or int<W> type")


def test_aggregate_constants_are_unsupported() -> None:
    bad(
        HEADERS + "const m_t K = { 1, 2, true, 3, 4 };\n",
        "const m_t",
        "constants of aggregate type",
        exc=Unsupported,
    )


def test_instances_are_not_statements() -> None:
    bad(ctl("        register<bit<8>>(32w4) r;"), "register", "instances are declared among")


def test_constant_needs_constant_value() -> None:
    bad(
        ctl("        const bit<8> K = hdr.h.a;"), "hdr.h.a;", "must be compile-time known", offset=6
    )


# ----------------------------------------------------------------------------- tables


TABLE_LOCALS = """
    action set(bit<8> v) { hdr.h.a = v; }
    action bump(inout bit<32> c) { c = c + 1; }
    action nop() { }
"""


def table(body: str, apply: str = "        t.apply();") -> str:
    return ctl(apply, TABLE_LOCALS + "    table t {\n" + body + "\n    }\n")


def test_table_properties_are_resolved() -> None:
    src = table(
        '        key = { hdr.h.a: exact; hdr.h.w: ternary @name("w"); }\n'
        "        actions = { set; bump(meta.x); @defaultonly nop; }\n"
        "        default_action = set(3);\n"
        "        size = 2 * 64;\n"
    )
    prog = ok(src)
    c = find(prog.decls, "C")
    assert isinstance(c, ast.ControlDecl)
    t = find(c.locals, "t")
    assert isinstance(t, ast.TableDecl)
    assert [k.expr.type for k in t.keys] == [T.BitT(8), T.BitT(16)]
    assert [r.decl is find(c.locals, r.name) for r in t.actions] == [True] * 3
    bump = t.actions[1].args[0].value
    assert bump is not None and bump.type == T.BitT(32)
    assert t.default_action is not None and t.default_action.args[0].value is not None
    assert t.default_action.args[0].value.type == T.BitT(8)
    assert t.size is not None and t.size.const == 128


@pytest.mark.parametrize(
    ("body", "needle", "offset", "message"),
    [
        (
            "key = { hdr.h.a: fuzzy; } actions = { nop; }",
            "hdr.h.a: fuzzy",
            0,
            "'fuzzy' is not a declared match_kind",
        ),
        ("key = { hdr.h: exact; } actions = { nop; }", "hdr.h: exact", 4, "cannot have type h_t"),
        ("actions = { nop; nop; }", "nop; }", 0, "action nop listed twice"),
        ("actions = { meta; }", "meta; }", 0, "'meta' in table t is not an action"),
        ("actions = { nope; }", "nope", 0, "'nope' is not declared"),
        (
            "actions = { set(1); }",
            "set(1)",
            0,
            "needs 0 argument.s. for its directional parameters",
        ),
        ("actions = { bump; }", "bump; }", 0, "needs 1 argument.s. for its directional parameters"),
        ("actions = { bump(5); }", "5)", 0, "l-value"),
        (
            "actions = { set; } default_action = nop;",
            "nop;",
            0,
            "default action nop is not in the actions",
        ),
        (
            "actions = { set; } default_action = set;",
            "set;",
            0,
            "needs 1 argument.s. .action data included., 0 given",
        ),
        (
            "actions = { set; } default_action = set(meta.y);",
            "meta.y",
            5,
            "must be compile-time known",
        ),
        (
            "actions = { set; } size = meta.x;",
            "meta.x",
            5,
            "table size must be a compile-time known",
        ),
        ("actions = { set; } size = 0;", "0;", 0, "must be positive"),
        ("actions = { set; } counters = meta;", "meta;", 0, "must be a direct_counter instance"),
    ],
)
def test_table_errors(body: str, needle: str, offset: int, message: str) -> None:
    src = table("        " + body)
    nth = 1 if needle == "set;" else 0
    bad(src, needle, message, offset=offset, nth=nth)


def test_defaultonly_and_tableonly_actions() -> None:
    body = "        key = { hdr.h.a: exact; }\n        actions = { @tableonly set; @defaultonly nop; }\n"
    ok(table(body + "        default_action = nop();\n        const entries = { 1: set(2); }\n"))
    bad(
        table(body + "        default_action = set(1);\n"),
        "set(1)",
        "action set is @tableonly in table t",
    )
    bad(
        table(body + "        const entries = { 1: nop(); }\n"),
        "nop(); }",
        "action nop is @defaultonly",
    )


def test_direct_counter_belongs_to_one_table() -> None:
    locals_ = TABLE_LOCALS + (
        "    direct_counter(CounterType.packets) dc;\n"
        "    table t1 { key = { hdr.h.a: exact; } actions = { nop; } counters = dc; }\n"
        "    table t2 { key = { hdr.h.b: exact; } actions = { nop; } counters = dc; }\n"
    )
    src = ctl("        t1.apply(); t2.apply();", locals_)
    bad(src, "dc; }", "dc is already the counters of table t1", nth=1)


def test_const_entries() -> None:
    body = (
        "        key = { hdr.h.a: exact; hdr.h.w: ternary; meta.x: lpm; meta.y: range; }\n"
        "        actions = { set; nop; }\n"
        "        const entries = {\n"
        "            (1, 0x0f00 &&& 0xff00, 0x0a000000 &&& 0xff000000, 1 .. 9): set(5);\n"
        "            (2, _, _, _): nop();\n"
        "        }\n"
    )
    prog = ok(table(body))
    c = find(prog.decls, "C")
    t = find(c.locals, "t")  # type: ignore[attr-defined]
    assert isinstance(t, ast.TableDecl)
    e0, e1 = t.entries
    assert [k.type for k in e0.keys] == [T.BitT(8), T.BitT(16), T.BitT(32), T.BitT(8)]
    assert e0.action is not None and e0.action.args[0].value is not None
    assert e0.action.args[0].value.const == 5
    assert isinstance(e1.keys[1], ast.DontCare) and e1.action is not None
    assert e1.action.decl.name == "nop"


@pytest.mark.parametrize(
    ("entry", "needle", "message"),
    [
        ("(1 &&& 1, _, 0, 1): nop();", "1 &&& 1", "exact key cannot be masked"),
        ("(_, _, 0, 1): nop();", "_, _, 0", "exact key cannot be a wildcard"),
        ("(1, 1 .. 2, 0, 1): nop();", "1 .. 2", "ternary key cannot be a range"),
        ("(1, 1, 0 &&& 0x00ff0000, 1): nop();", "0x00ff0000", "lpm mask 0xff0000 is not a prefix"),
        ("(1, 1, 0, 1): bump(meta.x);", "bump", "not in the actions"),
        ("(1, 1, 0): nop();", "(1, 1, 0)", "entry has 3 key.s., table t has 4"),
        ("(1, 1, 0, meta.y): nop();", "meta.y", "must be compile-time known"),
        ("(1, 16w1, 0, 1): nop();", "16w1", "16w1|keyset value has type bit<16>"),
        ("(1, 1, 0, 1): set(1, 2);", "set(1, 2)", "needs 1 argument"),
    ],
)
def test_const_entry_errors(entry: str, needle: str, message: str) -> None:
    body = (
        "        key = { hdr.h.a: exact; hdr.h.a: ternary; meta.x: lpm; meta.y: range; }\n"
        "        actions = { set; nop; }\n"
        "        const entries = {\n            " + entry + "\n        }\n"
    )
    src = table(body)
    nth = src[: src.index("const entries")].count(needle)
    with pytest.raises(P4Error, match=message) as info:
        ok(src)
    # the error points into the entry: at the needle, or at an operator inside it
    line, col = at(src, needle, nth=nth)
    assert info.value.loc.line == line, str(info.value)
    assert col <= info.value.loc.col < col + len(needle), str(info.value)


def test_entry_priorities() -> None:
    body = (
        "        key = { hdr.h.a: ternary; }\n        actions = { nop; }\n"
        "        entries = { priority = (2 * 5): 1 &&& 3 : nop(); }\n"
    )
    prog = ok(table(body))
    c = find(prog.decls, "C")
    assert isinstance(c, ast.ControlDecl)
    t = find(c.locals, "t")
    assert isinstance(t, ast.TableDecl) and t.entries[0].priority is not None
    assert t.entries[0].priority.const == 10
    bad(
        table(body.replace("2 * 5", "meta.x")),
        "meta.x",
        "priority must be a compile-time known",
        offset=5,
    )


def test_switch_on_action_run() -> None:
    body = "        key = { hdr.h.a: exact; }\n        actions = { set; nop; }\n"
    prog = ok(table(body, "        switch (t.apply().action_run) { set: { } nop: { } }"))
    sw = body_of(prog)[0]
    assert isinstance(sw, ast.SwitchStmt)
    assert [lab.decl.name for c in sw.cases for lab in c.labels] == ["set", "nop"]  # type: ignore[attr-defined]
    bad(
        table(body, "        switch (t.apply().action_run) { bump: { } }"),
        "bump: {",
        "'bump' is not an action of table t",
    )
    bad(
        table(body, "        switch (t.apply().action_run) { set: { } set: { } }"),
        "set: { }",
        "duplicate switch label set",
        nth=1,
    )
    bad(
        table(body, "        switch (t.apply().action_run) { default: { } set: { } }"),
        "default",
        "default must be the last",
    )


def test_switch_on_values() -> None:
    prog = ok(ctl("        switch (hdr.h.a) { 1: { } 2: 3: { meta.x = 1; } default: { } }"))
    sw = body_of(prog)[0]
    assert isinstance(sw, ast.SwitchStmt)
    assert sw.cases[1].labels[0].type == T.BitT(8)
    bad(ctl("        switch (hdr.h.a) { 1: { } 1: { } }"), "1: { } }", "duplicate switch label")
    bad(ctl("        switch (meta.f) { true: { } }"), "true", "switch needs")


# ----------------------------------------------------------------------------- parsers


def parser(states: str, locals_: str = "") -> str:
    return HEADERS + (
        "parser P(packet_in pk, out hs_t hdr, inout m_t meta, inout standard_metadata_t sm) {\n"
        + locals_
        + states
        + "\n}\n"
    )


def test_parser_states_resolve_across_the_parser() -> None:
    prog = ok(
        parser(
            "    state start { pk.extract(hdr.h); transition select(hdr.h.a, hdr.h.w) {\n"
            "        (1, 0x0800): later; (2, 0x0800 &&& 0xff00): reject; default: accept; } }\n"
            "    state later { transition start; }"
        )
    )
    p = find(prog.decls, "P")
    assert isinstance(p, ast.ParserDecl)
    start, later = p.states
    assert isinstance(start.transition, ast.SelectExpr)
    assert [c.state_decl for c in start.transition.cases] == [later, REJECT, ACCEPT]
    assert later.next_decl is start


@pytest.mark.parametrize(
    ("states", "needle", "message"),
    [
        ("    state begin { transition accept; }", "parser P", "no 'start' state"),
        ("    state start { transition nowhere; }", "state start", "no state 'nowhere'"),
        (
            "    state start { transition accept; }\n    state start { transition accept; }",
            "state start",
            "duplicate state 'start'",
        ),
        (
            "    state start { transition accept; }\n    state accept { transition accept; }",
            "state accept",
            "built in",
        ),
        (
            "    state start { transition select(hdr.h.a) { 16w1: accept; } }",
            "16w1",
            "keyset value has type bit<16>",
        ),
        (
            "    state start { transition select(hdr.h.a) { meta.y: accept; } }",
            "meta.y",
            "compile-time known",
        ),
        (
            "    state start { transition select(hdr.h.a, hdr.h.b) { 1: accept; } }",
            "1: accept",
            "keyset must have 2 elements",
        ),
        (
            "    state start { transition select(hdr.h) { 1: accept; } }",
            "hdr.h)",
            "cannot select on a value of type h_t",
        ),
        ("    state start { hdr.h.a = 1; return; }", "return", "return is not allowed in a parser"),
    ],
)
def test_parser_errors(states: str, needle: str, message: str) -> None:
    src = parser(states)
    nth = 1 if "duplicate" in message else 0
    with pytest.raises(P4Error, match=message) as info:
        ok(src)
    assert info.value.loc.line == at(src, needle, nth=nth)[0], str(info.value)


def test_extract_needs_a_header_lvalue() -> None:
    src = parser("    state start { pk.extract(meta.y); transition accept; }")
    bad(src, "meta.y", "extract needs a header, not bit<8>", offset=5)
    src = parser("    state start { pk.extract(hdr.h, 32w8); transition accept; }")
    bad(src, "hdr.h, 32w8", "needs a header with a varbit field", offset=4)
    src = ctl("", extra="control D(packet_out pk, in m_t m) { apply { pk.emit(m.x); } }\n")
    bad(src, "m.x)", "emit needs a header", offset=2)


def test_select_on_serializable_enum_and_lookahead() -> None:
    prog = ok(
        parser(
            "    state start { transition select(pk.lookahead<kind_t>()) { kind_t.A: accept; default: reject; } }"
        )
    )
    p = find(prog.decls, "P")
    assert isinstance(p, ast.ParserDecl) and isinstance(p.states[0].transition, ast.SelectExpr)
    case = p.states[0].transition.cases[0]
    assert case.keyset.const == "kind_t.A" and isinstance(case.keyset.type, T.SerEnumT)


# ----------------------------------------------------------------------------- main


V1_BLOCKS = (
    HEADERS
    + """
parser P(packet_in pk, out hs_t hdr, inout m_t meta, inout standard_metadata_t sm) {
    state start { transition accept; }
}
control VC(inout hs_t hdr, inout m_t meta) { apply { } }
control I(inout hs_t hdr, inout m_t meta, inout standard_metadata_t sm) { apply { } }
control E(inout hs_t hdr, inout m_t meta, inout standard_metadata_t sm) { apply { } }
control CC(inout hs_t hdr, inout m_t meta) { apply { } }
control D(packet_out pk, in hs_t hdr) { apply { pk.emit(hdr); } }
"""
)


def test_main_is_found_and_typed() -> None:
    prog = ok(V1_BLOCKS + "V1Switch(P(), VC(), I(), E(), CC(), D()) main;\n", main=True)
    assert prog.main is not None and prog.main.type is not None
    t = prog.main.type.resolved
    assert isinstance(t, T.BlockT) and t.kind == "package"
    assert [str(a) for a in t.type_args] == ["hs_t", "m_t"]
    first = prog.main.args[0].value
    assert isinstance(first, ast.Call) and first.kind == "constructor"
    assert isinstance(first.type, T.BlockT) and first.type.kind == "parser"
    assert isinstance(first.target, ast.ParserDecl) and first.resolved_args == []


def test_constructor_call_expressions_of_externs_and_controls() -> None:
    extra = "control Sub(inout hs_t hdr)(bit<8> k) { apply { hdr.h.a = k; } }\n"
    locals_ = (
        "    Sub(8w3) s;\n"
        "    table t { key = { hdr.h.a: exact; } actions = { NoAction; }\n"
        "              implementation = action_profile(32w64); }\n"
    )
    prog = ok(ctl("        s.apply(hdr); t.apply();", locals_, extra))
    c = find(prog.decls, "C")
    assert isinstance(c, ast.ControlDecl)
    t = find(c.locals, "t")
    assert isinstance(t, ast.TableDecl)
    impl = t.properties["implementation"]
    assert isinstance(impl, ast.Call) and impl.kind == "constructor"
    assert isinstance(impl.target, ast.ExternDecl) and impl.target.name == "action_profile"
    assert [p.name for p in impl.params] == ["size"]
    assert impl.resolved_args[0] is not None and impl.resolved_args[0].const == 64
    s = find(c.locals, "s")
    assert isinstance(s, ast.Instantiation) and s.args[0].value is not None
    assert s.args[0].value.type == T.BitT(8)
    bad(
        ctl("", "    Sub(hdr.h.a) s;", extra),
        "hdr.h.a",
        "must be a compile-time constant",
        offset=6,
        nth=1,
    )


def test_main_blocks_must_match_the_package() -> None:
    src = V1_BLOCKS + "V1Switch(P(), VC(), I(), E(), CC(), I()) main;\n"
    with pytest.raises(P4Error, match="I has 3 parameters but Deparser needs 2"):
        ok(src, main=True)
    src = V1_BLOCKS + "V1Switch(P(), VC(), E(), I(), D(), D()) main;\n"
    with pytest.raises(P4Error, match="parameter"):
        ok(src, main=True)
    src = V1_BLOCKS + "V1Switch(VC(), VC(), I(), E(), CC(), D()) main;\n"
    with pytest.raises(P4Error, match="argument 'p' must be a parser, not a control"):
        ok(src, main=True)
    bad_dir = V1_BLOCKS.replace("control VC(inout hs_t hdr", "control VC(in hs_t hdr")
    with pytest.raises(P4Error, match="parameter 'hdr' of VC must be 'inout'"):
        ok(bad_dir + "V1Switch(P(), VC(), I(), E(), CC(), D()) main;\n", main=True)
    mixed = V1_BLOCKS.replace("control CC(inout hs_t hdr", "control CC(inout m_t hdr")
    with pytest.raises(P4Error, match="parameter 'hdr' of CC has type m_t"):
        ok(mixed + "V1Switch(P(), VC(), I(), E(), CC(), D()) main;\n", main=True)


def test_missing_main() -> None:
    with pytest.raises(P4Error, match="no 'main'"):
        ok(V1_BLOCKS, main=True)


def test_unsupported_constructs_are_reported() -> None:
    prog = program(
        HEADERS + "parser G<H>(packet_in pk, out H h) { state start { transition accept; } }\n"
    )
    from p4sim.frontend.check import check

    with pytest.raises(Unsupported, match="generic parser G"):
        check(prog, require_main=False)
