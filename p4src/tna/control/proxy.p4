/*
 * The SYN proxy on TNA: what happens to a TCP segment given its service and its
 * session (v1model's control/proxy.p4 is the reference; p4src/README.md, "TNA",
 * says what is done here and what is not yet).
 *
 * A SYN to a protected service and an ACK that must carry a cookie run the four
 * cookie passes (cookie.p4) and are decided in the last one: SYN/ACK out of the
 * port the SYN came in on; valid cookie: digest (and PacketIn with data), else
 * dropped. Everything else is decided in pass 0.
 */
#ifndef SYNPROXY_TNA_CONTROL_PROXY_P4
#define SYNPROXY_TNA_CONTROL_PROXY_P4

/* Our TSval clock: the global timestamp (ns) in units of 2^20 ns (1.05 ms). */
bit<32> our_tsval_tna(in bit<48> global_tstamp) {
    return (bit<32>)(global_tstamp >> 20);
}

control SynProxy(inout tna_headers_t hdr, inout tna_ingress_metadata_t md,
                 in PortId_t ingress_port, in bit<16> parser_err, in bit<48> global_tstamp,
                 inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                 inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {

    /* D7: per-slot state. TNA reads and writes a register cell in one
     * RegisterAction per packet; the controller never touches them. */
    @id(ID_REGISTER_SESSION_GEN)
    Register<bit<32>, SlotId_t>(SESSIONS_SIZE, 0) session_gen;
    @id(ID_REGISTER_SESSION_STATE)
    Register<SessionState_t, SlotId_t>(SESSIONS_SIZE, SESSION_NONE) session_state;

    /* A hit entry whose gen the slot does not hold starts a new incarnation:
     * record the gen, report "fresh". */
    RegisterAction<bit<32>, SlotId_t, bool>(session_gen) session_gen_claim = {
        void apply(inout bit<32> value, out bool fresh) {
            fresh = value != md.m.gen;
            value = md.m.gen;
        }
    };
    /* The slot's state; a fresh slot starts in SYN_SENT. */
    RegisterAction<SessionState_t, SlotId_t, SessionState_t>(session_state) session_state_start = {
        void apply(inout SessionState_t value, out SessionState_t state) {
            value = SESSION_SYN_SENT;
            state = SESSION_SYN_SENT;
        }
    };
    RegisterAction<SessionState_t, SlotId_t, SessionState_t>(session_state) session_state_read = {
        void apply(inout SessionState_t value, out SessionState_t state) {
            state = value;
        }
    };

    /* C8: the flow filter's epoch, keyless (as v1model). The filter itself
     * (passthrough_* registers) is not on TNA yet: the epoch is read, not used. */
    @id(ID_ACTION_SET_PASSTHROUGH_EPOCH)
    action set_passthrough_epoch(bit<8> epoch) {
        md.m.passthrough_epoch = epoch;
    }

    @id(ID_TABLE_PASSTHROUGH_EPOCH)
    table passthrough_epoch {
        actions = {
            @defaultonly set_passthrough_epoch;
        }
        default_action = set_passthrough_epoch(1);
        size = 1;
    }

    CookieRounds() cookie_rounds;
    SegmentReply() reply;

    apply {
        bool first_pass = !hdr.cookie_pass.isValid();
        if (first_pass && md.m.svc_hit && md.m.proxy_mode == PROXY_MODE_AUTO) {
            passthrough_epoch.apply();
        }
        local_metadata_t meta = md.m;

        /* ---------------------------------------------------------- facts (D1) */
        bit<8> ctrl = 0;
        if (hdr.h.tcp.isValid()) {
            ctrl = hdr.h.tcp.flags & TCP_CTRL_MASK;
        }
        /* TNA's ingress has no packet length: lengths are checked against each
         * other only (v1model also checks them against the frame). */
        /* meta.malformed may be set already: by the parser's checks (parser.p4). */
        meta.malformed = meta.malformed || parser_err != 0 || meta.ip_bad_version;
        bit<16> ip_hdr_len = ((bit<16>)hdr.h.ipv4.ihl) << 2;
        if (hdr.h.ipv4.total_len < ip_hdr_len) {
            meta.malformed = true;
        } else {
            meta.ip_payload_len = hdr.h.ipv4.total_len - ip_hdr_len;
        }
        if (hdr.h.tcp.isValid() && !meta.malformed) {
            bit<16> tcp_hdr_len = ((bit<16>)hdr.h.tcp.data_offset) << 2;
            if (meta.ip_payload_len < tcp_hdr_len) {
                meta.malformed = true;
            } else {
                meta.has_payload = meta.ip_payload_len > tcp_hdr_len;
            }
        }

        if (first_pass) {
            /* ------------------------------------------------------ sources (D16) */
            bool refuse_martian = meta.svc_hit && !meta.from_cpu && meta.martian;
            bool refuse_group_mac = meta.svc_hit && !meta.from_cpu
                                    && mac_is_group(hdr.h.ethernet.src_addr);
            bool refuse_version = meta.ip_bad_version && !meta.from_cpu
                                  && (meta.svc_hit || meta.session_hit);
            bool refuse = refuse_martian || refuse_group_mac || refuse_version;

            /* ------------------------------------------------------ session (D7) */
            if (meta.session_hit && !refuse) {
                bool fresh = session_gen_claim.execute(meta.slot);
                if (fresh) {
                    meta.state = session_state_start.execute(meta.slot);
                } else {
                    meta.state = session_state_read.execute(meta.slot);
                }
            }
            bool in_session = meta.session_hit && meta.state != SESSION_NONE && !refuse;
            bool protect = !in_session && meta.svc_hit && !meta.svc_deny && meta.proxy_active
                           && hdr.h.tcp.isValid() && !meta.from_cpu && !refuse;

            if (refuse) {
                drop_packet_tna(ig_dprsr_md);
                if (refuse_version) {
                    meta.event = EV_DROP_MALFORMED;
                } else if (refuse_martian) {
                    meta.event = EV_DROP_MARTIAN;
                } else {
                    meta.event = EV_DROP_GROUP_MAC;
                }
                meta.done = true;
            } else if (protect && ctrl == TCP_SYN) {
                /* ------------------------------------------------ SYN (D3): pass 0 */
                meta.syn_in = true;
                if (meta.malformed) {
                    drop_packet_tna(ig_dprsr_md);
                    meta.event = EV_DROP_MALFORMED;
                } else if (!meta.keys_set) {
                    drop_packet_tna(ig_dprsr_md);
                    meta.event = EV_DROP_NO_KEY;
                } else if (meta.has_payload) {
                    /* TNA cannot cut the frame in ingress: a SYN with data would
                     * carry it into the SYN/ACK. Dropped (the client retries
                     * without; Fast Open is not proxied anyway). */
                    drop_packet_tna(ig_dprsr_md);
                    meta.event = EV_DROP_MALFORMED;
                } else {
                    bit<8> opts = cookie_encode_options(meta.opt, meta.svc_flags);
                    cookie_pass_start(hdr.cookie_pass, ingress_port,
                                      meta.key0, meta.key1, meta.epoch, opts);
                }
                meta.done = true;
            } else if (protect && ctrl == TCP_ACK && !meta.malformed) {
                /* ------------------------------------------------ ACK (D5): pass 0 */
                if (!meta.keys_set) {
                    drop_packet_tna(ig_dprsr_md);
                    meta.event = EV_ACK_INVALID;
                } else {
                    /* The cookie's E bit names the (key, epoch) that minted it. */
                    bit<32> cookie = hdr.h.tcp.ack_no - 1;
                    if (cookie[8:8] == meta.epoch[0:0]) {
                        cookie_pass_start(hdr.cookie_pass, ingress_port,
                                          meta.key0, meta.key1, meta.epoch, cookie[7:0]);
                    } else {
                        cookie_pass_start(hdr.cookie_pass, ingress_port,
                                          meta.prev_key0, meta.prev_key1, meta.prev_epoch,
                                          cookie[7:0]);
                    }
                }
                meta.done = true;
            } else if (protect) {
                /* RST, FIN, anything else without a session. */
                drop_packet_tna(ig_dprsr_md);
                meta.event = EV_DROP_NO_SESSION;
                meta.done = true;
            } else if (meta.svc_deny && !in_session) {
                drop_packet_tna(ig_dprsr_md);
                if (meta.is_fragment) {
                    meta.event = EV_DROP_FRAGMENT;
                } else if (hdr.h.udp.isValid()) {
                    meta.event = EV_DROP_UDP;
                } else {
                    meta.event = EV_DROP_POLICY;
                }
                meta.done = true;
            } else if (meta.svc_hit && !in_session && ctrl == TCP_SYN && !meta.from_cpu) {
                meta.syn_in = true;
                meta.event = EV_SYN_PASSED;   /* not defended: forwarded */
            }
            if (hdr.cookie_pass.isValid()) {
                hdr.cookie_pass.service_id = meta.service_id;
                hdr.cookie_pass.svc_flags = meta.svc_flags;
                hdr.cookie_pass.svc_mss = meta.svc_mss;
                hdr.cookie_pass.svc_wscale = meta.svc_wscale;
                hdr.cookie_pass.svc_window = meta.svc_window;
                hdr.cookie_pass.svc_ttl = meta.svc_ttl;
            }
        } else {
            /* A later pass: the service is the one pass 0 found. */
            meta.service_id = hdr.cookie_pass.service_id;
            meta.svc_flags = hdr.cookie_pass.svc_flags;
            meta.svc_mss = hdr.cookie_pass.svc_mss;
            meta.svc_wscale = hdr.cookie_pass.svc_wscale;
            meta.svc_window = hdr.cookie_pass.svc_window;
            meta.svc_ttl = hdr.cookie_pass.svc_ttl;
            meta.done = true;
        }

        /* ---------------------------------------------------------- cookie passes */
        if (hdr.cookie_pass.isValid()) {
            bool is_syn = ctrl == TCP_SYN;
            bit<32> isn = hdr.h.tcp.seq_no;
            if (!is_syn) {
                isn = hdr.h.tcp.seq_no - 1;
            }
            bit<32> mac;
            cookie_rounds.apply(hdr.cookie_pass, hdr.h.ipv4.src_addr, hdr.h.ipv4.dst_addr,
                                hdr.h.tcp.src_port ++ hdr.h.tcp.dst_port, isn, mac);
            if (hdr.cookie_pass.pass != COOKIE_LAST_PASS) {
                hdr.cookie_pass.pass = hdr.cookie_pass.pass + 1;
                ig_tm_md.ucast_egress_port = RECIRC_PORT_ID;
            } else {
                bit<32> cookie = cookie_from_mac(mac, hdr.cookie_pass.m4);
                bit<8> opts = hdr.cookie_pass.m4[7:0];
                PortId_t first_port = hdr.cookie_pass.ingress_port;
                if (is_syn) {
                    /* D3: the SYN becomes our SYN/ACK, back where it came from. */
                    bit<32> frame_len;
                    reply.apply(hdr.h, REPLY_SYNACK, 0, 0, cookie, opts, meta.svc_window,
                                meta.svc_wscale, meta.svc_mss, meta.svc_ttl, false,
                                our_tsval_tna(global_tstamp), meta.opt.tsval, frame_len);
                    md.tcp_fresh = true;
                    md.tcp_len = ((bit<16>)hdr.h.tcp.data_offset) << 2;
                    ig_tm_md.ucast_egress_port = first_port;
                    meta.event = EV_SYNACK_SENT;
                } else if (cookie != hdr.h.tcp.ack_no - 1) {
                    drop_packet_tna(ig_dprsr_md);
                    meta.event = EV_ACK_INVALID;
                } else if ((meta.svc_flags & SVC_FLAG_DEFER) != 0 && !meta.has_payload) {
                    drop_packet_tna(ig_dprsr_md);
                    meta.event = EV_DROP_DEFER;
                } else {
                    /* D5: the controller installs the session (C2). */
                    ig_dprsr_md.digest_type = DIGEST_TYPE_COOKIE_ACK;
                    md.ack.client_addr = hdr.h.ipv4.src_addr;
                    md.ack.vip_addr = hdr.h.ipv4.dst_addr;
                    md.ack.client_port = hdr.h.tcp.src_port;
                    md.ack.vip_port = hdr.h.tcp.dst_port;
                    md.ack.client_isn = isn;
                    md.ack.cookie = cookie;
                    md.ack.mss = cookie_decode_mss(cookie[7:6]);
                    md.ack.wscale = (bit<8>)cookie[5:2];
                    md.ack.sack_ok = cookie[1:1];
                    md.ack.ts_ok = cookie[0:0];
                    md.ack.has_payload = 0;
                    if (meta.has_payload) {
                        md.ack.has_payload = 1;
                    }
                    md.ack._pad0 = 0;
                    md.ack.client_window = hdr.h.tcp.window;
                    md.ack.client_tsval = meta.opt.tsval;
                    md.ack.client_tsecr = meta.opt.tsecr;
                    md.ack.ingress_port = first_port;
                    md.ack.service_id = meta.service_id;
                    md.ack.old_slot = 0;
                    md.ack.old_state = SESSION_NONE;
                    meta.event = EV_ACK_VALID;
                    if (meta.has_payload) {
                        /* C4: the controller holds the data until the session is up. */
                        punt_to_cpu_tna(hdr.h, ig_tm_md, first_port, PUNT_COOKIE_DATA, 0);
                    } else {
                        drop_packet_tna(ig_dprsr_md);
                    }
                }
                hdr.cookie_pass.setInvalid();
            }
        }
        md.m = meta;
    }
}

#endif
