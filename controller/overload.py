"""D15 on the controller's side: the meters' rates, the source meters' key, and the
policy for ICMP and the other protocols to a VIP (p4src/v1model/control/meters.p4,
icmp.p4).

Config (read by `config.parse_config` through the readers here):

    services[i].syn_rate:   {rate, peak, burst}   SYNs/s that get cookies (none: no cap)
    services[i].icmp:       answer | pass | drop  echo requests to the VIP
    services[i].icmp_rate:  {rate, peak, burst}   echo replies/s the switch sends
    services[i].ipsec:      pass | drop           AH and ESP to the VIP
    services[i].other_protocols: pass | drop      any other protocol (not TCP/UDP/ICMP)
    overload.source_syn:    {rate, peak, burst}   SYNs/s per source /24
    overload.early_drop:    0..1                  drop probability of a SYN above a
                                                  committed rate (random early drop)
    overload.digests / overload.packet_ins: {rate, peak, burst}  what goes to the controller
    overload.key:           16 hex digits         the source meters' PRF key; absent: a
                                                  random key, kept across restarts

A rate is RFC 2698's two-rate marker in packets: below `rate` green, up to `peak`
(default: `rate`) yellow, above it red (dropped); `burst` is both buckets' depth
(default: one second at the bucket's rate). The policies of a VIP are those of its
services (which must agree): the switch looks them up by the service id of the VIP's
deny entry, the first protected service's.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import grpc
from p4.v1 import p4runtime_pb2

from . import entities as ent
from .cookie import key_words
from .p4info import P4InfoIndex

if TYPE_CHECKING:  # config imports this module's readers
    from .config import Config, Service

PROTO_ICMP, PROTO_UDP, PROTO_ESP, PROTO_AH = 1, 17, 50, 51
#: services-table priorities of the per-protocol deny entries (below the service's
#: and the UDP deny entry, as the fragments' entry: install.PRIO_DENY_FRAG).
PRIO_DENY_PROTO = 40
#: vip_protocols priorities: the named protocols above the "every other" entry.
PRIO_POLICY, PRIO_POLICY_OTHER = 10, 1

ICMP_POLICIES = ("answer", "pass", "drop")
PROTOCOL_POLICIES = ("pass", "drop")
POLICY_ACTION = {"answer": "icmp_answer", "pass": "protocol_pass", "drop": "protocol_drop"}
#: The policy fields of a service, which the services of one VIP must share.
POLICY_FIELDS = ("icmp", "icmp_rate", "ipsec", "other_protocols")

#: The rates an operator can change at run time, by name (admin, CLI).
GLOBAL_METERS = ("source_syn", "digests", "packet_ins")
SERVICE_METERS = ("syn_rate", "icmp_rate")
#: controller_meter's cells (defines.p4 METER_CELL_*).
CONTROLLER_CELLS = {"digests": 0, "packet_ins": 1}


@dataclass(frozen=True)
class Rate:
    """A meter's rates in packets: `rate` per second committed (green below), `peak`
    per second (yellow up to it, red above; 0: the same as `rate`), `burst` packets
    (0: one second's worth)."""

    rate: int
    peak: int = 0
    burst: int = 0

    def meter_config(self) -> tuple[int, int, int, int]:
        """(cir, cburst, pir, pburst) of a P4Runtime MeterConfig."""
        pir = max(self.peak, self.rate)
        cburst = self.burst or max(1, self.rate)
        pburst = max(self.burst or pir, cburst)
        return self.rate, cburst, pir, pburst

    def text(self) -> str:
        """RATE[/PEAK][:BURST], as the CLI takes it."""
        out = str(self.rate)
        if self.peak and self.peak != self.rate:
            out += f"/{self.peak}"
        if self.burst:
            out += f":{self.burst}"
        return out


@dataclass(frozen=True)
class Overload:
    """The switch-wide part of D15 (the per-service rates are the services')."""

    key: bytes | None = None  # None: a random key at the first start, kept after
    early_drop: float = 0.0
    source_syn: Rate | None = None
    digests: Rate | None = None
    packet_ins: Rate | None = None


def parse_rate(text: str) -> Rate:
    """RATE[/PEAK][:BURST] (the CLI's form); ValueError saying what is wrong."""
    head, _sep, burst = text.partition(":")
    rate, _sep, peak = head.partition("/")
    try:
        r = Rate(int(rate), int(peak) if peak else 0, int(burst) if burst else 0)
    except ValueError:
        raise ValueError(f"'{text}' is not RATE[/PEAK][:BURST] (integers)") from None
    check_rate(r)
    return r


def check_rate(r: Rate) -> None:
    if not 1 <= r.rate <= 10**9:
        raise ValueError(f"rate {r.rate} is out of range 1..1000000000")
    if r.peak and not r.rate <= r.peak <= 10**9:
        raise ValueError(f"peak {r.peak} must be between the rate ({r.rate}) and 1000000000")
    if not 0 <= r.burst <= 10**9:
        raise ValueError(f"burst {r.burst} is out of range 0..1000000000")


# ----------------------------------------------------------------------------- config


def read_rate(r: Any, n: Any, w: str) -> Rate:
    """A {rate, peak, burst} mapping (config.py's _Reader `r`)."""
    rate = r.record(Rate, n, w, {
        "rate": lambda n, w: r.integer(n, w, 1, 10**9),
        "peak": lambda n, w: r.integer(n, w, 0, 10**9),
        "burst": lambda n, w: r.integer(n, w, 0, 10**9)}, ("rate",))
    if rate.peak and rate.peak < rate.rate:
        raise r.fail(n, w, f"peak {rate.peak} is below the rate {rate.rate} (0: the same)")
    return rate


def read_overload(r: Any, n: Any, w: str, key_reader: Any) -> Overload:
    return r.record(Overload, n, w, {
        "key": key_reader,
        "early_drop": lambda n, w: r.number(n, w, 0, 1),
        **{m: lambda n, w: read_rate(r, n, w) for m in GLOBAL_METERS}})


def service_readers(r: Any) -> dict[str, Any]:
    """The readers of a service's D15 keys, merged into config.py's service record."""
    return {"icmp": lambda n, w: r.string(n, w, ICMP_POLICIES),
            "ipsec": lambda n, w: r.string(n, w, PROTOCOL_POLICIES),
            "other_protocols": lambda n, w: r.string(n, w, PROTOCOL_POLICIES),
            **{m: lambda n, w: read_rate(r, n, w) for m in SERVICE_METERS}}


def check_service_policies(s: Service) -> tuple[str, str] | None:
    """(field, why) if a service's protocol policies cannot be carried out. `pass`
    routes the packet to the VIP as it came: only a transparent service has its
    servers behind the VIP."""
    for f in ("icmp", "ipsec", "other_protocols"):
        if getattr(s, f) == "pass" and s.nat:
            return f, ("pass needs a transparent service (nat: false): the packet is routed "
                       "to the VIP unchanged, and a NAT service's VIP leads to no server")
    return None


def vip_conflicts(services: Iterable[tuple[int, Service]]) -> tuple[int, str, str] | None:
    """(index, field, message) of the first service whose protocol policies differ from an
    earlier service's on the same VIP, or None."""
    first: dict[str, Service] = {}
    for i, s in services:
        if s.mode == "off":
            continue
        other = first.setdefault(s.vip, s)
        for f in POLICY_FIELDS:
            if getattr(s, f) != getattr(other, f):
                return i, f, (f"{f} differs from service '{other.name}' on the same VIP "
                           f"{s.vip}: a VIP has one policy for ICMP and other protocols")
    return None


# ----------------------------------------------------------------------------- entries


def vip_owners(services: Mapping[int, Service]) -> dict[str, int]:
    """VIP -> the service id of its deny entries: the first protected service's
    (install.deny_entries' rule)."""
    out: dict[str, int] = {}
    for sid, s in sorted(services.items()):
        if s.mode != "off":
            out.setdefault(s.vip, sid)
    return out


def has_overload_objects(p4: P4InfoIndex) -> bool:
    """Whether the program has D15's switch side (vip_protocols, overload_config and
    the meters). A program without it (the TNA one, so far) gets none of their
    entries: ICMP and the other protocols are routed as before D15, no rate capped."""
    from .limits import has_overload_tables

    return has_overload_tables(p4)


def protocol_entries(p4: P4InfoIndex, services: Mapping[int, Service]
                     ) -> list[p4runtime_pb2.TableEntry]:
    """Per protected IPv4 VIP: its vip_protocols entries, and, when its service does
    not drop fragments (so there is no vport-0 deny entry that ICMP, AH and ESP
    would hit), per-protocol deny entries that bring them to a policy other than
    pass (a deny entry would also catch the protocol's fragments: with pass they are
    routed, unfragmented or not, uncounted). Other protocols then have no entry:
    they are routed as before. None for a program without D15's objects."""
    out: list[p4runtime_pb2.TableEntry] = []
    if not has_overload_objects(p4):
        return out
    for vip, sid in vip_owners(services).items():
        if ":" in vip:
            continue  # IPv6 VIPs: with the IPv6 services' entries, not installed yet
        s = services[sid]
        if not s.drop_fragments:
            for proto, policy in ((PROTO_ICMP, s.icmp), (PROTO_ESP, s.ipsec),
                                  (PROTO_AH, s.ipsec)):
                if policy == "pass":
                    continue
                out.append(ent.table_entry(p4, "services", {"vip": vip, "proto": proto},
                                           "deny_service", {"service_id": sid},
                                           priority=PRIO_DENY_PROTO))
        for proto, policy in ((PROTO_ICMP, s.icmp), (PROTO_ESP, s.ipsec), (PROTO_AH, s.ipsec)):
            out.append(ent.table_entry(p4, "vip_protocols", {"service_id": sid, "proto": proto},
                                       POLICY_ACTION[policy], priority=PRIO_POLICY))
        out.append(ent.table_entry(p4, "vip_protocols", {"service_id": sid},
                                   POLICY_ACTION[s.other_protocols], priority=PRIO_POLICY_OTHER))
    return out


def early_drop_param(p: float) -> int:
    """overload_config's early_drop: the probability in 1/256 (0..256)."""
    return max(0, min(256, round(p * 256)))


def random_key() -> int:
    return secrets.randbits(64)


def overload_entry(p4: P4InfoIndex, key: int, early_drop: float) -> p4runtime_pb2.TableEntry:
    """The keyless overload_config's default action: the source meters' PRF key
    (key_words: as the cookie key's) and the early-drop probability."""
    k0, k1 = key_words(key)
    return ent.table_entry(p4, "overload_config", None, "set_overload",
                           {"key0": k0, "key1": k1, "early_drop": early_drop_param(early_drop)},
                           is_default=True)


def key_of_entry(p4: P4InfoIndex, e: p4runtime_pb2.TableEntry) -> int | None:
    """The key an overload_config default entry holds, or None (unset_overload)."""
    act = e.action.action
    if act.action_id != p4.action_id("set_overload"):
        return None
    names = {p.id: p.name for p in p4.action("set_overload").params}
    v = {names[p.param_id]: ent.to_int(p.value) for p in act.params}
    return v["key0"] | v["key1"] << 32


def key_int(key: bytes) -> int:
    """A config key (8 bytes, as the cookie key: view.py) as the 64-bit value
    key_words takes."""
    return int.from_bytes(key, "little")


MeterCell = tuple[str, int | None]  # (meter name, cell; None: every cell)


def meter_plan(cfg_overload: Overload, services: Mapping[int, Service]
               ) -> dict[MeterCell, Rate | None]:
    """Every meter cell the controller owns and the rate it should hold (None:
    unconfigured, everything green)."""
    plan: dict[MeterCell, Rate | None] = {
        cell: getattr(cfg_overload, m) for m in GLOBAL_METERS for cell in global_cells(m)}
    owners = set(vip_owners(services).values())
    for sid, s in services.items():
        plan.update(service_cells(sid, s, sid in owners))
    return plan


def global_cells(meter: str) -> list[MeterCell]:
    """The cells of a switch-wide meter setting (GLOBAL_METERS)."""
    if meter == "source_syn":
        return [("source_syn_meter_a", None), ("source_syn_meter_b", None)]
    return [("controller_meter", CONTROLLER_CELLS[meter])]


def service_cells(sid: int, s: Service, owner: bool = True) -> dict[MeterCell, Rate | None]:
    """The meter cells of service `sid` (its ICMP answer cell when it owns its VIP's
    entries)."""
    out: dict[MeterCell, Rate | None] = {("service_syn_meter", sid): s.syn_rate}
    if owner:
        out[("icmp_echo_meter", sid)] = s.icmp_rate
    return out


def meter_entries(p4: P4InfoIndex, plan: Mapping[MeterCell, Rate | None]
                  ) -> list[p4runtime_pb2.MeterEntry]:
    return [ent.meter_entry(p4, name, index, rate.meter_config() if rate else None)
            for (name, index), rate in plan.items()]


def rate_of_config(c: p4runtime_pb2.MeterConfig) -> Rate | None:
    """What a MeterConfig read back from the switch says, as a Rate (None: none)."""
    if not c.cir and not c.pir:
        return None
    peak = int(c.pir) if c.pir != c.cir else 0
    plain = Rate(int(c.cir), peak)  # the default bursts: the shortest text
    if plain.meter_config() == (c.cir, c.cburst, c.pir, c.pburst):
        return plain
    return Rate(int(c.cir), peak, int(c.cburst if c.cburst == c.pburst else 0))


def read_queries(p4: P4InfoIndex, plan: Mapping[MeterCell, Rate | None]
                 ) -> list[p4runtime_pb2.Entity]:
    """One read per planned cell (a meter written for every cell is read at cell 0)."""
    out = []
    for name, index in plan:
        q = p4runtime_pb2.Entity()
        q.meter_entry.CopyFrom(ent.meter_entry(p4, name, 0 if index is None else index))
        out.append(q)
    return out


def same_rate(a: Rate | None, b: Rate | None) -> bool:
    """Equal as the switch holds them (the configs they write)."""
    return (a.meter_config() if a else None) == (b.meter_config() if b else None)


def describe(cfg: Config) -> dict[str, Any]:
    """The D15 settings of a config, for status and the CLI."""
    o = cfg.overload
    return {"early_drop": o.early_drop,
            **{m: getattr(o, m).text() if getattr(o, m) else None for m in GLOBAL_METERS},
            "services": {s.name: {"syn_rate": s.syn_rate.text() if s.syn_rate else None,
                                  "icmp": s.icmp,
                                  "icmp_rate": s.icmp_rate.text() if s.icmp_rate else None,
                                  "ipsec": s.ipsec, "other_protocols": s.other_protocols}
                         for s in cfg.services}}


# ----------------------------------------------------------------------------- start-up


def _default_query(p4: P4InfoIndex, table: str) -> p4runtime_pb2.Entity:
    e = p4runtime_pb2.Entity()
    e.table_entry.table_id = p4.table_id(table)
    e.table_entry.is_default_action = True
    return e


@dataclass
class OverloadState:
    """D15 as it runs: the switch-wide settings (the config's, as changed at run time),
    the key, what was written, and what was found at start-up."""

    settings: Overload = Overload()
    key: int | None = None  # None until the first start-up sync
    plan: dict[MeterCell, Rate | None] = field(default_factory=dict)
    #: The rates the switch held at start-up, of the cells that differed from the plan.
    found: dict[MeterCell, Rate | None] = field(default_factory=dict)


async def read_meters(conn: Any, p4: P4InfoIndex, cells: Iterable[MeterCell]
                      ) -> dict[MeterCell, Rate | None]:
    """The rates the switch holds in `cells` (a cell written for every index is read
    at index 0)."""
    cells = list(cells)
    by_key = {(p4.get("meters", name).preamble.id, 0 if index is None else index): (name, index)
              for name, index in cells}
    out: dict[MeterCell, Rate | None] = {}
    for e in await conn.read(read_queries(p4, dict.fromkeys(cells))):
        me = e.meter_entry
        cell = by_key.get((me.meter_id, me.index.index))
        if cell is not None:
            out[cell] = rate_of_config(me.config) if me.HasField("config") else None
    return out


async def start(conn: Any, p4: P4InfoIndex, state: OverloadState,
                services: Mapping[int, Service], read_back: bool, log: Any) -> None:
    """At start-up: the source meters' key (the config's; else, on a switch that kept
    its pipeline, the key it holds, so every prefix keeps its cells; else the one
    this controller already used, or a new random one), early drop, and every
    meter's rate from the settings. With `read_back`, the rates the switch held are
    read first and each difference is logged (and kept in `state.found`)."""
    state.plan = meter_plan(state.settings, services)
    state.found = {}
    if not has_overload_objects(p4):
        log.info("event=no_overload_objects detail='the program has no D15 meters or "
                 "protocol policies: none written'")
        return
    key = key_int(state.settings.key) if state.settings.key else None
    if read_back:
        try:
            if key is None:
                for e in await conn.read([_default_query(p4, "overload_config")]):
                    key = key_of_entry(p4, e.table_entry) or None
            held = await read_meters(conn, p4, state.plan)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            log.warning("event=no_meter_reads detail=%r: the rates held are not read back",
                        exc.details())
            held = {}
        for cell, rate in held.items():
            want = state.plan[cell]
            if not same_rate(rate, want):
                state.found[cell] = rate
                log.info("event=meter_rate_reset meter=%s cell=%s held=%s config=%s",
                         cell[0], "all" if cell[1] is None else cell[1],
                         rate.text() if rate else "none", want.text() if want else "none")
    if key is None:
        key = state.key if state.key is not None else random_key()
    state.key = key
    await write(conn, p4, state, state.plan)


async def write(conn: Any, p4: P4InfoIndex, state: OverloadState,
                cells: Mapping[MeterCell, Rate | None], key: bool = True) -> None:
    """Write overload_config (with `key`) and the rates of `cells`, in one request."""
    from .entities import update

    if not has_overload_objects(p4):
        return
    ups = []
    if key and state.key is not None:
        ups.append(update("MODIFY", overload_entry(p4, state.key, state.settings.early_drop)))
    ups += [update("MODIFY", m) for m in meter_entries(p4, cells)]
    await conn.write(ups)
