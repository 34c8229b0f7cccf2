/*
 * D2: protected services. (VIP, port, protocol) -> service id and the SYN/ACK
 * settings. Port and protocol are ternary so that one low-priority (VIP, *, *) entry
 * can deny whatever else reaches a protected VIP (UDP, fragments, other protocols:
 * D6, D15), while traffic to no VIP at all is simply routed. An AUTO service (C8)
 * is proxied while it has an entry in `defense`, which the controller inserts and
 * deletes (a table, not a register: P4Runtime servers such as bmv2's offer no
 * register access).
 */
#ifndef SYNPROXY_CONTROL_SERVICES_P4
#define SYNPROXY_CONTROL_SERVICES_P4

control Services(inout headers_t hdr, inout local_metadata_t meta) {

    @id(ID_DIRECT_COUNTER_SERVICES)
    direct_counter(CounterType.packets_and_bytes) services_counter;

    /* mss/wscale/window/ttl: what our SYN/ACK carries (mss and wscale must match
     * the real servers'); flags: SVC_FLAG_*. A zero window keeps clients from
     * sending data before the server handshake is done; defer needs it non-zero. */
    @id(ID_ACTION_SET_SERVICE)
    action set_service(ServiceId_t service_id, bit<8> mode, bit<8> flags, bit<16> mss,
                       bit<8> wscale, bit<16> window, bit<8> ttl) {
        meta.svc_hit = true;
        meta.svc_deny = false;
        meta.service_id = service_id;
        meta.proxy_mode = mode;
        meta.svc_flags = flags;
        meta.svc_mss = mss;
        meta.svc_wscale = wscale;
        meta.svc_window = window;
        meta.svc_ttl = ttl;
    }

    /* Drop and count (as UDP, fragment or policy) what matches this entry. */
    @id(ID_ACTION_DENY_SERVICE)
    action deny_service(ServiceId_t service_id) {
        meta.svc_hit = true;
        meta.svc_deny = true;
        meta.service_id = service_id;
    }

    @id(ID_ACTION_NO_SERVICE)
    action no_service() {
        meta.svc_hit = false;
        meta.svc_deny = false;
    }

    @id(ID_DIRECT_COUNTER_DEFENSE)
    direct_counter(CounterType.packets_and_bytes) defense_counter;

    /* C8: an AUTO service proxies while it has an entry here. */
    @id(ID_ACTION_SET_DEFENSE_ACTIVE)
    action set_defense_active() {
        meta.proxy_active = true;
    }

    @id(ID_ACTION_NO_DEFENSE)
    action no_defense() {
        meta.proxy_active = false;
    }

    /* C8: the controller inserts a service's entry to switch its defence on and
     * deletes it to switch it off. Looked up for AUTO services only. */
    @id(ID_TABLE_DEFENSE)
    table defense {
        key = {
            meta.service_id : exact @name("service_id");
        }
        actions = {
            set_defense_active;
            @defaultonly no_defense;
        }
        const default_action = no_defense();
        counters = defense_counter;
        size = MAX_SERVICE_IDS;
    }

    @id(ID_TABLE_SERVICES)
    table services {
        key = {
            hdr.ipv4.dst_addr : exact   @name("vip");
            meta.l4_dst_port  : ternary @name("vport");
            hdr.ipv4.protocol : ternary @name("proto");
        }
        actions = {
            set_service;
            deny_service;
            @defaultonly no_service;
        }
        const default_action = no_service();
        counters = services_counter;
        size = SERVICES_SIZE;
    }

    @id(ID_DIRECT_COUNTER_SERVICES_V6)
    direct_counter(CounterType.packets_and_bytes) services_v6_counter;

    /* D13: the same for IPv6 VIPs. `proto` is the upper-layer protocol, after the
     * extension headers the parser followed. Its actions are services' own. */
    @id(ID_TABLE_SERVICES_V6)
    table services_v6 {
        key = {
            hdr.ipv6.dst_addr : exact   @name("vip");
            meta.l4_dst_port  : ternary @name("vport");
            meta.ip_proto     : ternary @name("proto");
        }
        actions = {
            set_service;
            deny_service;
            @defaultonly no_service;
        }
        const default_action = no_service();
        counters = services_v6_counter;
        size = SERVICES_SIZE;
    }

    apply {
        if (hdr.ipv6.isValid()) {
            services_v6.apply();
        } else {
            services.apply();
        }
        meta.proxy_active = false;
        if (meta.svc_hit && !meta.svc_deny) {
            if (meta.proxy_mode == PROXY_MODE_ON) {
                meta.proxy_active = true;
            } else if (meta.proxy_mode == PROXY_MODE_AUTO) {
                defense.apply();
            }
        }
    }
}

#endif
