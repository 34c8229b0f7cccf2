"""Python classes for P4 aggregate values, generated per program.

Every header, struct and header union type becomes a small class whose fields are
attributes `f_<name>` (plus `valid` for headers; a varbit field carries its current
width in `w_<name>`). Construction must cost nothing, because a program with header
stacks of unions has hundreds of headers per packet: zero values of scalar fields are
class attributes (an instance stores only what was written), and aggregate members of
structs and unions are built on first access (`__getattr__`). All classes share one
protocol, which generated code and the pipeline rely on:

* `Cls()` is the zero value (headers invalid, bits 0, bools False);
* `copy()` a deep copy, `assign(other)` a deep in-place copy (P4 assignment of
  aggregates is by value, so aggregates are never rebound, only assigned into);
* `eq(other)` P4 `==`; `invalidate()` makes every header inside invalid;
* unions: `is_valid()`, `invalidate_all()` (before one member becomes valid),
  `emit(out)` (the valid members, in declaration order);
* members never built are in no instance `__dict__`; hot paths read validity from the
  dict (`runtime.NEVER_MADE` stands for a missing header) instead of building them;
* headers also have `ext(value)` (fixed-width headers: fill the fields from the
  header's bits and set valid), `take(pk)` (fixed-width: read them from a `PacketIn`
  and advance it, or reject with PacketTooShort), `ext_pk(pk, varbits)` (read from a `PacketIn`, used
  for headers with a varbit field) and `emit(out)` (write to a `PacketOut`).
"""

from __future__ import annotations

from p4sim.frontend import types as T


def pyfield(name: str) -> str:
    return "f_" + name


def default_expr(t: T.Type, classes: TypeClasses) -> str:
    """A Python expression building the zero value of `t`."""
    u = T.underlying(t)
    if isinstance(u, T.BitT | T.IntLitT | T.VarbitT):
        return "0"
    if isinstance(u, T.BoolT):
        return "False"
    if isinstance(u, T.ErrorT | T.EnumT):
        return "0"
    if isinstance(u, T.StructLikeT):
        return classes.name_of(u) + "()"
    if isinstance(u, T.StackT):
        elem = default_expr(u.elem, classes)
        if u.size <= 32:  # a list display: no comprehension to run per packet
            return f"_rt.Stack([{', '.join([elem] * u.size)}])"
        return f"_rt.Stack([{elem} for _ in range({u.size})])"
    if isinstance(u, T.TupleT):
        items = ", ".join(default_expr(e, classes) for e in u.elems)
        return f"({items}{',' if len(u.elems) == 1 else ''})"
    if isinstance(u, T.StringT):
        return "''"
    return "None"


def _builder(t: T.Type, classes: TypeClasses) -> str:
    """A callable building the zero value of aggregate `t`: the class itself for
    structs, headers and unions, a lambda for stacks."""
    u = T.underlying(t)
    if isinstance(u, T.StructLikeT):
        return classes.name_of(u)
    return f"lambda: {default_expr(u, classes)}"


def is_aggregate(t: T.Type) -> bool:
    return isinstance(T.underlying(t), T.StructLikeT | T.StackT)


class TypeClasses:
    """Collects the aggregate types a program uses and writes their classes."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._order: list[T.StructLikeT] = []
        self._lazy_tables: list[str] = []

    def name_of(self, t: T.StructLikeT) -> str:
        key = f"{type(t).__name__}:{t.name}"
        name = self._names.get(key)
        if name is None:
            prefix = {"HeaderT": "H", "HeaderUnionT": "U"}.get(type(t).__name__, "S")
            name = f"{prefix}{len(self._names)}_{_ident(t.name)}"
            self._names[key] = name
            self._order.append(t)
            for _, ft in t.fields:
                self._visit(ft)
        return name

    def _visit(self, t: T.Type) -> None:
        u = T.underlying(t)
        if isinstance(u, T.StructLikeT):
            self.name_of(u)
        elif isinstance(u, T.StackT):
            self._visit(u.elem)
        elif isinstance(u, T.TupleT):
            for e in u.elems:
                self._visit(e)

    def source(self) -> str:
        out: list[str] = []
        done: set[str] = set()
        i = 0
        while i < len(self._order):  # classes may add more while being written
            t = self._order[i]
            i += 1
            name = self.name_of(t)
            if name in done:
                continue
            done.add(name)
            if isinstance(t, T.HeaderT):
                out.extend(self._header(name, t))
            elif isinstance(t, T.HeaderUnionT):
                out.extend(self._union(name, t))
            else:
                out.extend(self._struct(name, t))
            out.append("")
        out.extend(self._lazy_tables)
        out.append("")
        return "\n".join(out)

    # ------------------------------------------------------------------ structs

    def _struct(self, name: str, t: T.StructLikeT) -> list[str]:
        """Structs and unions: scalar fields default to class attributes and
        aggregate members (headers, structs, stacks) are built on first access by
        `__getattr__`, so that a `headers_t` with dozens of headers costs nothing
        until the parser touches them."""
        aggs = [(pyfield(n), ft) for n, ft in t.fields if is_aggregate(ft)]
        scalars = [(pyfield(n), ft) for n, ft in t.fields if not is_aggregate(ft)]
        lines = [f"class {name}:"]
        for f, ft in scalars:
            lines.append(f"    {f} = {default_expr(ft, self)}")
        lines.append("    def __getattr__(self, name):")
        if aggs:
            # One dict lookup finds the member's zero-value builder, whatever its
            # position among the members (the builders are bound after all classes).
            lines.append("        make = self._lazy.get(name)")
            lines.append("        if make is None:")
            lines.append("            raise AttributeError(name)")
            lines.append("        v = self.__dict__[name] = make()")
            lines.append("        return v")
            items = ", ".join(f"{f!r}: {_builder(ft, self)}" for f, ft in aggs)
            self._lazy_tables.append(f"{name}._lazy = {{{items}}}")
        else:
            lines.append("        raise AttributeError(name)")
        shown = ", ".join(f"{n}={{self.{pyfield(n)}!r}}" for n, _ in t.fields)
        lines += [
            "    def __repr__(self):",
            f"        return f{(t.name + '(' + shown + ')')!r}",
            "    def copy(self):",
            f"        o = {name}.__new__({name})",
            "        d = self.__dict__.copy()",
        ]
        for f, _ in aggs:
            lines.append(f"        v = d.get({f!r})")
            lines.append("        if v is not None:")
            lines.append(f"            d[{f!r}] = v.copy()")
        lines += ["        o.__dict__ = d", "        return o"]
        lines.append("    def assign(self, s):")
        for f, _ in scalars:
            lines.append(f"        self.{f} = s.{f}")
        for f, _ in aggs:
            lines.append(f"        self.{f}.assign(s.{f})")
        lines.append("        pass")
        lines.append("    def eq(self, s):")
        conds = [f"self.{f} == s.{f}" for f, _ in scalars]
        conds += [f"self.{f}.eq(s.{f})" for f, _ in aggs]
        lines.append(f"        return {' and '.join(conds) or 'True'}")
        lines.append("    def invalidate(self):")
        lines.append("        d = self.__dict__")
        for f, _ in aggs:
            lines.append(f"        v = d.get({f!r})")
            lines.append("        if v is not None:")
            lines.append("            v.invalidate()")
        return lines

    def _union(self, name: str, t: T.StructLikeT) -> list[str]:
        lines = self._struct(name, t)
        order = ", ".join(repr(pyfield(n)) for n, _ in t.fields)
        lines += [
            # Deparsing: only members ever built can be valid, and normally one is;
            # two valid members (possible by assignment) go out in declaration order.
            "    def emit(self, out):",
            "        first = None",
            "        for v in self.__dict__.values():",
            "            if v.valid:",
            "                if first is not None:",
            "                    d = self.__dict__",
            f"                    for n in ({order},):",
            "                        v = d.get(n)",
            "                        if v is not None and v.valid:",
            "                            v.emit(out)",
            "                    return",
            "                first = v",
            "        if first is not None:",
            "            first.emit(out)",
            "    def is_valid(self):",
            "        for v in self.__dict__.values():",
            "            if v.valid:",
            "                return True",
            "        return False",
            "    def invalidate_all(self):",
            "        for v in self.__dict__.values():",
            "            v.valid = False",
        ]
        return lines

    # ------------------------------------------------------------------ headers

    def _header(self, name: str, t: T.StructLikeT) -> list[str]:
        fields = t.fields
        slots = ["valid"] + [pyfield(n) for n, _ in fields]
        slots += ["w_" + n for n, ft in fields if isinstance(ft, T.VarbitT)]
        has_varbit = any(isinstance(ft, T.VarbitT) for _, ft in fields)
        width = sum(_fixed_width(ft) for _, ft in fields)
        # Headers have no __init__: the zero value lives in class attributes and an
        # instance only stores what was written. A program with header stacks of
        # unions builds hundreds of headers per packet, so construction must be free.
        lines = [f"class {name}:", f"    W = {width}", "    valid = False"]
        for n, ft in fields:
            lines.append(f"    {pyfield(n)} = {default_expr(ft, self)}")
            if isinstance(ft, T.VarbitT):
                lines.append(f"    w_{n} = 0")
        shown = ", ".join(
            f"{n}={{self.{pyfield(n)}:#x}}"
            if isinstance(ft, T.BitT) and not ft.signed
            else f"{n}={{self.{pyfield(n)}!r}}"
            for n, ft in fields
        )
        lines += [
            "    def __repr__(self):",
            f"        return f{(t.name + '(' + shown + ')')!r} if self.valid else {(t.name + '(invalid)')!r}",
            "    def copy(self):",
            f"        o = {name}.__new__({name})",
            "        o.__dict__ = self.__dict__.copy()",
            "        return o",
            "    def assign(self, s):",
            "        self.__dict__ = s.__dict__.copy()",
        ]
        lines += ["    def invalidate(self):", "        self.valid = False"]
        conds = " and ".join(f"self.{s} == s.{s}" for s in slots[1:]) or "True"
        lines += [
            "    def eq(self, s):",
            "        if self.valid != s.valid:",
            "            return False",
            f"        return not self.valid or ({conds})",
        ]
        if not has_varbit:
            lines += self._fixed_ext_emit(fields, width)
        lines += self._generic_ext_emit(fields)
        return lines

    def _fixed_ext_emit(self, fields: list[tuple[str, T.Type]], width: int) -> list[str]:
        body = []
        emit_parts = []
        shift = width
        for n, ft in fields:
            w = _fixed_width(ft)
            shift -= w
            mask = (1 << w) - 1
            raw = f"v >> {shift}" if shift + w == width else f"(v >> {shift}) & {mask:#x}"
            if shift == 0 and shift + w != width:
                raw = f"v & {mask:#x}"
            if shift == 0 and shift + w == width:
                raw = "v"
            body.append(f"        self.{pyfield(n)} = {_from_raw(raw, ft)}")
            val = _to_raw(f"self.{pyfield(n)}", ft)
            emit_parts.append(f"({val} << {shift})" if shift else val)
        body.append("        self.valid = True")
        lines = ["    def ext(self, v):", *body]
        # `extract`: the cursor step of `PacketIn.take` fused with `ext`, one call.
        aligned = "not pos & 7" if width % 8 == 0 else "not (pos | end) & 7"
        lines += [
            "    def take(self, pk):",
            "        pos = pk.pos",
            f"        end = pos + {width}",
            "        if end > pk.nbits:",
            "            raise _rt.ParserReject(pk.too_short)",
            "        pk.pos = end",
            f"        if {aligned}:",
            "            v = int.from_bytes(pk.data[pos >> 3 : end >> 3], 'big')",
            "        else:",
            "            v = pk._bits(pos, end)",
            *body,
        ]
        value = " | ".join(emit_parts) or "0"
        lines += ["    def emit(self, out):"]
        if width % 8 == 0:
            # Whole bytes onto a byte-aligned sink (the usual case): no `put` call.
            lines += [
                "        if out.accbits:",
                f"            out.put({value}, {width})",
                "        else:",
                f"            out.buf += ({value}).to_bytes({width // 8}, 'big')",
            ]
        else:
            lines.append(f"        out.put({value}, {width})")
        lines += ["    def bits(self):", f"        return {' | '.join(emit_parts) or '0'}"]
        return lines

    def _generic_ext_emit(self, fields: list[tuple[str, T.Type]]) -> list[str]:
        """Field-by-field reading and writing, for headers with a varbit field."""
        lines = ["    def ext_pk(self, pk, varbits):"]
        for n, ft in fields:
            if isinstance(ft, T.VarbitT):
                lines.append(f"        self.{pyfield(n)} = pk.take(varbits)")
                lines.append(f"        self.w_{n} = varbits")
            else:
                raw = f"pk.take({_fixed_width(ft)})"
                lines.append(f"        self.{pyfield(n)} = {_from_raw(raw, ft)}")
        lines.append("        self.valid = True")
        has_varbit = any(isinstance(ft, T.VarbitT) for _, ft in fields)
        if has_varbit:
            lines.append("    def emit(self, out):")
            for n, ft in fields:
                if isinstance(ft, T.VarbitT):
                    lines.append(f"        out.put(self.{pyfield(n)}, self.w_{n})")
                else:
                    val = _to_raw(f"self.{pyfield(n)}", ft)
                    lines.append(f"        out.put({val}, {_fixed_width(ft)})")
            lines.append("        pass")
        return lines


def _fixed_width(t: T.Type) -> int:
    if isinstance(t, T.VarbitT):
        return 0
    return T.width_of(t)


def _from_raw(raw: str, t: T.Type) -> str:
    """Convert the unsigned bits of a field into its stored value."""
    u = T.underlying(t)
    if isinstance(u, T.BoolT):
        return f"bool({raw})"
    if isinstance(u, T.BitT) and u.signed:
        half = 1 << (u.width - 1)
        return f"((({raw}) + {half:#x}) & {(1 << u.width) - 1:#x}) - {half:#x}"
    return raw


def _to_raw(val: str, t: T.Type) -> str:
    u = T.underlying(t)
    if isinstance(u, T.BoolT):
        return f"int({val})"
    if isinstance(u, T.BitT) and u.signed:
        return f"({val} & {(1 << u.width) - 1:#x})"
    return val


def _ident(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
