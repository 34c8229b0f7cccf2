"""Per-packet traces (`p4sim -L trace`), in the spirit of bmv2's trace log.

What a P4 developer debugs with: for each packet, the parser path (states entered,
headers extracted, the parser's end and error), each table applied (its key, hit or
miss, the action run with its arguments), the v1model side effects (mark_to_drop,
clone, digest, resubmit, recirculate, multicast) and the fate of every copy (sent to
port N, sent to the CPU port as a PacketIn, dropped and why).

The hook interface
------------------
A back end reports events to a `Tracer`; the tracer names them (from the P4Info and
the device state) and writes one line each. Every method is an event; a back end
calls exactly these, in packet order, and nothing else:

    packet(port, nbytes, instance)      a packet (or a resubmitted/recirculated pass)
                                        enters the parser
    state(parser, state)                the parser enters a state
    extract(header, pos_bits)           a header was extracted; the cursor is now there
    parser_end(error)                   the parser finished; error name or "NoError"
    control(name, where, detail="")     a control starts ("start") or ends ("end")
    table(table_state, key, hit, action_id, args)
                                        a table was applied: its key tuple (P4Info
                                        match-field order), hit, the action run
    action(name)                        an action is called directly (not by a table)
    extern(name)                        an extern with a bearing on the fate ran
                                        (mark_to_drop)
    effect(text)                        a side effect the pipeline acted on
    fate(text)                          what became of one copy of the packet

Cost: the Python back end generates the calls into the per-packet code only when
the program is compiled with a tracer (`Pipeline(..., tracer=...)`, or the
`p4sim.trace` logger enabled at TRACE when the pipeline loads, as `p4sim -L trace`
does); without one, the generated code has no hooks at all and the pipeline tests
one `None` per hook point. A C back end can implement the same interface by
buffering these events per packet and handing them to a `Tracer` after the packet.

Values are printed in decimal up to 16 bits and in hex above (addresses, sequence
numbers), as `name=value`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from p4.config.v1 import p4info_pb2

TRACE = 5  # below DEBUG: the per-packet trace is the most verbose level
logging.addLevelName(TRACE, "TRACE")

log = logging.getLogger("p4sim.trace")

_INSTANCES = {0: "", 1: " (ingress clone)", 2: " (egress clone)", 4: " (recirculated)",
              5: " (replica)", 6: " (resubmitted)"}


def tracing_enabled() -> bool:
    """Whether `p4sim.trace` logs at TRACE (what `p4sim -L trace` turns on)."""
    return log.isEnabledFor(TRACE)


def value_text(value: int, width: int) -> str:
    if width <= 16:
        return str(value)
    return f"0x{value:0{(width + 3) // 4}x}"


class Tracer:
    """Turns back-end events into trace lines for `emit` (default: the
    `p4sim.trace` logger at TRACE)."""

    def __init__(
        self, p4info: p4info_pb2.P4Info, emit: Callable[[str], None] | None = None
    ) -> None:
        self._emit = emit if emit is not None else self._log
        self.actions: dict[int, tuple[str, list[tuple[str, int]]]] = {
            a.preamble.id: (a.preamble.name, [(p.name, p.bitwidth) for p in a.params])
            for a in p4info.actions
        }
        self.digests = {d.preamble.id: d.preamble.name for d in p4info.digests}
        self.number = 0
        self.marked_drop = False  # mark_to_drop ran in the current control
        self.muted = False  # a clone's copy being re-parsed: its parser steps are not new

    @staticmethod
    def _log(line: str) -> None:
        log.log(TRACE, "%s", line)

    def _line(self, text: str) -> None:
        if not self.muted:
            self._emit(f"[packet {self.number}] {text}")

    # ------------------------------------------------------------------ events

    def packet(self, port: int, nbytes: int, instance: int) -> None:
        if instance == 0:
            self.number += 1
        kind = _INSTANCES.get(instance, f" (instance type {instance})")
        self._line(f"received on port {port}, {nbytes} bytes{kind}")

    def state(self, parser: str, state: str) -> None:
        self._line(f"parser {parser}: state {state}")

    def extract(self, header: str, pos_bits: int) -> None:
        self._line(f"parser: extracted {header} ({pos_bits // 8} bytes parsed)")

    def parser_end(self, error: str) -> None:
        if error == "NoError":
            self._line("parser: accept")
        else:
            self._line(f"parser: error {error}")

    def control(self, name: str, where: str, detail: str = "") -> None:
        if where == "start":
            self.marked_drop = False
        self._line(f"control {name}: {where}" + (f" ({detail})" if detail else ""))

    def action_text(self, action_id: int, args: tuple[int, ...] | list[int]) -> str:
        name, params = self.actions.get(action_id, (f"action id {action_id}", []))
        shown = []
        for i, a in enumerate(args):
            pname, width = params[i] if i < len(params) else (f"arg{i}", 64)
            shown.append(f"{pname}={value_text(a, width)}")
        return f"{name}({', '.join(shown)})"

    def table(
        self, table: Any, key: tuple[int, ...], hit: bool, action_id: int, args: Any
    ) -> None:
        fields = getattr(table, "fields", ())
        parts = []
        for i, v in enumerate(key):
            if i < len(fields):
                parts.append(f"{fields[i].name}={value_text(v, fields[i].bitwidth)}")
            else:
                parts.append(f"key{i}={v}")
        self._line(f"table {table.name}: key {{{', '.join(parts)}}}")
        what = "hit" if hit else "miss"
        kind = "action" if hit else "default action"
        self._line(f"table {table.name}: {what} -> {kind} {self.action_text(action_id, args)}")

    def action(self, name: str) -> None:
        self._line(f"action {name} (called directly)")

    def extern(self, name: str) -> None:
        if name == "mark_to_drop":
            self.marked_drop = True
        self._line(f"extern {name}()")

    def effect(self, text: str) -> None:
        self._line(text)

    def fate(self, text: str) -> None:
        self._line(f"fate: {text}")

    def digest_text(self, digest_id: int, values: tuple[Any, ...]) -> str:
        name = self.digests.get(digest_id, f"id {digest_id}")
        return f"digest {name} {values}"


__all__ = ["TRACE", "Tracer", "tracing_enabled", "value_text"]
