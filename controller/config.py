"""The controller's configuration: a YAML file, validated on load.

Every error names the file, the line and the field (`cfg.yaml:12: services[0].vip:
'10.0.0.300' is not an IPv4 or IPv6 address`), so an operator under attack can fix it
fast. Addresses are IPv4 or IPv6 (D13); a service's real servers are of its VIP's
family, a route's next hop of its prefix's (the switch translates no family into
the other: NAT46/64 is refused with an error saying so).
Unknown keys are errors too: a typo must not silently fall back to a default.
What depends on the program (how many services its counters hold) is checked against
the P4Info's sizes by `check_program`, once the controller has loaded it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import overload, p4consts
from .limits import IPV6_TABLES, OVERLOAD_TABLES, ProgramLimits
from .overload import Overload, Rate

_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


def family(address: str) -> int:
    """4 or 6: the family of an address, an address/prefix or a prefix."""
    return 6 if ":" in address else 4


def hostport(address: str, port: int) -> str:
    """ADDR:PORT, with an IPv6 address in brackets ([2001:db8::1]:80)."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def not_a_host(a: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Why an IPv6 address cannot be a host's (VIP, real server, neighbour), or ''
    (IPv4 addresses are taken as given)."""
    if a.version == 4:
        return ""
    if a.is_unspecified:
        return "the unspecified address"
    if a.is_loopback:
        return "the loopback address"
    if a.is_multicast:
        return "a multicast address"
    if a.is_link_local:
        return "a link-local address"
    if a.ipv4_mapped is not None or int(a) >> 32 == 0:
        return "an IPv4 address written as IPv6 (::/96, ::ffff:0:0/96)"
    return ""


class ConfigError(ValueError):
    def __init__(self, file: str, line: int, where: str, message: str) -> None:
        self.file, self.line, self.where = file, line, where
        at = f"{file}:{line}" if line else file  # line 0: the file as a whole
        super().__init__(f"{at}: {where}: {message}" if where else f"{at}: {message}")


# ----------------------------------------------------------------------------- the model


#: The MSS a service offers when its synack.mss is not given: a 1500-byte MTU less
#: the IP and TCP headers, 20 + 20 bytes for IPv4, 40 + 20 for IPv6 (D13).
MSS_DEFAULT = {4: 1460, 6: 1440}


@dataclass(frozen=True)
class SynAckOptions:
    """What the switch's SYN/ACK offers (DESIGN D2/D3). The mss default is an IPv4
    service's; an IPv6 service's is 1440 (its header is 40 bytes, not 20)."""

    mss: int = MSS_DEFAULT[4]
    wscale: int = 7
    sack: bool = True
    timestamps: bool = True
    window: int = 0  # 0 stops the client from sending data before the session exists
    ttl: int = 64


@dataclass(frozen=True)
class RealServer:
    address: str
    port: int
    weight: int = 1


@dataclass(frozen=True)
class AutoDefence:
    """C8: proxying switches on above `syn_rate_on` SYN/s and off after
    `quiet_seconds` below `syn_rate_off`."""

    syn_rate_on: float = 1000.0
    syn_rate_off: float = 200.0
    quiet_seconds: float = 10.0


@dataclass(frozen=True)
class HealthCheck:
    """C12, as keepalived's TCP_CHECK / HTTP_GET: each real server is probed every
    `interval` s (a probe fails after `timeout` s); `fall` failures in a row take it
    out of scheduling and the NAT buckets, `rise` successes in a row put it back."""

    type: str = "tcp"  # tcp: a connect; http: GET `path`, answered with `status`
    interval: float = 2.0
    timeout: float = 1.0
    rise: int = 2
    fall: int = 3
    port: int = 0  # 0: the real server's own port
    path: str = "/"
    status: int = 200


@dataclass(frozen=True)
class FullNat:
    """D7, FULLNAT: the proxy's local addresses (IPv4) that replace the client's towards
    the real servers, and the local ports each offers (`port_min`..`port_max`)."""

    local_addresses: tuple[str, ...] = ()
    port_min: int = 1024
    port_max: int = 65535

    @property
    def size(self) -> int:
        """(address, port) pairs per real server."""
        return len(self.local_addresses) * (self.port_max - self.port_min + 1)


@dataclass(frozen=True)
class Service:
    name: str
    vip: str
    port: int
    protocol: str = "tcp"
    mode: str = "on"  # off | on | auto
    nat: bool = True  # False: transparent (routed) mode, no address rewrite
    defer: bool = False
    scheduler: str = "wrr"  # wrr | hash | lc
    synack: SynAckOptions = SynAckOptions()
    auto: AutoDefence = AutoDefence()
    drop_udp: bool = True
    drop_fragments: bool = True
    # With the controller gone (no heartbeat within control.heartbeat_limit_seconds):
    # closed: new handshakes answered with a RST; open: not proxied, as mode off.
    controller_down: str = "closed"
    real_servers: tuple[RealServer, ...] = ()
    health: HealthCheck | None = None  # None: no health checks, every server is up
    # D15 (overload.py): SYN meter, and the policy for ICMP and other protocols to the VIP
    syn_rate: Rate | None = None  # None: no cap
    icmp: str = "drop"  # answer | pass | drop
    icmp_rate: Rate | None = None  # echo replies per second; None: no cap
    ipsec: str = "drop"  # AH and ESP: pass | drop
    other_protocols: str = "drop"  # pass | drop
    fullnat: FullNat | None = None  # D7: set: FULLNAT (the client address replaced)

    @property
    def forwarding(self) -> str:
        """D7: fullnat, nat or transparent."""
        return "fullnat" if self.fullnat else "nat" if self.nat else "transparent"

    @property
    def nat_unproxied(self) -> bool:
        """C8: a NAT service that forwards connections unproxied, so through the
        `nat_buckets` / `nat_reverse` tables: auto while calm, off, and on with the
        controller gone when its policy is open."""
        return self.nat and (self.mode != "on" or self.controller_down == "open")


@dataclass(frozen=True)
class Interface:
    """A switch port with the router addresses it owns on that subnet: an IPv4 one,
    an IPv6 one, or both (at least one)."""

    port: int
    mac: str
    address: str = ""  # "10.0.1.1/24"
    address6: str = ""  # "2001:db8:1::1/64"


@dataclass(frozen=True)
class Neighbour:
    address: str
    mac: str
    port: int


@dataclass(frozen=True)
class Route:
    prefix: str
    next_hop: str  # a neighbour's address


@dataclass(frozen=True)
class Timeouts:
    """Seconds a session may stay in each state without traffic (C6)."""

    syn_sent: float = 5.0
    established: float = 900.0
    fin_wait: float = 120.0
    close_wait: float = 60.0
    last_ack: float = 30.0
    time_wait: float = 60.0
    close: float = 10.0


@dataclass(frozen=True)
class Reuse:
    """C5: which states a valid new cookie ACK may restart; `enabled` is the master switch."""

    enabled: bool = True
    close: bool = True
    time_wait: bool = True
    fin_wait: bool = True
    close_wait: bool = True
    last_ack: bool = True


@dataclass(frozen=True)
class Sessions:
    max: int = 65536
    syn_retries: int = 3
    syn_timeout: float = 1.0  # first retransmission; doubles each time (C3)
    early_data_bytes: int = 65536  # per session (C4)
    timeouts: Timeouts = Timeouts()
    reuse: Reuse = Reuse()


@dataclass(frozen=True)
class Cookie:
    key: bytes | None = None  # None: a random key at start
    rotate_seconds: float = 60.0


@dataclass(frozen=True)
class Switch:
    address: str = "unix:/tmp/p4synproxy.sock"
    device_id: int = 0
    election_id: int = 1
    p4info: str = "build/p4sim/synproxy/p4info.txt"
    device_config: str = "build/p4sim/synproxy/synproxy.p4sim"
    cpu_port: int = p4consts.CPU_PORT


@dataclass(frozen=True)
class Metrics:
    listen: str = ""  # "127.0.0.1:9100"; empty: no HTTP endpoint


@dataclass(frozen=True)
class Control:
    """The running controller's operator side (C10) and its polling periods."""

    socket: str = ""  # unix socket served for `synproxyctl`; empty: none
    state_poll_seconds: float = 1.0  # session_state read (C6)
    auto_poll_seconds: float = 1.0  # SYN_IN counters of auto services (C8)
    log_format: str = "kv"  # kv | json
    summary_seconds: float = 10.0  # attack summaries: at most one log line per service
    # The heartbeat written to the switch (controller_heartbeat) every interval; past
    # the limit without one, the switch applies each service's controller_down policy.
    # A limit of 0: the switch never counts the controller as gone.
    heartbeat_seconds: float = 1.0
    heartbeat_limit_seconds: float = 10.0


@dataclass(frozen=True)
class Config:
    switch: Switch = Switch()
    interfaces: tuple[Interface, ...] = ()
    neighbours: tuple[Neighbour, ...] = ()
    routes: tuple[Route, ...] = ()
    bogons: tuple[str, ...] = ()  # D16: source prefixes to refuse beyond the defaults
    services: tuple[Service, ...] = ()
    cookie: Cookie = Cookie()
    sessions: Sessions = Sessions()
    metrics: Metrics = Metrics()
    control: Control = Control()
    overload: Overload = Overload()  # D15 (overload.py)
    path: str = ""
    #: The line of each field and list item ("services[2].port" -> 17), for errors
    #: found after parsing.
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def line_of(self, where: str) -> int:
        return self.lines.get(where, 1)


# ----------------------------------------------------------------------------- validation


@dataclass
class Schema:
    """What the validator checked, by field pattern ("services[].port"): `kinds` the
    check of each value, `records` the dataclass and allowed keys of each mapping."""

    kinds: dict[str, str] = field(default_factory=dict)
    records: dict[str, tuple[type, tuple[str, ...]]] = field(default_factory=dict)


def _pattern(where: str) -> str:
    return re.sub(r"\[\d+\]", "[]", where)


class _Reader:
    """Walks the YAML node tree, keeping line numbers for errors."""

    def __init__(self, file: str, trace: Schema | None = None) -> None:
        self.file = file
        self.lines: dict[str, int] = {}
        self.trace = trace

    def note(self, where: str, kind: str) -> None:
        """With a `trace`, record the check applied at `where` (the schema docs)."""
        if self.trace is not None:
            self.trace.kinds.setdefault(_pattern(where), kind)

    def fail(self, node: yaml.Node | None, where: str, message: str) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else 1
        return ConfigError(self.file, line, where, message)

    def mapping(self, node: yaml.Node, where: str, allowed: set[str]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, where, "expected a mapping (key: value lines)")
        out: dict[str, yaml.Node] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else None
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                raise self.fail(k, f"{where}.{key}" if where else str(key),
                                f"unknown key (expected one of: {hint})")
            if key in out:
                raise self.fail(k, f"{where}.{key}" if where else key, "duplicate key")
            out[key] = v
        return out

    def sequence(self, node: yaml.Node, where: str) -> list[yaml.Node]:
        self.note(where, "list")
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, where, "expected a list")
        return list(node.value)

    def scalar(self, node: yaml.Node, where: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, where, "expected a single value")
        return yaml.safe_load(yaml.serialize(node))

    def integer(self, node: yaml.Node, where: str, lo: int, hi: int) -> int:
        self.note(where, f"integer {lo}..{hi}")
        v = self.scalar(node, where)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(node, where, f"{v!r} is not an integer")
        if not lo <= v <= hi:
            raise self.fail(node, where, f"{v} is out of range {lo}..{hi}")
        return v

    def number(self, node: yaml.Node, where: str, lo: float, hi: float) -> float:
        self.note(where, f"number {lo:g}..{hi:g}")
        v = self.scalar(node, where)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.fail(node, where, f"{v!r} is not a number")
        if not lo <= v <= hi:
            raise self.fail(node, where, f"{v} is out of range {lo}..{hi}")
        return float(v)

    def boolean(self, node: yaml.Node, where: str) -> bool:
        self.note(where, "true | false")
        v = self.scalar(node, where)
        if not isinstance(v, bool):
            raise self.fail(node, where, f"{v!r} is not true/false")
        return v

    def string(self, node: yaml.Node, where: str, choices: tuple[str, ...] = ()) -> str:
        self.note(where, " | ".join(choices) if choices else "string")
        # Choices are read as written: YAML 1.1 would turn a bare `off`/`on` into a bool.
        v = node.value if choices and isinstance(node, yaml.ScalarNode) else self.scalar(node, where)
        if not isinstance(v, str) or not v:
            raise self.fail(node, where, f"{v!r} is not a non-empty string")
        if choices and v not in choices:
            raise self.fail(node, where, f"'{v}' is not one of {', '.join(choices)}")
        return v

    def ipv4(self, node: yaml.Node, where: str) -> str:
        self.note(where, "IPv4 address")
        v = str(self.scalar(node, where))
        try:
            return str(ipaddress.IPv4Address(v))
        except ValueError:
            raise self.fail(node, where, f"'{v}' is not an IPv4 address") from None

    def ip(self, node: yaml.Node, where: str) -> str:
        """An IPv4 or IPv6 address, in its canonical text (IPv6 compressed, lower case)."""
        self.note(where, "IPv4 or IPv6 address")
        v = str(self.scalar(node, where))
        try:
            return str(ipaddress.ip_address(v))
        except ValueError:
            raise self.fail(node, where, f"'{v}' is not an IPv4 or IPv6 address") from None

    def host_ip(self, node: yaml.Node, where: str) -> str:
        """An address a host can have: an IPv6 one that is not unspecified, loopback,
        multicast, link-local, or IPv4 written as IPv6 (::/96, ::ffff:0:0/96: the
        controller keys IPv6 flows and IPv4 flows apart by their addresses)."""
        v = self.ip(node, where)
        a = ipaddress.ip_address(v)
        why = not_a_host(a)
        if why:
            raise self.fail(node, where, f"'{v}' is {why}, not a host's address")
        return v

    def ipv4_iface(self, node: yaml.Node, where: str) -> str:
        self.note(where, "IPv4 address/prefix length")
        v = str(self.scalar(node, where))
        try:
            return str(ipaddress.IPv4Interface(v))
        except ValueError:
            raise self.fail(node, where, f"'{v}' is not an IPv4 address/prefix") from None

    def ipv6_iface(self, node: yaml.Node, where: str) -> str:
        self.note(where, "IPv6 address/prefix length")
        v = str(self.scalar(node, where))
        try:
            i = ipaddress.IPv6Interface(v)
        except ValueError:
            raise self.fail(node, where, f"'{v}' is not an IPv6 address/prefix") from None
        why = not_a_host(i.ip)
        if why:
            raise self.fail(node, where, f"'{v}': {i.ip} is {why}, not a gateway address")
        return str(i)

    def ip_net(self, node: yaml.Node, where: str) -> str:
        self.note(where, "IPv4 or IPv6 prefix")
        v = str(self.scalar(node, where))
        try:
            return str(ipaddress.ip_network(v))
        except ValueError as e:
            raise self.fail(node, where, f"'{v}' is not an IPv4 or IPv6 prefix ({e})") from None

    def host_port(self, node: yaml.Node, where: str) -> str:
        """HOST:PORT: an IPv4 address, a [bracketed] IPv6 address or a host name, and a
        port 1..65535."""
        self.note(where, "HOST:PORT (IPv4, [IPv6] or host name)")
        v = self.string(node, where)
        host, sep, port = v.rpartition(":")
        if not sep or not host:
            raise self.fail(node, where, f"'{v}' is not HOST:PORT (e.g. 127.0.0.1:9100)")
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise self.fail(node, where, f"'{v}': port '{port}' is not a number 1..65535")
        bare = host[1:-1] if host.startswith("[") and host.endswith("]") else None
        try:
            if bare is not None:
                ipaddress.IPv6Address(bare)
            elif all(c in "0123456789." for c in host) or not _HOSTNAME.fullmatch(host):
                ipaddress.IPv4Address(host)
        except ValueError:
            raise self.fail(node, where, f"'{v}': '{host}' is not an address or a host "
                                         "name") from None
        return v

    def grpc_target(self, node: yaml.Node, where: str) -> str:
        """A switch address: unix:PATH, unix-abstract:NAME or HOST:PORT."""
        self.note(where, "unix:PATH, unix-abstract:NAME or HOST:PORT")
        v = self.string(node, where)
        for scheme in ("unix:", "unix-abstract:"):
            if v.startswith(scheme):
                if len(v) == len(scheme) or "\0" in v:
                    raise self.fail(node, where, f"'{v}': expected {scheme}PATH")
                return v
        try:
            return self.host_port(node, where)
        except ConfigError as e:
            raise self.fail(node, where, f"'{v}' is not unix:PATH or HOST:PORT "
                                         f"({e.args[0].rsplit(': ', 1)[-1]})") from None

    def mac(self, node: yaml.Node, where: str) -> str:
        self.note(where, "MAC address")
        v = str(self.scalar(node, where)).lower()
        parts = v.split(":")
        if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p)
                                      for p in parts):
            raise self.fail(node, where, f"'{v}' is not a MAC address (aa:bb:cc:dd:ee:ff)")
        return v

    def record(self, cls: type, node: yaml.Node, where: str, fields: dict[str, Any],
               required: tuple[str, ...] = ()) -> Any:
        """Build dataclass `cls` from a mapping; `fields` maps key -> reader(node, where).
        An unknown key is reported before a missing `required` one (a typo `prot:`
        is named as such, not as a missing `port`)."""
        if self.trace is not None:
            self.trace.records.setdefault(_pattern(where), (cls, tuple(fields)))
        m = self.mapping(node, where, set(fields))
        for k in required:
            if k not in m:
                raise self.fail(node, where, f"missing required key '{k}'")
        self.lines[where] = node.start_mark.line + 1
        for k, v in m.items():
            self.lines[f"{where}.{k}" if where else k] = v.start_mark.line + 1
        kwargs = {k: fields[k](v, f"{where}.{k}" if where else k) for k, v in m.items()}
        try:
            return cls(**kwargs)
        except TypeError as e:  # a required field is missing
            raise self.fail(node, where, str(e)) from None


def fullnat_record(r: _Reader, n: yaml.Node, w: str) -> FullNat:
    """A service's `fullnat` mapping (D7)."""
    def addresses(node: yaml.Node, where: str) -> tuple[str, ...]:
        out: list[str] = []
        for i, x in enumerate(r.sequence(node, where)):
            r.note(f"{where}[{i}]", "IPv4 address")
            a = r.host_ip(x, f"{where}[{i}]")
            if family(a) != 4:
                raise r.fail(x, f"{where}[{i}]", f"{a} is IPv6: FULLNAT local addresses are "
                                                 "IPv4 (the TOA option carries IPv4)")
            if a in out:
                raise r.fail(x, f"{where}[{i}]", f"{a} is listed twice")
            out.append(a)
        return tuple(out)

    f = r.record(FullNat, n, w, {
        "local_addresses": addresses,
        "port_min": lambda n, w: r.integer(n, w, 1, 65535),
        "port_max": lambda n, w: r.integer(n, w, 1, 65535)}, ("local_addresses",))
    if not f.local_addresses:
        raise r.fail(_field_value(n, "local_addresses") or n, f"{w}.local_addresses",
                     "FULLNAT needs at least one local address")
    if f.port_min > f.port_max:
        raise r.fail(_field_value(n, "port_min") or n, f"{w}.port_min",
                     f"port_min {f.port_min} is above port_max {f.port_max}")
    return f


def check_fullnat_service(r: _Reader, n: yaml.Node, w: str, s: Service) -> None:
    """D7: what a FULLNAT service must be: proxied always (the unproxied NAT path has
    no local address), NAT, IPv4."""
    at = _field_value(n, "fullnat") or n
    if family(s.vip) != 4:
        raise r.fail(at, f"{w}.fullnat", f"the VIP {s.vip} is IPv6: FULLNAT is IPv4 only")
    if not s.nat:
        raise r.fail(at, f"{w}.fullnat", "FULLNAT rewrites addresses: it needs nat: true")
    if s.mode != "on" or s.controller_down != "closed":
        raise r.fail(at, f"{w}.fullnat",
                     f"FULLNAT needs mode: on and controller_down: closed (got mode "
                     f"{s.mode}, controller_down {s.controller_down}): a connection "
                     "forwarded unproxied would reach the real server from the client's "
                     "own address, which it has no route back to")


def check_fullnat_addresses(r: _Reader, item: Callable[[str, int], yaml.Node | None],
                            cfg: Config) -> None:
    """D7: a local address belongs to one service and is nobody else's address (a VIP,
    an interface, a neighbour or real server)."""
    others: dict[str, str] = {}
    for s in cfg.services:
        others.setdefault(s.vip, f"the VIP of service '{s.name}'")
        for rs in s.real_servers:
            others.setdefault(rs.address, f"a real server of service '{s.name}'")
    for iface in cfg.interfaces:
        if iface.address:
            others.setdefault(str(ipaddress.IPv4Interface(iface.address).ip),
                              f"the address of interface {iface.port}")
    for nb in cfg.neighbours:
        others.setdefault(nb.address, "a neighbour")
    owner: dict[str, str] = {}
    for i, s in enumerate(cfg.services):
        if s.fullnat is None:
            continue
        f_node = _field_value(item("services", i), "fullnat")
        seq = _field_value(f_node, "local_addresses")
        for j, a in enumerate(s.fullnat.local_addresses):
            node = seq.value[j] if isinstance(seq, yaml.SequenceNode) else None
            where = f"services[{i}].fullnat.local_addresses[{j}]"
            if a in others:
                raise r.fail(node or item("services", i), where, f"{a} is {others[a]}")
            prev = owner.setdefault(a, s.name)
            if prev != s.name:
                raise r.fail(node or item("services", i), where,
                             f"{a} is already a local address of service '{prev}'")


def _field_value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value node of `key` in a mapping node."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; raise ConfigError naming file:line: field."""
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(file, 0, "", f"cannot read: {e.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigError(file, line, "", f"not UTF-8 text (byte {data[e.start]:#04x} at "
                                          f"offset {e.start})") from None
    return parse_config(text, file)


def parse_config(text: str, file: str = "<config>", trace: Schema | None = None) -> Config:
    """Validate a config's text; with `trace`, record the checks applied (schema.py)."""
    r = _Reader(file, trace)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise ConfigError(file, line, "", f"not valid YAML: {getattr(e, 'problem', e)}") from None
    if root is None:
        raise ConfigError(file, 1, "", "the file is empty")

    port = lambda n, w: r.integer(n, w, 0, 510)  # noqa: E731 - v1model ports are 9 bits, 511 drops

    def synack(n: yaml.Node, w: str) -> SynAckOptions:
        return r.record(SynAckOptions, n, w, {
            "mss": lambda n, w: r.integer(n, w, 536, 9000),
            "wscale": lambda n, w: r.integer(n, w, 0, 14),
            "sack": r.boolean, "timestamps": r.boolean,
            "window": lambda n, w: r.integer(n, w, 0, 65535),
            "ttl": lambda n, w: r.integer(n, w, 1, 255)})

    def auto(n: yaml.Node, w: str) -> AutoDefence:
        a = r.record(AutoDefence, n, w, {
            "syn_rate_on": lambda n, w: r.number(n, w, 1, 1e9),
            "syn_rate_off": lambda n, w: r.number(n, w, 0, 1e9),
            "quiet_seconds": lambda n, w: r.number(n, w, 0, 86400)})
        if a.syn_rate_off > a.syn_rate_on:
            raise r.fail(n, w, "syn_rate_off must not exceed syn_rate_on (hysteresis)")
        return a

    def health(n: yaml.Node, w: str) -> HealthCheck:
        h = r.record(HealthCheck, n, w, {
            "type": lambda n, w: r.string(n, w, ("tcp", "http")),
            "interval": lambda n, w: r.number(n, w, 0.01, 3600),
            "timeout": lambda n, w: r.number(n, w, 0.01, 3600),
            "rise": lambda n, w: r.integer(n, w, 1, 100),
            "fall": lambda n, w: r.integer(n, w, 1, 100),
            "port": lambda n, w: r.integer(n, w, 0, 65535),
            "path": r.string, "status": lambda n, w: r.integer(n, w, 100, 599)})
        if not h.path.startswith("/") or any(c in h.path for c in " \r\n"):
            raise r.fail(_field_value(n, "path") or n, f"{w}.path",
                         f"'{h.path}' is not an HTTP path (/..., no spaces)")
        return h

    def real_server(n: yaml.Node, w: str) -> RealServer:
        return r.record(RealServer, n, w, {
            "address": r.host_ip, "port": lambda n, w: r.integer(n, w, 1, 65535),
            "weight": lambda n, w: r.integer(n, w, 0, 1000)}, ("address", "port"))

    def fullnat(n: yaml.Node, w: str) -> FullNat:
        return fullnat_record(r, n, w)

    def service(n: yaml.Node, w: str) -> Service:
        s = r.record(Service, n, w, {
            "name": r.string, "vip": r.host_ip, "port": lambda n, w: r.integer(n, w, 1, 65535),
            "protocol": lambda n, w: r.string(n, w, ("tcp",)),
            "mode": lambda n, w: r.string(n, w, ("off", "on", "auto")),
            "nat": r.boolean, "defer": r.boolean, "drop_udp": r.boolean,
            "drop_fragments": r.boolean,
            "controller_down": lambda n, w: r.string(n, w, ("open", "closed")),
            "scheduler": lambda n, w: r.string(n, w, ("wrr", "hash", "lc")),
            "synack": synack, "auto": auto, "health": health, "fullnat": fullnat,
            **overload.service_readers(r),
            "real_servers": lambda n, w: tuple(real_server(x, f"{w}[{i}]")
                                               for i, x in enumerate(r.sequence(n, w)))},
            ("name", "vip", "port"))
        if _field_value(_field_value(n, "synack"), "mss") is None:
            s = dataclasses.replace(s, synack=dataclasses.replace(
                s.synack, mss=MSS_DEFAULT[family(s.vip)]))
        for i, rs in enumerate(s.real_servers):
            if family(rs.address) != family(s.vip):
                seq = _field_value(n, "real_servers")
                at = seq.value[i] if isinstance(seq, yaml.SequenceNode) else n
                raise r.fail(at, f"{w}.real_servers[{i}]",
                             f"{rs.address} is IPv{family(rs.address)} but the VIP {s.vip} is "
                             f"IPv{family(s.vip)}: a service's real servers are of its VIP's "
                             "family (the switch does not translate IPv4 to IPv6 or back)")
        bad = overload.check_service_policies(s)
        if bad:
            raise r.fail(_field_value(n, bad[0]) or n, f"{w}.{bad[0]}", bad[1])
        if s.defer and s.synack.window == 0:
            raise r.fail(n, w, "defer needs a non-zero synack.window (the client must be "
                               "allowed to send data with its ACK)")
        if s.fullnat is not None:
            check_fullnat_service(r, n, w, s)
        if s.nat and not s.real_servers:
            raise r.fail(n, w, "a NAT service needs at least one real server")
        if s.real_servers and not any(rs.weight for rs in s.real_servers):
            raise r.fail(_field_value(n, "real_servers") or n, f"{w}.real_servers",
                         "every weight is 0: a service needs at least one real server "
                         "with a weight > 0")
        return s

    def required_record(cls: type, fields: dict[str, Any]) -> Any:
        """A reader of one `cls` record in which every field is required."""
        def read(n: yaml.Node, w: str) -> Any:
            return r.record(cls, n, w, fields, tuple(fields))
        return read

    def interface(n: yaml.Node, w: str) -> Interface:
        i = r.record(Interface, n, w, {"port": port, "mac": r.mac, "address": r.ipv4_iface,
                                       "address6": r.ipv6_iface}, ("port", "mac"))
        if not i.address and not i.address6:
            raise r.fail(n, w, "an interface needs an address (IPv4), an address6 (IPv6) "
                               "or both")
        return i

    def route(n: yaml.Node, w: str) -> Route:
        rt = r.record(Route, n, w, {"prefix": r.ip_net, "next_hop": r.host_ip},
                      ("prefix", "next_hop"))
        if family(rt.prefix) != family(rt.next_hop):
            raise r.fail(_field_value(n, "next_hop") or n, f"{w}.next_hop",
                         f"{rt.next_hop} is IPv{family(rt.next_hop)} but the prefix "
                         f"{rt.prefix} is IPv{family(rt.prefix)}")
        return rt

    def seq(reader):
        return lambda n, w: tuple(reader(x, f"{w}[{i}]") for i, x in enumerate(r.sequence(n, w)))

    def key(n: yaml.Node, w: str) -> bytes:
        r.note(w, "16 hex digits (8 bytes); absent: a random key")
        v = r.string(n, w)
        try:
            b = bytes.fromhex(v)
        except ValueError:
            raise r.fail(n, w, "the cookie key must be hex") from None
        if len(b) != 8:
            raise r.fail(n, w, f"the cookie key must be 8 bytes (16 hex digits), got {len(b)}")
        return b

    positive = lambda n, w: r.number(n, w, 0.001, 1e7)  # noqa: E731

    cfg = r.record(Config, root, "", {
        "switch": lambda n, w: r.record(Switch, n, w, {
            "address": r.grpc_target,
            "device_id": lambda n, w: r.integer(n, w, 0, 2**64 - 1),
            "election_id": lambda n, w: r.integer(n, w, 1, 2**64 - 1),
            "p4info": r.string, "device_config": r.string, "cpu_port": port}),
        "interfaces": seq(interface),
        "neighbours": seq(required_record(Neighbour, {
            "address": r.host_ip, "mac": r.mac, "port": port})),
        "routes": seq(route),
        "bogons": seq(r.ip_net),
        "services": seq(service),
        "cookie": lambda n, w: r.record(Cookie, n, w, {
            "key": key, "rotate_seconds": lambda n, w: r.number(n, w, 1, 86400)}),
        "sessions": lambda n, w: r.record(Sessions, n, w, {
            "max": lambda n, w: r.integer(n, w, 1, 1 << 24),
            "syn_retries": lambda n, w: r.integer(n, w, 0, 20),
            "syn_timeout": positive,
            "early_data_bytes": lambda n, w: r.integer(n, w, 0, 1 << 30),
            "timeouts": lambda n, w: r.record(Timeouts, n, w, {
                k: positive for k in Timeouts.__dataclass_fields__}),
            "reuse": lambda n, w: r.record(Reuse, n, w, {
                k: r.boolean for k in Reuse.__dataclass_fields__})}),
        "metrics": lambda n, w: r.record(Metrics, n, w, {"listen": r.host_port}),
        "control": lambda n, w: r.record(Control, n, w, {
            "socket": r.string, "state_poll_seconds": positive, "auto_poll_seconds": positive,
            "log_format": lambda n, w: r.string(n, w, ("kv", "json")),
            "summary_seconds": lambda n, w: r.number(n, w, 0.01, 3600),
            "heartbeat_seconds": lambda n, w: r.number(n, w, 0.01, 3600),
            "heartbeat_limit_seconds": lambda n, w: r.number(n, w, 0, 86400)}),
        "overload": lambda n, w: overload.read_overload(r, n, w, key),
    })
    _cross_check(r, root, cfg)
    return Config(**{**cfg.__dict__, "path": file, "lines": r.lines})


def ipv6_items(cfg: Config) -> list[tuple[str, str]]:
    """(field, address) of every IPv6 address the config gives the switch."""
    out = []
    for i, itf in enumerate(cfg.interfaces):
        if itf.address6:
            out.append((f"interfaces[{i}].address6", itf.address6))
    for i, nb in enumerate(cfg.neighbours):
        if family(nb.address) == 6:
            out.append((f"neighbours[{i}].address", nb.address))
    for i, rt in enumerate(cfg.routes):
        if family(rt.prefix) == 6:
            out.append((f"routes[{i}].prefix", rt.prefix))
    for i, b in enumerate(cfg.bogons):
        if family(b) == 6:
            out.append((f"bogons[{i}]", b))
    for i, s in enumerate(cfg.services):
        if family(s.vip) == 6:
            out.append((f"services[{i}].vip", s.vip))
    return out


def ipv6_refused() -> str:
    """Why an IPv6 address is refused by a program without the IPv6 tables."""
    return ("is IPv6, but the program has no IPv6 tables (" + ", ".join(IPV6_TABLES[:3])
            + " ...): load a program built with D13 (the v1model program) or use IPv4")


def _overload_asked(cfg: Config) -> str | None:
    """The first field that asks the switch for D15 (a rate, early drop, ICMP answers),
    or None. The policies drop and pass are not asked: a program without D15 routes
    those protocols as before it."""
    ov = cfg.overload
    for name in ("source_syn", "digests", "packet_ins"):
        if getattr(ov, name) is not None:
            return f"overload.{name}"
    if ov.early_drop > 0:
        return "overload.early_drop"
    for i, s in enumerate(cfg.services):
        for name in ("syn_rate", "icmp_rate"):
            if getattr(s, name) is not None:
                return f"services[{i}].{name}"
        if s.icmp == "answer":
            return f"services[{i}].icmp"
    return None


def check_program(cfg: Config, limits: ProgramLimits) -> None:
    """What the config asks of the program against what the program holds (its P4Info
    sizes); raise ConfigError naming the field."""
    file = cfg.path or "<config>"
    if not limits.ipv6:
        for where, addr in ipv6_items(cfg)[:1]:
            raise ConfigError(file, cfg.line_of(where), where, f"{addr} {ipv6_refused()}")
    if not limits.overload and (asked := _overload_asked(cfg)) is not None:
        raise ConfigError(file, cfg.line_of(asked), asked,
                          "asks for D15 (a rate cap, early drop or ICMP answers), but the "
                          "program has no " + ", ".join(OVERLOAD_TABLES) + " or meters: "
                          "load the v1model program or leave it out")
    if len(cfg.services) > limits.max_services:
        where = f"services[{limits.max_services}]"
        raise ConfigError(file, cfg.line_of(where), where,
                          f"{len(cfg.services)} services configured, the program holds "
                          f"{limits.max_services} (service ids 1..{limits.max_services}: "
                          "its counter service_events has room for no more)")


def _cross_check(r: _Reader, root: yaml.Node, cfg: Config) -> None:
    """Rules that span sections: unique names and VIPs, routes through known neighbours."""
    sections = {k.value: v for k, v in root.value} if isinstance(root, yaml.MappingNode) else {}

    def item(section: str, i: int) -> yaml.Node | None:
        node = sections.get(section)
        return node.value[i] if isinstance(node, yaml.SequenceNode) else node

    seen: dict[tuple[str, int, str], str] = {}
    for i, s in enumerate(cfg.services):
        k = (s.vip, s.port, s.protocol)
        if k in seen:
            raise r.fail(item("services", i), f"services[{i}]",
                         f"{s.vip}:{s.port}/{s.protocol} is already service '{seen[k]}'")
        seen[k] = s.name
    # C8: an unproxied NAT service's real servers have their answers translated by
    # source address and port (nat_reverse), so one real server serves one of them.
    nat_owner: dict[tuple[str, int], str] = {}
    for i, s in enumerate(cfg.services):
        if not s.nat_unproxied:
            continue
        for j, rs in enumerate(s.real_servers):
            other = nat_owner.setdefault((rs.address, rs.port), s.name)
            if other != s.name:
                seq = _field_value(item("services", i), "real_servers")
                node = seq.value[j] if isinstance(seq, yaml.SequenceNode) else None
                raise r.fail(node or item("services", i), f"services[{i}].real_servers[{j}]",
                             f"{rs.address}:{rs.port} already serves NAT service '{other}' "
                             "unproxied (auto/off mode, or on with controller_down: open): a real "
                             "server can back only one (its answers are translated back by "
                             "its address and port)")
    c = cfg.control
    if c.heartbeat_limit_seconds and c.heartbeat_limit_seconds < 2 * c.heartbeat_seconds:
        ctl = _field_value(root, "control")
        raise r.fail((_field_value(ctl, "heartbeat_limit_seconds") if ctl else None) or root,
                     "control.heartbeat_limit_seconds",
                     f"{c.heartbeat_limit_seconds:g} s is less than two heartbeats "
                     f"(heartbeat_seconds {c.heartbeat_seconds:g}): a late beat would "
                     "count as the controller gone (0 turns the heartbeat off)")
    clash = overload.vip_conflicts(enumerate(cfg.services))
    if clash:
        i, f, why = clash
        raise r.fail(_field_value(item("services", i), f) or item("services", i),
                     f"services[{i}].{f}", why)
    check_fullnat_addresses(r, item, cfg)
    names = [s.name for s in cfg.services]
    for i, n in enumerate(names):
        if names.index(n) != i:
            raise r.fail(item("services", i), f"services[{i}].name", f"duplicate name '{n}'")
    known = {nb.address for nb in cfg.neighbours}
    for i, route in enumerate(cfg.routes):
        if route.next_hop not in known:
            raise r.fail(item("routes", i), f"routes[{i}].next_hop",
                         f"{route.next_hop} is not in neighbours")
    ports = {i.port for i in cfg.interfaces}
    by_port = {i.port: i for i in cfg.interfaces}
    for i, nb in enumerate(cfg.neighbours):
        if ports and nb.port not in ports:
            raise r.fail(item("neighbours", i), f"neighbours[{i}].port",
                         f"port {nb.port} has no interface")
        iface = by_port.get(nb.port)
        if iface is not None and not (iface.address6 if family(nb.address) == 6
                                      else iface.address):
            key = "address6" if family(nb.address) == 6 else "address"
            raise r.fail(item("neighbours", i), f"neighbours[{i}].address",
                         f"{nb.address} is IPv{family(nb.address)} but the interface of port "
                         f"{nb.port} has no {key} (IPv{family(nb.address)}) to route it from")


__all__ = ["Config", "ConfigError", "family", "hostport", "not_a_host", "load_config", "parse_config", "check_program",
           "ipv6_refused", "MSS_DEFAULT",
           "Service", "RealServer", "HealthCheck", "FullNat",
           "SynAckOptions", "Sessions", "Timeouts", "Reuse", "Cookie", "Switch", "Control"]
