"""Base class of the PTF tests of p4src/v1model/synproxy.p4.

`SynproxyTest` sets the switch up as the controller would for one protected service
(p4src/README.md): the router MAC, routes to the client, server and plain-host
subnets, an ARP answer for the VIP, the reflect clone sessions 512 + p, both digests,
the cookie keys, the service and a low-priority deny entry for the rest of the VIP.
Every write goes through P4RuntimeTest, which undoes it in tearDown.

The control plane needs no register access (p4src/README.md): sessions are
installed with a new `gen` and no register write, the defence is a `defense` entry,
and every test starts its own `passthrough_epoch` (an epoch no earlier test of the
run used), so flows an earlier test left in the filter count as unseen; tearDown
restores the program's default epoch. Tests may still read registers on p4sim.

A validated ACK leaves a pending-handshake entry (C4) that would offer its ISN to
the same flow in a later test; every client segment a test sends marks its flow's
pending slot, and tearDown empties those slots again (a register write: p4sim).

D13: a class with `family = 6` runs the same test over IPv6: setUp also routes the
IPv6 subnets, answers ND for the IPv6 VIP, installs the service in `services_v6`, and
the packet builders of synproxy_packets default to the IPv6 addresses (`use_family`);
digests are then read as their _v6 twins, sessions installed in `sessions_v6`.

On p4sim, `advance_clock` moves the switch's clock (p4sim's test clock,
`p4sim --test-clock`, set up by ptf-tests/run.py); tests that need it skip on bmv2.

Counters are never reset between tests (v1model counters only grow), so tests look
at deltas: `snapshot()` before, `assert_events()` after, which waits (by polling)
until the packets sent have been counted and then checks every proxy event, so an
extra or missing event fails the test as surely as a wrong packet.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from base_test import P4RuntimeTest, p4rt_entity
from ptf import testutils as tu
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from synproxy_packets import (
    CLIENT_MAC,
    CLIENT_NET,
    CLIENT_PORT,
    CLIENT_SPORT,
    EPOCH,
    EV,
    FAMILIES,
    KEY,
    OTHER_MAC,
    OTHER_NET,
    OTHER_PORT,
    REFLECT_SESSION_BASE,
    ROUTER_MAC,
    RS_MAC,
    RS_NET,
    RS_PORT,
    SERVER_PORT,
    SERVICE_ID,
    V4,
    VIP,
    VPORT,
    Family,
    ServiceSettings,
    describe,
    expected_synack,
    flow_bit,
    ip2int,
    key_params,
    option_value,
    pending_slot,
    use_family,
)

from controller import entities, p4consts
from p4sim.testclock import read_offset, write_offset

COOKIE_DIGEST = "cookie_ack_digest_t"
EVENT_DIGEST = "session_event_digest_t"
WAIT = 10.0  # seconds to wait for something that must happen (not a timing assertion)
QUIET = 0.5  # seconds to wait for something that must not happen

# Session generations: new for every install and restart of the run, so that no
# session sees what an earlier test's session left in its slot's registers.
_gens = itertools.count(random.randrange(1, 1 << 30))
# Flow-filter epochs, one per test (2..255, then around again skipping 0; a run has
# fewer tests than that, and the switch starts empty).
_epochs = itertools.count(2)


def ipv6_variants(*classes: type) -> dict[str, type]:
    """D13: each test class's twin over IPv6 (`family = 6`), named ...V6Test, for a
    module to add to its namespace: the same behaviour checked with exact IPv6
    packets, parametrised rather than copied. The twins are in ptf group "ipv6" too
    (a list of their own: ptf appends to the inherited one otherwise)."""
    out: dict[str, type] = {}
    for cls in classes:
        name = cls.__name__.removesuffix("Test") + "V6Test"
        out[name] = type(name, (cls,), {
            "family": 6, "__module__": cls.__module__,
            "_groups": [*getattr(cls, "_groups", []), "ipv6"],
            "__doc__": f"{cls.__doc__ or cls.__name__}\n\n(IPv6: family 6.)"})
    return out


def next_gen() -> int:
    return next(_gens)


def next_epoch() -> int:
    return (next(_epochs) - 1) % 255 + 1


class SynproxyTest(P4RuntimeTest):
    """synproxy.p4 configured with one protected service; helpers for events,
    digests, registers, sessions and exact packet checks."""

    #: The protected service's settings; subclasses override to test others.
    service = ServiceSettings()
    #: Whether setUp installs the (VIP, *, *) deny entry (D6's "per policy").
    deny_rest_of_vip = True
    #: The address family of the protected service and the test's packets (D13).
    family = 4

    def setUp(self) -> None:
        self.fam: Family = FAMILIES[self.family]
        use_family(self.fam)
        self.addCleanup(use_family, V4)  # also when setUp fails (tearDown is skipped)
        super().setUp()
        self.insert("router_macs", {"dst_mac": ROUTER_MAC}, "set_routed")
        for net, port, mac in ((CLIENT_NET, CLIENT_PORT, CLIENT_MAC),
                               (RS_NET, SERVER_PORT, RS_MAC),
                               (OTHER_NET, OTHER_PORT, OTHER_MAC)):
            self.insert("ipv4_routes", {"dst_addr": net}, "route_to",
                        {"port": port, "src_mac": ROUTER_MAC, "dst_mac": mac})
        self.insert("arp_replies", {"target_ip": VIP}, "reply_arp", {"mac": ROUTER_MAC})
        if self.family == 6:
            for net, port, mac in ((self.fam.client_net, CLIENT_PORT, CLIENT_MAC),
                                   (self.fam.rs_net, SERVER_PORT, RS_MAC),
                                   (self.fam.other_net, OTHER_PORT, OTHER_MAC)):
                self.insert("ipv6_routes", {"dst_addr": net}, "route_to",
                            {"port": port, "src_mac": ROUTER_MAC, "dst_mac": mac})
            self.insert("nd_replies", {"target": self.fam.vip}, "reply_na",
                        {"mac": ROUTER_MAC})
        for port in self.ports:
            self.add_clone_session(REFLECT_SESSION_BASE + port, [(port, 1)])
        digests = {d.preamble.name for d in self.p4.info.digests}
        for name in (COOKIE_DIGEST, EVENT_DIGEST):
            self.enable_digest(name)
            if name.replace("_t", "_v6_t") in digests:  # D13 (not on TNA yet)
                self.enable_digest(name.replace("_t", "_v6_t"))
        self.set_keys()
        self.epoch = next_epoch()
        self.set_default("passthrough_epoch", "set_passthrough_epoch", {"epoch": self.epoch})
        self.set_service(self.service)
        if self.deny_rest_of_vip:
            self.insert(f"services{self.fam.suffix}", {"vip": self.fam.vip}, "deny_service",
                        {"service_id": SERVICE_ID}, priority=1)
        self._digest_members = {
            name: self._struct_members(name)
            for base in (COOKIE_DIGEST, EVENT_DIGEST)
            for name in (base, base.replace("_t", "_v6_t")) if name in digests}
        self.before = self.snapshot()
        self._other_digests: list = []  # digests read while looking for another kind
        self._pending_slots: set[int] = set()  # pending_since cells emptied in tearDown

    def tearDown(self) -> None:
        try:
            # A register write, so p4sim only (bmv2 has no register access): there
            # an entry lapses after PENDING_LIFETIME (~10 s) instead; and only for a
            # program that has the pending registers.
            has_pending = any(r.preamble.alias == "pending_since" for r in self.p4.info.registers)
            if self._pending_slots and self.target == "p4sim" and has_pending:
                self.client.write([entities.update("MODIFY", entities.register_entry(
                    self.p4, "pending_since", index, 0))
                    for index in sorted(self._pending_slots)])
        finally:
            use_family(V4)
            super().tearDown()

    # ------------------------------------------------------------------ clock

    def require_test_clock(self) -> None:
        """Skip unless the target's clock can be moved (p4sim's test clock)."""
        if self.target != "p4sim" or not tu.test_param_get("clock_file"):
            self.skipTest(f"moving the switch's clock needs p4sim's test clock "
                          f"(target {self.target} has none)")

    def advance_clock(self, microseconds: int) -> None:
        """Move the switch's clock forward (p4sim's test clock: an offset in ns in a
        file the switch maps). The offset stays for the rest of the run."""
        path = tu.test_param_get("clock_file")
        write_offset(path, read_offset(path) + microseconds * 1000)

    # ------------------------------------------------------------------ configuration

    def set_keys(self, **kwargs: int) -> None:
        """Set the cookie keys (`key_params` arguments: key, epoch, prev_key, prev_epoch)."""
        self.set_default("cookie_keys", "set_cookie_keys", key_params(**kwargs))

    def set_service(self, svc: ServiceSettings, priority: int = 10) -> None:
        """The (VIP, VPORT, TCP) service entry of the family; a higher priority
        shadows setUp's."""
        self.insert(f"services{self.fam.suffix}", {"vip": self.fam.vip, "vport": VPORT,
                                                    "proto": 6},
                    "set_service", svc.params(), priority=priority)

    # ------------------------------------------------------------------ counters

    def _event_entities(self, service_id: int) -> list:
        ents = []
        for ev in sorted(EV.values()):
            ents.append(p4rt_entity(counter_entry=entities.counter_entry(
                self.p4, "global_events", ev)))
            ents.append(p4rt_entity(counter_entry=entities.counter_entry(
                self.p4, "service_events", service_id * p4consts.EVENTS_PER_SERVICE + ev)))
        return ents

    def snapshot(self, service_id: int = SERVICE_ID) -> dict[str, tuple[int, int]]:
        """Packets counted per event: {name: (global, service)}, read in one Read."""
        ents = self.client.read(self._event_entities(service_id))
        by_index: dict[tuple[int, int], int] = {}
        gid = self.p4.get("counters", "global_events").preamble.id
        for e in ents:
            ce = e.counter_entry
            by_index[(int(ce.counter_id == gid), ce.index.index)] = ce.data.packet_count
        out = {}
        for name, ev in EV.items():
            out[name] = (by_index.get((1, ev), 0),
                         by_index.get((0, service_id * p4consts.EVENTS_PER_SERVICE + ev), 0))
        return out

    def event_deltas(self, since: Mapping[str, tuple[int, int]] | None = None,
                     service_id: int = SERVICE_ID) -> dict[str, tuple[int, int]]:
        since = since if since is not None else self.before
        now = self.snapshot(service_id)
        return {name: (now[name][0] - since[name][0], now[name][1] - since[name][1])
                for name in now
                if now[name] != since[name]}

    def assert_events(self, expected: Mapping[str, int | tuple[int, int]],
                      since: Mapping[str, tuple[int, int]] | None = None,
                      service_id: int = SERVICE_ID) -> None:
        """Wait until the events in `expected` have grown by exactly those counts,
        then check that no other event moved. A count n means n globally and n for
        the service; a pair gives the two apart (traffic of several services)."""
        want = {name: n if isinstance(n, tuple) else (n, n)
                for name, n in expected.items() if n}
        deltas: dict[str, tuple[int, int]] = {}

        def settled() -> bool:
            nonlocal deltas
            deltas = self.event_deltas(since, service_id)
            return all(deltas.get(k, (0, 0))[0] >= v[0] for k, v in want.items())

        self.wait_until(settled, "the events to be counted", fail=False)
        self.assertEqual(deltas, want, "event counters (global, per service) moved "
                         "differently from what was sent")

    # ------------------------------------------------------------------ waiting

    def wait_until(self, predicate: Callable[[], bool], what: str, timeout: float = WAIT,
                   fail: bool = True) -> bool:
        """Poll `predicate`; the test fails if it stays false for `timeout`
        seconds (unless `fail` is False: then the caller checks)."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() > deadline:
                if fail:
                    self.fail(f"timed out waiting for {what}")
                return False
            time.sleep(0.02)

    # ------------------------------------------------------------------ digests

    def _struct_members(self, digest: str) -> list[str]:
        d = self.p4.get("digests", digest)
        struct = self.p4info.type_info.structs[d.type_spec.struct.name]
        return [m.name for m in struct.members]

    def get_digests(self, digest: str, count: int = 1, timeout: float = WAIT,
                    family: int | None = None) -> list[dict[str, int]]:
        """The next `count` digests of kind `digest` (acknowledged), as dicts by the
        P4 struct's member names. Digests of the other kind are kept for later. In
        an IPv6 test (or with `family` 6), the IPv4 digest's name stands for its _v6
        twin."""
        if (family or self.family) == 6 and not digest.endswith("_v6_t"):
            digest = digest.replace("_t", "_v6_t")
        did = self.p4.get("digests", digest).preamble.id
        members = self._digest_members[digest]
        out: list[dict[str, int]] = []
        deadline = time.monotonic() + timeout
        pending = self._other_digests
        self._other_digests = []
        while len(out) < count:
            if pending:
                msg = pending.pop(0)
            else:
                left = deadline - time.monotonic()
                msg = self.client.get_stream("digest", timeout=max(left, 0.01))
                if msg is None:
                    break
                self.client.ack_digest(msg)
            if msg.digest_id != did:
                self._other_digests.append(msg)
                continue
            for data in msg.data:
                values = [entities.decode(m.bitstring) for m in data.struct.members]
                out.append(dict(zip(members, values, strict=True)))
        self._other_digests.extend(pending)
        self.assertEqual(len(out), count, f"expected {count} {digest} digest(s), got {out}")
        return out

    def get_digest(self, digest: str) -> dict[str, int]:
        return self.get_digests(digest, 1)[0]

    def assert_no_digest(self, timeout: float = QUIET) -> None:
        msgs = list(self._other_digests)
        msg = self.client.get_stream("digest", timeout=timeout)
        if msg is not None:
            self.client.ack_digest(msg)
            msgs.append(msg)
        self.assertEqual(msgs, [], "no digest expected")

    # ------------------------------------------------------------------ packet-in/out

    def get_packet_in(self, timeout: float = WAIT) -> tuple[dict[str, int], bytes]:
        msg = self.client.get_stream("packet", timeout=timeout)
        self.assertIsNotNone(msg, "expected a PacketIn")
        return entities.packet_in_metadata(self.p4, msg), msg.payload

    def assert_no_packet_in(self, timeout: float = QUIET) -> None:
        self.assertIsNone(self.client.get_stream("packet", timeout=timeout),
                          "no PacketIn expected")

    def packet_out(self, frame: bytes | Packet, *, pipeline: bool = True, port: int = 0) -> None:
        """PacketOut; flags 1 runs the ingress pipeline as trusted traffic."""
        self.client.packet_out(entities.packet_out(
            self.p4, bytes(frame), {"egress_port": port, "_pad0": 0,
                                    "flags": 1 if pipeline else 0}))

    # ------------------------------------------------------------------ packets

    def send(self, port: int, pkt: Packet | bytes) -> None:
        self._forget_pending(port, pkt)
        tu.send_packet(self, port, pkt)

    def _forget_pending(self, port: int, pkt: Packet | bytes) -> None:
        """tearDown empties the pending-handshake slot of a client segment's flow."""
        frame = Ether(bytes(pkt))
        if port != CLIENT_PORT or TCP not in frame or (IP not in frame and IPv6 not in frame):
            return
        self._pending_slots.add(pending_slot(frame)[0])

    def receive(self, port: int, timeout: float = WAIT) -> Ether:
        """The next packet out of `port` (the test fails if none comes)."""
        result = tu.dp_poll(self, device_number=0, port_number=port, timeout=timeout)
        if isinstance(result, self.dataplane.PollFailure):
            self.fail(f"expected a packet on port {port}, got none")
        return Ether(result.packet)

    def assert_packet(self, expected: Packet, got: Packet | bytes, what: str = "packet") -> None:
        """Byte-for-byte equality with a readable dissection of both on failure."""
        exp_b, got_b = bytes(expected), bytes(got)
        if exp_b != got_b:
            self.fail(f"{what} differs\n--- expected\n{describe(Ether(exp_b))}"
                      f"\n--- got\n{describe(Ether(got_b))}")

    def expect(self, port: int, expected: Packet) -> None:
        """The exact packet leaves by `port`."""
        tu.verify_packet(self, expected, port)

    def expect_nothing(self) -> None:
        tu.verify_no_other_packets(self)

    def send_and_drain(self, port: int, pkts: list[Any], event: str, per_batch: int = 100
                       ) -> None:
        """Send many packets in batches, each batch waited for through `event`'s
        global counter, so that no socket buffer overflows under the sender."""
        base = self.snapshot()[event][0]
        sent = 0
        for i in range(0, len(pkts), per_batch):
            for pkt in pkts[i:i + per_batch]:
                self._forget_pending(port, pkt)
                tu.send_packet(self, port, pkt)
            sent += len(pkts[i:i + per_batch])
            target = base + sent

            def counted(target: int = target) -> bool:
                return self.snapshot()[event][0] >= target

            self.wait_until(counted, f"{sent} packets counted as {event}")

    def synack_for(self, syn: Packet, opts: int, svc: ServiceSettings | None = None, *,
                   key: int = KEY, epoch: int = EPOCH) -> Ether:
        """Send a client SYN and check the SYN/ACK byte for byte (D3). Our TSval is
        the switch's clock, the one value no test can predict: it is read from the
        reply and put into the expected packet, so every other byte, the TCP
        checksum over that TSval included, is still checked."""
        self.send(CLIENT_PORT, syn)
        got = self.receive(CLIENT_PORT)
        ts = option_value(got, "Timestamp")
        exp = expected_synack(syn, opts, svc or self.service, ts[0] if ts else 0, key=key,
                              epoch=epoch)
        self.assert_packet(exp, got, "SYN/ACK")
        return got

    # ------------------------------------------------------------------ registers

    def defend(self, service_id: int = SERVICE_ID):  # -> p4runtime TableEntry
        """C8: switch an AUTO service's defence on (its `defense` entry, returned;
        deleted in tearDown, which switches it off again)."""
        return self.insert("defense", {"service_id": service_id}, "set_defense_active")

    def undefend(self, service_id: int = SERVICE_ID) -> None:
        """C8: switch the defence off again: delete the `defense` entry."""
        delete = entities.update("DELETE", entities.table_entry(
            self.p4, "defense", {"service_id": service_id}))
        self.client.write([delete])
        if delete in self._undo:
            self._undo.remove(delete)

    def undefended(self, pkt: Packet) -> Packet:
        """Note that `pkt` is sent while its service is undefended, so its flow's
        `passthrough_flows` cell will hold this test's epoch (no later test uses
        that epoch: nothing to clean up)."""
        return pkt

    def bump_epoch(self) -> int:
        """Forget every flow of the filter, as the controller does: a new epoch."""
        self.epoch = next_epoch()
        self.set_default("passthrough_epoch", "set_passthrough_epoch", {"epoch": self.epoch})
        return self.epoch

    def passthrough_cell(self, pkt: Packet) -> int:
        """The filter cell of `pkt`'s flow (a register read: p4sim)."""
        return self.read_register("passthrough_flows", flow_bit(pkt))

    @property
    def registers_readable(self) -> bool:
        """Register reads are a p4sim-only check: bmv2's P4Runtime server has no
        register access (the behaviour they check is also seen in packets or digests)."""
        return self.target == "p4sim"

    def pending_tuple(self, index: int) -> tuple[int, int, int]:
        """The 4-tuple a pending-handshake slot holds (client, VIP, ports): p4sim."""
        six = "6" if self.family == 6 else ""
        client, vip, ports = (self.read_register(f"pending_{n}", index)
                              for n in (f"client{six}", f"vip{six}", "ports"))
        return client, vip, ports

    def read_state(self, slot: int) -> int:
        return self.read_register("session_state", slot)

    # ------------------------------------------------------------------ sessions

    def session_entries(self, slot: int, *, cookie: int, gen: int, sport: int = CLIENT_SPORT,
                        rs_addr: str | None = None, rs_port: int = RS_PORT, ts_base: int = 0,
                        client_window: int = 502, win_shift: int = 7,
                        client_addr: str | None = None) -> list[tuple[str, dict, str, dict]]:
        """(table, match, action, params) of a session's client and server entries
        (sessions_v6 and the _v6 actions in an IPv6 test)."""
        client = client_addr or self.fam.client_ip
        rs_addr = rs_addr or self.fam.rs_ip
        vip, six = self.fam.vip, self.fam.suffix
        return [
            (f"sessions{six}", {"src_addr": client, "dst_addr": vip, "src_port": sport,
                                "dst_port": VPORT}, f"set_client_session{six}",
             {"slot": slot, "service_id": SERVICE_ID, "rs_addr": ip2int(rs_addr),
              "rs_port": rs_port, "gen": gen}),
            (f"sessions{six}", {"src_addr": rs_addr, "dst_addr": client, "src_port": rs_port,
                                "dst_port": sport}, f"set_server_session{six}",
             {"slot": slot, "service_id": SERVICE_ID, "vip_addr": ip2int(vip),
              "vip_port": VPORT, "cookie": cookie, "ts_base": ts_base,
              "client_window": client_window, "win_shift": win_shift, "gen": gen}),
        ]

    def install_session(self, slot: int, **kwargs: Any) -> int:
        """p4src/README.md "Installing a session", step 1: both `sessions` entries
        (same slot, a new gen), nothing else. NAT mode by default; transparent mode
        when rs_addr/rs_port are the VIP's own. Returns the gen."""
        gen = next_gen()
        for table, match, action, params in self.session_entries(slot, gen=gen, **kwargs):
            self.insert(table, match, action, params)
        return gen

    def restart_session(self, slot: int, **kwargs: Any) -> int:
        """C5, restart in place: both entries modified with a new gen. Returns it."""
        gen = next_gen()
        for table, match, action, params in self.session_entries(slot, gen=gen, **kwargs):
            self.client.write([entities.update("MODIFY", entities.table_entry(
                self.p4, table, match, action, params))])
        return gen

    def free_session(self, slot: int, **kwargs: Any) -> None:
        """Free a slot: delete both entries (nothing else; tearDown has nothing left
        to delete)."""
        for table, match, _action, _params in self.session_entries(slot, cookie=0, gen=1,
                                                                   **kwargs):
            delete = entities.update("DELETE", entities.table_entry(self.p4, table, match))
            self.client.write([delete])
            if delete in self._undo:
                self._undo.remove(delete)
