"""synproxy.p4 end to end at packet level, with a controller that follows
p4src/README.md "Installing a session" using only what the digests report.

Run: .venv/bin/python -m pytest -q tests/p4src/test_synproxy_flow.py
"""

from __future__ import annotations

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from controller import p4consts
from tests.p4src.p4bench import (
    CLIENT_IP,
    CLIENT_PORT,
    CPU_PORT,
    RS_IP,
    RS_PORT,
    SERVER_PORT,
    SERVICE_ID,
    VIP,
    VPORT,
    Bench,
    csum_ok,
    ip2int,
    packet_out,
    server_synack_options,
)

DIGEST_FIELDS = (
    "client_addr vip_addr client_port vip_port client_isn cookie mss wscale sack_ok ts_ok "
    "has_payload _pad0 client_window client_tsval client_tsecr ingress_port service_id "
    "old_slot old_state"
).split()
SERVICE_WSCALE = 7


def _one(out: list[tuple[int, bytes]], port: int) -> Ether:
    assert [p for p, _ in out] == [port], out
    assert csum_ok(out[0][1])
    return Ether(out[0][1])


GEN = 77


def _controller_installs(bench: Bench, d: dict[str, int], slot: int) -> bytes:
    """Install the session from a cookie_ack digest (entries only, with a new gen:
    no register is written) and return the server SYN."""
    bench.h.add_entry(
        "sessions",
        [d["client_addr"], d["vip_addr"], d["client_port"], d["vip_port"]],
        "set_client_session",
        [slot, d["service_id"], ip2int(RS_IP), RS_PORT, GEN],
    )
    win_shift = SERVICE_WSCALE if d["wscale"] != p4consts.COOKIE_WSCALE_NONE else 0
    bench.h.add_entry(
        "sessions",
        [ip2int(RS_IP), d["client_addr"], RS_PORT, d["client_port"]],
        "set_server_session",
        [
            slot,
            d["service_id"],
            d["vip_addr"],
            d["vip_port"],
            d["cookie"],
            d["client_tsecr"] if d["ts_ok"] else 0,
            d["client_window"],
            win_shift,
            GEN,
        ],
    )
    options: list = [("MSS", d["mss"])]
    if d["sack_ok"]:
        options.append(("SAckOK", b""))
    if d["ts_ok"]:
        options.append(("Timestamp", (d["client_tsval"], 0)))
    if d["wscale"] != p4consts.COOKIE_WSCALE_NONE:
        options += [("NOP", None), ("WScale", d["wscale"])]
    syn = bench.client_tcp("S", d["client_isn"], sport=d["client_port"], options=options)
    return packet_out(bytes(syn), pipeline=True)


def test_full_connection(bench: Bench) -> None:
    # Client SYN with Linux's options.
    syn = bench.client_tcp(
        "S",
        0xFFFFFFF0,
        options=[
            ("MSS", 1460),
            ("SAckOK", b""),
            ("Timestamp", (7000, 0)),
            ("NOP", None),
            ("WScale", 9),
        ],
    )
    synack = _one(bench.process(CLIENT_PORT, syn), CLIENT_PORT)
    cookie = synack[TCP].seq
    our_tsval = dict(synack[TCP].options)["Timestamp"][0]

    # Client's third packet: pure ACK.
    ack = bench.client_tcp(
        "A",
        0xFFFFFFF1,
        (cookie + 1) & 0xFFFFFFFF,
        window=1000,
        options=[("NOP", None), ("NOP", None), ("Timestamp", (7001, our_tsval))],
    )
    assert bench.process(CLIENT_PORT, ack) == []
    (values,) = bench.digests("cookie_ack_digest_t")
    d = dict(zip(DIGEST_FIELDS, values, strict=True))
    assert (d["mss"], d["wscale"], d["sack_ok"], d["ts_ok"]) == (1460, 9, 1, 1)

    # Controller: session + server SYN.
    srv_syn = _one(bench.process(CPU_PORT, _controller_installs(bench, d, 3)), SERVER_PORT)
    assert (srv_syn[IP].src, srv_syn[IP].dst, srv_syn[TCP].dport) == (CLIENT_IP, RS_IP, RS_PORT)
    assert srv_syn[TCP].seq == 0xFFFFFFF0
    assert dict(srv_syn[TCP].options)["WScale"] == 9

    # Server SYN/ACK.
    rs_isn = 0x40000000
    srv_synack = bench.server_tcp(
        "SA",
        rs_isn,
        0xFFFFFFF1,
        window=65160,
        options=server_synack_options(100, 7001),
    )
    out = dict(bench.process(SERVER_PORT, srv_synack))
    to_server, to_client = Ether(out[SERVER_PORT]), Ether(out[CLIENT_PORT])
    assert to_server[TCP].flags == "A" and to_server[TCP].ack == rs_isn + 1
    assert to_server[TCP].window == 1000
    assert (
        to_client[TCP].seq == (cookie + 1) & 0xFFFFFFFF
        and to_client[TCP].window == 65160 >> SERVICE_WSCALE
    )
    assert dict(to_client[TCP].options)["Timestamp"] == (our_tsval, 7001)
    (event,) = bench.digests("session_event_digest_t")
    assert event[:2] == (3, 1)  # slot, ESTABLISHED
    assert event[-2:] == (2, GEN)  # state ESTABLISHED, the entries' gen

    # Request and response; sequence numbers as each end expects them.
    req = bench.client_tcp(
        "PA",
        0xFFFFFFF1,
        (cookie + 1) & 0xFFFFFFFF,
        payload=b"GET /",
        options=[("NOP", None), ("NOP", None), ("Timestamp", (7002, our_tsval + 3))],
    )
    got = _one(bench.process(CLIENT_PORT, req), SERVER_PORT)
    assert got[TCP].ack == rs_isn + 1
    assert dict(got[TCP].options)["Timestamp"] == (7002, 103)
    resp = bench.server_tcp(
        "PA",
        rs_isn + 1,
        (0xFFFFFFF1 + 5) & 0xFFFFFFFF,
        payload=b"200 OK",
        options=[("NOP", None), ("NOP", None), ("Timestamp", (104, 7002))],
    )
    got = _one(bench.process(SERVER_PORT, resp), CLIENT_PORT)
    assert (got[IP].src, got[TCP].sport) == (VIP, VPORT)
    assert got[TCP].seq == (cookie + 1) & 0xFFFFFFFF
    assert dict(got[TCP].options)["Timestamp"] == ((our_tsval + 4) & 0xFFFFFFFF, 7002)
    assert bytes(got[TCP].payload) == b"200 OK"

    assert bench.event("SESSION_ESTABLISHED", SERVICE_ID) == (1, 1)
    assert bench.event("TRANSLATED_S2C", SERVICE_ID) == (1, 1)

    # The client closes, the server closes, the last ACK: each change is reported.
    fin = bench.client_tcp("FA", (0xFFFFFFF1 + 5) & 0xFFFFFFFF, (cookie + 7) & 0xFFFFFFFF)
    _one(bench.process(CLIENT_PORT, fin), SERVER_PORT)
    sfin = bench.server_tcp("FA", rs_isn + 7, (0xFFFFFFF1 + 6) & 0xFFFFFFFF)
    _one(bench.process(SERVER_PORT, sfin), CLIENT_PORT)
    last = bench.client_tcp("A", (0xFFFFFFF1 + 6) & 0xFFFFFFFF, (cookie + 8) & 0xFFFFFFFF)
    _one(bench.process(CLIENT_PORT, last), SERVER_PORT)
    events = bench.digests("session_event_digest_t")[1:]
    assert [(e[0], e[1], e[-2], e[-1]) for e in events] == [
        (3, p4consts.SESSION_EV_STATE, p4consts.SESSION_FIN_WAIT, GEN),
        (3, p4consts.SESSION_EV_STATE, p4consts.SESSION_LAST_ACK, GEN),
        (3, p4consts.SESSION_EV_STATE, p4consts.SESSION_TIME_WAIT, GEN),
    ]
