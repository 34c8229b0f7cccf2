/* D7: session entries, one per direction (as v1model's control/session.p4). */
#ifndef SYNPROXY_TNA_CONTROL_SESSION_P4
#define SYNPROXY_TNA_CONTROL_SESSION_P4

control SessionLookup(inout headers_t hdr, inout local_metadata_t meta) {

    @id(ID_DIRECT_COUNTER_SESSIONS)
    DirectCounter<bit<32>>(CounterType_t.PACKETS_AND_BYTES) sessions_counter;

    @id(ID_ACTION_SET_CLIENT_SESSION)
    action set_client_session(SlotId_t slot, ServiceId_t service_id,
                              ipv4_addr_t rs_addr, l4_port_t rs_port, bit<32> gen) {
        meta.session_hit = true;
        meta.gen = gen;
        meta.dir = DIR_CLIENT;
        meta.slot = slot;
        meta.service_id = service_id;
        meta.nat_addr = rs_addr;
        meta.nat_port = rs_port;
        sessions_counter.count();
    }

    @id(ID_ACTION_SET_SERVER_SESSION)
    action set_server_session(SlotId_t slot, ServiceId_t service_id,
                              ipv4_addr_t vip_addr, l4_port_t vip_port,
                              bit<32> cookie, bit<32> ts_base, bit<16> client_window,
                              bit<8> win_shift, bit<32> gen) {
        meta.session_hit = true;
        meta.gen = gen;
        meta.dir = DIR_SERVER;
        meta.slot = slot;
        meta.service_id = service_id;
        meta.nat_addr = vip_addr;
        meta.nat_port = vip_port;
        meta.sess_cookie = cookie;
        meta.ts_base = ts_base;
        meta.clone_window = client_window;
        meta.win_shift = win_shift;
        sessions_counter.count();
    }

    @id(ID_ACTION_NO_SESSION)
    action no_session() {
        meta.session_hit = false;
        meta.dir = DIR_NONE;
    }

    /* idle_timeout (TNA's name for support_timeout): C6. */
    @id(ID_TABLE_SESSIONS)
    table sessions {
        key = {
            hdr.ipv4.src_addr : exact @name("src_addr");
            hdr.ipv4.dst_addr : exact @name("dst_addr");
            hdr.tcp.src_port  : exact @name("src_port");
            hdr.tcp.dst_port  : exact @name("dst_port");
        }
        actions = {
            set_client_session;
            set_server_session;
            @defaultonly no_session;
        }
        const default_action = no_session();
        counters = sessions_counter;
        idle_timeout = true;
        size = SESSION_ENTRIES;
    }

    apply {
        if (hdr.tcp.isValid()) {
            sessions.apply();
        }
    }
}

#endif
