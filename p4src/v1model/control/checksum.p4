/*
 * TCP checksum helpers. Translated segments are patched incrementally (RFC 1624), so
 * the payload never has to be summed and a checksum that was wrong stays wrong;
 * segments the switch builds from scratch carry no payload and get a full sum.
 * Plain add/shift arithmetic: it runs on any target.
 */
#ifndef SYNPROXY_CONTROL_CHECKSUM_P4
#define SYNPROXY_CONTROL_CHECKSUM_P4

/* Fold a 32-bit sum of 16-bit words into a 16-bit ones' complement sum. Two folds
 * suffice: after the first the value is at most 0x1fffe. */
bit<16> csum_fold(in bit<32> sum) {
    bit<32> s = (bit<32>)sum[15:0] + (bit<32>)sum[31:16];
    s = (bit<32>)s[15:0] + (bit<32>)s[31:16];
    return s[15:0];
}

/* RFC 1624 eqn. 3: when a 16-bit word m of the checksummed data becomes m', the
 * checksum HC becomes ~(~HC + ~m + m'). A segment changes several words: the caller
 * starts a 32-bit sum at ~HC (csum_open), adds ~m + m' for each change (csum_diff16,
 * csum_diff32) and folds once at the end (csum_close). Folding after every change
 * gives the same checksum (ones' complement addition is associative; the sum stays
 * far below 2^32), but the nested folds would make p4c's copy propagation build
 * expressions that grow fourfold per change. */
bit<32> csum_open(in bit<16> csum) {
    return (bit<32>)(~csum);
}

bit<32> csum_diff16(in bit<16> old_value, in bit<16> new_value) {
    return (bit<32>)(~old_value) + (bit<32>)new_value;
}

/* The same for a 32-bit field: two 16-bit words. */
bit<32> csum_diff32(in bit<32> old_value, in bit<32> new_value) {
    return (bit<32>)(~old_value[31:16]) + (bit<32>)(~old_value[15:0])
           + (bit<32>)new_value[31:16] + (bit<32>)new_value[15:0];
}

/* The same for a 128-bit field (an IPv6 address): eight words, a balanced sum. */
bit<32> csum_diff128(in bit<128> old_value, in bit<128> new_value) {
    return (csum_diff32(old_value[127:96], new_value[127:96])
            + csum_diff32(old_value[95:64], new_value[95:64]))
           + (csum_diff32(old_value[63:32], new_value[63:32])
              + csum_diff32(old_value[31:0], new_value[31:0]));
}

bit<16> csum_close(in bit<32> sum) {
    return ~csum_fold(sum);
}

/* The running sum of TCP_CHECKSUM_FRESH: a header, made valid again after the first
 * terms, so that p4c reads the field rather than copying those terms' expression
 * into the later additions. */
header csum_acc_t {
    bit<32> sum;
}

/* Full checksum of a segment the switch built, in h.tcp.checksum: pseudo-header (IPv4
 * or IPv6), the 20-byte header and the generated options h.gen_* (no parsed options, no payload:
 * both were removed). The checksum field itself counts as zero. At most 42 words: no
 * overflow in 32 bits. The terms are added as a balanced tree (the same sum: addition
 * modulo 2^32 is associative): p4c's JSON nests a chain of additions one level per
 * term, and its indentation grows with the depth. A macro over the headers rather
 * than a function: a function copies each header argument per call (SegmentReply,
 * its one user, is in reply.p4). */
#define CSUM_WORDS32(f) ((bit<32>)(f)[31:16] + (bit<32>)(f)[15:0])
#define CSUM_WORDS128(f) ((CSUM_WORDS32((f)[127:96]) + CSUM_WORDS32((f)[95:64])) \
                          + (CSUM_WORDS32((f)[63:32]) + CSUM_WORDS32((f)[31:0])))
/* The pseudo-header's addresses are IPv6's when that header is valid (D13; the
 * upper-layer length and Next Header enter as IPv4's length and protocol do). */
#define TCP_CHECKSUM_FRESH(h, tcp_len) \
    csum_acc_t fresh; \
    fresh.setValid(); \
    if (h.ipv6.isValid()) { \
        fresh.sum = CSUM_WORDS128(h.ipv6.src_addr) + CSUM_WORDS128(h.ipv6.dst_addr); \
    } else { \
        fresh.sum = CSUM_WORDS32(h.ipv4.src_addr) + CSUM_WORDS32(h.ipv4.dst_addr); \
    } \
    fresh.setValid(); \
    fresh.sum = (fresh.sum \
                         + (((bit<32>)IP_PROTO_TCP + (bit<32>)(tcp_len)) \
                            + ((bit<32>)h.tcp.src_port + (bit<32>)h.tcp.dst_port))) \
        + ((CSUM_WORDS32(h.tcp.seq_no) + CSUM_WORDS32(h.tcp.ack_no)) \
           + ((bit<32>)(h.tcp.data_offset ++ h.tcp.res ++ h.tcp.flags) \
              + ((bit<32>)h.tcp.window + (bit<32>)h.tcp.urgent_ptr))); \
    fresh.setValid(); \
    if (h.gen_mss.isValid()) { \
        fresh.sum = fresh.sum + (bit<32>)(h.gen_mss.kind ++ h.gen_mss.len) \
                    + (bit<32>)h.gen_mss.mss; \
    } \
    if (h.gen_wscale.isValid()) { \
        fresh.sum = fresh.sum + (bit<32>)(h.gen_wscale.nop ++ h.gen_wscale.kind) \
                    + (bit<32>)(h.gen_wscale.len ++ h.gen_wscale.shift); \
    } \
    if (h.gen_sack_perm.isValid()) { \
        fresh.sum = fresh.sum + (bit<32>)h.gen_sack_perm.nops \
                    + (bit<32>)(h.gen_sack_perm.kind ++ h.gen_sack_perm.len); \
    } \
    if (h.gen_timestamp.isValid()) { \
        fresh.sum = fresh.sum + (((bit<32>)h.gen_timestamp.prefix \
                                  + (bit<32>)(h.gen_timestamp.kind ++ h.gen_timestamp.len)) \
                                 + (CSUM_WORDS32(h.gen_timestamp.tsval) \
                                    + CSUM_WORDS32(h.gen_timestamp.tsecr))); \
    } \
    h.tcp.checksum = ~csum_fold(fresh.sum);

#endif
