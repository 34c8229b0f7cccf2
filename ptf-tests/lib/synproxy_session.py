"""Per-feature base of the session tests (D7-D11): install a session as the
controller does (p4src/README.md "Installing a session"), send the server SYN
through the pipeline, answer as the real server would, and predict every packet
the switch sends from then on, translation included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from synproxy_base import EVENT_DIGEST, SynproxyTest
from synproxy_packets import (
    CLIENT_MAC,
    CLIENT_PORT,
    CLIENT_SPORT,
    ROUTER_MAC,
    RS_PORT,
    SERVER_PORT,
    SESSION,
    SESSION_EV,
    VPORT,
    client_tcp,
    cookie_for,
    encode_options,
    family,
    fresh,
    ip2int,
    l3,
    mac_bytes,
    routed,
    server_tcp,
    u32,
)

from controller import p4consts
from controller.cookie import decode_options
from controller.synpkt import Handshake, server_syn


def translate_options(options: list[tuple[str, Any]], *, sack_delta: int = 0,
                      tsval_delta: int = 0, tsecr_delta: int = 0) -> list[tuple[str, Any]]:
    """Options with SACK edges and timestamps moved (modulo 2^32), others as they are."""
    out: list[tuple[str, Any]] = []
    for kind, value in options:
        if kind == "SAck":
            value = tuple(u32(e + sack_delta) for e in value)
        elif kind == "Timestamp":
            value = (u32(value[0] + tsval_delta), u32(value[1] + tsecr_delta))
        out.append((kind, value))
    return out


def translated_c2s(pkt: Packet, delta: int, tsoff: int, rs_addr: str | None = None,
                   rs_port: int = RS_PORT) -> Packet:
    """A client segment as the real server must get it (D9): destination NAT,
    ack += delta, every SACK edge += delta, TSecr -= tsoff, routed."""
    out = Ether(bytes(pkt))
    l3(out).dst, out[TCP].dport = rs_addr or family().rs_ip, rs_port
    out[TCP].ack = u32(out[TCP].ack + delta)
    out[TCP].options = translate_options(out[TCP].options, sack_delta=delta,
                                         tsecr_delta=-tsoff)
    return routed(out, SERVER_PORT)


def translated_s2c(pkt: Packet, delta: int, tsoff: int, window: int | None = None) -> Packet:
    """A server segment as the client must get it (D9): source NAT back to the
    VIP, seq -= delta, TSval += tsoff, SACK untouched (already in the client's
    space), routed; `window` when the switch rescales it."""
    out = Ether(bytes(pkt))
    l3(out).src, out[TCP].sport = family().vip, VPORT
    out[TCP].seq = u32(out[TCP].seq - delta)
    if window is not None:
        out[TCP].window = window
    out[TCP].options = translate_options(out[TCP].options, tsval_delta=tsoff)
    return routed(out, CLIENT_PORT)


@dataclass
class Conn:
    """One proxied connection as the tests drive it."""

    slot: int
    isn: int  # client ISN
    cookie: int  # our SYN/ACK seq
    rs_isn: int  # the real server's ISN
    ts_base: int  # TSval of our SYN/ACK (the digest's client_tsecr)
    client_tsval: int = 1000
    server_tsval: int = 555
    sport: int = CLIENT_SPORT
    client_window: int = 502
    win_shift: int = 7
    rs_addr: str = ""  # "": the family's real server
    rs_port: int = RS_PORT
    gen: int = 0  # the entries' gen, set when installed

    def __post_init__(self) -> None:
        self.rs_addr = self.rs_addr or family().rs_ip

    @property
    def delta(self) -> int:
        """rs_isn - cookie: client space + delta = server space."""
        return u32(self.rs_isn - self.cookie)

    @property
    def tsoff(self) -> int:
        """ts_base - server TSval: server clock + tsoff = the clock the client saw."""
        return u32(self.ts_base - self.server_tsval)

    def client(self, flags: str, data_sent: int = 0, data_acked: int = 0,
               **kwargs: Any) -> Packet:
        """A client segment: seq after `data_sent` bytes, ack of `data_acked` bytes."""
        return client_tcp(flags, u32(self.isn + 1 + data_sent),
                          u32(self.cookie + 1 + data_acked), sport=self.sport, **kwargs)

    def server(self, flags: str, data_sent: int = 0, data_acked: int = 0,
               **kwargs: Any) -> Packet:
        """A real-server segment, in the server's sequence space."""
        return server_tcp(flags, u32(self.rs_isn + 1 + data_sent),
                          u32(self.isn + 1 + data_acked), dport=self.sport,
                          src=self.rs_addr, sport=self.rs_port, **kwargs)


OPTS_ALL = encode_options(1460, 7, True, True)  # index 3 in either family's table


class SessionTest(SynproxyTest):
    """SynproxyTest plus the server side of the handshake."""

    def new_conn(self, slot: int, isn: int, rs_isn: int, ts_base: int,
                 opts: int = OPTS_ALL, **kwargs: Any) -> Conn:
        """A connection whose cookie the switch would have minted for `isn`."""
        sport = kwargs.get("sport", CLIENT_SPORT)
        cookie = cookie_for(client_tcp("S", isn, sport=sport), opts)
        return Conn(slot=slot, isn=isn, cookie=cookie, rs_isn=rs_isn, ts_base=ts_base,
                    **kwargs)

    def _entry_args(self, c: Conn) -> dict[str, Any]:
        return {"cookie": c.cookie, "sport": c.sport, "rs_addr": c.rs_addr,
                "rs_port": c.rs_port, "ts_base": c.ts_base,
                "client_window": c.client_window, "win_shift": c.win_shift}

    def install(self, c: Conn) -> None:
        """Both entries with a new gen (c.gen); the first packet starts the slot."""
        c.gen = self.install_session(c.slot, **self._entry_args(c))

    def restart(self, c: Conn) -> None:
        """C5: the entries modified in place with c's values and a new gen."""
        c.gen = self.restart_session(c.slot, **self._entry_args(c))

    def free(self, c: Conn) -> None:
        self.free_session(c.slot, **{k: v for k, v in self._entry_args(c).items()
                                     if k in ("sport", "rs_addr", "rs_port")})

    # ------------------------------------------------------------------ server SYN

    def server_syn_frame(self, c: Conn, opts: int = OPTS_ALL) -> bytes:
        """The controller's server SYN (controller/synpkt.py) for this connection."""
        o = decode_options(opts, family().mss_table)
        hs = Handshake(client_addr=ip2int(family().client_ip), vip_addr=ip2int(family().vip),
                       client_port=c.sport, vip_port=VPORT, client_isn=c.isn,
                       cookie=c.cookie, mss=o.mss,
                       wscale=p4consts.COOKIE_WSCALE_NONE if o.wscale is None else o.wscale,
                       sack_ok=o.sack_ok, ts_ok=o.ts_ok, client_window=c.client_window,
                       client_tsval=c.client_tsval)
        return server_syn(hs, mac_bytes(ROUTER_MAC))

    def send_server_syn(self, c: Conn, opts: int = OPTS_ALL) -> None:
        """PacketOut (flags 1) the server SYN; it must reach the real server NAT'd
        (VIP:vport -> RS:rport), routed, with both checksums right."""
        frame = self.server_syn_frame(c, opts)
        self.packet_out(frame)
        exp = Ether(frame)
        l3(exp).dst, exp[TCP].dport = c.rs_addr, c.rs_port
        self.expect(SERVER_PORT, routed(exp, SERVER_PORT))

    # ------------------------------------------------------------------ server SYN/ACK

    def server_synack(self, c: Conn, *, window: int = 65160, wscale: int | None = 7,
                      timestamps: bool = True) -> Packet:
        opts: list[tuple[str, Any]] = [("MSS", 1460), ("SAckOK", b"")]
        if timestamps:
            opts.append(("Timestamp", (c.server_tsval, c.client_tsval)))
        if wscale is not None:
            opts += [("NOP", None), ("WScale", wscale)]
        return server_tcp("SA", c.rs_isn, u32(c.isn + 1), dport=c.sport, window=window,
                          options=opts, src=c.rs_addr, sport=c.rs_port)

    def expected_server_ack(self, c: Conn, synack: Packet) -> Packet:
        """D8: the ACK that completes the server handshake, as the client would send
        it, out of the port the SYN/ACK came in on: seq = the SYN/ACK's ack, ack =
        rs_isn + 1, the client's window, timestamps swapped, TTL 64."""
        ts = dict(synack[TCP].options).get("Timestamp")
        opts = [] if ts is None else [("NOP", None), ("NOP", None),
                                      ("Timestamp", (ts[1], ts[0]))]
        ip: Packet
        if IPv6 in synack:
            ip = IPv6(src=synack[IPv6].dst, dst=synack[IPv6].src, hlim=64,
                      tc=synack[IPv6].tc, fl=synack[IPv6].fl)
        else:
            ip = IP(src=synack[IP].dst, dst=synack[IP].src, ttl=64, id=synack[IP].id,
                    flags=synack[IP].flags, tos=synack[IP].tos)
        pkt = (Ether(src=synack[Ether].dst, dst=synack[Ether].src) / ip
               / TCP(sport=synack[TCP].dport, dport=synack[TCP].sport, flags="A",
                     seq=synack[TCP].ack, ack=u32(synack[TCP].seq + 1),
                     window=c.client_window, options=opts))
        return fresh(pkt)

    def expected_window_update(self, c: Conn, synack: Packet) -> Packet:
        """D8: the client's window update: from the VIP, seq = cookie + 1, the
        server's window shifted by the scale the client was offered, TSval moved
        to our clock (= ts_base), routed."""
        ts = dict(synack[TCP].options).get("Timestamp")
        opts = [] if ts is None else [("NOP", None), ("NOP", None),
                                      ("Timestamp", (u32(ts[0] + c.tsoff), ts[1]))]
        ip: Packet
        if IPv6 in synack:
            ip = IPv6(src=family().vip, dst=synack[IPv6].dst, hlim=synack[IPv6].hlim - 1,
                      tc=synack[IPv6].tc, fl=synack[IPv6].fl)
        else:
            ip = IP(src=family().vip, dst=synack[IP].dst, ttl=synack[IP].ttl - 1,
                    id=synack[IP].id, flags=synack[IP].flags, tos=synack[IP].tos)
        pkt = (Ether(src=ROUTER_MAC, dst=CLIENT_MAC) / ip
               / TCP(sport=VPORT, dport=synack[TCP].dport, flags="A",
                     seq=u32(c.cookie + 1), ack=synack[TCP].ack,
                     window=synack[TCP].window >> c.win_shift, options=opts))
        return fresh(pkt)

    def establish(self, c: Conn, *, server_wscale: int | None = 7,
                  timestamps: bool = True, install: bool = True,
                  server_syn: bool = True) -> None:
        """Install (unless the caller did: restart), server SYN (unless the caller
        sent it), server SYN/ACK; check the two packets it makes and the ESTABLISHED
        digest, so that the connection is ready for data."""
        if install:
            self.install(c)
        if server_syn:
            self.send_server_syn(c)
        synack = self.server_synack(c, wscale=server_wscale, timestamps=timestamps)
        if not timestamps:
            c.server_tsval = c.ts_base  # no TS option: the switch records tsoff 0
        self.send(SERVER_PORT, synack)
        self.expect(SERVER_PORT, self.expected_server_ack(c, synack))
        self.expect(CLIENT_PORT, self.expected_window_update(c, synack))
        self.assertEqual(self.get_digest(EVENT_DIGEST), self.session_event(
            c, "ESTABLISHED", state="ESTABLISHED"))

    def session_event(self, c: Conn, event: str, delta: int | None = None,
                      tsoff: int | None = None, *, state: str) -> dict[str, int]:
        """session_event_digest_t as documented: `state` the slot's state after the
        packet, `gen` the entries' (c.gen)."""
        return {"slot": c.slot, "event": SESSION_EV[event],
                "delta": c.delta if delta is None else delta,
                "tsoff": c.tsoff if tsoff is None else tsoff,
                "client_addr": ip2int(family().client_ip), "client_port": c.sport,
                "state": SESSION[state], "gen": c.gen}
