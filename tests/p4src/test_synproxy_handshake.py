"""synproxy.p4, client side of the handshake: SYN -> SYN/ACK with a cookie (D3, D4),
ACK -> cookie check and digest (D5), floods without state (D6).

Run: .venv/bin/python -m pytest -q tests/p4src/test_synproxy_handshake.py
"""

from __future__ import annotations

import random
from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from controller.cookie import check_cookie, encode_options
from tests.p4src.p4bench import (
    CLIENT_IP,
    CLIENT_MAC,
    CLIENT_PORT,
    CPU_PORT,
    EPOCH,
    KEY,
    PREV_EPOCH,
    PREV_KEY,
    PROXY_AUTO,
    ROUTER_MAC,
    SERVICE_ID,
    SVC_DEFER,
    SVC_SACK,
    SVC_TS,
    SVC_WSCALE,
    VIP,
    VPORT,
    Bench,
    client_flow,
    csum_ok,
    ip2int,
    split_packet_in,
)

LINUX_SYN_OPTIONS = [
    ("MSS", 1460),
    ("SAckOK", b""),
    ("Timestamp", (12345, 0)),
    ("NOP", None),
    ("WScale", 7),
]


def synack_of(bench: Bench, isn: int = 1000, **kw) -> Ether:
    out = bench.process(CLIENT_PORT, bench.client_tcp("S", isn, **kw))
    assert len(out) == 1
    port, data = out[0]
    assert port == CLIENT_PORT
    assert csum_ok(data)
    return Ether(data)


def test_synack_carries_reference_cookie(bench: Bench) -> None:
    pkt = synack_of(bench, options=LINUX_SYN_OPTIONS)
    opts = encode_options(1460, 7, True, True)
    assert pkt[TCP].flags == "SA"
    assert pkt[TCP].seq == bench.cookie(1000, opts)
    assert pkt[TCP].ack == 1001
    assert (pkt.src, pkt.dst) == (ROUTER_MAC, CLIENT_MAC)
    assert (pkt[IP].src, pkt[IP].dst) == (VIP, CLIENT_IP)
    assert (pkt[TCP].sport, pkt[TCP].dport) == (VPORT, 40000)
    assert pkt[IP].ttl == 64
    assert pkt[TCP].window == 0


def test_synack_options_follow_negotiation(bench: Bench) -> None:
    pkt = synack_of(bench, options=LINUX_SYN_OPTIONS)
    options = dict((k, v) for k, v in pkt[TCP].options if k != "NOP")
    assert options["MSS"] == 1460
    assert options["WScale"] == 7
    assert "SAckOK" in options
    tsval, tsecr = options["Timestamp"]
    assert tsecr == 12345
    assert pkt[TCP].dataofs == 10  # MSS | NOP WS | SACKOK TS


def test_synack_without_client_options(bench: Bench) -> None:
    pkt = synack_of(bench, isn=0xFFFFFFFF)
    assert [k for k, _ in pkt[TCP].options] == ["MSS"]
    assert pkt[TCP].ack == 0  # isn + 1 wraps
    opts = encode_options(None, None, False, False)
    assert pkt[TCP].seq == bench.cookie(0xFFFFFFFF, opts)


def test_service_flags_limit_options(bench: Bench) -> None:
    bench.h.add_entry(
        "services",
        [ip2int(VIP), (VPORT, 0xFFFF), (6, 0xFF)],
        "set_service",
        [SERVICE_ID, 1, SVC_SACK, 1400, 7, 0, 64],
        priority=20,
    )
    pkt = synack_of(bench, options=LINUX_SYN_OPTIONS)
    kinds = [k for k, _ in pkt[TCP].options if k != "NOP"]
    assert kinds == ["MSS", "SAckOK"]
    assert dict(pkt[TCP].options)["MSS"] == 1400
    assert pkt[TCP].seq == bench.cookie(1000, encode_options(1460, None, True, False))


def test_wscale_above_14_is_clamped_in_cookie(bench: Bench) -> None:
    pkt = synack_of(bench, options=[("MSS", 1300), ("WScale", 20)])
    assert pkt[TCP].seq == bench.cookie(1000, encode_options(1300, 14, False, False))


def test_syn_counts_events(bench: Bench) -> None:
    synack_of(bench)
    assert bench.event("SYN_IN") == (1, 1)
    assert bench.event("SYNACK_SENT") == (1, 1)


def _ack_for(bench: Bench, isn: int, cookie: int, **kw):
    return bench.client_tcp("A", isn + 1, (cookie + 1) & 0xFFFFFFFF, **kw)


def test_valid_ack_sends_digest_and_is_consumed(bench: Bench) -> None:
    pkt = synack_of(bench, isn=5000, options=LINUX_SYN_OPTIONS)
    cookie = pkt[TCP].seq
    tsval = dict(pkt[TCP].options)["Timestamp"][0]
    ack = _ack_for(
        bench,
        5000,
        cookie,
        window=502,
        options=[("NOP", None), ("NOP", None), ("Timestamp", (12400, tsval))],
    )
    out = bench.process(CLIENT_PORT, ack)
    assert out == []
    (d,) = bench.digests("cookie_ack_digest_t")
    assert d == (
        ip2int(CLIENT_IP),
        ip2int(VIP),
        40000,
        VPORT,
        5000,
        cookie,
        1460,
        7,
        1,
        1,
        0,
        0,
        502,
        12400,
        tsval,
        CLIENT_PORT,
        SERVICE_ID,
        0,
        0,
    )
    assert bench.event("ACK_VALID") == (1, 1)


def test_previous_epoch_and_key_still_valid(bench: Bench) -> None:
    opts = encode_options(1460, None, False, False)
    cookie = bench.cookie(77, opts, epoch=PREV_EPOCH, key=PREV_KEY)
    assert bench.process(CLIENT_PORT, _ack_for(bench, 77, cookie)) == []
    assert len(bench.digests("cookie_ack_digest_t")) == 1


def test_older_epoch_is_rejected(bench: Bench) -> None:
    opts = encode_options(1460, None, False, False)
    cookie = bench.cookie(77, opts, epoch=EPOCH - 2)
    assert bench.process(CLIENT_PORT, _ack_for(bench, 77, cookie)) == []
    assert bench.digests("cookie_ack_digest_t") == []
    assert bench.event("ACK_INVALID") == (1, 1)


def test_tampered_cookie_rejected(bench: Bench) -> None:
    opts = encode_options(1440, 2, True, False)
    cookie = bench.cookie(99, opts)
    for bad in (cookie ^ 0x01, cookie ^ 0x40, cookie ^ 0x100, cookie ^ 0x80000000):
        assert check_cookie([(KEY, EPOCH), (PREV_KEY, PREV_EPOCH)], client_flow(), 99, bad) is None
        bench.process(CLIENT_PORT, _ack_for(bench, 99, bad))
    assert bench.digests("cookie_ack_digest_t") == []
    assert bench.event("ACK_INVALID") == (4, 4)


def test_random_acks_dropped(bench: Bench) -> None:
    for i in range(20):
        bench.process(CLIENT_PORT, bench.client_tcp("A", 1000 + i, 0x9E3779B9 * i & 0xFFFFFFFF))
    assert bench.digests("cookie_ack_digest_t") == []
    assert bench.event("ACK_INVALID") == (20, 20)


def test_ack_with_payload_is_punted_with_digest(bench: Bench) -> None:
    opts = encode_options(None, None, False, False)
    cookie = bench.cookie(10, opts)
    out = bench.process(CLIENT_PORT, _ack_for(bench, 10, cookie, payload=b"GET / HTTP/1.0\r\n\r\n"))
    ((port, data),) = out
    assert port == CPU_PORT
    meta, frame = split_packet_in(data)
    assert meta == {"ingress_port": CLIENT_PORT, "reason": 2, "slot": 0}
    assert bytes(Ether(frame)[TCP].payload) == b"GET / HTTP/1.0\r\n\r\n"
    (d,) = bench.digests("cookie_ack_digest_t")
    assert d[10] == 1  # has_payload


def _defer_service(bench: Bench) -> None:
    bench.h.add_entry(
        "services",
        [ip2int(VIP), (VPORT, 0xFFFF), (6, 0xFF)],
        "set_service",
        [SERVICE_ID, 1, SVC_TS | SVC_WSCALE | SVC_DEFER, 1460, 7, 64240, 64],
        priority=20,
    )


def test_defer_drops_pure_ack_without_digest(bench: Bench) -> None:
    _defer_service(bench)
    opts = encode_options(None, None, False, False)
    cookie = bench.cookie(10, opts)
    assert bench.process(CLIENT_PORT, _ack_for(bench, 10, cookie)) == []
    assert bench.digests("cookie_ack_digest_t") == []
    assert bench.event("DROP_DEFER") == (1, 1)
    out = bench.process(CLIENT_PORT, _ack_for(bench, 10, cookie, payload=b"x"))
    assert [p for p, _ in out] == [CPU_PORT]
    assert len(bench.digests("cookie_ack_digest_t")) == 1


def test_floods_without_session_are_dropped(bench: Bench) -> None:
    for flags in ("R", "F", "FA", "RA", "SF", "SA", ""):
        assert bench.process(CLIENT_PORT, bench.client_tcp(flags, 1, 2)) == []
    assert bench.event("DROP_NO_SESSION") == (7, 7)
    # Data (PSH|ACK) is an ACK: it gets the cookie check, and fails it.
    assert bench.process(CLIENT_PORT, bench.client_tcp("PA", 1, 2, payload=b"x")) == []
    assert bench.event("ACK_INVALID") == (1, 1)
    assert bench.event("SYNACK_SENT") == (0, 0)


def test_no_key_no_cookie(bare: Bench) -> None:
    bare.add_service()
    assert bare.process(CLIENT_PORT, bare.client_tcp("S", 1)) == []
    assert bare.event("DROP_NO_KEY") == (1, 1)


def test_unprotected_service_passes_syn(bench: Bench) -> None:
    bench.h.add_entry(
        "services",
        [ip2int(VIP), (VPORT, 0xFFFF), (6, 0xFF)],
        "set_service",
        [SERVICE_ID, 0, 0, 1460, 7, 0, 64],
        priority=20,
    )
    # VIP is routed nowhere in this bench: the SYN is counted, then dropped by the
    # route miss; what matters is that no SYN/ACK comes back.
    assert all(
        port != CLIENT_PORT for port, _ in bench.process(CLIENT_PORT, bench.client_tcp("S", 1))
    )
    assert bench.event("SYN_PASSED") == (1, 1)
    assert bench.event("SYN_IN") == (1, 1)


def test_auto_mode_follows_the_defense_table(bench: Bench) -> None:
    bench.h.add_entry(
        "services",
        [ip2int(VIP), (VPORT, 0xFFFF), (6, 0xFF)],
        "set_service",
        [SERVICE_ID, 2, SVC_TS, 1460, 7, 0, 64],
        priority=20,
    )
    assert bench.process(CLIENT_PORT, bench.client_tcp("S", 1)) == []
    bench.defend()
    out = bench.process(CLIENT_PORT, bench.client_tcp("S", 1))
    assert [p for p, _ in out] == [CLIENT_PORT]


def test_p4_cookie_matches_reference_on_random_flows(bench: Bench) -> None:
    rng = random.Random(2024)
    for _ in range(40):
        sport = rng.randrange(1, 65536)
        isn = rng.getrandbits(32)
        mss = rng.choice([None, 500, 536, 1300, 1399, 1440, 1460, 8960])
        ws = rng.choice([None, 0, 3, 14, 15])
        sack, ts = rng.random() < 0.5, rng.random() < 0.5
        options: list[tuple[str, Any]] = []
        if mss is not None:
            options.append(("MSS", mss))
        if sack:
            options.append(("SAckOK", b""))
        if ts:
            options.append(("Timestamp", (rng.getrandbits(32), 0)))
        if ws is not None:
            options += [("NOP", None), ("WScale", ws)]
        pkt = synack_of(bench, isn=isn, sport=sport, options=options)
        expected = bench.cookie(isn, encode_options(mss, ws, sack, ts), sport=sport)
        assert pkt[TCP].seq == expected


def test_flows_from_before_the_defence_keep_passing(bench: Bench) -> None:
    """C8: turning an AUTO service's defence on does not cut its open connections."""
    bench.h.add_entry(
        "ipv4_routes", [(ip2int(VIP), 32)], "route_to", [2, 0xAA, 0xBB]
    )  # the VIP lives behind port 2 when undefended
    bench.h.add_entry(
        "services",
        [ip2int(VIP), (VPORT, 0xFFFF), (6, 0xFF)],
        "set_service",
        [SERVICE_ID, PROXY_AUTO, SVC_TS, 1460, 7, 0, 64],
        priority=20,
    )
    old = bench.client_tcp("PA", 500, 600, sport=41000, payload=b"old")
    assert [p for p, _ in bench.process(CLIENT_PORT, old)] == [2]
    bench.defend()
    # The old flow still passes; an unknown flow's ACK is a bad cookie; SYNs get cookies.
    assert [p for p, _ in bench.process(CLIENT_PORT, old)] == [2]
    assert bench.event("PASSTHROUGH") == (1, 1)
    assert (
        bench.process(CLIENT_PORT, bench.client_tcp("PA", 500, 600, sport=41001, payload=b"x"))
        == []
    )
    assert bench.event("ACK_INVALID") == (1, 1)
    out = bench.process(CLIENT_PORT, bench.client_tcp("S", 9, sport=41000))
    assert [p for p, _ in out] == [CLIENT_PORT]
