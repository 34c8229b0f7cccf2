/*
 * D7: session entries. The controller installs two exact-match entries per proxied
 * connection, one per direction, both pointing at the session's slot in the
 * per-slot registers (see proxy.p4). The 4-tuple is the one on the wire: client ->
 * VIP for the client direction, RS -> client for the server direction.
 *
 * `gen` (non-zero, new for every install and restart of a slot) names the
 * incarnation: the data plane starts the slot afresh when its session_gen register
 * holds another value, so the controller never writes the session registers.
 */
#ifndef SYNPROXY_CONTROL_SESSION_P4
#define SYNPROXY_CONTROL_SESSION_P4

control SessionLookup(inout headers_t hdr, inout local_metadata_t meta) {

    @id(ID_DIRECT_COUNTER_SESSIONS)
    direct_counter(CounterType.packets_and_bytes) sessions_counter;

    /* Client -> VIP: forward to RS rs_addr:rs_port (the VIP itself in transparent
     * mode). */
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
    }

    /* RS -> client: source becomes vip_addr:vip_port. The rest is what the server
     * SYN/ACK needs (D8): the cookie the client got, the TSval of our SYN/ACK (the
     * client's TSecr in its ACK), the client's window for the ACK to the server, and
     * the window scale offered to the client (0 if none) for its window update. */
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
    }

    @id(ID_ACTION_NO_SESSION)
    action no_session() {
        meta.session_hit = false;
        meta.dir = DIR_NONE;
    }

    /* support_timeout: the controller expires idle sessions from P4Runtime
     * idle-timeout notifications (C6). */
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
        support_timeout = true;
        size = SESSION_ENTRIES;
    }

    @id(ID_DIRECT_COUNTER_SESSIONS_V6)
    direct_counter(CounterType.packets_and_bytes) sessions_v6_counter;

    /* D13: the IPv6 twins of the two actions (the addresses 128 bits wide). */
    @id(ID_ACTION_SET_CLIENT_SESSION_V6)
    action set_client_session_v6(SlotId_t slot, ServiceId_t service_id,
                                 ipv6_addr_t rs_addr, l4_port_t rs_port, bit<32> gen) {
        meta.session_hit = true;
        meta.gen = gen;
        meta.dir = DIR_CLIENT;
        meta.slot = slot;
        meta.service_id = service_id;
        meta.nat_addr6 = rs_addr;
        meta.nat_port = rs_port;
    }

    @id(ID_ACTION_SET_SERVER_SESSION_V6)
    action set_server_session_v6(SlotId_t slot, ServiceId_t service_id,
                                 ipv6_addr_t vip_addr, l4_port_t vip_port,
                                 bit<32> cookie, bit<32> ts_base, bit<16> client_window,
                                 bit<8> win_shift, bit<32> gen) {
        meta.session_hit = true;
        meta.gen = gen;
        meta.dir = DIR_SERVER;
        meta.slot = slot;
        meta.service_id = service_id;
        meta.nat_addr6 = vip_addr;
        meta.nat_port = vip_port;
        meta.sess_cookie = cookie;
        meta.ts_base = ts_base;
        meta.clone_window = client_window;
        meta.win_shift = win_shift;
    }

    /* D13: IPv6 sessions; their slots are from the same pool as IPv4's. */
    @id(ID_TABLE_SESSIONS_V6)
    table sessions_v6 {
        key = {
            hdr.ipv6.src_addr : exact @name("src_addr");
            hdr.ipv6.dst_addr : exact @name("dst_addr");
            hdr.tcp.src_port  : exact @name("src_port");
            hdr.tcp.dst_port  : exact @name("dst_port");
        }
        actions = {
            set_client_session_v6;
            set_server_session_v6;
            @defaultonly no_session;
        }
        const default_action = no_session();
        counters = sessions_v6_counter;
        support_timeout = true;
        size = SESSION_ENTRIES;
    }

    apply {
        if (hdr.tcp.isValid()) {
            if (hdr.ipv6.isValid()) {
                sessions_v6.apply();
            } else {
                sessions.apply();
            }
        }
    }
}

#endif
