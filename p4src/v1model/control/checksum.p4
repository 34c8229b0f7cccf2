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

bit<16> csum_close(in bit<32> sum) {
    return ~csum_fold(sum);
}

/* Full checksum of a segment the switch built: pseudo-header, the 20-byte header and
 * the generated options (no parsed options, no payload: both were removed). The
 * checksum field itself counts as zero. At most 30 words: no overflow in 32 bits. */
void tcp_checksum_fresh(in ipv4_t ip, inout tcp_t tcp,
                        in gen_mss_t mss, in gen_wscale_t wscale,
                        in gen_sack_perm_t sack_perm, in gen_timestamp_t ts,
                        in bit<16> tcp_len) {
    bit<32> sum = (bit<32>)ip.src_addr[31:16] + (bit<32>)ip.src_addr[15:0]
                + (bit<32>)ip.dst_addr[31:16] + (bit<32>)ip.dst_addr[15:0]
                + (bit<32>)IP_PROTO_TCP + (bit<32>)tcp_len
                + (bit<32>)tcp.src_port + (bit<32>)tcp.dst_port
                + (bit<32>)tcp.seq_no[31:16] + (bit<32>)tcp.seq_no[15:0]
                + (bit<32>)tcp.ack_no[31:16] + (bit<32>)tcp.ack_no[15:0]
                + (bit<32>)(tcp.data_offset ++ tcp.res ++ tcp.flags)
                + (bit<32>)tcp.window + (bit<32>)tcp.urgent_ptr;
    if (mss.isValid()) {
        sum = sum + (bit<32>)(mss.kind ++ mss.len) + (bit<32>)mss.mss;
    }
    if (wscale.isValid()) {
        sum = sum + (bit<32>)(wscale.nop ++ wscale.kind) + (bit<32>)(wscale.len ++ wscale.shift);
    }
    if (sack_perm.isValid()) {
        sum = sum + (bit<32>)sack_perm.nops + (bit<32>)(sack_perm.kind ++ sack_perm.len);
    }
    if (ts.isValid()) {
        sum = sum + (bit<32>)ts.prefix + (bit<32>)(ts.kind ++ ts.len)
                  + (bit<32>)ts.tsval[31:16] + (bit<32>)ts.tsval[15:0]
                  + (bit<32>)ts.tsecr[31:16] + (bit<32>)ts.tsecr[15:0];
    }
    tcp.checksum = ~csum_fold(sum);
}

#endif
