"""Test bench for the programs in p4src/: the program compiled by the software
target's in-process harness, with the entries a controller would install, and
helpers to build packets (scapy) and read back digests, counters and registers."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from controller import p4consts
from controller.cookie import Flow, key_words, make_cookie
from p4sim.backend.common.hashes import crc16
from p4sim.backend.harness import Harness

ROOT = Path(__file__).resolve().parents[2]
SYNPROXY = ROOT / "p4src" / "v1model" / "synproxy.p4"
FORWARDING = ROOT / "p4src" / "v1model" / "forwarding.p4"

CPU_PORT = p4consts.CPU_PORT
CLIENT_PORT = 1
SERVER_PORT = 2
REFLECT_SESSION_BASE = p4consts.REFLECT_SESSION_BASE

ROUTER_MAC = "00:00:00:00:00:aa"
CLIENT_MAC = "00:00:00:00:00:01"
SERVER_MAC = "00:00:00:00:00:02"
CLIENT_IP = "10.0.0.1"
VIP = "192.168.10.10"
VPORT = 80
RS_IP = "10.1.0.5"
RS_PORT = 8080

KEY = 0x0123456789ABCDEF
PREV_KEY = 0x1122334455667788
EPOCH = 5
PREV_EPOCH = 4

SVC_SACK, SVC_TS, SVC_WSCALE, SVC_DEFER = (
    p4consts.SVC_FLAGS[n] for n in ("SACK", "TS", "WSCALE", "DEFER")
)
#: What a service offers unless a test says otherwise: SACK, timestamps, window scale.
SVC_OFFERS = SVC_SACK | SVC_TS | SVC_WSCALE
PROXY_OFF, PROXY_ON, PROXY_AUTO = (p4consts.PROXY_MODES[n] for n in ("OFF", "ON", "AUTO"))
# Events: EV["SYN_IN"] is EV_SYN_IN.
EV = p4consts.EVENTS
(S_NONE, S_SYN_SENT, S_ESTABLISHED, S_FIN_WAIT, S_CLOSE_WAIT, S_LAST_ACK, S_TIME_WAIT, S_CLOSE) = (
    p4consts.SESSION_STATES[n]
    for n in (
        "NONE",
        "SYN_SENT",
        "ESTABLISHED",
        "FIN_WAIT",
        "CLOSE_WAIT",
        "LAST_ACK",
        "TIME_WAIT",
        "CLOSE",
    )
)

SERVICE_ID = 3


def ip2int(addr: str) -> int:
    return int(ipaddress.IPv4Address(addr))


def mac2int(mac: str) -> int:
    return int(mac.replace(":", ""), 16)


def client_flow(sport: int = 40000) -> Flow:
    return Flow(ip2int(CLIENT_IP), ip2int(VIP), sport, VPORT)


PENDING_SIZE = p4consts.PENDING_SIZE


def pending_slot(sport: int = 40000, client: str = CLIENT_IP, vip: str = VIP,
                 vport: int = VPORT) -> tuple[int, tuple[int, int, int]]:
    """(index, tuple) of a flow in the pending-handshake registers (proxy.p4, C4):
    the index is crc16 over client, VIP, client port, VIP port; the tuple is what
    pending_client, pending_vip and pending_ports hold (cport << 16 | vport)."""
    data = struct.pack("!IIHH", ip2int(client), ip2int(vip), sport, vport)
    return crc16(data) % PENDING_SIZE, (ip2int(client), ip2int(vip), sport << 16 | vport)


def csum_ok(data: bytes) -> bool:
    """IPv4 and TCP checksums of a frame are what scapy computes from scratch."""
    pkt = Ether(data)
    fresh = pkt.copy()
    del fresh[IP].chksum
    if TCP in fresh:
        del fresh[TCP].chksum
    fresh = Ether(bytes(fresh))
    ok = pkt[IP].chksum == fresh[IP].chksum
    if TCP in pkt:
        ok = ok and pkt[TCP].chksum == fresh[TCP].chksum
    return ok


def packet_out(frame: bytes, *, pipeline: bool, port: int = 0) -> bytes:
    """packet_out header: egress_port(9) _pad0(7) flags(8)."""
    header = ((port & 0x1FF) << 15) | (1 if pipeline else 0)
    return header.to_bytes(3, "big") + frame


def split_packet_in(data: bytes) -> tuple[dict[str, int], bytes]:
    """packet_in header: ingress_port(9) _pad0(7) reason(8) slot(32)."""
    value = int.from_bytes(data[:7], "big")
    fields = {
        "ingress_port": value >> 47,
        "reason": (value >> 32) & 0xFF,
        "slot": value & 0xFFFFFFFF,
    }
    return fields, data[7:]


@dataclass
class Bench:
    h: Harness
    names: dict[int, str] = field(default_factory=dict)

    # ------------------------------------------------------------ packets
    def process(self, port: int, pkt: Any) -> list[tuple[int, bytes]]:
        data = pkt if isinstance(pkt, bytes) else bytes(pkt)
        out = self.h.process(port, data)
        assert self.h.pipeline.faults == 0, "pipeline fault"
        return out

    def client_tcp(self, flags: str, seq: int, ack: int = 0, *, sport: int = 40000,
                   options: list[Any] | None = None, payload: bytes = b"",
                   window: int = 64240) -> Any:
        """A segment from the client (port `sport`) to the VIP."""
        return (Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / IP(src=CLIENT_IP, dst=VIP, id=7)
                / _tcp(sport, VPORT, flags, seq, ack, window, options) / payload)

    def server_tcp(self, flags: str, seq: int, ack: int = 0, *, sport: int = 40000,
                   options: list[Any] | None = None, payload: bytes = b"",
                   window: int = 65160) -> Any:
        """A segment from the real server to the client's port `sport`."""
        return (Ether(src=SERVER_MAC, dst=ROUTER_MAC) / IP(src=RS_IP, dst=CLIENT_IP, id=9)
                / _tcp(RS_PORT, sport, flags, seq, ack, window, options) / payload)

    # ------------------------------------------------------------ state
    def digests(self, name: str) -> list[tuple[Any, ...]]:
        did = self.h.digest_id(name)
        return [values for digest_id, values in self.h.digests if digest_id == did]

    def event(self, name: str, service_id: int = SERVICE_ID) -> tuple[int, int]:
        """(global packets, per-service packets) of an EV_* event."""
        ev = EV[name]
        glob = self.h.counter("global_events").packets[ev]
        per = self.h.counter("service_events").packets[service_id * p4consts.EVENTS_PER_SERVICE + ev]
        return glob, per

    def register(self, name: str, index: int) -> int:
        return self.h.register(name).values[index]

    def set_register(self, name: str, index: int, value: int) -> None:
        self.h.register(name).values[index] = value

    def pending_tuple(self, index: int) -> tuple[int, int, int]:
        """The 4-tuple a pending-handshake slot holds (client, VIP, ports)."""
        return tuple(self.register(f"pending_{n}", index)  # type: ignore[return-value]
                     for n in ("client", "vip", "ports"))

    # ------------------------------------------------------------ entries
    def add_service(
        self,
        *,
        mode: int = PROXY_ON,
        flags: int = SVC_OFFERS,
        mss: int = 1460,
        wscale: int = 7,
        window: int = 0,
        ttl: int = 64,
    ) -> None:
        self.h.add_entry(
            "services",
            [ip2int(VIP), (VPORT, 0xFFFF), (6, 0xFF)],
            "set_service",
            [SERVICE_ID, mode, flags, mss, wscale, window, ttl],
            priority=10,
        )
        self.h.add_entry(
            "services", [ip2int(VIP), None, None], "deny_service", [SERVICE_ID], priority=1
        )

    def set_keys(self) -> None:
        k0, k1 = key_words(KEY)
        p0, p1 = key_words(PREV_KEY)
        self.h.set_default("cookie_keys", "set_cookie_keys", [k0, k1, EPOCH, p0, p1, PREV_EPOCH])

    def cookie(
        self, isn: int, opts: int, *, sport: int = 40000, epoch: int = EPOCH, key: int = KEY
    ) -> int:
        return make_cookie(key, epoch, client_flow(sport), isn, opts)

    def install_session(
        self,
        slot: int,
        *,
        cookie: int,
        sport: int = 40000,
        ts_base: int = 0,
        client_window: int = 502,
        win_shift: int = 7,
        gen: int = 1,
        state: int | None = None,
    ) -> None:
        """What the controller does for a validated ACK (C2): both entries, with a
        new `gen`, nothing else. `state` (tests only) makes the slot look as if
        this incarnation had already reached that state: its registers are written
        with `gen`, delta and tsoff 0."""
        self.h.add_entry(
            "sessions",
            [ip2int(CLIENT_IP), ip2int(VIP), sport, VPORT],
            "set_client_session",
            [slot, SERVICE_ID, ip2int(RS_IP), RS_PORT, gen],
        )
        self.h.add_entry(
            "sessions",
            [ip2int(RS_IP), ip2int(CLIENT_IP), RS_PORT, sport],
            "set_server_session",
            [slot, SERVICE_ID, ip2int(VIP), VPORT, cookie, ts_base, client_window, win_shift,
             gen],
        )
        if state is not None:
            self.preset_slot(slot, gen, state)

    def preset_slot(self, slot: int, gen: int, state: int, delta: int = 0,
                    tsoff: int = 0) -> None:
        """Registers of a slot as an incarnation `gen` in `state` leaves them."""
        self.set_register("session_gen", slot, gen)
        self.set_register("session_state", slot, state)
        self.set_register("session_delta", slot, delta)
        self.set_register("session_tsoff", slot, tsoff)

    def restart_session(self, slot: int, *, cookie: int, gen: int, sport: int = 40000,
                        ts_base: int = 0, client_window: int = 502, win_shift: int = 7) -> None:
        """C5, restart in place: both entries modified with a new gen."""
        for key, action, args in (
            ([ip2int(CLIENT_IP), ip2int(VIP), sport, VPORT], "set_client_session",
             [slot, SERVICE_ID, ip2int(RS_IP), RS_PORT, gen]),
            ([ip2int(RS_IP), ip2int(CLIENT_IP), RS_PORT, sport], "set_server_session",
             [slot, SERVICE_ID, ip2int(VIP), VPORT, cookie, ts_base, client_window, win_shift,
              gen]),
        ):
            self.h.table("sessions").modify(tuple(key), 0, self.h.action_id(action), tuple(args))

    def free_session(self, slot: int, *, sport: int = 40000) -> None:
        """Free a slot: delete both entries, write nothing."""
        del slot  # the entries are keyed by their 4-tuples
        self.h.table("sessions").delete((ip2int(CLIENT_IP), ip2int(VIP), sport, VPORT), 0)
        self.h.table("sessions").delete((ip2int(RS_IP), ip2int(CLIENT_IP), RS_PORT, sport), 0)

    def defend(self, on: bool = True, service_id: int = SERVICE_ID) -> None:
        """C8: an AUTO service's defence on (a `defense` entry) or off (none)."""
        if on:
            self.h.add_entry("defense", [service_id], "set_defense_active")
        else:
            self.h.table("defense").delete((service_id,), 0)

    def set_passthrough_epoch(self, epoch: int) -> None:
        """C8: the flow filter's current epoch (`passthrough_epoch` default action)."""
        self.h.set_default("passthrough_epoch", "set_passthrough_epoch", [epoch])


def _tcp(sport: int, dport: int, flags: str, seq: int, ack: int, window: int,
         options: list[Any] | None) -> TCP:
    return TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=window,
               options=options or [])


def protected(h: Harness, **service: Any) -> Bench:
    """`h` set up as the controller would for one protected service: routes, the
    reflect clone sessions of both ports, keys, the service (`Bench.add_service`
    arguments)."""
    add_routes(h)
    for port in (CLIENT_PORT, SERVER_PORT):
        h.add_clone_session(REFLECT_SESSION_BASE + port, [(port, 1)])
    b = Bench(h)
    b.set_keys()
    b.add_service(**service)
    return b


def add_routes(h: Harness) -> None:
    """Router MAC, the client subnet on port 1 and the server subnet on port 2."""
    h.add_entry("router_macs", [mac2int(ROUTER_MAC)], "set_routed")
    h.add_entry(
        "ipv4_routes",
        [(ip2int("10.0.0.0"), 24)],
        "route_to",
        [CLIENT_PORT, mac2int(ROUTER_MAC), mac2int(CLIENT_MAC)],
    )
    h.add_entry(
        "ipv4_routes",
        [(ip2int("10.1.0.0"), 24)],
        "route_to",
        [SERVER_PORT, mac2int(ROUTER_MAC), mac2int(SERVER_MAC)],
    )
