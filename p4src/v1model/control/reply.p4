/*
 * Segments the switch builds in place of the one it received: the SYN/ACK (D3), the
 * ACK that completes the server handshake and the client's window update (D8), and
 * the resets of D10. Each keeps nothing of the original's options or payload, so
 * its checksum is summed in full and the frame is cut to its headers (the caller
 * passes the length SegmentReply returns to truncate()).
 *
 * One control, applied once per pipeline with the kind of segment to build: the
 * compilers inline a control applied from one place without copying its arguments,
 * where every call of a function taking the headers copies all of them (p4c gives
 * each copy its own header instances, which bmv2 then resets for every packet). So
 * the caller decides what to build and the headers are edited here, in one place.
 */
#ifndef SYNPROXY_CONTROL_REPLY_P4
#define SYNPROXY_CONTROL_REPLY_P4

/* What SegmentReply builds (`kind`). */
const bit<8> REPLY_NONE = 0;
const bit<8> REPLY_SYNACK = 1;         /* the client's SYN -> our SYN/ACK */
const bit<8> REPLY_SERVER_ACK = 2;     /* the copy of the server SYN/ACK -> ACK to it */
const bit<8> REPLY_WINDOW_UPDATE = 3;  /* the server SYN/ACK -> the client's window update */
const bit<8> REPLY_CLIENT_RESET = 4;   /* the server's RST in SYN_SENT -> RST to the client */
const bit<8> REPLY_SERVER_RESET = 5;   /* the client's RST/FIN in SYN_SENT -> RST to the server */
const bit<8> REPLY_REFUSAL_RESET = 6;  /* the client's valid cookie ACK -> RST back (C13, fail closed) */

/* Empty one element of the option stack: setInvalid() of every member. (The shorter
 * `nop.setValid(); nop.setInvalid();`, which relies on setValid() invalidating the
 * other members, is miscompiled by p4c for bmv2: its copy propagation does not see
 * that setValid() of one member writes the others, and drops the copy of `eol` back
 * out of the function, so an EOL of the client's SYN stayed in our SYN/ACK.) */
#define TCP_OPTION_CLEAR(i) \
    hdr.tcp_options[i].eol.setInvalid(); \
    hdr.tcp_options[i].nop.setInvalid(); \
    hdr.tcp_options[i].mss.setInvalid(); \
    hdr.tcp_options[i].wscale.setInvalid(); \
    hdr.tcp_options[i].sack_perm.setInvalid(); \
    hdr.tcp_options[i].timestamp.setInvalid(); \
    hdr.tcp_options[i].sack1.setInvalid(); \
    hdr.tcp_options[i].sack2.setInvalid(); \
    hdr.tcp_options[i].sack3.setInvalid(); \
    hdr.tcp_options[i].sack4.setInvalid(); \
    hdr.tcp_options[i].generic.setInvalid();

/*
 * Build the segment `kind` from the one in `hdr`. Returns the frame length (Ethernet
 * and VLAN tags included) in `frame_len`, 0 for REPLY_NONE (nothing changed).
 *
 *   kind                 addr, port     seq        window, shift         ts (has_ts, tsval, tsecr)
 *   REPLY_SYNACK         -              cookie     SYN/ACK window, wscale ours, client's TSval (OPTS says)
 *   REPLY_SERVER_ACK     -              -          client's window, -    server's TSecr, server's TSval
 *   REPLY_WINDOW_UPDATE  VIP, vport     cookie     -, client's shift     as given
 *   REPLY_CLIENT_RESET   VIP, vport     cookie     -                     -
 *   REPLY_SERVER_RESET   RS, rport      -          -                     -
 *   REPLY_REFUSAL_RESET  -              -          -                     -   (seq = its ack)
 *
 * `opts` and `mss` are the SYN/ACK's only (OPTS of the cookie, the MSS to offer);
 * `ttl`, the service's TTL, is the SYN/ACK's and the refusal reset's (IPv6: the hop
 * limit). `addr` is 128 bits for both families: an IPv4 address in its low 32.
 *
 * D13: a segment with an IPv6 header (valid) is built the same way in IPv6: the
 * addresses swapped or set there, hop limit for TTL, the flow label 0 and no ECN in
 * the segments of our own, payload length and the pseudo-header's for the checksum.
 * The extension headers it came with are the caller's to remove (the header stack
 * is v1model's: IPV6_EXT_CLEAR, ipv6.p4); Next Header is set to TCP here.
 */
control SegmentReply(inout headers_t hdr, in bit<8> kind,
                     in ipv6_addr_t addr, in l4_port_t port, in bit<32> seq,
                     in bit<8> opts, in bit<16> window, in bit<8> shift,
                     in bit<16> mss, in bit<8> ttl,
                     in bool has_ts, in bit<32> tsval, in bit<32> tsecr,
                     out bit<32> frame_len) {
    apply {
        frame_len = 0;
        if (kind != REPLY_NONE) {
            bool ts = has_ts;
            bit<16> ts_prefix = TCP_OPT_NOP_NOP;
            if (kind == REPLY_SYNACK || kind == REPLY_SERVER_ACK
                    || kind == REPLY_REFUSAL_RESET) {
                /* Back the way the segment came: exchange source and destination at
                 * L2, L3 and L4. */
                mac_addr_t mac = hdr.ethernet.dst_addr;
                hdr.ethernet.dst_addr = hdr.ethernet.src_addr;
                hdr.ethernet.src_addr = mac;
                if (hdr.ipv6.isValid()) {
                    ipv6_addr_t ip6 = hdr.ipv6.dst_addr;
                    hdr.ipv6.dst_addr = hdr.ipv6.src_addr;
                    hdr.ipv6.src_addr = ip6;
                } else {
                    ipv4_addr_t ip = hdr.ipv4.dst_addr;
                    hdr.ipv4.dst_addr = hdr.ipv4.src_addr;
                    hdr.ipv4.src_addr = ip;
                }
                l4_port_t l4 = hdr.tcp.dst_port;
                hdr.tcp.dst_port = hdr.tcp.src_port;
                hdr.tcp.src_port = l4;
            }
            if (kind == REPLY_SYNACK) {
                /* D3: seq = cookie, ack = isn + 1. The options follow OPTS, which
                 * holds what both sides agreed on; the MSS and the window scale
                 * offered are the service's (they must match the real servers'). */
                if (hdr.ipv6.isValid()) {
                    hdr.ipv6.hop_limit = ttl;
                    hdr.ipv6.traffic_class[1:0] = 0;   /* ECN, as for IPv4 */
                    hdr.ipv6.flow_label = 0;
                } else {
                    hdr.ipv4.ttl = ttl;
                    hdr.ipv4.ecn = 0;   /* no ECN negotiated (the SYN/ACK sets no ECE) */
                    hdr.ipv4.identification = 0;
                    hdr.ipv4.flag_df = 1;
                }
                hdr.tcp.ack_no = hdr.tcp.seq_no + 1;
                hdr.tcp.seq_no = seq;
                hdr.tcp.flags = TCP_SYN | TCP_ACK;
                hdr.tcp.window = window;
                hdr.gen_mss.setValid();
                hdr.gen_mss.kind = TCP_OPT_MSS;
                hdr.gen_mss.len = TCP_OPT_MSS_LEN;
                hdr.gen_mss.mss = mss;
                if (opts[5:2] != COOKIE_WSCALE_NONE) {
                    hdr.gen_wscale.setValid();
                    hdr.gen_wscale.nop = TCP_OPT_NOP;
                    hdr.gen_wscale.kind = TCP_OPT_WSCALE;
                    hdr.gen_wscale.len = TCP_OPT_WSCALE_LEN;
                    hdr.gen_wscale.shift = shift;
                }
                ts = opts[0:0] == 1;
                if (opts[1:1] == 1) {
                    if (ts) {
                        /* SACKOK TS: one 12-byte block. */
                        ts_prefix = TCP_OPT_SACK_PERM_WORD;
                    } else {
                        hdr.gen_sack_perm.setValid();
                        hdr.gen_sack_perm.nops = TCP_OPT_NOP_NOP;
                        hdr.gen_sack_perm.kind = TCP_OPT_SACK_PERM;
                        hdr.gen_sack_perm.len = TCP_OPT_SACK_PERM_LEN;
                    }
                }
            } else if (kind == REPLY_SERVER_ACK) {
                /* D8, in egress from the copy of the server's SYN/ACK: the ACK that
                 * completes the server handshake, as the client would send it. seq
                 * and ack come straight from the SYN/ACK. */
                if (hdr.ipv6.isValid()) {
                    hdr.ipv6.hop_limit = IPV4_DEFAULT_TTL;
                } else {
                    hdr.ipv4.ttl = IPV4_DEFAULT_TTL;
                }
                bit<32> ack_seq = hdr.tcp.ack_no;
                hdr.tcp.ack_no = hdr.tcp.seq_no + 1;
                hdr.tcp.seq_no = ack_seq;
                hdr.tcp.flags = TCP_ACK;
                hdr.tcp.window = window;
            } else if (kind == REPLY_WINDOW_UPDATE) {
                /* D8: the server's SYN/ACK becomes the client's window update: from
                 * the VIP, in the client's sequence space (seq = cookie + 1; ack =
                 * isn + 1 already), carrying the server's window. A SYN/ACK window is
                 * never scaled, later windows are: shift it by the scale the client
                 * was offered. */
                if (hdr.ipv6.isValid()) {
                    hdr.ipv6.src_addr = addr;
                } else {
                    hdr.ipv4.src_addr = addr[31:0];
                }
                hdr.tcp.src_port = port;
                hdr.tcp.seq_no = seq + 1;
                hdr.tcp.flags = TCP_ACK;
                hdr.tcp.window = hdr.tcp.window >> shift;
            } else {
                /* D10: a reset in the sequence space the other side expects. */
                if (kind == REPLY_REFUSAL_RESET) {
                    /* C13: back to the client from the VIP, in the sequence space it
                     * expects (its ack: cookie + 1), as a fresh segment of ours. */
                    if (hdr.ipv6.isValid()) {
                        hdr.ipv6.hop_limit = ttl;
                        hdr.ipv6.traffic_class[1:0] = 0;
                        hdr.ipv6.flow_label = 0;
                    } else {
                        hdr.ipv4.ttl = ttl;
                        hdr.ipv4.ecn = 0;
                        hdr.ipv4.identification = 0;
                        hdr.ipv4.flag_df = 1;
                    }
                    hdr.tcp.seq_no = hdr.tcp.ack_no;
                } else if (kind == REPLY_CLIENT_RESET) {
                    /* From the VIP, seq = cookie + 1. */
                    if (hdr.ipv6.isValid()) {
                        hdr.ipv6.src_addr = addr;
                    } else {
                        hdr.ipv4.src_addr = addr[31:0];
                    }
                    hdr.tcp.src_port = port;
                    hdr.tcp.seq_no = seq + 1;
                } else {
                    /* To the server; the client's seq is the server's (no delta yet). */
                    if (hdr.ipv6.isValid()) {
                        hdr.ipv6.dst_addr = addr;
                    } else {
                        hdr.ipv4.dst_addr = addr[31:0];
                    }
                    hdr.tcp.dst_port = port;
                }
                hdr.tcp.ack_no = 0;
                hdr.tcp.flags = TCP_RST;
                hdr.tcp.window = 0;
                ts = false;
            }
            if (ts) {
                /* NOP NOP TS, or SACKOK TS when SACK is negotiated too. */
                hdr.gen_timestamp.setValid();
                hdr.gen_timestamp.prefix = ts_prefix;
                hdr.gen_timestamp.kind = TCP_OPT_TIMESTAMP;
                hdr.gen_timestamp.len = TCP_OPT_TIMESTAMP_LEN;
                hdr.gen_timestamp.tsval = tsval;
                hdr.gen_timestamp.tsecr = tsecr;
            }

            /* Drop the parsed options and the IPv4 options, size the headers for the
             * generated options, checksum the segment (the IPv6 extension headers: the
             * caller). */
            TCP_OPTION_CLEAR(0)
            TCP_OPTION_CLEAR(1)
            TCP_OPTION_CLEAR(2)
            TCP_OPTION_CLEAR(3)
            TCP_OPTION_CLEAR(4)
            TCP_OPTION_CLEAR(5)
            TCP_OPTION_CLEAR(6)
            TCP_OPTION_CLEAR(7)
            TCP_OPTION_CLEAR(8)
            TCP_OPTION_CLEAR(9)
            TCP_OPTION_CLEAR(10)
            TCP_OPTION_CLEAR(11)
            bit<4> words = TCP_MIN_DATA_OFFSET;
            if (hdr.gen_mss.isValid()) {
                words = words + 1;
            }
            if (hdr.gen_wscale.isValid()) {
                words = words + 1;
            }
            if (hdr.gen_sack_perm.isValid()) {
                words = words + 1;
            }
            if (hdr.gen_timestamp.isValid()) {
                words = words + 3;
            }
            hdr.tcp.data_offset = words;
            hdr.tcp.res = 0;
            hdr.tcp.urgent_ptr = 0;
            bit<16> tcp_len = ((bit<16>)words) << 2;
            bit<16> ip_len = 20 + tcp_len;
            if (hdr.ipv6.isValid()) {
                hdr.ipv6.payload_len = tcp_len;
                hdr.ipv6.next_header = IP_PROTO_TCP;
                ip_len = IPV6_HDR_LEN + tcp_len;
            } else {
                hdr.ipv4_options.setInvalid();
                hdr.ipv4.ihl = 5;
                hdr.ipv4.total_len = ip_len;
                hdr.ipv4.flag_mf = 0;
                hdr.ipv4.frag_offset = 0;
            }
            TCP_CHECKSUM_FRESH(hdr, tcp_len)
            /* The VLAN tags stay (D16): the segment goes back where it came from,
             * tagged. */
            bit<32> l2_len = (bit<32>)ETH_HDR_LEN;
            if (hdr.vlan_outer.isValid()) {
                l2_len = l2_len + (bit<32>)VLAN_TAG_LEN;
            }
            if (hdr.vlan_inner.isValid()) {
                l2_len = l2_len + (bit<32>)VLAN_TAG_LEN;
            }
            frame_len = l2_len + (bit<32>)ip_len;
        }
    }
}

#endif
