# Run: sudo .venv/bin/python ptf-tests/run.py synproxy -- entries_only   (TARGET=bmv2 for bmv2)
"""The switch driven with table entries only, as a controller must on bmv2 (whose
P4Runtime server has no register access): a slot's new incarnation (another gen)
ignores what an earlier one left in the registers, at install and at a restart in
place (C5); the `defense` table switches an AUTO service (C8); a new
`passthrough_epoch` forgets every flow of the filter. State changes are checked
through session_event digests (state, gen), not registers."""

from __future__ import annotations

from ptf.testutils import group
from synproxy_base import EVENT_DIGEST, SynproxyTest, ipv6_variants
from synproxy_packets import (
    CLIENT_PORT,
    OTHER_MAC,
    OTHER_PORT,
    PROXY_AUTO,
    PUNT_EARLY_DATA,
    ROUTER_MAC,
    SERVER_PORT,
    SERVICE_ID,
    SESSION,
    ServiceSettings,
    client_syn_options,
    client_tcp,
    routed,
    ts_option,
)
from synproxy_session import SessionTest, translated_c2s

from controller.cookie import encode_options

TS_BASE = 0x01000000


@group("generation")
class FreshSlotIgnoresEarlierIncarnationTest(SessionTest):
    """A slot whose last session was ESTABLISHED (its delta in the registers) is
    freed (entries deleted, nothing else) and installed again for another
    connection (a new gen): that connection's data is held as early data
    (SYN_SENT), not translated with the stale delta; its own SYN/ACK then sets its
    own delta, reported with its gen."""

    def runTest(self) -> None:
        old = self.new_conn(70, 0x11110000, 0x22220000, TS_BASE)
        self.establish(old)
        self.free(old)
        new = self.new_conn(70, 0x33330000, 0x44440000, TS_BASE + 5)
        self.install(new)
        self.assertNotEqual(new.gen, old.gen)
        data = new.client("PA", options=ts_option(1001, new.ts_base), payload=b"GET /")
        self.send(CLIENT_PORT, data)
        meta, frame = self.get_packet_in()
        self.assertEqual((meta["reason"], meta["slot"], frame),
                         (PUNT_EARLY_DATA, 70, bytes(data)))
        self.establish(new, install=False)  # checks the packets and the digest's gen
        more = new.client("PA", options=ts_option(1002, new.ts_base), payload=b"more")
        self.send(CLIENT_PORT, more)
        self.expect(SERVER_PORT, translated_c2s(more, new.delta, new.tsoff))
        self.expect_nothing()
        self.assert_events({"TRANSLATED_C2S": 3, "SESSION_ESTABLISHED": 2, "EARLY_DATA": 1})


@group("generation")
class RestartInPlaceTest(SessionTest):
    """C5: a closing session's entries are modified in place for a new connection
    on the same 4-tuple (new cookie, new gen): the server SYN finds the slot fresh,
    the new SYN/ACK establishes it under the new gen with the new delta."""

    def runTest(self) -> None:
        old = self.new_conn(71, 0x55550000, 0x66660000, TS_BASE)
        self.establish(old)
        fin = old.client("FA", options=ts_option(1001, old.ts_base))
        self.send(CLIENT_PORT, fin)
        self.expect(SERVER_PORT, translated_c2s(fin, old.delta, old.tsoff))
        self.assertEqual(self.get_digest(EVENT_DIGEST),
                         self.session_event(old, "STATE", state="FIN_WAIT"))
        new = self.new_conn(71, 0x77770000, 0x88880000, TS_BASE + 9)
        self.restart(new)
        self.assertNotEqual(new.gen, old.gen)
        self.establish(new, install=False)
        self.expect_nothing()
        self.assert_events({"TRANSLATED_C2S": 3, "SESSION_ESTABLISHED": 2})


@group("generation")
class RestartEstablishedDropsStrayAckTest(SessionTest):
    """C5 on an ESTABLISHED slot: both entries modified with a new gen (and a new
    cookie); the very next packet, a client ACK of the old connection, finds the
    slot fresh (SYN_SENT: dropped, DROP_HANDSHAKE), and the new server handshake is
    reported under the new gen with the new delta."""

    def runTest(self) -> None:
        old = self.new_conn(72, 0x10000, 0x9000, TS_BASE)
        self.establish(old)
        new = self.new_conn(72, 0x10000, 0x1111, TS_BASE,
                            opts=encode_options(1460, None, False, False))
        self.restart(new)
        self.assertNotEqual((new.gen, new.cookie), (old.gen, old.cookie))
        self.send(CLIENT_PORT, old.client("A"))
        self.assert_events({"TRANSLATED_C2S": 1, "SESSION_ESTABLISHED": 1,
                            "DROP_HANDSHAKE": 1})
        self.expect_nothing()
        if self.registers_readable:
            self.assertEqual((self.read_register("session_gen", 72), self.read_state(72)),
                             (new.gen, SESSION["SYN_SENT"]))
        self.establish(new, install=False)
        self.expect_nothing()
        self.assert_events({"TRANSLATED_C2S": 2, "SESSION_ESTABLISHED": 2,
                            "DROP_HANDSHAKE": 1})


class _AutoServiceTest(SynproxyTest):
    """Base: the service in mode auto, its VIP routed to the plain host while it
    is not defended."""

    service = ServiceSettings(mode=PROXY_AUTO)

    def setUp(self) -> None:
        super().setUp()
        table, plen = ("ipv6_routes", 128) if self.family == 6 else ("ipv4_routes", 32)
        self.insert(table, {"dst_addr": f"{self.fam.vip}/{plen}"}, "route_to",
                    {"port": OTHER_PORT, "src_mac": ROUTER_MAC, "dst_mac": OTHER_MAC})


@group("defense")
class DefenseEntrySwitchesAutoServiceTest(_AutoServiceTest):
    """No `defense` entry: a SYN is routed (SYN_PASSED); with the entry: a cookie
    SYN/ACK; the entry deleted: routed again."""

    def runTest(self) -> None:
        syn = client_tcp("S", 100, sport=46000, options=client_syn_options())
        self.send(CLIENT_PORT, syn)
        self.expect(OTHER_PORT, routed(syn, OTHER_PORT))
        entry = self.defend()
        self.synack_for(client_tcp("S", 101, sport=46001, options=client_syn_options()),
                        encode_options(1460, 7, True, True))
        # The entry's direct counter counts the defended lookups.
        self.assertEqual(self.direct_counter(entry)[0], 1)
        self.undefend()
        syn = client_tcp("S", 102, sport=46002, options=client_syn_options())
        self.send(CLIENT_PORT, syn)
        self.expect(OTHER_PORT, routed(syn, OTHER_PORT))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 3, "SYN_PASSED": 2, "SYNACK_SENT": 1})


@group("defense")
class DefenseEntryOfAnotherServiceTest(_AutoServiceTest):
    """A `defense` entry defends its own service id only."""

    def runTest(self) -> None:
        self.defend(service_id=SERVICE_ID + 1)
        syn = client_tcp("S", 100, sport=46003, options=client_syn_options())
        self.send(CLIENT_PORT, syn)
        self.expect(OTHER_PORT, routed(syn, OTHER_PORT))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYN_PASSED": 1})


@group("defense")
class ModeOnNeedsNoDefenseEntryTest(SynproxyTest):
    """A service in mode on is proxied with the `defense` table empty."""

    def runTest(self) -> None:
        self.assertEqual(self.table_entries("defense"), [])
        self.synack_for(client_tcp("S", 100, sport=46004, options=client_syn_options()),
                        encode_options(1460, 7, True, True))
        self.expect_nothing()
        self.assert_events({"SYN_IN": 1, "SYNACK_SENT": 1})


@group("epoch")
class EpochZeroMarksNothingTest(_AutoServiceTest):
    """Cells never written hold 0: epoch 0 must not make every flow 'seen' (a
    defended segment of an unknown flow is checked as a cookie ACK, and refused)."""

    def runTest(self) -> None:
        self.defend()
        self.set_default("passthrough_epoch", "set_passthrough_epoch", {"epoch": 0})
        self.send(CLIENT_PORT, client_tcp("PA", 5, 6, sport=46012, payload=b"x"))
        self.expect_nothing()
        self.assert_events({"ACK_INVALID": 1})


@group("epoch")
class EpochBumpForgetsFlowsTest(_AutoServiceTest):
    """A flow seen while undefended passes once the defence is on (PASSTHROUGH);
    after a new `passthrough_epoch` it is unknown: its segment is checked as a
    cookie ACK and refused. A flow seen in the new epoch passes again."""

    def runTest(self) -> None:
        old = self.undefended(client_tcp("PA", 500, 600, sport=46010, payload=b"old"))
        self.send(CLIENT_PORT, old)
        self.expect(OTHER_PORT, routed(old, OTHER_PORT))
        if self.registers_readable:
            self.assertEqual(self.passthrough_cell(old), self.epoch)
        self.defend()
        self.send(CLIENT_PORT, old)
        self.expect(OTHER_PORT, routed(old, OTHER_PORT))
        self.bump_epoch()
        self.send(CLIENT_PORT, old)
        # Refused: nothing comes out, so wait for its counter before the next write
        # (a write can overtake a frame still queued on the veth).
        self.assert_events({"PASSTHROUGH": 1, "ACK_INVALID": 1})
        self.undefend()
        self.send(CLIENT_PORT, old)  # undefended again: seen in the new epoch
        self.expect(OTHER_PORT, routed(old, OTHER_PORT))
        self.defend()
        self.send(CLIENT_PORT, old)
        self.expect(OTHER_PORT, routed(old, OTHER_PORT))
        self.expect_nothing()
        self.assert_events({"PASSTHROUGH": 2, "ACK_INVALID": 1})


# D13: the same entry-only control plane over IPv6 (sessions_v6, services_v6).
globals().update(ipv6_variants(
    FreshSlotIgnoresEarlierIncarnationTest, RestartInPlaceTest,
    RestartEstablishedDropsStrayAckTest, DefenseEntrySwitchesAutoServiceTest,
    DefenseEntryOfAnotherServiceTest, ModeOnNeedsNoDefenseEntryTest, EpochZeroMarksNothingTest,
    EpochBumpForgetsFlowsTest))
