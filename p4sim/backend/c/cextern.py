"""C for core.p4 and v1model.p4 externs, with the Python back end's semantics
(`p4sim.backend.python.externgen`): packet_in/packet_out, registers, counters, hashes and
checksums over field lists packed as bmv2 packs them (fields of invalid headers left
out), and the side effects the pipeline applies after a stage (clone, resubmit,
recirculate, digest, truncate), recorded in the packet context `ctx`.

Meters and direct meters are executed by the device state's own meter code (the
`meter` callback of the native device): they are rare on the packet path of the
project's programs, and so keep a single implementation of the two-rate three-colour
marker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from p4sim.controlplane import naming
from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error, Unsupported

from .ctypes_gen import ident, is_agg, u

if TYPE_CHECKING:
    from .cgen import CCompiler

DROP_PORT = 511
ALGORITHMS = {
    "crc32": 0,
    "crc32_custom": 0,
    "crc16": 1,
    "crc16_custom": 1,
    "random": 2,
    "identity": 3,
    "csum16": 4,
    "xor16": 5,
}


def type_of(e: ast.Expr) -> Any:
    return u(e.type)


def raw_bits(v: str, t: Any) -> str:
    """The unsigned bits of a scalar value, as a p4_u128 for the bit writer."""
    t = u(t)
    if isinstance(t, T.BoolT):
        return f"(p4_u128)({v})"
    if isinstance(t, T.BitT) and t.signed:
        return f"(p4_u128)((uint64_t)({v}) & P4_MASK64({t.width}))"
    return f"(p4_u128)({v})"


def max_bits(t: Any) -> int:
    """The most bits a value of `t` adds to a field list."""
    t = u(t)
    if isinstance(t, T.VarbitT):
        return t.max_width
    if isinstance(t, T.BitT | T.BoolT):
        return T.width_of(t)
    if isinstance(t, T.StructLikeT):
        return sum(max_bits(ft) for _, ft in t.fields)
    if isinstance(t, T.StackT):
        return t.size * max_bits(t.elem)
    raise Unsupported(None, f"a {t} value in a field list (C back end)")


class CExterns:
    def __init__(self, comp: CCompiler) -> None:
        self.c = comp
        self.objs: dict[int, tuple[str, int | None]] = {}  # id(Instantiation) -> (kind, index)
        self.value_types: dict[int, Any] = {}
        self.helpers: set[str] = set()
        self.digest_shapes: list[tuple[int, Any]] = []  # (digest id, value shape)

    # ------------------------------------------------------------------ instances

    def instance(self, d: ast.Instantiation, name: str) -> None:
        t = d.type.resolved if d.type is not None else None
        ename = t.name if isinstance(t, T.ExternT) else getattr(d.type, "name", "")
        lookups = {
            "register": self.c.binder.register,
            "counter": self.c.binder.counter,
            "meter": self.c.binder.meter,
        }
        if ename not in lookups:
            return
        try:
            index: int | None = lookups[ename](name)
        except P4Error:  # unused, so not in the P4Info (as p4c)
            index = None
        self.objs[id(d)] = (ename, index)
        if ename == "register" and isinstance(t, T.ExternT) and t.type_args:
            vt = u(t.type_args[0])
            # Up to 64 bits a cell is one native word; unsigned bit<65..128> (IPv6
            # addresses) take two, the high word first (native.NativeCells).
            wide_ok = isinstance(vt, T.BitT) and not vt.signed and T.width_of(vt) <= 128
            if not isinstance(vt, T.BitT | T.BoolT) or (T.width_of(vt) > 64 and not wide_ok):
                raise Unsupported(d.loc, f"register values of type {vt} in the C back end")
            self.value_types[id(d)] = vt

    def obj(self, recv: ast.Expr) -> tuple[str, int | None]:
        d = getattr(recv, "decl", None)
        if d is None or id(d) not in self.objs:
            raise Unsupported(recv.loc, "this extern object in the C back end")
        return self.objs[id(d)]

    # ------------------------------------------------------------------ calls

    def call(self, e: ast.Call) -> str | None:
        args = list(e.resolved_args) if e.resolved_args else [a.value for a in e.args]
        if e.kind == "extern_method":
            recv = e.receiver
            if recv is None and isinstance(e.func, ast.Member):
                recv = e.func.expr
            rt = type_of(recv) if recv is not None else None
            ename = rt.name if isinstance(rt, T.ExternT) else ""
            handler = getattr(self, f"m_{ename}_{e.method}", None)
            if handler is None or recv is None:
                raise Unsupported(e.loc, f"extern method {ename}.{e.method} in the C back end")
            return handler(e, recv, args)
        name = getattr(e.target, "name", "") or getattr(e.func, "name", "")
        handler = getattr(self, f"f_{name}", None)
        if handler is None:
            raise Unsupported(e.loc, f"extern function '{name}' in the C back end")
        return handler(e, args)

    # ---- header helpers: extract / emit one header type

    def header_fns(self, ht: T.HeaderT) -> str:
        """Emit (once) `ext_<H>` and `emit_<H>` for header type `ht`; returns H."""
        c = self.c
        name = c.types.name(ht)
        if name in self.helpers:
            return name
        self.helpers.add(name)
        var = [n for n, ft in ht.fields if isinstance(u(ft), T.VarbitT)]
        saved = c.begin_fn()
        c.line("uint64_t pos = at;")
        for fname, ft in ht.fields:
            ft = u(ft)
            f = ident(fname)
            if isinstance(ft, T.VarbitT):
                c.line(f"p4_bits_copy(h->{f}, data, pos, nvar);")
                c.line(f"h->_w_{f} = (uint32_t)nvar;")
                c.line("pos += nvar;")
                continue
            w = T.width_of(ft)
            get = f"p4_bits_get(data, pos, {w})"
            if isinstance(ft, T.BoolT):
                val = f"({get} != 0)"
            elif isinstance(ft, T.BitT) and ft.signed:
                val = f"p4_sx64((uint64_t){get}, {w})"
            elif w > 64:
                val = get
            else:
                val = f"(uint64_t){get}"
            c.line(f"h->{f} = {val};")
            c.line(f"pos += {w};")
        c.line("h->_valid = true;")
        c.line("(void)nvar;")
        c.line("return pos;")
        c.end_fn(
            f"static uint64_t ext_{name}({name} *h, const uint8_t *data, uint64_t at, "
            "uint64_t nvar)",
            saved,
        )
        saved = c.begin_fn()
        for fname, ft in ht.fields:
            ft = u(ft)
            f = ident(fname)
            if isinstance(ft, T.VarbitT):
                c.line(f"p4_bb_put_bytes(out, h->{f}, h->_w_{f});")
            else:
                c.line(f"p4_bb_put(out, {raw_bits('h->' + f, ft)}, {T.width_of(ft)});")
        c.line("(void)out;")
        c.end_fn(f"static void emit_{name}(p4_bitbuf *out, const {name} *h)", saved)
        del var
        return name

    # ---- packet_in / packet_out

    def m_packet_in_extract(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        c = self.c
        pk = c.ex(recv)
        target = args[0]
        ht = type_of(target)
        if not isinstance(ht, T.HeaderT):
            raise Unsupported(e.loc, "extract into something that is not a header")
        hname = self.header_fns(ht)
        union = None
        slot = target
        if isinstance(target, ast.Member) and isinstance(type_of(target.expr), T.HeaderUnionT):
            union = target.expr
            slot = union
        stack_base = None
        if (
            isinstance(slot, ast.Member)
            and slot.name == "next"
            and isinstance(type_of(slot.expr), T.StackT)
        ):
            stack_base = c.ex(slot.expr)
            st = type_of(slot.expr)
            idx = c.tmp("i")
            c.line(f"uint32_t {idx} = {stack_base}.next_index;")
            c.line(f"if ({idx} >= {st.size})")
            c.line(f"    p4_reject(ctx, {c.error_code('StackOutOfBounds')});")
            slot_code = f"{stack_base}.e[{idx}]"
        else:
            slot_code = c.ex(slot)
        h = c.tmp("h")
        if union is not None and isinstance(target, ast.Member):
            ut = type_of(union)
            uvar = c.tmp("u")
            c.line(f"{c.types.name(ut)} *{uvar} = &{slot_code};")
            c.invalidate_union(f"(*{uvar})", ut)
            c.line(f"{hname} *{h} = &{uvar}->{ident(target.name)};")
        else:
            c.line(f"{hname} *{h} = &{slot_code};")
        varbit = [ft for _, ft in ht.fields if isinstance(u(ft), T.VarbitT)]
        fixed = ht.bit_width()
        if len(args) > 1 and args[1] is not None:
            if not varbit:
                raise P4Error(e.loc, "two-argument extract needs a header with a varbit field")
            n = c.tmp("n")
            c.line(f"uint64_t {n} = (uint64_t)({c.ex(args[1])});")
            c.line(f"if ({n} > {u(varbit[0]).max_width})")
            c.line(f"    p4_reject(ctx, {c.error_code('HeaderTooShort')});")
            c.line(f"if ({pk}.pos + {fixed} + {n} > {pk}.nbits)")
            c.line(f"    p4_reject(ctx, {c.error_code('PacketTooShort')});")
            c.line(f"{pk}.pos = ext_{hname}({h}, {pk}.data, {pk}.pos, {n});")
        elif varbit:
            raise P4Error(e.loc, "a header with a varbit field needs the two-argument extract")
        else:
            c.line(f"if ({pk}.pos + {fixed} > {pk}.nbits)")
            c.line(f"    p4_reject(ctx, {c.error_code('PacketTooShort')});")
            c.line(f"{pk}.pos = ext_{hname}({h}, {pk}.data, {pk}.pos, 0);")
        if stack_base is not None:
            c.line(f"{stack_base}.next_index++;")
        return None

    def m_packet_in_lookahead(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> str:
        c = self.c
        t = u(e.type_bindings.get("T") or e.type)
        pk = c.ex(recv)
        if isinstance(t, T.BitT | T.BoolT):
            w = T.width_of(t)
            if w > 128:
                raise Unsupported(e.loc, f"lookahead of {t} in the C back end")
            c.line(f"if ({pk}.pos + {w} > {pk}.nbits)")
            c.line(f"    p4_reject(ctx, {c.error_code('PacketTooShort')});")
            v = f"p4_bits_get({pk}.data, {pk}.pos, {w})"
            if isinstance(t, T.BoolT):
                return f"({v} != 0)"
            if t.signed:
                return f"p4_sx64((uint64_t){v}, {w})"
            return v if w > 64 else f"((uint64_t){v})"
        if isinstance(t, T.HeaderT):
            if any(isinstance(u(ft), T.VarbitT) for _, ft in t.fields):
                raise Unsupported(e.loc, "lookahead of a header with a varbit field")
            hname = self.header_fns(t)
            tmp = c.tmp("la")
            c.line(f"if ({pk}.pos + {t.bit_width()} > {pk}.nbits)")
            c.line(f"    p4_reject(ctx, {c.error_code('PacketTooShort')});")
            c.declare(tmp, t)
            c.line(f"(void)ext_{hname}(&{tmp}, {pk}.data, {pk}.pos, 0);")
            return tmp
        raise Unsupported(e.loc, f"lookahead of {t} in the C back end")

    def m_packet_in_advance(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        c = self.c
        pk = c.ex(recv)
        n = c.tmp("n")
        c.line(f"uint64_t {n} = (uint64_t)({c.ex(args[0])});")
        c.line(f"if ({pk}.pos + {n} > {pk}.nbits)")
        c.line(f"    p4_reject(ctx, {c.error_code('PacketTooShort')});")
        c.line(f"{pk}.pos += {n};")

    def m_packet_in_length(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> str:
        return f"({self.c.ex(recv)}.nbits >> 3)"

    def m_packet_out_emit(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        c = self.c
        out = c.ex(recv)
        self.emit_value(f"&{out}", c.ex(args[0]), type_of(args[0]))

    def emit_value(self, out: str, v: str, t: Any) -> None:
        c = self.c
        t = u(t)
        if isinstance(t, T.HeaderT):
            hname = self.header_fns(t)
            c.line(f"if ({v}._valid)")
            c.line(f"    emit_{hname}({out}, &{v});")
        elif isinstance(t, T.StructLikeT):
            for n, ft in t.fields:
                if not is_agg(ft):
                    raise Unsupported(None, f"emit of a {u(ft)} value (C back end)")
                self.emit_value(out, f"{v}.{ident(n)}", ft)
        elif isinstance(t, T.StackT):
            i = c.tmp("j")
            c.open(f"for (int {i} = 0; {i} < {t.size}; {i}++)")
            self.emit_value(out, f"{v}.e[{i}]", t.elem)
            c.close()
        else:
            raise Unsupported(None, f"emit of {t} (C back end)")

    # ---- core

    def f_verify(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        c.line(f"if (!({c.ex(args[0])}))")
        c.line(f"    p4_reject(ctx, (int32_t)({c.ex(args[1])}));")

    def f_static_assert(self, e: ast.Call, args: list[Any]) -> str:
        return "true"

    # ---- registers, counters

    def m_register_read(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        c = self.c
        _, r = self.obj(recv)
        if r is None:
            c.line("p4_throw(ctx, P4_SIG_DROP); /* register not in the P4Info */")
            return
        idx = c.tmp("i")
        c.line(f"uint64_t {idx} = (uint64_t)({c.ex(args[1])});")
        vt = self.value_types.get(id(getattr(recv, "decl", None)))
        val = f"ctx->dev->reg[{r}][{idx}]"
        if isinstance(vt, T.BitT) and vt.width > 64:
            val = (f"(((p4_u128)ctx->dev->reg[{r}][2 * {idx}] << 64)"
                   f" | (p4_u128)ctx->dev->reg[{r}][2 * {idx} + 1])")
        elif isinstance(vt, T.BitT) and vt.signed:
            val = f"p4_sx64({val}, {vt.width})"
        elif isinstance(vt, T.BoolT):
            val = f"({val} != 0)"
        # bmv2 leaves the destination unchanged on an out-of-range index.
        c.open(f"if ({idx} < ctx->dev->reg_size[{r}])")
        dst = type_of(args[0])
        if isinstance(vt, T.BitT) and vt.width <= 64 and isinstance(dst, T.BitT) \
                and dst.width > 64:
            val = f"((p4_u128){val})"
        c.assign_scalar(args[0], val)
        c.close()

    def m_register_write(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        c = self.c
        _, r = self.obj(recv)
        if r is None:
            c.line("p4_throw(ctx, P4_SIG_DROP); /* register not in the P4Info */")
            return
        idx = c.tmp("i")
        c.line(f"uint64_t {idx} = (uint64_t)({c.ex(args[0])});")
        val = c.ex(args[1])
        vt = self.value_types.get(id(getattr(recv, "decl", None)))
        if isinstance(vt, T.BitT) and vt.width > 64:
            v = c.tmp("v")
            c.line(f"p4_u128 {v} = (p4_u128)({val}) & P4_MASK128({vt.width});")
            c.open(f"if ({idx} < ctx->dev->reg_size[{r}])")
            c.line(f"ctx->dev->reg[{r}][2 * {idx}] = (uint64_t)({v} >> 64);")
            c.line(f"ctx->dev->reg[{r}][2 * {idx} + 1] = (uint64_t){v};")
            c.close()
            return
        if isinstance(vt, T.BitT):
            val = f"((uint64_t)({val}) & P4_MASK64({vt.width}))"
        else:
            val = f"(uint64_t)({val})"
        c.line(f"if ({idx} < ctx->dev->reg_size[{r}])")
        c.line(f"    ctx->dev->reg[{r}][{idx}] = {val};")

    def m_counter_count(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        c = self.c
        _, r = self.obj(recv)
        if r is None:
            c.line("p4_throw(ctx, P4_SIG_DROP); /* counter not in the P4Info */")
            return
        idx = c.tmp("i")
        c.line(f"uint64_t {idx} = (uint64_t)({c.ex(args[0])});")
        c.open(f"if ({idx} < ctx->dev->cnt_size[{r}])")
        c.line(f"ctx->dev->cnt_packets[{r}][{idx}]++;")
        c.line(f"ctx->dev->cnt_bytes[{r}][{idx}] += ctx->nbytes;")
        c.close()

    def m_meter_execute_meter(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        c = self.c
        _, r = self.obj(recv)
        if r is None:
            c.line("p4_throw(ctx, P4_SIG_DROP); /* meter not in the P4Info */")
            return
        idx = c.tmp("i")
        c.line(f"uint64_t {idx} = (uint64_t)({c.ex(args[0])});")
        color = f"(uint64_t)ctx->dev->meter(1, {r}, {idx}, ctx->nbytes)"
        dt = type_of(args[1])
        if isinstance(dt, T.BitT) and dt.width > 64:
            color = f"(p4_u128){color}"
        c.assign_scalar(args[1], color)

    def m_direct_meter_read(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        c = self.c
        c.open("if (ctx->dm_hit)")
        c.assign_scalar(args[0], "ctx->dm_color")
        c.close()

    def m_direct_counter_count(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        """Direct counters count every hit of their table (as bmv2): a no-op."""
        return None

    # ---- field lists

    def pack(self, data: ast.Expr | None) -> str:
        """Emit code packing a field list into a bit buffer; returns the buffer."""
        c = self.c
        bits = self._max_bits(data) if data is not None else 0
        buf = c.tmp("fl")
        bb = c.tmp("bb")
        c.line(f"uint8_t {buf}[{bits // 8 + 2}];")
        c.line(f"p4_bitbuf {bb};")
        c.line(f"p4_bb_init(&{bb}, {buf}, sizeof {buf});")
        if data is not None:
            self._pack_into(bb, data)
        return bb

    def _max_bits(self, e: ast.Expr) -> int:
        if isinstance(e, ast.ListExpr):
            return sum(self._max_bits(i) for i in e.items)
        if isinstance(e, ast.StructInit):
            return sum(self._max_bits(v) for _, v in e.fields)
        return max_bits(type_of(e))

    def _pack_into(self, bb: str, e: ast.Expr) -> None:
        c = self.c
        if isinstance(e, ast.ListExpr):
            for item in e.items:
                self._pack_into(bb, item)
            return
        if isinstance(e, ast.StructInit):
            for _, item in e.fields:
                self._pack_into(bb, item)
            return
        t = type_of(e)
        if isinstance(t, T.StructLikeT | T.StackT):
            self._pack_value(bb, c.ex(e), t, None)
            return
        if isinstance(e, ast.Member) and isinstance(type_of(e.expr), T.HeaderT):
            base = c.ex(e.expr)
            if isinstance(t, T.VarbitT):
                f = ident(e.name)
                c.line(f"if ({base}._valid)")
                c.line(f"    p4_bb_put_bytes(&{bb}, {base}.{f}, {base}._w_{f});")
                return
            self._pack_scalar(bb, f"{base}._valid", c.ex(e), t)
            return
        self._pack_scalar(bb, None, c.ex(e), t)

    def _pack_scalar(self, bb: str, guard: str | None, v: str, t: Any) -> None:
        t = u(t)
        if not isinstance(t, T.BitT | T.BoolT):
            raise Unsupported(None, f"a {t} value in a field list (C back end)")
        put = f"p4_bb_put(&{bb}, {raw_bits(v, t)}, {T.width_of(t)});"
        if guard is not None:
            self.c.line(f"if ({guard})")
            self.c.line("    " + put)
        else:
            self.c.line(put)

    def _pack_value(self, bb: str, v: str, t: Any, guard: str | None) -> None:
        c = self.c
        t = u(t)
        if isinstance(t, T.HeaderT):
            for n, ft in t.fields:
                ft = u(ft)
                f = ident(n)
                if isinstance(ft, T.VarbitT):
                    c.line(f"if ({v}._valid)")
                    c.line(f"    p4_bb_put_bytes(&{bb}, {v}.{f}, {v}._w_{f});")
                else:
                    self._pack_scalar(bb, f"{v}._valid", f"{v}.{f}", ft)
        elif isinstance(t, T.StructLikeT):
            for n, ft in t.fields:
                if is_agg(ft):
                    self._pack_value(bb, f"{v}.{ident(n)}", ft, guard)
                else:
                    self._pack_scalar(bb, guard, f"{v}.{ident(n)}", ft)
        elif isinstance(t, T.StackT):
            i = c.tmp("j")
            c.open(f"for (int {i} = 0; {i} < {t.size}; {i}++)")
            self._pack_value(bb, f"{v}.e[{i}]", t.elem, guard)
            c.close()

    def algorithm(self, e: ast.Expr) -> int:
        text = e.const if isinstance(e.const, str) else getattr(e, "name", "")
        algo = str(text).rsplit(".", 1)[-1]
        if algo not in ALGORITHMS:
            raise Unsupported(e.loc, f"hash algorithm '{algo}'")
        return ALGORITHMS[algo]

    # ---- hash, random, checksums

    def f_hash(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        result, algo, base, data, maxv = args[:5]
        rt = type_of(result)
        if not isinstance(rt, T.BitT) or rt.width > 64:
            raise Unsupported(e.loc, f"a hash result of type {rt} in the C back end")
        bb = self.pack(data)
        h = c.tmp("hv")
        mx = c.tmp("max")
        c.line(f"uint64_t {mx} = (uint64_t)({c.ex(maxv)});")
        c.line(
            f"uint64_t {h} = (uint64_t)({c.ex(base)}) + p4_hash_run(ctx, {self.algorithm(algo)}, "
            f"{bb}.buf, p4_bb_bytes(&{bb}), NULL, 0) % ({mx} ? {mx} : 1);"
        )
        value = f"p4_sx64({h}, {rt.width})" if rt.signed else f"({h} & P4_MASK64({rt.width}))"
        c.assign_scalar(result, value)

    def f_random(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        lo = c.tmp("lo")
        hi = c.tmp("hi")
        c.line(f"uint64_t {lo} = (uint64_t)({c.ex(args[1])});")
        c.line(f"uint64_t {hi} = (uint64_t)({c.ex(args[2])});")
        c.open(f"if ({lo} <= {hi})")
        c.assign_scalar(args[0], f"({lo} + p4_random(ctx) % ({hi} - {lo} + 1))")
        c.close()

    def _checksum(self, args: list[Any], payload: bool, update: bool) -> None:
        c = self.c
        cond, data, fld, algo = args[:4]
        ft = type_of(fld)
        w = T.width_of(ft)
        if w > 64:
            raise Unsupported(fld.loc, "a checksum field over 64 bits (C back end)")
        c.open(f"if ({c.ex(cond)})")
        bb = self.pack(data)
        pl = "ctx->payload, ctx->payload_len" if payload else "NULL, 0"
        value = (
            f"(p4_hash_run(ctx, {self.algorithm(algo)}, {bb}.buf, p4_bb_bytes(&{bb}), {pl})"
            f" & P4_MASK64({w}))"
        )
        if update:
            c.assign_scalar(fld, value)
        else:
            c.line(f"if ({value} != (uint64_t)({c.ex(fld)}))")
            c.line("    ctx->checksum_error = 1;")
        c.close()

    def f_verify_checksum(self, e: ast.Call, args: list[Any]) -> None:
        self._checksum(args, False, update=False)

    def f_verify_checksum_with_payload(self, e: ast.Call, args: list[Any]) -> None:
        self._checksum(args, True, update=False)

    def f_update_checksum(self, e: ast.Call, args: list[Any]) -> None:
        self._checksum(args, False, update=True)

    def f_update_checksum_with_payload(self, e: ast.Call, args: list[Any]) -> None:
        self._checksum(args, True, update=True)

    # ---- packet fate

    def f_mark_to_drop(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        if args and args[0] is not None:
            sm = c.ex(args[0])
        else:  # the deprecated form: the stage's standard_metadata
            ptype = e.params[0].type if e.params else None
            smt = c.types.name(u(ptype.resolved)) if ptype is not None else None
            if smt is None:
                raise Unsupported(e.loc, "mark_to_drop() without its argument (C back end)")
            c.line("if (!ctx->sm)")
            c.line("    p4_throw(ctx, P4_SIG_FAULT);")
            sm = f"(*({smt} *)ctx->sm)"
        c.line(f"{sm}.egress_spec = {DROP_PORT};")
        c.line(f"{sm}.mcast_grp = 0;")

    def f_clone(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        c.line(f"ctx->clone_session = (uint32_t)({c.ex(args[1])});")
        c.line("ctx->clone_fl = P4_FL_NONE;")
        c.line("ctx->clone_set = true;")

    def f_clone_preserving_field_list(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        c.line(f"ctx->clone_session = (uint32_t)({c.ex(args[1])});")
        c.line(f"ctx->clone_fl = {self.field_list(args[2])};")
        c.line("ctx->clone_set = true;")

    def f_clone3(self, e: ast.Call, args: list[Any]) -> None:
        self.f_clone(e, args)

    def f_resubmit_preserving_field_list(self, e: ast.Call, args: list[Any]) -> None:
        self.c.line(f"ctx->resubmit_fl = {self.field_list(args[0])};")

    def f_recirculate_preserving_field_list(self, e: ast.Call, args: list[Any]) -> None:
        self.c.line(f"ctx->recirculate_fl = {self.field_list(args[0])};")

    def f_resubmit(self, e: ast.Call, args: list[Any]) -> None:
        self.c.line("ctx->resubmit_fl = -1;")

    def f_recirculate(self, e: ast.Call, args: list[Any]) -> None:
        self.c.line("ctx->recirculate_fl = -1;")

    def field_list(self, arg: ast.Expr) -> int:
        if not isinstance(arg.const, int):
            raise P4Error(arg.loc, "a field list index must be a compile-time constant")
        return int(arg.const)

    def f_truncate(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        n = c.tmp("n")
        c.line(f"int64_t {n} = (int64_t)({c.ex(args[0])});")
        c.line(f"if (ctx->truncate < 0 || {n} < ctx->truncate)")
        c.line(f"    ctx->truncate = {n};")

    def f_digest(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        data = args[1]
        st = u(e.type_bindings.get("T")) if e.type_bindings.get("T") is not None else None
        if not isinstance(st, T.StructT):
            st = type_of(data)
        if not isinstance(st, T.StructT):
            raise P4Error(e.loc, "digest data must have a struct type")
        try:
            did = c.binder.digest_id(naming.digest_name(st))
        except P4Error:
            c.line("p4_throw(ctx, P4_SIG_DROP); /* digest not in the P4Info */")
            return
        vals: list[tuple[str, Any]] = []
        if isinstance(data, ast.ListExpr | ast.StructInit):
            items = data.items if isinstance(data, ast.ListExpr) else [v for _, v in data.fields]
            shape = [self._digest_flat(c.ex(i), type_of(i), vals) for i in items]
        else:
            tmp = c.tmp("dg")
            c.line(f"{c.ctype(st)} {tmp} = {c.ex(data)};")
            shape = [self._digest_flat(f"{tmp}.{ident(n)}", u(ft), vals) for n, ft in st.fields]
        site = len(self.digest_shapes)
        self.digest_shapes.append((did, shape))
        nslots = sum(2 if w else 1 for _, w in vals)
        if nslots > 64:
            raise Unsupported(e.loc, "a digest of more than 64 words (C back end)")
        c.line(f"ctx->digest_site = {site} + 1;")
        k = 0
        for v, wide in vals:
            if wide:
                c.line(f"ctx->digest_vals[{k}] = (uint64_t)(({v}) >> 64);")
                c.line(f"ctx->digest_vals[{k + 1}] = (uint64_t)({v});")
                k += 2
            else:
                c.line(f"ctx->digest_vals[{k}] = (uint64_t)({v});")
                k += 1

    def _digest_flat(self, v: str, t: Any, vals: list[tuple[str, Any]]) -> Any:
        """Append the words of one digest value; returns its shape (1: a word, 2: a
        128-bit value in two words, a list: a nested struct)."""
        t = u(t)
        if isinstance(t, T.StructLikeT) and not isinstance(t, T.HeaderT):
            return [self._digest_flat(f"{v}.{ident(n)}", u(ft), vals) for n, ft in t.fields]
        if isinstance(t, T.BoolT):
            vals.append((f"(uint64_t)({v})", False))
            return 1
        if isinstance(t, T.BitT):
            if t.signed:
                vals.append((f"((uint64_t)({v}) & P4_MASK64({t.width}))", False))
                return 1
            if t.width > 64:
                vals.append((v, True))
                return 2
            vals.append((v, False))
            return 1
        if isinstance(t, T.ErrorT | T.EnumT):
            vals.append((v, False))
            return 1
        raise Unsupported(None, f"a {t} value in a digest (C back end)")

    # ---- diagnostics

    def f_log_msg(self, e: ast.Call, args: list[Any]) -> None:
        self.c.line("/* log_msg: not logged by the C back end */")

    def f_assert(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        c.line(f"if (!({c.ex(args[0])}))")
        c.line("    p4_throw(ctx, P4_SIG_DROP);")

    def f_assume(self, e: ast.Call, args: list[Any]) -> None:
        self.f_assert(e, args)
