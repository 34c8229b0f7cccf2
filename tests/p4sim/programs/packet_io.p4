/* Packet-in/packet-out through the CPU port with controller headers, the
 * 20200408 v1model API (PortId_t, typed register indices), an L2 table with an
 * idle timeout, multicast flooding and a punt table keyed by a new type. */
#define V1MODEL_VERSION 20200408
#include <core.p4>
#include <v1model.p4>

#ifndef CPU_PORT
#define CPU_PORT 255
#endif

const PortId_t CPU = CPU_PORT;
type bit<16> vlan_id_t;
typedef bit<48> mac_t;

@controller_header("packet_in")
header packet_in_t {
    @id(1) PortId_t ingress_port;
    @id(2) bit<7>   _pad;
}

@controller_header("packet_out")
header packet_out_t {
    @id(1) PortId_t egress_port;
    @id(2) bit<7>   _pad;
}

header ethernet_t {
    mac_t   dst;
    mac_t   src;
    bit<16> ether_type;
}

struct headers_t {
    packet_out_t packet_out;
    packet_in_t  packet_in;
    ethernet_t   ethernet;
}

struct metadata_t {
    vlan_id_t vlan;
    bit<32>   seen;
}

parser IoParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                inout standard_metadata_t std) {
    state start {
        meta.vlan = (vlan_id_t) 16w1;
        transition select(std.ingress_port) {
            CPU: parse_packet_out;
            default: parse_ethernet;
        }
    }
    state parse_packet_out {
        pkt.extract(hdr.packet_out);
        transition parse_ethernet;
    }
    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition accept;
    }
}

control IoVerify(inout headers_t hdr, inout metadata_t meta) { apply { } }

control IoIngress(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t std) {
    register<bit<32>, bit<8>>(256) seen_per_port;

    action send_to_cpu() {
        std.egress_spec = CPU;
    }

    action set_port(PortId_t port) {
        std.egress_spec = port;
    }

    action flood() {
        std.mcast_grp = 16w1;
    }

    @name("l2_fwd")
    table dmac {
        key = {
            hdr.ethernet.dst : exact @name("dst_mac");
            meta.vlan        : exact @name("vlan");
        }
        actions = { set_port; flood; @defaultonly send_to_cpu; }
        const default_action = send_to_cpu();
        support_timeout = true;
        size = 4096;
    }

    table punt {
        key = {
            hdr.ethernet.ether_type : exact;
            std.ingress_port        : optional;
        }
        actions = { send_to_cpu; NoAction; }
        default_action = NoAction();
    }

    apply {
        if (hdr.packet_out.isValid()) {
            std.egress_spec = hdr.packet_out.egress_port;
            hdr.packet_out.setInvalid();
            exit;
        }
        bit<32> n;
        seen_per_port.read(n, (bit<8>) std.ingress_port);
        seen_per_port.write((bit<8>) std.ingress_port, n + 1);
        meta.seen = n;
        if (!punt.apply().hit) {
            dmac.apply();
        }
        if (std.egress_spec == CPU) {
            hdr.packet_in.setValid();
            hdr.packet_in.ingress_port = std.ingress_port;
            hdr.packet_in._pad = 0;
        }
    }
}

control IoEgress(inout headers_t hdr, inout metadata_t meta, inout standard_metadata_t std) {
    apply {
        if (std.egress_port == std.ingress_port && std.mcast_grp != 0) {
            mark_to_drop(std);
        }
    }
}

control IoCompute(inout headers_t hdr, inout metadata_t meta) { apply { } }

control IoDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.packet_in);
        pkt.emit(hdr.ethernet);
    }
}

V1Switch(IoParser(), IoVerify(), IoIngress(), IoEgress(), IoCompute(), IoDeparser()) main;
