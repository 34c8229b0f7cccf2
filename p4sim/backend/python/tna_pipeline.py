"""The TNA (Tofino Native Architecture) packet pipeline, beside the v1model one.

`Pipeline(program, ...)` of a program whose `main` is TNA's `Switch` builds this
class instead (pipeline.Pipeline.__new__); it has the same `process`. One pipe
(`pipe0`) runs each packet through:

    ingress parser (the frame behind the ingress intrinsic metadata and the 64-bit
    port metadata, as Tofino prepends them) -> ingress -> ingress deparser
      -> digest (Digest.pack in the deparser; digest_type 0 sends none)
      -> mirror (Mirror.emit in the deparser, mirror_type != 0, drop_ctl bit 2 clear):
         a copy to each replica of the clone session (P4Runtime's clone sessions
         stand for Tofino's mirror sessions; the 10-bit session id): the mirror
         header, then the packet as deparsed (the bridged header too, where the
         program emits one), through egress with egress_rid 0
      -> drop_ctl bit 0: dropped
      -> mcast_grp_a != 0: one copy per replica of the group, leaving out the port
         named by level2_exclusion_id when the group has one (p4sim's model of
         the L2 exclusion: an id is the port it excludes)
      -> else ucast_egress_port (never written: dropped)
    per copy: egress parser (the deparsed packet behind the egress intrinsic
    metadata) -> egress -> egress deparser -> drop_ctl bit 0: dropped
      -> a recirculation port (`recirc_ports`, 68 by default): back into ingress on
         that port (bounded, MAX_PASSES); else transmitted.

Metadata starts at zero (bf-p4c's `pa_auto_init_metadata`). A parser error does
not stop the packet: ig_intr_md_from_prsr.parser_err has PARSER_ERROR_PARTIAL_HDR
(packet too short) or PARSER_ERROR_NO_MATCH (anything else) set and ingress runs.
Not modelled yet: resubmit, egress mirror, mirror truncation, the egress bypass, queues and timestamps other
than global_tstamp.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from p4.config.v1 import p4info_pb2

from p4sim.backend.common.hashes import pack_bits
from p4sim.backend.common.tables import install_tables
from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error

from . import runtime as rt
from .codegen import Binder, Compiler, build_module
from .exprgen import _u

log = logging.getLogger("p4sim.pipeline")

MAX_PASSES = 16  # recirculations of one received packet
NO_PORT = 0x1FF  # ucast_egress_port not written
RECIRC_PORTS = frozenset({68})
PARSER_ERROR_NO_MATCH = 0x1
PARSER_ERROR_PARTIAL_HDR = 0x2
PORT_METADATA_BYTES = 8

# The parameters of each TNA block type, in order (tna.p4), by what they carry.
ROLES = {
    "ingress_parser": ("pkt", "hdr", "md", "ig_intr_md", "ig_tm", "ig_prsr"),
    "ingress": ("hdr", "md", "ig_intr_md", "ig_prsr", "ig_dprsr", "ig_tm"),
    "ingress_deparser": ("pkt", "hdr", "md", "ig_dprsr", "ig_intr_md"),
    "egress_parser": ("pkt", "hdr", "md", "eg_intr_md", "eg_prsr", "eg_dprsr"),
    "egress": ("hdr", "md", "eg_intr_md", "eg_prsr", "eg_dprsr", "eg_oport"),
    "egress_deparser": ("pkt", "hdr", "md", "eg_dprsr", "eg_intr_md", "eg_prsr"),
}
INTRINSIC = ("ig_intr_md", "ig_tm", "ig_prsr", "ig_dprsr", "eg_intr_md", "eg_prsr", "eg_dprsr",
             "eg_oport")  # fmt: skip


def is_tna(program: ast.Program) -> bool:
    main = program.main
    resolved = getattr(getattr(main, "type", None), "resolved", None)
    return isinstance(resolved, T.BlockT) and resolved.name == "Switch"


class _Unused:
    """Intrinsic metadata no block declares: reads 0, takes writes."""

    def __getattr__(self, name: str) -> int:
        return 0


class TnaPipeline:
    """A compiled TNA program bound to one `DeviceState`."""

    def __init__(
        self,
        program: ast.Program,
        p4info: p4info_pb2.P4Info,
        state: Any,
        cpu_port: int,
        binder: Binder | None = None,
        tracer: Any = None,
        recirc_ports: frozenset[int] = RECIRC_PORTS,
    ) -> None:
        from .pipeline import PacketContext, StateBinder

        if tracer is not None:
            raise P4Error(program.loc, "p4sim cannot trace TNA programs yet")
        self.program = program
        self.state = state
        self.cpu_port = cpu_port
        self.recirc_ports = recirc_ports
        self.faults = 0
        self.dropped = 0
        self.tracer = None
        self.ctx = PacketContext()
        self.binder = binder if binder is not None else StateBinder(p4info, state)
        comp = Compiler(program, self.binder)
        self.source = comp.compile()
        missing = [r for r in ROLES if r not in comp.roles]
        if missing:
            raise P4Error(program.loc, f"main is not a TNA Switch of a Pipeline: no {missing}")
        comp.globals["_ctx"] = self.ctx
        comp.globals["_tr"] = None
        ns = build_module(self.source, comp.globals, "<p4sim generated>")
        for dispatch, mapping in comp.post_exec:
            for aid, fname in mapping.items():
                dispatch[aid] = ns[fname]
        self._run = {r: ns[comp.roles[r]] for r in ROLES}
        # Classes of what each block declares: by role and position.
        self._classes: dict[str, Any] = {}
        self._types: dict[str, Any] = {}
        self._nparams: dict[str, int] = {}
        for role, what in ROLES.items():
            decl = comp.role_decls[role]
            self._nparams[role] = len(decl.params)
            for key, p in zip(what, decl.params, strict=False):
                t = _u(p.type.resolved if p.type else None)
                if isinstance(t, T.StructLikeT):
                    self._classes[f"{role}.{key}"] = ns[comp.cls(t)]
                    if key in INTRINSIC:
                        self._classes.setdefault(key, ns[comp.cls(t)])
                        self._types[key] = t
        self._too_short = comp.error_code("PacketTooShort")
        install_tables(self.binder, comp.table_setups)

    @classmethod
    def load(
        cls, device_config: bytes, p4info: p4info_pb2.P4Info, state: Any, cpu_port: int
    ) -> TnaPipeline:
        from .pipeline import Pipeline

        return Pipeline.load(device_config, p4info, state, cpu_port)  # type: ignore[return-value]

    # ------------------------------------------------------------------ helpers

    def _new(self, key: str) -> Any:
        cls = self._classes.get(key)
        return cls() if cls is not None else _Unused()

    def _prefix(self, key: str, values: dict[str, int], default_bytes: int) -> bytes:
        """The intrinsic metadata header `key` as the parser reads it."""
        t = self._types.get(key)
        if not isinstance(t, T.HeaderT):
            return bytes(default_bytes)
        fields = [(values.get(n, 0), T.width_of(_u(ft))) for n, ft in t.fields]
        return pack_bits(fields)

    def _now_ns(self) -> int:
        clock = getattr(self.state, "now_ns", None)
        return int(clock()) if clock is not None else time.monotonic_ns()

    def _call(self, role: str, objs: dict[str, Any]) -> None:
        self._run[role](*[objs[k] for k in ROLES[role][: self._nparams[role]]])

    # ------------------------------------------------------------------ packets

    def process(self, ingress_port: int, packet: bytes) -> list[tuple[int, bytes]]:
        """Run one received packet; returns the packets to transmit, in order."""
        out: list[tuple[int, bytes]] = []
        work = [(ingress_port, bytes(packet), 0)]
        lock = getattr(self.state, "lock", None)
        if lock is not None:
            lock.acquire()
        try:
            while work:
                port, data, passes = work.pop(0)
                try:
                    self._ingress(port, data, passes, work, out)
                except rt.DropSignal as exc:
                    self.dropped += 1
                    log.error("packet dropped: %s", exc)
                except Exception as exc:  # noqa: BLE001 - a bad packet must not stop the switch
                    self.faults += 1
                    log.warning("packet dropped: %s: %s", type(exc).__name__, exc)
        finally:
            if lock is not None:
                lock.release()
        return out

    def _parse(self, role: str, objs: dict[str, Any], data: bytes, prsr: str) -> bytes:
        pk = rt.PacketIn(data, self._too_short)
        objs["pkt"] = pk
        try:
            self._call(role, objs)
        except rt.ParserReject as rej:
            code = (
                PARSER_ERROR_PARTIAL_HDR if rej.code == self._too_short else PARSER_ERROR_NO_MATCH
            )
            objs[prsr].f_parser_err = objs[prsr].f_parser_err | code
        return pk.remaining()

    def _ingress(
        self, port: int, data: bytes, passes: int, work: list[Any], out: list[Any]
    ) -> None:
        ctx = self.ctx
        ctx.reset()
        ctx.nbytes = len(data)
        now = self._now_ns() & 0xFFFFFFFFFFFF
        objs = {"hdr": self._new("ingress_parser.hdr"), "md": self._new("ingress_parser.md")}
        for key in ("ig_intr_md", "ig_tm", "ig_prsr", "ig_dprsr"):
            objs[key] = self._new(key)
        objs["ig_tm"].f_ucast_egress_port = NO_PORT
        objs["ig_prsr"].f_global_tstamp = now
        prefix = self._prefix("ig_intr_md", {"ingress_port": port, "ingress_mac_tstamp": now}, 8)
        payload = self._parse(
            "ingress_parser", objs, prefix + bytes(PORT_METADATA_BYTES) + data, "ig_prsr"
        )
        self._call("ingress", objs)
        po = rt.PacketOut()
        objs["pkt"] = po
        self._call("ingress_deparser", objs)
        tm, dprsr = objs["ig_tm"], objs["ig_dprsr"]
        if ctx.digest is not None and dprsr.f_digest_type != 0:
            self.state.digest_sink(ctx.digest[0], ctx.digest[1])
        frame = po.finish() + payload
        mirror = ctx.mirror
        if mirror is not None and dprsr.f_mirror_type != 0 and not dprsr.f_drop_ctl & 4:
            session = self.state.pre.clone_sessions.get(mirror[0] & 0x3FF)
            if session is not None:
                for eport, _instance in session.replicas:
                    self._egress(eport, mirror[1] + frame, 0, passes, work, out)
        if dprsr.f_drop_ctl & 1:
            self.dropped += 1
            return
        group = tm.f_mcast_grp_a
        if group:
            replicas = self.state.pre.multicast_groups.get(group, [])
            for eport, rid in replicas:
                if eport == tm.f_level2_exclusion_id and tm.f_level2_exclusion_id != 0:
                    continue
                self._egress(eport, frame, rid, passes, work, out)
            return
        if tm.f_ucast_egress_port == NO_PORT:
            self.dropped += 1
            return
        self._egress(tm.f_ucast_egress_port, frame, 0, passes, work, out)

    def _egress(
        self, port: int, frame: bytes, rid: int, passes: int, work: list[Any], out: list[Any]
    ) -> None:
        ctx = self.ctx
        ctx.reset()
        ctx.nbytes = len(frame)
        objs = {"hdr": self._new("egress_parser.hdr"), "md": self._new("egress_parser.md")}
        for key in ("eg_intr_md", "eg_prsr", "eg_dprsr", "eg_oport"):
            objs[key] = self._new(key)
        objs["eg_prsr"].f_global_tstamp = self._now_ns() & 0xFFFFFFFFFFFF
        values = {"egress_port": port, "egress_rid": rid, "pkt_length": len(frame) & 0xFFFF}
        prefix = self._prefix("eg_intr_md", values, 0)
        payload = self._parse("egress_parser", objs, prefix + frame, "eg_prsr")
        self._call("egress", objs)
        po = rt.PacketOut()
        objs["pkt"] = po
        self._call("egress_deparser", objs)
        if objs["eg_dprsr"].f_drop_ctl & 1:
            self.dropped += 1
            return
        data = po.finish() + payload
        if port in self.recirc_ports:
            if passes + 1 >= MAX_PASSES:
                self.dropped += 1
                return
            work.append((port, data, passes + 1))
            return
        out.append((port, data))
