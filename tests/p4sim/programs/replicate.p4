/* Packet replication and re-entry: multicast groups, ingress-to-egress and
 * egress-to-egress clones, resubmit and recirculate with preserved metadata,
 * digests, a direct meter, random and hash. Egress tells copies apart by
 * instance_type and egress_rid. */
#include <core.p4>
#include <v1model.p4>

const bit<32> I2E_SESSION = 5;
const bit<32> E2E_SESSION = 6;

/* instance_type values of bmv2's simple_switch. */
const bit<32> PKT_NORMAL = 0;
const bit<32> PKT_INGRESS_CLONE = 1;
const bit<32> PKT_EGRESS_CLONE = 2;
const bit<32> PKT_RECIRC = 4;
const bit<32> PKT_REPLICATION = 5;
const bit<32> PKT_RESUBMIT = 6;

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> ether_type;
}

/* Written by egress so tests can see which copy they received. */
header tag_t {
    bit<8>  instance;
    bit<16> rid;
    bit<8>  passes;
    bit<8>  color;
    bit<16> hash;
}

struct headers_t {
    ethernet_t ethernet;
    tag_t      tag;
}

struct learn_t {
    bit<48> src;
    bit<9>  port;
}

struct metadata_t {
    @field_list(1, 2)
    bit<8> passes;
    @field_list(2)
    bit<8> mark;
    bit<8> color;
}

parser RepParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t std) {
    state start {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            0x88B5: parse_tag;
            default: accept;
        }
    }
    state parse_tag {
        pkt.extract(hdr.tag);
        transition accept;
    }
}

control RepVerify(inout headers_t hdr, inout metadata_t meta) { apply { } }

control RepIngress(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t std) {
    direct_meter<bit<8>>(MeterType.packets) policer;

    action to_port(bit<9> port) {
        std.egress_spec = port;
        policer.read(meta.color);
    }

    action to_group(bit<16> group) {
        std.mcast_grp = group;
        policer.read(meta.color);
    }

    action mirror_and_forward(bit<9> port) {
        std.egress_spec = port;
        clone(CloneType.I2E, I2E_SESSION);
        policer.read(meta.color);
    }

    action again() {
        meta.passes = meta.passes + 1;
        resubmit_preserving_field_list(1);
    }

    table dispatch {
        key = { hdr.ethernet.dst : ternary @name("dst"); }
        actions = { to_port; to_group; mirror_and_forward; again; }
        default_action = to_port(0);
        meters = policer;
        size = 64;
    }

    apply {
        if (std.instance_type == PKT_NORMAL) {
            digest<learn_t>(1, { hdr.ethernet.src, std.ingress_port });
        }
        if (std.instance_type == PKT_RESUBMIT || meta.passes > 2) {
            to_port(1);
        } else {
            dispatch.apply();
        }
    }
}

control RepEgress(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t std) {
    apply {
        if (!hdr.tag.isValid()) {
            hdr.tag.setValid();
            hdr.tag.passes = 0;
        }
        hdr.tag.instance = (bit<8>) std.instance_type;
        hdr.tag.rid = std.egress_rid;
        hdr.tag.passes = meta.passes;
        hdr.tag.color = meta.color;
        hash(hdr.tag.hash, HashAlgorithm.crc16, 16w0, { hdr.ethernet.src, hdr.ethernet.dst },
             17w65536);
        if (std.instance_type == PKT_NORMAL && std.egress_port == 3) {
            clone(CloneType.E2E, E2E_SESSION);
        }
        if (std.instance_type == PKT_REPLICATION && std.egress_rid == 0xFFFF) {
            bit<8> coin;
            random(coin, 0, 1);
            if (coin == 0 && meta.passes == 0) {
                meta.passes = 1;
                recirculate_preserving_field_list(2);
            }
        }
    }
}

control RepCompute(inout headers_t hdr, inout metadata_t meta) { apply { } }

control RepDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.tag);
    }
}

V1Switch(RepParser(), RepVerify(), RepIngress(), RepEgress(), RepCompute(), RepDeparser()) main;
