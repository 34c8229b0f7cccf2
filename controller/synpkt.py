"""The frames the controller sends through the switch, built as raw bytes.

* The **server SYN** (C2): the client's SYN as the client would have sent it to the
  VIP (client -> VIP:vport, seq = client ISN, the options the SYN/ACK negotiated), sent
  as a PacketOut that runs the pipeline; the switch applies the session's NAT and
  routes it (p4src/README.md, "Packet-in / packet-out").
  A FULLNAT service's (D7) carries the TOA option (`toa_option`) after the others.
* The **client RST** (C3): the server never answered, so the client, which believes
  the connection is open, is told to give up: VIP:vport -> client, seq = cookie + 1
  (the sequence number the client expects from us), ack = client ISN + 1.

Both carry correct IPv4 and TCP checksums (IPv6: the TCP checksum over the IPv6
pseudo-header, RFC 8200 8.1): the switch patches the TCP checksum incrementally,
which is only right if it was right before. Frames are built with struct rather
than scapy: this is the per-session hot path.

Addresses are ints; an address above 2^32 is IPv6 (D13). The config refuses IPv6
hosts in ::/96 and ::ffff:0:0/96, so an IPv6 VIP or real server is never read as
IPv4.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from . import p4consts

ETH_IPV4 = p4consts.ETHERTYPE_IPV4
ETH_IPV6 = p4consts.ETHERTYPE_IPV6
PROTO_TCP = p4consts.IP_PROTO_TCP
TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = (
    p4consts.TCP_FIN, p4consts.TCP_SYN, p4consts.TCP_RST, p4consts.TCP_PSH, p4consts.TCP_ACK)
_IP_DF = 0x4000


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def is_ipv6(addr: int) -> bool:
    """An address held as an int is IPv6 when it does not fit in 32 bits."""
    return addr >> 32 != 0


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def syn_options(mss: int, wscale: int, sack_ok: bool, ts_ok: bool, tsval: int) -> bytes:
    """TCP options of the server SYN, in Linux's order and 4-byte aligned:
    MSS, SACK-permitted, timestamps (TSval = the client's, TSecr 0), window scale."""
    out = struct.pack("!BBH", 2, 4, mss & 0xFFFF)
    if sack_ok and ts_ok:
        out += struct.pack("!BBBBII", 4, 2, 8, 10, tsval & 0xFFFFFFFF, 0)
    elif ts_ok:
        out += struct.pack("!BBBBII", 1, 1, 8, 10, tsval & 0xFFFFFFFF, 0)
    elif sack_ok:
        out += bytes((1, 1, 4, 2))
    if wscale != p4consts.COOKIE_WSCALE_NONE:
        out += bytes((1, 3, 3, wscale))
    return out


TOA_KIND = 254  # D7, FULLNAT: LVS's "TCP option address" (TOA)
TOA_LEN = 8


def toa_option(client_addr: int, client_port: int) -> bytes:
    """D7, FULLNAT: the client's address for the real server, in LVS's TOA layout:
    kind 254, length 8, the client's port (2 bytes), its IPv4 address (4 bytes), all
    in network order. Eight bytes, so the options stay 4-byte aligned."""
    if is_ipv6(client_addr):
        raise ValueError("the TOA option carries an IPv4 client address only")
    return struct.pack("!BBHI", TOA_KIND, TOA_LEN, client_port & 0xFFFF, client_addr)


def tcp_frame(
    *,
    src_mac: bytes,
    dst_mac: bytes,
    src: int,
    dst: int,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
    options: bytes = b"",
    payload: bytes = b"",
    ttl: int = 64,
    ip_id: int = 0,
) -> bytes:
    """An Ethernet/IPv4/TCP frame with both checksums computed; Ethernet/IPv6/TCP
    (hop limit `ttl`, no extension header) when the addresses are IPv6."""
    if len(options) % 4 or len(options) > 40:
        raise ValueError("TCP options must be 4-byte aligned and at most 40 bytes")
    v6 = is_ipv6(src)
    if v6 != is_ipv6(dst):
        raise ValueError("source and destination addresses of different families")
    doff = (20 + len(options)) // 4
    tcp_wo = struct.pack(
        "!HHIIBBHHH",
        sport,
        dport,
        seq & 0xFFFFFFFF,
        ack & 0xFFFFFFFF,
        doff << 4,
        flags,
        min(window, 0xFFFF),
        0,
        0,
    ) + options + payload
    if v6:
        s6, d6 = src.to_bytes(16, "big"), dst.to_bytes(16, "big")
        pseudo = s6 + d6 + struct.pack("!IxxxB", len(tcp_wo), PROTO_TCP)
    else:
        pseudo = struct.pack("!IIBBH", src, dst, 0, PROTO_TCP, len(tcp_wo))
    tcp_csum = checksum(pseudo + tcp_wo)
    tcp = tcp_wo[:16] + struct.pack("!H", tcp_csum) + tcp_wo[18:]
    if v6:
        ip6 = struct.pack("!IHBB", 6 << 28, len(tcp), PROTO_TCP, ttl) + s6 + d6
        return dst_mac + src_mac + struct.pack("!H", ETH_IPV6) + ip6 + tcp
    total = 20 + len(tcp)
    ip_wo = struct.pack("!BBHHHBBHII", 0x45, 0, total, ip_id, _IP_DF, ttl, PROTO_TCP, 0, src, dst)
    ip = ip_wo[:10] + struct.pack("!H", checksum(ip_wo)) + ip_wo[12:]
    return dst_mac + src_mac + struct.pack("!H", ETH_IPV4) + ip + tcp


@dataclass(frozen=True, slots=True)
class Handshake:
    """What a validated cookie ACK tells about the client (cookie_ack_digest_t)."""

    client_addr: int
    vip_addr: int
    client_port: int
    vip_port: int
    client_isn: int
    cookie: int
    mss: int
    wscale: int
    sack_ok: bool
    ts_ok: bool
    client_window: int
    client_tsval: int


def server_syn(h: Handshake, router_mac: bytes, src_mac: bytes = b"\0" * 6, *,
               toa: bool = False) -> bytes:
    """The client's SYN to the VIP, to be sent through the pipeline (PacketOut flags 1).
    `toa` (FULLNAT services, D7): the TOA option with the client's port and address
    follows the others (at most 20 + 8 bytes); the switch then rewrites the source to
    the session's local address, so the option is the only trace of the client."""
    opts = syn_options(h.mss, h.wscale, h.sack_ok, h.ts_ok, h.client_tsval)
    if toa:
        opts += toa_option(h.client_addr, h.client_port)
    return tcp_frame(src_mac=src_mac, dst_mac=router_mac, src=h.client_addr, dst=h.vip_addr,
                     sport=h.client_port, dport=h.vip_port, seq=h.client_isn, ack=0,
                     flags=TCP_SYN, window=h.client_window or 65535, options=opts)


def client_rst(client_addr: int, client_port: int, vip_addr: int, vip_port: int,
               cookie: int, client_isn: int | None, router_mac: bytes,
               src_mac: bytes = b"\0" * 6) -> bytes:
    """VIP -> client RST with the sequence number the client expects (cookie + 1);
    RST|ACK acknowledging the client's SYN when its ISN is known, a bare RST if not."""
    ack, flags = (0, TCP_RST) if client_isn is None else (client_isn + 1, TCP_RST | TCP_ACK)
    return tcp_frame(src_mac=src_mac, dst_mac=router_mac, src=vip_addr, dst=client_addr,
                     sport=vip_port, dport=client_port, seq=cookie + 1, ack=ack,
                     flags=flags, window=0)


@dataclass(frozen=True, slots=True)
class TcpInfo:
    """The parts of a punted client segment the controller needs (C4)."""

    src: int
    dst: int
    sport: int
    dport: int
    seq: int
    payload_len: int
    ack: int = 0


def parse_tcp(frame: bytes) -> TcpInfo | None:
    """The 4-tuple, sequence and acknowledgement numbers and payload length of an
    Ethernet/IPv4/TCP or Ethernet/IPv6/TCP frame (TCP right after the IPv6 header);
    None for anything else or a truncated frame."""
    if len(frame) >= 14 and struct.unpack_from("!H", frame, 12)[0] == ETH_IPV6:
        return _parse_tcp6(frame)
    if len(frame) < 34 or struct.unpack_from("!H", frame, 12)[0] != ETH_IPV4:
        return None
    ihl = (frame[14] & 0x0F) * 4
    if frame[14] >> 4 != 4 or ihl < 20 or frame[23] != PROTO_TCP:
        return None
    total = struct.unpack_from("!H", frame, 16)[0]
    t = 14 + ihl
    if len(frame) < t + 20 or total < ihl + 20:
        return None
    src, dst = struct.unpack_from("!II", frame, 26)
    sport, dport, seq, ack = struct.unpack_from("!HHII", frame, t)
    doff = (frame[t + 12] >> 4) * 4
    return TcpInfo(src, dst, sport, dport, seq, max(0, total - ihl - doff), ack)


def _parse_tcp6(frame: bytes) -> TcpInfo | None:
    if len(frame) < 14 + 40 + 20 or frame[14] >> 4 != 6 or frame[20] != PROTO_TCP:
        return None
    plen = struct.unpack_from("!H", frame, 18)[0]
    if plen < 20 or len(frame) < 54 + plen:
        return None
    src = int.from_bytes(frame[22:38], "big")
    dst = int.from_bytes(frame[38:54], "big")
    sport, dport, seq, ack = struct.unpack_from("!HHII", frame, 54)
    doff = (frame[54 + 12] >> 4) * 4
    if doff < 20 or doff > plen:
        return None
    return TcpInfo(src, dst, sport, dport, seq, plen - doff, ack)
