/*
 * D2: plain forwarding for everything the proxy does not consume. Frames to one of
 * the router's MACs (or that the proxy asks to route) are routed by longest prefix;
 * other frames are bridged by destination MAC.
 */
#ifndef SYNPROXY_CONTROL_FORWARDING_P4
#define SYNPROXY_CONTROL_FORWARDING_P4

control Forwarding(inout headers_t hdr, inout local_metadata_t meta,
                   inout standard_metadata_t standard_metadata) {

    @id(ID_DIRECT_COUNTER_ROUTER_MACS)
    direct_counter(CounterType.packets_and_bytes) router_macs_counter;
    @id(ID_DIRECT_COUNTER_IPV4_ROUTES)
    direct_counter(CounterType.packets_and_bytes) ipv4_routes_counter;
    @id(ID_DIRECT_COUNTER_MAC_TABLE)
    direct_counter(CounterType.packets_and_bytes) mac_table_counter;

    @id(ID_ACTION_SET_ROUTED)
    action set_routed() {
        meta.route = true;
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

    /* Next hop resolved in the entry: port and both MACs. */
    @id(ID_ACTION_ROUTE_TO)
    action route_to(PortId_t port, mac_addr_t src_mac, mac_addr_t dst_mac) {
        standard_metadata.egress_spec = port;
        hdr.ethernet.src_addr = src_mac;
        hdr.ethernet.dst_addr = dst_mac;
        hdr.ipv4.ttl = hdr.ipv4.ttl - 1;
    }

    @id(ID_ACTION_PUNT_ROUTE)
    action punt_route() {
        standard_metadata.egress_spec = CPU_PORT_ID;
        hdr.packet_in.setValid();
        hdr.packet_in.ingress_port = standard_metadata.ingress_port;
        hdr.packet_in._pad0 = 0;
        hdr.packet_in.reason = PUNT_ROUTE;
        hdr.packet_in.slot = 0;
    }

    @id(ID_ACTION_DROP_PACKET)
    action drop_packet() {
        mark_to_drop(standard_metadata);
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

    @id(ID_DIRECT_COUNTER_IPV6_ROUTES)
    direct_counter(CounterType.packets_and_bytes) ipv6_routes_counter;

    /* D13: ipv4_routes' twin; route_to's hop-limit decrement is done by the apply
     * (the action is shared and decrements the IPv4 TTL). */
    @id(ID_TABLE_IPV6_ROUTES)
    table ipv6_routes {
        key = {
            hdr.ipv6.dst_addr : lpm @name("dst_addr");
        }
        actions = {
            route_to;
            punt_route;
            drop_packet;
        }
        default_action = drop_packet();
        counters = ipv6_routes_counter;
        size = IPV4_ROUTES_SIZE;
    }

    @id(ID_ACTION_BRIDGE_TO)
    action bridge_to(PortId_t port) {
        standard_metadata.egress_spec = port;
    }

    /* Unknown unicast and broadcast: the controller may make flood(group) the
     * default, with a multicast group of every port. */
    @id(ID_ACTION_FLOOD)
    action flood(bit<16> group) {
        standard_metadata.mcast_grp = group;
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
        if (meta.route && hdr.ipv6.isValid()) {
            if (hdr.ipv6.hop_limit <= 1 || meta.ip_bad_version) {
                mark_to_drop(standard_metadata);
            } else {
                switch (ipv6_routes.apply().action_run) {
                    route_to: {
                        hdr.ipv6.hop_limit = hdr.ipv6.hop_limit - 1;
                    }
                }
            }
        } else if (meta.route && !hdr.ipv4.isValid()) {
            /* D16: to the router, but neither IPv4 nor IPv6 (nor ARP): nothing here
             * speaks it, and a frame for the router is never bridged on to the
             * servers. */
            mark_to_drop(standard_metadata);
            meta.event = EV_DROP_UNPARSED;
        } else if (meta.route) {
            if (hdr.ipv4.ttl <= 1 || hdr.ipv4.ihl < 5 || meta.ip_bad_version) {
                /* Expired (no ICMP time-exceeded from the data plane) or not a valid
                 * IPv4 header (RFC 1812: a router drops it). */
                mark_to_drop(standard_metadata);
            } else {
                ipv4_routes.apply();
            }
        } else {
            mac_table.apply();
        }
    }
}

/* A flooded frame is not sent back out of the port it came in on. */
control FloodPruning(inout standard_metadata_t standard_metadata) {
    apply {
        if (standard_metadata.mcast_grp != 0
                && standard_metadata.egress_port == standard_metadata.ingress_port) {
            mark_to_drop(standard_metadata);
        }
    }
}

#endif
