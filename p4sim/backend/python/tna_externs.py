"""Code for TNA's externs (p4sim/frontend/arch/tna.p4), beside externgen's v1model ones.

* `Register<T, I>` is a register array of the device state, as v1model's; its cells
  are read and written by `RegisterAction<T, I, U>.execute(i)`, which runs the
  instance's `apply(inout T value, out U rv)` (compiled once per instance, as an
  action is, so it sees the control's names) on cell i, stores `value` back and
  returns `rv`. An index past the array reads and writes nothing and returns 0.
* `Counter<W, I>.count(i[, adjust_byte_count])`: the device counter (the bytes are the
  packet's as it entered the block, plus the adjustment, a two's complement 32-bit
  value); `DirectCounter.count()`: its table
  counts each hit (as v1model's direct counters; TNA counts only the actions that
  call it: a program that calls it in every action of the table sees no difference).
* `Hash<W>(algo).get(data)`: the algorithm over the packed data, cut to W bits. The
  CRCs are bmv2's (CRC-16/ARC, CRC-32); a `CRCPolynomial` is not modelled.
* `Checksum.update(data)`: the Internet checksum of the packed data (fields of invalid
  headers left out), as the deparser's checksum engine computes it.
* `Digest<T>.pack(data)`: the digest of the packet (one per packet, the last wins).
* `Mirror.emit(session[, hdr])`: the packet's mirror (one per packet, the last wins):
  the session and the bytes of `hdr`; the pipeline sends the copy when the
  deparser's mirror_type is not 0 (tna_pipeline.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from p4sim.controlplane import naming
from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error, Unsupported

from .exprgen import _u, mask, type_of
from .typegen import pyfield

if TYPE_CHECKING:
    from .externgen import ExternGen

# HashAlgorithm_t members -> hashes.py functions.
_ALGORITHMS = {"CRC16": "crc16", "CRC32": "crc32", "IDENTITY": "identity", "RANDOM": "random_hash",
               "XOR16": "xor16"}  # fmt: skip


class TnaExterns:
    def __init__(self, ext: ExternGen) -> None:
        self.ext = ext
        self.c = ext.c
        # id(RegisterAction instance) -> (its register's global, value type, apply fn, has rv)
        self.actions: dict[int, tuple[str, Any, str, bool]] = {}

    def register_action(self, d: ast.Instantiation, name: str) -> None:
        """Compile the instance's apply() as a frame function `(c, value) -> (None,
        value[, rv])` (the calling convention of codegen) and note its register."""
        c = self.c
        reg = d.args[0].value if d.args else None
        rdecl = getattr(reg, "decl", None)
        if rdecl is None or id(rdecl) not in self.ext.objs:
            raise Unsupported(d.loc, "a RegisterAction of anything but a Register instance")
        (impl,) = [f for f in d.initializer or [] if f.name == "apply"]
        fn = f"RA_{d.name}_{len(self.actions)}"
        c.function(fn, impl.params, impl.body, True, False)
        self.actions[id(d)] = (
            self.ext.objs[id(rdecl)],
            self.ext.value_types.get(id(rdecl)),
            fn,
            len(impl.params) > 1,
        )

    def m_RegisterAction_execute(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> str:  # noqa: N802
        c = self.c
        d = getattr(recv, "decl", None)
        if d is None or id(d) not in self.actions:
            raise Unsupported(recv.loc, "this RegisterAction")
        reg, vt, fn, has_rv = self.actions[id(d)]
        idx, res, rv = c.em.tmp("i"), c.em.tmp("ra"), c.em.tmp("rv")
        c.line(f"{idx} = {c.ex(args[0])}")
        c.line(f"{rv} = 0")
        with c.em.block(f"if {idx} < len({reg}.values):"):
            c.line(f"{res} = {fn}(c, {reg}.values[{idx}])")
            value = f"{res}[1]"
            if isinstance(vt, T.BitT):
                value = f"({value} & {mask(vt.width):#x})"
            elif isinstance(vt, T.BoolT):
                value = f"int({value})"
            c.line(f"{reg}.values[{idx}] = {value}")
            if has_rv:
                c.line(f"{rv} = {res}[2]")
        return rv

    def m_Counter_count(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:  # noqa: N802
        nbytes = "_ctx.nbytes"
        if len(args) > 1 and args[1] is not None:
            # adjust_byte_count: a two's complement adjustment of the bytes counted
            adj = self.c.em.tmp("adj")
            self.c.line(f"{adj} = {self.c.ex(args[1])} & 0xFFFFFFFF")
            nbytes = f"max(0, _ctx.nbytes + {adj} - (({adj} >> 31) << 32))"
        self.c.line(f"{self.ext.obj(recv)}.count({self.c.ex(args[0])}, {nbytes})")

    def m_DirectCounter_count(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:  # noqa: N802
        return None

    def m_Hash_get(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> str:  # noqa: N802
        d = getattr(recv, "decl", None)
        algo_arg = d.args[0].value if isinstance(d, ast.Instantiation) and d.args else None
        text = getattr(algo_arg, "const", None) or getattr(algo_arg, "name", "")
        member = str(text).rsplit(".", 1)[-1]
        if member not in _ALGORITHMS or (isinstance(d, ast.Instantiation) and len(d.args) > 1):
            raise Unsupported(e.loc, f"Hash algorithm {member} (or a CRCPolynomial)")
        width = T.width_of(_u(type_of(e)))
        return f"(_h.{_ALGORITHMS[member]}({self.ext.pack(args[0])}) & {mask(width):#x})"

    def m_Checksum_update(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> str:  # noqa: N802
        return f"_h.csum16_bits({self.ext.pack(args[0], as_bits=True)})"

    def m_Digest_pack(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:  # noqa: N802
        c = self.c
        rtype = type_of(recv)
        st = _u(rtype.type_args[0]) if isinstance(rtype, T.ExternT) and rtype.type_args else None
        if not isinstance(st, T.StructT):
            raise P4Error(e.loc, "Digest data must have a struct type")
        try:
            did = c.binder.digest_id(naming.digest_name(st))
        except P4Error:
            c.line(f"raise _rt.DropSignal('digest {naming.digest_name(st)} is not in the P4Info')")
            return
        data = args[0]
        if isinstance(data, ast.ListExpr | ast.StructInit):
            items = data.items if isinstance(data, ast.ListExpr) else [v for _, v in data.fields]
            vals = [self.ext._digest_value(c.ex(i), type_of(i)) for i in items]
        else:
            tmp = c.em.tmp("dg")
            c.line(f"{tmp} = {c.ex(data)}")
            vals = [self.ext._digest_value(f"{tmp}.{pyfield(n)}", _u(ft)) for n, ft in st.fields]
        c.line(f"_ctx.digest = ({did}, ({''.join(v + ', ' for v in vals)}))")

    def m_Mirror_emit(self, e: ast.Call, recv: ast.Expr, args: list[Any]) -> None:  # noqa: N802
        c = self.c
        session = c.ex(args[0])
        if len(args) < 2:
            c.line(f"_ctx.mirror = ({session}, b'')")
            return
        out = c.em.tmp("mo")
        c.line(f"{out} = _rt.PacketOut()")
        hdr = args[1]
        t = _u(type_of(hdr))
        if not isinstance(t, T.HeaderT):
            raise P4Error(e.loc, "a mirror header must be a header")
        if isinstance(hdr, ast.Member) and isinstance(type_of(hdr.expr), T.StructT):
            self.ext._emit_member(out, f"{c.ex(hdr.expr)}.__dict__", hdr.name, t)
        else:
            self.ext.emit_value(out, c.ex(hdr), t)
        c.line(f"_ctx.mirror = ({session}, {out}.finish())")
