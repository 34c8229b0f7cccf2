"""The services the controller runs: config records by service id (1 .. the
program's service ids - 1, the counter index), each with its real-server scheduler and, in mode auto, its
defence switch (C8)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from .config import RealServer, Service
from .defence import AutoSwitch
from .scheduler import Scheduler, make_scheduler

ServerKey = tuple[str, int]


class Services:
    def __init__(self, services: tuple[Service, ...] | list[Service] = (),
                 service_ids: int = 256) -> None:
        self.service_ids = service_ids  # ProgramLimits.service_ids
        self.by_id: dict[int, Service] = {}
        self.schedulers: dict[int, Scheduler] = {}
        self.auto: dict[int, AutoSwitch] = {}
        # C12: real servers the health checks found dead, per service: out of scheduling
        # and of the NAT buckets (weight 0) until they are marked up again.
        self.down: dict[int, set[ServerKey]] = {}
        # Sessions of a real server now (the least-connection scheduler's measure).
        self.load: Callable[[int, RealServer], int] = lambda _sid, _r: 0
        for i, s in enumerate(services):
            self.set(i + 1, s)

    def set(self, sid: int, s: Service) -> None:
        """Add or replace service `sid` (its auto switch survives a replacement)."""
        if not 0 < sid < self.service_ids:
            raise ValueError(f"service ids are 1..{self.service_ids - 1} (counter index)")
        self.by_id[sid] = s
        keys = {(r.address, r.port) for r in s.real_servers}
        if sid in self.down:
            self.down[sid] &= keys
        self._schedule(sid)
        if s.mode == "auto":
            self.auto.setdefault(sid, AutoSwitch(s.auto))
        else:
            self.auto.pop(sid, None)

    def _schedule(self, sid: int) -> None:
        s = self.by_id[sid]
        self.schedulers[sid] = make_scheduler(s.scheduler, self.serving(sid),
                                              lambda r: self.load(sid, r))

    def serving(self, sid: int) -> tuple[RealServer, ...]:
        """The service's real servers as scheduled: a dead one at weight 0."""
        down = self.down.get(sid, set())
        return tuple(dataclasses.replace(r, weight=0) if (r.address, r.port) in down else r
                     for r in self.by_id[sid].real_servers)

    def mark(self, sid: int, server: ServerKey, up: bool) -> bool:
        """Record a health change of one real server; True when it changed."""
        down = self.down.setdefault(sid, set())
        if (server not in down) == up:
            return False
        (down.discard if up else down.add)(server)
        self._schedule(sid)
        return True

    def remove(self, sid: int) -> None:
        self.by_id.pop(sid, None)
        self.schedulers.pop(sid, None)
        self.auto.pop(sid, None)
        self.down.pop(sid, None)

    def id_of(self, name: str) -> int:
        for sid, s in self.by_id.items():
            if s.name == name:
                return sid
        raise KeyError(f"no service named '{name}'")

    def free_id(self) -> int:
        return next(i for i in range(1, self.service_ids) if i not in self.by_id)

    def pick(self, sid: int, flow: tuple[int, int, int, int]) -> RealServer | None:
        """The real server of a new connection `flow` (client, vip, cport, vport); a
        service without NAT is its own server."""
        svc = self.by_id[sid]
        if not svc.nat:
            return RealServer(svc.vip, svc.port)
        return self.schedulers[sid].pick((flow[0], flow[2], flow[1], flow[3]))

    def undefended(self) -> bool:
        """Some service runs unproxied now (mode off, or auto while calm)."""
        return (any(s.mode == "off" for s in self.by_id.values())
                or any(not sw.active for sw in self.auto.values()))

    def __getitem__(self, sid: int) -> Service:
        return self.by_id[sid]

    def __contains__(self, sid: object) -> bool:
        return sid in self.by_id

    def __iter__(self) -> Iterator[int]:
        return iter(self.by_id)

    def __len__(self) -> int:
        return len(self.by_id)

    def items(self) -> list[tuple[int, Service]]:
        return sorted(self.by_id.items())

    def values(self) -> list[Service]:
        return [s for _sid, s in self.items()]
