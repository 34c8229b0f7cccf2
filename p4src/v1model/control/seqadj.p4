/*
 * D9: splicing the two halves of a proxied connection. The client was given
 * seq = cookie; the server chose rs_isn; delta = rs_isn - cookie (kept per session).
 *   client -> server: ack += delta, every SACK edge += delta, TSecr -= tsoff
 *   server -> client: seq -= delta, TSval += tsoff
 * All modulo 2^32 (bit<32> arithmetic wraps). The TCP checksum is patched for every
 * word changed, the address/port NAT included (the pseudo-header covers addresses:
 * IPv4's, or IPv6's eight words each, D13; the lengths do not change).
 *
 * One control applied from one place (the caller picks the direction): a function
 * taking the headers would copy all of them per call, in p4c's output.
 */
#ifndef SYNPROXY_CONTROL_SEQADJ_P4
#define SYNPROXY_CONTROL_SEQADJ_P4

/* What Seqadj does (`mode`). */
const bit<8> SEQADJ_NONE = 0;
const bit<8> SEQADJ_C2S = 1;        /* client -> server: sequence space and NAT */
const bit<8> SEQADJ_C2S_NAT = 2;    /* client -> server, NAT only (the server SYN) */
const bit<8> SEQADJ_S2C = 3;        /* server -> client: sequence space and NAT */

/* The two offsets a translation adds (d: to sequence numbers, t: to timestamps),
 * each with its complement and its two 16-bit words summed, for SEQ_ADD. A header,
 * made valid again once filled: p4c then reads the fields where they are used
 * rather than copying the expressions that computed them into every use. */
header seqadj_terms_t {
    bit<32> d;
    bit<32> d_not;
    bit<32> d_sum;
    bit<32> d_sum2;   /* d_sum times 2, 4, 6, 8: the edges of a SACK of 1..4 blocks */
    bit<32> d_sum4;
    bit<32> d_sum6;
    bit<32> d_sum8;
    bit<32> t;
    bit<32> t_not;
    bit<32> t_sum;
}

/* field += x (x is d or t of the terms `k`), with the checksum sum `sum` (csum_open
 * .. csum_close) following. The sum is kept modulo 0xffff (ones' complement), where a
 * 32-bit value is congruent to the sum of its two words (2^16 = 1). So the words of
 * the new value minus those of the old are congruent to new - old = x - carry * 2^32
 * = x - carry: the change enters the sum as x_sum, less one when the addition wraps
 * (when the old value is above ~x; x is then nonzero, and so is x_sum: no borrow).
 * The folded checksum is the one the old words' complements and the new words would
 * give (same residue; csum_close maps every nonzero sum to its one representative in
 * 1..0xffff, and the NAT's terms keep the sum nonzero). Two small primitives per
 * field in p4c's output. The sum is updated before the field is written: p4c's copy
 * propagation then stops at every field (the sum's expression reads it), where it
 * would otherwise carry the whole chain of the sum's updates into each one. */
#define SEQ_ADD(field, x) \
    sum = sum + k.x##_sum - (bit<32>)(bit<1>)(field > k.x##_not); \
    field = field + k.x;

/* The edges of a SACK of n blocks (s is its header): the sum takes the 2n terms at
 * once (the edges' carries read before any edge is written), then the edges move. */
#define SACK_CARRY(f) (bit<32>)(bit<1>)(f > k.d_not)
#define SACK_MOVE1(s) s.left0 = s.left0 + k.d; s.right0 = s.right0 + k.d;
#define SACK_MOVE2(s) SACK_MOVE1(s) s.left1 = s.left1 + k.d; s.right1 = s.right1 + k.d;
#define SACK_MOVE3(s) SACK_MOVE2(s) s.left2 = s.left2 + k.d; s.right2 = s.right2 + k.d;
#define SACK_MOVE4(s) SACK_MOVE3(s) s.left3 = s.left3 + k.d; s.right3 = s.right3 + k.d;
#define SACK_CARRIES_BLOCK(s, n) (SACK_CARRY(s.left##n) + SACK_CARRY(s.right##n))
#define SACK_CARRIES1(s) SACK_CARRIES_BLOCK(s, 0)
#define SACK_CARRIES2(s) (SACK_CARRIES_BLOCK(s, 0) + SACK_CARRIES_BLOCK(s, 1))
#define SACK_CARRIES3(s) (SACK_CARRIES2(s) + SACK_CARRIES_BLOCK(s, 2))
#define SACK_CARRIES4(s) \
    (SACK_CARRIES2(s) + (SACK_CARRIES_BLOCK(s, 2) + SACK_CARRIES_BLOCK(s, 3)))
#define SACK_EDGES1(s) sum = sum + k.d_sum2 - (SACK_CARRIES1(s)); SACK_MOVE1(s)
#define SACK_EDGES2(s) sum = sum + k.d_sum4 - (SACK_CARRIES2(s)); SACK_MOVE2(s)
#define SACK_EDGES3(s) sum = sum + k.d_sum6 - (SACK_CARRIES3(s)); SACK_MOVE3(s)
#define SACK_EDGES4(s) sum = sum + k.d_sum8 - (SACK_CARRIES4(s)); SACK_MOVE4(s)

/* Client -> server, option i: TSecr back to the server's clock (tsoff is subtracted
 * by adding its negation); SACK edges into the server's sequence space. A SACK of
 * four blocks (34 bytes) fits the 40 option bytes only in slots 0..6 (each slot
 * before it holds at least one byte), so later slots look for one to three. */
#define SEQADJ_C2S_TS(i) \
    if (hdr.tcp_options[i].timestamp.isValid()) { \
        SEQ_ADD(hdr.tcp_options[i].timestamp.tsecr, t) \
    }
#define SEQADJ_C2S_SACK3(i) \
    if (hdr.tcp_options[i].sack1.isValid()) { \
        SACK_EDGES1(hdr.tcp_options[i].sack1) \
    } else if (hdr.tcp_options[i].sack2.isValid()) { \
        SACK_EDGES2(hdr.tcp_options[i].sack2) \
    } else if (hdr.tcp_options[i].sack3.isValid()) { \
        SACK_EDGES3(hdr.tcp_options[i].sack3) \
    }
#define SEQADJ_C2S_SACK4(i) \
    SEQADJ_C2S_SACK3(i) \
    else if (hdr.tcp_options[i].sack4.isValid()) { \
        SACK_EDGES4(hdr.tcp_options[i].sack4) \
    }

/* Server -> client, option i: TSval to the clock the client saw in our SYN/ACK. The
 * server's SACK blocks are in the client's own sequence space already. */
#define SEQADJ_S2C_OPTION(i) \
    if (hdr.tcp_options[i].timestamp.isValid()) { \
        SEQ_ADD(hdr.tcp_options[i].timestamp.tsval, t) \
    }

/*
 * SEQADJ_C2S: ack += delta, SACK edges += delta, TSecr -= tsoff, then the NAT of the
 * destination VIP:vport -> addr:port (in transparent mode the controller gives the
 * VIP itself and nothing changes). SEQADJ_C2S_NAT: the NAT only (the server SYN,
 * sent before delta exists).
 * SEQADJ_S2C: seq -= delta (adding its negation), TSval += tsoff, the window
 * rescaled from the server's scale to the client's, then the NAT of the source
 * RS:rport -> addr:port.
 */
control Seqadj(inout headers_t hdr, in bit<8> mode, in bit<32> delta, in bit<32> tsoff,
               in bit<8> server_shift, in bit<8> client_shift,
               in ipv4_addr_t addr, in ipv6_addr_t addr6, in l4_port_t port,
               in bool has_timestamp, in bool has_sack) {
    apply {
        if (mode != SEQADJ_NONE) {
            bit<32> sum = csum_open(hdr.tcp.checksum);
            seqadj_terms_t k;
            k.setValid();
            if (mode == SEQADJ_S2C) {
                k.d = 0 - delta;
                k.t = tsoff;
            } else {
                k.d = delta;
                k.t = 0 - tsoff;
            }
            k.d_not = ~k.d;
            k.d_sum = (bit<32>)k.d[31:16] + (bit<32>)k.d[15:0];
            k.d_sum2 = k.d_sum << 1;
            k.d_sum4 = k.d_sum << 2;
            k.d_sum6 = k.d_sum2 + k.d_sum4;
            k.d_sum8 = k.d_sum << 3;
            k.t_not = ~k.t;
            k.t_sum = (bit<32>)k.t[31:16] + (bit<32>)k.t[15:0];
            k.setValid();
            if (mode == SEQADJ_S2C) {
                SEQ_ADD(hdr.tcp.seq_no, d)
                /* The client reads the server's windows with the scale our SYN/ACK
                 * offered (client_shift); the server wrote them with the scale of its
                 * own SYN/ACK (server_shift). When the two differ, rescale: window *
                 * 2^server / 2^client, saturated at 16 bits. */
                if (server_shift != client_shift) {
                    bit<16> old_window = hdr.tcp.window;
                    bit<32> scaled = (((bit<32>)old_window) << server_shift) >> client_shift;
                    if (scaled > 0xffff) {
                        hdr.tcp.window = 0xffff;
                    } else {
                        hdr.tcp.window = scaled[15:0];
                    }
                    sum = sum + csum_diff16(old_window, hdr.tcp.window);
                }
                if (has_timestamp) {
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
                }
                if (hdr.ipv6.isValid()) {
                    sum = sum + csum_diff128(hdr.ipv6.src_addr, addr6)
                          + csum_diff16(hdr.tcp.src_port, port);
                    hdr.ipv6.src_addr = addr6;
                } else {
                    sum = sum + csum_diff32(hdr.ipv4.src_addr, addr)
                          + csum_diff16(hdr.tcp.src_port, port);
                    hdr.ipv4.src_addr = addr;
                }
                hdr.tcp.src_port = port;
            } else {
                if (mode == SEQADJ_C2S) {
                    SEQ_ADD(hdr.tcp.ack_no, d)
                    if (has_timestamp) {
                        SEQADJ_C2S_TS(0)
                        SEQADJ_C2S_TS(1)
                        SEQADJ_C2S_TS(2)
                        SEQADJ_C2S_TS(3)
                        SEQADJ_C2S_TS(4)
                        SEQADJ_C2S_TS(5)
                        SEQADJ_C2S_TS(6)
                        SEQADJ_C2S_TS(7)
                        SEQADJ_C2S_TS(8)
                        SEQADJ_C2S_TS(9)
                        SEQADJ_C2S_TS(10)
                        SEQADJ_C2S_TS(11)
                    }
                    if (has_sack) {
                        SEQADJ_C2S_SACK4(0)
                        SEQADJ_C2S_SACK4(1)
                        SEQADJ_C2S_SACK4(2)
                        SEQADJ_C2S_SACK4(3)
                        SEQADJ_C2S_SACK4(4)
                        SEQADJ_C2S_SACK4(5)
                        SEQADJ_C2S_SACK4(6)
                        SEQADJ_C2S_SACK3(7)
                        SEQADJ_C2S_SACK3(8)
                        SEQADJ_C2S_SACK3(9)
                        SEQADJ_C2S_SACK3(10)
                        SEQADJ_C2S_SACK3(11)
                    }
                }
                if (hdr.ipv6.isValid()) {
                    sum = sum + csum_diff128(hdr.ipv6.dst_addr, addr6)
                          + csum_diff16(hdr.tcp.dst_port, port);
                    hdr.ipv6.dst_addr = addr6;
                } else {
                    sum = sum + csum_diff32(hdr.ipv4.dst_addr, addr)
                          + csum_diff16(hdr.tcp.dst_port, port);
                    hdr.ipv4.dst_addr = addr;
                }
                hdr.tcp.dst_port = port;
            }
            hdr.tcp.checksum = csum_close(sum);
        }
    }
}

#endif
