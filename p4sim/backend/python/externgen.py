"""Code for core.p4 and v1model.p4 externs.

Extern objects (register, counter, meter) are bound by control-plane name to the
device state. Side effects that bmv2 applies after a pipeline stage (clone, resubmit,
recirculate, digest, truncate, the checksum error flag) are recorded in the packet
context `_ctx` (see `pipeline.PacketContext`); as in bmv2 a later call replaces an
earlier one. Field lists (hash, checksum and digest data) are packed the way bmv2
packs them: fields of invalid headers are left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from p4sim.backend.common.hashes import ALGORITHMS
from p4sim.controlplane import naming
from p4sim.controlplane.p4info_helpers import key_name_or_none
from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error, Unsupported

from .exprgen import _u, mask, resolved, sx, type_of
from .runtime import Absent
from .typegen import is_aggregate, pyfield

if TYPE_CHECKING:
    from .codegen import Compiler

DROP_PORT = 511


def only_headers(t: Any) -> bool:
    """True if every value inside `t` is a header's: a zero value of `t` (what a
    member never built stands for) then holds no valid header and no other bits."""
    u = _u(t)
    if isinstance(u, T.HeaderT | T.HeaderUnionT):
        return True
    if isinstance(u, T.StackT):
        return only_headers(u.elem)
    if isinstance(u, T.StructT):
        return bool(u.fields) and all(only_headers(ft) for _, ft in u.fields)
    return False


class ExternGen:
    def __init__(self, comp: Compiler) -> None:
        from .tna_externs import TnaExterns

        self.c = comp
        self.objs: dict[int, str] = {}  # id(Instantiation) -> global name
        self.value_types: dict[int, Any] = {}
        self.tna = TnaExterns(self)

    def __getattr__(self, name: str) -> Any:
        """TNA's extern methods (`m_Hash_get`, ...) live in tna_externs.py."""
        if name.startswith("m_") and name[2:3].isupper():
            return getattr(self.tna, name)
        raise AttributeError(name)

    # ------------------------------------------------------------------ instances

    def instance(self, d: ast.Instantiation, name: str) -> None:
        t = resolved(d.type)
        ename = t.name if isinstance(t, T.ExternT) else getattr(d.type, "name", "")
        binder = self.c.binder
        lookups = {"register": binder.register, "counter": binder.counter, "meter": binder.meter}
        # TNA's (tna_externs.py): the same device state, other method names.
        lookups |= {"Register": binder.register, "Counter": binder.counter}
        if ename == "RegisterAction":
            self.tna.register_action(d, name)
            return
        if ename not in lookups:
            return
        try:
            obj = lookups[ename](name)
        except P4Error:  # unused, so not in the P4Info (as p4c)
            obj = Absent(f"{ename} {name}")
        self.objs[id(d)] = self.c.glob(obj, f"{ename[0].upper()}_{d.name}")
        if ename in ("register", "Register") and isinstance(t, T.ExternT) and t.type_args:
            self.value_types[id(d)] = _u(t.type_args[0])
        # direct_counter / direct_meter act through their table; other externs
        # (action profiles, Checksum16...) fail at their first use instead.

    def obj(self, recv: ast.Expr) -> str:
        d = getattr(recv, "decl", None)
        if d is None or id(d) not in self.objs:
            raise Unsupported(recv.loc, "this extern object")
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
                raise Unsupported(e.loc, f"extern method {ename}.{e.method}")
            return handler(e, recv, args)
        name = getattr(e.target, "name", "") or getattr(e.func, "name", "")
        handler = getattr(self, f"f_{name}", None)
        if handler is None:
            raise Unsupported(e.loc, f"extern function '{name}'")
        return handler(e, args)

    # ---- packet_in / packet_out

    def m_packet_in_extract(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        c = self.c
        pk = c.ex(recv)
        target = args[0]
        ht = type_of(target)
        if not isinstance(ht, T.HeaderT):
            raise Unsupported(e.loc, "extract into something that is not a header")
        # The header may be a union member (`u.a`), and the header or its union may be
        # `stack.next`: resolve each once, fill, invalidate siblings, then advance.
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
        h = c.em.tmp("h")
        u = None
        slot_code = c.ex(slot)
        if stack_base is not None and isinstance(slot, ast.Member):
            # Inline `stack.next` (the hot path of option loops).
            st = _u(slot.expr.type)
            idx = c.em.tmp("i")
            c.line(f"{idx} = {stack_base}.next_index")
            with c.em.block(f"if {idx} >= {st.size}:"):
                c.line(f"raise _rt.ParserReject({c.error_code('StackOutOfBounds')})")
            slot_code = f"{stack_base}.elems[{idx}]"
        if union is not None and isinstance(target, ast.Member):
            u = c.em.tmp("u")
            c.line(f"{u} = {slot_code}")
            # Extracting one member makes the union's other members invalid.
            c.line(f"{u}.invalidate_all()")
            c.line(f"{h} = {u}.{pyfield(target.name)}")
        else:
            c.line(f"{h} = {slot_code}")
        varbit = [ft for _, ft in ht.fields if isinstance(ft, T.VarbitT)]
        if len(args) > 1 and args[1] is not None:
            if not varbit:
                raise P4Error(e.loc, "two-argument extract needs a header with a varbit field")
            n = c.em.tmp("n")
            c.line(f"{n} = {c.ex(args[1])}")
            with c.em.block(f"if {n} > {varbit[0].max_width}:"):
                c.line(f"raise _rt.ParserReject({c.error_code('HeaderTooShort')})")
            with c.em.block(f"if {pk}.pos + {ht.bit_width()} + {n} > {pk}.nbits:"):
                c.line(f"raise _rt.ParserReject({c.error_code('PacketTooShort')})")
            c.line(f"{h}.ext_pk({pk}, {n})")
        elif varbit:
            raise P4Error(e.loc, "a header with a varbit field needs the two-argument extract")
        else:
            c.line(f"{h}.take({pk})")
        if stack_base is not None:
            c.line(f"{stack_base}.next_index += 1")
        if c.trace:
            c.line(f"_tr.extract({key_name_or_none(target) or 'a header'!r}, {pk}.pos)")
        return None

    def m_packet_in_lookahead(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> str:
        c = self.c
        t = _u(e.type_bindings.get("T") or e.type)
        pk = c.ex(recv)
        if isinstance(t, T.BitT):
            v = self._peek_inline(pk, t.width)
            return sx(v, t.width) if t.signed else v
        if isinstance(t, T.BoolT):
            return f"bool({pk}.peek(1))"
        if isinstance(t, T.HeaderT):
            tmp = c.em.tmp("la")
            c.line(f"{tmp} = {c.cls(t)}()")
            c.line(f"{tmp}.ext({pk}.peek({t.bit_width()}))")
            return tmp
        raise Unsupported(e.loc, f"lookahead of {t}")

    def _peek_inline(self, pk: str, width: int) -> str:
        """`PacketIn.peek` written in place (option loops look ahead at every option)."""
        c = self.c
        pos, end, v = c.em.tmp("pos"), c.em.tmp("end"), c.em.tmp("la")
        c.line(f"{pos} = {pk}.pos")
        c.line(f"{end} = {pos} + {width}")
        with c.em.block(f"if {end} > {pk}.nbits:"):
            c.line(f"raise _rt.ParserReject({pk}.too_short)")
        aligned = f"{pos} & 7" if width % 8 == 0 else f"({pos} | {end}) & 7"
        with c.em.block(f"if {aligned}:"):
            c.line(f"{v} = {pk}._bits({pos}, {end})")
        with c.em.block("else:"):
            c.line(f"{v} = int.from_bytes({pk}.data[{pos} >> 3 : {end} >> 3], 'big')")
        return v

    def m_packet_in_advance(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        self.c.line(f"{self.c.ex(recv)}.advance({self.c.ex(args[0])})")

    def m_packet_in_length(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> str:
        return f"({self.c.ex(recv)}.nbits >> 3)"

    def m_packet_out_emit(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        c = self.c
        out = c.ex(recv)
        arg = args[0]
        t = type_of(arg)
        if isinstance(arg, ast.Member) and isinstance(
            type_of(arg.expr), T.StructT | T.HeaderUnionT
        ):
            # `hdr.h`, `hdr.stack`: a member never built holds nothing valid
            self._emit_member(out, f"{c.ex(arg.expr)}.__dict__", arg.name, t)
            return
        self.emit_value(out, c.ex(arg), t)

    def emit_value(self, out: str, v: str, t: Any) -> None:
        c = self.c
        if isinstance(t, T.HeaderT):
            with c.em.block(f"if {v}.valid:"):
                c.line(f"{v}.emit({out})")
        elif isinstance(t, T.HeaderUnionT):
            with c.em.block(f"if {v}.__dict__:"):  # no member built: none valid
                c.line(f"{v}.emit({out})")
        elif isinstance(t, T.StructLikeT):
            # Members are looked up in the instance dict rather than read as
            # attributes: one never built (see `typegen`) holds no valid header, and
            # building it here would cost an object per member per packet (a stack of
            # unions of option headers has hundreds).
            d = c.em.tmp("d")
            c.line(f"{d} = {v}.__dict__")
            if all(is_aggregate(ft) for _, ft in t.fields):
                with c.em.block(f"if {d}:"):  # nothing built: nothing to emit
                    self._emit_members(out, d, t)
            else:
                self._emit_members(out, d, t)
        elif isinstance(t, T.StackT):
            el = c.em.tmp("el")
            with c.em.block(f"for {el} in {v}.elems:"):
                self.emit_value(out, el, _u(t.elem))
        else:
            raise Unsupported(None, f"emit of {t}")

    def _emit_members(self, out: str, d: str, t: T.StructLikeT) -> None:
        for n, ft in t.fields:
            self._emit_member(out, d, n, _u(ft))

    def _emit_member(self, out: str, d: str, name: str, t: Any) -> None:
        """Emit member `name` of the aggregate whose instance dict is `d`; a member
        never built is absent from it and holds nothing valid."""
        c = self.c
        if not is_aggregate(t):
            raise Unsupported(None, f"emit of {t}")
        m = c.em.tmp("m")
        c.line(f"{m} = {d}.get({pyfield(name)!r})")
        if isinstance(t, T.HeaderT):
            with c.em.block(f"if {m} is not None and {m}.valid:"):
                c.line(f"{m}.emit({out})")
        elif isinstance(t, T.HeaderUnionT):
            with c.em.block(f"if {m} is not None:"):  # its emit skips unbuilt members
                c.line(f"{m}.emit({out})")
        else:
            with c.em.block(f"if {m} is not None:"):
                self.emit_value(out, m, t)

    # ---- core

    def f_verify(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        with c.em.block(f"if not {c.ex(args[0])}:"):
            c.line(f"raise _rt.ParserReject({c.ex(args[1])})")

    def f_static_assert(self, e: ast.Call, args: list[Any]) -> str:
        return "True"

    # ---- registers, counters, meters

    def m_register_read(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        c = self.c
        r = self.obj(recv)
        idx = c.em.tmp("i")
        c.line(f"{idx} = {c.ex(args[1])}")
        vt = self.value_types.get(id(getattr(recv, "decl", None)))
        val = f"{r}.values[{idx}]"
        if isinstance(vt, T.BitT) and vt.signed:
            val = sx(val, vt.width)
        elif isinstance(vt, T.BoolT):
            val = f"bool({val})"
        # bmv2 leaves the destination unchanged on an out-of-range index.
        with c.em.block(f"if {idx} < len({r}.values):"):
            c.assign_scalar(args[0], val)

    def m_register_write(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        c = self.c
        r = self.obj(recv)
        idx = c.em.tmp("i")
        c.line(f"{idx} = {c.ex(args[0])}")
        val = c.ex(args[1])
        vt = self.value_types.get(id(getattr(recv, "decl", None)))
        if isinstance(vt, T.BitT):
            val = f"({val} & {mask(vt.width):#x})"
        elif isinstance(vt, T.BoolT):
            val = f"int({val})"
        with c.em.block(f"if {idx} < len({r}.values):"):
            c.line(f"{r}.values[{idx}] = {val}")

    def m_counter_count(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        self.c.line(f"{self.obj(recv)}.count({self.c.ex(args[0])}, _ctx.nbytes)")

    def m_direct_counter_count(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        """Direct counters count every hit of their table (as bmv2); the call is a no-op."""
        return None

    def m_meter_execute_meter(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        c = self.c
        color = f"{self.obj(recv)}.execute({c.ex(args[0])}, _ctx.nbytes)"
        c.assign_scalar(args[1], color)

    def m_direct_meter_read(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:
        c = self.c
        with c.em.block("if _ctx.dm_hit:"):
            c.assign_scalar(args[0], "_ctx.dm_color")

    # ---- field lists

    def pack(self, data: ast.Expr | None, as_bits: bool = False) -> str:
        """Emit code building the bytes of a field list (bits concatenated, zero-padded
        to a byte, as bmv2); returns the name of the bytes. Fields of invalid headers
        are left out. Consecutive fields under one validity guard are shifted into the
        accumulator in one step, so the per-packet cost is a few int operations."""
        c = self.c
        self._acc = c.em.tmp("acc")
        self._n = c.em.tmp("nb")
        c.line(f"{self._acc} = 0")
        c.line(f"{self._n} = 0")
        self._group: list[tuple[str, int]] = []
        self._guard: str | None = None
        if data is not None:
            self._pack_into(data)
        self._flush()
        if as_bits:  # `acc, nbits` for algorithms that take the bits as an int
            return f"{self._acc}, {self._n}"
        blob = c.em.tmp("blob")
        c.line(f"{blob} = _h.bits_to_bytes({self._acc}, {self._n})")
        return blob

    def _add(self, guard: str | None, value: str, width: int) -> None:
        if guard != self._guard:
            self._flush()
            self._guard = guard
        self._group.append((value, width))

    def _flush(self) -> None:
        if not self._group:
            return
        c = self.c
        total = sum(w for _, w in self._group)
        parts = []
        shift = total
        for v, w in self._group:
            shift -= w
            parts.append(f"({v} << {shift})" if shift else v)
        stmt = [
            f"{self._acc} = ({self._acc} << {total}) | {' | '.join(parts)}",
            f"{self._n} += {total}",
        ]
        if self._guard is not None:
            with c.em.block(f"if {self._guard}:"):
                for line in stmt:
                    c.line(line)
        else:
            for line in stmt:
                c.line(line)
        self._group = []

    def _dynamic(self, guard: str | None, value: str, width: str) -> None:
        self._flush()
        c = self.c
        stmt = [f"{self._acc} = ({self._acc} << {width}) | {value}", f"{self._n} += {width}"]
        if guard is not None:
            with c.em.block(f"if {guard}:"):
                for line in stmt:
                    c.line(line)
        else:
            for line in stmt:
                c.line(line)

    def _pack_into(self, e: ast.Expr) -> None:
        if isinstance(e, ast.ListExpr):
            for item in e.items:
                self._pack_into(item)
            return
        if isinstance(e, ast.StructInit):
            for _, item in e.fields:
                self._pack_into(item)
            return
        c = self.c
        t = type_of(e)
        if isinstance(t, T.StructLikeT | T.StackT):
            self._flush()
            tmp = c.em.tmp("agg")
            c.line(f"{tmp} = {c.ex(e)}")
            self._pack_value(tmp, t, None)
            return
        if isinstance(e, ast.Member) and isinstance(type_of(e.expr), T.HeaderT):
            base = c.ex(e.expr)
            self._pack_scalar(f"{base}.valid", c.ex(e), t, f"{base}.w_{e.name}")
            return
        self._pack_scalar(None, c.ex(e), t, None)

    def _pack_scalar(self, guard: str | None, v: str, t: Any, varbit_w: str | None) -> None:
        if isinstance(t, T.VarbitT):
            self._dynamic(guard, v, varbit_w or "0")
        elif isinstance(t, T.BoolT):
            self._add(guard, f"int({v})", 1)
        elif isinstance(t, T.BitT):
            self._add(guard, f"({v} & {mask(t.width):#x})" if t.signed else v, t.width)
        else:
            raise Unsupported(None, f"a {t} value in a field list")

    def _pack_value(self, v: str, t: Any, guard: str | None) -> None:
        c = self.c
        if isinstance(t, T.HeaderT):
            for n, ft in t.fields:
                self._pack_scalar(f"{v}.valid", f"{v}.{pyfield(n)}", _u(ft), f"{v}.w_{n}")
        elif isinstance(t, T.StructLikeT):
            if not any(only_headers(ft) for _, ft in t.fields):
                for n, ft in t.fields:
                    u = _u(ft)
                    if isinstance(u, T.StructLikeT | T.StackT):
                        self._pack_value(f"{v}.{pyfield(n)}", u, guard)
                    else:
                        self._pack_scalar(guard, f"{v}.{pyfield(n)}", u, None)
                return
            # Members holding only headers are looked up without being built: one
            # never built adds no bits (its headers are invalid).
            self._flush()
            d = c.em.tmp("d")
            c.line(f"{d} = {v}.__dict__")
            if all(only_headers(ft) for _, ft in t.fields):
                with c.em.block(f"if {d}:"):  # nothing built: no bits
                    self._pack_members(d, v, t, guard)
                    self._flush()
            else:
                self._pack_members(d, v, t, guard)
        elif isinstance(t, T.StackT):
            self._flush()
            el = c.em.tmp("el")
            with c.em.block(f"for {el} in {v}.elems:"):
                self._pack_value(el, _u(t.elem), guard)
                self._flush()

    def _pack_members(self, d: str, v: str, t: T.StructLikeT, guard: str | None) -> None:
        c = self.c
        for n, ft in t.fields:
            u = _u(ft)
            if isinstance(u, T.HeaderT):
                self._flush()
                m = c.em.tmp("m")
                c.line(f"{m} = {d}.get({pyfield(n)!r}) or _NM")
                self._pack_value(m, u, guard)
            elif only_headers(u):
                self._flush()
                m = c.em.tmp("m")
                c.line(f"{m} = {d}.get({pyfield(n)!r})")
                with c.em.block(f"if {m} is not None:"):
                    self._pack_value(m, u, guard)
                    self._flush()
            elif isinstance(u, T.StructLikeT | T.StackT):
                self._pack_value(f"{v}.{pyfield(n)}", u, guard)
            else:
                self._pack_scalar(guard, f"{v}.{pyfield(n)}", u, None)

    def algorithm(self, e: ast.Expr) -> str:
        text = e.const if isinstance(e.const, str) else getattr(e, "name", "")
        algo = str(text).rsplit(".", 1)[-1]
        if algo not in ALGORITHMS:
            raise Unsupported(e.loc, f"hash algorithm '{algo}'")
        return f"_h.{ALGORITHMS[algo].__name__}"

    # ---- hash, random, checksums

    def f_hash(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        result, algo, base, data, maxv = args[:5]
        fl = self.pack(data)
        rt = type_of(result)
        value = f"({c.ex(base)} + {self.algorithm(algo)}({fl}) % (({c.ex(maxv)}) or 1))"
        if isinstance(rt, T.BitT):
            value = sx(value, rt.width) if rt.signed else f"({value} & {mask(rt.width):#x})"
        c.assign_scalar(result, value)

    def f_random(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        lo = c.em.tmp("lo")
        hi = c.em.tmp("hi")
        c.line(f"{lo} = {c.ex(args[1])}")
        c.line(f"{hi} = {c.ex(args[2])}")
        with c.em.block(f"if {lo} <= {hi}:"):
            c.assign_scalar(args[0], f"_random.randint({lo}, {hi})")
        c.globals.setdefault("_random", __import__("random"))

    def _checksum(self, args: list[Any], payload: str | None, update: bool) -> None:
        c = self.c
        cond, data, field, algo = args[:4]
        with c.em.block(f"if {c.ex(cond)}:"):
            algorithm = self.algorithm(algo)
            if algorithm == "_h.csum16" and not payload:
                value = f"_h.csum16_bits({self.pack(data, as_bits=True)})"
            else:
                blob = self.pack(data)
                if payload:
                    blob = f"{blob} + {payload}"
                value = f"{algorithm}({blob})"
            ft = type_of(field)
            w = T.width_of(ft)
            if update:
                c.assign_scalar(field, f"({value} & {mask(w):#x})")
            else:
                with c.em.block(f"if ({value} & {mask(w):#x}) != {c.ex(field)}:"):
                    c.line("_ctx.checksum_error = 1")

    def f_verify_checksum(self, e: ast.Call, args: list[Any]) -> None:
        self._checksum(args, None, update=False)

    def f_verify_checksum_with_payload(self, e: ast.Call, args: list[Any]) -> None:
        self._checksum(args, "_ctx.payload", update=False)

    def f_update_checksum(self, e: ast.Call, args: list[Any]) -> None:
        self._checksum(args, None, update=True)

    def f_update_checksum_with_payload(self, e: ast.Call, args: list[Any]) -> None:
        self._checksum(args, "_ctx.payload", update=True)

    # ---- packet fate

    def f_mark_to_drop(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        sm = c.ex(args[0]) if args else "_ctx.sm"
        c.line(f"{sm}.f_egress_spec = {DROP_PORT}")
        c.line(f"{sm}.f_mcast_grp = 0")
        if c.trace:
            c.line("_tr.extern('mark_to_drop')")

    def f_clone(self, e: ast.Call, args: list[Any]) -> None:
        self.c.line(f"_ctx.clone_session = {self.c.ex(args[1])}")
        self.c.line("_ctx.clone_fl = None")
        self.c.line("_ctx.clone_set = True")

    def f_clone_preserving_field_list(self, e: ast.Call, args: list[Any]) -> None:
        self.c.line(f"_ctx.clone_session = {self.c.ex(args[1])}")
        self.c.line(f"_ctx.clone_fl = {self.field_list(args[2])}")
        self.c.line("_ctx.clone_set = True")

    def f_clone3(self, e: ast.Call, args: list[Any]) -> None:
        self.f_clone(e, args)

    def f_resubmit_preserving_field_list(self, e: ast.Call, args: list[Any]) -> None:
        self.c.line(f"_ctx.resubmit_fl = {self.field_list(args[0])}")

    def f_recirculate_preserving_field_list(self, e: ast.Call, args: list[Any]) -> None:
        self.c.line(f"_ctx.recirculate_fl = {self.field_list(args[0])}")

    def f_resubmit(self, e: ast.Call, args: list[Any]) -> None:
        self.c.line("_ctx.resubmit_fl = -1")

    def f_recirculate(self, e: ast.Call, args: list[Any]) -> None:
        self.c.line("_ctx.recirculate_fl = -1")

    def field_list(self, arg: ast.Expr) -> int:
        if not isinstance(arg.const, int):
            raise P4Error(arg.loc, "a field list index must be a compile-time constant")
        return int(arg.const)

    def f_truncate(self, e: ast.Call, args: list[Any]) -> None:
        # As bmv2: the packet keeps the smallest length any truncate() asked for.
        n = self.c.em.tmp("n")
        self.c.line(f"{n} = {self.c.ex(args[0])}")
        self.c.line(f"_ctx.truncate = {n} if _ctx.truncate is None else min(_ctx.truncate, {n})")

    def f_digest(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        data = args[1]
        st = _u(e.type_bindings.get("T")) if e.type_bindings.get("T") is not None else None
        if not isinstance(st, T.StructT):
            st = type_of(data)
        if not isinstance(st, T.StructT):
            raise P4Error(e.loc, "digest data must have a struct type")
        try:
            did = c.binder.digest_id(naming.digest_name(st))
        except P4Error:
            c.line(f"raise _rt.DropSignal('digest {naming.digest_name(st)} is not in the P4Info')")
            return
        if isinstance(data, ast.ListExpr | ast.StructInit):
            items = data.items if isinstance(data, ast.ListExpr) else [v for _, v in data.fields]
            vals = [self._digest_value(c.ex(i), type_of(i)) for i in items]
        else:
            base = c.ex(data)
            tmp = c.em.tmp("dg")
            c.line(f"{tmp} = {base}")
            vals = [self._digest_value(f"{tmp}.{pyfield(n)}", _u(ft)) for n, ft in st.fields]
        c.line(f"_ctx.digest = ({did}, ({''.join(v + ', ' for v in vals)}))")

    def _digest_value(self, v: str, t: Any) -> str:
        if isinstance(t, T.BoolT):
            return f"int({v})"
        if isinstance(t, T.BitT) and t.signed:
            return f"({v} & {mask(t.width):#x})"
        if isinstance(t, T.StructLikeT):  # nested structs: nested tuples
            inner = [self._digest_value(f"{v}.{pyfield(n)}", _u(ft)) for n, ft in t.fields]
            return "(" + "".join(i + ", " for i in inner) + ")"
        return v

    # ---- diagnostics

    def f_log_msg(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        fmt = c.ex(args[0])
        data = ""
        if len(args) > 1 and args[1] is not None:
            d = args[1]
            if isinstance(d, ast.ListExpr):
                data = "(" + "".join(c.ex(i) + ", " for i in d.items) + ")"
            else:
                data = f"({c.ex(d)},)"
        c.line(f"_ctx.log_msg({fmt}, {data or '()'})")

    def f_assert(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        with c.em.block(f"if not {c.ex(args[0])}:"):
            c.line(f"raise _rt.DropSignal('assert failed at {e.loc}')")

    def f_assume(self, e: ast.Call, args: list[Any]) -> None:
        c = self.c
        with c.em.block(f"if not {c.ex(args[0])}:"):
            c.line(f"raise _rt.DropSignal('assume failed at {e.loc}')")
