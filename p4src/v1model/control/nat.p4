/*
 * C8 for NAT services: stateless, consistent NAT of the connections that SynProxy
 * forwards unproxied (D7 translates only proxied ones, through their sessions).
 *
 *   client -> VIP:vport, passed (undefended, or a flow from before the defence):
 *       bucket = crc32(client, VIP, cport, vport) mod NAT_BUCKETS
 *       nat_buckets[service_id, bucket] -> dst := RS:rport, routed
 *       no entry: dropped, EV_DROP_NO_SERVER (a NAT service reaches no server)
 *   RS:rport -> client, no session, not to a service:
 *       nat_reverse[RS, rport] -> src := VIP:vport, routed
 *
 * No per-connection state: the bucket is a function of the 4-tuple, so every segment
 * of a flow (and a flow that outlives the switch-on of the defence) reaches the same
 * real server as long as the controller leaves its bucket alone. The controller moves
 * only the buckets of a real server it removes or reweights (controller/natpool.py).
 * Checksums: the TCP checksum is patched incrementally (addresses are in its
 * pseudo-header); the IPv4 checksum is recomputed for every packet at deparse.
 * Session traffic never gets here: both tables are applied only without a session.
 */
#ifndef SYNPROXY_CONTROL_NAT_P4
#define SYNPROXY_CONTROL_NAT_P4

control UnproxiedNat(inout headers_t hdr, inout local_metadata_t meta,
                     inout standard_metadata_t standard_metadata) {

    @id(ID_DIRECT_COUNTER_NAT_BUCKETS)
    direct_counter(CounterType.packets_and_bytes) nat_buckets_counter;
    @id(ID_DIRECT_COUNTER_NAT_REVERSE)
    direct_counter(CounterType.packets_and_bytes) nat_reverse_counter;

    /* Client -> VIP: the real server of this bucket. */
    @id(ID_ACTION_NAT_TO)
    action nat_to(ipv4_addr_t rs_addr, l4_port_t rs_port) {
        meta.nat_addr = rs_addr;
        meta.nat_port = rs_port;
    }

    /* A NAT service without an entry for the bucket has no server to offer. */
    @id(ID_ACTION_NO_SERVER)
    action no_server() {
        mark_to_drop(standard_metadata);
        meta.event = EV_DROP_NO_SERVER;
        meta.done = true;
    }

    @id(ID_TABLE_NAT_BUCKETS)
    table nat_buckets {
        key = {
            meta.service_id : exact @name("service_id");
            meta.nat_bucket : exact @name("bucket");
        }
        actions = {
            nat_to;
            @defaultonly no_server;
        }
        const default_action = no_server();
        counters = nat_buckets_counter;
        size = NAT_BUCKETS_SIZE;
    }

    /* RS -> client: the VIP the client talks to. */
    @id(ID_ACTION_NAT_FROM)
    action nat_from(ipv4_addr_t vip_addr, l4_port_t vip_port) {
        meta.nat_addr = vip_addr;
        meta.nat_port = vip_port;
    }

    @id(ID_ACTION_NO_NAT)
    action no_nat() { }

    @id(ID_TABLE_NAT_REVERSE)
    table nat_reverse {
        key = {
            hdr.ipv4.src_addr : exact @name("src_addr");
            hdr.tcp.src_port  : exact @name("src_port");
        }
        actions = {
            nat_from;
            @defaultonly no_nat;
        }
        const default_action = no_nat();
        counters = nat_reverse_counter;
        size = NAT_REVERSE_SIZE;
    }

    @id(ID_DIRECT_COUNTER_NAT_BUCKETS_V6)
    direct_counter(CounterType.packets_and_bytes) nat_buckets_v6_counter;
    @id(ID_DIRECT_COUNTER_NAT_REVERSE_V6)
    direct_counter(CounterType.packets_and_bytes) nat_reverse_v6_counter;

    /* D13: the IPv6 twins (real servers of IPv6 VIPs are IPv6). */
    @id(ID_ACTION_NAT_TO_V6)
    action nat_to_v6(ipv6_addr_t rs_addr, l4_port_t rs_port) {
        meta.nat_addr6 = rs_addr;
        meta.nat_port = rs_port;
    }

    @id(ID_TABLE_NAT_BUCKETS_V6)
    table nat_buckets_v6 {
        key = {
            meta.service_id : exact @name("service_id");
            meta.nat_bucket : exact @name("bucket");
        }
        actions = {
            nat_to_v6;
            @defaultonly no_server;
        }
        const default_action = no_server();
        counters = nat_buckets_v6_counter;
        size = NAT_BUCKETS_SIZE;
    }

    @id(ID_ACTION_NAT_FROM_V6)
    action nat_from_v6(ipv6_addr_t vip_addr, l4_port_t vip_port) {
        meta.nat_addr6 = vip_addr;
        meta.nat_port = vip_port;
    }

    @id(ID_TABLE_NAT_REVERSE_V6)
    table nat_reverse_v6 {
        key = {
            hdr.ipv6.src_addr : exact @name("src_addr");
            hdr.tcp.src_port  : exact @name("src_port");
        }
        actions = {
            nat_from_v6;
            @defaultonly no_nat;
        }
        const default_action = no_nat();
        counters = nat_reverse_v6_counter;
        size = NAT_REVERSE_SIZE;
    }

    apply {
        if (!meta.done && hdr.tcp.isValid() && hdr.ipv6.isValid()) {
            /* D13: as below, over the 128-bit addresses. */
            if (meta.passed && (meta.svc_flags & SVC_FLAG_NAT) != 0) {
                hash(meta.nat_bucket, HashAlgorithm.crc32, (NatBucket_t)0,
                     { hdr.ipv6.src_addr, hdr.ipv6.dst_addr, hdr.tcp.src_port,
                       hdr.tcp.dst_port },
                     NAT_BUCKETS);
                if (nat_buckets_v6.apply().hit) {
                    bit<32> sum = csum_open(hdr.tcp.checksum)
                                  + csum_diff128(hdr.ipv6.dst_addr, meta.nat_addr6)
                                  + csum_diff16(hdr.tcp.dst_port, meta.nat_port);
                    hdr.ipv6.dst_addr = meta.nat_addr6;
                    hdr.tcp.dst_port = meta.nat_port;
                    hdr.tcp.checksum = csum_close(sum);
                    meta.route = true;
                }
            } else if (!meta.svc_hit && !meta.from_cpu
                       && !(meta.session_hit && meta.state != SESSION_NONE)) {
                if (nat_reverse_v6.apply().hit) {
                    bit<32> sum = csum_open(hdr.tcp.checksum)
                                  + csum_diff128(hdr.ipv6.src_addr, meta.nat_addr6)
                                  + csum_diff16(hdr.tcp.src_port, meta.nat_port);
                    hdr.ipv6.src_addr = meta.nat_addr6;
                    hdr.tcp.src_port = meta.nat_port;
                    hdr.tcp.checksum = csum_close(sum);
                    meta.route = true;
                }
            }
        } else if (!meta.done && hdr.tcp.isValid()) {
            if (meta.passed && (meta.svc_flags & SVC_FLAG_NAT) != 0) {
                /* The 4-tuple as the client sent it: every segment of the flow lands
                 * in the same bucket. crc32, not crc16: the low bits of CRC-16/ARC
                 * depend on too few bits of the client port, so one client's
                 * consecutive ports would use only half of the buckets. */
                hash(meta.nat_bucket, HashAlgorithm.crc32, (NatBucket_t)0,
                     { hdr.ipv4.src_addr, hdr.ipv4.dst_addr, hdr.tcp.src_port,
                       hdr.tcp.dst_port },
                     NAT_BUCKETS);
                if (nat_buckets.apply().hit) {
                    bit<32> sum = csum_open(hdr.tcp.checksum)
                                  + csum_diff32(hdr.ipv4.dst_addr, meta.nat_addr)
                                  + csum_diff16(hdr.tcp.dst_port, meta.nat_port);
                    hdr.ipv4.dst_addr = meta.nat_addr;
                    hdr.tcp.dst_port = meta.nat_port;
                    hdr.tcp.checksum = csum_close(sum);
                    meta.route = true;
                }
            } else if (!meta.svc_hit && !meta.from_cpu
                       && !(meta.session_hit && meta.state != SESSION_NONE)) {
                if (nat_reverse.apply().hit) {
                    bit<32> sum = csum_open(hdr.tcp.checksum)
                                  + csum_diff32(hdr.ipv4.src_addr, meta.nat_addr)
                                  + csum_diff16(hdr.tcp.src_port, meta.nat_port);
                    hdr.ipv4.src_addr = meta.nat_addr;
                    hdr.tcp.src_port = meta.nat_port;
                    hdr.tcp.checksum = csum_close(sum);
                    meta.route = true;
                }
            }
        }
    }
}

#endif
