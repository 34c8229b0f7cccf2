/* A small TNA program for p4sim's tna model: L2 forwarding by destination MAC, a
 * per-port packet counter in a Register updated by a RegisterAction, per-port byte
 * Counters (one with adjust_byte_count), a CRC16 Hash
 * and a Checksum of the addresses written into the frame, a digest of unknown source
 * MACs, drop by drop_ctl, flooding with the ingress port excluded, and one
 * recirculation: egress rewrites the destination of what leaves by port 68; a
 * mirror copy carries a tag naming its session. */
#include <core.p4>
#include <tna.p4>

header ethernet_t {
    bit<48> dst_addr;
    bit<48> src_addr;
    bit<16> ether_type;
}

/* After the Ethernet header (type 0x88b5): what the pipeline computed. */
header probe_t {
    bit<16> flow_hash;
    bit<16> port_count;
    bit<16> addr_csum;
}

/* In front of a mirrored copy: which session made it. */
header mirror_tag_t {
    bit<16> session;
}

struct headers_t {
    mirror_tag_t mirror_tag;
    ethernet_t ethernet;
    probe_t    probe;
}

struct metadata_t {
    bit<48> learn_mac;
    PortId_t learn_port;
    MirrorId_t mirror_session;
}

struct learn_digest_t {
    bit<48>  mac;
    PortId_t port;
}

const bit<16> ETHERTYPE_PROBE = 0x88b5;

parser IgParser(packet_in pkt, out headers_t hdr, out metadata_t md,
                out ingress_intrinsic_metadata_t ig_intr_md) {
    state start {
        pkt.extract(ig_intr_md);
        pkt.advance(PORT_METADATA_SIZE);
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_PROBE: parse_probe;
            default: accept;
        }
    }
    state parse_probe {
        pkt.extract(hdr.probe);
        transition accept;
    }
}

control Ig(inout headers_t hdr, inout metadata_t md,
           in ingress_intrinsic_metadata_t ig_intr_md,
           in ingress_intrinsic_metadata_from_parser_t ig_prsr_md,
           inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
           inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {

    Register<bit<16>, PortId_t>(512, 0) port_packets;
    RegisterAction<bit<16>, PortId_t, bit<16>>(port_packets) count_port = {
        void apply(inout bit<16> value, out bit<16> rv) {
            value = value + 1;
            rv = value;
        }
    };
    /* Bytes per ingress port, as received and less the 14-byte Ethernet header. */
    Counter<bit<32>, PortId_t>(512, CounterType_t.PACKETS_AND_BYTES) port_bytes;
    Counter<bit<32>, PortId_t>(512, CounterType_t.PACKETS_AND_BYTES) port_l3_bytes;
    Hash<bit<16>>(HashAlgorithm_t.CRC16) flow_hash;
    DirectCounter<bit<32>>(CounterType_t.PACKETS_AND_BYTES) mac_table_counter;

    action forward(PortId_t port) {
        ig_tm_md.ucast_egress_port = port;
        mac_table_counter.count();
    }

    action drop() {
        ig_dprsr_md.drop_ctl = 1;
        mac_table_counter.count();
    }

    /* Forward, and a copy to mirror session `session` (tagged with it). */
    action forward_mirrored(PortId_t port, MirrorId_t session) {
        ig_tm_md.ucast_egress_port = port;
        ig_dprsr_md.mirror_type = 1;
        md.mirror_session = session;
        mac_table_counter.count();
    }

    /* Dropped, but the copy goes (drop_ctl bit 0 only). */
    action drop_mirrored(MirrorId_t session) {
        ig_dprsr_md.drop_ctl = 1;
        ig_dprsr_md.mirror_type = 1;
        md.mirror_session = session;
        mac_table_counter.count();
    }

    action flood(MulticastGroupId_t group) {
        ig_tm_md.mcast_grp_a = group;
        ig_tm_md.level2_exclusion_id = (L2ExclusionId_t)ig_intr_md.ingress_port;
        mac_table_counter.count();
    }

    table mac_table {
        key = {
            hdr.ethernet.dst_addr : exact @name("dst_mac");
        }
        actions = {
            forward;
            drop;
            flood;
            forward_mirrored;
            drop_mirrored;
            @defaultonly NoAction;
        }
        const default_action = NoAction();
        counters = mac_table_counter;
        size = 64;
    }

    table known_sources {
        key = {
            hdr.ethernet.src_addr : exact @name("src_mac");
        }
        actions = {
            NoAction;
        }
        size = 64;
    }

    apply {
        port_bytes.count(ig_intr_md.ingress_port);
        port_l3_bytes.count(ig_intr_md.ingress_port, 0 - 32w14);
        mac_table.apply();
        if (!known_sources.apply().hit) {
            ig_dprsr_md.digest_type = 1;
            md.learn_mac = hdr.ethernet.src_addr;
            md.learn_port = ig_intr_md.ingress_port;
        }
        if (hdr.probe.isValid()) {
            hdr.probe.flow_hash = flow_hash.get({ hdr.ethernet.dst_addr, hdr.ethernet.src_addr });
            hdr.probe.port_count = count_port.execute(ig_intr_md.ingress_port);
        }
    }
}

control IgDeparser(packet_out pkt, inout headers_t hdr, in metadata_t md,
                   in ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {
    Digest<learn_digest_t>(1) learn;
    Checksum() addr_checksum;
    Mirror(1) mirror;
    apply {
        if (ig_dprsr_md.mirror_type == 1) {
            hdr.mirror_tag.setValid();
            hdr.mirror_tag.session = (bit<16>)md.mirror_session;
            mirror.emit(md.mirror_session, hdr.mirror_tag);
            hdr.mirror_tag.setInvalid();
        }
        if (hdr.probe.isValid()) {
            hdr.probe.addr_csum = addr_checksum.update({ hdr.ethernet.dst_addr,
                                                         hdr.ethernet.src_addr });
        }
        if (ig_dprsr_md.digest_type == 1) {
            learn.pack({ md.learn_mac, md.learn_port });
        }
        pkt.emit(hdr);
    }
}

struct egress_headers_t {
    ethernet_t ethernet;
}

struct egress_metadata_t {
}

parser EgParser(packet_in pkt, out egress_headers_t hdr, out egress_metadata_t md,
                out egress_intrinsic_metadata_t eg_intr_md) {
    state start {
        pkt.extract(eg_intr_md);
        pkt.extract(hdr.ethernet);
        transition accept;
    }
}

const PortId_t RECIRC_PORT = 68;
const bit<48> AFTER_RECIRC_MAC = 0x0000000000f0;

control Eg(inout egress_headers_t hdr, inout egress_metadata_t md,
           in egress_intrinsic_metadata_t eg_intr_md) {
    apply {
        if (eg_intr_md.egress_port == RECIRC_PORT) {
            hdr.ethernet.dst_addr = AFTER_RECIRC_MAC;
        }
    }
}

control EgDeparser(packet_out pkt, inout egress_headers_t hdr, in egress_metadata_t md) {
    apply {
        pkt.emit(hdr);
    }
}

Pipeline(IgParser(), Ig(), IgDeparser(), EgParser(), Eg(), EgDeparser()) pipe;

Switch(pipe) main;
