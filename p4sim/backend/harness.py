"""A small in-process harness: a P4 program, its P4Info, a device state and the
pipeline, with helpers that address tables and actions by name.

Meant for tests of P4 programs (the project's own and p4sim's semantics tests) that
want packets in and packets out without a gRPC server:

    h = Harness.from_file("p4src/v1model/main.p4")
    h.add_entry("ipv4_lpm", [(0x0A000000, 8)], "ipv4_forward", [0xAABBCCDDEEFF, 2])
    out = h.process(1, packet_bytes)        # [(port, bytes), ...]
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from p4sim.frontend import ast, load

from .backends import pipeline_class


class Harness:
    def __init__(
        self,
        program: ast.Program,
        cpu_port: int = 510,
        clock: Callable[[], int] | None = None,
        tracer: Callable[[Any], Any] | None = None,
        backend: str | None = None,
    ) -> None:
        """`tracer`: None, or a factory `p4info -> trace.Tracer` (e.g.
        `lambda p4info: Tracer(p4info, lines.append)`) to compile with trace hooks."""
        from p4sim.controlplane.p4info import build_p4info
        from p4sim.device import DeviceState

        self.program = program
        self.p4info = build_p4info(program)
        self.state = DeviceState(self.p4info, clock) if clock else DeviceState(self.p4info)
        self.digests: list[tuple[int, tuple[Any, ...]]] = []
        forward = self.state.digest_sink

        def sink(digest_id: int, values: tuple[Any, ...]) -> None:
            self.digests.append((digest_id, values))
            forward(digest_id, values)

        self.state.digest_sink = sink
        self.backend = backend
        cls = pipeline_class(backend)
        if tracer is not None:
            self.pipeline = cls(program, self.p4info, self.state, cpu_port,
                                tracer=tracer(self.p4info))
        else:
            self.pipeline = cls(program, self.p4info, self.state, cpu_port)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kw: Any) -> Harness:
        return cls(load(path), **kw)

    @classmethod
    def from_source(cls, text: str, **kw: Any) -> Harness:
        """Compile P4 source text (it may `#include <core.p4>` / `<v1model.p4>`)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "prog.p4")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            return cls(load(path), **kw)

    # ------------------------------------------------------------------ names

    def _find(self, items: Iterable[Any], name: str, what: str) -> Any:
        items = list(items)
        for it in items:
            if it.preamble.name == name:
                return it
        hits = [it for it in items if it.preamble.name.endswith("." + name)]
        if len(hits) != 1:
            raise KeyError(f"no unique {what} named {name!r}")
        return hits[0]

    def action_id(self, name: str) -> int:
        return int(self._find(self.p4info.actions, name, "action").preamble.id)

    def digest_id(self, name: str) -> int:
        return int(self._find(self.p4info.digests, name, "digest").preamble.id)

    def table(self, name: str) -> Any:
        return self.state.table(name)

    def _by_name(self, where: dict[str, Any], name: str) -> Any:
        if name in where:
            return where[name]
        hits = [v for k, v in where.items() if k.endswith("." + name)]
        if len(hits) != 1:
            raise KeyError(f"no unique object named {name!r}")
        return hits[0]

    def register(self, name: str) -> Any:
        return self._by_name(self.state.registers, name)

    def counter(self, name: str) -> Any:
        return self._by_name(self.state.counters, name)

    def meter(self, name: str) -> Any:
        return self._by_name(self.state.meters, name)

    # ------------------------------------------------------------------ writes

    def add_entry(
        self,
        table: str,
        match: Sequence[Any],
        action: str,
        args: Sequence[int] = (),
        priority: int = 0,
    ) -> Any:
        """Insert an entry; match values as `TableState` takes them (int for exact,
        (value, prefix_len) for lpm, (value, mask) for ternary, (lo, hi) for range)."""
        return self.table(table).insert(tuple(match), priority, self.action_id(action), tuple(args))

    def set_default(self, table: str, action: str, args: Sequence[int] = ()) -> None:
        self.table(table).set_default(self.action_id(action), tuple(args))

    def add_clone_session(
        self, session: int, replicas: Sequence[tuple[int, int]], truncate: int = 0
    ) -> None:
        from p4sim.device import CloneSession

        self.state.pre.clone_sessions[session] = CloneSession(session, list(replicas), 0, truncate)

    def add_multicast_group(self, group: int, replicas: Sequence[tuple[int, int]]) -> None:
        self.state.pre.multicast_groups[group] = list(replicas)

    # ------------------------------------------------------------------ packets

    def process(self, port: int, packet: bytes) -> list[tuple[int, bytes]]:
        out = self.pipeline.process(port, packet)
        # Tests read entries' direct counters directly: bring a native back end's
        # counts into them after each packet (the server does so before each read).
        self.state.sync()
        return out


def skeleton(
    *,
    in_fields: str,
    out_fields: str,
    ingress: str,
    ingress_locals: str = "",
    top: str = "",
    meta_fields: str = "bit<8> unused;",
    parser_states: str = "state start { pk.extract(hdr.i); transition accept; }",
    egress: str = "",
    deparser: str = "pk.emit(hdr.o);",
    headers: str = "",
    verify: str = "",
    compute: str = "",
) -> str:
    """A complete v1model program around a snippet: header `in_t i` (parsed),
    header `out_t o` (made valid before `ingress` runs, emitted by the deparser),
    more members of `headers_t` in `headers`, egress port 1. For tests of language semantics: compute into `hdr.o`, read the
    output bytes."""
    return f"""
#include <core.p4>
#include <v1model.p4>
header in_t {{ {in_fields} }}
header out_t {{ {out_fields} }}
{top}
struct headers_t {{ in_t i; out_t o; {headers} }}
struct meta_t {{ {meta_fields} }}
parser P(packet_in pk, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {{
    {parser_states}
}}
control VC(inout headers_t hdr, inout meta_t meta) {{ apply {{ {verify} }} }}
control Ig(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {{
    {ingress_locals}
    apply {{
        hdr.o.setValid();
        sm.egress_spec = 1;
        {ingress}
    }}
}}
control Eg(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {{
    apply {{ {egress} }}
}}
control CC(inout headers_t hdr, inout meta_t meta) {{ apply {{ {compute} }} }}
control Dp(packet_out pk, in headers_t hdr) {{ apply {{ {deparser} }} }}
V1Switch(P(), VC(), Ig(), Eg(), CC(), Dp()) main;
"""


def unpack_fields(data: bytes, widths: Sequence[int]) -> list[int]:
    """Split the leading bits of `data` into unsigned fields of the given widths."""
    total = sum(widths)
    nbytes = (total + 7) // 8
    value = int.from_bytes(data[:nbytes], "big") >> (nbytes * 8 - total)
    out = []
    for w in reversed(widths):
        out.append(value & ((1 << w) - 1))
        value >>= w
    return out[::-1]
