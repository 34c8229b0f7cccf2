"""Loss through the proxy with real kernels: the receiver's SACK blocks and timestamps
cross the proxy translated (D9), so the sender uses them. nft in a namespace drops
every 40th data segment of one connection (a fixed client port outside the kernel's
ephemeral range, so no other traffic is touched); the kernels' own counters (nstat)
then show SACK-based recovery and no SACK block or timestamp thrown away as invalid:
a block edge or TSecr left in the wrong sequence space would be.

    .venv/bin/python -m pytest -q tests/e2e/test_e2e_loss.py   (root: namespaces)
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

import pytest

from topo.netns import sh

pytestmark = pytest.mark.netns

TABLE = "e2eloss"
WATCH = ("TcpExtTCPSackRecovery", "TcpExtTCPSACKDiscard", "TcpExtPAWSEstab",
         "TcpExtTCPDSACKIgnoredOld", "TcpRetransSegs")


def nstat(proxy, host: str) -> dict[str, int]:
    """The namespace's TCP counters, absolute, without touching nstat's history."""
    out = sh(["nstat", "-asz", *WATCH], netns=proxy.net.ns[host]).stdout
    values = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in WATCH:
            values[parts[0]] = int(parts[1])
    return values


@contextlib.contextmanager
def lossy(proxy, hosts: list[str], match: str) -> Iterator[None]:
    """Drop every 40th packet that `match`es and carries data, entering `hosts`."""
    ruleset = (f"table inet {TABLE} {{\n chain input {{\n"
               f"  type filter hook prerouting priority -250; policy accept;\n"
               f"  {match} ip length > 200 numgen inc mod 40 == 7 drop\n }}\n}}\n")
    try:
        for h in hosts:
            proc = subprocess.run(["ip", "netns", "exec", proxy.net.ns[h], "nft", "-f", "-"],
                                  input=ruleset, text=True, capture_output=True)
            assert proc.returncode == 0, proc.stderr
        yield
    finally:
        for h in hosts:
            sh(["nft", "delete", "table", "inet", TABLE], netns=proxy.net.ns[h], check=False)


def deltas(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]],
           host: str) -> dict[str, int]:
    return {k: after[host].get(k, 0) - before[host].get(k, 0) for k in WATCH}


def snapshot(proxy) -> dict[str, dict[str, int]]:
    return {h: nstat(proxy, h) for h in ("client", "rs1", "rs2")}


def test_download_with_loss_recovers_by_sack(proxy) -> None:
    """The client loses data: its SACK blocks must reach the server shifted by delta."""
    port = 61300
    before = snapshot(proxy)
    with lossy(proxy, ["client"], f"tcp dport {port}"):
        r = proxy.client("get", bind_port=port, size=3_000_000, seed=31, timeout=60)
    assert r["ok"], r
    after = snapshot(proxy)
    server = deltas(before, after, r["server"])
    client = deltas(before, after, "client")
    assert server["TcpRetransSegs"] > 0  # there was loss to recover from
    assert server["TcpExtTCPSackRecovery"] > 0, server
    assert server["TcpExtTCPSACKDiscard"] == 0, server
    assert server["TcpExtPAWSEstab"] == 0 and client["TcpExtPAWSEstab"] == 0


def test_upload_with_loss_recovers_by_sack(proxy) -> None:
    """The server loses data: its SACK blocks (client sequence space) reach the client."""
    port = 61301
    before = snapshot(proxy)
    with lossy(proxy, ["rs1", "rs2"], f"tcp sport {port}"):
        r = proxy.client("post", bind_port=port, size=3_000_000, seed=32, timeout=60)
    assert r["ok"], r
    after = snapshot(proxy)
    server = deltas(before, after, r["server"])
    client = deltas(before, after, "client")
    assert client["TcpRetransSegs"] > 0
    assert client["TcpExtTCPSackRecovery"] > 0, client
    assert client["TcpExtTCPSACKDiscard"] == 0, client
    assert server["TcpExtPAWSEstab"] == 0 and client["TcpExtPAWSEstab"] == 0
