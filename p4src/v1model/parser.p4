/*
 * Parser, checksum controls and deparser shared by synproxy.p4 and forwarding.p4.
 *
 * Malformed input never stops the pipeline: v1model runs ingress after a parser error
 * with standard_metadata.parser_error set, and the ingress counts and handles it
 * (D1). The headers parsed before the error stay valid; the rest of the packet is
 * carried as payload.
 */
#ifndef SYNPROXY_V1MODEL_PARSER_P4
#define SYNPROXY_V1MODEL_PARSER_P4

error {
    Ipv4BadHeaderLength,
    TcpBadDataOffset,
    TcpOptionBadLength,
    TcpOptionOverrun
}

parser SynproxyParser(packet_in packet,
                      out headers_t hdr,
                      inout local_metadata_t meta,
                      inout standard_metadata_t standard_metadata) {

    state start {
        transition select(standard_metadata.ingress_port) {
            CPU_PORT: parse_packet_out;
            default: parse_ethernet;
        }
    }

    state parse_packet_out {
        packet.extract(hdr.packet_out);
        transition parse_ethernet;
    }

    state parse_ethernet {
        packet.extract(hdr.ethernet);
        meta.l2_len = ETH_HDR_LEN;
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_VLAN: parse_vlan_outer;
            ETHERTYPE_QINQ: parse_vlan_outer;
            ETHERTYPE_ARP: parse_arp;
            ETHERTYPE_IPV4: parse_ipv4;
            ETHERTYPE_IPV6: parse_ipv6;
            default: accept;
        }
    }

    /* D16: one or two VLAN tags (802.1Q, 802.1ad Q-in-Q), kept in the frame: what
     * the switch sends back (SYN/ACK, ARP reply) carries the tags it came with. A
     * third tag is more than the parser follows: the frame is marked and dropped
     * (counted), never bridged on a guess. */
    state parse_vlan_outer {
        packet.extract(hdr.vlan_outer);
        meta.l2_len = ETH_HDR_LEN + VLAN_TAG_LEN;
        transition select(hdr.vlan_outer.ether_type) {
            ETHERTYPE_VLAN: parse_vlan_inner;
            ETHERTYPE_QINQ: parse_vlan_inner;
            ETHERTYPE_ARP: parse_arp;
            ETHERTYPE_IPV4: parse_ipv4;
            ETHERTYPE_IPV6: parse_ipv6;
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
            ETHERTYPE_IPV6: parse_ipv6;
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
        /* D16: any other version is not IPv4 (6 is IPv6 under the wrong ether type):
         * malformed, never answered, never routed. Parsing goes on as if it were
         * IPv4 only so that a packet to a VIP is still seen to be one, and is
         * dropped and counted as malformed (SynProxy, Forwarding). */
        meta.ip_bad_version = hdr.ipv4.version != IPV4_VERSION;
        verify(hdr.ipv4.ihl >= 5, error.Ipv4BadHeaderLength);
        /* Any fragment but the first has no L4 header; the first may have a truncated
         * one. Both are only recognised (D1, D6), never parsed further. */
        meta.is_fragment = hdr.ipv4.flag_mf == 1 || hdr.ipv4.frag_offset != 0;
        meta.ip_proto = hdr.ipv4.protocol;
        transition select(hdr.ipv4.ihl) {
            5: parse_ipv4_payload;
            default: parse_ipv4_options;
        }
    }

    state parse_ipv4_options {
        /* (ihl - 5) 32-bit words of options; ihl <= 15, so at most 320 bits. */
        packet.extract(hdr.ipv4_options, ((bit<32>)hdr.ipv4.ihl - 5) << 5);
        transition parse_ipv4_payload;
    }

    state parse_ipv4_payload {
        transition select(hdr.ipv4.flag_mf, hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (0, 0, IP_PROTO_TCP): parse_tcp;
            (0, 0, IP_PROTO_UDP): parse_udp;
            (0, 0, IP_PROTO_ICMP): parse_icmp;
            default: accept;   /* fragments, other protocols */
        }
    }

    /* D13: IPv6 and the extension headers that may precede the upper layer:
     * hop-by-hop (first only), destination options, routing (with Segments Left 0:
     * otherwise the VIP is not the final destination), fragment (once). Each is kept
     * in ipv6_ext in wire order and re-emitted as it came. meta.ip_proto follows the
     * chain: the Next Header of what comes next, in the end the upper layer's. What
     * the parser does not follow (more headers, longer ones, a live routing header,
     * hop-by-hop after the first) is marked ipv6_unfollowed: ipv6_chain_policy
     * drops or forwards it, counted, and nothing answers it. */
    state parse_ipv6 {
        packet.extract(hdr.ipv6);
        meta.ip_bad_version = hdr.ipv6.version != IPV6_VERSION;
        meta.ip_proto = hdr.ipv6.next_header;
        transition select(hdr.ipv6.next_header) {
            IPV6_NH_HOP_BY_HOP: parse_ipv6_opt_hdr;
            default: parse_ipv6_next;
        }
    }

    state parse_ipv6_next {
        transition select(meta.ip_proto) {
            IPV6_NH_ROUTING: parse_ipv6_opt_hdr;
            IPV6_NH_DST_OPTS: parse_ipv6_opt_hdr;
            IPV6_NH_FRAGMENT: parse_ipv6_frag;
            IPV6_NH_HOP_BY_HOP: parse_ipv6_unfollowed;   /* only first (RFC 8200 4.3) */
            IP_PROTO_TCP: parse_tcp;
            IP_PROTO_UDP: parse_udp;
            IP_PROTO_ICMPV6: parse_icmpv6;
            default: accept;   /* other protocols */
        }
    }

    state parse_ipv6_opt_hdr {
        /* next header, length (8-byte units after the first 8), routing type and
         * segments left (routing headers only) */
        bit<32> word = packet.lookahead<bit<32>>();
        meta.opt_len = word[23:16];
        meta.ipv6_nh_next = word[31:24];
        transition select(meta.ipv6_opt_hdrs, word[23:16], meta.ip_proto, word[7:0]) {
            (3, _, _, _): parse_ipv6_unfollowed;
            (_, 0 &&& 0xe0, IPV6_NH_ROUTING, 0): parse_ipv6_opt_extract;
            (_, 0 &&& 0xe0, IPV6_NH_ROUTING, _): parse_ipv6_unfollowed;
            (_, 0 &&& 0xe0, _, _): parse_ipv6_opt_extract;
            default: parse_ipv6_unfollowed;   /* longer than 256 bytes */
        }
    }

    state parse_ipv6_opt_extract {
        /* 6 + 8 * hdr_ext_len data bytes: at most 254, i.e. 2032 bits. */
        packet.extract(hdr.ipv6_ext.next.opt, ((bit<32>)meta.opt_len << 6) + 48);
        meta.ipv6_opt_hdrs = meta.ipv6_opt_hdrs + 1;
        meta.ipv6_ext_len = meta.ipv6_ext_len + 8 + ((bit<16>)meta.opt_len << 3);
        meta.ip_proto = meta.ipv6_nh_next;
        transition parse_ipv6_next;
    }

    state parse_ipv6_frag {
        /* next header, reserved, offset (13) ++ res (2) ++ M */
        bit<32> word = packet.lookahead<bit<32>>();
        meta.ipv6_nh_next = word[31:24];
        transition select(meta.ipv6_frag_hdr, word[15:3], word[0:0]) {
            (true, _, _): parse_ipv6_unfollowed;
            (false, 0, 0): parse_ipv6_atomic_frag;
            default: parse_ipv6_fragment;
        }
    }

    /* RFC 6946: offset 0 and no more fragments is a whole packet: parsed on. */
    state parse_ipv6_atomic_frag {
        packet.extract(hdr.ipv6_ext.next.frag);
        meta.ipv6_frag_hdr = true;
        meta.ipv6_ext_len = meta.ipv6_ext_len + 8;
        meta.ip_proto = meta.ipv6_nh_next;
        transition parse_ipv6_next;
    }

    /* A fragment: recognised, as for IPv4, never parsed further (D1, D6). */
    state parse_ipv6_fragment {
        packet.extract(hdr.ipv6_ext.next.frag);
        meta.ipv6_frag_hdr = true;
        meta.ipv6_ext_len = meta.ipv6_ext_len + 8;
        meta.ip_proto = meta.ipv6_nh_next;
        meta.is_fragment = true;
        transition accept;
    }

    state parse_ipv6_unfollowed {
        meta.ipv6_unfollowed = true;
        transition accept;
    }

    state parse_icmpv6 {
        packet.extract(hdr.icmp);
        transition select(hdr.icmp.icmp_type, hdr.icmp.code) {
            (ICMPV6_NS, 0): parse_nd;
            default: accept;
        }
    }

    /* A neighbour solicitation; its first option is looked at only if the message
     * is longer than the bare 24 bytes, so a short one never reads past its end. */
    state parse_nd {
        packet.extract(hdr.nd);
        transition select(hdr.ipv6.payload_len - meta.ipv6_ext_len) {
            0 &&& 0xfff8: accept;    /* < 8: malformed, seen by the lengths check */
            8 &&& 0xfff8: accept;
            16 &&& 0xfff8: accept;
            24: accept;
            default: parse_nd_opt;
        }
    }

    state parse_nd_opt {
        transition select(packet.lookahead<bit<16>>()) {
            ND_OPT_SOURCE_LLA ++ 8w1: parse_nd_lla;
            default: accept;
        }
    }

    state parse_nd_lla {
        packet.extract(hdr.nd_lla);
        transition accept;
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
        verify(hdr.tcp.data_offset >= TCP_MIN_DATA_OFFSET, error.TcpBadDataOffset);
        /* Option bytes = (data offset - 5) * 4, at most 40: the loop below consumes
         * exactly these, so it is bounded by the data offset. */
        meta.opt_left = ((bit<8>)hdr.tcp.data_offset - 5) << 2;
        transition next_tcp_option;
    }

    state next_tcp_option {
        transition select(meta.opt_left) {
            0: accept;
            default: parse_tcp_option;
        }
    }

    state parse_tcp_option {
        /* Look at the kind only: EOL and NOP are one byte and may be the last byte of
         * the header, so a 2-byte lookahead could run past a payload-less packet. */
        transition select(packet.lookahead<bit<8>>()) {
            TCP_OPT_EOL: parse_tcp_opt_eol;
            TCP_OPT_NOP: parse_tcp_opt_nop;
            default: parse_tcp_opt_tlv;
        }
    }

    state parse_tcp_opt_eol {
        packet.extract(hdr.tcp_options.next.eol);
        /* Whatever follows EOL up to the data offset is padding: it stays in the
         * packet as the first bytes of the payload and is re-emitted untouched. */
        transition accept;
    }

    state parse_tcp_opt_nop {
        packet.extract(hdr.tcp_options.next.nop);
        meta.opt_left = meta.opt_left - 1;
        transition next_tcp_option;
    }

    state parse_tcp_opt_tlv {
        /* kind, length; a length below 2 would never advance, and one past the data
         * offset would eat the payload: both are malformed. */
        verify(meta.opt_left >= 2, error.TcpOptionOverrun);
        bit<16> kind_len = packet.lookahead<bit<16>>();
        meta.opt_len = kind_len[7:0];
        verify(meta.opt_len >= 2, error.TcpOptionBadLength);
        verify(meta.opt_len <= meta.opt_left, error.TcpOptionOverrun);
        meta.opt_left = meta.opt_left - meta.opt_len;
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
        /* Values are read by lookahead before the extract, rather than through
         * `.last`, so the code reads the same for every option. */
        bit<32> word = packet.lookahead<bit<32>>();
        packet.extract(hdr.tcp_options.next.mss);
        meta.opt.has_mss = true;
        meta.opt.mss = word[15:0];
        transition next_tcp_option;
    }

    state parse_tcp_opt_wscale {
        bit<24> word = packet.lookahead<bit<24>>();
        packet.extract(hdr.tcp_options.next.wscale);
        meta.opt.has_wscale = true;
        meta.opt.wscale = word[7:0];
        transition next_tcp_option;
    }

    state parse_tcp_opt_sack_perm {
        packet.extract(hdr.tcp_options.next.sack_perm);
        meta.opt.sack_perm = true;
        transition next_tcp_option;
    }

    state parse_tcp_opt_timestamp {
        bit<80> word = packet.lookahead<bit<80>>();
        packet.extract(hdr.tcp_options.next.timestamp);
        meta.opt.has_timestamp = true;
        meta.opt.tsval = word[63:32];
        meta.opt.tsecr = word[31:0];
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

    state parse_tcp_opt_generic {
        /* opt_len - 2 data bytes; opt_len <= 40, so at most 304 bits. */
        packet.extract(hdr.tcp_options.next.generic, ((bit<32>)meta.opt_len - 2) << 3);
        transition next_tcp_option;
    }
}

control SynproxyVerifyChecksum(inout headers_t hdr, inout local_metadata_t meta) {
    /* Checksums are not verified: a corrupt segment is forwarded as corrupt (the
     * translation updates checksums incrementally, so the error survives) and the
     * end host drops it, exactly as without the proxy. */
    apply { }
}

control SynproxyComputeChecksum(inout headers_t hdr, inout local_metadata_t meta) {
    /* The IPv4 header checksum is recomputed on every packet (TTL, addresses and
     * lengths may have changed). TCP checksums are maintained in the ingress and
     * egress controls: incrementally for translated segments, in full for segments
     * the switch builds (see control/checksum.p4). */
    apply {
        update_checksum(
            hdr.ipv4.isValid() && !hdr.ipv4_options.isValid(),
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp, hdr.ipv4.ecn,
              hdr.ipv4.total_len, hdr.ipv4.identification,
              hdr.ipv4.flag_rsvd, hdr.ipv4.flag_df, hdr.ipv4.flag_mf, hdr.ipv4.frag_offset,
              hdr.ipv4.ttl, hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr },
            hdr.ipv4.hdr_checksum,
            HashAlgorithm.csum16);
        update_checksum(
            hdr.ipv4.isValid() && hdr.ipv4_options.isValid(),
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp, hdr.ipv4.ecn,
              hdr.ipv4.total_len, hdr.ipv4.identification,
              hdr.ipv4.flag_rsvd, hdr.ipv4.flag_df, hdr.ipv4.flag_mf, hdr.ipv4.frag_offset,
              hdr.ipv4.ttl, hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr,
              hdr.ipv4_options.data },
            hdr.ipv4.hdr_checksum,
            HashAlgorithm.csum16);
    }
}

control SynproxyDeparser(packet_out packet, in headers_t hdr) {
    apply {
        packet.emit(hdr.packet_in);
        packet.emit(hdr.ethernet);
        packet.emit(hdr.vlan_outer);
        packet.emit(hdr.vlan_inner);
        packet.emit(hdr.arp);
        packet.emit(hdr.ipv4);
        packet.emit(hdr.ipv4_options);
        packet.emit(hdr.ipv6);
        packet.emit(hdr.ipv6_ext);
        packet.emit(hdr.tcp);
        packet.emit(hdr.tcp_options);
        packet.emit(hdr.gen_mss);
        packet.emit(hdr.gen_wscale);
        packet.emit(hdr.gen_sack_perm);
        packet.emit(hdr.gen_timestamp);
        packet.emit(hdr.udp);
        packet.emit(hdr.icmp);
        packet.emit(hdr.nd);
        packet.emit(hdr.nd_lla);
    }
}

#endif
