/*
 * Segments the switch builds in place of the one it received: the SYN/ACK (D3), the
 * ACK that completes the server handshake and the client's window update (D8), and
 * the resets of D10. Each keeps nothing of the original's options or payload, so
 * its checksum is summed in full and the frame is cut to its headers (the caller
 * passes the returned length to truncate()).
 */
#ifndef SYNPROXY_CONTROL_REPLY_P4
#define SYNPROXY_CONTROL_REPLY_P4

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

/* Drop the parsed options and the IPv4 options, size the headers for the generated
 * options, checksum the segment. Returns the frame length (Ethernet and VLAN tags
 * included). */
bit<32> fresh_segment_finish(inout headers_t hdr) {
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
    hdr.ipv4_options.setInvalid();
    hdr.ipv4.ihl = 5;
    hdr.ipv4.total_len = 20 + tcp_len;
    hdr.ipv4.flag_mf = 0;
    hdr.ipv4.frag_offset = 0;
    tcp_checksum_fresh(hdr.ipv4, hdr.tcp, hdr.gen_mss, hdr.gen_wscale,
                       hdr.gen_sack_perm, hdr.gen_timestamp, tcp_len);
    /* The VLAN tags stay (D16): the segment goes back where it came from, tagged. */
    bit<32> l2_len = (bit<32>)ETH_HDR_LEN;
    if (hdr.vlan_outer.isValid()) {
        l2_len = l2_len + (bit<32>)VLAN_TAG_LEN;
    }
    if (hdr.vlan_inner.isValid()) {
        l2_len = l2_len + (bit<32>)VLAN_TAG_LEN;
    }
    return l2_len + (bit<32>)hdr.ipv4.total_len;
}

/* Exchange source and destination at L2, L3 and L4: the reply goes back the way the
 * segment came. */
void swap_endpoints(inout headers_t hdr) {
    mac_addr_t mac = hdr.ethernet.dst_addr;
    hdr.ethernet.dst_addr = hdr.ethernet.src_addr;
    hdr.ethernet.src_addr = mac;
    ipv4_addr_t addr = hdr.ipv4.dst_addr;
    hdr.ipv4.dst_addr = hdr.ipv4.src_addr;
    hdr.ipv4.src_addr = addr;
    l4_port_t port = hdr.tcp.dst_port;
    hdr.tcp.dst_port = hdr.tcp.src_port;
    hdr.tcp.src_port = port;
}

/* NOP NOP TS, or SACKOK TS when SACK is negotiated too (one 12-byte block). */
void gen_timestamp_set(inout gen_timestamp_t ts, in bit<16> prefix,
                       in bit<32> tsval, in bit<32> tsecr) {
    ts.setValid();
    ts.prefix = prefix;
    ts.kind = TCP_OPT_TIMESTAMP;
    ts.len = TCP_OPT_TIMESTAMP_LEN;
    ts.tsval = tsval;
    ts.tsecr = tsecr;
}

/* D3: the client's SYN becomes our SYN/ACK with seq = cookie, ack = isn + 1. The
 * options follow OPTS, which holds what both sides agreed on; the MSS and the window
 * scale offered are the service's (they must match the real servers'). */
bit<32> build_synack(inout headers_t hdr, in bit<32> cookie, in bit<8> opts,
                     in bit<16> svc_mss, in bit<8> svc_wscale, in bit<16> svc_window,
                     in bit<8> svc_ttl, in bit<32> tsval, in bit<32> client_tsval) {
    swap_endpoints(hdr);
    hdr.ipv4.ttl = svc_ttl;
    hdr.ipv4.ecn = 0;   /* no ECN negotiated (the SYN/ACK sets no ECE) */
    hdr.ipv4.identification = 0;
    hdr.ipv4.flag_df = 1;
    hdr.tcp.ack_no = hdr.tcp.seq_no + 1;
    hdr.tcp.seq_no = cookie;
    hdr.tcp.flags = TCP_SYN | TCP_ACK;
    hdr.tcp.window = svc_window;
    hdr.gen_mss.setValid();
    hdr.gen_mss.kind = TCP_OPT_MSS;
    hdr.gen_mss.len = TCP_OPT_MSS_LEN;
    hdr.gen_mss.mss = svc_mss;
    if (opts[5:2] != COOKIE_WSCALE_NONE) {
        hdr.gen_wscale.setValid();
        hdr.gen_wscale.nop = TCP_OPT_NOP;
        hdr.gen_wscale.kind = TCP_OPT_WSCALE;
        hdr.gen_wscale.len = TCP_OPT_WSCALE_LEN;
        hdr.gen_wscale.shift = svc_wscale;
    }
    bool sack_ok = opts[1:1] == 1;
    if (opts[0:0] == 1) {
        bit<16> prefix = TCP_OPT_NOP_NOP;
        if (sack_ok) {
            prefix = TCP_OPT_SACK_PERM_WORD;
        }
        gen_timestamp_set(hdr.gen_timestamp, prefix, tsval, client_tsval);
    } else if (sack_ok) {
        hdr.gen_sack_perm.setValid();
        hdr.gen_sack_perm.nops = TCP_OPT_NOP_NOP;
        hdr.gen_sack_perm.kind = TCP_OPT_SACK_PERM;
        hdr.gen_sack_perm.len = TCP_OPT_SACK_PERM_LEN;
    }
    return fresh_segment_finish(hdr);
}

/* D8, built in egress from the copy of the server's SYN/ACK: the ACK that completes
 * the server handshake, as the client would send it. seq and ack come straight from
 * the SYN/ACK; the timestamps swap: TSval = the client's TSval the server echoed,
 * TSecr = the server's TSval. */
bit<32> build_server_ack(inout headers_t hdr, in bit<16> client_window,
                         in bool has_ts, in bit<32> srv_tsval, in bit<32> srv_tsecr) {
    swap_endpoints(hdr);
    hdr.ipv4.ttl = IPV4_DEFAULT_TTL;
    bit<32> seq = hdr.tcp.ack_no;
    hdr.tcp.ack_no = hdr.tcp.seq_no + 1;
    hdr.tcp.seq_no = seq;
    hdr.tcp.flags = TCP_ACK;
    hdr.tcp.window = client_window;
    if (has_ts) {
        gen_timestamp_set(hdr.gen_timestamp, TCP_OPT_NOP_NOP, srv_tsecr, srv_tsval);
    }
    return fresh_segment_finish(hdr);
}

/* D8: the server's SYN/ACK becomes the client's window update: from the VIP, in the
 * client's sequence space (seq = cookie + 1; ack = isn + 1 already), carrying the
 * server's window. A SYN/ACK window is never scaled, later windows are: shift it by
 * the scale the client was offered. TSval moves to our clock (+ tsoff). */
bit<32> build_window_update(inout headers_t hdr, in ipv4_addr_t vip_addr,
                            in l4_port_t vip_port, in bit<32> cookie,
                            in bit<8> win_shift, in bool has_ts, in bit<32> tsval,
                            in bit<32> tsecr) {
    hdr.ipv4.src_addr = vip_addr;
    hdr.tcp.src_port = vip_port;
    hdr.tcp.seq_no = cookie + 1;
    hdr.tcp.flags = TCP_ACK;
    hdr.tcp.window = hdr.tcp.window >> win_shift;
    if (has_ts) {
        gen_timestamp_set(hdr.gen_timestamp, TCP_OPT_NOP_NOP, tsval, tsecr);
    }
    return fresh_segment_finish(hdr);
}

/* D10: the server reset the handshake: reset the client, from the VIP, with the
 * sequence number it expects (cookie + 1). */
bit<32> build_client_reset(inout headers_t hdr, in ipv4_addr_t vip_addr,
                           in l4_port_t vip_port, in bit<32> cookie) {
    hdr.ipv4.src_addr = vip_addr;
    hdr.tcp.src_port = vip_port;
    hdr.tcp.seq_no = cookie + 1;
    hdr.tcp.ack_no = 0;
    hdr.tcp.flags = TCP_RST;
    hdr.tcp.window = 0;
    return fresh_segment_finish(hdr);
}

/* D10: the client gave up (RST or FIN) while the server handshake is pending: reset
 * the server. The client's seq is the server's expected seq (no delta yet). */
bit<32> build_server_reset(inout headers_t hdr, in ipv4_addr_t rs_addr,
                           in l4_port_t rs_port) {
    hdr.ipv4.dst_addr = rs_addr;
    hdr.tcp.dst_port = rs_port;
    hdr.tcp.ack_no = 0;
    hdr.tcp.flags = TCP_RST;
    hdr.tcp.window = 0;
    return fresh_segment_finish(hdr);
}

#endif
