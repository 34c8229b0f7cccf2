"""D13 in the controller: an IPv6 service's entries go to the program's IPv6 twins
(services_v6, nat_buckets_v6, nat_reverse_v6, sessions_v6), IPv6 digests become
sessions_v6 entries and a server SYN over IPv6, and IPv4 and IPv6 sessions share one
slot pool. The program sends no IPv6 digest yet: they are tested through a P4Info
that declares them (controller/testing/p4info6.py) against the fake switch.

Run: .venv/bin/python -m pytest -q tests/controller/test_ipv6.py
"""

from __future__ import annotations

import ipaddress
import textwrap
from functools import partial
from pathlib import Path

import pytest
from google.protobuf import text_format
from p4.config.v1 import p4info_pb2 as pb4
from p4.v1 import p4runtime_pb2 as pb
from scapy.layers.inet import TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from controller import entities as ent
from controller import install
from controller.config import parse_config
from controller.digests import CookieAck, DigestDecoder, SessionEvent
from controller.install import SessionCodec, SessionParams
from controller.p4info import P4InfoIndex, load_p4info
from controller.sessions import Session, State
from controller.testing.fakeswitch import FakeSwitch, cookie_rows
from controller.testing.p4info6 import with_ipv6_digests
from tests.controller.ctlbench import ControllerThread, config_text, load_cfg, wait_for

pytestmark = pytest.mark.timeout(120)

CLIENT6, VIP6, RS6 = "2001:db8:1::10", "2001:db8::100", "2001:db8:2::10"
C6, V6, R6 = (int(ipaddress.IPv6Address(a)) for a in (CLIENT6, VIP6, RS6))

SERVICES = textwrap.dedent(f"""\
    - name: web6
      vip: "{VIP6}"
      port: 80
      mode: "on"
      synack: {{wscale: 7, window: 0}}
      real_servers:
        - {{address: "{RS6}", port: 8080}}
    - name: web
      vip: 192.168.10.10
      port: 80
      mode: "on"
      real_servers:
        - {{address: 10.1.0.5, port: 8080}}
    - name: calm6
      vip: "2001:db8::200"
      port: 443
      mode: "off"
      real_servers:
        - {{address: "2001:db8:2::11", port: 8443}}
        - {{address: "2001:db8:2::12", port: 8443}}
    """)
V6_IFACES = ('  - {port: 3, mac: "02:00:00:00:00:03", address6: "2001:db8:1::1/64"}\n'
             '  - {port: 4, mac: "02:00:00:00:00:04", address6: "2001:db8:2::1/64"}\n')


def config(p4info: Path, devcfg: Path, sock: str) -> str:
    text = config_text(p4info, devcfg, sock, service=SERVICES)
    # the two IPv6 subnets on interfaces of their own
    return text.replace("neighbours:\n", V6_IFACES + "neighbours:\n", 1)


@pytest.fixture(scope="module")
def p4(artefacts: tuple[Path, Path]) -> P4InfoIndex:
    return P4InfoIndex(with_ipv6_digests(load_p4info(artefacts[0])))


def table_of(p4: P4InfoIndex, e: pb.TableEntry) -> str:
    return str(p4.by_id("tables", e.table_id).preamble.name.rsplit(".", 1)[-1])


def action_of(p4: P4InfoIndex, e: pb.TableEntry) -> str:
    return str(p4.by_id("actions", e.action.action.action_id).preamble.name.rsplit(".", 1)[-1])


# ----------------------------------------------------------------------------- entries


def test_ipv6_service_and_deny_entries_go_to_services_v6(p4: P4InfoIndex,
                                                         artefacts: tuple[Path, Path]) -> None:
    cfg = parse_config(config(*artefacts, "/tmp/none.sock"))
    web6, web = cfg.services[0], cfg.services[1]
    (e6,) = install.service_entries(p4, web6, 1)
    (e4,) = install.service_entries(p4, web, 2)
    assert (table_of(p4, e6), action_of(p4, e6)) == ("services_v6", "set_service")
    assert table_of(p4, e4) == "services"
    assert e6.match[0].exact.value == ipaddress.IPv6Address(VIP6).packed.lstrip(b"\0")
    params = {p.param_id: ent.decode(p.value) for p in e6.action.action.params}
    mss_id = p4.action_param("set_service", "mss").id
    assert params[mss_id] == 1440  # the IPv6 default: a 40-byte header
    deny = install.deny_entries(p4, {1: web6, 2: web})
    assert sorted((table_of(p4, e), action_of(p4, e)) for e in deny) == [
        ("services", "deny_service")] * 2 + [("services_v6", "deny_service")] * 2


def test_ipv6_nat_rows_go_to_the_v6_twins(p4: P4InfoIndex) -> None:
    old = [None, ("2001:db8:2::11", 8443)]
    new = [("2001:db8:2::12", 8443), None]
    ups = install.nat_bucket_updates(p4, 3, old, new)
    got = [(u.type, table_of(p4, u.entity.table_entry)) for u in ups]
    assert got == [(pb.Update.INSERT, "nat_buckets_v6"), (pb.Update.DELETE, "nat_buckets_v6")]
    assert action_of(p4, ups[0].entity.table_entry) == "nat_to_v6"
    # a bucket whose server changes family (the service id reused by another VIP):
    # the old row is deleted from its table, the new one inserted into the other
    ups = install.nat_bucket_updates(p4, 3, [("2001:db8:2::11", 80)], [("10.1.0.5", 80)])
    assert [(u.type, table_of(p4, u.entity.table_entry)) for u in ups] == [
        (pb.Update.DELETE, "nat_buckets_v6"), (pb.Update.INSERT, "nat_buckets")]
    add, delete = install.nat_reverse_updates(
        p4, {("10.1.0.5", 80): ("192.168.10.10", 80)},
        {("2001:db8:2::11", 8443): ("2001:db8::200", 443)})
    assert [(table_of(p4, u.entity.table_entry), action_of(p4, u.entity.table_entry))
            for u in add] == [("nat_reverse_v6", "nat_from_v6")]
    assert [table_of(p4, u.entity.table_entry) for u in delete] == ["nat_reverse"]


def test_ipv6_digests_are_configured_where_the_program_has_them(
        p4: P4InfoIndex, artefacts: tuple[Path, Path]) -> None:
    names = {p4.by_id("digests", d.digest_id).preamble.name for d in install.digest_entries(p4)}
    assert names == {"cookie_ack_digest_t", "session_event_digest_t",
                     "cookie_ack_digest_v6_t", "session_event_digest_v6_t"}
    # The program declares the twins itself; a program without them (the IPv4 digests
    # only) gets the IPv4 ones configured, and the stand-in builds the twins exactly
    # as the program declares them (members, order, widths).
    built = load_p4info(artefacts[0])
    twins = {"cookie_ack_digest_v6_t", "session_event_digest_v6_t"}
    assert twins <= {d.preamble.name for d in built.digests}
    ipv4_only = pb4.P4Info()
    ipv4_only.CopyFrom(built)
    del ipv4_only.digests[:]
    ipv4_only.digests.extend(d for d in built.digests if d.preamble.name not in twins)
    assert len(install.digest_entries(P4InfoIndex(ipv4_only))) == 2
    rebuilt = with_ipv6_digests(ipv4_only)

    def members(info: pb4.P4Info, name: str) -> list[tuple[str, int]]:
        return [(m.name, m.type_spec.bitstring.bit.bitwidth)
                for m in info.type_info.structs[name].members]

    for name in twins:
        assert members(rebuilt, name) == members(built, name), name


# ----------------------------------------------------------------------------- codec


def session6(slot: int = 9, cport: int = 40000) -> Session:
    return Session(slot, (C6, V6, cport, 80), 1, R6, 8080, 0xDEADBEEF, 1234, None,
                   gen=0x1234)


def test_ipv6_sessions_go_to_sessions_v6(p4: P4InfoIndex) -> None:
    codec = SessionCodec(p4, idle_timeout_s=30)
    ups = pb.WriteRequest().updates
    codec.install(ups, session6(), SessionParams(V6, 80, 555, 501, 7))
    client = ent.table_entry(
        p4, "sessions_v6", {"src_addr": C6, "dst_addr": V6, "src_port": 40000,
                            "dst_port": 80}, "set_client_session_v6",
        {"slot": 9, "service_id": 1, "rs_addr": R6, "rs_port": 8080, "gen": 0x1234},
        idle_timeout_ns=30_000_000_000)
    server = ent.table_entry(
        p4, "sessions_v6", {"src_addr": R6, "dst_addr": C6, "src_port": 8080,
                            "dst_port": 40000}, "set_server_session_v6",
        {"slot": 9, "service_id": 1, "vip_addr": V6, "vip_port": 80, "cookie": 0xDEADBEEF,
         "ts_base": 555, "client_window": 501, "win_shift": 7, "gen": 0x1234},
        idle_timeout_ns=30_000_000_000)
    assert list(ups) == [ent.update("INSERT", client), ent.update("INSERT", server)]
    back = codec.decode_entry(server)
    assert back is not None and back.direction == "server" and back.key == (R6, C6, 8080, 40000)
    assert back.params["vip_addr"] == V6 and back.params["slot"] == 9
    dels = pb.WriteRequest().updates
    codec.remove(dels, session6())
    assert {u.entity.table_entry.table_id for u in dels} == {p4.table_id("sessions_v6")}
    assert [codec.key_of(u.entity.table_entry) for u in dels] == [
        (C6, V6, 40000, 80), (R6, C6, 8080, 40000)]
    assert len(codec.read_entries_queries()) == 2
    assert codec.table_ids == {p4.table_id("sessions"), p4.table_id("sessions_v6")}


def test_ipv6_digests_decode_to_the_same_records(p4: P4InfoIndex) -> None:
    dec = DigestDecoder(p4)
    cid = dec.ids["cookie_ack_digest_v6_t"]
    row = [C6, V6, 40000, 80, 5, 6, 1440, 7, 1, 1, 0, 0, 700, 11, 12, 1, 3, 0, 0]
    _, _, (ck,) = dec.decode(digest_list(cid, [row]))
    assert isinstance(ck, CookieAck) and ck.flow == (C6, V6, 40000, 80)
    assert ck.handshake.mss == 1440 and ck.service_id == 3
    eid = dec.ids["session_event_digest_v6_t"]
    _, _, (ev,) = dec.decode(digest_list(eid, [[5, 1, 100, 200, C6, 40000, 2, 9]]))
    assert ev == SessionEvent(5, 1, 100, 200, C6, 40000, 2, 9)
    # Hostile: an IPv6 client in ::/96 (an address below 2^32) would be keyed as an
    # IPv4 flow; refused and counted, the rest of the list decoded.
    compat = int(ipaddress.IPv6Address("::10.0.0.1"))
    _, _, got = dec.decode(digest_list(cid, [[compat, *row[1:]], row]))
    assert got == [ck] and dec.refused_v6 == 1
    _, _, got = dec.decode(digest_list(eid, [[5, 1, 100, 200, 0, 40000, 2, 9]]))
    assert got == [] and dec.refused_v6 == 2
    assert "::/96" in install.MARTIAN_DEFAULTS_V6  # and the switch drops such sources


def digest_list(did: int, rows: list[list[int]]) -> pb.DigestList:
    dl = pb.DigestList(digest_id=did, list_id=1)
    for row in rows:
        d = dl.data.add()
        for v in row:
            d.struct.members.add().bitstring = v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")
    return dl


# ----------------------------------------------------------------------------- handshake


def cookie_row6(cport: int, isn: int, cookie: int) -> list[int]:
    """cookie_ack_digest_v6_t's members, in order, for service 1 (web6)."""
    return [C6, V6, cport, 80, isn, cookie, 1440, 7, 1, 1, 0, 0, 502, 7000, 8000, 3, 1, 0, 0]


def test_ipv6_handshake_installs_sessions_v6_and_sends_an_ipv6_server_syn(
        artefacts: tuple[Path, Path], tmp_path: Path) -> None:
    sock = str(tmp_path / "fake.sock")
    info = with_ipv6_digests(load_p4info(artefacts[0]))
    p4info = tmp_path / "p4info6.txt"
    p4info.write_text(text_format.MessageToString(info))
    p4 = P4InfoIndex(info)
    fake = FakeSwitch()
    fake.start(f"unix:{sock}")
    ct = ControllerThread(load_cfg(config(p4info, artefacts[1], sock), tmp_path))
    try:
        ct.wait_synced()
        setup = list(fake.requests)
        written = [u.entity.table_entry for r in setup for u in r.updates
                   if u.entity.WhichOneof("entity") == "table_entry"]
        tables = {table_of(p4, e) for e in written}
        assert {"services_v6", "nat_buckets_v6", "nat_reverse_v6", "nd_replies"} <= tables
        configured = {u.entity.digest_entry.digest_id for r in setup for u in r.updates
                      if u.entity.WhichOneof("entity") == "digest_entry"}
        assert p4.get("digests", "cookie_ack_digest_v6_t").preamble.id in configured
        before = len(fake.requests)
        # One IPv4 and one IPv6 handshake: two sessions, one slot pool.
        fake.send_digest_list(p4.get("digests", "cookie_ack_digest_t").preamble.id,
                              cookie_rows(1, service_id=2))
        fake.send_digest_list(p4.get("digests", "cookie_ack_digest_v6_t").preamble.id,
                              [cookie_row6(40000, 0xFFFFFFF0, 0x5000)])
        assert wait_for(lambda: len(ct.ctl.view.table) == 2 and fake.packet_outs.qsize() == 2)
        table = ct.ctl.view.table
        s6 = table.by_flow[(C6, V6, 40000, 80)]
        others = [s for s in table.by_slot.values() if s is not s6]
        assert sorted([s6.slot, others[0].slot]) == [1, 2]
        assert (s6.rs_addr, s6.rs_port, s6.state) == (R6, 8080, State.SYN_SENT)
        ups = [u for r in fake.requests[before:] for u in r.updates]
        v6 = [u.entity.table_entry for u in ups
              if table_of(p4, u.entity.table_entry) == "sessions_v6"]
        assert sorted(action_of(p4, e) for e in v6) == ["set_client_session_v6",
                                                        "set_server_session_v6"]
        codec = ct.ctl.program.codec
        assert {codec.key_of(e) for e in v6} == {(C6, V6, 40000, 80), (R6, C6, 8080, 40000)}
        frames = [Ether(fake.packet_outs.get()[1].payload) for _ in range(2)]
        syn6 = next(f for f in frames if IPv6 in f)
        assert (syn6[IPv6].src, syn6[IPv6].dst) == (CLIENT6, VIP6)
        assert syn6[TCP].flags == "S" and syn6[TCP].seq == 0xFFFFFFF0
        assert dict(syn6[TCP].options)["MSS"] == 1440
        fresh = syn6.copy()
        del fresh[TCP].chksum
        assert Ether(bytes(fresh))[TCP].chksum == syn6[TCP].chksum
        # Hostile: an IPv6 digest naming the IPv4 service (2) is refused, counted.
        fake.send_digest_list(p4.get("digests", "cookie_ack_digest_v6_t").preamble.id,
                              [[*cookie_row6(40002, 5, 6)[:16], 2, 0, 0]])
        assert wait_for(lambda: ct.ctl.stats["family_mismatch"] == 1)
        assert (C6, V6, 40002, 80) not in table.by_flow and len(table) == 2
        # The server answered (an IPv6 session event): ESTABLISHED; then its RST frees it.
        eid = p4.get("digests", "session_event_digest_v6_t").preamble.id
        fake.send_digest_list(eid, [[s6.slot, 1, 0x100, 0, C6, 40000, State.ESTABLISHED,
                                     s6.gen]])
        assert wait_for(lambda: s6.state == State.ESTABLISHED)
        # an event for the slot naming another client is not this session's
        fake.send_digest_list(eid, [[s6.slot, 2, 0, 0, C6 + 1, 40000, 0, s6.gen]])
        before = len(fake.requests)
        fake.send_digest_list(eid, [[s6.slot, 2, 0, 0, C6, 40000, 0, s6.gen]])
        assert wait_for(lambda: (C6, V6, 40000, 80) not in table.by_flow)
        dels = [u.entity.table_entry for r in fake.requests[before:] for u in r.updates
                if u.type == pb.Update.DELETE]
        assert {table_of(p4, e) for e in dels} == {"sessions_v6"}
        assert len(table) == 1
        # C6: an established IPv6 session whose two sessions_v6 entries idle out is freed
        fake.send_digest_list(p4.get("digests", "cookie_ack_digest_v6_t").preamble.id,
                              [cookie_row6(40001, 77, 0x6000)])
        assert wait_for(lambda: (C6, V6, 40001, 80) in table.by_flow)
        s2 = table.by_flow[(C6, V6, 40001, 80)]
        fake.send_digest_list(eid, [[s2.slot, 1, 0x100, 0, C6, 40001, State.ESTABLISHED,
                                     s2.gen]])
        assert wait_for(lambda: s2.state == State.ESTABLISHED)
        note = pb.StreamMessageResponse()
        for direction in (codec.client_key(s2), codec.server_key(s2)):
            te = note.idle_timeout_notification.table_entry.add()
            te.CopyFrom(ent.table_entry(p4, "sessions_v6", dict(zip(
                ("src_addr", "dst_addr", "src_port", "dst_port"), direction, strict=True))))
        before = len(fake.requests)
        fake.out.put(note.SerializeToString())
        assert wait_for(lambda: (C6, V6, 40001, 80) not in table.by_flow)
        assert wait_for(lambda: any(u.type == pb.Update.DELETE
                                    for r in fake.requests[before:] for u in r.updates))
    finally:
        ct.stop()
        fake.stop()


# ----------------------------------------------------------------------------- restart (C9)

SERVICE6 = textwrap.dedent(f"""\
    - name: web6
      vip: "{VIP6}"
      port: 80
      mode: "on"
      real_servers:
        - {{address: "{RS6}", port: 8080}}
    """)


def test_a_restarted_controller_reads_ipv6_sessions_back(
        artefacts: tuple[Path, Path], sock: str, switch, tmp_path: Path) -> None:
    """sessions_v6 entries are read back with the IPv4 ones into one slot pool; a half
    present session, or a slot claimed in both tables, is deleted."""
    cfg = load_cfg(config_text(*artefacts, sock, service=SERVICE6), tmp_path)
    ct = ControllerThread(cfg)
    try:
        ct.wait_synced()
        codec = ct.ctl.program.codec
        req = ct.conn.write_request()
        params = SessionParams(V6, 80, 0, 502, 7)
        codec.install(req.updates, session6(5), params)  # whole: restored
        half = pb.WriteRequest()
        codec.install(half.updates, session6(6, 40006), params)
        req.updates.add().CopyFrom(half.updates[0])  # only its client entry: deleted
        clash6 = Session(7, (C6, V6, 40007, 80), 1, R6, 8080, 1, 1, None, gen=9)
        clash4 = Session(7, (0x0A000001, 0xC0A80A0A, 40007, 80), 1, 0x0A010005, 8080, 1, 1,
                         None, gen=9)
        codec.install(req.updates, clash6, params)
        codec.install(req.updates, clash4, SessionParams(0xC0A80A0A, 80, 0, 502, 7))
        ct.call(lambda: ct.conn.send_write(req))
        assert len(list(switch.state.table("sessions_v6").entries())) == 5
    finally:
        ct.stop()
    ct2 = ControllerThread(cfg)
    try:
        ct2.wait_synced()
        table = ct2.ctl.view.table
        assert sorted(table.by_slot) == [5]
        s = table.by_slot[5]
        assert (s.flow, s.rs_addr, s.rs_port, s.gen) == ((C6, V6, 40000, 80), R6, 8080, 0x1234)
        assert s.state == State.SYN_SENT  # its slot has seen no packet of this gen
        assert 5 not in [table.allocate((C6, V6, p, 80), service_id=1, rs_addr=R6, rs_port=1,
                                        cookie=1, client_isn=1, handshake=None,
                                        now=0.0).slot  # type: ignore[union-attr]
                         for p in range(3)]
        keys = {tuple(e.match) for e in switch.state.table("sessions_v6").entries()}
        assert keys == {(C6, V6, 40000, 80), (R6, C6, 8080, 40000)}
        assert list(switch.state.table("sessions").entries()) == []
    finally:
        ct2.stop()


# ----------------------------------------------------------------------------- metrics


def test_per_service_series_carry_the_family(artefacts: tuple[Path, Path],
                                             tmp_path: Path) -> None:
    """The series of a service and of its real servers are labelled ipv4 or ipv6; an
    IPv6 real server is named [address]:port."""
    import asyncio

    from controller.app import Controller
    from controller.metrics import SwitchCollector

    ctl = Controller(load_cfg(config(*artefacts, str(tmp_path / "none.sock")), tmp_path))
    snap = asyncio.run(ctl.admin.snapshot())  # not connected: no switch counters
    assert snap.families == {"web6": "ipv6", "web": "ipv4", "calm6": "ipv6"}
    assert ("web6", f"[{RS6}]:8080") in (snap.real_servers or {})
    snap.switch, snap.services = {}, {"web6": {"syn_in": 3}, "web": {"syn_in": 1}}
    coll = SwitchCollector()
    coll.snapshot = lambda: snap  # type: ignore[method-assign]
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for m in coll.collect() for s in m.samples}
    assert got[("synproxy_syns_received_total",
                (("family", "ipv6"), ("service", "web6")))] == 3
    assert got[("synproxy_syns_received_total",
                (("family", "ipv4"), ("service", "web")))] == 1
    assert got[("synproxy_real_server_weight", (("family", "ipv6"),
                ("real_server", f"[{RS6}]:8080"), ("service", "web6")))] == 1


def test_saved_ipv6_services_load_back_the_same(artefacts: tuple[Path, Path]) -> None:
    """`save` writes every key: an IPv6 service's MSS (default 1440, or one given,
    even the IPv4 default) comes back as it ran."""
    import dataclasses

    from controller import persist

    cfg = parse_config(config(*artefacts, "/tmp/none.sock"))
    web6 = cfg.services[0]
    at_1460 = dataclasses.replace(web6, name="web6b", port=81,
                                  synack=dataclasses.replace(web6.synack, mss=1460))
    cfg = dataclasses.replace(cfg, services=(*cfg.services, at_1460))
    back = parse_config(persist.to_yaml(cfg))
    assert back.services == cfg.services
    assert [s.synack.mss for s in back.services] == [1440, 1460, 1440, 1460]


def test_ipv6_services_added_and_removed_at_run_time(
        artefacts: tuple[Path, Path], sock: str, switch, tmp_path: Path) -> None:
    """service_add of an IPv6 VIP writes services_v6 (and, unproxied NAT, the _v6
    buckets and reverse rows); service_remove deletes them all, IPv4's untouched."""
    from controller.control import handle

    ct = ControllerThread(load_cfg(config_text(*artefacts, sock), tmp_path))
    try:
        ct.wait_synced()
        ctl = ct.ctl
        rows = {t: len(list(switch.state.table(t).entries()))
                for t in ("services", "nat_buckets")}
        spec = {"name": "calm6", "vip": "2001:db8::200", "port": 443, "mode": "off",
                "real_servers": [{"address": "2001:db8:2::11", "port": 8443},
                                 {"address": "2001:db8:2::12", "port": 8443}]}
        ct.call(lambda: handle(ctl, {"cmd": "service_add", "service": spec}))
        svc6 = list(switch.state.table("services_v6").entries())
        assert len(svc6) == 1  # mode off: no deny entries for its VIP
        assert len(list(switch.state.table("nat_buckets_v6").entries())) == \
            install.nat_bucket_count(ctl.program.p4)
        assert {(str(ipaddress.ip_address(e.match[0])), e.match[1])
                for e in switch.state.table("nat_reverse_v6").entries()} == {
            ("2001:db8:2::11", 8443), ("2001:db8:2::12", 8443)}
        spec = {**spec, "name": "on6", "port": 80, "mode": "on"}
        ct.call(lambda: handle(ctl, {"cmd": "service_add", "service": spec}))
        assert len(list(switch.state.table("services_v6").entries())) == 4  # + UDP, fragments
        for req in ({"cmd": "service_remove", "name": "calm6"},
                    {"cmd": "service_remove", "name": "on6"}):
            ct.call(partial(handle, ctl, req))
        for t in ("services_v6", "nat_buckets_v6", "nat_reverse_v6"):
            assert list(switch.state.table(t).entries()) == [], t
        assert {t: len(list(switch.state.table(t).entries())) for t in rows} == rows
    finally:
        ct.stop()


def test_status_table_names_ipv6_addresses_in_brackets() -> None:
    """synproxyctl status: an IPv6 VIP and real server as [address]:port, and the
    buckets found under the key the controller gives them."""
    from controller import tables

    rs = {"address": RS6, "port": 8080, "weight": 1, "sessions": 2}
    st = {"services": {"web6": {"vip": VIP6, "port": 80, "mode": "off", "real_servers": [rs],
                                "nat_buckets": {f"[{RS6}]:8080": 64}}}}
    row = next(ln for ln in tables.status(st).splitlines() if ln.startswith("web6"))
    assert row.split() == ["web6", f"[{VIP6}]:80", "off", "-", f"[{RS6}]:8080", "1", "2", "64"]
