/*
 * D13: what IPv6 adds beside the IPv4 path: neighbour solicitations answered for the
 * switch's own addresses (the IPv6 ARP), the policy for extension-header chains the
 * parser does not follow, and the helpers of the proxy path's IPv6 segments (the
 * proxy path itself, SynProxy, is the families' one).
 */
#ifndef SYNPROXY_CONTROL_IPV6_P4
#define SYNPROXY_CONTROL_IPV6_P4

/* Sources an NS is never answered from, whatever the martian table says: the
 * unspecified address (duplicate address detection is not ours to answer), loopback
 * and multicast. */
bool ipv6_never_neighbour(in ipv6_addr_t src) {
    return src == 0 || src == 1 || src[127:120] == 0xff;
}

/* Link-local (fe80::/10): the usual source of an NS, martian towards a VIP only. */
bool ipv6_link_local(in ipv6_addr_t addr) {
    return addr[127:118] == 0x3fa;
}

/* An NS whose target is a gateway address or VIP (nd_replies) becomes the NA, in
 * place, out of the port it came in on: src = the target, dst = the solicitor,
 * flags R S O, the target link-layer address option, hop limit 255. Refused
 * (dropped, counted, never answered): a group source MAC, a source that is
 * unspecified, loopback, multicast or martian (other than link-local), a hop
 * limit other than 255, extension headers. Other NS are bridged like any frame. */
control NeighbourResponder(inout headers_t hdr, inout local_metadata_t meta,
                           inout standard_metadata_t standard_metadata) {

    @id(ID_DIRECT_COUNTER_ND_REPLIES)
    direct_counter(CounterType.packets_and_bytes) nd_replies_counter;

    @id(ID_ACTION_REPLY_NA)
    action reply_na(mac_addr_t mac) {
        hdr.ethernet.dst_addr = hdr.ethernet.src_addr;
        hdr.ethernet.src_addr = mac;
        hdr.ipv6.dst_addr = hdr.ipv6.src_addr;
        hdr.ipv6.src_addr = hdr.nd.target;
        hdr.ipv6.hop_limit = ND_HOP_LIMIT;
        hdr.ipv6.payload_len = 32;   /* ICMPv6 4 + NA 20 + option 8 */
        hdr.icmp.icmp_type = ICMPV6_NA;
        hdr.icmp.code = 0;
        hdr.nd.flags = ND_NA_FLAGS_RSO;
        hdr.nd_lla.setValid();
        hdr.nd_lla.opt_type = ND_OPT_TARGET_LLA;
        hdr.nd_lla.len = 1;
        hdr.nd_lla.mac = mac;
        standard_metadata.egress_spec = standard_metadata.ingress_port;
        meta.done = true;
    }

    @id(ID_TABLE_ND_REPLIES)
    table nd_replies {
        key = {
            hdr.nd.target : exact @name("target");
        }
        actions = {
            reply_na;
            @defaultonly NoAction;
        }
        const default_action = NoAction();
        counters = nd_replies_counter;
        size = ARP_REPLIES_SIZE;
    }

    apply {
        if (mac_is_group(hdr.ethernet.src_addr)
                || (hdr.nd_lla.isValid() && mac_is_group(hdr.nd_lla.mac))) {
            mark_to_drop(standard_metadata);
            meta.event = EV_DROP_GROUP_MAC;
            meta.done = true;
        } else if (ipv6_never_neighbour(hdr.ipv6.src_addr)
                   || (meta.martian && !ipv6_link_local(hdr.ipv6.src_addr))) {
            mark_to_drop(standard_metadata);
            meta.event = EV_DROP_MARTIAN;
            meta.done = true;
        } else if (hdr.ipv6.hop_limit != ND_HOP_LIMIT || meta.ipv6_ext_len != 0
                   || meta.ip_bad_version
                   || standard_metadata.parser_error != error.NoError) {
            /* RFC 4861 7.1.1: not a valid solicitation (it may have been routed). */
            mark_to_drop(standard_metadata);
            meta.event = EV_DROP_MALFORMED;
            meta.done = true;
        } else if (nd_replies.apply().hit) {
            /* The ICMPv6 checksum: pseudo-header (addresses, length 32, Next Header
             * 58) and the 32-byte message; the checksum field counts as zero. The
             * running sum is a header's field, made valid again after each step, so
             * that p4c reads it rather than copying the expression so far into the
             * next step (and csum_fold's four uses of it). */
            csum_acc_t na;
            na.setValid();
            na.sum = (CSUM_WORDS32(hdr.ipv6.src_addr[127:96])
                           + CSUM_WORDS32(hdr.ipv6.src_addr[95:64]))
                          + (CSUM_WORDS32(hdr.ipv6.src_addr[63:32])
                             + CSUM_WORDS32(hdr.ipv6.src_addr[31:0]));
            na.setValid();
            na.sum = na.sum + ((CSUM_WORDS32(hdr.ipv6.dst_addr[127:96])
                          + CSUM_WORDS32(hdr.ipv6.dst_addr[95:64]))
                         + (CSUM_WORDS32(hdr.ipv6.dst_addr[63:32])
                            + CSUM_WORDS32(hdr.ipv6.dst_addr[31:0])));
            na.setValid();
            na.sum = na.sum + (((bit<32>)32 + (bit<32>)IP_PROTO_ICMPV6)
                         + ((bit<32>)(hdr.icmp.icmp_type ++ hdr.icmp.code)
                            + CSUM_WORDS32(hdr.nd.flags)));
            na.setValid();
            na.sum = na.sum + ((CSUM_WORDS32(hdr.nd.target[127:96])
                          + CSUM_WORDS32(hdr.nd.target[95:64]))
                         + (CSUM_WORDS32(hdr.nd.target[63:32])
                            + CSUM_WORDS32(hdr.nd.target[31:0])));
            na.setValid();
            na.sum = na.sum + (((bit<32>)(hdr.nd_lla.opt_type ++ hdr.nd_lla.len)
                          + (bit<32>)hdr.nd_lla.mac[47:32])
                         + ((bit<32>)hdr.nd_lla.mac[31:16] + (bit<32>)hdr.nd_lla.mac[15:0]));
            na.setValid();
            hdr.icmp.checksum = ~csum_fold(na.sum);
            /* Whatever followed the first option is not part of the answer. */
            truncate((bit<32>)meta.l2_len + (bit<32>)IPV6_HDR_LEN + 32);
        }
    }
}

/* D13: an extension-header chain the parser does not follow: the data plane cannot
 * see the upper layer, so it cannot tell a VIP's service, and answers nothing. */
control Ipv6ChainPolicy(inout local_metadata_t meta,
                        inout standard_metadata_t standard_metadata) {

    /* pass: 0 drop (EV_DROP_UNPARSED), 1 forward as plain traffic (EV_V6_CHAIN_PASSED). */
    @id(ID_ACTION_SET_IPV6_CHAIN_POLICY)
    action set_ipv6_chain_policy(bit<8> pass) {
        meta.ipv6_chain_pass = pass != 0;
    }

    @id(ID_TABLE_IPV6_CHAIN_POLICY)
    table ipv6_chain_policy {
        actions = {
            @defaultonly set_ipv6_chain_policy;
        }
        default_action = set_ipv6_chain_policy(0);
        size = 1;
    }

    apply {
        ipv6_chain_policy.apply();
        if (meta.ipv6_chain_pass) {
            meta.event = EV_V6_CHAIN_PASSED;
        } else {
            mark_to_drop(standard_metadata);
            meta.event = EV_DROP_UNPARSED;
            meta.done = true;
        }
    }
}

/* D13: a segment the switch builds from an IPv6 one (reply.p4) carries no extension
 * header: every member of the stack invalid (each member of each union, as
 * TCP_OPTION_CLEAR does for the options, reply.p4). */
#define IPV6_EXT_CLEAR(h) \
    h.ipv6_ext[0].opt.setInvalid(); \
    h.ipv6_ext[0].frag.setInvalid(); \
    h.ipv6_ext[1].opt.setInvalid(); \
    h.ipv6_ext[1].frag.setInvalid(); \
    h.ipv6_ext[2].opt.setInvalid(); \
    h.ipv6_ext[2].frag.setInvalid(); \
    h.ipv6_ext[3].opt.setInvalid(); \
    h.ipv6_ext[3].frag.setInvalid();

/* D13: the MSS an IPv6 SYN/ACK offers: the service's, at most what a 1500-byte link
 * fits under the 40-byte IPv6 header (IPV6_MSS_MAX; IPv4 offers the service's
 * as it is). */
bit<16> ipv6_synack_mss(in bit<16> svc_mss) {
    bit<16> mss = svc_mss;
    if (mss > IPV6_MSS_MAX) {
        mss = IPV6_MSS_MAX;
    }
    return mss;
}

#endif
