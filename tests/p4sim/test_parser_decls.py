"""Declarations, statements, parsers, controls and tables parse to the right nodes."""

from __future__ import annotations

import pytest

from p4sim.frontend import ast, parse
from p4sim.frontend.errors import P4Error, Unsupported

from .test_parser_exprs import show, show_type


def decls(src: str) -> dict[str, ast.Decl]:
    return {d.name: d for d in parse(src, "t.p4").decls}


def ctl(body: str, locals_: str = "", pre: str = "") -> ast.ControlDecl:
    src = (
        "header H { bit<8> a; bit<8> b; }\nstruct M { bit<8> m; }\n"
        f"{pre}\ncontrol C(inout H h, inout M meta) {{ {locals_}\n apply {{ {body} }} }}"
    )
    c = decls(src)["C"]
    assert isinstance(c, ast.ControlDecl)
    return c


def only(body: str, locals_: str = "") -> ast.Stmt:
    stmts = ctl(body, locals_).body.stmts
    assert len(stmts) == 1
    s = stmts[0]
    assert isinstance(s, ast.Stmt)
    return s


# ----------------------------------------------------------------------------- types


def test_headers_structs_unions_stacks() -> None:
    d = decls(
        """
        header eth_t { @name("dst") bit<48> dst; bit<48> src; bit<16> type; }
        header opt_t { bit<8> kind; varbit<320> data; }
        header_union ip_t { eth_t a; opt_t b; }
        struct hdrs_t { eth_t eth; opt_t[4] opts; ip_t ip; bool flag; int<8> s; bit f; }
        """
    )
    eth = d["eth_t"]
    assert isinstance(eth, ast.HeaderDecl)
    assert [f.name for f in eth.fields] == ["dst", "src", "type"]
    assert eth.fields[0].has_annotation("name")
    assert show_type(eth.fields[0].type) == "bit<48>"
    opt = d["opt_t"]
    assert isinstance(opt, ast.HeaderDecl) and show_type(opt.fields[1].type) == "varbit<320>"
    assert isinstance(d["ip_t"], ast.HeaderUnionDecl)
    s = d["hdrs_t"]
    assert isinstance(s, ast.StructDecl)
    assert [show_type(f.type) for f in s.fields] == [
        "eth_t",
        "opt_t[4]",
        "ip_t",
        "bool",
        "int<8>",
        "bit<1>",
    ]
    stack = s.fields[1].type
    assert isinstance(stack, ast.StackType) and isinstance(stack.elem, ast.NamedType)


def test_typedef_type_const_enum_error_match_kind() -> None:
    d = decls(
        """
        typedef bit<9> port_t;
        type bit<32> flow_id_t;
        const port_t CPU = 9w255;
        const bit<16> MAX = 16w1 << 15;
        enum Color { RED, GREEN, }
        enum bit<8> Proto { TCP = 6, UDP = 0x11 }
        error { BadOption, Truncated }
        match_kind { fancy }
        typedef tuple<bit<8>, bool> pair_t;
        typedef port_t[2] two_t;
        """
    )
    td = d["port_t"]
    assert isinstance(td, ast.TypedefDecl) and not td.is_newtype
    nt = d["flow_id_t"]
    assert isinstance(nt, ast.TypedefDecl) and nt.is_newtype
    c = d["CPU"]
    assert (
        isinstance(c, ast.ConstDecl) and show_type(c.type) == "port_t" and show(c.value) == "9w255"
    )
    assert show(d["MAX"].value) == "(16w1 << 15)"  # type: ignore[union-attr,attr-defined]
    color = d["Color"]
    assert isinstance(color, ast.EnumDecl)
    assert color.members == ["RED", "GREEN"] and color.underlying is None and color.values == []
    proto = d["Proto"]
    assert isinstance(proto, ast.EnumDecl) and proto.members == ["TCP", "UDP"]
    assert show_type(proto.underlying) == "bit<8>" and [show(v) for v in proto.values] == [
        "6",
        "0x11",
    ]
    err = d["error"]
    assert isinstance(err, ast.ErrorDecl) and err.members == ["BadOption", "Truncated"]
    mk = d["match_kind"]
    assert isinstance(mk, ast.MatchKindDecl) and mk.members == ["fancy"]
    assert show_type(d["pair_t"].type) == "tuple<bit<8>, bool>"  # type: ignore[union-attr,attr-defined]
    assert show_type(d["two_t"].type) == "port_t[2]"  # type: ignore[union-attr,attr-defined]


def test_width_from_constant_and_expression() -> None:
    d = decls("const int W = 8; header h { bit<W> a; bit<(W * 2)> b; int<W> c; }")
    h = d["h"]
    assert isinstance(h, ast.HeaderDecl)
    assert [show_type(f.type) for f in h.fields] == ["bit<W>", "bit<(W * 2)>", "int<W>"]


# ----------------------------------------------------------------------------- externs, functions


def test_extern_object_with_generics_ctor_and_abstract() -> None:
    d = decls(
        """
        extern Checker<T, I> {
            Checker(bit<32> size, @optional T init);
            @noSideEffects
            void read(out T result, in I index);
            R probe<R>(in T x);
            abstract bit<16> hash_it(in T data);
        }
        """
    )
    e = d["Checker"]
    assert isinstance(e, ast.ExternDecl) and e.type_params == ["T", "I"]
    ctor, read, probe, ab = e.methods
    assert ctor.is_constructor and ctor.name == "Checker" and ctor.return_type is None
    assert ctor.params[1].has_annotation("optional")
    assert read.has_annotation("noSideEffects")
    assert [(p.direction, p.name, show_type(p.type)) for p in read.params] == [
        ("out", "result", "T"),
        ("in", "index", "I"),
    ]
    assert probe.type_params == ["R"] and show_type(probe.return_type) == "R"
    assert ab.is_abstract and not read.is_abstract


def test_extern_functions_and_functions() -> None:
    d = decls(
        """
        extern void hash_it<O, D>(out O result, in D data, bool flag = true);
        extern bit<16> checksum(in bit<8> x);
        bit<8> max(in bit<8> a, in bit<8> b) { if (a > b) { return a; } return b; }
        T pick<T>(in bool c, in T a, in T b) { return c ? a : b; }
        """
    )
    h = d["hash_it"]
    assert isinstance(h, ast.ExternFunctionDecl) and h.type_params == ["O", "D"]
    assert show_type(h.return_type) == "void"
    assert h.params[2].direction == "" and show(h.params[2].default) == "true"
    cs = d["checksum"]
    assert isinstance(cs, ast.ExternFunctionDecl) and show_type(cs.return_type) == "bit<16>"
    f = d["max"]
    assert isinstance(f, ast.FunctionDecl) and f.body is not None
    assert isinstance(f.body.stmts[0], ast.IfStmt)
    ret = f.body.stmts[1]
    assert isinstance(ret, ast.ReturnStmt) and show(ret.value) == "b"
    g = d["pick"]
    assert isinstance(g, ast.FunctionDecl) and g.type_params == ["T"]
    assert show_type(g.return_type) == "T"


def test_block_types_packages_and_instantiations() -> None:
    d = decls(
        """
        parser P<H>(packet_in b, out H h);
        control Ig<H, M>(inout H h, inout M m);
        package Pkg<H, M>(P<H> p, Ig<H, M> ig);
        extern packet_in { }
        extern reg<T> { reg(bit<32> n); }
        header h_t { bit<8> a; }
        struct m_t { bit<8> a; }
        parser MyP(packet_in b, out h_t h) { state start { transition accept; } }
        control MyIg(inout h_t h, inout m_t m)(bit<8> k, bool on) { apply { } }
        reg<bit<32>>(1024) global_reg;
        Pkg(MyP(), MyIg(8w3, on = true)) main;
        """
    )
    p = d["P"]
    assert isinstance(p, ast.BlockTypeDecl) and p.kind == "parser" and p.type_params == ["H"]
    pk = d["Pkg"]
    assert isinstance(pk, ast.BlockTypeDecl) and pk.kind == "package"
    assert [show_type(x.type) for x in pk.params] == ["P<H>", "Ig<H, M>"]
    ig = d["MyIg"]
    assert isinstance(ig, ast.ControlDecl)
    assert [x.name for x in ig.ctor_params] == ["k", "on"]
    r = d["global_reg"]
    assert isinstance(r, ast.Instantiation) and show_type(r.type) == "reg<bit<32>>"
    assert [show(a.value) for a in r.args] == ["1024"]
    prog = parse(
        "package Pkg(); extern e { e(); } Pkg() main;",
    )
    assert prog.main is not None and prog.main.name == "main"
    main = d["main"]
    assert isinstance(main, ast.Instantiation)
    assert [show(a.value) for a in main.args] == ["MyP()", "MyIg(8w3, on=true)"]


# ----------------------------------------------------------------------------- parsers


PARSER = """
header h_t { bit<8> a; bit<16> b; }
struct hs_t { h_t x; h_t[2] st; }
extern packet_in { void extract<T>(out T hdr); T lookahead<T>(); }
extern void verify(in bool c, in error e);
extern counter { counter(bit<32> n); }
parser MyP(packet_in pkt, out hs_t hdr) {
    bit<8> tmp;
    const bit<8> K = 3;
    counter(32w4) cnt;
    @name("begin") state start {
        pkt.extract(hdr.x);
        tmp = pkt.lookahead<bit<8>>();
        transition select(hdr.x.a, hdr.x.b) {
            (8w1, 16w0x0800): one;
            (8w2 &&& 8w0xF, _): two;
            (8w3 .. 8w9, default): accept;
            (K, 16w1): reject;
            default: reject;
        }
    }
    state one {
        pkt.extract(hdr.st.next);
        verify(tmp != 0, error.NoMatch);
        transition two;
    }
    state two {
        transition select(hdr.x.a) {
            8w0 &&& 8w0x80: accept;
            0x10 .. 0x1F: one;
            (8w7): accept;
            _: reject;
        }
    }
    state empty { }
}
"""


def test_parser_declaration() -> None:
    p = decls(PARSER)["MyP"]
    assert isinstance(p, ast.ParserDecl)
    assert [type(x).__name__ for x in p.locals] == ["VarDecl", "ConstDecl", "Instantiation"]
    assert [s.name for s in p.states] == ["start", "one", "two", "empty"]
    start, one, two, empty = p.states
    assert start.has_annotation("name")
    assert [type(s).__name__ for s in start.stmts] == ["CallStmt", "AssignStmt"]
    sel = start.transition
    assert isinstance(sel, ast.SelectExpr)
    assert [show(e) for e in sel.exprs] == ["hdr.x.a", "hdr.x.b"]
    assert [(show(c.keyset), c.state) for c in sel.cases] == [
        ("{8w1, 16w0x0800}", "one"),
        ("{(8w2 &&& 8w0xF), _}", "two"),
        ("{(8w3 .. 8w9), default}", "accept"),
        ("{K, 16w1}", "reject"),
        ("default", "reject"),
    ]
    assert isinstance(sel.cases[0].keyset, ast.ListExpr)
    assert one.transition == "two"
    assert show(one.stmts[1].call) == "verify((tmp != 0), error.NoMatch)"  # type: ignore[union-attr,attr-defined]
    sel2 = two.transition
    assert isinstance(sel2, ast.SelectExpr)
    assert [show(c.keyset) for c in sel2.cases] == [
        "(8w0 &&& 8w0x80)",
        "(0x10 .. 0x1F)",
        "8w7",
        "_",
    ]
    assert isinstance(sel2.cases[3].keyset, ast.DontCare)
    assert empty.transition == "reject" and empty.stmts == []


def test_statement_after_transition_is_an_error() -> None:
    with pytest.raises(P4Error) as ei:
        parse("parser P() { state s { transition accept; x = 1; } }", "t.p4")
    assert "expected '}'" in ei.value.message


# ----------------------------------------------------------------------------- controls, tables


TABLE = """
action a1(bit<8> v) { }
action a2() { }
control C(inout bit<8> k1, inout bit<16> k2) {
    direct_counter(CounterType.packets) cnt;
    action set(bit<8> v) { k1 = v; }
    @name("ingress.t") table t {
        key = {
            k1 : exact @name("key1");
            k2[15:8] : ternary;
            k2 : lpm;
            @name("k1_again") k1 : range;
        }
        actions = {
            set;
            @tableonly a1;
            @defaultonly a2();
        }
        const default_action = a2();
        size = 64;
        counters = cnt;
        support_timeout = true;
        implementation = action_profile(32w128);
        const entries = {
            (8w1, 0x1 &&& 0xF, 16w0x0A00 &&& 16w0xFF00, 1 .. 5) : set(8w5);
            (_, _, default, _) : a2() @name("catch_all");
            priority = 10 : (8w2, _, _, _) : a1(3);
            @name("e4") (8w3, _, _, _) : a1(v = 4);
        }
    }
    table u {
        actions = { a2; }
        default_action = a2;
        entries = {
            8w1 : a2();
            {8w2} : a2();
        }
    }
    apply { t.apply(); }
}
"""


def test_table_declaration() -> None:
    c = decls(TABLE)["C"]
    assert isinstance(c, ast.ControlDecl)
    inst, act, t, u = c.locals
    assert isinstance(inst, ast.Instantiation) and isinstance(act, ast.ActionDecl)
    assert isinstance(t, ast.TableDecl) and t.has_annotation("name")
    assert [(show(k.expr), k.match_kind) for k in t.keys] == [
        ("k1", "exact"),
        ("k2[15:8]", "ternary"),
        ("k2", "lpm"),
        ("k1", "range"),
    ]
    assert t.keys[3].has_annotation("name")
    name = t.keys[0].annotation("name")
    assert name is not None and name.raw == '"key1"'
    assert [a.name for a in t.actions] == ["set", "a1", "a2"]
    assert t.actions[1].has_annotation("tableonly") and t.actions[2].has_annotation("defaultonly")
    assert t.default_action is not None and t.default_action.name == "a2" and t.default_is_const
    assert show(t.size) == "64"
    assert sorted(t.properties) == ["counters", "implementation", "support_timeout"]
    assert show(t.properties["implementation"]) == "action_profile(32w128)"
    assert t.entries_const and len(t.entries) == 4
    e0, e1, e2, e3 = t.entries
    assert [show(k) for k in e0.keys] == [
        "8w1",
        "(0x1 &&& 0xF)",
        "(16w0x0A00 &&& 16w0xFF00)",
        "(1 .. 5)",
    ]
    assert e0.action is not None and e0.action.name == "set"
    assert [show(a.value) for a in e0.action.args] == ["8w5"]
    assert e0.is_const and e0.priority is None
    assert [show(k) for k in e1.keys] == ["_", "_", "default", "_"]
    assert e1.has_annotation("name")
    assert show(e2.priority) == "10"
    assert e3.has_annotation("name") and e3.action is not None
    assert e3.action.args[0].name == "v"
    assert isinstance(u, ast.TableDecl)
    assert not u.entries_const and not u.entries[0].is_const
    assert [show(k) for k in u.entries[0].keys] == ["8w1"]
    assert [show(k) for k in u.entries[1].keys] == ["8w2"]  # a list keyset is unpacked
    assert u.default_action is not None and u.default_action.args == []
    assert not u.default_is_const


def test_table_property_given_twice() -> None:
    with pytest.raises(P4Error) as ei:
        parse("control C() { table t { size = 1; size = 2; } apply {} }", "t.p4")
    assert "given twice" in ei.value.message and ei.value.loc.col == 35


# ----------------------------------------------------------------------------- statements


def test_statement_kinds() -> None:
    c = ctl(
        """
        bit<8> v = 8w1;
        const bit<8> K = 2;
        H tmp;
        h.a = v;
        h.setValid();
        if (v == K) h.a = 1; else if (v > K) { h.b = 2; } else { }
        { h.a = 3; }
        ;
        exit;
        return;
        @atomic { h.b = h.a; }
        h.a = h.a + 1;
        h.b += 2;
        """
    )
    kinds = [type(s).__name__ for s in c.body.stmts]
    assert kinds == [
        "VarDecl",
        "ConstDecl",
        "VarDecl",
        "AssignStmt",
        "CallStmt",
        "IfStmt",
        "BlockStmt",
        "EmptyStmt",
        "ExitStmt",
        "ReturnStmt",
        "BlockStmt",
        "AssignStmt",
        "AssignStmt",
    ]
    v = c.body.stmts[0]
    assert isinstance(v, ast.VarDecl) and show(v.init) == "8w1" and show_type(v.type) == "bit<8>"
    tmp = c.body.stmts[2]
    assert isinstance(tmp, ast.VarDecl) and tmp.init is None and show_type(tmp.type) == "H"
    iff = c.body.stmts[5]
    assert isinstance(iff, ast.IfStmt) and isinstance(iff.then, ast.AssignStmt)
    assert isinstance(iff.other, ast.IfStmt) and isinstance(iff.other.other, ast.BlockStmt)
    atomic = c.body.stmts[10]
    assert isinstance(atomic, ast.BlockStmt) and atomic.has_annotation("atomic")
    compound = c.body.stmts[12]
    assert isinstance(compound, ast.AssignStmt)
    assert show(compound.lhs) == "h.b" and show(compound.rhs) == "(h.b + 2)"
    assert compound.rhs.left is not compound.lhs  # type: ignore[union-attr,attr-defined]


def test_switch_with_fall_through_and_default() -> None:
    c = ctl(
        """
        switch (t.apply().action_run) {
            a1:
            a2: { h.a = 1; }
            default: { h.a = 2; }
        }
        switch (h.a) {
            8w1: { }
            2:
            default:
        }
        """,
        "action a1() {} action a2() {} table t { actions = { a1; a2; } }",
    )
    sw = c.body.stmts[0]
    assert isinstance(sw, ast.SwitchStmt)
    assert show(sw.expr) == "t.apply().action_run"
    assert [(show(k.labels[0]), k.block is None) for k in sw.cases] == [
        ("a1", True),
        ("a2", False),
        ("default", False),
    ]
    assert isinstance(sw.cases[2].labels[0], ast.DefaultExpr)
    sw2 = c.body.stmts[1]
    assert isinstance(sw2, ast.SwitchStmt)
    assert [(show(k.labels[0]), k.block is None) for k in sw2.cases] == [
        ("8w1", False),
        ("2", True),
        ("default", True),
    ]


def test_declarations_vs_expressions_at_statement_start() -> None:
    c = ctl(
        """
        E e = E.A;
        bit<32> n = H.minSizeInBits();
        error err = error.NoError;
        r.write(0, 1);
        reg<bit<8>>(4) local_r;
        """,
        pre="enum E { A, B } extern reg<T> { reg(bit<32> n); void write(in bit<32> i, in T v); }",
        locals_="reg<bit<8>>(8) r;",
    )
    kinds = [type(s).__name__ for s in c.body.stmts]
    assert kinds == ["VarDecl", "VarDecl", "VarDecl", "CallStmt", "Instantiation"]
    assert show(c.body.stmts[1].init) == "H.minSizeInBits()"  # type: ignore[union-attr,attr-defined]
    assert show(c.body.stmts[2].init) == "error.NoError"  # type: ignore[union-attr,attr-defined]


def test_actions_with_directions_and_annotations() -> None:
    c = ctl("", '@name("x.fwd") action fwd(inout bit<8> x, @name("p") bit<9> port) { x = 1; }')
    a = c.locals[0]
    assert isinstance(a, ast.ActionDecl) and a.has_annotation("name")
    ann = a.annotation("name")
    assert ann is not None and ann.raw == '"x.fwd"' and show(ann.args[0]) == "'x.fwd'"
    assert [(p.direction, p.name) for p in a.params] == [("inout", "x"), ("", "port")]
    assert a.params[1].has_annotation("name")


def test_annotation_forms() -> None:
    d = decls(
        """
        @controller_header("packet_in") @id(0x01) @hidden @pragma_thing(a b c)
        @kv[key="v", other=2] @field_list(1, 2)
        header h { bit<8> x; }
        """
    )
    h = d["h"]
    names = [a.name for a in h.annotations]
    assert names == ["controller_header", "id", "hidden", "pragma_thing", "kv", "field_list"]
    by = {a.name: a for a in h.annotations}
    assert show(by["id"].args[0]) == "0x01"
    assert by["hidden"].args == [] and by["hidden"].raw == ""
    assert by["pragma_thing"].args == [] and by["pragma_thing"].raw == "a b c"
    assert by["kv"].raw == 'key="v", other=2'
    assert [show(x) for x in by["field_list"].args] == ["1", "2"]


def test_keywords_usable_as_names() -> None:
    d = decls(
        """
        header h { bit<8> type; bit<8> key; bit<3> priority; bit<8> state; bit<8> apply; }
        control C(inout h x) { apply { x.type = x.key; x.priority = 1; } }
        """
    )
    h = d["h"]
    assert isinstance(h, ast.HeaderDecl)
    assert [f.name for f in h.fields] == ["type", "key", "priority", "state", "apply"]


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("src", "line", "col", "text"),
    [
        ("header H { bit<8> a }", 1, 21, "expected ';'"),
        ("control C() {\n  apply {\n    x = ;\n  }\n}", 3, 9, "expected an expression"),
        ("control C() { table t { key = { a; } } apply {} }", 1, 34, "expected ':'"),
        ("parser P() { state s { transition select(x) { 1 => s; } } }", 1, 49, "expected ':'"),
        ("control C() { apply { x + 1; } }", 1, 28, "expected '=' or a method call"),
        ("struct S { bit<8> a; ", 1, 21, "found end of input"),
        ("control C() { action a() {} }", 1, 9, "has no apply block"),
        ("bit<8> x;", 1, 1, "top-level variables"),
        ("control C() { apply { foo_t x; } }", 1, 23, "'foo_t' is not a type"),
        ("header H { bit<8 a; }", 1, 18, "expected '>'"),
    ],
)
def test_syntax_error_locations(src: str, line: int, col: int, text: str) -> None:
    with pytest.raises(P4Error) as ei:
        parse(src, "t.p4")
    assert (ei.value.loc.file, ei.value.loc.line, ei.value.loc.col) == ("t.p4", line, col)
    assert text in ei.value.message
    assert str(ei.value).startswith(f"t.p4:{line}:{col}: error: ")


@pytest.mark.parametrize(
    "src",
    [
        "struct S<T> { T x; }",
        "parser P() { value_set<bit<8>>(4) vs; state start { transition accept; } }",
        "control C() { apply { for (bit<8> i = 0; i < 4; i = i + 1) { } } }",
        "control C() { apply { break; } }",
        "typedef list<bit<8>> l_t;",
        "extern E { E(); } E() e = { E() f; };",
    ],
)
def test_unsupported_constructs(src: str) -> None:
    with pytest.raises(Unsupported) as ei:
        parse(src, "t.p4")
    assert "unsupported by p4sim" in str(ei.value)


def test_unexpanded_directive_is_reported() -> None:
    with pytest.raises(P4Error) as ei:
        parse('\n#include "x.p4"\n', "t.p4")
    assert ei.value.loc.line == 2 and "preprocess" in ei.value.message


def test_values_shadow_type_names() -> None:
    # `counter` is an extern type, but a variable of that name hides it in its scope.
    c = ctl(
        "bit<32> counter = 0; counter = counter + 1; x.count();",
        "counter(4) x;",
        pre="extern counter { counter(bit<32> n); void count(); }",
    )
    kinds = [type(s).__name__ for s in c.body.stmts]
    assert kinds == ["VarDecl", "AssignStmt", "CallStmt"]
    a = decls(
        "extern counter { counter(bit<32> n); }\n"
        "action act(inout bit<8> counter) { counter = 1; }\n"
        "control D() { counter(4) c; apply { } }"
    )
    assert isinstance(a["act"], ast.ActionDecl)
    d = a["D"]
    assert isinstance(d, ast.ControlDecl) and isinstance(d.locals[0], ast.Instantiation)


def test_newer_spec_forms() -> None:
    d = decls(
        """
        const bit<8> W = 4;
        header h { bit<2 + 2> a; bit<(W > 2 ? 8 : 16)> b; bit<W * 2> c; }
        typedef tuple<> none_t;
        extern E<T> { E(); }
        control C(inout h x) {
            E<_>() e;
            apply @noWarn("unused") {
                x.c <<= 2;
                x.c >>= 1;
                x.b = x.c[W +: 4] ++ x.c[0:0];
            }
        }
        parser P(inout h x) { state start { transition select() { default: accept; } } }
        @pragma my_pragma 1, "two"
        const bit<8> Q = 1;
        @name("multi
line") const bit<8> R = 2;
        """
    )
    hd = d["h"]
    assert isinstance(hd, ast.HeaderDecl)
    assert [show_type(f.type) for f in hd.fields] == [
        "bit<(2 + 2)>",
        "bit<((W > 2) ? 8 : 16)>",
        "bit<(W * 2)>",
    ]
    none = d["none_t"]
    assert isinstance(none, ast.TypedefDecl) and show_type(none.type) == "tuple<>"
    c = d["C"]
    assert isinstance(c, ast.ControlDecl) and c.body.has_annotation("noWarn")
    inst = c.locals[0]
    assert isinstance(inst, ast.Instantiation) and show_type(inst.type) == "E<_>"
    shl, shr, sl = c.body.stmts
    assert isinstance(shl, ast.AssignStmt) and show(shl.rhs) == "(x.c << 2)"
    assert isinstance(shr, ast.AssignStmt) and show(shr.rhs) == "(x.c >> 1)"
    assert isinstance(sl, ast.AssignStmt)
    assert show(sl.rhs) == "(x.c[((W + 4) - 1):W] ++ x.c[0:0])"
    p = d["P"]
    assert isinstance(p, ast.ParserDecl)
    sel = p.states[0].transition
    assert isinstance(sel, ast.SelectExpr) and sel.exprs == []
    q = d["Q"]
    ann = q.annotation("my_pragma")
    assert ann is not None and ann.raw == '1, "two"' and len(ann.args) == 2
    r = d["R"].annotation("name")
    assert r is not None and isinstance(r.args[0], ast.StringLit)
    assert r.args[0].value == "multi\nline"
    rv = d["R"]
    assert isinstance(rv, ast.ConstDecl) and rv.value is not None
    assert (rv.loc.line, rv.value.loc.line) == (17, 18)  # the string's newline was counted


@pytest.mark.parametrize(
    ("src", "what"),
    [
        ("control C() { action a(bit<8> x) {} table t { actions = { a; } "
         "default_action = a(...); } apply {} }", "'...'"),
        ("header h { bit<8> a; } control C() { apply { h x = (h){#}; } }", "'#'"),
        ("extern E { E(); } control C() { E() es[4]; apply {} }", "arrays of extern"),
        ("typedef struct P { bit<8> x; } P_t;", "inline struct"),
        ("header h { bit<8> arr[4]; }", "array-style fields"),
    ],
)  # fmt: skip
def test_more_unsupported_forms(src: str, what: str) -> None:
    with pytest.raises(Unsupported) as ei:
        parse(src, "t.p4")
    assert what in ei.value.message


def test_free_form_annotation_bodies_and_stray_characters() -> None:
    d = decls("@doc(it's $free` text) const bit<8> A = 1;")
    ann = d["A"].annotation("doc")
    assert ann is not None and ann.raw == "it's $free` text" and ann.args == []
    with pytest.raises(P4Error) as ei:
        parse("const bit<8> A = 1 $ 2;", "t.p4")
    assert ei.value.loc.col == 20 and "unexpected character '$'" in ei.value.message


def test_hash_pragma_becomes_an_annotation() -> None:
    d = decls("#pragma my_hint 3\nconst bit<8> A = 1;\n")
    ann = d["A"].annotation("my_hint")
    assert ann is not None and ann.raw == "3"


def test_generic_function_body_and_sub_blocks() -> None:
    d = decls(
        """
        extern packet_in { void extract<T>(out T h); }
        header h_t { bit<8> a; }
        T biggest<T>(in T a, in T b) { T r; if (a > b) { r = a; } else { r = b; } return r; }
        parser Sub(packet_in p, out h_t h) { state start { p.extract(h); transition accept; } }
        parser Top(packet_in p, out h_t h) {
            Sub() sub;
            state start { sub.apply(p, h); transition accept; }
        }
        control Inner(inout h_t h) { apply { h.a = biggest<bit<8>>(h.a, 8w1); } }
        control Outer(inout h_t h) { Inner() inner; apply { inner.apply(h); } }
        """
    )
    f = d["biggest"]
    assert isinstance(f, ast.FunctionDecl) and f.body is not None
    assert isinstance(f.body.stmts[0], ast.VarDecl)
    top = d["Top"]
    assert isinstance(top, ast.ParserDecl)
    assert isinstance(top.locals[0], ast.Instantiation)
    call = top.states[0].stmts[0]
    assert isinstance(call, ast.CallStmt) and show(call.call) == "sub.apply(p, h)"
    inner = d["Inner"]
    assert isinstance(inner, ast.ControlDecl)
    assign = inner.body.stmts[0]
    assert isinstance(assign, ast.AssignStmt) and show(assign.rhs) == "biggest<bit<8>>(h.a, 8w1)"
    outer = d["Outer"]
    assert isinstance(outer, ast.ControlDecl) and isinstance(outer.locals[0], ast.Instantiation)
