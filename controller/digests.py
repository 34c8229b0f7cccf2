"""Digest lists from synproxy.p4, decoded by the member names the P4Info gives.

Member order comes from the P4Info's `type_info` (the struct declaration), never from
a copy in Python, so a field added to the P4 struct cannot shift the others silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from p4.v1 import p4data_pb2
from p4.v1 import p4runtime_pb2 as pb

from . import p4consts
from .p4info import P4InfoIndex
from .synpkt import Handshake

COOKIE_DIGEST = "cookie_ack_digest_t"
EVENT_DIGEST = "session_event_digest_t"
COOKIE_DIGEST_V6 = "cookie_ack_digest_v6_t"  # D13: the same members, addresses 128 bits
EVENT_DIGEST_V6 = "session_event_digest_v6_t"
EV_ESTABLISHED, EV_SERVER_RESET, EV_CLIENT_ABORT, EV_STATE = (
    p4consts.SESSION_EV_ESTABLISHED, p4consts.SESSION_EV_SERVER_RESET,
    p4consts.SESSION_EV_CLIENT_ABORT, p4consts.SESSION_EV_STATE)


@dataclass(frozen=True, slots=True)
class CookieAck:
    """cookie_ack_digest_t: a client ACK carried a valid cookie (D5)."""

    handshake: Handshake
    client_tsecr: int
    has_payload: bool
    ingress_port: int
    service_id: int
    old_slot: int
    old_state: int

    @property
    def flow(self) -> tuple[int, int, int, int]:
        h = self.handshake
        return (h.client_addr, h.vip_addr, h.client_port, h.vip_port)


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """session_event_digest_t (D8, D10): sent whenever a packet changed the slot's
    state; `state` is the state after it, `gen` the gen of the entry it hit."""

    slot: int
    event: int
    delta: int
    tsoff: int
    client_addr: int
    client_port: int
    state: int
    gen: int


# The members each record takes, in its constructor's order.
_HANDSHAKE = ("client_addr", "vip_addr", "client_port", "vip_port", "client_isn", "cookie",
              "mss", "wscale", "sack_ok", "ts_ok", "client_window", "client_tsval")
_COOKIE_ACK = ("client_tsecr", "has_payload", "ingress_port", "service_id", "old_slot",
               "old_state")
_EVENT = ("slot", "event", "delta", "tsoff", "client_addr", "client_port", "state", "gen")


class DigestDecoder:
    """Decodes the program's digests: IPv4's, and IPv6's (D13) where the P4Info has
    them, into the same records (an IPv6 address is an int above 2^32)."""

    def __init__(self, p4: P4InfoIndex) -> None:
        self.members: dict[int, list[str]] = {}
        self.ids: dict[str, int] = {}
        self._at: dict[int, list[int]] = {}
        self.cookie_ids: set[int] = set()
        # D13: where the addresses sit in each IPv6 digest, and how many were refused
        # for an address in ::/96 (below 2^32, it would be read as IPv4)
        self._v6_addrs: dict[int, list[int]] = {}
        self.refused_v6 = 0
        have = {d.preamble.name for d in p4.info.digests}
        for name in (COOKIE_DIGEST, EVENT_DIGEST, COOKIE_DIGEST_V6, EVENT_DIGEST_V6):
            if name in (COOKIE_DIGEST_V6, EVENT_DIGEST_V6) and name not in have:
                continue
            d = p4.get("digests", name)
            struct = p4.info.type_info.structs[d.type_spec.struct.name]
            members = self.members[d.preamble.id] = [m.name for m in struct.members]
            self.ids[name] = d.preamble.id
            cookie = name in (COOKIE_DIGEST, COOKIE_DIGEST_V6)
            if cookie:
                self.cookie_ids.add(d.preamble.id)
            # Where each record field sits in the struct (a ValueError names a missing one).
            self._at[d.preamble.id] = [members.index(n) for n in (
                (*_HANDSHAKE, *_COOKIE_ACK) if cookie else _EVENT)]
            if name in (COOKIE_DIGEST_V6, EVENT_DIGEST_V6):
                self._v6_addrs[d.preamble.id] = [members.index(n) for n in members
                                                 if n in ("client_addr", "vip_addr")]

    def decode(self, dl: pb.DigestList) -> tuple[int, int, list[CookieAck | SessionEvent]]:
        """A DigestList -> (digest_id, list_id, decoded digests). Digests of an
        unknown id, or whose member count does not match, are skipped."""
        did, lid = dl.digest_id, dl.list_id
        names = self.members.get(did)
        out: list[CookieAck | SessionEvent] = []
        if names is None:
            return did, lid, out
        cookies = did in self.cookie_ids
        at = self._at[did]
        n = len(names)
        v6_addrs = self._v6_addrs.get(did, ())
        for data in dl.data:
            values = struct_members(data)
            if len(values) != n:
                continue
            if any(values[i] >> 32 == 0 for i in v6_addrs):
                # An IPv6 address in ::/96 would key the flow as IPv4 (synpkt.is_ipv6):
                # no host of ours has one (config.not_a_host), and the program refuses
                # such sources (martian_sources_v6); one that gets here is dropped.
                self.refused_v6 += 1
                continue
            v = [values[i] for i in at]
            if cookies:
                v[8], v[9], v[13] = bool(v[8]), bool(v[9]), bool(v[13])
                out.append(CookieAck(Handshake(*v[:12]), *v[12:]))  # type: ignore[arg-type]
            else:
                out.append(SessionEvent(*v))
        return did, lid, out


def struct_members(data: p4data_pb2.P4Data) -> list[int]:
    """A digest's P4Data (a struct of bitstrings) -> its members' values; a lone
    bitstring is one member, anything else none."""
    frombytes = int.from_bytes
    kind = data.WhichOneof("data")
    if kind == "struct":
        return [frombytes(m.bitstring, "big") for m in data.struct.members]
    if kind == "bitstring":
        return [frombytes(data.bitstring, "big")]
    return []
