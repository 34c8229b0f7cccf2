"""Real-server health checks (C12), as keepalived does them next to LVS: a TCP connect
or an HTTP GET per real server of every service with a `health` section, every
`interval` seconds, from the controller's host. `fall` failed probes in a row take a
server out of scheduling and the NAT buckets (`Services.mark`, weight 0), `rise` good
ones in a row put it back. A server starts up (as keepalived without `alpha`).

The probes run on the controller's event loop whether or not the switch is
connected; a change is applied to the switch's NAT buckets when it is (and at the
next sync otherwise, which builds them from `Services.serving`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .config import HealthCheck, hostport
from .services import ServerKey, Services

log = logging.getLogger("controller.health")

RECONCILE_SECONDS = 0.2  # how soon a service added or changed at run time is probed


async def probe(check: HealthCheck, address: str, port: int) -> str | None:
    """One probe: None when healthy, else what failed."""
    port = check.port or port

    async def go() -> str | None:
        reader, writer = await asyncio.open_connection(address, port)
        try:
            if check.type == "tcp":
                return None
            host = f"[{address}]" if ":" in address else address  # an IPv6 literal
            writer.write(f"GET {check.path} HTTP/1.0\r\nHost: {host}\r\n"
                         "User-Agent: p4synproxy-health\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            line = await reader.readline()
            parts = line.split()
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
                return f"not an HTTP answer: {line[:40]!r}"
            if int(parts[1]) != check.status:
                return f"HTTP status {int(parts[1])}, expected {check.status}"
            return None
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    try:
        return await asyncio.wait_for(go(), check.timeout)
    except TimeoutError:
        return f"no answer within {check.timeout:g} s"
    except OSError as e:
        return f"connect: {e.strerror or type(e).__name__}"


@dataclass
class ServerHealth:
    up: bool = True
    oks: int = 0  # successes in a row
    fails: int = 0  # failures in a row
    last_error: str | None = None
    # The latest probe results (True: healthy); each change as (probe number, up, the
    # streak of probes in a row that made it).
    results: deque[bool] = field(default_factory=lambda: deque(maxlen=64))
    probes: int = 0
    changes: deque[tuple[int, bool, int]] = field(default_factory=lambda: deque(maxlen=64))


Key = tuple[int, ServerKey]  # (service id, (address, port))


class HealthChecks:
    def __init__(self, services: Services,
                 on_change: Callable[[int, ServerKey, bool, str], Awaitable[None]]) -> None:
        self.services = services
        self.on_change = on_change
        self.state: dict[Key, ServerHealth] = {}
        self._tasks: dict[Key, tuple[HealthCheck, asyncio.Task[None]]] = {}

    def wanted(self) -> dict[Key, HealthCheck]:
        return {(sid, (r.address, r.port)): s.health
                for sid, s in self.services.items() if s.health is not None
                for r in s.real_servers}

    def reconcile(self) -> None:
        """Probe what the services ask for now: start new checks, stop removed ones."""
        want = self.wanted()
        for key, (check, task) in list(self._tasks.items()):
            if want.get(key) != check:
                task.cancel()
                del self._tasks[key]
                if key not in want:
                    self.state.pop(key, None)
        for key, check in want.items():
            if key not in self._tasks:
                self.state.setdefault(key, ServerHealth())
                self._tasks[key] = (check, asyncio.create_task(self._loop(key, check)))

    async def run(self) -> None:
        try:
            while True:
                self.reconcile()
                await asyncio.sleep(RECONCILE_SECONDS)
        finally:
            tasks = [t for _c, t in self._tasks.values()]
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            self._tasks.clear()

    async def _loop(self, key: Key, check: HealthCheck) -> None:
        sid, (address, port) = key
        while True:
            error = await probe(check, address, port)
            await self.record(key, check, error)
            await asyncio.sleep(check.interval)

    async def record(self, key: Key, check: HealthCheck, error: str | None) -> None:
        h = self.state.setdefault(key, ServerHealth())
        h.probes += 1
        h.results.append(error is None)
        if error is None:
            h.oks, h.fails = h.oks + 1, 0
        else:
            h.oks, h.fails, h.last_error = 0, h.fails + 1, error
        if h.up and h.fails >= check.fall:
            why = f"{h.fails} failed probes: {error}"
        elif not h.up and h.oks >= check.rise:
            why = f"{h.oks} good probes"
        else:
            return
        h.up = not h.up
        h.changes.append((h.probes, h.up, h.oks if h.up else h.fails))
        try:
            await self.on_change(key[0], key[1], h.up, why)
        except Exception as e:  # noqa: BLE001 - the checks go on; the next sync applies it
            log.warning("event=health_apply_failed service_id=%d real_server=%s error=%r",
                        key[0], hostport(*key[1]), str(e) or type(e).__name__)

    def is_up(self, sid: int, server: ServerKey) -> bool:
        h = self.state.get((sid, server))
        return h is None or h.up
