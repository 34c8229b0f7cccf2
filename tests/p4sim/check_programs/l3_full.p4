/* A v1model L3 router exercising most of what the checker knows: typedefs, a new
 * type, a serializable enum, a header stack, lookahead, select with masks and
 * ranges, a register, counters, a meter, a digest, hashing, checksum update,
 * const table entries, a function and a switch on action_run. */
#include <core.p4>
#include <v1model.p4>

typedef bit<48> mac_addr_t;
typedef bit<32> ipv4_addr_t;
type bit<32> flow_id_t;

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> ETHERTYPE_VLAN = 0x8100;
const bit<8> PROTO_TCP = 6;
const bit<32> FLOWS = 1 << 10;
const int HDR_WORDS = 5;

enum bit<8> drop_reason_t {
    NONE = 0,
    TTL = 1,
    NO_ROUTE = 2
}

error { BadIhl }

header ethernet_t {
    mac_addr_t dst_addr;
    mac_addr_t src_addr;
    bit<16>    ether_type;
}

header vlan_t {
    bit<3>  pcp;
    bit<1>  dei;
    bit<12> vid;
    bit<16> ether_type;
}

header ipv4_t {
    bit<4>      version;
    bit<4>      ihl;
    bit<8>      diffserv;
    bit<16>     total_len;
    bit<16>     identification;
    bit<3>      flags;
    bit<13>     frag_offset;
    bit<8>      ttl;
    bit<8>      protocol;
    bit<16>     hdr_checksum;
    ipv4_addr_t src_addr;
    ipv4_addr_t dst_addr;
}

header tcp_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<32> seq_no;
    bit<32> ack_no;
    bit<4>  data_offset;
    bit<4>  res;
    bit<8>  flags;
    bit<16> window;
    bit<16> checksum;
    bit<16> urgent_ptr;
}

struct headers_t {
    ethernet_t ethernet;
    vlan_t[2]  vlan;
    ipv4_t     ipv4;
    tcp_t      tcp;
}

struct learn_t {
    mac_addr_t src_addr;
    bit<9>     port;
}

struct metadata_t {
    bit<32>         flow_hash;
    flow_id_t       flow;
    drop_reason_t   reason;
    bit<2>          color;
    bit<16>         l4_dst;
}

bit<8> decrement(in bit<8> ttl) {
    return ttl |-| 1;
}

parser L3Parser(packet_in packet,
                out headers_t hdr,
                inout metadata_t meta,
                inout standard_metadata_t standard_metadata) {
    state start {
        transition select(packet.lookahead<bit<112>>()[15:0]) {
            ETHERTYPE_VLAN &&& 0xffff: parse_ethernet;
            default: parse_ethernet;
        }
    }

    state parse_ethernet {
        packet.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_VLAN: parse_vlan;
            ETHERTYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }

    state parse_vlan {
        packet.extract(hdr.vlan.next);
        transition select(hdr.vlan.last.ether_type) {
            ETHERTYPE_VLAN: parse_vlan;
            ETHERTYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }

    state parse_ipv4 {
        packet.extract(hdr.ipv4);
        verify(hdr.ipv4.ihl >= HDR_WORDS, error.BadIhl);
        transition select(hdr.ipv4.protocol, hdr.ipv4.frag_offset) {
            (PROTO_TCP, 0): parse_tcp;
            (_, 1 .. 0x1fff): accept;
            default: accept;
        }
    }

    state parse_tcp {
        packet.extract(hdr.tcp);
        meta.l4_dst = hdr.tcp.dst_port;
        transition accept;
    }
}

control L3VerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        verify_checksum(
            hdr.ipv4.isValid(),
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.diffserv, hdr.ipv4.total_len,
              hdr.ipv4.identification, hdr.ipv4.flags, hdr.ipv4.frag_offset, hdr.ipv4.ttl,
              hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr },
            hdr.ipv4.hdr_checksum,
            HashAlgorithm.csum16);
    }
}

control L3Ingress(inout headers_t hdr,
                  inout metadata_t meta,
                  inout standard_metadata_t standard_metadata) {
    register<bit<32>>(FLOWS) flow_packets;
    counter(32w8, CounterType.packets) drops;
    meter(32w1024, MeterType.packets) rate;
    direct_counter(CounterType.packets_and_bytes) routes_counter;

    action drop(drop_reason_t reason) {
        meta.reason = reason;
        drops.count((bit<32>)reason);
        mark_to_drop(standard_metadata);
    }

    action forward(mac_addr_t dst_addr, bit<9> port) {
        standard_metadata.egress_spec = port;
        hdr.ethernet.src_addr = hdr.ethernet.dst_addr;
        hdr.ethernet.dst_addr = dst_addr;
        hdr.ipv4.ttl = decrement(hdr.ipv4.ttl);
    }

    action to_cpu() {
        standard_metadata.egress_spec = 9w510;
        digest<learn_t>(1, { hdr.ethernet.src_addr, standard_metadata.ingress_port });
    }

    table routes {
        key = {
            hdr.ipv4.dst_addr: lpm @name("dst");
        }
        actions = {
            forward;
            drop;
            to_cpu;
        }
        default_action = drop(drop_reason_t.NO_ROUTE);
        counters = routes_counter;
        size = FLOWS;
    }

    table acl {
        key = {
            hdr.ipv4.src_addr: ternary;
            meta.l4_dst: range;
            hdr.ipv4.protocol: exact;
        }
        actions = {
            drop;
            NoAction;
        }
        const entries = {
            (0x0a000000 &&& 0xff000000, 0 .. 1023, PROTO_TCP) : drop(drop_reason_t.NONE);
            (_, 22, 17) : NoAction();
        }
        const default_action = NoAction();
    }

    apply {
        if (!hdr.ipv4.isValid()) {
            exit;
        }
        hash(meta.flow_hash, HashAlgorithm.crc32, 32w0,
             { hdr.ipv4.src_addr, hdr.ipv4.dst_addr, hdr.ipv4.protocol }, FLOWS);
        meta.flow = (flow_id_t)meta.flow_hash;
        bit<32> seen;
        flow_packets.read(seen, meta.flow_hash);
        flow_packets.write(meta.flow_hash, seen + 1);
        rate.execute_meter(meta.flow_hash, meta.color);
        if (meta.color == V1MODEL_METER_COLOR_RED) {
            drop(drop_reason_t.NONE);
            return;
        }
        acl.apply();
        if (hdr.ipv4.ttl <= 1) {
            drop(drop_reason_t.TTL);
        } else {
            switch (routes.apply().action_run) {
                forward: {
                    if (hdr.vlan[0].isValid()) {
                        hdr.vlan.pop_front(1);
                    }
                }
                drop:
                to_cpu: {
                    log_msg("not forwarded, ttl={}", { hdr.ipv4.ttl });
                }
            }
        }
    }
}

control L3Egress(inout headers_t hdr,
                 inout metadata_t meta,
                 inout standard_metadata_t standard_metadata) {
    apply {
        if (standard_metadata.instance_type == 1) {
            hdr.ipv4.diffserv = hdr.ipv4.diffserv[7:2] ++ 2w0;
        }
    }
}

control L3ComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        update_checksum(
            hdr.ipv4.isValid(),
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.diffserv, hdr.ipv4.total_len,
              hdr.ipv4.identification, hdr.ipv4.flags, hdr.ipv4.frag_offset, hdr.ipv4.ttl,
              hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr },
            hdr.ipv4.hdr_checksum,
            HashAlgorithm.csum16);
    }
}

control L3Deparser(packet_out packet, in headers_t hdr) {
    apply {
        packet.emit(hdr.ethernet);
        packet.emit(hdr.vlan);
        packet.emit(hdr.ipv4);
        packet.emit(hdr.tcp);
    }
}

V1Switch(
    L3Parser(),
    L3VerifyChecksum(),
    L3Ingress(),
    L3Egress(),
    L3ComputeChecksum(),
    L3Deparser()
) main;
