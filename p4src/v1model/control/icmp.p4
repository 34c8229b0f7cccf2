/*
 * D15: ICMP and the other protocols (neither TCP nor UDP) to a protected VIP, IPv4
 * or IPv6 (ICMPv6; `proto` is then the upper layer's Next Header), by the policy of
 * the service whose entry they hit. Such packets reach a VIP's entry only
 * through its deny entry for what has no L4 port (vport 0, controller/install.py),
 * so `service_id` is that entry's; the policy is looked up in vip_protocols by
 * (service id, protocol), the protocol ternary so that one low-priority entry covers
 * "every other protocol":
 *
 *   icmp_answer     ICMP (ICMPv6) echo requests are answered by the switch (below); any other
 *                   ICMP message is dropped (EV_DROP_ICMP). For another protocol:
 *                   the same as protocol_drop.
 *   protocol_pass   passed on, routed to the VIP as any packet (transparent
 *                   services: the VIP's route leads to the servers). Counted
 *                   EV_ICMP_PASSED, EV_IPSEC_PASSED (AH, ESP) or EV_PROTOCOL_PASSED.
 *   protocol_drop   dropped, counted EV_DROP_ICMP, EV_DROP_IPSEC or EV_DROP_POLICY.
 *   no entry        dropped as EV_DROP_POLICY: the deny entry's meaning before this
 *                   table existed.
 *
 * Fragments are not looked at here (D6: the deny entry drops them as fragments),
 * nor is anything in a session or from the CPU port.
 *
 * D16, never a reflector. Whatever the policy, from a martian source
 * (EV_DROP_MARTIAN), a group source MAC (EV_DROP_GROUP_MAC) or with an IP version
 * other than the ether type's (EV_DROP_MALFORMED) the packet is dropped and nothing
 * is answered. An ICMP header shorter than its 8 bytes (the IP length says so, or
 * the frame ends first) is dropped as EV_DROP_ICMP_TRUNCATED. An echo request is
 * answered only with code 0, no IPv4 options nor IPv6 extension headers (a source
 * route or a record-route would make the reply go elsewhere or grow) and to the
 * switch's own MAC: one sent to a group (broadcast, multicast) MAC is dropped as
 * EV_DROP_ICMP.
 *
 * The answer is the request turned around in place: MACs and addresses swapped,
 * a fresh TTL (IPV4_DEFAULT_TTL; IPv6: hop limit IPV6_DEFAULT_HOP_LIMIT), type 0
 * (ICMPv6: 129), the checksum patched for the type change alone (RFC 1624: the
 * IPv4 addresses are not in it; ICMPv6's pseudo-header sums the same swapped), identifier, sequence
 * number and payload untouched; so it is exactly as long as the request: no
 * amplification. icmp_echo_meter (cell = service id) rate-limits the answers: a red
 * request is dropped as EV_DROP_ICMP_RATE. An unconfigured cell is green.
 */
#ifndef SYNPROXY_CONTROL_ICMP_P4
#define SYNPROXY_CONTROL_ICMP_P4

const bit<2> VIP_POLICY_NONE   = 0;
const bit<2> VIP_POLICY_ANSWER = 1;
const bit<2> VIP_POLICY_PASS   = 2;
const bit<2> VIP_POLICY_DROP   = 3;

control VipProtocols(inout ethernet_t eth, inout ipv4_t ip, inout ipv6_t ip6,
                     inout icmp_t icmp, in bool ip_options, inout local_metadata_t meta,
                     inout standard_metadata_t standard_metadata) {

    @id(ID_METER_ICMP_ECHO)
    meter(MAX_SERVICE_IDS, MeterType.packets) icmp_echo_meter;

    bit<2> policy = VIP_POLICY_NONE;

    @id(ID_ACTION_ICMP_ANSWER)
    action icmp_answer() {
        policy = VIP_POLICY_ANSWER;
    }

    @id(ID_ACTION_PROTOCOL_PASS)
    action protocol_pass() {
        policy = VIP_POLICY_PASS;
    }

    @id(ID_ACTION_PROTOCOL_DROP)
    action protocol_drop() {
        policy = VIP_POLICY_DROP;
    }

    /* No direct counter: the outcomes are counted as events, per service. */
    @id(ID_TABLE_VIP_PROTOCOLS)
    table vip_protocols {
        key = {
            meta.service_id : exact   @name("service_id");
            meta.ip_proto   : ternary @name("proto");
        }
        actions = {
            icmp_answer;
            protocol_pass;
            protocol_drop;
            @defaultonly NoAction;
        }
        const default_action = NoAction();
        size = VIP_PROTOCOLS_SIZE;
    }

    apply {
        vip_protocols.apply();
        bool v6 = ip6.isValid();
        bool is_icmp = (!v6 && meta.ip_proto == IP_PROTO_ICMP)
                       || (v6 && meta.ip_proto == IP_PROTO_ICMPV6);
        bool is_ipsec = meta.ip_proto == IP_PROTO_AH || meta.ip_proto == IP_PROTO_ESP;
        /* The IP packet's length and the bytes of it before the ICMP header. */
        bit<16> ip_len = ip.total_len;
        bit<16> before_icmp = ((bit<16>)ip.ihl) << 2;
        bit<16> echo_request = ICMP_ECHO_REQUEST_WORD;
        if (v6) {
            ip_len = IPV6_HDR_LEN + ip6.payload_len;
            before_icmp = IPV6_HDR_LEN + meta.ipv6_ext_len;
            echo_request = ICMPV6_ECHO_REQUEST_WORD;
        }
        /* The 8-byte ICMP header within the IP length, and the IP length within the
         * frame; icmp invalid: the frame ended inside its first 4 bytes. */
        bool truncated = !icmp.isValid()
                         || ip_len < before_icmp + ICMP_HDR_LEN
                         || (bit<32>)ip_len + (bit<32>)meta.l2_len
                            > standard_metadata.packet_length;
        bool pass = false;
        if (meta.ip_bad_version) {
            meta.event = EV_DROP_MALFORMED;
        } else if (meta.martian) {
            meta.event = EV_DROP_MARTIAN;
        } else if (mac_is_group(eth.src_addr)) {
            meta.event = EV_DROP_GROUP_MAC;
        } else if (is_icmp && truncated) {
            meta.event = EV_DROP_ICMP_TRUNCATED;
        } else if (policy == VIP_POLICY_PASS) {
            pass = true;
            if (is_icmp) {
                meta.event = EV_ICMP_PASSED;
            } else if (is_ipsec) {
                meta.event = EV_IPSEC_PASSED;
            } else {
                meta.event = EV_PROTOCOL_PASSED;
            }
        } else if (policy == VIP_POLICY_ANSWER && is_icmp) {
            if (icmp.icmp_type ++ icmp.code != echo_request || ip_options
                    || mac_is_group(eth.dst_addr)) {
                meta.event = EV_DROP_ICMP;
            } else {
                bit<2> colour;
                icmp_echo_meter.execute_meter((bit<32>)meta.service_id, colour);
                if (colour == METER_RED) {
                    meta.event = EV_DROP_ICMP_RATE;
                } else {
                    pass = true;   /* not dropped: sent back below */
                    mac_addr_t mac = eth.dst_addr;
                    eth.dst_addr = eth.src_addr;
                    eth.src_addr = mac;
                    bit<16> echo_reply = ICMP_ECHO_REPLY_WORD;
                    if (v6) {
                        /* ICMPv6's checksum covers the pseudo-header's addresses:
                         * swapped, their sum is the same. */
                        echo_reply = ICMPV6_ECHO_REPLY_WORD;
                        ipv6_addr_t addr6 = ip6.dst_addr;
                        ip6.dst_addr = ip6.src_addr;
                        ip6.src_addr = addr6;
                        ip6.hop_limit = IPV6_DEFAULT_HOP_LIMIT;
                    } else {
                        ipv4_addr_t addr = ip.dst_addr;
                        ip.dst_addr = ip.src_addr;
                        ip.src_addr = addr;
                        ip.ttl = IPV4_DEFAULT_TTL;   /* the IPv4 checksum: redone at deparse */
                    }
                    icmp.icmp_type = echo_reply[15:8];
                    icmp.code = echo_reply[7:0];
                    icmp.checksum = csum_close(csum_open(icmp.checksum)
                        + csum_diff16(echo_request, echo_reply));
                    standard_metadata.egress_spec = standard_metadata.ingress_port;
                    meta.event = EV_ICMP_ECHO_ANSWERED;
                    meta.done = true;
                }
            }
        } else if (policy == VIP_POLICY_NONE) {
            meta.event = EV_DROP_POLICY;
        } else if (is_icmp) {
            meta.event = EV_DROP_ICMP;
        } else if (is_ipsec) {
            meta.event = EV_DROP_IPSEC;
        } else {
            meta.event = EV_DROP_POLICY;
        }
        if (!pass) {
            mark_to_drop(standard_metadata);
            meta.done = true;
        }
    }
}

#endif
