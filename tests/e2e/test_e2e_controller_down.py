"""The controller-down policy with real TCP stacks: the controller is killed with
downloads in the middle of their transfer; once its heartbeat is past the limit, a
new client of a fail-open service (open) is served unproxied (NATed by the switch's
buckets), a new client of a fail-closed one (closed) is refused at once with a reset
(never left hanging), and the downloads complete intact; a controller started again
proxies new clients once more.

    .venv/bin/python -m pytest -q tests/e2e/test_e2e_controller_down.py   (root: namespaces)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.netns

# The controller under test beats every 0.2 s and counts as gone after 1 s of silence.
SHORT = {"heartbeat_seconds": 0.2, "heartbeat_limit_seconds": 1.0}
SIZE = 6_000_000


def delta(before: dict[str, int], after: dict[str, int], event: str) -> int:
    return after.get(event, 0) - before.get(event, 0)


@pytest.fixture
def short_heartbeat(proxy) -> Iterator[None]:
    """The controller restarted with a short heartbeat limit; the rig's afterwards."""
    old = dict(proxy.heartbeat)
    proxy.kill_controller()
    proxy.heartbeat.update(SHORT)
    try:
        proxy.start_controller()
        yield
    finally:
        proxy.heartbeat.clear()
        proxy.heartbeat.update(old)
        if proxy.ctl is not None and proxy.ctl.poll() is None:
            proxy.kill_controller()
        proxy.start_controller()


def test_controller_down_fail_open_and_fail_closed(proxy, short_heartbeat: None) -> None:
    with contextlib.ExitStack() as stack:
        downloads = [stack.enter_context(proxy.paused_client(
            "get", name, size=SIZE, seed=90 + i, pause_at=1_000_000))
            for i, name in enumerate(("open", "closed"))]
        proxy.kill_controller()
        # The switch's own clock decides: the last beat was written before the kill, so
        # once this much has passed the silence is past the limit (1 s), whatever the
        # first packet to look finds.
        time.sleep(3 * SHORT["heartbeat_limit_seconds"])
        before = proxy.events()
        served = proxy.client("get", "open", size=200_000, seed=95, timeout=20)
        refused = proxy.client("whoami", "closed", timeout=20)
        after = proxy.events()
        # Fail open: served by a real server, unproxied (no cookie, no session).
        moved = {k: delta(before, after, k) for k in after if delta(before, after, k)}
        assert served["ok"], (served, moved)
        assert delta(before, after, "CONTROLLER_DOWN_PASSED") >= 1, (refused, moved)
        assert delta(before, after, "SYNACK_SENT") == 1  # the fail-closed client's only
        # Fail closed: the handshake ACK is answered with a RST, not left to hang.
        assert not refused["ok"] and refused["error"] in ("reset", "connect: reset"), refused
        assert delta(before, after, "CONTROLLER_DOWN_RESET") == 1
        # The downloads that were under way when the controller died complete intact.
        for pc in downloads:
            pc.go()
        results = [pc.finish() for pc in downloads]
    for r in results:
        assert r["ok"] and r["bytes"] == SIZE, r

    proxy.start_controller()  # still with the short heartbeat
    before = proxy.events()
    again = [proxy.client("get", name, size=100_000, seed=96) for name in ("open", "closed")]
    after = proxy.events()
    assert all(r["ok"] for r in again), again
    assert delta(before, after, "SYNACK_SENT") == 2  # both proxied again
    assert delta(before, after, "ACK_VALID") == 2
    assert delta(before, after, "CONTROLLER_DOWN_PASSED") == 0
    assert delta(before, after, "CONTROLLER_DOWN_RESET") == 0
