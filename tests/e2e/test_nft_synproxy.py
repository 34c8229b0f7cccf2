"""The nft-synproxy side of the comparison really proxies: a client gets through it, the
SYN/ACK of a handshake is the router's own with the configured options, and under a
small bounded flood no spoofed SYN reaches a real server.

    .venv/bin/python -m pytest -q tests/e2e/test_nft_synproxy.py   (root: namespaces)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from topo import guard
from topo.netns import wait_for
from topo.nft import NftNet, SynproxyOptions, parse_synproxy_stats, ruleset
from topo.topology import default_topology

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable

# Root and nft are checked for every e2e test by conftest (missing: a failure).
needs_root = pytest.mark.netns

HOST_SYSCTLS = ("net/netfilter/nf_conntrack_tcp_loose", "net/ipv4/tcp_syncookies",
                "net/ipv4/tcp_timestamps", "net/ipv4/ip_forward", "net/ipv4/conf/all/rp_filter")

# Sends one SYN from the client's interface and prints the first TCP answer as hex.
PROBE = """
import sys
from scapy.all import Ether, IP, TCP, srp1, conf
conf.verb = 0
iface, smac, dmac, src, dst, dport = sys.argv[1:7]
syn = (Ether(src=smac, dst=dmac) / IP(src=src, dst=dst) /
       TCP(sport=40123, dport=int(dport), flags="S", seq=1000,
           options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (77, 0)), ("NOP", None),
                    ("WScale", 9)]))
ans = srp1(syn, iface=iface, timeout=3, filter="tcp and src port " + dport)
print(bytes(ans).hex() if ans is not None else "")
"""


def host_sysctls() -> dict[str, str]:
    out = {}
    for name in HOST_SYSCTLS:
        path = Path("/proc/sys") / name
        out[name] = path.read_text().strip() if path.exists() else "absent"
    return out


def test_ruleset_proxies_the_vip_with_the_options_and_dnats_round_robin() -> None:
    topo = default_topology()
    text = ruleset(topo, SynproxyOptions(mss=1400, wscale=5, timestamp=True, sack_perm=False))
    assert "synproxy mss 1400 wscale 5 timestamp\n" in text
    assert "ct state invalid,untracked" in text and "notrack" in text
    assert "numgen inc mod 2 map { 0 : 10.0.10.10, 1 : 10.0.11.10 } : 8080" in text
    assert text.count("dnat to") == 2  # prerouting and the proxy's own SYN (output)
    single = ruleset(default_topology(real_servers=1))
    assert "dnat to 10.0.10.10:8080" in single and "numgen" not in single


def test_bad_options_and_stats_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="mss"):
        SynproxyOptions(mss=10)
    with pytest.raises(ValueError, match="wscale"):
        SynproxyOptions(wscale=15)
    with pytest.raises(ValueError, match="header"):
        parse_synproxy_stats("nonsense\n")
    head = "entries\tsyn_received\tcookie_invalid\tcookie_valid\tcookie_retrans\tconn_reopened\n"
    stats = parse_synproxy_stats(head + "0 a 1 2 0 0\n0 6 0 1 0 0\n")
    assert stats["syn_received"] == 16 and stats["cookie_valid"] == 3
    with pytest.raises(ValueError, match="malformed"):
        parse_synproxy_stats(head + "0 1\n")


@needs_root
def test_nft_router_proxies_and_keeps_the_flood_off_the_servers() -> None:
    topo = default_topology()
    before = host_sysctls()
    net = NftNet(topo).start()
    names = set(net.ns.values())
    try:
        for rs in topo.real_servers:
            net.popen(rs.name, [PY, "-m", "topo.httpd", "--port", str(topo.rs_port),
                                "--name", rs.name], log=f"{rs.name}.log")
            guard.install(net.ns[rs.name])
        assert net.exec("router", ["sysctl", "-n", "net.netfilter.nf_conntrack_tcp_loose"]
                        ).stdout.strip() == "0"

        def downloads(count: int) -> list[dict]:
            out = net.exec("client", [PY, "-m", "topo.workload", "--vip", topo.vip, "--port",
                                      str(topo.vport), "--size", "150000", "--count", str(count),
                                      "--concurrency", "1", "--seconds", "20", "--timeout", "3"],
                           timeout=60).stdout
            return [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]

        wait_for(lambda: any(r["ok"] for r in downloads(1)), 20, interval=0.3,
                 what="a first download through the nft router")
        recs = downloads(4)
        assert len(recs) == 4 and all(r["ok"] for r in recs), recs
        assert {r["server"] for r in recs} == {"rs1", "rs2"}  # DNAT round robin
        assert net.counters()["cookie_valid"] >= 5

        # A bare SYN is answered by the router itself: the servers see no SYN for it.
        syns_before = sum(guard.read(net.ns[rs.name])["syn"] for rs in topo.real_servers)
        client = topo.host("client")
        probe = net.exec("client", [PY, "-c", PROBE, net.ifname["client"], client.mac,
                                    client.gateway_mac, client.ip, topo.vip, str(topo.vport)],
                         timeout=30).stdout.strip()
        assert probe, "no answer to the probe SYN"
        from scapy.layers.inet import IP, TCP
        from scapy.layers.l2 import Ether

        ans = Ether(bytes.fromhex(probe))
        assert ans.src == client.gateway_mac and ans[IP].src == topo.vip
        assert ans[TCP].flags == "SA" and ans[TCP].ack == 1001 and ans[TCP].window == 0
        assert ans[IP].ttl == 64  # built by the router, not a forwarded server reply
        opts = dict((k, v) for k, v in ans[TCP].options if k != "NOP")
        assert opts["MSS"] == 1460 and opts["WScale"] == 7 and "SAckOK" in opts
        assert opts["Timestamp"][1] == 77
        assert sum(guard.read(net.ns[rs.name])["syn"] for rs in topo.real_servers) == syns_before

        # A small bounded flood from the spoof range, with downloads running meanwhile.
        attacker = topo.host("attacker")
        flood = net.popen("attacker", [PY, "-m", "topo.flood", "--iface", net.ifname["attacker"],
                                       "--src-mac", attacker.mac, "--dst-mac",
                                       attacker.gateway_mac, "--vip", topo.vip, "--port",
                                       str(topo.vport), "--rate", "1000", "--seconds", "5",
                                       "--count", "2000"], log="flood.json")
        during = downloads(3)
        flood.wait(timeout=30)
        sent = json.loads((net.workdir / "flood.json").read_text().splitlines()[-1])["sent"]
        assert sent >= 1000
        assert all(r["ok"] for r in during), during
        counters = net.counters()
        assert counters["syn_in"] >= sent and counters["synack_out"] >= sent
        for rs in topo.real_servers:
            assert guard.read(net.ns[rs.name])["spoofed_syn"] == 0
            assert guard.read(net.ns[rs.name])["spoofed_any"] == 0
    finally:
        net.close()
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not {ln.split()[0] for ln in listed.splitlines() if ln.strip()} & names
    assert host_sysctls() == before  # only the run's own namespaces were changed
