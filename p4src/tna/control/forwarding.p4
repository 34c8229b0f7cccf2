/* D2: routing and bridging of what the proxy does not consume (as v1model's
 * control/forwarding.p4). A flooded frame is not sent back out of its ingress
 * port: on TNA the multicast engine prunes it (level2_exclusion_id = the port,
 * with the controller's per-port L2 exclusion ids), where v1model drops it in
 * egress. */
#ifndef SYNPROXY_TNA_CONTROL_FORWARDING_P4
#define SYNPROXY_TNA_CONTROL_FORWARDING_P4

control Forwarding(inout headers_t hdr, inout local_metadata_t meta,
                   in PortId_t ingress_port,
                   inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                   inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {

    @id(ID_DIRECT_COUNTER_ROUTER_MACS)
    DirectCounter<bit<32>>(CounterType_t.PACKETS_AND_BYTES) router_macs_counter;
    @id(ID_DIRECT_COUNTER_IPV4_ROUTES)
    DirectCounter<bit<32>>(CounterType_t.PACKETS_AND_BYTES) ipv4_routes_counter;
    @id(ID_DIRECT_COUNTER_MAC_TABLE)
    DirectCounter<bit<32>>(CounterType_t.PACKETS_AND_BYTES) mac_table_counter;

    @id(ID_ACTION_SET_ROUTED)
    action set_routed() {
        meta.route = true;
        router_macs_counter.count();
    }

    @id(ID_TABLE_ROUTER_MACS)
    table router_macs {
        key = {
            hdr.ethernet.dst_addr : exact @name("dst_mac");
        }
        actions = {
            set_routed;
            @defaultonly NoAction;
        }
        const default_action = NoAction();
        counters = router_macs_counter;
        size = ROUTER_MACS_SIZE;
    }

    @id(ID_ACTION_ROUTE_TO)
    action route_to(PortId_t port, mac_addr_t src_mac, mac_addr_t dst_mac) {
        ig_tm_md.ucast_egress_port = port;
        hdr.ethernet.src_addr = src_mac;
        hdr.ethernet.dst_addr = dst_mac;
        hdr.ipv4.ttl = hdr.ipv4.ttl - 1;
        ipv4_routes_counter.count();
    }

    @id(ID_ACTION_PUNT_ROUTE)
    action punt_route() {
        punt_to_cpu_tna(hdr, ig_tm_md, ingress_port, PUNT_ROUTE, 0);
        ipv4_routes_counter.count();
    }

    /* Both tables' drop: one action, as in v1model; it counts in whichever table
     * ran it. */
    @id(ID_ACTION_DROP_PACKET)
    action drop_packet() {
        drop_packet_tna(ig_dprsr_md);
    }

    @id(ID_TABLE_IPV4_ROUTES)
    table ipv4_routes {
        key = {
            hdr.ipv4.dst_addr : lpm @name("dst_addr");
        }
        actions = {
            route_to;
            punt_route;
            drop_packet;
        }
        default_action = drop_packet();
        counters = ipv4_routes_counter;
        size = IPV4_ROUTES_SIZE;
    }

    @id(ID_ACTION_BRIDGE_TO)
    action bridge_to(PortId_t port) {
        ig_tm_md.ucast_egress_port = port;
        mac_table_counter.count();
    }

    @id(ID_ACTION_FLOOD)
    action flood(bit<16> group) {
        ig_tm_md.mcast_grp_a = group;
        ig_tm_md.level2_exclusion_id = (L2ExclusionId_t)ingress_port;
        mac_table_counter.count();
    }

    @id(ID_TABLE_MAC_TABLE)
    table mac_table {
        key = {
            hdr.ethernet.dst_addr : exact @name("dst_mac");
        }
        actions = {
            bridge_to;
            flood;
            drop_packet;
        }
        default_action = drop_packet();
        counters = mac_table_counter;
        size = MAC_TABLE_SIZE;
    }

    apply {
        if (!meta.route && !hdr.arp.isValid()) {
            router_macs.apply();
        }
        if (meta.route && !hdr.ipv4.isValid()) {
            drop_packet_tna(ig_dprsr_md);
            meta.event = EV_DROP_UNPARSED;
        } else if (meta.route) {
            if (hdr.ipv4.ttl <= 1 || hdr.ipv4.ihl < 5 || meta.ip_bad_version) {
                drop_packet_tna(ig_dprsr_md);
            } else {
                ipv4_routes.apply();
            }
        } else {
            mac_table.apply();
        }
    }
}

#endif
