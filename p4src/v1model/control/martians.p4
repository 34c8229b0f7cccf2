/*
 * D16, never a reflector: source addresses that no honest host can send from. A
 * packet to a VIP from one of them gets no answer (no SYN/ACK, no digest, no
 * server SYN) and is dropped, counted EV_DROP_MARTIAN (proxy.p4), in the manner of
 * Linux's martian-source check. The prefixes are the controller's: the defaults
 * 0/8, 127/8, 224/4 (multicast) and 240/4 (reserved, with 255.255.255.255), the
 * switch's own addresses and VIPs, the directed broadcast address of every subnet
 * it routes, and the operator's own bogons (controller/install.py). A table, not
 * constants, so that operators can add to it at run time.
 *
 * Group (multicast, broadcast) source MACs need no table: the I/G bit of the
 * address says it (mac_is_group, arp.p4).
 */
#ifndef SYNPROXY_CONTROL_MARTIANS_P4
#define SYNPROXY_CONTROL_MARTIANS_P4

control MartianSources(in headers_t hdr, inout local_metadata_t meta) {

    @id(ID_DIRECT_COUNTER_MARTIAN_SOURCES)
    direct_counter(CounterType.packets_and_bytes) martian_sources_counter;

    @id(ID_ACTION_SET_MARTIAN)
    action set_martian() {
        meta.martian = true;
    }

    @id(ID_TABLE_MARTIAN_SOURCES)
    table martian_sources {
        key = {
            hdr.ipv4.src_addr : lpm @name("src_addr");
        }
        actions = {
            set_martian;
            @defaultonly NoAction;
        }
        const default_action = NoAction();
        counters = martian_sources_counter;
        size = MARTIAN_SOURCES_SIZE;
    }

    @id(ID_DIRECT_COUNTER_MARTIAN_SOURCES_V6)
    direct_counter(CounterType.packets_and_bytes) martian_sources_v6_counter;

    /* D13: ::/128, ::1/128, ff00::/8, fe80::/10, ::ffff:0:0/96, own addresses and
     * VIPs, bogons (the controller's). */
    @id(ID_TABLE_MARTIAN_SOURCES_V6)
    table martian_sources_v6 {
        key = {
            hdr.ipv6.src_addr : lpm @name("src_addr");
        }
        actions = {
            set_martian;
            @defaultonly NoAction;
        }
        const default_action = NoAction();
        counters = martian_sources_v6_counter;
        size = MARTIAN_SOURCES_SIZE;
    }

    apply {
        if (hdr.ipv6.isValid()) {
            martian_sources_v6.apply();
        } else {
            martian_sources.apply();
        }
    }
}

#endif
