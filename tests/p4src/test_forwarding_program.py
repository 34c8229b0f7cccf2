"""forwarding.p4: the plain router/bridge that shares synproxy.p4's parser and
forwarding controls.

Run: .venv/bin/python -m pytest -q tests/p4src/test_forwarding_program.py
"""

from __future__ import annotations

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether

from tests.p4src.p4bench import (
    CLIENT_MAC,
    CLIENT_PORT,
    CPU_PORT,
    ROUTER_MAC,
    SERVER_MAC,
    SERVER_PORT,
    Bench,
    csum_ok,
    ip2int,
    mac2int,
    packet_out,
    split_packet_in,
)


def test_routes_with_ttl_and_macs(router: Bench) -> None:
    pkt = (
        Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
        / IP(src="10.0.0.1", dst="10.1.0.5", ttl=64, options=b"\x01\x01\x01\x00")
        / TCP(dport=80, flags="S", options=[("MSS", 1460), ("SAckOK", b"")])
        / b"payload"
    )
    ((port, data),) = router.process(CLIENT_PORT, pkt)
    got = Ether(data)
    assert port == SERVER_PORT
    assert (got.src, got.dst) == (ROUTER_MAC, SERVER_MAC)
    assert got[IP].ttl == 63
    assert csum_ok(data)
    # Everything after the IPv4 TTL/checksum is untouched, options included.
    assert bytes(got[IP].payload) == bytes(Ether(bytes(pkt))[IP].payload)


def test_ttl_expired_is_dropped(router: Bench) -> None:
    pkt = Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IP(src="10.0.0.1", dst="10.1.0.5", ttl=1) / UDP()
    assert router.process(CLIENT_PORT, pkt) == []


def test_unrouted_destination_dropped_or_punted(router: Bench) -> None:
    pkt = Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IP(src="10.0.0.1", dst="172.16.0.1") / UDP()
    assert router.process(CLIENT_PORT, pkt) == []
    router.h.add_entry("ipv4_routes", [(ip2int("172.16.0.0"), 12)], "punt_route")
    ((port, data),) = router.process(CLIENT_PORT, pkt)
    meta, frame = split_packet_in(data)
    assert port == CPU_PORT
    assert meta["reason"] == 3 and meta["ingress_port"] == CLIENT_PORT
    assert frame == bytes(pkt)


def test_bridging_by_mac(router: Bench) -> None:
    router.h.add_entry("mac_table", [mac2int(SERVER_MAC)], "bridge_to", [SERVER_PORT])
    pkt = Ether(src=CLIENT_MAC, dst=SERVER_MAC) / IP(src="10.0.0.1", dst="10.0.0.2", ttl=9) / UDP()
    ((port, data),) = router.process(CLIENT_PORT, pkt)
    assert port == SERVER_PORT and data == bytes(pkt)  # bridged: TTL untouched


def test_arp_reply_for_gateway(router: Bench) -> None:
    router.h.add_entry("arp_replies", [ip2int("10.0.0.254")], "reply_arp", [mac2int(ROUTER_MAC)])
    req = Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=CLIENT_MAC, psrc="10.0.0.1", pdst="10.0.0.254"
    )
    ((port, data),) = router.process(CLIENT_PORT, req)
    assert port == CLIENT_PORT and Ether(data)[ARP].hwsrc == ROUTER_MAC


def test_packet_out_direct(router: Bench) -> None:
    frame = bytes(Ether(src=ROUTER_MAC, dst=CLIENT_MAC) / IP() / UDP())
    assert router.process(CPU_PORT, packet_out(frame, pipeline=False, port=CLIENT_PORT)) == [
        (CLIENT_PORT, frame)
    ]
