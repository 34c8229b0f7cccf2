"""Config -> P4Runtime entities for synproxy.p4 (p4src/README.md), without I/O.

Two kinds of builders:

* start-up and operator changes (forwarding, services, clone sessions, digests, keys)
  use the generated protobuf classes through `entities`: they are few;
* the per-session writes (C2, C6) are built by `SessionCodec` straight into the
  WriteRequest that carries them: they are the headline rate. They are table writes
  only: the controller never writes a register (bmv2's P4Runtime server implements
  no register access).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2

from . import entities as ent
from . import p4consts
from .config import Config, Service, family
from .defence import KeyState
from .fullnat import FullNatCodec, local_addresses
from .natpool import ServerKey, moved
from .p4info import P4InfoIndex
from .sessions import Session

REFLECT_SESSION_BASE = p4consts.REFLECT_SESSION_BASE  # clone session base + p reflects to p
MODE = {name.lower(): code for name, code in p4consts.PROXY_MODES.items()}
SVC_SACK, SVC_TS, SVC_WSCALE, SVC_DEFER, SVC_NAT, SVC_FAIL_CLOSED = (
    p4consts.SVC_FLAGS[n] for n in ("SACK", "TS", "WSCALE", "DEFER", "NAT", "FAIL_CLOSED"))
PRIO_SERVICE, PRIO_DENY_UDP, PRIO_DENY_FRAG, PRIO_DENY_ALL = 100, 50, 40, 1
PROTO_TCP, PROTO_UDP = p4consts.IP_PROTO_TCP, p4consts.IP_PROTO_UDP
# DigestEntry config: lists of up to 256 digests, sent at most 1 ms after the first
# waited (the batching of C2 starts at the source). The ack timeout only bounds how
# long the switch suppresses a repeated digest; it is generous so that a busy switch
# delivering late does not make the controller's acks arrive for forgotten lists.
DIGEST_MAX_LIST = 256
DIGEST_MAX_TIMEOUT_NS = 1_000_000
DIGEST_ACK_TIMEOUT_NS = 10_000_000_000

Updates = list[p4runtime_pb2.Update]
# A repeated Update field (WriteRequest.updates) that the session writers append to.
UpdateList: TypeAlias = RepeatedCompositeFieldContainer[p4runtime_pb2.Update]


@functools.lru_cache(maxsize=4096)
def ip(addr: str) -> int:
    """An IPv4 or IPv6 address as an int (cached: real-server addresses repeat). The
    config refuses IPv6 hosts in ::/96 and ::ffff:0:0/96, so an int above 2^32 is
    IPv6 and one below is IPv4 (synpkt.is_ipv6)."""
    return int(ipaddress.ip_address(addr))


def ip_text(value: int) -> str:
    """An address held as an int, as text: dotted IPv4, or compressed IPv6 above 2^32
    (the config's canonical form)."""
    if value >> 32:
        return str(ipaddress.IPv6Address(value))
    return ".".join(str((value >> s) & 0xFF) for s in (24, 16, 8, 0))


def v6(table: str, address: str) -> str:
    """`table`'s IPv6 twin (`services` -> `services_v6`) for an IPv6 address (D13)."""
    return f"{table}_v6" if family(address) == 6 else table


def service_flags(s: Service) -> int:
    f = SVC_WSCALE
    if s.synack.sack:
        f |= SVC_SACK
    if s.synack.timestamps:
        f |= SVC_TS
    if s.defer:
        f |= SVC_DEFER
    if s.nat:
        f |= SVC_NAT
    if s.controller_down == "closed":
        f |= SVC_FAIL_CLOSED
    return f


def service_entries(p4: P4InfoIndex, s: Service, sid: int) -> list[p4runtime_pb2.TableEntry]:
    """The service's `set_service` entry (TCP to VIP:port), in `services_v6` for an
    IPv6 VIP (the same action; its mss is the service's, 1440 by default for IPv6)."""
    a = s.synack
    return [ent.table_entry(
        p4, v6("services", s.vip), {"vip": s.vip, "vport": s.port, "proto": PROTO_TCP},
        "set_service", {"service_id": sid, "mode": MODE[s.mode], "flags": service_flags(s),
                        "mss": a.mss, "wscale": a.wscale, "window": a.window, "ttl": a.ttl},
        priority=PRIO_SERVICE)]


def deny_entries(p4: P4InfoIndex, services: dict[int, Service]) -> list[p4runtime_pb2.TableEntry]:
    """Per protected VIP: UDP and fragments (vport 0: no L4 header) denied as the
    services ask (D6). One set per VIP, under the first protected service's id; an
    IPv6 VIP's in `services_v6` (`proto` is then the upper-layer protocol after the
    extension headers the parser followed)."""
    out = []
    seen: set[str] = set()
    for sid, s in sorted(services.items()):
        if s.mode == "off" or s.vip in seen:
            continue
        seen.add(s.vip)
        table = v6("services", s.vip)
        if s.drop_udp:
            out.append(ent.table_entry(p4, table, {"vip": s.vip, "proto": PROTO_UDP},
                                       "deny_service", {"service_id": sid},
                                       priority=PRIO_DENY_UDP))
        if s.drop_fragments:
            out.append(ent.table_entry(p4, table, {"vip": s.vip, "vport": (0, 0xFFFF)},
                                       "deny_service", {"service_id": sid},
                                       priority=PRIO_DENY_FRAG))
    return out


def router_mac(cfg: Config, port: int | None = None) -> str:
    """The router MAC of `port`'s interface (first interface otherwise)."""
    for i in cfg.interfaces:
        if port is None or i.port == port:
            return i.mac
    return cfg.interfaces[0].mac if cfg.interfaces else "00:00:00:00:00:00"


def forwarding_entries(p4: P4InfoIndex, cfg: Config) -> list[p4runtime_pb2.TableEntry]:
    """Interfaces -> router_macs + arp_replies (gateway addresses and VIPs);
    neighbours (host routes) and routes -> ipv4_routes; martian sources (D16).
    IPv6 (D13) goes to the twins: nd_replies (address6 gateways, IPv6 VIPs),
    ipv6_routes, martian_sources_v6; an IPv4-only config yields IPv4 entries only."""
    out = []
    for i in cfg.interfaces:
        out.append(ent.table_entry(p4, "router_macs", {"dst_mac": i.mac}, "set_routed"))
        if i.address:
            gw = str(ipaddress.IPv4Interface(i.address).ip)
            out.append(ent.table_entry(p4, "arp_replies", {"target_ip": gw}, "reply_arp",
                                       {"mac": i.mac}))
        if i.address6:
            gw6 = str(ipaddress.IPv6Interface(i.address6).ip)
            out.append(ent.table_entry(p4, "nd_replies", {"target": gw6}, "reply_na",
                                       {"mac": i.mac}))
    for vip in sorted({s.vip for s in cfg.services}):
        table, key, action = (("nd_replies", "target", "reply_na") if family(vip) == 6
                              else ("arp_replies", "target_ip", "reply_arp"))
        out.append(ent.table_entry(p4, table, {key: vip}, action, {"mac": router_mac(cfg)}))
    by_addr = {n.address: n for n in cfg.neighbours}
    for n in cfg.neighbours:
        table, plen = ("ipv6_routes", 128) if family(n.address) == 6 else ("ipv4_routes", 32)
        out.append(ent.table_entry(p4, table, {"dst_addr": f"{n.address}/{plen}"},
                                   "route_to", {"port": n.port, "src_mac": router_mac(cfg, n.port),
                                                "dst_mac": n.mac}))
    for r in cfg.routes:
        n = by_addr[r.next_hop]
        table = "ipv6_routes" if family(r.prefix) == 6 else "ipv4_routes"
        out.append(ent.table_entry(p4, table, {"dst_addr": r.prefix}, "route_to",
                                   {"port": n.port, "src_mac": router_mac(cfg, n.port),
                                    "dst_mac": n.mac}))
    return out + martian_entries(p4, cfg) + martian_entries_v6(p4, cfg)


#: D16: source prefixes no honest host sends from (RFC 1122 3.2.1.3, RFC 6890): "this
#: network", loopback, multicast, reserved (which holds 255.255.255.255).
MARTIAN_DEFAULTS = ("0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4")


def martian_prefixes(cfg: Config) -> list[str]:
    """What `martian_sources` refuses as a source towards a VIP (D16): the defaults,
    the operator's `bogons`, the switch's own addresses and VIPs, and the directed
    broadcast address of every subnet it routes (interfaces and routes up to /30)."""
    nets = {ipaddress.IPv4Network(p) for p in (*MARTIAN_DEFAULTS, *cfg.bogons)
            if family(p) == 4}
    hosts = {ipaddress.IPv4Interface(i.address).ip for i in cfg.interfaces if i.address}
    hosts |= {ipaddress.IPv4Address(s.vip) for s in cfg.services if family(s.vip) == 4}
    hosts |= {ipaddress.IPv4Address(a) for a in local_addresses(cfg)}  # D7
    subnets = [ipaddress.IPv4Interface(i.address).network for i in cfg.interfaces if i.address]
    subnets += [ipaddress.IPv4Network(r.prefix) for r in cfg.routes if family(r.prefix) == 4]
    hosts |= {n.broadcast_address for n in subnets if n.prefixlen <= 30}
    nets |= {ipaddress.IPv4Network(h) for h in hosts}
    return [str(n) for n in sorted(nets, key=lambda n: (int(n.network_address), n.prefixlen))]


def martian_entries(p4: P4InfoIndex, cfg: Config) -> list[p4runtime_pb2.TableEntry]:
    return [ent.table_entry(p4, "martian_sources", {"src_addr": prefix}, "set_martian")
            for prefix in martian_prefixes(cfg)]


#: IPv6 sources never a client of a VIP (ipv6-interface, D16): unspecified, loopback,
#: multicast, link-local (a VIP sits behind a router), IPv4-mapped, and the deprecated
#: IPv4-compatible ::/96 (RFC 4291 2.5.5.1; it holds :: and ::1): the controller keys
#: a flow as IPv4 by an address below 2^32, so such a client is never let in.
MARTIAN_DEFAULTS_V6 = ("::/96", "::/128", "::1/128", "ff00::/8", "fe80::/10",
                       "::ffff:0:0/96")


def martian_prefixes_v6(cfg: Config) -> list[str]:
    """The IPv6 twin of `martian_prefixes`: the defaults, the IPv6 bogons, every own
    IPv6 address (address6) and IPv6 VIP as /128, but a transparent service's VIP that
    is a neighbour's address: that is the real server's own address, not the
    switch's, and the server sends from it, its neighbour solicitations first (the
    switch answers none from a martian source, ipv6.p4). A spoofed packet from it is
    then answered as one from any real host's address would be."""
    nets = {ipaddress.IPv6Network(p) for p in MARTIAN_DEFAULTS_V6}
    nets |= {ipaddress.IPv6Network(b) for b in cfg.bogons if family(b) == 6}
    nets |= {ipaddress.IPv6Network(ipaddress.IPv6Interface(i.address6).ip)
             for i in cfg.interfaces if i.address6}
    hosts = {ipaddress.IPv6Address(n.address) for n in cfg.neighbours
             if family(n.address) == 6}
    nets |= {ipaddress.IPv6Network(s.vip) for s in cfg.services if family(s.vip) == 6
             and (s.nat or ipaddress.IPv6Address(s.vip) not in hosts)}
    return [str(n) for n in sorted(nets, key=lambda n: (int(n.network_address), n.prefixlen))]


def martian_entries_v6(p4: P4InfoIndex, cfg: Config) -> list[p4runtime_pb2.TableEntry]:
    """martian_sources_v6 rows; none for a config without IPv6 (an IPv4-only program
    needs no IPv6 table)."""
    if not any(family(a) == 6 for a in (*(s.vip for s in cfg.services),
                                         *(n.address for n in cfg.neighbours))) \
            and not any(i.address6 for i in cfg.interfaces):
        return []
    return [ent.table_entry(p4, "martian_sources_v6", {"src_addr": prefix}, "set_martian")
            for prefix in martian_prefixes_v6(cfg)]


def clone_sessions(cfg: Config) -> list[p4runtime_pb2.PacketReplicationEngineEntry]:
    """Clone session 512 + p with one replica to p, for every port (D8)."""
    return [ent.clone_session(REFLECT_SESSION_BASE + p, [(p, 1)])
            for p in sorted({i.port for i in cfg.interfaces})]


DIGESTS = ("cookie_ack_digest_t", "session_event_digest_t")
DIGESTS_V6 = ("cookie_ack_digest_v6_t", "session_event_digest_v6_t")  # D13, where present


def digest_entries(p4: P4InfoIndex) -> list[p4runtime_pb2.DigestEntry]:
    """The digests' configs: IPv4's, and IPv6's where the program sends them."""
    have = {d.preamble.name for d in p4.info.digests}
    return [ent.digest_config(p4, name, DIGEST_MAX_TIMEOUT_NS, DIGEST_MAX_LIST,
                              DIGEST_ACK_TIMEOUT_NS)
            for name in DIGESTS + tuple(n for n in DIGESTS_V6 if n in have)]


def keys_entry(p4: P4InfoIndex, keys: KeyState) -> p4runtime_pb2.TableEntry:
    return ent.table_entry(p4, "cookie_keys", None, "set_cookie_keys", keys.params(),
                           is_default=True)


def defense_entry(p4: P4InfoIndex, sid: int) -> p4runtime_pb2.TableEntry:
    """The service's `defense` entry: inserted, the auto service proxies; deleted, it
    does not (C8)."""
    return ent.table_entry(p4, "defense", {"service_id": sid}, "set_defense_active")


def defense_update(p4: P4InfoIndex, sid: int, active: bool) -> p4runtime_pb2.Update:
    if active:
        return ent.update("INSERT", defense_entry(p4, sid))
    return ent.update("DELETE", ent.table_entry(p4, "defense", {"service_id": sid}))


EPOCH_MAX = 255  # passthrough_flows cells are 8 bits; 0 is never an epoch


def next_epoch(epoch: int) -> int:
    """The passthrough epoch after `epoch`: 1..255, skipping 0 (a cell never written)."""
    return epoch % EPOCH_MAX + 1


def passthrough_epoch_entry(p4: P4InfoIndex, epoch: int) -> p4runtime_pb2.TableEntry:
    """The `passthrough_epoch` default action: cells holding `epoch` are flows seen
    undefended in this epoch, every other cell is forgotten."""
    return ent.table_entry(p4, "passthrough_epoch", None, "set_passthrough_epoch",
                           {"epoch": epoch}, is_default=True)


# ----------------------------------------------------------------------------- heartbeat

HEARTBEAT_TABLE = "controller_heartbeat"
HEARTBEAT_TICK_NS = 1_024_000  # the data plane's tick: its microsecond clock >> 10
HEARTBEAT_LIMIT_MAX = (1 << 31) - 1  # silences are compared modulo 2^32 ticks


def heartbeat_ticks(seconds: float) -> int:
    """A time of the controller's clock as the 32-bit beat (ticks of 1.024 ms)."""
    return (int(seconds * 1e9) // HEARTBEAT_TICK_NS) & 0xFFFFFFFF


def heartbeat_limit_ticks(seconds: float) -> int:
    """The allowed silence in ticks, rounded up (0 stays 0: no check)."""
    return min(HEARTBEAT_LIMIT_MAX, -(-int(seconds * 1e9) // HEARTBEAT_TICK_NS))


def heartbeat_entry(p4: P4InfoIndex, instance: int, now: float,
                    limit_seconds: float) -> p4runtime_pb2.TableEntry:
    """The `controller_heartbeat` default action: this controller's instance, its clock
    now, the silence after which the switch applies the controller_down policies."""
    return ent.table_entry(p4, HEARTBEAT_TABLE, None, "set_heartbeat",
                           {"instance": instance, "beat": heartbeat_ticks(now),
                            "limit": heartbeat_limit_ticks(limit_seconds)}, is_default=True)


# ----------------------------------------------------------------------------- NAT (C8)


def nat_unproxied(s: Service) -> bool:
    """A NAT service that forwards connections unproxied (auto while calm, off; on with
    controller_down: open, for when the controller is gone), so through the
    `nat_buckets` / `nat_reverse` tables. A NAT service in mode on that fails closed
    (the default) never does: it gets no buckets (a stray unproxied segment is dropped,
    EV_DROP_NO_SERVER)."""
    return s.nat_unproxied


def nat_bucket_count(p4: P4InfoIndex) -> int:
    """The number of buckets, from the width of the table's `bucket` key."""
    return 1 << p4.match_field("nat_buckets", "bucket").bitwidth


def nat_servers(s: Service) -> list[tuple[ServerKey, int]]:
    return [((r.address, r.port), r.weight) for r in s.real_servers]


def nat_reverse_map(services: dict[int, Service]) -> dict[ServerKey, ServerKey]:
    """Real server -> the VIP:vport it answers for, over the unproxied NAT services
    (the config allows a real server in one of them only)."""
    out: dict[ServerKey, ServerKey] = {}
    for _sid, s in sorted(services.items()):
        if nat_unproxied(s):
            for r in s.real_servers:
                out.setdefault((r.address, r.port), (s.vip, s.port))
    return out


def nat_bucket_entry(p4: P4InfoIndex, sid: int, bucket: int,
                     server: ServerKey | None, ipv6: bool = False) -> p4runtime_pb2.TableEntry:
    """A `nat_buckets` row (no action: the key only, for a delete); `nat_buckets_v6`
    for an IPv6 service (`ipv6`, or the server's address)."""
    match: dict[str, ent.MatchValue] = {"service_id": sid, "bucket": bucket}
    ipv6 = ipv6 or (server is not None and family(server[0]) == 6)
    table = "nat_buckets_v6" if ipv6 else "nat_buckets"
    if server is None:
        return ent.table_entry(p4, table, match)
    return ent.table_entry(p4, table, match, "nat_to_v6" if ipv6 else "nat_to",
                           {"rs_addr": server[0], "rs_port": server[1]})


def nat_reverse_entry(p4: P4InfoIndex, server: ServerKey,
                      vip: ServerKey | None) -> p4runtime_pb2.TableEntry:
    """A `nat_reverse` row, `nat_reverse_v6` for an IPv6 real server."""
    match: dict[str, ent.MatchValue] = {"src_addr": server[0], "src_port": server[1]}
    ipv6 = family(server[0]) == 6
    table = "nat_reverse_v6" if ipv6 else "nat_reverse"
    if vip is None:
        return ent.table_entry(p4, table, match)
    return ent.table_entry(p4, table, match, "nat_from_v6" if ipv6 else "nat_from",
                           {"vip_addr": vip[0], "vip_port": vip[1]})


def nat_bucket_updates(p4: P4InfoIndex, sid: int, old: Sequence[ServerKey | None],
                       new: Sequence[ServerKey | None]) -> Updates:
    """INSERT, MODIFY or DELETE for each bucket whose server changes. A service's
    servers are of one family, so its rows are in one table; a service whose VIP
    changed family (removed, then added under the same id) is deleted first."""
    out: Updates = []
    for b in moved(old, new):
        was = old[b] if b < len(old) else None
        now = new[b] if b < len(new) else None
        if was is not None and now is not None and family(was[0]) != family(now[0]):
            out.append(ent.update("DELETE", nat_bucket_entry(p4, sid, b, None,
                                                             family(was[0]) == 6)))
            was = None
        kind = "INSERT" if was is None else "DELETE" if now is None else "MODIFY"
        ipv6 = family((was or now or ("",))[0]) == 6
        out.append(ent.update(kind, nat_bucket_entry(p4, sid, b, now, ipv6)))
    return out


def nat_reverse_updates(p4: P4InfoIndex, old: dict[ServerKey, ServerKey],
                        new: dict[ServerKey, ServerKey]) -> tuple[Updates, Updates]:
    """(inserts and modifies, deletes) taking `nat_reverse` from `old` to `new`."""
    add = [ent.update("INSERT" if k not in old else "MODIFY", nat_reverse_entry(p4, k, v))
           for k, v in sorted(new.items()) if old.get(k) != v]
    delete = [ent.update("DELETE", nat_reverse_entry(p4, k, None))
              for k in sorted(old) if k not in new]
    return add, delete


# ----------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class SessionParams:
    """What the server-direction entry needs beyond the session itself."""

    vip_addr: int
    vip_port: int
    ts_base: int
    client_window: int
    win_shift: int


@dataclass(frozen=True)
class RestoredEntry:
    """One `sessions` entry read back from the switch."""

    direction: str  # "client" | "server"
    key: tuple[int, int, int, int]  # src, dst, sport, dport
    params: dict[str, int]


def canonical(value: int) -> bytes:
    """P4Runtime's canonical bytestring: big-endian, shortest, at least one byte."""
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


def _int(data: bytes) -> int:
    return int.from_bytes(data, "big")


INSERT = p4runtime_pb2.Update.INSERT
MODIFY = p4runtime_pb2.Update.MODIFY
DELETE = p4runtime_pb2.Update.DELETE


class _SessionTable:
    """One session table (`sessions` or `sessions_v6`): ids and update templates."""

    def __init__(self, p4: P4InfoIndex, table: str, suffix: str, idle_ns: int) -> None:
        t = p4.table(table)
        self.table_id = t.preamble.id
        self.fields = [mf.id for mf in t.match_fields]  # src, dst, sport, dport
        self.supports_idle = t.idle_timeout_behavior == p4info_pb2.Table.NOTIFY_CONTROL
        self.idle_ns = idle_ns if self.supports_idle else 0
        self.client_action = p4.action("set_client_session" + suffix)
        self.server_action = p4.action("set_server_session" + suffix)
        self.client_params = [(p.id, p.name) for p in self.client_action.params]
        self.server_params = [(p.id, p.name) for p in self.server_action.params]
        self.client_names = [n for _pid, n in self.client_params]
        self.server_names = [n for _pid, n in self.server_params]
        # Every update is a copy of one of these, with its values filled in place:
        # copying a whole message is far cheaper than building it field by field.
        self.client_tmpl = self._template(self.client_action.preamble.id, self.client_params)
        self.server_tmpl = self._template(self.server_action.preamble.id, self.server_params)
        self.delete_tmpl = self._template(None, [])
        self.delete_tmpl.type = DELETE

    def _template(self, action_id: int | None, params: list[tuple[int, str]]
                  ) -> p4runtime_pb2.Update:
        u = p4runtime_pb2.Update()
        te = u.entity.table_entry
        te.table_id = self.table_id
        for fid in self.fields:
            te.match.add(field_id=fid).exact.value = b"\0"
        if action_id is not None:
            te.action.action.action_id = action_id
            for pid, _n in params:
                te.action.action.params.add(param_id=pid, value=b"\0")
            te.idle_timeout_ns = self.idle_ns
        return u


class SessionCodec:
    """Writes and reads of the `sessions` table (and reads of the session registers,
    where the target allows them), as generated P4Runtime messages. Writers append
    to a repeated `Update` field (`WriteRequest.updates`), so a batch is built in the
    request that carries it, without copies.

    D13: an IPv6 session (its addresses above 2^32, synpkt.is_ipv6) goes to
    `sessions_v6` with the `_v6` actions, where the program has them; its slot is
    from the same pool and its registers are the same."""

    def __init__(self, p4: P4InfoIndex, idle_timeout_s: float = 0.0) -> None:
        idle_ns = int(idle_timeout_s * 1e9)
        self._v4 = _SessionTable(p4, "sessions", "", idle_ns)
        self._v6: _SessionTable | None = None
        if any(t.preamble.name.rsplit(".", 1)[-1] == "sessions_v6" for t in p4.info.tables):
            self._v6 = _SessionTable(p4, "sessions_v6", "_v6", idle_ns)
        self._by_id = {t.table_id: t for t in (self._v4, self._v6) if t is not None}
        self.table_id = self._v4.table_id
        self.table_ids = frozenset(self._by_id)
        self.fields = self._v4.fields
        self.supports_idle = self._v4.supports_idle
        self.idle_ns = self._v4.idle_ns
        self.client_action, self.server_action = self._v4.client_action, self._v4.server_action
        self.client_params, self.server_params = self._v4.client_params, self._v4.server_params
        self.reg = {name: p4.get("registers", name).preamble.id
                    for name in ("session_state", "session_gen")}
        self.fullnat = FullNatCodec.of(p4)  # D7; None: the program has no FULLNAT

    @property
    def ipv6(self) -> bool:
        """Whether the program has `sessions_v6`."""
        return self._v6 is not None

    def _table(self, addr: int) -> _SessionTable:
        if addr >> 32 == 0:
            return self._v4
        if self._v6 is None:
            raise ValueError("an IPv6 session, but the program has no sessions_v6 table")
        return self._v6

    @staticmethod
    def client_key(s: Session) -> tuple[int, int, int, int]:
        c, vip, cport, vport = s.flow
        return (c, vip, cport, vport)

    @staticmethod
    def server_key(s: Session) -> tuple[int, int, int, int]:
        c, _vip, cport, _vport = s.flow
        if s.laddr:  # D7, FULLNAT: the server side's own tuple
            return (s.rs_addr, s.laddr, s.rs_port, s.lport)
        return (s.rs_addr, c, s.rs_port, cport)

    @staticmethod
    def _add(into: UpdateList, template: p4runtime_pb2.Update, kind: int,
             key: tuple[int, int, int, int], values: list[int] | None = None) -> None:
        u = into.add()
        u.CopyFrom(template)
        u.type = kind  # type: ignore[assignment]
        te = u.entity.table_entry
        for fm, v in zip(te.match, key, strict=True):
            fm.exact.value = v.to_bytes((v.bit_length() + 7) // 8 or 1, "big")
        if values is not None:
            for param, v in zip(te.action.action.params, values, strict=True):
                param.value = v.to_bytes((v.bit_length() + 7) // 8 or 1, "big")

    def install(self, into: UpdateList, s: Session, p: SessionParams, kind: int = INSERT, *,
                server_kind: int | None = None) -> None:
        """Both entries, carrying the session's gen: the data plane starts a slot whose
        `session_gen` differs afresh (SYN_SENT, delta and tsoff 0), so no register is
        written (p4src/README.md). MODIFY with a new gen restarts a slot in place.
        `server_kind` (default: `kind`) when the server entry is written otherwise."""
        t = self._table(s.flow[0])
        cvals = {"slot": s.slot, "service_id": s.service_id, "rs_addr": s.rs_addr,
                 "rs_port": s.rs_port, "gen": s.gen}
        svals = {"slot": s.slot, "service_id": s.service_id, "vip_addr": p.vip_addr,
                 "vip_port": p.vip_port, "cookie": s.cookie, "ts_base": p.ts_base,
                 "client_window": p.client_window, "win_shift": p.win_shift, "gen": s.gen}
        if s.laddr and self.fullnat is not None:  # D7: before the entries that use it
            self.fullnat.add(into, s.slot, kind, s.flow[0], s.flow[2], s.laddr, s.lport,
                             s.gen)
        self._add(into, t.client_tmpl, kind, self.client_key(s),
                  [cvals[n] for n in t.client_names])
        self._add(into, t.server_tmpl, kind if server_kind is None else server_kind,
                  self.server_key(s), [svals[n] for n in t.server_names])

    def delete(self, into: UpdateList, key: tuple[int, int, int, int]) -> None:
        self._add(into, self._table(key[0]).delete_tmpl, DELETE, key)

    def remove(self, into: UpdateList, s: Session) -> None:
        """Delete both entries (the slot's registers are left as they are: the next
        install's gen makes them stale)."""
        self.delete(into, self.client_key(s))
        self.delete(into, self.server_key(s))
        if s.laddr and self.fullnat is not None:
            self.fullnat.delete(into, s.slot)

    def read_entries_query(self) -> p4runtime_pb2.Entity:
        """A read of the IPv4 `sessions` table."""
        q = p4runtime_pb2.Entity()
        q.table_entry.table_id = self.table_id
        return q

    def read_entries_queries(self) -> list[p4runtime_pb2.Entity]:
        """Reads of every session table (`sessions`, and `sessions_v6` where present)."""
        out = []
        for tid in self._by_id:
            q = p4runtime_pb2.Entity()
            q.table_entry.table_id = tid
            out.append(q)
        return out

    def read_register_query(self, name: str) -> p4runtime_pb2.Entity:
        q = p4runtime_pb2.Entity()
        q.register_entry.register_id = self.reg[name]
        return q

    def read_cell_query(self, name: str, slot: int) -> p4runtime_pb2.Entity:
        q = self.read_register_query(name)
        q.register_entry.index.index = slot
        return q

    def decode_entry(self, e: p4runtime_pb2.TableEntry) -> RestoredEntry | None:
        t = self._by_id.get(e.table_id)
        if t is None or e.is_default_action:
            return None
        action = e.action.action
        if action.action_id == t.client_action.preamble.id:
            names, direction = t.client_params, "client"
        elif action.action_id == t.server_action.preamble.id:
            names, direction = t.server_params, "server"
        else:
            return None
        given = {p.param_id: _int(p.value) for p in action.params}
        params = {n: given.get(pid, 0) for pid, n in names}
        return RestoredEntry(direction, self.key_of(e), params)

    def key_of(self, e: p4runtime_pb2.TableEntry) -> tuple[int, int, int, int]:
        """The (src, dst, sport, dport) key of a session entry (read back, or in an
        idle-timeout notification); 0 for a field it leaves out."""
        t = self._by_id.get(e.table_id, self._v4)
        match = {m.field_id: _int(m.exact.value) for m in e.match}
        return tuple(match.get(f, 0) for f in t.fields)  # type: ignore[return-value]
