/*
 * TNA parsers and deparsers. The packet parser proper (Ethernet, VLAN tags, ARP,
 * IPv4, TCP with its options, UDP, ICMP) is a sub-parser with no intrinsic
 * metadata, applied by the ingress parser after the TNA prologue (intrinsic
 * metadata, port metadata, then the CPU or recirculation header by port).
 *
 * A parser error on Tofino does not stop the packet either: the ingress parser's
 * errors (a frame too short for a header, a full option stack) land in
 * ig_intr_md_from_prsr.parser_err, which the ingress reads as v1model's
 * parser_error (D1). The checks v1model makes with verify() (bf-p4c has no verify
 * in the parser) are select()s here into `malformed_*` states, which set
 * meta.malformed and stop, as a failed verify stops v1model's parser: what was
 * extracted stays valid, the control drops or forwards as for a parser error.
 */
#ifndef SYNPROXY_TNA_PARSER_P4
#define SYNPROXY_TNA_PARSER_P4

/* hdr is inout, not out: what was extracted before a parser error stays valid for
 * the ingress, as in v1model (out would be copied back only on accept). */
parser PacketParser(packet_in packet, inout headers_t hdr, inout local_metadata_t meta,
                    inout tcp_opt_pad_t tcp_pad) {

    state start {
        packet.extract(hdr.ethernet);
        meta.l2_len = ETH_HDR_LEN;
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_VLAN: parse_vlan_outer;
            ETHERTYPE_QINQ: parse_vlan_outer;
            ETHERTYPE_ARP: parse_arp;
            ETHERTYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }

    /* D16: one or two tags; a third is marked and dropped by the ingress. */
    state parse_vlan_outer {
        packet.extract(hdr.vlan_outer);
        meta.l2_len = ETH_HDR_LEN + VLAN_TAG_LEN;
        transition select(hdr.vlan_outer.ether_type) {
            ETHERTYPE_VLAN: parse_vlan_inner;
            ETHERTYPE_QINQ: parse_vlan_inner;
            ETHERTYPE_ARP: parse_arp;
            ETHERTYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }

    state parse_vlan_inner {
        packet.extract(hdr.vlan_inner);
        meta.l2_len = ETH_HDR_LEN + VLAN_TAG_LEN + VLAN_TAG_LEN;
        transition select(hdr.vlan_inner.ether_type) {
            ETHERTYPE_VLAN: parse_vlan_too_deep;
            ETHERTYPE_QINQ: parse_vlan_too_deep;
            ETHERTYPE_ARP: parse_arp;
            ETHERTYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }

    state parse_vlan_too_deep {
        meta.l2_unparsed = true;
        transition accept;
    }

    state parse_arp {
        packet.extract(hdr.arp);
        transition accept;
    }

    state parse_ipv4 {
        packet.extract(hdr.ipv4);
        meta.ip_bad_version = hdr.ipv4.version != IPV4_VERSION;
        meta.is_fragment = hdr.ipv4.flag_mf == 1 || hdr.ipv4.frag_offset != 0;
        transition select(hdr.ipv4.ihl) {
            0 &&& 0xc: malformed_ipv4_ihl;    /* 0..3 */
            4: malformed_ipv4_ihl;
            5: parse_ipv4_payload;
            default: parse_ipv4_options;
        }
    }

    /* IHL < 5: a header shorter than its fixed part (v1model: Ipv4BadHeaderLength). */
    state malformed_ipv4_ihl {
        meta.malformed = true;
        transition accept;
    }

    state parse_ipv4_options {
        packet.extract(hdr.ipv4_options, ((bit<32>)hdr.ipv4.ihl - 5) << 5);
        transition parse_ipv4_payload;
    }

    state parse_ipv4_payload {
        transition select(hdr.ipv4.flag_mf, hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (0, 0, IP_PROTO_TCP): parse_tcp;
            (0, 0, IP_PROTO_UDP): parse_udp;
            (0, 0, IP_PROTO_ICMP): parse_icmp;
            default: accept;
        }
    }

    state parse_udp {
        packet.extract(hdr.udp);
        meta.l4_src_port = hdr.udp.src_port;
        meta.l4_dst_port = hdr.udp.dst_port;
        transition accept;
    }

    state parse_icmp {
        packet.extract(hdr.icmp);
        transition accept;
    }

    state parse_tcp {
        packet.extract(hdr.tcp);
        meta.l4_src_port = hdr.tcp.src_port;
        meta.l4_dst_port = hdr.tcp.dst_port;
        transition select(hdr.tcp.data_offset) {
            0 &&& 0xc: malformed_tcp_offset;  /* 0..3 */
            4: malformed_tcp_offset;
            default: parse_tcp_option_area;
        }
    }

    /* Data offset < 5 (v1model: TcpBadDataOffset). */
    state malformed_tcp_offset {
        meta.malformed = true;
        transition accept;
    }

    state parse_tcp_option_area {
        /* data_offset >= 5 here: 0..40 option bytes. */
        meta.opt_left = ((bit<8>)hdr.tcp.data_offset - 5) << 2;
        transition next_tcp_option;
    }

    /* The option loop: bounded by the data offset (at most 40 bytes), one stack
     * element per option, in wire order (see common/headers.p4). */
    state next_tcp_option {
        transition select(meta.opt_left) {
            0: accept;
            default: parse_tcp_option;
        }
    }

    state parse_tcp_option {
        transition select(packet.lookahead<bit<8>>()) {
            TCP_OPT_EOL: parse_tcp_opt_eol;
            TCP_OPT_NOP: parse_tcp_opt_nop;
            default: parse_tcp_opt_tlv;
        }
    }

    /* What follows an EOL in the option area is padding: extracted (tcp_pad), so
     * that a segment built from this one does not carry it as payload (TNA cannot
     * cut the frame as v1model's truncate() does). */
    state parse_tcp_opt_eol {
        packet.extract(hdr.tcp_options.next.eol);
        meta.opt_left = meta.opt_left - 1;
        transition select(meta.opt_left) {
            0: accept;
            default: parse_tcp_opt_pad;
        }
    }

    state parse_tcp_opt_pad {
        packet.extract(tcp_pad, ((bit<32>)meta.opt_left) << 3);
        transition accept;
    }

    state parse_tcp_opt_nop {
        packet.extract(hdr.tcp_options.next.nop);
        meta.opt_left = meta.opt_left - 1;
        transition next_tcp_option;
    }

    /* A kind-length option needs two bytes of the area before its length is read
     * (v1model: TcpOptionOverrun). */
    state parse_tcp_opt_tlv {
        transition select(meta.opt_left) {
            1: malformed_tcp_option;
            default: parse_tcp_opt_length;
        }
    }

    /* Length 0 or 1 (v1model: TcpOptionBadLength). */
    state parse_tcp_opt_length {
        bit<16> kind_len = packet.lookahead<bit<16>>();
        meta.opt_len = kind_len[7:0];
        transition select(meta.opt_len) {
            0: malformed_tcp_option;
            1: malformed_tcp_option;
            default: parse_tcp_opt_fits;
        }
    }

    /* The option within the area (v1model: TcpOptionOverrun): opt_len <= opt_left,
     * tested without a comparison of two variables in the parser: the difference
     * is taken 16 bits wide, where opt_left (<= 40) - opt_len (<= 255) is negative,
     * so its high byte non-zero, exactly when the option overruns. */
    state parse_tcp_opt_fits {
        bit<16> left = (bit<16>)meta.opt_left - (bit<16>)meta.opt_len;
        meta.opt_left = left[7:0];
        transition select(left[15:8]) {
            0: parse_tcp_opt_kind;
            default: malformed_tcp_option;
        }
    }

    state malformed_tcp_option {
        meta.malformed = true;
        transition accept;
    }

    state parse_tcp_opt_kind {
        bit<16> kind_len = packet.lookahead<bit<16>>();
        transition select(kind_len) {
            TCP_OPT_MSS ++ TCP_OPT_MSS_LEN: parse_tcp_opt_mss;
            TCP_OPT_WSCALE ++ TCP_OPT_WSCALE_LEN: parse_tcp_opt_wscale;
            TCP_OPT_SACK_PERM ++ TCP_OPT_SACK_PERM_LEN: parse_tcp_opt_sack_perm;
            TCP_OPT_TIMESTAMP ++ TCP_OPT_TIMESTAMP_LEN: parse_tcp_opt_timestamp;
            TCP_OPT_SACK ++ TCP_OPT_SACK1_LEN: parse_tcp_opt_sack1;
            TCP_OPT_SACK ++ TCP_OPT_SACK2_LEN: parse_tcp_opt_sack2;
            TCP_OPT_SACK ++ TCP_OPT_SACK3_LEN: parse_tcp_opt_sack3;
            TCP_OPT_SACK ++ TCP_OPT_SACK4_LEN: parse_tcp_opt_sack4;
            default: parse_tcp_opt_generic;
        }
    }

    state parse_tcp_opt_mss {
        packet.extract(hdr.tcp_options.next.mss);
        meta.opt.has_mss = true;
        meta.opt.mss = hdr.tcp_options.last.mss.mss;
        transition next_tcp_option;
    }

    state parse_tcp_opt_wscale {
        packet.extract(hdr.tcp_options.next.wscale);
        meta.opt.has_wscale = true;
        meta.opt.wscale = hdr.tcp_options.last.wscale.shift;
        transition next_tcp_option;
    }

    state parse_tcp_opt_sack_perm {
        packet.extract(hdr.tcp_options.next.sack_perm);
        meta.opt.sack_perm = true;
        transition next_tcp_option;
    }

    state parse_tcp_opt_timestamp {
        packet.extract(hdr.tcp_options.next.timestamp);
        meta.opt.has_timestamp = true;
        meta.opt.tsval = hdr.tcp_options.last.timestamp.tsval;
        meta.opt.tsecr = hdr.tcp_options.last.timestamp.tsecr;
        transition next_tcp_option;
    }

    state parse_tcp_opt_sack1 {
        packet.extract(hdr.tcp_options.next.sack1);
        meta.opt.has_sack = true;
        transition next_tcp_option;
    }

    state parse_tcp_opt_sack2 {
        packet.extract(hdr.tcp_options.next.sack2);
        meta.opt.has_sack = true;
        transition next_tcp_option;
    }

    state parse_tcp_opt_sack3 {
        packet.extract(hdr.tcp_options.next.sack3);
        meta.opt.has_sack = true;
        transition next_tcp_option;
    }

    state parse_tcp_opt_sack4 {
        packet.extract(hdr.tcp_options.next.sack4);
        meta.opt.has_sack = true;
        transition next_tcp_option;
    }

    /* opt_len is 2..40 here (parse_tcp_opt_length, parse_tcp_opt_fits): the body is
     * 0..38 bytes, within the varbit<304>; the subtraction is made at 8 bits, where
     * it cannot wrap, and only the result widened. */
    state parse_tcp_opt_generic {
        packet.extract(hdr.tcp_options.next.generic, ((bit<32>)(meta.opt_len - 2)) << 3);
        transition next_tcp_option;
    }
}

/* Ingress: intrinsic metadata, the port metadata (unused), then by port: a
 * PacketOut header from the CPU port, the cookie pass header from the
 * recirculation port, and the frame. */
parser SynproxyIngressParser(packet_in packet,
                             out tna_headers_t hdr,
                             out tna_ingress_metadata_t meta,
                             out ingress_intrinsic_metadata_t ig_intr_md) {
    PacketParser() packet_parser;

    state start {
        packet.extract(ig_intr_md);
        packet.advance(PORT_METADATA_SIZE);
        meta.tcp_fresh = false;
        meta.tcp_len = 0;
        transition select(ig_intr_md.ingress_port) {
            CPU_PORT: parse_packet_out;
            RECIRC_PORT: parse_cookie_pass;
            default: parse_frame;
        }
    }

    state parse_packet_out {
        packet.extract(hdr.h.packet_out);
        transition parse_frame;
    }

    state parse_cookie_pass {
        packet.extract(hdr.cookie_pass);
        transition parse_frame;
    }

    state parse_frame {
        packet_parser.apply(packet, hdr.h, meta.m, hdr.tcp_pad);
        transition accept;
    }
}

/* The IPv4 header checksum is recomputed for every packet (its options included:
 * an invalid ipv4_options adds nothing), the TCP checksum of a
 * segment the switch built is summed in full (translated segments are patched
 * incrementally in the controls, as in v1model); digests are packed here. */
control SynproxyIngressDeparser(packet_out packet,
                                inout tna_headers_t hdr,
                                in tna_ingress_metadata_t meta,
                                in ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {
    Checksum() ipv4_checksum;
    Checksum() tcp_checksum;
    Digest<cookie_ack_digest_t>(DIGEST_TYPE_COOKIE_ACK) cookie_ack_digest;
    Digest<session_event_digest_t>(DIGEST_TYPE_SESSION_EVENT) session_event_digest;
    Mirror(MIRROR_TYPE_SERVER_ACK) mirror;

    apply {
        if (ig_dprsr_md.mirror_type == MIRROR_TYPE_SERVER_ACK) {
            mirror.emit(meta.mirror_session, meta.server_ack);
        }
        if (hdr.h.ipv4.isValid()) {
            hdr.h.ipv4.hdr_checksum = ipv4_checksum.update({
                hdr.h.ipv4.version, hdr.h.ipv4.ihl, hdr.h.ipv4.dscp, hdr.h.ipv4.ecn,
                hdr.h.ipv4.total_len, hdr.h.ipv4.identification,
                hdr.h.ipv4.flag_rsvd, hdr.h.ipv4.flag_df, hdr.h.ipv4.flag_mf,
                hdr.h.ipv4.frag_offset, hdr.h.ipv4.ttl, hdr.h.ipv4.protocol,
                hdr.h.ipv4.src_addr, hdr.h.ipv4.dst_addr, hdr.h.ipv4_options });
        }
        if (meta.tcp_fresh) {
            /* No payload and no parsed options: the SYN/ACK's generated options
             * (invalid ones add nothing). */
            hdr.h.tcp.checksum = tcp_checksum.update({
                hdr.h.ipv4.src_addr, hdr.h.ipv4.dst_addr, 8w0, IP_PROTO_TCP, meta.tcp_len,
                hdr.h.tcp.src_port, hdr.h.tcp.dst_port, hdr.h.tcp.seq_no, hdr.h.tcp.ack_no,
                hdr.h.tcp.data_offset, hdr.h.tcp.res, hdr.h.tcp.flags, hdr.h.tcp.window,
                hdr.h.tcp.urgent_ptr,
                hdr.h.gen_mss, hdr.h.gen_wscale, hdr.h.gen_sack_perm, hdr.h.gen_timestamp });
        }
        if (ig_dprsr_md.digest_type == DIGEST_TYPE_COOKIE_ACK) {
            cookie_ack_digest.pack(meta.ack);
        } else if (ig_dprsr_md.digest_type == DIGEST_TYPE_SESSION_EVENT) {
            session_event_digest.pack(meta.event);
        }
        packet.emit(hdr.cookie_pass);
        packet.emit(hdr.h.packet_in);
        packet.emit(hdr.h.ethernet);
        packet.emit(hdr.h.vlan_outer);
        packet.emit(hdr.h.vlan_inner);
        packet.emit(hdr.h.arp);
        packet.emit(hdr.h.ipv4);
        packet.emit(hdr.h.ipv4_options);
        packet.emit(hdr.h.tcp);
        packet.emit(hdr.h.tcp_options);
        packet.emit(hdr.tcp_pad);
        packet.emit(hdr.h.gen_mss);
        packet.emit(hdr.h.gen_wscale);
        packet.emit(hdr.h.gen_sack_perm);
        packet.emit(hdr.h.gen_timestamp);
        packet.emit(hdr.h.udp);
        packet.emit(hdr.h.icmp);
    }
}

/* Egress sees the bridged cookie pass header, the frame as payload; behind a
 * server-ACK mirror header (D8) it parses the window update the frame is by then. */
parser SynproxyEgressParser(packet_in packet,
                            out tna_egress_headers_t hdr,
                            out tna_egress_metadata_t meta,
                            out egress_intrinsic_metadata_t eg_intr_md) {
    state start {
        packet.extract(eg_intr_md);
        transition select(packet.lookahead<bit<8>>()) {
            MIRROR_KIND_SERVER_ACK: parse_server_ack;
            default: parse_bridged;
        }
    }

    state parse_bridged {
        packet.extract(hdr.cookie_pass);
        transition accept;
    }

    state parse_server_ack {
        packet.extract(hdr.server_ack);
        packet.extract(hdr.cookie_pass);
        packet.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_VLAN: parse_vlan_outer;
            ETHERTYPE_QINQ: parse_vlan_outer;
            ETHERTYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }

    state parse_vlan_outer {
        packet.extract(hdr.vlan_outer);
        transition select(hdr.vlan_outer.ether_type) {
            ETHERTYPE_VLAN: parse_vlan_inner;
            ETHERTYPE_QINQ: parse_vlan_inner;
            ETHERTYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }

    state parse_vlan_inner {
        packet.extract(hdr.vlan_inner);
        transition select(hdr.vlan_inner.ether_type) {
            ETHERTYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }

    state parse_ipv4 {
        packet.extract(hdr.ipv4);
        transition select(hdr.ipv4.ihl, hdr.ipv4.protocol) {
            (5, IP_PROTO_TCP): parse_tcp;
            default: accept;
        }
    }

    state parse_tcp {
        packet.extract(hdr.tcp);
        transition select(hdr.tcp.data_offset) {
            TCP_MIN_DATA_OFFSET + 3: parse_timestamp;
            default: accept;
        }
    }

    state parse_timestamp {
        packet.extract(hdr.gen_timestamp);
        transition accept;
    }
}

/* The ACK to the server (built in SynproxyEgress) gets both checksums in full; no
 * other packet has its frame parsed in egress. */
control SynproxyEgressDeparser(packet_out packet,
                               inout tna_egress_headers_t hdr,
                               in tna_egress_metadata_t meta) {
    Checksum() ipv4_checksum;
    Checksum() tcp_checksum;

    apply {
        if (hdr.ipv4.isValid()) {
            hdr.ipv4.hdr_checksum = ipv4_checksum.update({
                hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp, hdr.ipv4.ecn,
                hdr.ipv4.total_len, hdr.ipv4.identification,
                hdr.ipv4.flag_rsvd, hdr.ipv4.flag_df, hdr.ipv4.flag_mf,
                hdr.ipv4.frag_offset, hdr.ipv4.ttl, hdr.ipv4.protocol,
                hdr.ipv4.src_addr, hdr.ipv4.dst_addr });
        }
        if (hdr.tcp.isValid()) {
            hdr.tcp.checksum = tcp_checksum.update({
                hdr.ipv4.src_addr, hdr.ipv4.dst_addr, 8w0, IP_PROTO_TCP,
                ((bit<16>)hdr.tcp.data_offset) << 2,
                hdr.tcp.src_port, hdr.tcp.dst_port, hdr.tcp.seq_no, hdr.tcp.ack_no,
                hdr.tcp.data_offset, hdr.tcp.res, hdr.tcp.flags, hdr.tcp.window,
                hdr.tcp.urgent_ptr, hdr.gen_timestamp });
        }
        packet.emit(hdr.server_ack);
        packet.emit(hdr.cookie_pass);
        packet.emit(hdr.ethernet);
        packet.emit(hdr.vlan_outer);
        packet.emit(hdr.vlan_inner);
        packet.emit(hdr.ipv4);
        packet.emit(hdr.tcp);
        packet.emit(hdr.gen_timestamp);
    }
}

#endif
