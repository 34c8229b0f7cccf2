"""P4Info sections beyond tables and actions: counters, meters, registers,
direct resources, action profiles, digests, packet I/O metadata, type_info,
idle timeout, const entries, annotations and default-action arguments."""

from __future__ import annotations

import pytest
from p4.config.v1 import p4info_pb2

from p4sim.controlplane.p4info_ids import jenkins_one_at_a_time

from .p4info_fixtures import by_name, p4info_of

P = p4info_pb2


def hashed(prefix: int, name: str) -> int:
    return (prefix << 24) | (jenkins_one_at_a_time(name.encode()) & 0xFFFFFF)


EXTERNS = """
enum bit<8> Reason_t { SYN = 1, ACK = 0x10 }
type bit<9> Port_t;
@p4runtime_translation("p4.org/psa/v1/PortId_t", 32) type bit<9> TPort_t;
struct learn_t { bit<48> mac; Port_t port; Reason_t why; bool flag; }
@controller_header("packet_in")
header packet_in_t { bit<9> ingress_port; bit<7> _pad; Reason_t reason; }
@controller_header("packet_out")
header packet_out_t { @id(7) TPort_t egress_port; bit<7> _pad; }

register<bit<32>>(16) global_reg;

control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    counter(64, CounterType.packets) pkts;
    counter(8, CounterType.bytes) byte_count;
    meter(32, MeterType.bytes) rate;
    register<learn_t>(4) learned;
    direct_counter(CounterType.packets_and_bytes) hits;
    direct_meter<bit<2>>(MeterType.packets) policer;
    action_selector(HashAlgorithm.crc16, 128, 16) sel;
    @brief("count and forward") action fwd(Port_t port, Reason_t why) {
        sm.egress_spec = (bit<9>)port;
        pkts.count(0);
    }
    action learn() { digest<learn_t>(1, {hdr.ethernet.src, (Port_t)sm.ingress_port,
                                         Reason_t.SYN, true}); }
    action set_color() { policer.read(meta.color); }
    @my_tag("t1") table t {
        key = { hdr.ethernet.dst : exact; }
        actions = { fwd; learn; }
        counters = hits;
        support_timeout = true;
        default_action = fwd((Port_t)5, Reason_t.ACK);
    }
    table metered {
        key = { meta.x : exact; }
        actions = { set_color; }
        meters = policer;
        const entries = { 1 : set_color(); }
    }
    table ecmp {
        key = { hdr.ipv4.dst_addr : exact; hdr.ipv4.src_addr : selector; }
        actions = { fwd; }
        implementation = sel;
    }
    apply {
        t.apply();
        metered.apply();
        ecmp.apply();
        global_reg.write(0, 1);
    }
}
"""


@pytest.fixture()
def info(tmp_path) -> p4info_pb2.P4Info:
    return p4info_of(tmp_path, EXTERNS, meta="bit<8> x; bit<2> color;")


def test_counters(info):
    assert [(c.preamble.name, c.size, c.spec.unit) for c in info.counters] == [
        ("Ing.pkts", 64, P.CounterSpec.PACKETS),
        ("Ing.byte_count", 8, P.CounterSpec.BYTES),
    ]
    assert info.counters[0].preamble.id == hashed(0x12, "Ing.pkts")


def test_meter(info):
    (m,) = info.meters
    assert (m.preamble.name, m.size, m.spec.unit) == ("Ing.rate", 32, P.MeterSpec.BYTES)
    assert m.preamble.id >> 24 == 0x14


def test_registers_in_program_order_with_type_spec(info):
    assert [r.preamble.name for r in info.registers] == ["global_reg", "Ing.learned"]
    g, learned = info.registers
    assert g.size == 16 and g.type_spec.bitstring.bit.bitwidth == 32
    assert learned.type_spec.struct.name == "learn_t"
    assert learned.preamble.id == hashed(0x16, "Ing.learned")


def test_direct_counter_and_meter(info):
    t = by_name(info.tables, "Ing.t")
    metered = by_name(info.tables, "Ing.metered")
    (dc,) = info.direct_counters
    (dm,) = info.direct_meters
    assert (dc.preamble.name, dc.spec.unit, dc.direct_table_id) == (
        "Ing.hits",
        P.CounterSpec.BOTH,
        t.preamble.id,
    )
    assert (dm.preamble.name, dm.spec.unit, dm.direct_table_id) == (
        "Ing.policer",
        P.MeterSpec.PACKETS,
        metered.preamble.id,
    )
    assert list(t.direct_resource_ids) == [dc.preamble.id]
    assert list(metered.direct_resource_ids) == [dm.preamble.id]
    assert dc.preamble.id >> 24 == 0x13 and dm.preamble.id >> 24 == 0x15


def test_action_selector(info):
    (ap,) = info.action_profiles
    ecmp = by_name(info.tables, "Ing.ecmp")
    assert (ap.preamble.name, ap.with_selector, ap.size) == ("Ing.sel", True, 128)
    assert list(ap.table_ids) == [ecmp.preamble.id]
    assert ecmp.implementation_id == ap.preamble.id
    # The selector key is not a match field, but it still uses up id 2.
    assert [(m.id, m.name) for m in ecmp.match_fields] == [(1, "hdr.ipv4.dst_addr")]


def test_idle_timeout_const_entries_and_annotations(info):
    t = by_name(info.tables, "Ing.t")
    metered = by_name(info.tables, "Ing.metered")
    assert t.idle_timeout_behavior == P.Table.NOTIFY_CONTROL
    assert metered.idle_timeout_behavior == P.Table.NO_TIMEOUT
    assert metered.is_const_table and metered.has_initial_entries
    assert not t.is_const_table and not t.has_initial_entries
    assert list(t.preamble.annotations) == ['@my_tag("t1")']


def test_default_action_arguments(info):
    t = by_name(info.tables, "Ing.t")
    fwd = by_name(info.actions, "Ing.fwd")
    assert t.initial_default_action.action_id == fwd.preamble.id
    args = [(a.param_id, a.value) for a in t.initial_default_action.arguments]
    assert args == [(1, b"\x00\x05"), (2, b"\x10")]


def test_action_params_with_user_types_and_doc(info):
    fwd = by_name(info.actions, "Ing.fwd")
    assert fwd.preamble.doc.brief == "count and forward"
    port, why = fwd.params
    assert (port.name, port.bitwidth, port.type_name.name) == ("port", 9, "Port_t")
    assert (why.name, why.bitwidth) == ("why", 8)


def test_digest_and_type_info(info):
    (d,) = info.digests
    assert d.preamble.name == "learn_t"
    assert d.preamble.id == hashed(0x17, "learn_t")
    assert d.type_spec.struct.name == "learn_t"
    members = info.type_info.structs["learn_t"].members
    assert [m.name for m in members] == ["mac", "port", "why", "flag"]
    assert members[0].type_spec.bitstring.bit.bitwidth == 48
    assert members[1].type_spec.new_type.name == "Port_t"
    assert members[2].type_spec.serializable_enum.name == "Reason_t"
    assert members[3].type_spec.HasField("bool")
    reason = info.type_info.serializable_enums["Reason_t"]
    assert reason.underlying_type.bitwidth == 8
    assert [(m.name, m.value) for m in reason.members] == [("SYN", b"\x01"), ("ACK", b"\x10")]
    port = info.type_info.new_types["Port_t"]
    assert port.original_type.bitstring.bit.bitwidth == 9


def test_controller_packet_metadata(info):
    pin = by_name(info.controller_packet_metadata, "packet_in")
    pout = by_name(info.controller_packet_metadata, "packet_out")
    # Named after the annotation, but the id hashes the header type's name.
    assert pin.preamble.id == hashed(0x04, "packet_in_t")
    assert pin.preamble.alias == "packet_in"
    assert [(m.id, m.name, m.bitwidth) for m in pin.metadata] == [
        (1, "ingress_port", 9),
        (2, "_pad", 7),
        (3, "reason", 8),
    ]
    # A translated type shows its controller width and its name.
    (port, pad) = pout.metadata
    assert (port.id, port.bitwidth, port.type_name.name) == (7, 32, "TPort_t")
    assert pad.id == 2
    tr = info.type_info.new_types["TPort_t"].translated_type
    assert (tr.uri, tr.sdn_bitwidth) == ("p4.org/psa/v1/PortId_t", 32)


def test_aliases_are_shortest_unique_suffixes(tmp_path):
    info = p4info_of(
        tmp_path,
        """
control Sub(inout headers_t hdr, inout meta_t meta) {
    action set(bit<8> v) { meta.x = v; }
    table t { key = { meta.x : exact; } actions = { set; } }
    apply { t.apply(); }
}
control Ing(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    Sub() a;
    Sub() b;
    action set(bit<8> v) { meta.x = v; }
    table other { key = { meta.x : exact; } actions = { set; } }
    apply { a.apply(hdr, meta); b.apply(hdr, meta); other.apply(); }
}
""",
    )
    names = {t.preamble.name: t.preamble.alias for t in info.tables}
    assert names == {"Ing.a.t": "a.t", "Ing.b.t": "b.t", "Ing.other": "other"}
    actions = {a.preamble.name: a.preamble.alias for a in info.actions}
    assert actions == {
        "NoAction": "NoAction",
        "Ing.a.set": "a.set",
        "Ing.b.set": "b.set",
        "Ing.set": "Ing.set",
    }
