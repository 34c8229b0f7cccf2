"""D7, FULLNAT: the local address and port of each session, and the data plane's
FULLNAT tables (p4src/README.md "FULLNAT").

A FULLNAT service's sessions reach the real server from a local address of the
proxy (laddr:lport) instead of the client's. `LocalPorts` hands out (laddr, lport)
per session, unique per (laddr, lport, real server, server port): the switch finds
the server direction of a session by exactly that tuple, so two sessions sharing it
would be one. Pure bookkeeping, as sessions.py: a tuple is taken when the session
is allocated (or read back from the switch) and given back only when the switch has
forgotten the session's entries (the slot's recycle), so a late segment of an old
session can never be taken for a new one's.

`FullNatCodec` writes and reads `fullnat_sessions` (slot -> client, cport, laddr,
lport, and the gen of the session's entries: the switch uses no map of another
incarnation of the slot); `local_address_entries` are the config's part: each local address in
`fullnat_local_addresses` (the switch drops what reaches one without a session)
and answered in ARP, so the real servers' answers come back to the switch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from p4.v1 import p4runtime_pb2

from . import entities as ent
from .config import Config, FullNat
from .p4info import P4InfoError, P4InfoIndex

if TYPE_CHECKING:  # sessions.py imports this module
    from .sessions import Session

LocalPair = tuple[int, int]  # local address, local port
ServerPair = tuple[int, int]  # real server address, port

SESSIONS_TABLE = "fullnat_sessions"
LOCAL_TABLE = "fullnat_local_addresses"


def _ip(addr: str) -> int:
    a, b, c, d = (int(x) for x in addr.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


class LocalPorts:
    """(laddr, lport) per (real server, port), never two sessions on one. Allocation
    walks each server's (address, port) space from where it last stopped, addresses
    interleaved (consecutive sessions spread over the addresses), so a tuple given
    back is the last to be handed out again. Exhaustion is known without a walk: a
    server whose every pool address has as many ports taken as the range holds is
    full (after a reload that narrows the range, ports taken outside it count until
    they are given back: a refusal too many, never a shared tuple)."""

    def __init__(self) -> None:
        # real server -> local address -> local ports taken
        self._used: dict[ServerPair, dict[int, set[int]]] = {}
        self._cursor: dict[ServerPair, int] = {}
        self.stats = {"exhausted": 0}

    def in_use(self, server: ServerPair | None = None) -> int:
        servers = [server] if server is not None else list(self._used)
        return sum(len(ports) for sv in servers for ports in self._used.get(sv, {}).values())

    def allocate(self, pool: FullNat, rs_addr: int, rs_port: int) -> LocalPair | None:
        """A free (laddr, lport) of `pool` towards rs_addr:rs_port; None (and counted)
        when every one is taken: the caller refuses the session."""
        server = (rs_addr, rs_port)
        used = self._used.setdefault(server, {})
        addrs = [_ip(a) for a in pool.local_addresses]
        nports = pool.port_max - pool.port_min + 1
        if not addrs or all(len(used.get(a, ())) >= nports for a in addrs):
            self.stats["exhausted"] += 1
            return None
        total, n = pool.size, len(addrs)
        start = self._cursor.get(server, 0) % total
        for step in range(total):
            i = (start + step) % total
            laddr, lport = addrs[i % n], pool.port_min + i // n
            ports = used.setdefault(laddr, set())
            if lport not in ports:
                ports.add(lport)
                self._cursor[server] = i + 1
                return laddr, lport
        self.stats["exhausted"] += 1  # ports taken outside a narrowed range (above)
        return None

    def claim(self, laddr: int, lport: int, rs_addr: int, rs_port: int) -> bool:
        """Take a tuple read back from the switch; False if it is taken already."""
        ports = self._used.setdefault((rs_addr, rs_port), {}).setdefault(laddr, set())
        if lport in ports:
            return False
        ports.add(lport)
        return True

    def release(self, laddr: int, lport: int, rs_addr: int, rs_port: int) -> None:
        server = (rs_addr, rs_port)
        used = self._used.get(server)
        if used is None or laddr not in used:
            return
        used[laddr].discard(lport)
        if not used[laddr]:
            del used[laddr]
        if not used:
            del self._used[server]
            self._cursor.pop(server, None)


@dataclass(frozen=True, slots=True)
class RestoredMap:
    """A `fullnat_sessions` entry read back: the slot's client and local tuples."""

    slot: int
    client: int
    cport: int
    laddr: int
    lport: int
    gen: int


def _bytes(v: int) -> bytes:
    return v.to_bytes((v.bit_length() + 7) // 8 or 1, "big")


class FullNatCodec:
    """Updates and reads of `fullnat_sessions`, appended to a WriteRequest's updates
    (as install.SessionCodec does for `sessions`)."""

    def __init__(self, p4: P4InfoIndex) -> None:
        t = p4.table(SESSIONS_TABLE)
        self.table_id = t.preamble.id
        self.slot_field = t.match_fields[0].id
        a = p4.action("fullnat_map")
        self.action_id = a.preamble.id
        self.params = [(p.id, p.name) for p in a.params]

    @classmethod
    def of(cls, p4: P4InfoIndex) -> FullNatCodec | None:
        """None for a program without FULLNAT (the config's services then may not use it)."""
        try:
            return cls(p4)
        except P4InfoError:
            return None

    def add(self, into, slot: int, kind: int, client: int, cport: int,
            laddr: int, lport: int, gen: int) -> None:
        u = into.add()
        u.type = kind
        te = u.entity.table_entry
        te.table_id = self.table_id
        te.match.add(field_id=self.slot_field).exact.value = _bytes(slot)
        te.action.action.action_id = self.action_id
        values = {"client": client, "cport": cport, "laddr": laddr, "lport": lport,
                  "gen": gen}
        for pid, name in self.params:
            te.action.action.params.add(param_id=pid, value=_bytes(values[name]))

    def delete(self, into, slot: int) -> None:
        u = into.add()
        u.type = p4runtime_pb2.Update.DELETE
        te = u.entity.table_entry
        te.table_id = self.table_id
        te.match.add(field_id=self.slot_field).exact.value = _bytes(slot)

    def read_query(self) -> p4runtime_pb2.Entity:
        q = p4runtime_pb2.Entity()
        q.table_entry.table_id = self.table_id
        return q

    def decode(self, e: p4runtime_pb2.TableEntry) -> RestoredMap | None:
        if (e.table_id != self.table_id or e.is_default_action
                or e.action.action.action_id != self.action_id or len(e.match) != 1):
            return None
        given = {p.param_id: int.from_bytes(p.value, "big") for p in e.action.action.params}
        v = {name: given.get(pid, 0) for pid, name in self.params}
        slot = int.from_bytes(e.match[0].exact.value, "big")
        return RestoredMap(slot, v["client"], v["cport"], v["laddr"], v["lport"], v["gen"])


def local_addresses(cfg: Config) -> list[str]:
    """Every FULLNAT local address of the config, sorted, once."""
    return sorted({a for s in cfg.services if s.fullnat for a in s.fullnat.local_addresses},
                  key=_ip)


def local_address_entries(p4: P4InfoIndex, cfg: Config, mac: str
                          ) -> list[p4runtime_pb2.TableEntry]:
    """`fullnat_local_addresses` and `arp_replies` (answered with `mac`) for each local
    address; none for a config without FULLNAT."""
    out = []
    for a in local_addresses(cfg):
        out.append(ent.table_entry(p4, LOCAL_TABLE, {"local_addr": a}, "fullnat_local"))
        out.append(ent.table_entry(p4, "arp_replies", {"target_ip": a}, "reply_arp",
                                   {"mac": mac}))
    return out


def unsupported(cfg: Config, p4: P4InfoIndex) -> Iterable[str]:
    """Names of FULLNAT services the program cannot serve (it has no FULLNAT tables)."""
    if FullNatCodec.of(p4) is None:
        return [s.name for s in cfg.services if s.fullnat]
    return []


async def read_maps(conn, codec: FullNatCodec | None) -> dict[int, RestoredMap]:
    """The switch's `fullnat_sessions` entries by slot (C9 read-back); {} without FULLNAT."""
    if codec is None:
        return {}
    out: dict[int, RestoredMap] = {}
    for found in await conn.read([codec.read_query()]):
        if found.WhichOneof("entity") == "table_entry":
            m = codec.decode(found.table_entry)
            if m is not None:
                out[m.slot] = m
    return out


def adopt(s: Session, m: RestoredMap | None, server_key: tuple[int, int, int, int]) -> bool:
    """Give a session read back from the switch its FULLNAT tuple from the slot's map.
    False when the entries disagree: the server entry is keyed on a local tuple the
    map does not give, or the map is another flow's or another incarnation's (gen). A map next to a NAT-mode server
    entry (the client's own tuple) is an earlier incarnation's: ignored."""
    client, _vip, cport, _vport = s.flow
    rs, dst, rport, dport = server_key
    if (dst, dport) == (client, cport):
        s.laddr, s.lport = 0, 0
        return True
    if (m is None or (m.client, m.cport) != (client, cport)
            or (m.laddr, m.lport) != (dst, dport) or m.gen != s.gen):
        return False
    s.laddr, s.lport = m.laddr, m.lport
    return (rs, rport) == (s.rs_addr, s.rs_port)
