"""P4Runtime entity writes and reads against p4sim.device (no gRPC involved).

Run: .venv/bin/python -m pytest -q tests/p4sim/test_device_p4rt.py
"""

from __future__ import annotations

import pytest
from google.protobuf import text_format
from p4.v1 import p4runtime_pb2 as pb

from p4sim.device import Code, DeviceError, DeviceState
from p4sim.device.p4rt import read, write
from p4sim.device.packetio import PacketIo
from tests.p4sim.runtime_fixtures import (
    ACL,
    LPM,
    SET_PORT,
    FakeClock,
    p4info,
)


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def state(clock: FakeClock) -> DeviceState:
    return DeviceState(p4info(), clock=clock)


def update(kind: int, text: str) -> pb.Update:
    u = pb.Update(type=kind)
    text_format.Parse(text, u.entity)
    return u


def query(text: str) -> pb.Entity:
    return text_format.Parse(text, pb.Entity())


LPM_ENTRY = f"""table_entry {{ table_id: {LPM}
  match {{ field_id: 1 lpm {{ value: "\\x0a\\x00\\x00\\x00" prefix_len: 8 }} }}
  action {{ action {{ action_id: {SET_PORT} params {{ param_id: 1 value: "\\x00\\x05" }} }} }}
}}"""


def test_insert_read_delete_table_entry(state: DeviceState) -> None:
    write(state, update(pb.Update.INSERT, LPM_ENTRY))
    hit = state.tables["ingress.ipv4_lpm"].lookup((0x0A000001,))
    assert hit is not None and hit.args == (5,)
    got = list(read(state, query(f"table_entry {{ table_id: {LPM} }}")))
    assert len(got) == 1
    te = got[0].table_entry
    # Reads return canonical bytestrings (padded input is accepted).
    assert te.action.action.params[0].value == b"\x05"
    assert te.match[0].lpm.value == b"\x0a\x00\x00\x00"
    write(state, update(pb.Update.DELETE, LPM_ENTRY))
    assert list(read(state, query(f"table_entry {{ table_id: {LPM} }}"))) == []


def test_wildcard_read_all_tables_and_filters(state: DeviceState) -> None:
    write(state, update(pb.Update.INSERT, LPM_ENTRY))
    write(
        state,
        update(
            pb.Update.INSERT,
            f"""table_entry {{ table_id: {ACL} priority: 3
              match {{ field_id: 3 optional {{ value: "\\x06" }} }}
              action {{ action {{ action_id: 16777218 }} }} }}""",
        ),
    )
    everything = list(read(state, query("table_entry {}")))
    assert sorted(e.table_entry.table_id for e in everything) == [LPM, ACL]
    assert list(read(state, query(f"table_entry {{ table_id: {ACL} priority: 4 }}"))) == []
    by_key = list(
        read(
            state,
            query(
                f"""table_entry {{ table_id: {ACL} priority: 3
                match {{ field_id: 3 optional {{ value: "\\x06" }} }} }}"""
            ),
        )
    )
    assert len(by_key) == 1 and not by_key[0].table_entry.match[0].HasField("exact")


def test_bytestring_too_wide(state: DeviceState) -> None:
    bad = LPM_ENTRY.replace('value: "\\x00\\x05"', 'value: "\\x02\\x00"')  # 512 > 9 bits
    with pytest.raises(DeviceError) as exc:
        write(state, update(pb.Update.INSERT, bad))
    assert exc.value.code == Code.INVALID_ARGUMENT


def test_unknown_table_and_missing_param(state: DeviceState) -> None:
    with pytest.raises(DeviceError) as exc:
        write(state, update(pb.Update.INSERT, LPM_ENTRY.replace(str(LPM), "1234")))
    assert exc.value.code == Code.NOT_FOUND
    no_param = LPM_ENTRY.replace('params { param_id: 1 value: "\\x00\\x05" }', "")
    with pytest.raises(DeviceError):
        write(state, update(pb.Update.INSERT, no_param))


def test_default_entry(state: DeviceState) -> None:
    default = f"""table_entry {{ table_id: {LPM} is_default_action: true
      action {{ action {{ action_id: {SET_PORT} params {{ param_id: 1 value: "\\x07" }} }} }} }}"""
    with pytest.raises(DeviceError):
        write(state, update(pb.Update.INSERT, default))
    write(state, update(pb.Update.MODIFY, default))
    table = state.tables["ingress.ipv4_lpm"]
    assert (table.default_action_id, table.default_args) == (SET_PORT, (7,))
    got = list(read(state, query(f"table_entry {{ table_id: {LPM} is_default_action: true }}")))
    assert got[0].table_entry.is_default_action
    assert got[0].table_entry.action.action.action_id == SET_PORT
    write(
        state,
        update(pb.Update.MODIFY, f"table_entry {{ table_id: {LPM} is_default_action: true }}"),
    )
    assert table.default_action_id == 0  # back to the program's default (none recorded)


def test_direct_counter_and_time_since_last_hit(state: DeviceState, clock: FakeClock) -> None:
    write(state, update(pb.Update.INSERT, LPM_ENTRY))
    table = state.tables["ingress.ipv4_lpm"]
    entry = table.lookup((0x0A000001,))
    assert entry is not None
    table.count(entry, 99)
    clock.advance(1234)
    got = list(
        read(
            state,
            query(f"table_entry {{ table_id: {LPM} counter_data {{}} time_since_last_hit {{}} }}"),
        )
    )
    te = got[0].table_entry
    assert (te.counter_data.packet_count, te.counter_data.byte_count) == (1, 99)
    assert te.time_since_last_hit.elapsed_ns == 1234
    dc = list(read(state, query(f"direct_counter_entry {{ table_entry {{ table_id: {LPM} }} }}")))
    assert dc[0].direct_counter_entry.data.byte_count == 99
    write(
        state,
        update(
            pb.Update.MODIFY,
            f"direct_counter_entry {{ table_entry {{ table_id: {LPM} match {{ field_id: 1 "
            'lpm { value: "\\x0a\\x00\\x00\\x00" prefix_len: 8 } } } data { byte_count: 5 } }',
        ),
    )
    assert entry.bytes == 5 and entry.packets == 0


def test_counters_registers_meters(state: DeviceState) -> None:
    state.counters["ingress.pkts"].count(2, 40)
    got = list(read(state, query("counter_entry { counter_id: 302006273 index { index: 2 } }")))
    assert got[0].counter_entry.data.byte_count == 40
    assert len(list(read(state, query("counter_entry { counter_id: 302006273 }")))) == 8
    write(
        state,
        update(
            pb.Update.MODIFY,
            'register_entry { register_id: 369098753 index { index: 4 } data { bitstring: "\\x01\\x02" } }',
        ),
    )
    assert state.registers["ingress.seen"].values[4] == 0x102
    regs = list(read(state, query("register_entry { register_id: 369098753 index { index: 4 } }")))
    assert regs[0].register_entry.data.bitstring == b"\x01\x02"
    with pytest.raises(DeviceError) as exc:
        write(state, update(pb.Update.INSERT, "register_entry { register_id: 369098753 }"))
    assert exc.value.code == Code.INVALID_ARGUMENT
    write(
        state,
        update(
            pb.Update.MODIFY,
            "meter_entry { meter_id: 335544321 index { index: 1 } "
            "config { cir: 10 cburst: 20 pir: 30 pburst: 40 } }",
        ),
    )
    meters = list(read(state, query("meter_entry { meter_id: 335544321 }")))
    configured = [m.meter_entry for m in meters if m.meter_entry.HasField("config")]
    assert [(m.index.index, m.config.pburst) for m in configured] == [(1, 40)]


def test_pre_and_digest_entries(state: DeviceState) -> None:
    write(
        state,
        update(
            pb.Update.INSERT,
            "packet_replication_engine_entry { clone_session_entry { session_id: 100 "
            "replicas { egress_port: 255 instance: 1 } packet_length_bytes: 128 } }",
        ),
    )
    assert state.pre.clone_sessions[100].replicas == [(255, 1)]
    write(
        state,
        update(
            pb.Update.INSERT,
            "packet_replication_engine_entry { multicast_group_entry { multicast_group_id: 1 "
            'replicas { port: "\\x02" instance: 0 } replicas { egress_port: 3 } } }',
        ),
    )
    assert state.pre.multicast_groups[1] == [(2, 0), (3, 0)]
    everything = list(read(state, query("packet_replication_engine_entry {}")))
    assert len(everything) == 2
    write(
        state,
        update(
            pb.Update.INSERT,
            "digest_entry { digest_id: 385875969 config { max_timeout_ns: 1 max_list_size: 5 "
            "ack_timeout_ns: 9 } }",
        ),
    )
    got = list(read(state, query("digest_entry {}")))
    assert got[0].digest_entry.config.max_list_size == 5


def test_packet_io_headers(state: DeviceState) -> None:
    io = PacketIo(state.packet_in_metadata, state.packet_out_metadata)
    out = text_format.Parse(
        'payload: "abc" metadata { metadata_id: 1 value: "\\x01\\x03" }', pb.PacketOut()
    )
    # egress_port 259 (9 bits) then 7 pad bits: 259 << 7 = 0x8180
    assert io.build_packet_out(out) == b"\x81\x80abc"
    packet_in = io.parse_packet_in(b"\x00\x80xyz")  # ingress_port 1
    assert packet_in.payload == b"xyz"
    assert [(m.metadata_id, m.value) for m in packet_in.metadata] == [(1, b"\x01"), (2, b"\x00")]
    bad = text_format.Parse(
        'payload: "" metadata { metadata_id: 9 value: "\\x01" }', pb.PacketOut()
    )
    with pytest.raises(DeviceError):
        io.build_packet_out(bad)


def test_reads_carry_direct_resources_and_later_changes(
    state: DeviceState, clock: FakeClock
) -> None:
    from p4sim.device.externs import MeterConfig

    lpm = state.tables["ingress.ipv4_lpm"]
    lpm.insert(((0x0A000000, 8),), 0, SET_PORT, (300,), idle_timeout_ns=5, metadata=b"m")
    state.tables["ingress.acl"].insert(((3, 0x1FF), (80, 443), None), 9, 16777218, ())
    cls = state.tables["ingress.classify"]
    e = cls.insert(((0x0A000000, 0xFF000000), 6), 70000, 16777219, ())
    cls.set_meter_config(e, MeterConfig(1, 2, 3, 4))
    lpm.count(lpm.lookup((0x0A000001,)), 1500)  # type: ignore[arg-type]
    clock.advance(77)
    q = query(f"table_entry {{ table_id: {LPM} counter_data {{}} time_since_last_hit {{}} }}")
    (got,) = [x.table_entry for x in read(state, q)]
    assert (got.counter_data.packet_count, got.counter_data.byte_count) == (1, 1500)
    assert got.time_since_last_hit.elapsed_ns == 77
    assert (got.metadata, got.idle_timeout_ns) == (b"m", 5)
    assert got.action.action.params[0].value == (300).to_bytes(2, "big")
    q = query("table_entry { table_id: 33554435 meter_config {} }")
    (got,) = [x.table_entry for x in read(state, q)]
    assert (got.meter_config.cir, got.meter_config.pburst) == (1, 4)
    # A modified entry reads back modified.
    state.tables["ingress.acl"].modify(((3, 0x1FF), (80, 443), None), 9, 16777219, ())
    q = query(f"table_entry {{ table_id: {ACL} priority: 9 }}")
    got = next(iter(read(state, q))).table_entry
    assert got.action.action.action_id == 16777219


def test_stream_messages(state: DeviceState) -> None:
    from p4sim.device.digests import DigestList
    from p4sim.device.p4rt import digest_list_proto

    dl = DigestList(385875969, 7, [(0xAABBCCDDEEFF, 3), (0, 0)], 5)
    msg = digest_list_proto(state, dl, 123)
    assert (msg.digest.list_id, msg.digest.timestamp) == (7, 123)
    assert digest_list_proto(state, dl).digest.timestamp == 5
    members = msg.digest.data[0].struct.members
    assert [m.bitstring for m in members] == [bytes.fromhex("aabbccddeeff"), b"\x03"]
    io = PacketIo(state.packet_in_metadata, state.packet_out_metadata)
    for packet in (b"\x00\x80xyz", b"\xff\xff", b"\x01"):
        assert io.packet_in_message(packet).packet == io.parse_packet_in(packet)


def _everything(state: DeviceState) -> list[bytes]:
    out = []
    for text in (
        "table_entry { counter_data {} meter_config {} }",
        f"table_entry {{ table_id: {LPM} is_default_action: true }}",
        "counter_entry {}",
        "meter_entry {}",
        "register_entry {}",
        "packet_replication_engine_entry {}",
        "digest_entry {}",
    ):
        out.extend(sorted(e.SerializeToString(deterministic=True) for e in read(state, query(text))))
    return out


def test_rollback_restores_every_kind_of_state(state: DeviceState) -> None:
    from p4sim.device.rollback import snapshot

    write(state, update(pb.Update.INSERT, LPM_ENTRY))
    write(state, update(pb.Update.INSERT, LPM_ENTRY.replace("prefix_len: 8", "prefix_len: 16")))
    write(
        state,
        update(
            pb.Update.INSERT,
            "packet_replication_engine_entry { clone_session_entry { session_id: 5 "
            "replicas { egress_port: 1 } } }",
        ),
    )
    before = _everything(state)
    batch = [
        (pb.Update.INSERT, LPM_ENTRY.replace("prefix_len: 8", "prefix_len: 24")),
        (pb.Update.MODIFY, LPM_ENTRY.replace('value: "\\x00\\x05"', 'value: "\\x00\\x06"')),
        (pb.Update.DELETE, LPM_ENTRY.replace("prefix_len: 8", "prefix_len: 16")),
        (
            pb.Update.MODIFY,
            f"table_entry {{ table_id: {LPM} is_default_action: true action {{ action {{ "
            f'action_id: {SET_PORT} params {{ param_id: 1 value: "\\x09" }} }} }} }}',
        ),
        (
            pb.Update.MODIFY,
            "direct_counter_entry { table_entry { table_id: 33554433 match { field_id: 1 "
            'lpm { value: "\\x0a\\x00\\x00\\x00" prefix_len: 8 } } } data { byte_count: 5 } }',
        ),
        (pb.Update.MODIFY, 'register_entry { register_id: 369098753 data { bitstring: "\\x07" } }'),
        (pb.Update.MODIFY, "counter_entry { counter_id: 302006273 data { packet_count: 4 } }"),
        (
            pb.Update.MODIFY,
            "meter_entry { meter_id: 335544321 config { cir: 1 cburst: 1 pir: 1 pburst: 1 } }",
        ),
        (
            pb.Update.DELETE,
            "packet_replication_engine_entry { clone_session_entry { session_id: 5 } }",
        ),
        (
            pb.Update.INSERT,
            "digest_entry { digest_id: 385875969 config { max_list_size: 1 } }",
        ),
    ]
    undos = []
    for kind, text in batch:
        u = update(kind, text)
        undos.append(snapshot(state, u))
        write(state, u)
    assert _everything(state) != before
    for undo in reversed(undos):
        undo()
    assert _everything(state) == before
    # The restored LPM entries still match packets as before.
    hit = state.tables["ingress.ipv4_lpm"].lookup((0x0A000001,))
    assert hit is not None and hit.args == (5,)
    deleted_then_restored = state.tables["ingress.ipv4_lpm"].lookup((0x0A000101,))
    assert deleted_then_restored is not None and deleted_then_restored.match == ((0x0A000000, 16),)
