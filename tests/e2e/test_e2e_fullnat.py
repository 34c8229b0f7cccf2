"""FULLNAT (D7) with real TCP stacks: a client downloads through a FULLNAT service
from a real server whose only route is to its own subnet (no default route, no route
to the client), byte for byte; a capture at the server shows its peer is the
switch's local address, and the server SYN's TOA option (kind 254, length 8) carries
the client's port and address.

    .venv/bin/python -m pytest -q tests/e2e/test_e2e_fullnat.py   (root: namespaces)
"""

from __future__ import annotations

import contextlib
import ipaddress
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.utils import rdpcap

from tests.e2e.conftest import FULLNAT_PORTS
from topo.netns import wait_for

pytestmark = pytest.mark.netns

MB = 1_000_000


@contextlib.contextmanager
def own_subnet_only(proxy: Any, host: str) -> Iterator[None]:
    """Every IPv4 route of `host` but its subnet's removed for the block (restored
    after): it can answer only what comes from an address on its own link."""
    routes = [r for r in proxy.net.exec(host, ["ip", "-4", "route", "show"]).stdout.splitlines()
              if r.strip() and "scope link" not in r]
    for r in routes:
        proxy.net.exec(host, ["ip", "route", "del", *r.split()])
    try:
        yield
    finally:
        for r in routes:
            proxy.net.exec(host, ["ip", "route", "replace", *r.split()], check=False)


@contextlib.contextmanager
def capture(proxy: Any, host: str, port: int, name: str) -> Iterator[Any]:
    """tcpdump at `host` of the TCP segments to `port` (a pcap in the workdir)."""
    pcap = proxy.net.workdir / f"{name}.pcap"
    log = f"{name}-tcpdump.log"
    # --immediate-mode: each packet handed over (and, with -U, written) as it comes,
    # not a buffer block at a time, so nothing is left in the kernel at the stop.
    proc = proxy.net.popen(host, ["tcpdump", "-n", "-U", "--immediate-mode",
                                  "-i", proxy.net.ifname[host],
                                  "-w", str(pcap), f"tcp dst port {port}"], log=log)
    wait_for(lambda: "listening on" in (proxy.net.workdir / log).read_text(errors="replace"),
             30, interval=0.1, what="tcpdump to listen")
    try:
        yield pcap
    finally:
        time.sleep(1.0)  # the last segments' way through the switch
        proxy.net.lab.stop(proc)


def segments(pcap: Any) -> list[Any]:
    """The TCP segments captured so far (none while the file is still empty)."""
    try:
        return [p for p in rdpcap(str(pcap)) if IP in p and TCP in p]
    except (OSError, EOFError, struct.error, ValueError):  # not even a header yet
        return []


def test_download_through_fullnat_from_a_server_without_a_route_back(proxy) -> None:
    client = proxy.topo.host("client")
    (server,) = proxy.services["fullnat"].servers
    laddr = proxy.local_address("fullnat")
    assert proxy.status()["services"]["fullnat"]["forwarding"] == "fullnat"
    with own_subnet_only(proxy, server), \
            capture(proxy, server, proxy.services["fullnat"].rs_port, "fullnat") as pcap:
        # Without the proxy's FULLNAT the server could not answer the client at all.
        assert "via" not in proxy.net.exec(server, ["ip", "-4", "route", "show"]).stdout
        result = proxy.client("get", "fullnat", size=3 * MB, seed=93)
        # The capture holds the connection's SYN and its FIN (both ends have closed).
        wait_for(lambda: {"S", "F"} <= {f for p in segments(pcap)
                                        for f in ("S", "F") if f in str(p[TCP].flags)},
                 30, interval=0.2, what="the SYN and the FIN in the capture")
    assert result["ok"], result  # the body's SHA-256 matched
    assert result["bytes"] == 3 * MB and result["server"] == server
    pkts = segments(pcap)
    assert {p[IP].src for p in pkts} == {laddr}, "the server saw another source"
    syns = [p for p in pkts if p[TCP].flags == "S"]
    assert len(syns) >= 1
    syn = syns[0]
    lport = syn[TCP].sport
    assert FULLNAT_PORTS[0] <= lport <= FULLNAT_PORTS[1]
    raw = bytes(syn[TCP])
    opts = raw[20:(raw[12] >> 4) * 4]
    toa = bytes([254, 8]) + struct.pack("!H", result["local"]) + ipaddress.IPv4Address(
        client.ip).packed
    assert toa in opts, f"no TOA with the client's {client.ip}:{result['local']} in {opts.hex()}"
    # Every later segment of the connection comes from the same local tuple.
    assert {(p[IP].src, p[TCP].sport) for p in pkts} == {(laddr, lport)}
