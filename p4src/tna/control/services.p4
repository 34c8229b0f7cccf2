/* D2, C8: protected services and the defence of AUTO services (as v1model's
 * control/services.p4; TNA direct counters count in the actions). */
#ifndef SYNPROXY_TNA_CONTROL_SERVICES_P4
#define SYNPROXY_TNA_CONTROL_SERVICES_P4

control Services(inout headers_t hdr, inout local_metadata_t meta) {

    @id(ID_DIRECT_COUNTER_SERVICES)
    DirectCounter<bit<32>>(CounterType_t.PACKETS_AND_BYTES) services_counter;

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
        services_counter.count();
    }

    @id(ID_ACTION_DENY_SERVICE)
    action deny_service(ServiceId_t service_id) {
        meta.svc_hit = true;
        meta.svc_deny = true;
        meta.service_id = service_id;
        services_counter.count();
    }

    @id(ID_ACTION_NO_SERVICE)
    action no_service() {
        meta.svc_hit = false;
        meta.svc_deny = false;
    }

    @id(ID_DIRECT_COUNTER_DEFENSE)
    DirectCounter<bit<32>>(CounterType_t.PACKETS_AND_BYTES) defense_counter;

    @id(ID_ACTION_SET_DEFENSE_ACTIVE)
    action set_defense_active() {
        meta.proxy_active = true;
        defense_counter.count();
    }

    @id(ID_ACTION_NO_DEFENSE)
    action no_defense() {
        meta.proxy_active = false;
    }

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

    apply {
        services.apply();
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
