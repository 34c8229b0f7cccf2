/*
 * D9: splicing the two halves of a proxied connection. The client was given
 * seq = cookie; the server chose rs_isn; delta = rs_isn - cookie (kept per session).
 *   client -> server: ack += delta, every SACK edge += delta, TSecr -= tsoff
 *   server -> client: seq -= delta, TSval += tsoff
 * All modulo 2^32 (bit<32> arithmetic wraps). The TCP checksum is patched for every
 * word changed, the address/port NAT included (the pseudo-header covers addresses).
 */
#ifndef SYNPROXY_CONTROL_SEQADJ_P4
#define SYNPROXY_CONTROL_SEQADJ_P4

/* value += delta, with the checksum sum (csum_open .. csum_close) following. */
void seq_add(inout bit<32> value, in bit<32> delta, inout bit<32> sum) {
    bit<32> old = value;
    value = old + delta;
    sum = sum + csum_diff32(old, value);
}

void sack1_add(inout tcp_opt_sack1_t s, in bit<32> delta, inout bit<32> sum) {
    seq_add(s.left0, delta, sum);
    seq_add(s.right0, delta, sum);
}

void sack2_add(inout tcp_opt_sack2_t s, in bit<32> delta, inout bit<32> sum) {
    seq_add(s.left0, delta, sum);
    seq_add(s.right0, delta, sum);
    seq_add(s.left1, delta, sum);
    seq_add(s.right1, delta, sum);
}

void sack3_add(inout tcp_opt_sack3_t s, in bit<32> delta, inout bit<32> sum) {
    seq_add(s.left0, delta, sum);
    seq_add(s.right0, delta, sum);
    seq_add(s.left1, delta, sum);
    seq_add(s.right1, delta, sum);
    seq_add(s.left2, delta, sum);
    seq_add(s.right2, delta, sum);
}

void sack4_add(inout tcp_opt_sack4_t s, in bit<32> delta, inout bit<32> sum) {
    seq_add(s.left0, delta, sum);
    seq_add(s.right0, delta, sum);
    seq_add(s.left1, delta, sum);
    seq_add(s.right1, delta, sum);
    seq_add(s.left2, delta, sum);
    seq_add(s.right2, delta, sum);
    seq_add(s.left3, delta, sum);
    seq_add(s.right3, delta, sum);
}

/* Client -> server, option i: TSecr back to the server's clock, SACK edges into the
 * server's sequence space. (tsoff is subtracted by adding its negation.) */
#define SEQADJ_C2S_OPTION(i) \
    if (hdr.tcp_options[i].timestamp.isValid()) { \
        seq_add(hdr.tcp_options[i].timestamp.tsecr, neg_tsoff, sum); \
    } else if (hdr.tcp_options[i].sack1.isValid()) { \
        sack1_add(hdr.tcp_options[i].sack1, delta, sum); \
    } else if (hdr.tcp_options[i].sack2.isValid()) { \
        sack2_add(hdr.tcp_options[i].sack2, delta, sum); \
    } else if (hdr.tcp_options[i].sack3.isValid()) { \
        sack3_add(hdr.tcp_options[i].sack3, delta, sum); \
    } else if (hdr.tcp_options[i].sack4.isValid()) { \
        sack4_add(hdr.tcp_options[i].sack4, delta, sum); \
    }

/* Server -> client, option i: TSval to the clock the client saw in our SYN/ACK. The
 * server's SACK blocks are in the client's own sequence space already. */
#define SEQADJ_S2C_OPTION(i) \
    if (hdr.tcp_options[i].timestamp.isValid()) { \
        seq_add(hdr.tcp_options[i].timestamp.tsval, tsoff, sum); \
    }

/* NAT of the destination (client -> server): VIP:vport -> RS:rport. In transparent
 * mode the controller gives the VIP itself and nothing changes. */
void nat_destination(inout headers_t hdr, in ipv4_addr_t addr, in l4_port_t port,
                     inout bit<32> sum) {
    sum = sum + csum_diff32(hdr.ipv4.dst_addr, addr) + csum_diff16(hdr.tcp.dst_port, port);
    hdr.ipv4.dst_addr = addr;
    hdr.tcp.dst_port = port;
}

/* NAT of the source (server -> client): RS:rport -> VIP:vport. */
void nat_source(inout headers_t hdr, in ipv4_addr_t addr, in l4_port_t port,
                inout bit<32> sum) {
    sum = sum + csum_diff32(hdr.ipv4.src_addr, addr) + csum_diff16(hdr.tcp.src_port, port);
    hdr.ipv4.src_addr = addr;
    hdr.tcp.src_port = port;
}

/* Client -> server. With `adjust` false (the server SYN, sent before delta exists)
 * only the NAT applies. */
void seqadj_client_to_server(inout headers_t hdr, in bool adjust, in bit<32> delta,
                             in bit<32> tsoff, in ipv4_addr_t rs_addr,
                             in l4_port_t rs_port) {
    bit<32> sum = csum_open(hdr.tcp.checksum);
    if (adjust) {
        bit<32> neg_tsoff = 0 - tsoff;
        seq_add(hdr.tcp.ack_no, delta, sum);
        SEQADJ_C2S_OPTION(0)
        SEQADJ_C2S_OPTION(1)
        SEQADJ_C2S_OPTION(2)
        SEQADJ_C2S_OPTION(3)
        SEQADJ_C2S_OPTION(4)
        SEQADJ_C2S_OPTION(5)
        SEQADJ_C2S_OPTION(6)
        SEQADJ_C2S_OPTION(7)
        SEQADJ_C2S_OPTION(8)
        SEQADJ_C2S_OPTION(9)
        SEQADJ_C2S_OPTION(10)
        SEQADJ_C2S_OPTION(11)
    }
    nat_destination(hdr, rs_addr, rs_port, sum);
    hdr.tcp.checksum = csum_close(sum);
}

/* The client reads the server's windows with the scale our SYN/ACK offered
 * (client_shift); the server wrote them with the scale of its own SYN/ACK
 * (server_shift). When the two differ, rescale: window * 2^server / 2^client,
 * saturated at 16 bits. */
void window_rescale(inout bit<16> window, in bit<8> server_shift, in bit<8> client_shift,
                    inout bit<32> sum) {
    if (server_shift != client_shift) {
        bit<16> old = window;
        bit<32> wide = ((bit<32>)old) << server_shift;
        bit<32> scaled = wide >> client_shift;
        if (scaled > 0xffff) {
            window = 0xffff;
        } else {
            window = scaled[15:0];
        }
        sum = sum + csum_diff16(old, window);
    }
}

/* Server -> client: seq -= delta (adding its negation), TSval += tsoff, window
 * rescaled, source NAT. */
void seqadj_server_to_client(inout headers_t hdr, in bit<32> delta, in bit<32> tsoff,
                             in bit<8> server_shift, in bit<8> client_shift,
                             in ipv4_addr_t vip_addr, in l4_port_t vip_port) {
    bit<32> sum = csum_open(hdr.tcp.checksum);
    seq_add(hdr.tcp.seq_no, 0 - delta, sum);
    window_rescale(hdr.tcp.window, server_shift, client_shift, sum);
    SEQADJ_S2C_OPTION(0)
    SEQADJ_S2C_OPTION(1)
    SEQADJ_S2C_OPTION(2)
    SEQADJ_S2C_OPTION(3)
    SEQADJ_S2C_OPTION(4)
    SEQADJ_S2C_OPTION(5)
    SEQADJ_S2C_OPTION(6)
    SEQADJ_S2C_OPTION(7)
    SEQADJ_S2C_OPTION(8)
    SEQADJ_S2C_OPTION(9)
    SEQADJ_S2C_OPTION(10)
    SEQADJ_S2C_OPTION(11)
    nat_source(hdr, vip_addr, vip_port, sum);
    hdr.tcp.checksum = csum_close(sum);
}

#endif
