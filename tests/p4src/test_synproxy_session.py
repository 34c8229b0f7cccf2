"""synproxy.p4, sessions: the server handshake (D8), translation (D9), resets during
the handshake (D10), teardown tracking (D11), early data and reuse (C4, C5).

Run: .venv/bin/python -m pytest -q tests/p4src/test_synproxy_session.py
"""

from __future__ import annotations

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from controller import p4consts
from controller.cookie import encode_options
from tests.p4src.p4bench import (
    CLIENT_IP,
    CLIENT_MAC,
    CLIENT_PORT,
    CPU_PORT,
    ROUTER_MAC,
    RS_IP,
    RS_PORT,
    S_CLOSE,
    S_CLOSE_WAIT,
    S_ESTABLISHED,
    S_FIN_WAIT,
    S_LAST_ACK,
    S_SYN_SENT,
    S_TIME_WAIT,
    SERVER_MAC,
    SERVER_PORT,
    SERVICE_ID,
    VIP,
    VPORT,
    Bench,
    csum_ok,
    ip2int,
    packet_out,
    server_synack_options,
    split_packet_in,
)

SLOT = 17
ISN = 0xFFFFFF00  # the client's ISN; seq numbers wrap during the tests
OPTS = encode_options(1460, 7, True, True)
OUR_TSVAL = 0x7FFFFFF0  # TSval of our SYN/ACK (ts_base)
RS_ISN = 0x00000123  # rs_isn < cookie: delta wraps


def _by_port(out: list[tuple[int, bytes]]) -> dict[int, Ether]:
    ports = [p for p, _ in out]
    assert len(set(ports)) == len(ports), ports
    for _, data in out:
        assert csum_ok(data)
    return {p: Ether(d) for p, d in out}


def _established(bench: Bench) -> tuple[int, int, int]:
    """Run the whole handshake; return (cookie, delta, tsoff)."""
    cookie = bench.cookie(ISN, OPTS)
    bench.install_session(SLOT, cookie=cookie, ts_base=OUR_TSVAL, client_window=502, win_shift=7)
    # The controller's server SYN, through the pipeline.
    syn = bench.client_tcp(
        "S", ISN, options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1000, 0)), ("WScale", 7)]
    )
    out = _by_port(bench.process(CPU_PORT, packet_out(bytes(syn), pipeline=True)))
    assert list(out) == [SERVER_PORT]
    srv_syn = out[SERVER_PORT]
    assert (srv_syn[IP].dst, srv_syn[TCP].dport) == (RS_IP, RS_PORT)
    assert srv_syn[TCP].seq == ISN and srv_syn[TCP].flags == "S"
    assert dict(srv_syn[TCP].options)["Timestamp"] == (1000, 0)
    # The server answers.
    synack = bench.server_tcp(
        "SA",
        RS_ISN,
        ISN + 1,
        window=65160,
        options=server_synack_options(555, 1000),
    )
    out = _by_port(bench.process(SERVER_PORT, synack))
    assert sorted(out) == [CLIENT_PORT, SERVER_PORT]
    delta = (RS_ISN - cookie) & 0xFFFFFFFF
    tsoff = (OUR_TSVAL - 555) & 0xFFFFFFFF
    return cookie, delta, tsoff


def test_server_synack_makes_ack_and_window_update(bench: Bench) -> None:
    cookie = bench.cookie(ISN, OPTS)
    bench.install_session(SLOT, cookie=cookie, ts_base=OUR_TSVAL, client_window=502, win_shift=7)
    synack = bench.server_tcp(
        "SA",
        RS_ISN,
        ISN + 1,
        window=65160,
        options=[("MSS", 1460), ("NOP", None), ("NOP", None), ("Timestamp", (555, 1000))],
    )
    out = _by_port(bench.process(SERVER_PORT, synack))
    to_server, to_client = out[SERVER_PORT], out[CLIENT_PORT]

    # ACK completing the server handshake, as the client would send it.
    assert (to_server.src, to_server.dst) == (ROUTER_MAC, SERVER_MAC)
    assert (to_server[IP].src, to_server[IP].dst) == (CLIENT_IP, RS_IP)
    assert (to_server[TCP].sport, to_server[TCP].dport) == (40000, RS_PORT)
    assert to_server[TCP].flags == "A"
    assert to_server[TCP].seq == (ISN + 1) & 0xFFFFFFFF
    assert to_server[TCP].ack == RS_ISN + 1
    assert to_server[TCP].window == 502
    assert dict(to_server[TCP].options)["Timestamp"] == (1000, 555)
    assert len(to_server) == 14 + 20 + 32

    # Window update to the client, in the client's sequence space.
    assert (to_client.src, to_client.dst) == (ROUTER_MAC, CLIENT_MAC)
    assert (to_client[IP].src, to_client[IP].dst) == (VIP, CLIENT_IP)
    assert (to_client[TCP].sport, to_client[TCP].dport) == (VPORT, 40000)
    assert to_client[TCP].flags == "A"
    assert to_client[TCP].seq == (cookie + 1) & 0xFFFFFFFF
    assert to_client[TCP].ack == (ISN + 1) & 0xFFFFFFFF
    assert to_client[TCP].window == 65160 >> 7
    assert dict(to_client[TCP].options)["Timestamp"] == (OUR_TSVAL, 1000)
    assert to_client[IP].ttl == 63  # routed

    delta = (RS_ISN - cookie) & 0xFFFFFFFF
    assert bench.register("session_state", SLOT) == S_ESTABLISHED
    assert bench.register("session_delta", SLOT) == delta
    assert bench.register("session_tsoff", SLOT) == (OUR_TSVAL - 555) & 0xFFFFFFFF
    (event,) = bench.digests("session_event_digest_t")
    assert event == (
        SLOT, 1, delta, (OUR_TSVAL - 555) & 0xFFFFFFFF, ip2int(CLIENT_IP), 40000, S_ESTABLISHED, 1
    )
    assert bench.event("SESSION_ESTABLISHED") == (1, 1)


def test_retransmitted_synack_only_reacks_server(bench: Bench) -> None:
    _established(bench)
    synack = bench.server_tcp("SA", RS_ISN, ISN + 1, options=[("Timestamp", (600, 1000))])
    out = _by_port(bench.process(SERVER_PORT, synack))
    assert list(out) == [SERVER_PORT]
    assert out[SERVER_PORT][TCP].ack == RS_ISN + 1
    assert bench.event("SERVER_SYNACK_RETX") == (1, 1)
    assert len(bench.digests("session_event_digest_t")) == 1


def test_client_to_server_translation(bench: Bench) -> None:
    cookie, delta, tsoff = _established(bench)
    client_ack = (cookie + 1 + 100) & 0xFFFFFFFF  # 100 bytes of server data acked
    sack = (
        (cookie + 300) & 0xFFFFFFFF,
        (cookie + 400) & 0xFFFFFFFF,
        (cookie + 500) & 0xFFFFFFFF,
        (cookie + 600) & 0xFFFFFFFF,
    )
    pkt = bench.client_tcp(
        "PA",
        (ISN + 1) & 0xFFFFFFFF,
        client_ack,
        options=[
            ("NOP", None),
            ("NOP", None),
            ("Timestamp", (1100, OUR_TSVAL + 5)),
            ("NOP", None),
            ("NOP", None),
            ("SAck", sack),
        ],
        payload=b"hello server",
    )
    out = _by_port(bench.process(CLIENT_PORT, pkt))
    got = out[SERVER_PORT]
    assert (got[IP].src, got[IP].dst) == (CLIENT_IP, RS_IP)
    assert got[TCP].dport == RS_PORT
    assert got[TCP].seq == (ISN + 1) & 0xFFFFFFFF
    assert got[TCP].ack == (client_ack + delta) & 0xFFFFFFFF
    assert got[TCP].ack == (RS_ISN + 1 + 100) & 0xFFFFFFFF
    opts = dict((k, v) for k, v in got[TCP].options if k != "NOP")
    assert opts["Timestamp"] == (1100, (OUR_TSVAL + 5 - tsoff) & 0xFFFFFFFF) == (1100, 560)
    assert opts["SAck"] == tuple((e + delta) & 0xFFFFFFFF for e in sack)
    assert [k for k, _ in got[TCP].options] == ["NOP", "NOP", "Timestamp", "NOP", "NOP", "SAck"]
    assert bytes(got[TCP].payload) == b"hello server"
    assert bench.event("TRANSLATED_C2S")[1] >= 1


def test_server_to_client_translation(bench: Bench) -> None:
    cookie, delta, tsoff = _established(bench)
    pkt = bench.server_tcp(
        "PA",
        RS_ISN + 1,
        (ISN + 1 + 12) & 0xFFFFFFFF,
        options=[
            ("NOP", None),
            ("NOP", None),
            ("Timestamp", (560, 1100)),
            ("NOP", None),
            ("NOP", None),
            ("SAck", (ISN + 1, ISN + 5)),
        ],
        payload=b"hello client",
    )
    out = _by_port(bench.process(SERVER_PORT, pkt))
    got = out[CLIENT_PORT]
    assert (got[IP].src, got[IP].dst) == (VIP, CLIENT_IP)
    assert got[TCP].sport == VPORT
    assert got[TCP].seq == (cookie + 1) & 0xFFFFFFFF
    assert got[TCP].ack == (ISN + 1 + 12) & 0xFFFFFFFF
    opts = dict((k, v) for k, v in got[TCP].options if k != "NOP")
    assert opts["Timestamp"] == ((560 + tsoff) & 0xFFFFFFFF, 1100) == (OUR_TSVAL + 5, 1100)
    # The server's SACK blocks are in the client's sequence space already.
    assert opts["SAck"] == (ISN + 1, ISN + 5)
    assert bytes(got[TCP].payload) == b"hello client"
    assert bench.event("TRANSLATED_S2C")[1] >= 1


def test_translation_keeps_bad_checksum_bad(bench: Bench) -> None:
    cookie, _, _ = _established(bench)
    pkt = Ether(bytes(bench.client_tcp("A", ISN + 1, cookie + 1, payload=b"data")))
    pkt[TCP].chksum ^= 0x1234
    ((port, data),) = bench.process(CLIENT_PORT, bytes(pkt))
    assert port == SERVER_PORT
    assert not csum_ok(data)


def test_server_rst_during_handshake_resets_client(bench: Bench) -> None:
    cookie = bench.cookie(ISN, OPTS)
    bench.install_session(SLOT, cookie=cookie)
    rst = bench.server_tcp("RA", 0, ISN + 1, payload=b"diagnostic")
    out = _by_port(bench.process(SERVER_PORT, rst))
    got = out[CLIENT_PORT]
    assert got[TCP].flags == "R"
    assert got[TCP].seq == (cookie + 1) & 0xFFFFFFFF
    assert (got[IP].src, got[TCP].sport) == (VIP, VPORT)
    assert len(got) == 14 + 20 + 20  # payload cut
    assert bench.register("session_state", SLOT) == S_CLOSE
    (event,) = bench.digests("session_event_digest_t")
    assert event[:2] == (SLOT, 2)
    assert event[-2:] == (S_CLOSE, 1)


def test_client_fin_during_handshake_resets_server(bench: Bench) -> None:
    cookie = bench.cookie(ISN, OPTS)
    bench.install_session(SLOT, cookie=cookie)
    fin = bench.client_tcp("FA", (ISN + 1) & 0xFFFFFFFF, cookie + 1)
    out = _by_port(bench.process(CLIENT_PORT, fin))
    got = out[SERVER_PORT]
    assert got[TCP].flags == "R"
    assert (got[IP].dst, got[TCP].dport) == (RS_IP, RS_PORT)
    assert got[TCP].seq == (ISN + 1) & 0xFFFFFFFF
    assert bench.register("session_state", SLOT) == S_CLOSE
    (event,) = bench.digests("session_event_digest_t")
    assert event == (SLOT, 3, 0, 0, ip2int(CLIENT_IP), 40000, S_CLOSE, 1)


def test_early_data_is_punted_with_slot(bench: Bench) -> None:
    cookie = bench.cookie(ISN, OPTS)
    bench.install_session(SLOT, cookie=cookie)
    data = bench.client_tcp("PA", (ISN + 1) & 0xFFFFFFFF, cookie + 1, payload=b"early")
    ((port, raw),) = bench.process(CLIENT_PORT, data)
    assert port == CPU_PORT
    meta, frame = split_packet_in(raw)
    assert meta == {"ingress_port": CLIENT_PORT, "reason": p4consts.PUNT_EARLY_DATA,
                    "slot": SLOT}
    assert frame == bytes(data)
    # A pure ACK while waiting is dropped.
    assert (
        bench.process(CLIENT_PORT, bench.client_tcp("A", (ISN + 1) & 0xFFFFFFFF, cookie + 1)) == []
    )
    assert bench.register("session_state", SLOT) == S_SYN_SENT


def test_held_data_is_translated_when_reinjected(bench: Bench) -> None:
    cookie, delta, _ = _established(bench)
    data = bench.client_tcp("PA", (ISN + 1) & 0xFFFFFFFF, cookie + 1, payload=b"early")
    out = _by_port(bench.process(CPU_PORT, packet_out(bytes(data), pipeline=True)))
    got = out[SERVER_PORT]
    assert got[TCP].ack == (cookie + 1 + delta) & 0xFFFFFFFF == RS_ISN + 1
    assert bytes(got[TCP].payload) == b"early"


def test_direct_packet_out(bench: Bench) -> None:
    frame = bytes(bench.client_tcp("S", 1))
    out = bench.process(CPU_PORT, packet_out(frame, pipeline=False, port=SERVER_PORT))
    assert out == [(SERVER_PORT, frame)]


def test_teardown_states(bench: Bench) -> None:
    cookie, _, _ = _established(bench)
    seq_c = (ISN + 1) & 0xFFFFFFFF
    bench.process(CLIENT_PORT, bench.client_tcp("FA", seq_c, cookie + 1))
    assert bench.register("session_state", SLOT) == S_FIN_WAIT
    bench.process(SERVER_PORT, bench.server_tcp("FA", RS_ISN + 1, seq_c + 1))
    assert bench.register("session_state", SLOT) == S_LAST_ACK
    bench.process(CLIENT_PORT, bench.client_tcp("A", seq_c + 1, cookie + 2))
    assert bench.register("session_state", SLOT) == S_TIME_WAIT


def test_server_closes_first(bench: Bench) -> None:
    cookie, _, _ = _established(bench)
    bench.process(SERVER_PORT, bench.server_tcp("FA", RS_ISN + 1, ISN + 1))
    assert bench.register("session_state", SLOT) == S_CLOSE_WAIT
    bench.process(CLIENT_PORT, bench.client_tcp("RA", ISN + 1, cookie + 2))
    assert bench.register("session_state", SLOT) == S_CLOSE


def test_closing_session_syn_gets_cookie_and_ack_reports_reuse(bench: Bench) -> None:
    cookie = bench.cookie(ISN, OPTS)
    bench.install_session(SLOT, cookie=cookie, state=S_TIME_WAIT)
    out = _by_port(bench.process(CLIENT_PORT, bench.client_tcp("S", 424242)))
    new_cookie = out[CLIENT_PORT][TCP].seq
    assert new_cookie == bench.cookie(424242, encode_options(None, None, False, False))
    assert bench.process(CLIENT_PORT, bench.client_tcp("A", 424243, new_cookie + 1)) == []
    (d,) = bench.digests("cookie_ack_digest_t")
    assert d[4] == 424242
    assert d[-2:] == (SLOT, S_TIME_WAIT)
    assert bench.event("REUSE_ACK") == (1, 1)
    # An ordinary ACK of the old connection is still forwarded.
    out = _by_port(bench.process(CLIENT_PORT, bench.client_tcp("A", ISN + 1, cookie + 2)))
    assert list(out) == [SERVER_PORT]


def test_client_syn_on_live_session_dropped(bench: Bench) -> None:
    _established(bench)
    assert bench.process(CLIENT_PORT, bench.client_tcp("S", ISN)) == []
    assert bench.event("DROP_HANDSHAKE")[1] >= 1


def test_session_counts_per_service(bench: Bench) -> None:
    _established(bench)
    glob, per = bench.event("TRANSLATED_C2S", SERVICE_ID)
    assert (glob, per) == (1, 1)  # the server SYN


def test_transparent_mode_rewrites_no_address(bench: Bench) -> None:
    """D7: in transparent (routed) mode the session points at the VIP itself."""
    cookie = bench.cookie(ISN, OPTS)
    bench.h.add_entry("ipv4_routes", [(ip2int(VIP), 32)], "route_to", [SERVER_PORT, 0xAA, 0xBB])
    bench.h.add_entry(
        "sessions",
        [ip2int(CLIENT_IP), ip2int(VIP), 40000, VPORT],
        "set_client_session",
        [SLOT, SERVICE_ID, ip2int(VIP), VPORT, 5],
    )
    bench.h.add_entry(
        "sessions",
        [ip2int(VIP), ip2int(CLIENT_IP), VPORT, 40000],
        "set_server_session",
        [SLOT, SERVICE_ID, ip2int(VIP), VPORT, cookie, 0, 502, 0, 5],
    )
    bench.preset_slot(SLOT, 5, S_ESTABLISHED, delta=1000)
    pkt = bench.client_tcp("PA", ISN + 1, cookie + 1, payload=b"q")
    out = _by_port(bench.process(CLIENT_PORT, pkt))
    got = out[SERVER_PORT]
    assert (got[IP].dst, got[TCP].dport) == (VIP, VPORT)
    assert got[TCP].ack == (cookie + 1 + 1000) & 0xFFFFFFFF
    reply = (
        Ether(src=SERVER_MAC, dst=ROUTER_MAC)
        / IP(src=VIP, dst=CLIENT_IP)
        / TCP(sport=VPORT, dport=40000, flags="A", seq=5000, ack=ISN + 2)
    )
    out = _by_port(bench.process(SERVER_PORT, reply))
    assert out[CLIENT_PORT][TCP].seq == 4000
    assert out[CLIENT_PORT][IP].src == VIP


def test_translation_with_ip_options(bench: Bench) -> None:
    cookie, delta, _ = _established(bench)
    pkt = (
        Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
        / IP(src=CLIENT_IP, dst=VIP, options=b"\x94\x04\x00\x00")
        / TCP(
            sport=40000,
            dport=VPORT,
            flags="A",
            seq=(ISN + 1) & 0xFFFFFFFF,
            ack=(cookie + 1) & 0xFFFFFFFF,
        )
        / b"with ip options"
    )
    out = _by_port(bench.process(CLIENT_PORT, pkt))  # checks both checksums
    got = out[SERVER_PORT]
    assert got[IP].ihl == 6 and got[IP].dst == RS_IP
    assert got[TCP].ack == RS_ISN + 1


def test_controller_reset_outside_session_is_routed(bench: Bench) -> None:
    """C3: the controller gives up on a server and resets the client itself."""
    cookie = bench.cookie(ISN, OPTS)
    rst = (
        Ether(src=SERVER_MAC, dst=ROUTER_MAC)
        / IP(src=VIP, dst=CLIENT_IP)
        / TCP(sport=VPORT, dport=40000, flags="R", seq=(cookie + 1) & 0xFFFFFFFF)
    )
    out = _by_port(bench.process(CPU_PORT, packet_out(bytes(rst), pipeline=True)))
    got = out[CLIENT_PORT]
    assert got[TCP].flags == "R" and got[TCP].seq == (cookie + 1) & 0xFFFFFFFF
    assert got.dst == CLIENT_MAC


def _established_with_server_wscale(bench: Bench, server_wscale: int, win_shift: int) -> int:
    cookie = bench.cookie(ISN, OPTS)
    bench.install_session(SLOT, cookie=cookie, ts_base=OUR_TSVAL, win_shift=win_shift)
    synack = bench.server_tcp(
        "SA", RS_ISN, ISN + 1, options=[("MSS", 1460), ("NOP", None), ("WScale", server_wscale)]
    )
    bench.process(SERVER_PORT, synack)
    assert bench.register("session_server_wscale", SLOT) == server_wscale
    return cookie


def test_server_window_rescaled_to_offered_scale(bench: Bench) -> None:
    _established_with_server_wscale(bench, 9, 7)
    pkt = bench.server_tcp("A", RS_ISN + 1, ISN + 1, window=1000)
    got = _by_port(bench.process(SERVER_PORT, pkt))[CLIENT_PORT]
    assert got[TCP].window == 4000  # 1000 * 2^9 / 2^7


def test_server_window_rescale_saturates(bench: Bench) -> None:
    _established_with_server_wscale(bench, 14, 0)
    pkt = bench.server_tcp("A", RS_ISN + 1, ISN + 1, window=5)  # 5 * 2^14 > 65535
    got = _by_port(bench.process(SERVER_PORT, pkt))[CLIENT_PORT]
    assert got[TCP].window == 0xFFFF


def test_server_window_untouched_when_scales_match(bench: Bench) -> None:
    _established_with_server_wscale(bench, 7, 7)
    pkt = bench.server_tcp("A", RS_ISN + 1, ISN + 1, window=1234)
    got = _by_port(bench.process(SERVER_PORT, pkt))[CLIENT_PORT]
    assert got[TCP].window == 1234
