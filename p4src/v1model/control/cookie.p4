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
 * IPv6 (D13): the addresses enter in full, no fold, eleven words: the client's four
 * 32-bit words (most significant first), the VIP's four, then m2, m3, m4 as above;
 * the MSS index stands for COOKIE_MSS6_* (the IPv6 header is 20 bytes longer).
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

/* The IPv6 flow's mss_index: the largest COOKIE_MSS6_* not above the client's MSS
 * (none: 1220, what the IPv6 minimum MTU leaves). */
bit<2> cookie_mss_index6(in tcp_opt_info_t opt) {
    bit<2> mss_index = 0;
    if (opt.has_mss) {
        if (opt.mss >= COOKIE_MSS6_3) {
            mss_index = 3;
        } else if (opt.mss >= COOKIE_MSS6_2) {
            mss_index = 2;
        } else if (opt.mss >= COOKIE_MSS6_1) {
            mss_index = 1;
        }
    }
    return mss_index;
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

/* The same for an IPv6 flow's cookie. */
bit<16> cookie_decode_mss6(in bit<2> mss_index) {
    bit<16> mss = COOKIE_MSS6_0;
    if (mss_index == 3) {
        mss = COOKIE_MSS6_3;
    } else if (mss_index == 2) {
        mss = COOKIE_MSS6_2;
    } else if (mss_index == 1) {
        mss = COOKIE_MSS6_1;
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
 * Without keys nothing is valid (a SYN is then not answered: proxy.p4).
 * The family is the segment's: IPv6 (ip6 valid) absorbs six more words, under an
 * `if`, so the IPv4 message and its cookies are what they always were. */
control CookieMac(in ipv4_t ip, in ipv6_t ip6, in tcp_t tcp, in local_metadata_t meta,
                  in bool mint, in bit<32> isn, out bit<32> cookie, out bool valid) {
    apply {
        bool v6 = ip6.isValid();
        bit<32> k0 = meta.key0;
        bit<32> k1 = meta.key1;
        bit<32> epoch = meta.epoch;
        bit<32> seen = tcp.ack_no - 1;
        bit<32> msg_isn = isn;
        bit<8> opts = seen[7:0];
        if (mint) {
            msg_isn = tcp.seq_no;
            opts = cookie_encode_options(meta.opt, meta.svc_flags);
            if (v6) {
                opts[7:6] = cookie_mss_index6(meta.opt);
            }
        } else if (seen[8:8] != meta.epoch[0:0]) {
            k0 = meta.prev_key0;
            k1 = meta.prev_key1;
            epoch = meta.prev_epoch;
        }
        /* The two words before the ports: the IPv4 addresses, or the low half of
         * the IPv6 VIP (its other words and the client's go in first). */
        bit<32> m_a = ip.src_addr;
        bit<32> m_b = ip.dst_addr;
        bit<32> len_word = HSIP_COOKIE_LEN_WORD;
        if (v6) {
            m_a = ip6.dst_addr[63:32];
            m_b = ip6.dst_addr[31:0];
            len_word = HSIP_COOKIE6_LEN_WORD;
        }
        hsip_state_h s;
        s.setValid();
        s.v0 = k0;
        s.v1 = k1;
        s.v2 = k0 ^ HSIP_IV2;
        s.v3 = k1 ^ HSIP_IV3;
        if (v6) {
            HSIP_COMPRESS(s, ip6.src_addr[127:96])
            HSIP_COMPRESS(s, ip6.src_addr[95:64])
            HSIP_COMPRESS(s, ip6.src_addr[63:32])
            HSIP_COMPRESS(s, ip6.src_addr[31:0])
            HSIP_COMPRESS(s, ip6.dst_addr[127:96])
            HSIP_COMPRESS(s, ip6.dst_addr[95:64])
        }
        HSIP_COMPRESS(s, m_a)
        HSIP_COMPRESS(s, m_b)
        HSIP_COMPRESS(s, tcp.src_port ++ tcp.dst_port)
        HSIP_COMPRESS(s, msg_isn)
        HSIP_COMPRESS(s, epoch[23:0] ++ opts)
        /* Final block: no tail bytes, only the message length in the top byte. */
        HSIP_COMPRESS(s, len_word)
        s.v2 = s.v2 ^ HSIP_FINAL_XOR;
        HSIP_ROUND(s)
        HSIP_ROUND(s)
        HSIP_ROUND(s)
        HSIP_ROUND(s)
        bit<32> mac = s.v1 ^ s.v3;
        cookie = (mac & COOKIE_MAC_MASK) | ((bit<32>)epoch[0:0] << 8) | (bit<32>)opts;
        valid = meta.keys_set && !mint && cookie == seen;
    }
}

#endif
