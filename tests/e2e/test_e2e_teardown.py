"""Connection teardown through the proxy with real kernels (D11): a graceful close
leaves the session in TIME_WAIT, and a client that resets its connection in the
middle of a download resets the real server's side too.

Each test uses its own fixed client port outside the kernel's ephemeral range, so the
session and the sockets it looks at are its own.

    .venv/bin/python -m pytest -q tests/e2e/test_e2e_teardown.py   (root: namespaces)
"""

from __future__ import annotations

import pytest

from topo.netns import wait_for

pytestmark = pytest.mark.netns


def session_states(proxy, port: int) -> list[str]:
    client = f"{proxy.topo.host('client').ip}:{port}"
    return [s["state"] for s in proxy.sessions() if s["client"] == client]


def server_sockets(proxy, port: int) -> dict[str, str]:
    """Each real server's TCP sockets (any state) whose peer is the client's `port`."""
    peer = f"{proxy.topo.host('client').ip}:{port}"
    out = {}
    for rs in proxy.topo.real_servers:
        lines = proxy.net.exec(rs.name, ["ss", "-tanH", "dst", peer]).stdout.strip()
        if lines:
            out[rs.name] = lines
    return out


def test_graceful_close_ends_in_time_wait(proxy) -> None:
    port = 61310
    r = proxy.client("get", bind_port=port, size=200_000, seed=41)
    assert r["ok"], r
    # The server closed first (Connection: close), then the client: both FINs and the
    # last ACK went through the switch, which moved the session to TIME_WAIT.
    wait_for(lambda: session_states(proxy, port) == ["time_wait"], 30, interval=0.2,
             what="the session in time_wait")


def test_client_reset_mid_download_resets_the_server(proxy) -> None:
    port = 61311
    r = proxy.client("get", bind_port=port, size=5_000_000, seed=42, abort_at=500_000)
    assert r["ok"] and r["aborted"] >= 500_000, r
    # Had the reset not reached the server (or been refused as out of window), the
    # server would sit in ESTABLISHED retransmitting for minutes.
    wait_for(lambda: not any("ESTAB" in v for v in server_sockets(proxy, port).values()),
             60, interval=0.2, what="the server's side of the connection to be reset")
    wait_for(lambda: session_states(proxy, port) in ([], ["close"]), 30, interval=0.2,
             what="the session closed")
