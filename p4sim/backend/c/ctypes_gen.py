"""C types for P4 values, and the C declarations of a program's aggregate types.

Value model of the generated C:

* `bit<W>`, W <= 64: `uint64_t` kept masked to W bits; 64 < W <= 128: `p4_u128`;
* `int<W>`, W <= 64: `int64_t` kept sign-extended from bit W-1;
* `bool`: `bool`; `error` and plain enum members: `uint64_t` numbers (the Python back
  end's numbering); serializable enums and new types: their representation;
* headers: a struct with `_valid` and one member per field (a varbit field is a byte
  array of its maximum width, MSB first, plus its current width `_w_<name>`);
* structs and header unions: structs of their members, by value; header stacks:
  `{ elem[N]; next_index; }`.

Anything else (wider bit<W>, signed values wider than 64 bits) is rejected with
`Unsupported` when the program is compiled, never at run time.
"""

from __future__ import annotations

from typing import Any

from p4sim.frontend import types as T
from p4sim.frontend.errors import Unsupported

C_KEYWORDS = frozenset(
    """auto break case char const continue default do double else enum extern float for
    goto if inline int long register restrict return short signed sizeof static struct
    switch typedef union unsigned void volatile while bool true false main""".split()
)


def ident(name: str) -> str:
    """A C identifier for a P4 name (keywords and reserved-looking names escaped)."""
    out = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    if out in C_KEYWORDS or out.startswith("_") or out.startswith("p4_") or not out:
        out = "f_" + out
    return out


def u(t: Any) -> Any:
    return T.underlying(t) if isinstance(t, T.Type) else t


def scalar_ctype(t: Any, where: Any = None) -> str:
    """The C type of a scalar P4 type."""
    t = u(t)
    if isinstance(t, T.BoolT):
        return "bool"
    if isinstance(t, T.BitT):
        if t.signed:
            if t.width > 64:
                raise Unsupported(where, f"int<{t.width}> in the C back end (at most 64 bits)")
            return "int64_t"
        if t.width <= 64:
            return "uint64_t"
        if t.width <= 128:
            return "p4_u128"
        raise Unsupported(where, f"bit<{t.width}> values in the C back end (at most 128 bits)")
    if isinstance(t, T.ErrorT | T.EnumT | T.IntLitT):
        return "uint64_t"
    raise Unsupported(where, f"a value of type {t} in the C back end")


def is_agg(t: Any) -> bool:
    return isinstance(u(t), T.StructLikeT | T.StackT)


def is_wide(t: Any) -> bool:
    t = u(t)
    return isinstance(t, T.BitT) and t.width > 64


class CTypes:
    """Names and declarations of the aggregate types a program uses."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._decls: list[str] = []
        self._eqs: list[str] = []

    def name(self, t: Any) -> str:
        t = u(t)
        if isinstance(t, T.StackT):
            elem = self.name(t.elem)
            key = f"stack:{elem}:{t.size}"
            if key not in self._names:
                cname = f"K{len(self._names)}_{elem}_{t.size}"
                self._names[key] = cname
                self._decls.append(
                    f"typedef struct {{ {elem} e[{t.size}]; uint32_t next_index; }} {cname};"
                )
                self._eqs.append(
                    f"static inline bool eq_{cname}(const {cname} *a, const {cname} *b)\n{{\n"
                    f"    for (int i = 0; i < {t.size}; i++)\n"
                    f"        if (!eq_{elem}(&a->e[i], &b->e[i]))\n"
                    "            return false;\n    return true;\n}"
                )
            return self._names[key]
        if not isinstance(t, T.StructLikeT):
            return scalar_ctype(t)
        key = f"{type(t).__name__}:{t.name}"
        if key in self._names:
            return self._names[key]
        prefix = {"HeaderT": "H", "HeaderUnionT": "U"}.get(type(t).__name__, "S")
        cname = f"{prefix}{len(self._names)}_{ident(t.name).removeprefix('f_')}"
        self._names[key] = cname
        members = []
        for fname, ft in t.fields:
            fu = u(ft)
            if isinstance(fu, T.VarbitT):
                members.append(f"    uint8_t {ident(fname)}[{(fu.max_width + 7) // 8}];")
                members.append(f"    uint32_t _w_{ident(fname)};")
            elif is_agg(fu):
                members.append(f"    {self.name(fu)} {ident(fname)};")
            else:
                members.append(
                    f"    {scalar_ctype(fu, getattr(t.decl, 'loc', None))} {ident(fname)};"
                )
        if isinstance(t, T.HeaderT):
            members.insert(0, "    bool _valid;")
        body = "\n".join(members) if members else "    uint8_t _empty;"
        self._decls.append(f"typedef struct {{\n{body}\n}} {cname}; /* {t.name} */")
        self._eqs.append(self._eq(cname, t))
        return cname

    def _eq(self, cname: str, t: T.StructLikeT) -> str:
        conds = []
        for fname, ft in t.fields:
            f = ident(fname)
            fu = u(ft)
            if isinstance(fu, T.VarbitT):
                conds.append(f"a->_w_{f} == b->_w_{f}")
                conds.append(f"!memcmp(a->{f}, b->{f}, (a->_w_{f} + 7) / 8)")
            elif is_agg(fu):
                conds.append(f"eq_{self.name(fu)}(&a->{f}, &b->{f})")
            else:
                conds.append(f"a->{f} == b->{f}")
        body = " && ".join(conds) or "true"
        if isinstance(t, T.HeaderT):
            body = f"a->_valid == b->_valid && (!a->_valid || ({body}))"
        return (
            f"static inline bool eq_{cname}(const {cname} *a, const {cname} *b)\n"
            f"{{\n    (void)a;\n    (void)b;\n    return {body};\n}}"
        )

    def source(self) -> str:
        return "\n\n".join(self._decls + self._eqs) + "\n"
