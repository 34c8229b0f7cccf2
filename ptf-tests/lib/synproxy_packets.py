"""Scapy builders for the PTF tests of p4src/v1model/synproxy.p4: the segments a
client and a real server send, and the exact segments the switch must send back.

The expected packets are built here from first principles (p4src/README.md and
controller/cookie.py), never by copying what the switch produced; every checksum of
an expected packet is computed by scapy from scratch, so comparing bytes also checks
the switch's checksums.
"""

from __future__ import annotations

import ipaddress
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crc_collisions import crc16_arc
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from controller import p4consts
from controller.cookie import (
    MSS_TABLE,
    MSS_TABLE6,
    Flow,
    Flow6,
    decode_options,
    key_words,
    make_cookie,
)
from controller.cookie import encode_options as encode_options_table

MASK32 = 0xFFFFFFFF

# ----------------------------------------------------------------------------- topology
# One router MAC for every interface. Port 1 faces the clients, port 2 the real
# servers, port 3 a plain (unprotected) host; port 0 stays idle so that a packet sent
# the wrong way shows up as "unexpected".
ROUTER_MAC = "02:00:00:00:00:fe"
CLIENT_PORT, SERVER_PORT, OTHER_PORT = 1, 2, 3
CLIENT_MAC, CLIENT_IP, CLIENT_NET = "02:00:00:00:01:01", "10.0.1.1", "10.0.1.0/24"
RS_MAC, RS_IP, RS_NET, RS_PORT = "02:00:00:00:02:05", "10.0.2.5", "10.0.2.0/24", 8080
OTHER_MAC, OTHER_IP, OTHER_NET = "02:00:00:00:03:07", "10.0.3.7", "10.0.3.0/24"
VIP, VPORT = "192.0.2.10", 80
CLIENT_SPORT = 40000
SERVICE_ID = 7

# Cookie keys: the current pair and the previous one (epochs differ in bit 0).
KEY = 0x0706050403020100
PREV_KEY = 0xF0E1D2C3B4A59687
EPOCH = 0x000123
PREV_EPOCH = EPOCH - 1

# D13: the same topology in IPv6.
CLIENT6, CLIENT6_NET = "2001:db8:1::1", "2001:db8:1::/64"
RS6, RS6_NET = "2001:db8:2::5", "2001:db8:2::/64"
OTHER6, OTHER6_NET = "2001:db8:3::7", "2001:db8:3::/64"
VIP6 = "2001:db8:f::10"

REFLECT_SESSION_BASE = p4consts.REFLECT_SESSION_BASE  # + p reflects to port p
IPV4_DEFAULT_TTL = p4consts.IPV4_DEFAULT_TTL


EV = p4consts.EVENTS
SESSION = p4consts.SESSION_STATES
SESSION_EV = p4consts.SESSION_EVENTS
SVC_SACK, SVC_TS, SVC_WSCALE, SVC_DEFER = (p4consts.SVC_FLAGS[n]
                                           for n in ("SACK", "TS", "WSCALE", "DEFER"))
PROXY_OFF, PROXY_ON, PROXY_AUTO = (p4consts.PROXY_MODES[n] for n in ("OFF", "ON", "AUTO"))
PUNT_EARLY_DATA, PUNT_COOKIE_DATA = p4consts.PUNT_EARLY_DATA, p4consts.PUNT_COOKIE_DATA
FLOW_FILTER_SIZE = p4consts.FLOW_FILTER_SIZE
PENDING_SIZE = p4consts.PENDING_SIZE
ETHERTYPE_VLAN, ETHERTYPE_QINQ = p4consts.ETHERTYPE_VLAN, p4consts.ETHERTYPE_QINQ


def ip2int(addr: str) -> int:
    """An IPv4 or IPv6 address as an integer."""
    return int(ipaddress.ip_address(addr))


def is_v6(addr: str) -> bool:
    return ":" in addr


# ----------------------------------------------------------------------------- families


@dataclass(frozen=True)
class Family:
    """One address family's view of the topology (D13): the tests of a family-
    parametrised class build their packets from the family in use (`use_family`,
    set by SynproxyTest.setUp from its `family` attribute)."""

    version: int
    client_ip: str
    client_net: str
    rs_ip: str
    rs_net: str
    other_ip: str
    other_net: str
    vip: str
    mss_table: tuple[int, ...]

    @property
    def suffix(self) -> str:
        """The P4 objects' suffix for the family: "_v6" or ""."""
        return "_v6" if self.version == 6 else ""


V4 = Family(4, CLIENT_IP, CLIENT_NET, RS_IP, RS_NET, OTHER_IP, OTHER_NET, VIP, MSS_TABLE)
V6 = Family(6, CLIENT6, CLIENT6_NET, RS6, RS6_NET, OTHER6, OTHER6_NET, VIP6, MSS_TABLE6)
FAMILIES = {4: V4, 6: V6}
_current = [V4]


def family() -> Family:
    """The family the packet builders use by default."""
    return _current[0]


def use_family(fam: Family) -> None:
    _current[0] = fam


def encode_options(mss: int | None, wscale: int | None, sack_ok: bool, ts_ok: bool) -> int:
    """controller.cookie.encode_options with the MSS table of the family in use."""
    return encode_options_table(mss, wscale, sack_ok, ts_ok, family().mss_table)


def synack_mss(svc_mss: int, addr: str) -> int:
    """The MSS our SYN/ACK offers: the service's, clamped to 1440 over IPv6 (what a
    1500-byte link fits under the 40-byte header: p4src/README.md)."""
    return min(svc_mss, p4consts.IPV6_MSS_MAX) if is_v6(addr) else svc_mss


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def u32(value: int) -> int:
    """Modulo 2^32, as the switch's bit<32> arithmetic."""
    return value & MASK32


# ----------------------------------------------------------------------------- services


@dataclass(frozen=True)
class ServiceSettings:
    """The `set_service` parameters of the protected service (p4src/README.md)."""

    mode: int = PROXY_ON
    flags: int = SVC_SACK | SVC_TS | SVC_WSCALE
    mss: int = 1460
    wscale: int = 7
    window: int = 0
    ttl: int = 64

    def params(self, service_id: int = SERVICE_ID) -> dict[str, int]:
        return {"service_id": service_id, "mode": self.mode, "flags": self.flags,
                "mss": self.mss, "wscale": self.wscale, "window": self.window,
                "ttl": self.ttl}


# ----------------------------------------------------------------------------- options


def client_syn_options(mss: int | None = 1460, wscale: int | None = 7, sack: bool = True,
                       tsval: int | None = 12345) -> list[tuple[str, Any]]:
    """SYN options in Linux's order (MSS, SACK-permitted, timestamps, NOP, window
    scale); None or False leaves an option out."""
    opts: list[tuple[str, Any]] = []
    if mss is not None:
        opts.append(("MSS", mss))
    if sack and tsval is not None:
        opts += [("SAckOK", b""), ("Timestamp", (tsval, 0))]
    elif tsval is not None:
        opts += [("NOP", None), ("NOP", None), ("Timestamp", (tsval, 0))]
    elif sack:
        opts += [("NOP", None), ("NOP", None), ("SAckOK", b"")]
    if wscale is not None:
        opts += [("NOP", None), ("WScale", wscale)]
    return opts


def negotiated_opts(svc: ServiceSettings, mss: int | None, wscale: int | None, sack: bool,
                    ts: bool) -> int:
    """OPTS of the cookie: an option counts only if the client sent it and the
    service offers it (the MSS always counts)."""
    return encode_options(mss,
                          wscale if svc.flags & SVC_WSCALE else None,
                          sack and bool(svc.flags & SVC_SACK),
                          ts and bool(svc.flags & SVC_TS))


def synack_options(opts: int, svc: ServiceSettings, tsval: int,
                   client_tsval: int, mss: int | None = None) -> list[tuple[str, Any]]:
    """The SYN/ACK's options for OPTS, in the switch's layout: MSS, [NOP WS],
    then SACKOK+TS, NOP NOP TS, or NOP NOP SACKOK (each 32-bit aligned)."""
    o = decode_options(opts)
    out: list[tuple[str, Any]] = [("MSS", mss if mss is not None else svc.mss)]
    if o.wscale is not None:
        out += [("NOP", None), ("WScale", svc.wscale)]
    if o.ts_ok and o.sack_ok:
        out += [("SAckOK", b""), ("Timestamp", (tsval, client_tsval))]
    elif o.ts_ok:
        out += [("NOP", None), ("NOP", None), ("Timestamp", (tsval, client_tsval))]
    elif o.sack_ok:
        out += [("NOP", None), ("NOP", None), ("SAckOK", b"")]
    return out


def ts_option(tsval: int, tsecr: int) -> list[tuple[str, Any]]:
    return [("NOP", None), ("NOP", None), ("Timestamp", (u32(tsval), u32(tsecr)))]


def sack_option(edges: Sequence[int]) -> list[tuple[str, Any]]:
    return [("NOP", None), ("NOP", None), ("SAck", tuple(u32(e) for e in edges))]


def option_value(pkt: Packet, kind: str) -> Any:
    """The value of the first TCP option of `kind` in a packet, or None."""
    for k, v in pkt[TCP].options:
        if k == kind:
            return v
    return None


# ----------------------------------------------------------------------------- packets


def tcp_packet(*, src_mac: str, dst_mac: str, src: str, dst: str, sport: int, dport: int,
               flags: str, seq: int, ack: int = 0, window: int = 64240,
               options: Sequence[tuple[str, Any]] = (), payload: bytes = b"",
               ttl: int = 64, ip_id: int = 1, df: bool = True) -> Packet:
    """An Ethernet/IP/TCP frame, IPv4 or (for IPv6 addresses, D13) IPv6; its
    checksums are filled in when it is serialised."""
    ip: Packet
    if is_v6(src):
        ip = IPv6(src=src, dst=dst, hlim=ttl)
    else:
        ip = IP(src=src, dst=dst, ttl=ttl, id=ip_id, flags="DF" if df else 0)
    pkt = (Ether(src=src_mac, dst=dst_mac) / ip
           / TCP(sport=sport, dport=dport, flags=flags, seq=u32(seq), ack=u32(ack),
                 window=window, options=list(options)))
    if payload:
        pkt = pkt / Raw(payload)
    return pkt


def client_tcp(flags: str, seq: int, ack: int = 0, *, sport: int = CLIENT_SPORT,
               options: Sequence[tuple[str, Any]] = (), payload: bytes = b"",
               window: int = 64240, src: str | None = None, dst: str | None = None,
               dport: int = VPORT, ip_id: int = 0x1111) -> Packet:
    """A segment from the client to the VIP, as it reaches the switch (the
    addresses default to the family in use)."""
    src = src or family().client_ip
    dst = dst or family().vip
    return tcp_packet(src_mac=CLIENT_MAC, dst_mac=ROUTER_MAC, src=src, dst=dst, sport=sport,
                      dport=dport, flags=flags, seq=seq, ack=ack, window=window,
                      options=options, payload=payload, ip_id=ip_id)


def server_tcp(flags: str, seq: int, ack: int = 0, *, dport: int = CLIENT_SPORT,
               options: Sequence[tuple[str, Any]] = (), payload: bytes = b"",
               window: int = 65160, src: str | None = None, sport: int = RS_PORT,
               ip_id: int = 0x2222) -> Packet:
    """A segment from the real server to the client, as it reaches the switch."""
    src = src or family().rs_ip
    return tcp_packet(src_mac=RS_MAC, dst_mac=ROUTER_MAC, src=src, dst=family().client_ip,
                      sport=sport,
                      dport=dport, flags=flags, seq=seq, ack=ack, window=window,
                      options=options, payload=payload, ip_id=ip_id)


def raw_options_tcp(flags: str, option_bytes: bytes, *, dataofs: int | None = None,
                    seq: int = 1000, ack: int = 0, payload: bytes = b"") -> Packet:
    """A client segment to the VIP whose option area is `option_bytes`, given raw
    (scapy would fix malformed options up). Without `dataofs` the options are padded
    to 32 bits and the data offset covers them; with it, the header claims
    `dataofs` words whatever follows. IP length and TCP checksum cover it all (IPv6
    for the IPv6 family in use)."""
    opts = option_bytes
    if dataofs is None:
        opts += b"\0" * (-len(opts) % 4)
        dataofs = 5 + len(opts) // 4
    fam = family()
    ip: Packet = (IPv6(src=fam.client_ip, dst=fam.vip) if fam.version == 6
                  else IP(src=fam.client_ip, dst=fam.vip, id=0x3333))
    return Ether(bytes(
        Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / ip
        / TCP(sport=CLIENT_SPORT, dport=VPORT, flags=flags, seq=seq, ack=ack, dataofs=dataofs)
        / Raw(opts + payload)))


def routed(pkt: Packet, port: int) -> Packet:
    """`pkt` as the switch routes it out of `port`: next-hop MACs, TTL - 1, and the
    checksums recomputed from scratch (the switch must get the same values)."""
    dst_mac = {CLIENT_PORT: CLIENT_MAC, SERVER_PORT: RS_MAC, OTHER_PORT: OTHER_MAC}[port]
    out = Ether(bytes(pkt))
    out[Ether].src, out[Ether].dst = ROUTER_MAC, dst_mac
    if IPv6 in out:
        out[IPv6].hlim -= 1
    else:
        out[IP].ttl -= 1
    return fresh(out)


def fresh(pkt: Packet) -> Packet:
    """A copy with IP and TCP lengths and checksums recomputed."""
    out = Ether(bytes(pkt))
    if IPv6 in out:
        del out[IPv6].plen
    else:
        del out[IP].chksum
        del out[IP].len
    if TCP in out:
        del out[TCP].chksum
    return Ether(bytes(out))


def l3(pkt: Packet) -> Packet:
    """The IP layer of a frame, IPv4 or IPv6."""
    return pkt[IPv6] if IPv6 in pkt else pkt[IP]


def flow_of(pkt: Packet) -> Flow | Flow6:
    """The cookie's flow for a client segment (Flow6 for IPv6: full addresses)."""
    if IPv6 in pkt:
        return Flow6(ip2int(pkt[IPv6].src), ip2int(pkt[IPv6].dst), pkt[TCP].sport,
                     pkt[TCP].dport)
    return Flow(ip2int(pkt[IP].src), ip2int(pkt[IP].dst), pkt[TCP].sport, pkt[TCP].dport)


def flow_bit(pkt: Packet) -> int:
    """The `passthrough_flows` index of a segment: v1model's crc32 (the standard
    CRC-32) over src, dst, sport, dport (IPv6: the full addresses), modulo the
    filter size."""
    width = 16 if IPv6 in pkt else 4
    data = (ip2int(l3(pkt).src).to_bytes(width, "big") + ip2int(l3(pkt).dst).to_bytes(width, "big")
            + struct.pack("!HH", pkt[TCP].sport, pkt[TCP].dport))
    return zlib.crc32(data) % FLOW_FILTER_SIZE


def pending_slot(pkt: Packet) -> tuple[int, tuple[int, int, int]]:
    """(index, tuple) of a client segment's flow in the pending-handshake registers
    (C4): the index is crc16 over client, VIP, client port, VIP port; the tuple what
    pending_client, pending_vip and pending_ports hold (cport << 16 | vport); for an
    IPv6 flow the crc16 is over the full addresses and the tuple is what
    pending_client6, pending_vip6 and pending_ports hold."""
    src, dst = ip2int(l3(pkt).src), ip2int(l3(pkt).dst)
    ports = pkt[TCP].sport << 16 | pkt[TCP].dport
    if IPv6 in pkt:
        data = src.to_bytes(16, "big") + dst.to_bytes(16, "big") + struct.pack(
            "!HH", pkt[TCP].sport, pkt[TCP].dport)
    else:
        data = struct.pack("!IIHH", src, dst, pkt[TCP].sport, pkt[TCP].dport)
    return crc16_arc(data) % PENDING_SIZE, (src, dst, ports)


def with_tags(pkt: Packet | bytes, tags: Sequence[tuple[int, int]]) -> Ether:
    """`pkt` with VLAN tags (TPID, TCI), outermost first, put after the MACs: what a
    tagged segment looks like on the wire. Nothing else changes (the IPv4 and TCP
    checksums do not cover the tags)."""
    raw = bytes(pkt)
    return Ether(raw[:12] + b"".join(struct.pack("!HH", tpid, tci) for tpid, tci in tags)
                 + raw[12:])


def cookie_for(syn: Packet, opts: int, *, key: int = KEY, epoch: int = EPOCH) -> int:
    """The cookie the switch must mint for this client SYN (controller/cookie.py)."""
    return make_cookie(key, epoch, flow_of(syn), syn[TCP].seq, opts)


def expected_synack(syn: Packet, opts: int, svc: ServiceSettings, tsval: int, *,
                    key: int = KEY, epoch: int = EPOCH) -> Packet:
    """The exact SYN/ACK for `syn` (D3): MACs, addresses and ports swapped, seq =
    cookie, ack = isn + 1, the service's TTL and window, IP id 0 with DF, options
    from OPTS (TSecr echoes the client's TSval), no payload, fresh checksums."""
    client_ts = option_value(syn, "Timestamp")
    ip: Packet
    if IPv6 in syn:
        # D13: hop limit = the service's TTL, flow label 0, no ECN, no extension
        # headers; the MSS clamped for the longer header.
        ip = IPv6(src=syn[IPv6].dst, dst=syn[IPv6].src, hlim=svc.ttl, fl=0,
                  tc=syn[IPv6].tc & 0xFC)
        mss = synack_mss(svc.mss, syn[IPv6].src)
    else:
        ip = IP(src=syn[IP].dst, dst=syn[IP].src, ttl=svc.ttl, id=0, flags="DF",
                tos=syn[IP].tos & 0xFC)
        mss = svc.mss
    options = synack_options(opts, svc, tsval, client_ts[0] if client_ts else 0, mss)
    pkt = (Ether(src=syn[Ether].dst, dst=syn[Ether].src) / ip
           / TCP(sport=syn[TCP].dport, dport=syn[TCP].sport, flags="SA",
                 seq=cookie_for(syn, opts, key=key, epoch=epoch), ack=u32(syn[TCP].seq + 1),
                 window=svc.window,
                 options=options))
    return Ether(bytes(pkt))


def key_params(key: int = KEY, epoch: int = EPOCH, prev_key: int = PREV_KEY,
               prev_epoch: int = PREV_EPOCH) -> dict[str, int]:
    """`set_cookie_keys` parameters for a (current, previous) pair of keys."""
    k0, k1 = key_words(key)
    p0, p1 = key_words(prev_key)
    return {"key0": k0, "key1": k1, "epoch": epoch, "prev_key0": p0, "prev_key1": p1,
            "prev_epoch": prev_epoch}


def describe(pkt: Packet) -> str:
    """A one-line summary and the full dissection, for failure messages."""
    return f"{pkt.summary()}\n{pkt.show2(dump=True)}"
