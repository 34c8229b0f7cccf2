/*
 * C8 for NAT services on TNA: the stateless NAT of connections SynProxy forwards
 * unproxied, as v1model's control/nat.p4 (which says what and why), IPv4 only.
 * The bucket is crc32(client, VIP, cport, vport) cut to NAT_BUCKET_BITS (the same as
 * v1model's modulo NAT_BUCKETS, a power of two).
 */
#ifndef SYNPROXY_TNA_CONTROL_NAT_P4
#define SYNPROXY_TNA_CONTROL_NAT_P4

control UnproxiedNat(inout headers_t hdr, inout local_metadata_t meta,
                     inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {

    @id(ID_DIRECT_COUNTER_NAT_BUCKETS)
    DirectCounter<bit<32>>(CounterType_t.PACKETS_AND_BYTES) nat_buckets_counter;
    @id(ID_DIRECT_COUNTER_NAT_REVERSE)
    DirectCounter<bit<32>>(CounterType_t.PACKETS_AND_BYTES) nat_reverse_counter;
    Hash<bit<32>>(HashAlgorithm_t.CRC32) bucket_hash;

    bool nat_hit = false;

    /* Client -> VIP: the real server of this bucket. */
    @id(ID_ACTION_NAT_TO)
    action nat_to(ipv4_addr_t rs_addr, l4_port_t rs_port) {
        meta.nat_addr = rs_addr;
        meta.nat_port = rs_port;
        nat_hit = true;
        nat_buckets_counter.count();
    }

    /* A NAT service without an entry for the bucket has no server to offer. */
    @id(ID_ACTION_NO_SERVER)
    action no_server() {
        drop_packet_tna(ig_dprsr_md);
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
        nat_hit = true;
        nat_reverse_counter.count();
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

    apply {
        if (!meta.done && hdr.tcp.isValid()) {
            if (meta.passed && (meta.svc_flags & SVC_FLAG_NAT) != 0) {
                bit<32> h = bucket_hash.get({ hdr.ipv4.src_addr, hdr.ipv4.dst_addr,
                                              hdr.tcp.src_port, hdr.tcp.dst_port });
                meta.nat_bucket = h[NAT_BUCKET_BITS - 1:0];
                nat_buckets.apply();
                if (nat_hit) {
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
                nat_reverse.apply();
                if (nat_hit) {
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
