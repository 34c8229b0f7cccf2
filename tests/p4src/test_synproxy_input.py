"""synproxy.p4 on hostile input, in bulk where the in-process harness is fast: random
option areas and flags are never answered but by a SYN/ACK to a SYN, and bit flips and
truncations of segments (in a session whose registers are set by hand) never fault
the pipeline. The exact cases (malformed options and lengths, D1; UDP, fragments and
other protocols to a VIP, D6; IPv4 options; ARP, D2) are in the PTF suite
(ptf-tests/tests/synproxy/no_session.py and synack.py), run in process and over veths.

Run: .venv/bin/python -m pytest -q tests/p4src/test_synproxy_input.py
"""

from __future__ import annotations

import random

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from controller import p4consts
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
)


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


def test_mutated_and_truncated_packets_never_fault(bench: Bench) -> None:
    """Bit flips and truncations of valid segments, in and out of a session: the
    pipeline never faults, and whatever leaves has a correct IPv4 header checksum."""
    cookie = bench.cookie(1000, encode_options(1460, 7, True, True))
    bench.install_session(9, cookie=cookie, state=p4consts.SESSION_ESTABLISHED)
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
