"""The v1model packet pipeline, as bmv2's simple_switch runs it.

`Pipeline.load` compiles the program once (`codegen`); `Pipeline.process` then runs
one received packet through:

    parser -> verify checksum -> ingress
      -> I2E clone (the *received* packet, re-parsed, to each clone session replica)
      -> digest (the last `digest` call of the ingress run)
      -> resubmit (the received packet again, with preserved metadata) or
         multicast (one copy per group replica, `egress_rid` set) or
         drop (`egress_spec == 511`) or unicast
    per copy: egress -> E2E clone -> drop? -> compute checksum -> deparser
      -> recirculate (the deparsed packet back into ingress) or transmit (truncated).

Instance types follow bmv2 (NORMAL 0, INGRESS_CLONE 1, EGRESS_CLONE 2, RECIRC 4,
REPLICATION 5, RESUBMIT 6). Resubmit and recirculation loops are bounded. A parser
error does not stop the packet: `standard_metadata.parser_error` records it and ingress
runs (as bmv2). Any exception inside the pipeline drops that packet and is counted in
`Pipeline.faults`; the caller never sees it.

With a `trace.Tracer` (given, or made when the `p4sim.trace` logger is on at TRACE)
the program is compiled with trace hooks and every step above reports to it; without
one, each hook point here costs one `None` test.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from p4.config.v1 import p4info_pb2

from p4sim.backend.common.fieldlists import field_lists
from p4sim.backend.common.tables import install_tables
from p4sim.backend.common.trace import Tracer, tracing_enabled
from p4sim.devconfig import decode_device_config
from p4sim.frontend import ast
from p4sim.frontend.errors import P4Error

from . import runtime as rt
from .codegen import Binder, Compiler, build_module
from .exprgen import _u
from .externgen import DROP_PORT

log = logging.getLogger("p4sim.pipeline")

NORMAL = 0
INGRESS_CLONE = 1
EGRESS_CLONE = 2
RECIRC = 4
REPLICATION = 5
RESUBMIT = 6

MAX_PASSES = 16  # resubmits + recirculations of one received packet
MAX_CLONE_DEPTH = 8  # egress-to-egress clones of clones of one packet

_ROLES = ("p", "vr", "ig", "eg", "ck", "dep")


class PacketContext:
    """Per-pass side effects recorded by generated code and read by the pipeline."""

    __slots__ = (
        "nbytes",
        "clone_set",
        "clone_session",
        "clone_fl",
        "resubmit_fl",
        "recirculate_fl",
        "digest",
        "mirror",
        "truncate",
        "checksum_error",
        "payload",
        "dm_hit",
        "dm_color",
        "sm",
    )

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.nbytes = 0
        self.clone_set = False
        self.clone_session = 0
        self.clone_fl: int | None = None
        self.resubmit_fl: int | None = None
        self.recirculate_fl: int | None = None
        self.digest: tuple[int, tuple[int, ...]] | None = None
        self.mirror: tuple[int, bytes] | None = None  # TNA Mirror.emit: (session, header)
        self.truncate: int | None = None  # bytes to keep (truncate(): the smallest asked)
        self.checksum_error = 0
        self.payload = b""
        self.dm_hit = False
        self.dm_color = 0
        self.sm: Any = None

    @staticmethod
    def log_msg(fmt: str, args: tuple[Any, ...]) -> None:
        text = fmt
        for a in args:
            text = text.replace("{}", str(a), 1)
        log.info("log_msg: %s", text)


class StateBinder(Binder):
    """Resolves control-plane names in the P4Info and binds the device state."""

    def __init__(self, p4info: p4info_pb2.P4Info, state: Any) -> None:
        self.state = state
        self.actions = {a.preamble.name: a.preamble.id for a in p4info.actions}
        self.digests = {d.preamble.name: d.preamble.id for d in p4info.digests}

    def _get(self, kind: str, where: dict[str, Any], name: str) -> Any:
        obj = where.get(name)
        if obj is None:
            raise P4Error(None, f"the P4Info has no {kind} named '{name}'")
        return obj

    def table(self, name: str) -> Any:
        return self._get("table", self.state.tables, name)

    def register(self, name: str) -> Any:
        return self._get("register", self.state.registers, name)

    def counter(self, name: str) -> Any:
        return self._get("counter", self.state.counters, name)

    def meter(self, name: str) -> Any:
        return self._get("meter", self.state.meters, name)

    def action_id(self, name: str) -> int:
        return int(self._get("action", self.actions, name))

    def digest_id(self, name: str) -> int:
        return int(self._get("digest", self.digests, name))


class Pipeline:
    """A compiled v1model program bound to one `DeviceState`. A TNA program (main is
    TNA's `Switch`) gets a `tna_pipeline.TnaPipeline` instead."""

    def __new__(cls, program: ast.Program, *args: Any, **kw: Any) -> Any:
        from .tna_pipeline import TnaPipeline, is_tna

        if cls is Pipeline and is_tna(program):
            return TnaPipeline(program, *args, **kw)
        return super().__new__(cls)

    def __init__(
        self,
        program: ast.Program,
        p4info: p4info_pb2.P4Info,
        state: Any,
        cpu_port: int,
        binder: Binder | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        if tracer is None and tracing_enabled():
            tracer = Tracer(p4info)
        self.tracer = tracer
        self.program = program
        self.state = state
        self.cpu_port = cpu_port
        self.faults = 0
        self.dropped = 0
        self.ctx = PacketContext()
        self.binder = binder if binder is not None else StateBinder(p4info, state)
        comp = Compiler(program, self.binder)
        comp.trace = tracer is not None
        try:
            self.source = comp.compile()
        except P4Error:
            raise
        except Exception as exc:  # a program shape the generator does not handle
            raise P4Error(program.loc, f"p4sim code generation failed: {exc!r}") from exc
        missing = [r for r in _ROLES if r not in comp.roles]
        if missing:
            raise P4Error(program.loc, f"main is not a V1Switch: no block for {missing}")
        comp.globals["_ctx"] = self.ctx
        comp.globals["_tr"] = tracer
        try:
            ns = build_module(self.source, comp.globals, "<p4sim generated>")
        except SyntaxError as exc:
            raise P4Error(program.loc, f"p4sim generated invalid Python: {exc}") from exc
        for dispatch, mapping in comp.post_exec:
            for aid, fname in mapping.items():
                dispatch[aid] = ns[fname]
        self.ns = ns
        self._run = {r: ns[comp.roles[r]] for r in _ROLES}
        ig = comp.role_decls["ig"]
        self._types = [
            _u(p.type.resolved if p.type else None) for p in ig.params
        ]  # H, M, standard_metadata_t
        self.H = ns[comp.cls(self._types[0])]
        self.M = ns[comp.cls(self._types[1])]
        self.SM = ns[comp.cls(self._types[2])]
        self._too_short = comp.error_code("PacketTooShort")
        self._error_names = {code: name for name, code in comp.errors.items()}
        self._control_names = {r: comp.role_decls[r].name for r in ("ig", "eg")}
        self._field_lists = field_lists(self._types[1])
        install_tables(self.binder, comp.table_setups)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(
        cls, device_config: bytes, p4info: p4info_pb2.P4Info, state: Any, cpu_port: int
    ) -> Pipeline:
        from p4sim.frontend import parse_and_check

        config = decode_device_config(device_config)
        program = parse_and_check(config.source, config.filename)
        return cls(program, p4info, state, cpu_port)

    # ------------------------------------------------------------------ packets

    def process(self, ingress_port: int, packet: bytes) -> list[tuple[int, bytes]]:
        """Run one received packet; returns the packets to transmit, in order."""
        out: list[tuple[int, bytes]] = []
        work: deque[tuple[int, bytes, int, Any, int]] = deque()
        work.append((ingress_port, bytes(packet), NORMAL, None, 0))
        lock = getattr(self.state, "lock", None)
        if lock is not None:
            lock.acquire()
        try:
            while work:
                port, data, itype, preserved, passes = work.popleft()
                try:
                    self._ingress(port, data, itype, preserved, passes, work, out)
                except rt.DropSignal as exc:  # assert/assume outside ingress and egress
                    self.dropped += 1
                    log.error("packet dropped: %s", exc)
                    if self.tracer is not None:
                        self.tracer.fate(f"dropped: {exc}")
                except Exception as exc:  # noqa: BLE001 - a bad packet must not stop the switch
                    self.faults += 1
                    log.warning("packet dropped: %s: %s", type(exc).__name__, exc)
                    if self.tracer is not None:
                        self.tracer.fate(f"dropped: fault {type(exc).__name__}: {exc}")
        finally:
            if lock is not None:
                lock.release()
        return out

    def _now_us(self) -> int:
        clock = getattr(self.state, "now_ns", None)
        if clock is None:
            import time

            return time.monotonic_ns() // 1000
        return int(clock()) // 1000

    def _parse(
        self, data: bytes, port: int, itype: int, meta: Any = None
    ) -> tuple[Any, Any, Any, rt.PacketIn]:
        hdr = self.H()
        if meta is None:
            meta = self.M()
        sm = self.SM()
        sm.f_ingress_port = port
        sm.f_packet_length = len(data)
        sm.f_instance_type = itype
        sm.f_ingress_global_timestamp = self._now_us() & 0xFFFFFFFFFFFF
        pk = rt.PacketIn(data, self._too_short)
        try:
            self._run["p"](pk, hdr, meta, sm)
        except rt.ParserReject as rej:
            if rej.code is not None:
                sm.f_parser_error = rej.code
        return hdr, meta, sm, pk

    def _ingress(
        self,
        port: int,
        data: bytes,
        itype: int,
        preserved: Any,
        passes: int,
        work: deque[tuple[int, bytes, int, Any, int]],
        out: list[tuple[int, bytes]],
    ) -> None:
        ctx = self.ctx
        ctx.reset()
        tr = self.tracer
        meta = None
        if preserved is not None:  # resubmit / recirculate: the parser sees these
            fl, src = preserved
            meta = self.M()
            self._preserve(fl, src, meta)
        if tr is not None:
            tr.packet(port, len(data), itype)
        hdr, meta, sm, pk = self._parse(data, port, itype, meta)
        if tr is not None:
            tr.parser_end(self._error_name(sm.f_parser_error))
        ctx.nbytes = len(data)
        ctx.payload = pk.remaining()
        self._run["vr"](hdr, meta)
        sm.f_checksum_error = ctx.checksum_error
        ctx.sm = sm
        if tr is not None:
            if ctx.checksum_error:
                tr.effect("verify checksum: mismatch (standard_metadata.checksum_error = 1)")
            tr.control(self._control_names["ig"], "start")
        try:
            self._run["ig"](hdr, meta, sm)
        except rt.DropSignal as exc:
            log.error("ingress: %s", exc)
            self.dropped += 1
            if tr is not None:
                tr.fate(f"dropped in ingress: {exc}")
            return
        if tr is not None:
            tr.control(self._control_names["ig"], "end")
        payload = pk.remaining()
        ig_truncate = ctx.truncate  # bmv2 truncates the packet itself: it holds in egress
        clone = (ctx.clone_set, ctx.clone_session, ctx.clone_fl)
        digest = ctx.digest
        resubmit = ctx.resubmit_fl
        copies: list[tuple[int, Any, Any, Any, bytes, int | None]] = []
        if clone[0]:
            session = self.state.pre.clone_sessions.get(clone[1])
            if tr is not None:
                tr.effect(self._clone_text("ingress", clone[1], session))
            if session is not None:
                for eport, instance in session.replicas:
                    # bmv2 re-parses the received packet for the copy; metadata starts
                    # from zero except the preserved fields.
                    h2, m2, s2, pk2 = self._parse_quietly(data, port, INGRESS_CLONE)
                    m2 = self.M()
                    self._preserve(clone[2], meta, m2)
                    s2 = self.SM()
                    s2.f_ingress_port = port
                    s2.f_instance_type = INGRESS_CLONE
                    s2.f_egress_rid = instance  # the replica's instance, as for multicast
                    s2.f_packet_length = len(data)
                    # A session's packet_length_bytes truncates the copy only.
                    trunc = session.packet_length_bytes or None
                    copies.append((eport, h2, m2, s2, pk2.remaining(), trunc))
        if digest is not None:
            if tr is not None:
                tr.effect(tr.digest_text(digest[0], digest[1]))
            self.state.digest_sink(digest[0], digest[1])
        for eport, h2, m2, s2, pl2, trunc in copies:
            self._egress(eport, h2, m2, s2, pl2, passes, work, out, trunc)
        if resubmit is not None:
            if passes + 1 >= MAX_PASSES:
                self.dropped += 1
                if tr is not None:
                    tr.fate(f"dropped: resubmitted {MAX_PASSES} times")
                return
            if tr is not None:
                tr.fate("resubmitted")
            work.append((port, data, RESUBMIT, (resubmit, meta), passes + 1))
            return
        mgid = sm.f_mcast_grp
        if mgid:
            replicas = self.state.pre.multicast_groups.get(mgid, [])
            if tr is not None:
                tr.effect(f"multicast group {mgid}: {len(replicas)} copies")
                if not replicas:
                    tr.fate(f"dropped: multicast group {mgid} has no replicas")
            for eport, rid in replicas:
                s2 = sm.copy()
                s2.f_egress_rid = rid
                s2.f_instance_type = REPLICATION
                self._egress(
                    eport, hdr.copy(), meta.copy(), s2, payload, passes, work, out, ig_truncate
                )
            return
        if sm.f_egress_spec == DROP_PORT:
            self.dropped += 1
            if tr is not None:
                tr.fate("dropped in ingress: " + self._drop_reason(tr, sm))
            return
        sm.f_instance_type = NORMAL
        self._egress(sm.f_egress_spec, hdr, meta, sm, payload, passes, work, out, ig_truncate)

    def _egress(
        self,
        port: int,
        hdr: Any,
        meta: Any,
        sm: Any,
        payload: bytes,
        passes: int,
        work: deque[tuple[int, bytes, int, Any, int]],
        out: list[tuple[int, bytes]],
        truncate_to: int | None,
        depth: int = 0,
    ) -> None:
        ctx = self.ctx
        ctx.reset()
        ctx.sm = sm
        ctx.nbytes = sm.f_packet_length
        ctx.payload = payload
        ctx.truncate = truncate_to
        sm.f_egress_port = port
        sm.f_egress_spec = (DROP_PORT + 1) & 0x1FF
        sm.f_egress_global_timestamp = self._now_us() & 0xFFFFFFFFFFFF
        tr = self.tracer
        if tr is not None:
            tr.control(self._control_names["eg"], "start", f"egress port {port}")
        try:
            self._run["eg"](hdr, meta, sm)
        except rt.DropSignal as exc:
            log.error("egress: %s", exc)
            self.dropped += 1
            if tr is not None:
                tr.fate(f"dropped in egress: {exc}")
            return
        if tr is not None:
            tr.control(self._control_names["eg"], "end")
        clone = (ctx.clone_set, ctx.clone_session, ctx.clone_fl)
        recirc = ctx.recirculate_fl
        truncate = ctx.truncate
        if clone[0] and depth < MAX_CLONE_DEPTH:
            session = self.state.pre.clone_sessions.get(clone[1])
            if tr is not None:
                tr.effect(self._clone_text("egress", clone[1], session))
            if session is not None:
                for eport, instance in session.replicas:
                    m2 = self.M()
                    self._preserve(clone[2], meta, m2)
                    s2 = self.SM()
                    s2.f_instance_type = EGRESS_CLONE
                    s2.f_egress_rid = instance
                    s2.f_packet_length = sm.f_packet_length
                    self._egress(
                        eport,
                        hdr.copy(),
                        m2,
                        s2,
                        payload,
                        passes,
                        work,
                        out,
                        session.packet_length_bytes or None,
                        depth + 1,
                    )
                ctx.reset()
                ctx.payload = payload
        if sm.f_egress_spec == DROP_PORT:
            self.dropped += 1
            if tr is not None:
                tr.fate("dropped in egress: " + self._drop_reason(tr, sm))
            return
        ctx.payload = payload
        self._run["ck"](hdr, meta)
        po = rt.PacketOut()
        self._run["dep"](po, hdr)
        data = po.finish() + payload
        if recirc is not None:
            if passes + 1 >= MAX_PASSES:
                self.dropped += 1
                if tr is not None:
                    tr.fate(f"dropped: recirculated {MAX_PASSES} times")
                return
            if tr is not None:
                tr.fate("recirculated")
            work.append((0, data, RECIRC, (recirc, meta), passes + 1))
            return
        if truncate is not None:
            data = data[:truncate]
        if tr is not None:
            if port == self.cpu_port:
                tr.fate(f"sent to the CPU port {port} (PacketIn), {len(data)} bytes")
            else:
                tr.fate(f"sent to port {port}, {len(data)} bytes")
        out.append((port, data))

    # ------------------------------------------------------------------ tracing

    def _error_name(self, code: int) -> str:
        return self._error_names.get(code, f"error {code}")

    def _drop_reason(self, tr: Tracer, sm: Any) -> str:
        why = "mark_to_drop()" if tr.marked_drop else "egress_spec is the drop port"
        if sm.f_parser_error:
            why += f" (parser error {self._error_name(sm.f_parser_error)})"
        return why

    @staticmethod
    def _clone_text(where: str, session_id: int, session: Any) -> str:
        if session is None:
            return f"{where} clone to session {session_id}: not configured, no copy"
        ports = ", ".join(str(p) for p, _ in session.replicas) or "none"
        return f"{where} clone to session {session_id}: copies to port(s) {ports}"

    def _parse_quietly(
        self, data: bytes, port: int, itype: int
    ) -> tuple[Any, Any, Any, rt.PacketIn]:
        """`_parse` for a clone's copy: its parser steps are not traced again."""
        tr = self.tracer
        if tr is None:
            return self._parse(data, port, itype)
        tr.muted = True
        try:
            return self._parse(data, port, itype)
        finally:
            tr.muted = False

    def _preserve(self, fl: int | None, src: Any, dst: Any) -> None:
        """Copy the user metadata fields tagged `@field_list(fl)` from `src` to `dst`."""
        if fl is None:
            return
        for path in self._field_lists.get(fl, ()):
            s, d = src, dst
            for name in path[:-1]:
                s = getattr(s, name)
                d = getattr(d, name)
            value = getattr(s, path[-1])
            if hasattr(value, "copy"):
                getattr(d, path[-1]).assign(value)
            else:
                setattr(d, path[-1], value)


__all__ = ["Pipeline", "PacketContext", "StateBinder"]
