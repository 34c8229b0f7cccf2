/*
 * C4: pending handshakes, and the one MAC of a segment (cookie.p4) between the
 * lookup and the store. The cookie check takes the client ISN from seq - 1, which
 * holds for the handshake ACK and the first data segment only; when the controller
 * lags, later segments of a request reach the switch before the session exists. So a
 * validated ACK leaves (4-tuple, cookie, isn, time) in a small hashed memory, and a
 * segment of exactly that 4-tuple with ack - 1 == that cookie, within
 * PENDING_LIFETIME, has its cookie checked with the stored ISN instead of seq - 1.
 * The entry only proposes an ISN: the MAC is always checked, with the keys accepted
 * now, so a slot shared with another 4-tuple (the index is a CRC, which an attacker
 * can make collide), a key rotated out since, or a stale entry vouch for nothing.
 * The server SYN/ACK that establishes the session (`establishing`) clears the entry,
 * so a later segment of a connection that is closing can never pass for a new one.
 * The hash runs only on the ACK-check path and at that SYN/ACK: established traffic
 * pays nothing.
 *
 * In: ack_check (an ACK that must carry a cookie), synack (a SYN to answer: its
 * cookie is minted, nothing is stored), establishing. Out: client_isn (seq - 1, or
 * the entry's), cookie (minted, or expected), cookie_ok (a valid cookie ACK),
 * pending_hit (this 4-tuple's entry, same cookie, not expired).
 *
 * The registers keep the names they have always had in the P4Info
 * (SynproxyIngress.synproxy.*, absolute @name; tests/p4src/golden).
 */
#ifndef SYNPROXY_CONTROL_PENDING_P4
#define SYNPROXY_CONTROL_PENDING_P4

control PendingHandshakes(in ipv4_t ip, in ipv6_t ip6, in tcp_t tcp,
                          in local_metadata_t meta,
                          in bool ack_check, in bool synack, in bool establishing,
                          in bit<48> ingress_ts,
                          out bit<32> client_isn, out bit<32> cookie, out bool cookie_ok,
                          out bool pending_hit) {

    /* C4: pending handshakes, indexed by crc16(client, VIP, cport, vport) mod
     * PENDING_SIZE. The index is only where to look: pending_client, pending_vip
     * and pending_ports (cport ++ vport) hold the 4-tuple itself, compared in full.
     * pending_cookie: the validated cookie (ack - 1); pending_isn: the client ISN
     * (seq - 1 of the validated segment); pending_since: when it was stored, on the
     * pending clock below (0: empty). Written only by the data plane.
     * D13: an IPv6 flow's addresses are in pending_client6 and pending_vip6, its
     * ports in pending_ports; a cell holds one family's tuple, the other family's
     * address cells zero, and all five are compared, so a tuple of one family never
     * matches a cell the other wrote. */
    @name(".SynproxyIngress.synproxy.pending_client")
    @id(ID_REGISTER_PENDING_CLIENT)
    register<bit<32>>(PENDING_SIZE) pending_client;
    @name(".SynproxyIngress.synproxy.pending_vip")
    @id(ID_REGISTER_PENDING_VIP)
    register<bit<32>>(PENDING_SIZE) pending_vip;
    @name(".SynproxyIngress.synproxy.pending_ports")
    @id(ID_REGISTER_PENDING_PORTS)
    register<bit<32>>(PENDING_SIZE) pending_ports;
    @name(".SynproxyIngress.synproxy.pending_cookie")
    @id(ID_REGISTER_PENDING_COOKIE)
    register<bit<32>>(PENDING_SIZE) pending_cookie;
    @name(".SynproxyIngress.synproxy.pending_isn")
    @id(ID_REGISTER_PENDING_ISN)
    register<bit<32>>(PENDING_SIZE) pending_isn;
    @name(".SynproxyIngress.synproxy.pending_since")
    @id(ID_REGISTER_PENDING_SINCE)
    register<bit<64>>(PENDING_SIZE) pending_since;
    /* C4: a clock that does not wrap, for the entries' age: era (16) ++ the last
     * 48-bit ingress timestamp (microseconds) seen on the ACK-check path. The era
     * counts the wraps of the ingress clock (one per 8.9 years), so an age is
     * measured in 64 bits and an expired entry stays expired. */
    @name(".SynproxyIngress.synproxy.pending_clock")
    @id(ID_REGISTER_PENDING_CLOCK)
    register<bit<64>>(1) pending_clock;
    /* D13: the IPv6 addresses of a cell's tuple (see above). */
    @name(".SynproxyIngress.synproxy.pending_client6")
    @id(ID_REGISTER_PENDING_CLIENT6)
    register<bit<128>>(PENDING_SIZE) pending_client6;
    @name(".SynproxyIngress.synproxy.pending_vip6")
    @id(ID_REGISTER_PENDING_VIP6)
    register<bit<128>>(PENDING_SIZE) pending_vip6;

    CookieMac() cookie_mac;

    apply {
        client_isn = tcp.seq_no - 1;
        pending_hit = false;
        bit<32> pending_index = 0;
        bit<64> now = 0;
        if (ack_check) {
            /* The pending clock: a drop of the 48-bit ingress clock by more than half
             * its range is a wrap (one packet slightly out of order is not). */
            bit<64> clock;
            pending_clock.read(clock, 0);
            bit<16> era = clock[63:48];
            bit<48> last = clock[47:0];
            bit<48> ts = ingress_ts;
            if (ts < last && last - ts > PENDING_CLOCK_HALF) {
                era = era + 1;
            }
            if (ts > last || era != clock[63:48]) {
                pending_clock.write(0, era ++ ts);
            }
            now = era ++ ts;
        }
        /* The client's 4-tuple as the client sends it, in its family's cells (the
         * other family's are 0). At the server SYN/ACK it is (client, VIP, cport,
         * vport): the server entry's vip_addr/vip_port are the VIP's in NAT and in
         * transparent mode alike. */
        ipv4_addr_t p_client = 0;
        ipv4_addr_t p_vip = 0;
        ipv6_addr_t p_client6 = 0;
        ipv6_addr_t p_vip6 = 0;
        l4_port_t p_cport = tcp.src_port;
        l4_port_t p_vport = tcp.dst_port;
        if (ack_check || establishing) {
            bool v6 = ip6.isValid();
            if (establishing) {
                p_cport = tcp.dst_port;
                p_vport = meta.nat_port;
            }
            if (v6) {
                p_client6 = ip6.src_addr;
                p_vip6 = ip6.dst_addr;
                if (establishing) {
                    p_client6 = ip6.dst_addr;
                    p_vip6 = meta.nat_addr6;
                }
            } else {
                p_client = ip.src_addr;
                p_vip = ip.dst_addr;
                if (establishing) {
                    p_client = ip.dst_addr;
                    p_vip = meta.nat_addr;
                }
            }
            if (v6) {
                hash(pending_index, HashAlgorithm.crc16, 32w0,
                     { p_client6, p_vip6, p_cport, p_vport }, PENDING_SIZE);
            } else {
                hash(pending_index, HashAlgorithm.crc16, 32w0,
                     { p_client, p_vip, p_cport, p_vport }, PENDING_SIZE);
            }
            bit<32> stored_client;
            bit<32> stored_vip;
            bit<32> stored_ports;
            bit<128> stored_client6;
            bit<128> stored_vip6;
            pending_client.read(stored_client, pending_index);
            pending_vip.read(stored_vip, pending_index);
            pending_ports.read(stored_ports, pending_index);
            pending_client6.read(stored_client6, pending_index);
            pending_vip6.read(stored_vip6, pending_index);
            /* Exactly this 4-tuple: the index alone is a CRC, which collides at will. */
            if (stored_client == p_client && stored_vip == p_vip
                    && stored_client6 == p_client6 && stored_vip6 == p_vip6
                    && stored_ports == (p_cport ++ p_vport)) {
                if (establishing) {
                    pending_since.write(pending_index, 0);
                } else {
                    bit<32> stored_cookie;
                    bit<64> since;
                    pending_cookie.read(stored_cookie, pending_index);
                    pending_since.read(since, pending_index);
                    /* Age in 64 bits, never modular: it cannot wrap back to young. */
                    if (since != 0 && stored_cookie == tcp.ack_no - 1
                            && now >= since && now - since < PENDING_LIFETIME) {
                        pending_hit = true;
                        pending_isn.read(client_isn, pending_index);
                    }
                }
            }
        }
        /* D5: one MAC per ACK, with the pending entry's ISN if it has one for this
         * segment, else seq - 1. The MAC covers the 4-tuple and the epoch: a pending
         * entry validates nothing the keys accepted now would refuse. */
        cookie_ok = false;
        cookie = 0;
        if (ack_check || synack) {
            cookie_mac.apply(ip, ip6, tcp, meta, synack, client_isn, cookie, cookie_ok);
            if (cookie_ok && !pending_hit) {
                /* A slot shared by another flow (hash collision) is taken over: that
                 * flow's later segments then need their cookie check, as before C4. */
                pending_client.write(pending_index, p_client);
                pending_vip.write(pending_index, p_vip);
                pending_client6.write(pending_index, p_client6);
                pending_vip6.write(pending_index, p_vip6);
                pending_ports.write(pending_index, tcp.src_port ++ tcp.dst_port);
                pending_cookie.write(pending_index, tcp.ack_no - 1);
                pending_isn.write(pending_index, client_isn);
                pending_since.write(pending_index, now);
            }
        }
    }
}

#endif
