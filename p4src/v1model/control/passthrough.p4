/*
 * C8: the flow filter. Connections opened while a service was not defended have no
 * session and no cookie; the filter lets them go on when the defence comes on
 * (p4src/README.md, "passthrough_epoch"). Applied by SynProxy (proxy.p4) for the
 * client segments of an auto service that has no session: while the service passes
 * traffic, a segment marks its flow's cell; while it is defended, `known` says that
 * the cell holds this very flow, marked in the current epoch.
 *
 * The registers and the table keep the names they have always had in the P4Info
 * (SynproxyIngress.synproxy.*, absolute @name): the controller and the tests address
 * them by name (tests/p4src/golden).
 */
#ifndef SYNPROXY_CONTROL_PASSTHROUGH_P4
#define SYNPROXY_CONTROL_PASSTHROUGH_P4

control PassthroughFilter(in ipv4_t ip, in ipv6_t ip6, in tcp_t tcp,
                          inout local_metadata_t meta, out bool known) {

    /* C8: connections opened while a service was not defended have no session and
     * no cookie; without this filter, turning the defence on would cut them all.
     * While a service passes traffic, every client segment marks the cell of its
     * flow with its 4-tuple; while it is defended, a segment that is not a valid
     * cookie ACK but whose own 4-tuple marks its cell is passed as before. The
     * tuple is compared in full (D16): the index is a CRC, and a spoofer who marked
     * one cell while the service was calm could otherwise aim a whole flood of
     * colliding tuples through it. The price: two live flows in one cell hold it
     * by turns (the last segment wins), and the other is cut when the defence
     * comes on, as every connection would be without the filter.
     * A cell is "set" when it holds the current epoch (passthrough_epoch below), so
     * the controller clears the whole filter, when the defence has been off long
     * enough for its flows to be gone, by moving to the next epoch (1..255: 0 is
     * what a never-written cell holds). */
    @name(".SynproxyIngress.synproxy.passthrough_flows")
    @id(ID_REGISTER_PASSTHROUGH_FLOWS)
    register<bit<8>>(FLOW_FILTER_SIZE) passthrough_flows;
    /* The 4-tuple that set each cell: src, dst, sport ++ dport. */
    @name(".SynproxyIngress.synproxy.passthrough_src")
    @id(ID_REGISTER_PASSTHROUGH_SRC)
    register<bit<32>>(FLOW_FILTER_SIZE) passthrough_src;
    @name(".SynproxyIngress.synproxy.passthrough_dst")
    @id(ID_REGISTER_PASSTHROUGH_DST)
    register<bit<32>>(FLOW_FILTER_SIZE) passthrough_dst;
    @name(".SynproxyIngress.synproxy.passthrough_ports")
    @id(ID_REGISTER_PASSTHROUGH_PORTS)
    register<bit<32>>(FLOW_FILTER_SIZE) passthrough_ports;
    /* D13: an IPv6 flow's addresses (its ports in passthrough_ports). A cell holds
     * one family's tuple, the other family's address cells 0; all are compared. */
    @name(".SynproxyIngress.synproxy.passthrough_src6")
    @id(ID_REGISTER_PASSTHROUGH_SRC6)
    register<bit<128>>(FLOW_FILTER_SIZE) passthrough_src6;
    @name(".SynproxyIngress.synproxy.passthrough_dst6")
    @id(ID_REGISTER_PASSTHROUGH_DST6)
    register<bit<128>>(FLOW_FILTER_SIZE) passthrough_dst6;

    @name(".SynproxyIngress.synproxy.set_passthrough_epoch")
    @id(ID_ACTION_SET_PASSTHROUGH_EPOCH)
    action set_passthrough_epoch(bit<8> epoch) {
        meta.passthrough_epoch = epoch;
    }

    /* C8: keyless; the controller modifies the default action to bump the epoch.
     * No direct counter: a keyless table has no entries to count. */
    @name(".SynproxyIngress.synproxy.passthrough_epoch")
    @id(ID_TABLE_PASSTHROUGH_EPOCH)
    table passthrough_epoch {
        actions = {
            @defaultonly set_passthrough_epoch;
        }
        default_action = set_passthrough_epoch(1);
        size = 1;
    }

    apply {
        known = false;
        bit<32> flow_cell;
        ipv4_addr_t src = 0;
        ipv4_addr_t dst = 0;
        ipv6_addr_t src6 = 0;
        ipv6_addr_t dst6 = 0;
        if (ip6.isValid()) {
            src6 = ip6.src_addr;
            dst6 = ip6.dst_addr;
            hash(flow_cell, HashAlgorithm.crc32, 32w0,
                 { ip6.src_addr, ip6.dst_addr, tcp.src_port, tcp.dst_port },
                 FLOW_FILTER_SIZE);
        } else {
            src = ip.src_addr;
            dst = ip.dst_addr;
            hash(flow_cell, HashAlgorithm.crc32, 32w0,
                 { ip.src_addr, ip.dst_addr, tcp.src_port, tcp.dst_port },
                 FLOW_FILTER_SIZE);
        }
        passthrough_epoch.apply();
        bit<32> flow_ports = (tcp.src_port ++ tcp.dst_port);
        if (meta.proxy_active) {
            bit<8> seen;
            bit<32> seen_src;
            bit<32> seen_dst;
            bit<32> seen_ports;
            bit<128> seen_src6;
            bit<128> seen_dst6;
            passthrough_flows.read(seen, flow_cell);
            passthrough_src.read(seen_src, flow_cell);
            passthrough_dst.read(seen_dst, flow_cell);
            passthrough_ports.read(seen_ports, flow_cell);
            passthrough_src6.read(seen_src6, flow_cell);
            passthrough_dst6.read(seen_dst6, flow_cell);
            /* Epoch 0 would find every never-written cell: it marks nothing. */
            known = seen == meta.passthrough_epoch && seen != 0
                                && seen_src == src && seen_dst == dst
                                && seen_src6 == src6 && seen_dst6 == dst6
                                && seen_ports == flow_ports;
        } else {
            passthrough_flows.write(flow_cell, meta.passthrough_epoch);
            passthrough_src.write(flow_cell, src);
            passthrough_dst.write(flow_cell, dst);
            passthrough_ports.write(flow_cell, flow_ports);
            passthrough_src6.write(flow_cell, src6);
            passthrough_dst6.write(flow_cell, dst6);
        }
    }
}

#endif
