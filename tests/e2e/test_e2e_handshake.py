"""The server side of the handshake with real Linux stacks: defer mode, data sent
before the real server has answered (held and delivered, C4), a real server that
refuses (RST, D10) or never answers (retries, then the client is reset, C3), and a
client that reconnects from the same source port right after closing (reuse, C5).

    .venv/bin/python -m pytest -q tests/e2e/test_e2e_handshake.py   (root: namespaces)
"""

from __future__ import annotations

import contextlib

import pytest

from topo.httpd import blob_sha256
from topo.netns import wait_for

pytestmark = pytest.mark.netns


def delta(before: dict[str, int], after: dict[str, int], name: str) -> int:
    return after.get(name, 0) - before.get(name, 0)


def sessions_of(proxy, service: str) -> list[dict]:
    return [s for s in proxy.sessions() if s["service"] == service]


def early_stats(proxy) -> dict[str, int]:
    stats = proxy.status()["stats"]
    return {k: int(stats.get(k, 0)) for k in ("early_held_packets", "early_dropped_packets")}


def test_defer_with_a_real_client(proxy) -> None:
    """The client's bare ACK is dropped; its first data starts the session."""
    before = proxy.events()
    up = proxy.client("post", "defer", size=300_000, seed=3)
    assert up["ok"], up
    down = proxy.client("get", "defer", size=500_000, seed=4)
    assert down["ok"], down
    # A request sent only a while after connect: the session waits for it.
    late = proxy.client("whoami", "defer", delay_request=0.5)
    assert late["ok"] and late["body"].split() == ["rs2", proxy.topo.host("client").ip], late
    after = proxy.events()
    moved = {k: delta(before, after, k) for k in after if delta(before, after, k)}
    assert delta(before, after, "DROP_DEFER") >= 3, moved  # one bare ACK per connection
    # Each session was started by data with a valid cookie: the first segment
    # (ACK_VALID), or, when it was lost on the way and a later one came first, that one
    # (EARLY_DATA), or a segment on a 4-tuple still closing from an earlier connection
    # (REUSE_ACK).
    started = sum(delta(before, after, k) for k in ("ACK_VALID", "EARLY_DATA", "REUSE_ACK"))
    assert started >= 3, moved
    assert delta(before, after, "SESSION_ESTABLISHED") >= 3, moved


def test_request_larger_than_a_segment_right_after_connect(proxy) -> None:
    """The SYN/ACK opens the window, so the client sends its request at once, and the
    real server loses the first SYN of each connection: the whole request arrives while
    the server handshake is pending, is held by the controller and delivered, in order,
    once the server has answered the retried SYN (C3, C4)."""
    before, stats0 = proxy.events(), early_stats(proxy)
    for seed in range(3):
        up = proxy.client("post", "early", size=40_000, seed=seed)
        assert up["ok"], up
        assert up["body"] == blob_sha256(40_000, seed)
    after, stats1 = proxy.events(), early_stats(proxy)
    assert delta(before, after, "EARLY_DATA") >= 3  # the switch punted them ...
    assert stats1["early_held_packets"] - stats0["early_held_packets"] >= 3  # ... held
    assert stats1["early_dropped_packets"] == stats0["early_dropped_packets"]  # < bound


def test_no_early_segment_is_dropped_while_the_controller_lags(proxy) -> None:
    """C4: early data below the bound is never lost. With the controller frozen, the
    client's ACK and its two-segment request all reach the switch before any session
    exists; none of them may be thrown away as a bad cookie."""
    before = proxy.events()
    seen = ("ACK_VALID", "ACK_INVALID", "EARLY_DATA")
    # The controller is frozen before the client starts: a fast switch would otherwise
    # let a quick client's handshake complete before the freeze.
    with contextlib.ExitStack() as frozen:
        frozen.enter_context(proxy.controller_stopped())
        with proxy.background_client("post", "early", size=2_000, seed=9) as bg:
            # The handshake ACK and both data segments have been through the switch.
            wait_for(lambda: sum(delta(before, proxy.events(), n) for n in seen) >= 3, 60,
                     interval=0.2, what="the client's ACK and request at the switch")
            mid = proxy.events()
            frozen.close()  # the controller goes on
            up = bg.finish()
    assert up["ok"], up
    assert delta(before, mid, "ACK_INVALID") == 0


def test_server_that_refuses_resets_the_client(proxy) -> None:
    before = proxy.events()
    r = proxy.client("whoami", "down", timeout=60)
    # "connect: reset" when the reset lands before the client process has even seen
    # its connect() complete (the proxy's handshake is done at once; the RST follows).
    assert not r["ok"] and r["error"] in ("reset", "connect: reset"), r
    after = proxy.events()
    assert delta(before, after, "SERVER_RESET") == 1
    # The session is gone from the controller as well.
    wait_for(lambda: not sessions_of(proxy, "down"), 30, interval=0.2,
             what="the refused session to be freed")


def test_server_that_never_answers_is_retried_then_the_client_reset(proxy) -> None:
    syns_before = proxy.dead_syns()
    r = proxy.client("whoami", "dead", timeout=120)
    assert not r["ok"] and r["error"] in ("reset", "connect: reset"), r
    # The first SYN and every retry reached the server's namespace (and were dropped).
    wait_for(lambda: proxy.dead_syns() - syns_before >= 1 + proxy.syn_retries, 30,
             what="the retried SYNs at the silent server")
    assert proxy.dead_syns() - syns_before == 1 + proxy.syn_retries
    wait_for(lambda: not sessions_of(proxy, "dead"), 30, interval=0.2,
             what="the abandoned session to be freed")
    assert "event=syn_timeout" in proxy.controller_log()


def test_reconnect_from_the_same_source_port(proxy) -> None:
    """Port 61234 is outside the kernel's ephemeral range: nothing else uses it. The
    server closes first (Connection: close), so the client's side is free at once
    and the proxy's session for the 4-tuple is in its closing states (C5)."""
    port = 61234
    before = proxy.events()
    results = [proxy.client("get", bind_port=port, size=100_000, seed=i) for i in range(4)]
    for r in results:
        assert r["ok"] and r["local"] == port, r
    results += [proxy.client("whoami", bind_port=port) for _ in range(2)]
    assert all(r["ok"] for r in results), results
    after = proxy.events()
    assert delta(before, after, "REUSE_ACK") >= len(results) - 1
    # Every connection went to a real server (both take turns).
    assert {r["server"] for r in results} == {"rs1", "rs2"}
