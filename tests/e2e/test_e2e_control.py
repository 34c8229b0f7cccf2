"""The controller's life with real traffic: killed and started again in the middle of
a long transfer (C9: the transfer completes intact, the session is read back), and the
cookie key rotated every second while handshakes are in flight (C7: connections across
several rotations all succeed, also ones whose cookie is checked an epoch later).

    .venv/bin/python -m pytest -q tests/e2e/test_e2e_control.py   (root: namespaces)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from controller.control import CommandError, request
from topo.netns import wait_for

pytestmark = pytest.mark.netns

# The states a connection passes through once established, as the controller names them.
AFTER_ESTABLISHED = {"established", "fin_wait", "close_wait", "last_ack", "time_wait"}


def test_controller_killed_and_restarted_mid_transfer(proxy) -> None:
    size = 8_000_000
    with proxy.paused_client("get", size=size, seed=77, pause_at=1_000_000) as pc:
        client = f"{proxy.topo.host('client').ip}:{pc.local_port}"
        assert any(s["client"] == client for s in proxy.sessions())
        proxy.kill_controller()
        # The transfer carries on while no controller runs and while the new one
        # connects, reads the switch back and takes over.
        pc.go()
        proxy.start_controller()
        restored = [s for s in proxy.sessions() if s["client"] == client]
        result = pc.finish()
    assert result["ok"], result
    assert result["bytes"] == size
    # Read back as the connection it was (not restarted as a new one): established, or
    # already closing if the server finished sending before the read-back was seen.
    assert len(restored) == 1, restored
    assert restored[0]["state"] in AFTER_ESTABLISHED, restored
    # And the restarted controller serves new connections.
    again = proxy.client("get", size=300_000, seed=78)
    assert again["ok"], again


@pytest.fixture
def fast_rotation(proxy) -> Iterator[None]:
    """The controller restarted with a one-second key rotation, and back afterwards."""
    old = dict(proxy.cookie)
    proxy.kill_controller()
    proxy.cookie["rotate_seconds"] = 1
    try:
        proxy.start_controller()
        yield
    finally:
        proxy.cookie.clear()
        proxy.cookie.update(old)
        proxy.kill_controller()
        proxy.start_controller()


def test_key_rotation_with_handshakes_in_flight(proxy, fast_rotation: None) -> None:
    """Plain connections run back to back while, beside them, deferred ones hold their
    handshake open: with `defer` the cookie is only checked when the request goes out,
    0.5 s after the SYN/ACK, so about half of those are minted in one epoch and checked in
    the next. The run lasts until the key has rotated at least four times and six
    deferred handshakes are done."""
    epoch0 = proxy.status()["epoch"]
    done = threading.Event()
    deferred: list[dict] = []

    def deferred_clients() -> None:
        while not done.is_set() and len(deferred) < 60:
            deferred.append(proxy.client("whoami", "defer", delay_request=0.5))

    side = threading.Thread(target=deferred_clients, daemon=True)
    side.start()
    plain: list[dict] = []
    try:
        # Bounded in time, not in rounds: a round takes 0.1-1 s with the machine's load,
        # and the key rotates once a second.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            plain += proxy.workload(count=8, concurrency=4, size=20_000)
            if proxy.status()["epoch"] - epoch0 >= 4 and len(deferred) >= 6:
                break
    finally:
        done.set()
        side.join(timeout=300)
    rotations = proxy.status()["epoch"] - epoch0
    assert rotations >= 4, rotations
    assert plain and len(deferred) >= 6, len(deferred)
    failed = [r for r in plain + deferred if not r["ok"]]
    assert not failed, failed[:5]
    assert "event=key_rotated" in proxy.controller_log()
    wait_for(lambda: proxy.status()["synced"], 30, what="the controller still synced")


def test_no_rate_on_a_program_without_meters(tna_proxy) -> None:
    """The TNA program has no D15 meters or overload_config: the controller runs on it
    without writing any (its start-up used to fail on the missing vip_protocols), and
    a rate or early drop asked at run time is refused, not silently dropped."""
    assert tna_proxy.status()["synced"]
    for req in ({"cmd": "rate_set", "meter": "syn_rate", "rate": "100", "service": "web"},
                {"cmd": "early_drop", "probability": 0.5}):
        with pytest.raises(CommandError, match="no D15 meters or overload_config"):
            request(tna_proxy.socket, req)
    assert "no_overload_objects" in tna_proxy.controller_log()
