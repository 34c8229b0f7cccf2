/*
 * D7, FULLNAT: the client's address is replaced by a local address of the proxy
 * (laddr), so a real server answers the proxy, not the client, and needs no route
 * back through the switch. Applied after SynProxy, to what it forwards of a session:
 *
 *   client dir  client:cport -> RS:rport  (SynProxy: VIP:vport -> RS:rport)
 *               here: src client:cport -> laddr:lport
 *   server dir  RS:rport -> client:cport  (SynProxy: RS:rport -> VIP:vport; the
 *               server entry is keyed on the wire tuple RS, laddr, rport, lport)
 *               here: dst laddr:lport -> client:cport
 *
 * Sequence and timestamp translation stay in the session slot (seqadj.p4); this
 * adds the second address rewrite only, with the TCP checksum patched incrementally
 * (the addresses are in its pseudo-header; IPv4's is recomputed at deparse).
 *
 * `fullnat_sessions` (slot -> client, cport, laddr, lport, gen) is written by the
 * controller with the session's entries, with their gen. The rewrite happens only when the packet
 * still carries the tuple it replaces (client dir: source client:cport; server dir:
 * destination laddr:lport), so a segment the switch built towards the other side (a
 * RST to the client, the window update) or an entry left from an earlier session of
 * the slot is never given a wrong address. What SynProxy dropped, punted or answered
 * itself (meta.done) is left alone: the controller's PacketIns keep the client
 * tuple. The server ACK of D8 is built in egress from the server's own SYN/ACK
 * (laddr:lport -> RS:rport once reversed), so it needs nothing here.
 *
 * `fullnat_local_addresses`: the laddrs. A packet to one that hit no session is
 * nobody's (a stale or forged tuple): dropped, EV_DROP_FULLNAT_UNKNOWN.
 */
#ifndef SYNPROXY_CONTROL_FULLNAT_P4
#define SYNPROXY_CONTROL_FULLNAT_P4

control FullNat(inout ipv4_t ipv4, inout tcp_t tcp, inout local_metadata_t meta,
                inout standard_metadata_t standard_metadata) {

    ipv4_addr_t client_addr = 0;
    l4_port_t client_port = 0;
    ipv4_addr_t local_addr = 0;
    l4_port_t local_port = 0;
    bit<32> map_gen = 0;

    @id(ID_DIRECT_COUNTER_FULLNAT_SESSIONS)
    direct_counter(CounterType.packets_and_bytes) fullnat_sessions_counter;
    @id(ID_DIRECT_COUNTER_FULLNAT_LOCAL_ADDRESSES)
    direct_counter(CounterType.packets_and_bytes) fullnat_local_addresses_counter;

    /* The session's two tuples on its two sides: client:cport (client side) and
     * laddr:lport (server side), for the incarnation `gen` of the slot (the gen of
     * its `sessions` entries): a map left from another incarnation is not used. */
    @id(ID_ACTION_FULLNAT_MAP)
    action fullnat_map(ipv4_addr_t client, l4_port_t cport,
                       ipv4_addr_t laddr, l4_port_t lport, bit<32> gen) {
        client_addr = client;
        client_port = cport;
        local_addr = laddr;
        local_port = lport;
        map_gen = gen;
    }

    @id(ID_ACTION_NO_FULLNAT)
    action no_fullnat() { }

    @id(ID_TABLE_FULLNAT_SESSIONS)
    table fullnat_sessions {
        key = {
            meta.slot : exact @name("slot");
        }
        actions = {
            fullnat_map;
            @defaultonly no_fullnat;
        }
        const default_action = no_fullnat();
        counters = fullnat_sessions_counter;
        size = SESSIONS_SIZE;
    }

    @id(ID_ACTION_FULLNAT_LOCAL)
    action fullnat_local() {
        mark_to_drop(standard_metadata);
        meta.event = EV_DROP_FULLNAT_UNKNOWN;
        meta.done = true;
    }

    @id(ID_TABLE_FULLNAT_LOCAL_ADDRESSES)
    table fullnat_local_addresses {
        key = {
            ipv4.dst_addr : exact @name("local_addr");
        }
        actions = {
            fullnat_local;
            @defaultonly NoAction;
        }
        const default_action = NoAction();
        counters = fullnat_local_addresses_counter;
        size = FULLNAT_LOCAL_ADDRESSES_SIZE;
    }

    apply {
        bool mapped = false;
        if (meta.session_hit && tcp.isValid() && meta.route && !meta.done) {
            if (fullnat_sessions.apply().hit) {
                mapped = map_gen == meta.gen;
            }
        }
        if (mapped) {
            bit<32> sum = csum_open(tcp.checksum);
            if (meta.dir == DIR_CLIENT && ipv4.src_addr == client_addr
                    && tcp.src_port == client_port) {
                sum = sum + csum_diff32(ipv4.src_addr, local_addr)
                      + csum_diff16(tcp.src_port, local_port);
                ipv4.src_addr = local_addr;
                tcp.src_port = local_port;
                tcp.checksum = csum_close(sum);
            } else if (meta.dir == DIR_SERVER && ipv4.dst_addr == local_addr
                       && tcp.dst_port == local_port) {
                sum = sum + csum_diff32(ipv4.dst_addr, client_addr)
                      + csum_diff16(tcp.dst_port, client_port);
                ipv4.dst_addr = client_addr;
                tcp.dst_port = client_port;
                tcp.checksum = csum_close(sum);
            }
        } else if (!meta.session_hit && !meta.from_cpu && !meta.done) {
            fullnat_local_addresses.apply();
        }
    }
}

#endif
