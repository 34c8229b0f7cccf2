/*
 * D3, D5 on TNA: the cookie's HalfSipHash-2-4 spread over four ingress passes.
 *
 * The MAC (v1model's control/cookie.p4, controller/cookie.py) is 6 compressions of
 * 2 SipRounds and 4 final rounds: 16 rounds of 14 dependent 32-bit operations each
 * (add, rotate, xor). One Tofino pass cannot hold them, so the state (v0..v3)
 * travels in the cookie pass header and the packet goes round through the
 * recirculation port. Each pass runs 4 rounds:
 *
 *   pass 0  init from the key (k0, k1, IVs), compress m0 (client address), m1 (VIP)
 *   pass 1  compress m2 (ports), m3 (ISN)
 *   pass 2  compress m4 (epoch[23:0] ++ OPTS, carried), the length word; v2 ^= 0xff
 *   pass 3  the 4 final rounds: MAC = v1 ^ v3; the SYN/ACK or the ACK's verdict
 *
 * So a SYN costs 4 ingress passes (3 recirculations), and a cookie ACK too. The
 * key enters in pass 0 only, so a key rotation between passes cannot mix keys;
 * the service's settings are carried with it (the tables are looked up once).
 * Whether 4 rounds fit one pass is for bf-p4c to say (p4src/README.md).
 */
#ifndef SYNPROXY_TNA_CONTROL_COOKIE_P4
#define SYNPROXY_TNA_CONTROL_COOKIE_P4

/* The last pass of the cookie; the packet runs passes 0..COOKIE_LAST_PASS. */
const bit<8> COOKIE_LAST_PASS = 3;

/* One pass of the schedule above on the state in `p` (p.pass says which). The
 * words m0..m3 are the packet's own (unchanged between passes), m4 is p.m4.
 * `mac` is the MAC after the last pass, else meaningless. */
control CookieRounds(inout cookie_pass_t p, in bit<32> m0, in bit<32> m1,
                     in bit<32> m2, in bit<32> m3, out bit<32> mac) {
    apply {
        hsip_state_h s;
        s.setValid();
        s.v0 = p.v0;
        s.v1 = p.v1;
        s.v2 = p.v2;
        s.v3 = p.v3;
        if (p.pass == 0) {
            hsip_compress(s, m0);
            hsip_compress(s, m1);
        } else if (p.pass == 1) {
            hsip_compress(s, m2);
            hsip_compress(s, m3);
        } else if (p.pass == 2) {
            hsip_compress(s, p.m4);
            hsip_compress(s, HSIP_COOKIE_LEN_WORD);
            s.v2 = s.v2 ^ HSIP_FINAL_XOR;
        } else {
            hsip_step(s);
            hsip_step(s);
            hsip_step(s);
            hsip_step(s);
        }
        p.v0 = s.v0;
        p.v1 = s.v1;
        p.v2 = s.v2;
        p.v3 = s.v3;
        mac = s.v1 ^ s.v3;
    }
}

/* Pass 0: the state from the key, and the words the key goes with. */
void cookie_pass_start(inout cookie_pass_t p, in PortId_t ingress_port,
                       in bit<32> k0, in bit<32> k1, in bit<32> epoch, in bit<8> opts) {
    p.setValid();
    p.pass = 0;
    p.controller_down = 0;
    p.pending_hit = 0;
    p.isn = 0;
    p.reuse = 0;
    p.slot = 0;
    p.state = 0;
    p.gen = 0;
    p.delta = 0;
    p.tsoff = 0;
    p.nat_addr = 0;
    p.nat_port = 0;
    p._pad0 = 0;
    p.ingress_port = ingress_port;
    p.m4 = epoch[23:0] ++ opts;
    p.v0 = k0;
    p.v1 = k1;
    p.v2 = k0 ^ HSIP_IV2;
    p.v3 = k1 ^ HSIP_IV3;
}

/* The cookie a MAC makes with the m4 it was computed over: MAC bits, E, OPTS. */
bit<32> cookie_from_mac(in bit<32> mac, in bit<32> m4) {
    return (mac & COOKIE_MAC_MASK) | (m4 & (COOKIE_EPOCH_BIT | COOKIE_OPTS_MASK));
}

#endif
