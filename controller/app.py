"""The controller, composed: a link to the switch, and the parts that work through it.

Life cycle (C1, C9): the link connects and asks for mastership; while backup the
controller waits; once primary, `Startup.sync` reconciles the switch and the view
(push the pipeline only if it differs, install the config idempotently, read back
sessions, keys and defence), then the handshake path and the timers run until the
stream is lost or mastership goes; the loop reconnects (backoff up to 5 s) and
syncs again. See controller/README.md for the parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from .admin import Admin
from .attacklog import AttackLog
from .config import Config
from .handshakes import Handshakes
from .health import HealthChecks
from .install import ip
from .link import Link, StreamLost
from .metrics import Metrics
from .nat import NatTables
from .p4rt import Deadlines, RpcTimeout, WriteError
from .program import Program, StartupError, pipeline_cookie, read_p4info
from .services import Services
from .startup import Startup
from .timers import Timers
from .view import SwitchView

__all__ = ["Controller", "StartupError", "pipeline_cookie", "read_p4info"]

log = logging.getLogger("controller")


class Controller:
    def __init__(self, cfg: Config, *, clock: Callable[[], float] = time.monotonic,
                 metrics: Metrics | None = None, random_key: Callable[[], int] | None = None,
                 deadlines: Deadlines | None = None) -> None:
        self.cfg, self.clock = cfg, clock
        self.metrics = metrics or Metrics()
        self.stats: dict[str, int] = {"reconnects": 0}
        self.program = program = Program(cfg)
        limits = program.limits
        self.services = services = Services(cfg.services, limits.service_ids)
        self.view = view = SwitchView(cfg, clock(), random_key, limits.session_slots)
        # the table, not captured: Startup replaces it at every sync
        services.load = lambda sid, r: view.table.per_server.get((sid, ip(r.address), r.port), 0)
        self.synced = asyncio.Event()
        sw = cfg.switch
        self.link = link = Link(sw.address, sw.device_id, sw.election_id,
                                program.packet_out_metadata, deadlines=deadlines or Deadlines(),
                                metrics=self.metrics, stats=self.stats)
        self.nat = NatTables(program.p4, services)
        self.handshakes = Handshakes(cfg, program, services, view, link,
                                     metrics=self.metrics, stats=self.stats, clock=clock)
        self.timers = Timers(cfg, program, services, view, link, self.handshakes,
                             metrics=self.metrics, clock=clock, stats=self.stats)
        self.startup = Startup(cfg, program, services, view, self.nat, self.timers, clock)
        self.admin = Admin(cfg, program, services, view, link, self.nat, self.synced,
                           self.stats, self.metrics, clock)
        # The operator surface (control.py) is the admin's, reached through the controller.
        admin = self.admin
        self.status, self.sessions, self.counters = admin.status, admin.sessions, admin.counters
        self.add_service, self.remove_service = admin.add_service, admin.remove_service
        self.set_real_servers, self.service_id = admin.set_real_servers, admin.service_id
        self.limits = limits  # what the program holds (the operator socket checks against it)
        self.checks = HealthChecks(services, admin.set_health)  # C12
        self.attacks = AttackLog(admin.read_counters,
                                 lambda sid: services[sid].name if sid in services else None,
                                 cfg.control.summary_seconds, clock)
        self._stop = asyncio.Event()

    async def run(self) -> None:
        """Run until `stop()`: (re)connect, wait for mastership, sync, work."""
        self.metrics.switch.bind(asyncio.get_running_loop(), self.admin.snapshot)
        health = asyncio.create_task(self.checks.run())
        try:
            await self._run()
        finally:
            health.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await health

    async def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                await self._connection_once()
                backoff = 0.1
            except (TimeoutError, RpcTimeout, grpc.aio.AioRpcError, StreamLost, OSError) as exc:
                log.warning("event=connection_lost address=%s error=%r",
                            self.cfg.switch.address, _short(exc))
            except WriteError as exc:
                # The switch refused part of the config (e.g. a table is full): say so,
                # and try again, since the operator may fix it or free space.
                log.error("event=sync_failed error=%r", str(exc)[:500])
            except Exception:  # the controller stays up and retries
                log.exception("event=internal_error")
            finally:
                self.synced.clear()
                await self.link.close()
            if self._stop.is_set():
                break
            self.stats["reconnects"] += 1
            try:
                await asyncio.wait_for(self._stop.wait(), backoff)
            except TimeoutError:
                pass
            backoff = min(backoff * 2, 5.0)

    def stop(self) -> None:
        self._stop.set()

    def health(self) -> tuple[bool, str]:
        """`/healthz`: healthy while connected to the switch, as the synced primary or
        as a backup waiting to take over."""
        if self.synced.is_set():
            return True, "ok: primary, synced"
        if self.link.conn is not None and not self.link.is_primary:
            return True, "ok: backup"
        return False, "not connected to the switch"

    async def _connection_once(self) -> None:
        conn = await self.link.open()
        assert self.link.reader is not None
        ends: list[asyncio.Future[Any]] = [self.link.reader,
                                           asyncio.create_task(self._stop.wait())]
        try:
            while not any(t.done() for t in ends):
                if not self.link.is_primary:
                    log.info("event=awaiting_primary election_id=%d", conn.election_id)
                    await self._until_role(True, ends)
                    continue
                await self.startup.sync(conn)
                work = [asyncio.create_task(self.handshakes.run(conn)),
                        asyncio.create_task(self.timers.run(conn)),
                        asyncio.create_task(self.timers.beat(conn)),
                        asyncio.create_task(self.attacks.run())]
                self.synced.set()
                try:
                    await self._until_role(False, [*ends, *work])
                finally:
                    self.synced.clear()
                    for w in work:
                        w.cancel()
                    for w in work:
                        try:
                            await w
                        except asyncio.CancelledError:
                            pass
                        except Exception as exc:  # report, then reconnect
                            log.error("event=worker_failed error=%r", _short(exc))
                            raise StreamLost(str(exc)) from exc
        finally:
            ends[1].cancel()
        reader = self.link.reader
        if reader.done() and not reader.cancelled() and reader.exception() is not None:
            raise reader.exception()  # type: ignore[misc]
        if not self._stop.is_set():
            raise StreamLost("stream ended")

    async def _until_role(self, primary: bool, watch: Sequence[asyncio.Future[Any]]) -> None:
        """Until the link's role is `primary`, or one of `watch` ends."""
        while self.link.is_primary != primary and not any(t.done() for t in watch):
            role = asyncio.create_task(self.link.roles.get())
            await asyncio.wait([role, *watch], return_when=asyncio.FIRST_COMPLETED)
            role.cancel()


def _short(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return str(exc) or type(exc).__name__
