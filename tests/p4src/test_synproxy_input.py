"""synproxy.p4 on hostile or unusual input: malformed TCP options and lengths are
counted and never answered (D1), UDP/fragments/other protocols to a protected VIP
follow the deny entry (D6), IPv4 options are skipped; ARP answers (D2).

Run: .venv/bin/python -m pytest -q tests/p4src/test_synproxy_input.py
"""

from __future__ import annotations

import random

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether

from controller.cookie import encode_options
from tests.p4src.p4bench import (
    CLIENT_IP,
    CLIENT_MAC,
    CLIENT_PORT,
    ROUTER_MAC,
    VIP,
    VPORT,
    Bench,
    csum_ok,
    ip2int,
    mac2int,
)


def raw_syn(option_bytes: bytes, *, dataofs: int | None = None, payload: bytes = b"") -> bytes:
    """A SYN to the VIP whose option area is `option_bytes` (padded to 32 bits unless
    dataofs is given): scapy sees them as payload, so lengths and checksums cover them."""
    opts = option_bytes
    if dataofs is None:
        opts = opts + b"\x00" * (-len(opts) % 4)
        dataofs = 5 + len(opts) // 4
    tcp = TCP(sport=40000, dport=VPORT, flags="S", seq=1000, dataofs=dataofs)
    pkt = (
        Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IP(src=CLIENT_IP, dst=VIP) / tcp / (opts + payload)
    )
    return bytes(pkt)


def test_zero_length_option_is_malformed(bench: Bench) -> None:
    assert bench.process(CLIENT_PORT, raw_syn(b"\x02\x04\x05\xb4\x1e\x00\x00\x00")) == []
    assert bench.event("DROP_MALFORMED") == (1, 1)
    assert bench.event("SYNACK_SENT") == (0, 0)


def test_option_running_past_header_is_malformed(bench: Bench) -> None:
    # A timestamp option (10 bytes) in an 8-byte option area.
    assert bench.process(CLIENT_PORT, raw_syn(b"\x01\x01\x08\x0a\x00\x00\x00\x01")) == []
    assert bench.event("DROP_MALFORMED") == (1, 1)


def test_length_one_option_is_malformed(bench: Bench) -> None:
    assert bench.process(CLIENT_PORT, raw_syn(b"\x03\x01\x07\x00")) == []
    assert bench.event("DROP_MALFORMED") == (1, 1)


def test_data_offset_below_five_is_malformed(bench: Bench) -> None:
    assert bench.process(CLIENT_PORT, raw_syn(b"", dataofs=4)) == []
    assert bench.event("DROP_MALFORMED") == (1, 1)


def test_data_offset_past_packet_end_is_malformed(bench: Bench) -> None:
    # dataofs 15 (40 option bytes) but only 4 present.
    assert bench.process(CLIENT_PORT, raw_syn(b"\x01\x01\x01\x00", dataofs=15)) == []
    assert bench.event("DROP_MALFORMED") == (1, 1)


def test_unknown_and_odd_options_are_skipped(bench: Bench) -> None:
    # Unknown kind 30 (len 6), MSS with a wrong length (skipped, so no MSS), NOP, EOL
    # and padding.
    opts = b"\x1e\x06abcd" + b"\x02\x05\x05\xb4\x00" + b"\x01\x03\x03\x05" + b"\x00\x00"
    out = bench.process(CLIENT_PORT, raw_syn(opts))
    ((port, data),) = out
    assert port == CLIENT_PORT and csum_ok(data)
    assert Ether(data)[TCP].seq == bench.cookie(1000, encode_options(None, 5, False, False))


def test_eol_ends_option_parsing(bench: Bench) -> None:
    # MSS after EOL is padding, not an option.
    opts = b"\x00\x02\x04\x05\xb4\x00\x00\x00"
    ((_, data),) = bench.process(CLIENT_PORT, raw_syn(opts))
    assert Ether(data)[TCP].seq == bench.cookie(1000, encode_options(None, None, False, False))


def test_syn_with_payload_is_answered_without_it(bench: Bench) -> None:
    syn = bench.client_tcp("S", 1000, options=[("MSS", 1460)], payload=b"x" * 100)
    ((_, data),) = bench.process(CLIENT_PORT, syn)
    reply = Ether(data)
    assert csum_ok(data)
    assert reply[IP].len == 44 and len(data) == 58
    assert bytes(reply[TCP].payload) == b""


def test_ip_options_are_skipped_and_dropped_from_reply(bench: Bench) -> None:
    syn = (
        Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
        / IP(src=CLIENT_IP, dst=VIP, options=b"\x94\x04\x00\x00")  # router alert
        / TCP(sport=40000, dport=VPORT, flags="S", seq=1000, options=[("MSS", 1300)])
    )
    ((_, data),) = bench.process(CLIENT_PORT, syn)
    reply = Ether(data)
    assert reply[IP].ihl == 5 and csum_ok(data)
    assert reply[TCP].seq == bench.cookie(1000, encode_options(1300, None, False, False))


def test_truncated_ip_total_length_is_malformed(bench: Bench) -> None:
    pkt = Ether(bytes(bench.client_tcp("S", 1000)))
    pkt[IP].len = 200
    data = bytes(pkt)
    assert bench.process(CLIENT_PORT, data) == []
    assert bench.event("DROP_MALFORMED") == (1, 1)


def test_random_garbage_never_answered(bench: Bench) -> None:
    rng = random.Random(7)
    for _ in range(200):
        opts = bytes(rng.getrandbits(8) for _ in range(rng.choice([4, 8, 12, 20, 40])))
        flags = rng.choice(["S", "A", "SA", "R", "F", ""])
        base = Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IP(src=CLIENT_IP, dst=VIP)
        tcp = TCP(
            sport=40000, dport=VPORT, flags=flags, seq=rng.getrandbits(32), ack=rng.getrandbits(32)
        )
        data = bytes(base / tcp / opts)
        data = data[: 14 + 20 + 12] + bytes([((5 + len(opts) // 4) << 4)]) + data[14 + 20 + 13 :]
        out = bench.process(CLIENT_PORT, data)
        for port, reply in out:
            # The only thing ever sent back is a SYN/ACK to a well-formed SYN.
            assert port == CLIENT_PORT and flags == "S"
            assert Ether(reply)[TCP].flags == "SA" and csum_ok(reply)


def test_udp_fragments_and_icmp_to_vip_follow_deny_entry(bench: Bench) -> None:
    base = Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
    assert (
        bench.process(CLIENT_PORT, base / IP(src=CLIENT_IP, dst=VIP) / UDP(sport=5, dport=53)) == []
    )
    frag = base / IP(src=CLIENT_IP, dst=VIP, frag=100, proto=6) / (b"x" * 40)
    assert bench.process(CLIENT_PORT, frag) == []
    first = base / IP(src=CLIENT_IP, dst=VIP, flags="MF") / TCP(dport=VPORT, flags="S")
    assert bench.process(CLIENT_PORT, first) == []
    assert bench.process(CLIENT_PORT, base / IP(src=CLIENT_IP, dst=VIP) / ICMP()) == []
    assert bench.event("DROP_UDP") == (1, 1)
    assert bench.event("DROP_FRAGMENT") == (2, 2)
    assert bench.event("DROP_POLICY") == (1, 1)


def test_other_traffic_is_routed(bench: Bench) -> None:
    pkt = Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IP(src=CLIENT_IP, dst="10.1.0.9", ttl=5) / UDP()
    ((port, data),) = bench.process(CLIENT_PORT, pkt)
    assert port == 2 and Ether(data)[IP].ttl == 4 and csum_ok(data)


def test_arp_request_for_vip_is_answered(bench: Bench) -> None:
    bench.h.add_entry("arp_replies", [ip2int(VIP)], "reply_arp", [mac2int(ROUTER_MAC)])
    req = Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=CLIENT_MAC, psrc=CLIENT_IP, pdst=VIP
    )
    ((port, data),) = bench.process(CLIENT_PORT, req)
    reply = Ether(data)
    assert port == CLIENT_PORT
    assert (reply.dst, reply.src) == (CLIENT_MAC, ROUTER_MAC)
    assert reply[ARP].op == 2
    assert (reply[ARP].hwsrc, reply[ARP].psrc) == (ROUTER_MAC, VIP)
    assert (reply[ARP].hwdst, reply[ARP].pdst) == (CLIENT_MAC, CLIENT_IP)


def test_arp_for_unknown_address_is_bridged(bench: Bench) -> None:
    req = Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, psrc=CLIENT_IP, pdst="10.0.0.77"
    )
    assert bench.process(CLIENT_PORT, req) == []  # mac_table default: drop
    bench.h.set_default("mac_table", "flood", [1])
    bench.h.add_multicast_group(1, [(1, 0), (2, 0), (3, 0)])
    out = bench.process(CLIENT_PORT, req)
    assert sorted(p for p, _ in out) == [2, 3]


def test_mutated_and_truncated_packets_never_fault(bench: Bench) -> None:
    """Bit flips and truncations of valid segments, in and out of a session: the
    pipeline never faults, and whatever leaves has a correct IPv4 header checksum."""
    cookie = bench.cookie(1000, encode_options(1460, 7, True, True))
    bench.install_session(9, cookie=cookie, state=2)
    seeds = [
        bench.client_tcp("S", 1000, options=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)]),
        bench.client_tcp(
            "PA",
            1001,
            cookie + 1,
            options=[("NOP", None), ("NOP", None), ("SAck", (1, 2, 3, 4))],
            payload=b"data",
        ),
        bench.server_tcp(
            "A", 5, 1001, options=[("NOP", None), ("NOP", None), ("Timestamp", (1, 2))]
        ),
    ]
    rng = random.Random(11)
    for i in range(300):
        seed = seeds[i % len(seeds)]
        data = bytearray(bytes(seed))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(14, len(data))
            data[pos] ^= 1 << rng.randrange(8)
        if rng.random() < 0.3:
            data = data[: rng.randrange(14, len(data))]
        port = CLIENT_PORT if i % 3 != 2 else 2
        for _, out in bench.process(port, bytes(data)):
            pkt = Ether(out)
            if IP in pkt:
                fresh = pkt.copy()
                del fresh[IP].chksum
                assert pkt[IP].chksum == Ether(bytes(fresh))[IP].chksum
