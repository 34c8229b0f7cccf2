"""The demo's tools on their own: HTTP service and checked downloads, the bounded
spoofed flood, and the spoofed-source counters on a server."""

import json
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer

import pytest

from topo import guard
from topo.flood import build_frames
from topo.httpd import Handler, blob_sha256
from topo.netns import Lab, enable_ipv6, sh
from topo.topology import SPOOF_RANGE, SPOOF_RANGE6
from topo.workload import fetch


def test_download_checked_by_hash() -> None:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.name = "rsX"  # type: ignore[attr-defined]  # read by Handler
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        port = srv.server_address[1]
        rec = fetch("127.0.0.1", port, 300_001, 7, timeout=5)
        assert rec["ok"], rec
        assert rec["server"] == "rsX" and rec["connect_ms"] >= 0
        assert blob_sha256(300_001, 7) != blob_sha256(300_001, 8)
        bad = fetch("127.0.0.1", port + 1 if port < 65535 else 1, 10, 0, timeout=2)
        assert not bad["ok"] and bad["error"].startswith("connect:")
    finally:
        srv.shutdown()


def test_flood_frames_only_from_the_spoof_range() -> None:
    import ipaddress

    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    net = ipaddress.ip_network(SPOOF_RANGE)
    frames = build_frames("syn", "02:00:00:00:03:0a", "02:00:00:00:03:01", "10.0.0.100", 80, 200)
    for f in frames:
        p = Ether(f)
        assert ipaddress.ip_address(p[IP].src) in net
        assert p[TCP].flags == "S" and p[TCP].dport == 80 and p[IP].dst == "10.0.0.100"
    assert len({Ether(f)[IP].src for f in frames}) > 150


def test_flood_from_a_prefix_inside_the_spoof_range_only() -> None:
    import ipaddress

    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether

    frames = build_frames("syn", "02:00:00:00:03:0a", "02:00:00:00:03:01", "10.0.0.100", 80,
                          100, source="198.18.7.0/24")
    srcs = {Ether(f)[IP].src for f in frames}
    assert all(ipaddress.ip_address(s) in ipaddress.ip_network("198.18.7.0/24") for s in srcs)
    assert len(srcs) > 50
    # Never outside the test range, nor of the other family.
    for bad in ("10.0.1.0/24", "198.16.0.0/12", "2001:2::/64", "198.18.7.0/31"):
        with pytest.raises(ValueError):
            build_frames("syn", "02:00:00:00:03:0a", "02:00:00:00:03:01", "10.0.0.100", 80,
                         1, source=bad)


def test_ipv6_flood_only_from_the_benchmarking_prefix() -> None:
    """To an IPv6 VIP every frame is IPv6 from 2001:2::/48 (or a prefix inside it);
    a prefix outside it, or of IPv4, is refused."""
    import ipaddress

    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    mine = ipaddress.ip_network("2001:2::/48")
    for source, within in ((None, mine), ("2001:2:0:7::/64",
                                          ipaddress.ip_network("2001:2:0:7::/64"))):
        frames = build_frames("syn", "02:00:00:00:03:0a", "02:00:00:00:03:01",
                              "2001:db8::100", 80, 100, source=source)
        srcs = {ipaddress.ip_address(Ether(f)[IPv6].src) for f in frames}
        assert all(s in within and s in mine for s in srcs) and len(srcs) > 90
        assert {Ether(f)[IPv6].dst for f in frames} == {"2001:db8::100"}
    for bad in ("2001:db8:3::/64", "2001:3::/64", "2001::/16", "198.18.0.0/24",
                "2001:2::/127"):
        with pytest.raises(ValueError):
            build_frames("syn", "02:00:00:00:03:0a", "02:00:00:00:03:01", "2001:db8::100",
                         80, 1, source=bad)


def test_flood_is_bounded_and_counted_by_the_guard() -> None:
    with Lab(prefix="tt") as lab:
        a, b = lab.add_ns("a"), lab.add_ns("b")
        lab.veth(a, f"{lab.tag}a", b, f"{lab.tag}b")
        sh(["ip", "addr", "add", "10.0.0.100/24", "dev", f"{lab.tag}b"], netns=b)
        guard.install(b)
        mac = sh(["cat", f"/sys/class/net/{lab.tag}b/address"], netns=b).stdout.strip()
        out = subprocess.run(
            ["ip", "netns", "exec", a, sys.executable, "-m", "topo.flood", "--iface", f"{lab.tag}a",
             "--src-mac", "02:00:00:00:03:0a", "--dst-mac", mac, "--vip", "10.0.0.100",
             "--rate", "2000", "--seconds", "5", "--count", "300"],
            capture_output=True, text=True, check=True)
        result = json.loads(out.stdout)
        assert result["sent"] == 300
        from topo.netns import wait_for
        wait_for(lambda: guard.read(b).get("spoofed_syn", 0) >= 300, 5, what="counters")
        counts = guard.read(b)
        assert counts["spoofed_syn"] == 300 and counts["syn"] == 300


def test_ipv6_flood_frames_only_from_the_benchmarking_prefix() -> None:
    """With an IPv6 VIP, every spoofed source is in 2001:2::/48 (RFC 5180), never the
    IPv4 range, and the frames are IPv6 (no IPv4 header at all)."""
    import ipaddress

    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    net = ipaddress.ip_network(SPOOF_RANGE6)
    frames = build_frames("syn", "02:00:00:00:03:0a", "02:00:00:00:03:01", "2001:db8::100",
                          80, 200)
    for f in frames:
        p = Ether(f)
        assert IP not in p and p.type == 0x86DD
        assert ipaddress.ip_address(p[IPv6].src) in net and p[IPv6].dst == "2001:db8::100"
        assert p[TCP].flags == "S" and p[TCP].dport == 80
    assert len({Ether(f)[IPv6].src for f in frames}) > 150


def test_ipv6_flood_is_counted_by_the_guard() -> None:
    with Lab(prefix="tt") as lab:
        a, b = lab.add_ns("a"), lab.add_ns("b")
        lab.veth(a, f"{lab.tag}a", b, f"{lab.tag}b")
        enable_ipv6(b, f"{lab.tag}b")
        sh(["ip", "-6", "addr", "add", "2001:db8::100/64", "dev", f"{lab.tag}b", "nodad"],
           netns=b)
        guard.install(b)
        mac = sh(["cat", f"/sys/class/net/{lab.tag}b/address"], netns=b).stdout.strip()
        out = subprocess.run(
            ["ip", "netns", "exec", a, sys.executable, "-m", "topo.flood", "--iface",
             f"{lab.tag}a", "--src-mac", "02:00:00:00:03:0a", "--dst-mac", mac,
             "--vip", "2001:db8::100", "--rate", "2000", "--seconds", "5", "--count", "200"],
            capture_output=True, text=True, check=True)
        assert json.loads(out.stdout)["sent"] == 200
        from topo.netns import wait_for
        wait_for(lambda: guard.read(b).get("spoofed_syn", 0) >= 200, 5, what="counters")
        counts = guard.read(b)
        assert counts["spoofed_syn"] == 200 and counts["spoofed_any"] == 200
