/*
 * D2: protected services. (VIP, port, protocol) -> service id and the SYN/ACK
 * settings. Port and protocol are ternary so that one low-priority (VIP, *, *) entry
 * can deny whatever else reaches a protected VIP (UDP, fragments, other protocols:
 * D6, D15), while traffic to no VIP at all is simply routed.
 */
#ifndef SYNPROXY_CONTROL_SERVICES_P4
#define SYNPROXY_CONTROL_SERVICES_P4

control Services(inout headers_t hdr, inout local_metadata_t meta) {

    @id(ID_DIRECT_COUNTER_SERVICES)
    direct_counter(CounterType.packets_and_bytes) services_counter;

    /* C8: for AUTO services the controller sets bit service_id while the defence
     * is on. Indexed by service id. */
    @id(ID_REGISTER_DEFENSE_ACTIVE)
    register<bit<1>>(MAX_SERVICE_IDS) defense_active;

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

    apply {
        services.apply();
        meta.proxy_active = false;
        if (meta.svc_hit && !meta.svc_deny) {
            if (meta.proxy_mode == PROXY_MODE_ON) {
                meta.proxy_active = true;
            } else if (meta.proxy_mode == PROXY_MODE_AUTO) {
                bit<1> active;
                defense_active.read(active, (bit<32>)meta.service_id);
                meta.proxy_active = active == 1;
            }
        }
    }
}

#endif
