"""Log events of an attack as the switch counts it (C10): the switch drops spoofed
SYNs' follow-ups and forged ACKs itself, so the controller sees them only in the
event counters. Every `control.summary_seconds` it reads them and, per service:

* `event=attack_start` the first period with invalid ACKs or drops,
* `event=attack_summary` once per period while they go on (a rate-limited summary:
  one line per service and period, however large the flood), with the counts and
  rates of SYNs, cookies sent, valid and invalid ACKs and drops by reason,
* `event=attack_end` at the first period without any.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import grpc

from .admin import event_name
from .p4rt import RpcTimeout

log = logging.getLogger("controller.attack")

Read = Callable[[], Coroutine[Any, Any, tuple[dict[int, int], dict[int, dict[int, int]]]]]


class AttackLog:
    def __init__(self, read: Read, names: Callable[[int], str | None], period: float,
                 clock: Callable[[], float]) -> None:
        self.read, self.names, self.period, self.clock = read, names, period, clock
        self._last: dict[int, dict[int, int]] | None = None
        self._at = 0.0
        self.attacked: set[int] = set()  # service ids

    @property
    def has_baseline(self) -> bool:
        """Whether the counters have been read once (the next read reports a period)."""
        return self._last is not None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.tick()
            except (RuntimeError, RpcTimeout, grpc.aio.AioRpcError) as e:
                log.debug("event=attack_read_failed error=%r", str(e))

    async def tick(self) -> None:
        _glob, per = await self.read()
        now = self.clock()
        last, at = self._last, self._at
        self._last, self._at = per, now
        if last is None or now <= at:
            return
        seconds = now - at
        for sid, counts in sorted(per.items()):
            name = self.names(sid)
            before = last.get(sid)
            if name is None or before is None:
                continue
            delta = {ev: n - before.get(ev, 0) for ev, n in counts.items()
                     if n > before.get(ev, 0)}
            self._report(sid, name, {event_name(ev): n for ev, n in delta.items()}, seconds)
        self.attacked &= set(per)

    def _report(self, sid: int, name: str, d: dict[str, int], seconds: float) -> None:
        drops = {k[5:]: v for k, v in sorted(d.items()) if k.startswith("drop_")}
        refused = d.get("ack_invalid", 0) + sum(drops.values())
        if not refused:
            if sid in self.attacked:
                self.attacked.discard(sid)
                log.warning("event=attack_end service=%s quiet_seconds=%.1f", name, seconds)
            return
        if sid not in self.attacked:
            self.attacked.add(sid)
            log.warning("event=attack_start service=%s", name)
        parts = " ".join(f"{k}={d.get(k, 0)}" for k in
                         ("syn_in", "synack_sent", "ack_valid", "ack_invalid"))
        by_reason = ",".join(f"{k}:{v}" for k, v in drops.items()) or "-"
        log.warning("event=attack_summary service=%s seconds=%.1f %s drops=%d "
                    "drop_reasons=%s syn_rate=%.0f invalid_ack_rate=%.0f", name, seconds,
                    parts, sum(drops.values()), by_reason, d.get("syn_in", 0) / seconds,
                    d.get("ack_invalid", 0) / seconds)
