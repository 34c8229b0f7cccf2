"""What the flood tests share: counter deltas, legitimate downloads running beside a
flood, and the checks that nothing spoofed reached a server."""

from __future__ import annotations

import threading
from typing import Any

from topo.netns import wait_for


def delta(before: dict[str, int], after: dict[str, int], name: str) -> int:
    return after.get(name, 0) - before.get(name, 0)


class Background:
    """Legitimate hash-checked downloads (Proxy.workload) running while the main
    thread floods."""

    def __init__(self, proxy: Any, count: int, concurrency: int = 3, size: int = 100_000,
                 service: str = "web") -> None:
        self.records: list[dict] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       args=(proxy, count, concurrency, size, service))
        self.thread.start()

    def _run(self, proxy: Any, count: int, concurrency: int, size: int, service: str) -> None:
        try:
            self.records = proxy.workload(count=count, concurrency=concurrency, size=size,
                                          service=service, timeout=60)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            self.error = e

    def result(self) -> list[dict]:
        self.thread.join(timeout=900)
        assert not self.thread.is_alive(), "the legitimate workload did not finish"
        if self.error is not None:
            raise self.error
        return self.records


def assert_nothing_spoofed_reached_a_server(proxy: Any,
                                            before: dict[str, dict[str, int]]) -> None:
    """The servers' spoofed-source counters did not move since `before` (the auto
    service lets a flood through until its defence is on, so they need not be 0)."""
    for name, counts in proxy.guard().items():
        for c in ("spoofed_syn", "spoofed_any"):
            assert counts.get(c, 0) == before[name].get(c, 0), (name, c, counts)


def wait_counted(proxy: Any, before: dict[str, int], names: tuple[str, ...],
                 at_least: int) -> dict[str, int]:
    """Poll the switch's counters until `names` together grew by `at_least`
    (every flood packet was processed); return the counters then."""
    now: dict[str, dict[str, int]] = {}

    def done() -> bool:
        now["e"] = proxy.events()
        return sum(delta(before, now["e"], n) for n in names) >= at_least

    wait_for(done, 120, interval=0.5, what=f"{at_least} flood packets counted in {names}")
    return now["e"]
