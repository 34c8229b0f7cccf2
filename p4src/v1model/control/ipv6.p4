/*
 * D13: what IPv6 adds beside the IPv4 path: neighbour solicitations answered for the
 * switch's own addresses (the IPv6 ARP), the policy for extension-header chains the
 * parser does not follow, and the decisions for IPv6 traffic to a VIP.
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

/* D13, D16: IPv6 traffic to a VIP until the IPv6 proxy path lands: refused (martian
 * source, group MAC, version) and denied traffic dropped and counted as for IPv4;
 * traffic of a service that is proxied now is dropped (EV_DROP_POLICY: never
 * answered, never passed unproxied); a service not defended is forwarded (SYN:
 * EV_SYN_PASSED) and NATed for NAT services (nat.p4). */
control Ipv6Services(in headers_t hdr, inout local_metadata_t meta,
                     inout standard_metadata_t standard_metadata) {
    apply {
        bool refuse_martian = meta.svc_hit && !meta.from_cpu && meta.martian;
        bool refuse_group_mac = meta.svc_hit && !meta.from_cpu
                                && mac_is_group(hdr.ethernet.src_addr);
        bool refuse_version = meta.ip_bad_version && !meta.from_cpu && meta.svc_hit;
        if (refuse_martian || refuse_group_mac || refuse_version) {
            mark_to_drop(standard_metadata);
            if (refuse_version) {
                meta.event = EV_DROP_MALFORMED;
            } else if (refuse_martian) {
                meta.event = EV_DROP_MARTIAN;
            } else {
                meta.event = EV_DROP_GROUP_MAC;
            }
            meta.done = true;
        } else if (meta.svc_hit && meta.svc_deny && !meta.from_cpu) {
            mark_to_drop(standard_metadata);
            if (meta.is_fragment) {
                meta.event = EV_DROP_FRAGMENT;
            } else if (meta.ip_proto == IP_PROTO_UDP) {
                meta.event = EV_DROP_UDP;
            } else {
                meta.event = EV_DROP_POLICY;
            }
            meta.done = true;
        } else if (meta.svc_hit && meta.proxy_active && !meta.from_cpu) {
            mark_to_drop(standard_metadata);
            meta.event = EV_DROP_POLICY;
            meta.done = true;
        } else if (meta.svc_hit && !meta.from_cpu) {
            meta.passed = true;
            if (hdr.tcp.isValid() && (hdr.tcp.flags & TCP_CTRL_MASK) == TCP_SYN) {
                meta.syn_in = true;
                meta.event = EV_SYN_PASSED;
            }
        }
    }
}

#endif
