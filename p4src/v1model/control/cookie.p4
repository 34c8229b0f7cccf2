/*
 * SYN cookies (D3, D4): HalfSipHash-2-4 keyed by a 64-bit key from the controller.
 * controller/cookie.py is the Python reference of everything here; the layout:
 *
 *   cookie (32) = MAC[31:9] ++ E ++ OPTS[7:0]      E = epoch[0]
 *   OPTS   (8)  = mss_index(2) ++ wscale(4) ++ sack_ok(1) ++ ts_ok(1)
 *   MAC    (32) = HalfSipHash-2-4(k0, k1; m0..m4)
 *                 m0 = client address   m1 = VIP address   m2 = client port ++ VIP port
 *                 m3 = client ISN       m4 = epoch[23:0] ++ OPTS
 *
 * OPTS is in the clear (the ACK brings it back in ack - 1) but is also MAC input, so
 * changing it breaks the MAC. The current and the previous (key, epoch) are accepted;
 * their epochs differ in the low bit, and E names the one that minted the cookie, so
 * a check is one hash even under an ACK flood. A blind guess must match 23 MAC bits:
 * probability 2^-23 <= 2^-22.
 * A keyed PRF, not a CRC: a CRC is affine, so one cookie would reveal all others.
 */
#ifndef SYNPROXY_CONTROL_COOKIE_P4
#define SYNPROXY_CONTROL_COOKIE_P4

/* The hash state. A header rather than four variables only for HSIP_ROUND's
 * setValid() below. */
header hsip_state_h {
    bit<32> v0;
    bit<32> v1;
    bit<32> v2;
    bit<32> v3;
}

/* One SipRound on the state `s` (a hsip_state_h). Each rotation is a pair of shifts;
 * the amounts (5, 16, 8, 7, 13, 16) are HalfSipHash's. It ends with setValid() of the
 * state, which is valid already: no value changes, but p4c's copy propagation forgets
 * the fields there. Without it p4c substitutes each round into the next; every word
 * is used more than once per round, so the expressions grow exponentially and
 * p4c-bm2-ss never finishes (p4lang/p4c#2316). Macros, not functions: a function
 * copies its header argument in and out per call, and p4c makes each copy a header
 * instance of its own (the MAC has 16 rounds). */
#define HSIP_ROUND(s) \
    s.v0 = s.v0 + s.v1; \
    s.v1 = (s.v1 << 5) | (s.v1 >> 27); \
    s.v1 = s.v1 ^ s.v0; \
    s.v0 = (s.v0 << 16) | (s.v0 >> 16); \
    s.v2 = s.v2 + s.v3; \
    s.v3 = (s.v3 << 8) | (s.v3 >> 24); \
    s.v3 = s.v3 ^ s.v2; \
    s.v0 = s.v0 + s.v3; \
    s.v3 = (s.v3 << 7) | (s.v3 >> 25); \
    s.v3 = s.v3 ^ s.v0; \
    s.v2 = s.v2 + s.v1; \
    s.v1 = (s.v1 << 13) | (s.v1 >> 19); \
    s.v1 = s.v1 ^ s.v2; \
    s.v2 = (s.v2 << 16) | (s.v2 >> 16); \
    s.setValid();

/* Absorb one message word `m` with c = 2 rounds. */
#define HSIP_COMPRESS(s, m) \
    s.v3 = s.v3 ^ (m); \
    HSIP_ROUND(s) \
    HSIP_ROUND(s) \
    s.v0 = s.v0 ^ (m);

/* The same as functions, for the TNA program's cookie passes (tna/control/cookie.p4),
 * which absorb a word or two per pass. */
void hsip_step(inout hsip_state_h s) {
    HSIP_ROUND(s)
}

void hsip_compress(inout hsip_state_h s, in bit<32> m) {
    HSIP_COMPRESS(s, m)
}

/* HalfSipHash-2-4, 32-bit output, over five words (20 bytes). The words are the
 * little-endian reading of the byte string the reference implementation hashes. */
bit<32> halfsiphash24_5w(in bit<32> k0, in bit<32> k1,
                         in bit<32> m0, in bit<32> m1, in bit<32> m2,
                         in bit<32> m3, in bit<32> m4) {
    hsip_state_h s;
    s.setValid();
    s.v0 = k0;
    s.v1 = k1;
    s.v2 = k0 ^ HSIP_IV2;
    s.v3 = k1 ^ HSIP_IV3;
    HSIP_COMPRESS(s, m0)
    HSIP_COMPRESS(s, m1)
    HSIP_COMPRESS(s, m2)
    HSIP_COMPRESS(s, m3)
    HSIP_COMPRESS(s, m4)
    /* Final block: no tail bytes, only the message length in the top byte. */
    HSIP_COMPRESS(s, HSIP_COOKIE_LEN_WORD)
    s.v2 = s.v2 ^ HSIP_FINAL_XOR;
    HSIP_ROUND(s)
    HSIP_ROUND(s)
    HSIP_ROUND(s)
    HSIP_ROUND(s)
    return s.v1 ^ s.v3;
}

/* The cookie for a flow: MAC bits from the hash, the epoch's low bit, OPTS. */
bit<32> cookie_make(in bit<32> k0, in bit<32> k1, in bit<32> epoch,
                    in ipv4_addr_t saddr, in ipv4_addr_t daddr,
                    in l4_port_t sport, in l4_port_t dport,
                    in bit<32> isn, in bit<8> opts) {
    bit<32> mac = halfsiphash24_5w(k0, k1, saddr, daddr, sport ++ dport, isn, epoch[23:0] ++ opts);
    return (mac & COOKIE_MAC_MASK) | ((bit<32>)epoch[0:0] << 8) | (bit<32>)opts;
}

/* OPTS for a SYN: the options both the client sent and the service offers, i.e.
 * what our SYN/ACK negotiates and the server SYN must repeat. */
bit<8> cookie_encode_options(in tcp_opt_info_t opt, in bit<8> svc_flags) {
    /* Largest table MSS not above the client's; no MSS option means 536. */
    bit<2> mss_index = 0;
    if (opt.has_mss) {
        if (opt.mss >= COOKIE_MSS_3) {
            mss_index = 3;
        } else if (opt.mss >= COOKIE_MSS_2) {
            mss_index = 2;
        } else if (opt.mss >= COOKIE_MSS_1) {
            mss_index = 1;
        }
    }
    bit<4> wscale = COOKIE_WSCALE_NONE;
    if (opt.has_wscale && (svc_flags & SVC_FLAG_WSCALE) != 0) {
        if (opt.wscale > TCP_WSCALE_MAX) {
            wscale = (bit<4>)TCP_WSCALE_MAX;
        } else {
            wscale = opt.wscale[3:0];
        }
    }
    bit<1> sack_ok = 0;
    if (opt.sack_perm && (svc_flags & SVC_FLAG_SACK) != 0) {
        sack_ok = 1;
    }
    bit<1> ts_ok = 0;
    if (opt.has_timestamp && (svc_flags & SVC_FLAG_TS) != 0) {
        ts_ok = 1;
    }
    return mss_index ++ wscale ++ sack_ok ++ ts_ok;
}

/* The MSS a 2-bit index stands for. */
bit<16> cookie_decode_mss(in bit<2> mss_index) {
    bit<16> mss = COOKIE_MSS_0;
    if (mss_index == 3) {
        mss = COOKIE_MSS_3;
    } else if (mss_index == 2) {
        mss = COOKIE_MSS_2;
    } else if (mss_index == 1) {
        mss = COOKIE_MSS_1;
    }
    return mss;
}

/* The key state: a keyless table whose default action the controller modifies, so
 * one write swaps key and epoch together (C7). Until the controller writes it, no
 * cookie is minted or accepted (a known key would make cookies forgeable). */
control CookieKeys(inout local_metadata_t meta) {

    @id(ID_ACTION_SET_COOKIE_KEYS)
    action set_cookie_keys(bit<32> key0, bit<32> key1, bit<32> epoch,
                           bit<32> prev_key0, bit<32> prev_key1, bit<32> prev_epoch) {
        meta.keys_set = true;
        meta.key0 = key0;
        meta.key1 = key1;
        meta.epoch = epoch;
        meta.prev_key0 = prev_key0;
        meta.prev_key1 = prev_key1;
        meta.prev_epoch = prev_epoch;
    }

    @id(ID_ACTION_UNSET_COOKIE_KEYS)
    action unset_cookie_keys() {
        meta.keys_set = false;
    }

    /* No direct counter: a keyless table has no entries to count. */
    @id(ID_TABLE_COOKIE_KEYS)
    table cookie_keys {
        actions = {
            @defaultonly set_cookie_keys;
            @defaultonly unset_cookie_keys;
        }
        default_action = unset_cookie_keys();
        size = 1;
    }

    apply {
        cookie_keys.apply();
    }
}

/* The one MAC of a segment (D3, D5): the compilers get the 16 rounds once.
 * mint: a SYN's cookie (D3), from the current key and epoch, isn = seq, OPTS from
 * its options and the service's flags; `valid` is false.
 * Else the check of an ACK (D5): is ack - 1 a cookie for this flow and `isn` (seq - 1,
 * or a pending entry's: proxy.p4), under the current or the previous (key, epoch)?
 * The cookie's E bit says which one to try; `cookie` is then the expected one.
 * Without keys nothing is valid (a SYN is then not answered: proxy.p4). */
control CookieMac(in ipv4_t ip, in tcp_t tcp, in local_metadata_t meta, in bool mint,
                  in bit<32> isn, out bit<32> cookie, out bool valid) {
    apply {
        bit<32> k0 = meta.key0;
        bit<32> k1 = meta.key1;
        bit<32> epoch = meta.epoch;
        bit<32> seen = tcp.ack_no - 1;
        bit<32> msg_isn = isn;
        bit<8> opts = seen[7:0];
        if (mint) {
            msg_isn = tcp.seq_no;
            opts = cookie_encode_options(meta.opt, meta.svc_flags);
        } else if (seen[8:8] != meta.epoch[0:0]) {
            k0 = meta.prev_key0;
            k1 = meta.prev_key1;
            epoch = meta.prev_epoch;
        }
        cookie = cookie_make(k0, k1, epoch, ip.src_addr, ip.dst_addr,
                             tcp.src_port, tcp.dst_port, msg_isn, opts);
        valid = meta.keys_set && !mint && cookie == seen;
    }
}

#endif
