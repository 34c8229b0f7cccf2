/*
 * The SYN proxy on TNA: what happens to a TCP segment given its service and its
 * session (v1model's control/proxy.p4 is the reference; p4src/README.md, "TNA",
 * says what is done here and what is not yet).
 *
 * A SYN to a protected service and an ACK that must carry a cookie run the four
 * cookie passes (cookie.p4) and are decided in the last one: SYN/ACK out of the
 * port the SYN came in on; valid cookie: digest (and PacketIn with data), else
 * dropped. Everything else is decided in pass 0: the segments of a session (D7..D11:
 * the server SYN/ACK, translation, resets, FIN/RST tracking) as v1model's decide.p4
 * decides them.
 *
 * Tofino gives each register one access per pass, so each per-slot register has
 * one RegisterAction run per packet: session_state's computes the next state from
 * the one it holds (tna_session_next), so the decision below, made on the state
 * read, and the state written cannot disagree.
 */
#ifndef SYNPROXY_TNA_CONTROL_PROXY_P4
#define SYNPROXY_TNA_CONTROL_PROXY_P4

/* Our TSval clock: the global timestamp (ns) in units of 2^20 ns (1.05 ms). */
bit<32> our_tsval_tna(in bit<48> global_tstamp) {
    return (bit<32>)(global_tstamp >> 20);
}

/* D11: the state after a segment of a session, from the state before it: v1model's
 * ClientSegment/ServerSegment transitions in one function (RegisterAction). */
SessionState_t tna_session_next(in SessionState_t state, in bit<8> ctrl,
                                in bool from_client, in bool from_cpu, in bool reuse_possible) {
    SessionState_t next = state;
    if (from_cpu || state == SESSION_NONE) {
        next = state;
    } else if (reuse_possible && from_client && ctrl == TCP_ACK
               && state >= SESSION_FIN_WAIT) {
        /* C5: an ACK check first (the last cookie pass steps it if the cookie fails). */
        next = state;
    } else if (state == SESSION_SYN_SENT) {
        if (from_client && (ctrl & (TCP_RST | TCP_FIN)) != 0) {
            next = SESSION_CLOSE;              /* D10: the client gave up */
        } else if (!from_client && (ctrl & TCP_RST) != 0) {
            next = SESSION_CLOSE;              /* D10: the server refused */
        } else if (!from_client && ctrl == (TCP_SYN | TCP_ACK)) {
            next = SESSION_ESTABLISHED;        /* D8 */
        }
    } else if (from_client && (ctrl & TCP_SYN) != 0) {
        next = state;                          /* dropped, or a new connection (C5) */
    } else if ((ctrl & TCP_RST) != 0) {
        next = SESSION_CLOSE;
    } else if ((ctrl & TCP_FIN) != 0) {
        if (state == SESSION_ESTABLISHED) {
            if (from_client) {
                next = SESSION_FIN_WAIT;
            } else {
                next = SESSION_CLOSE_WAIT;
            }
        } else if (state == SESSION_FIN_WAIT && !from_client) {
            next = SESSION_LAST_ACK;
        } else if (state == SESSION_CLOSE_WAIT && from_client) {
            next = SESSION_LAST_ACK;
        }
    } else if (state == SESSION_LAST_ACK && ctrl == TCP_ACK) {
        next = SESSION_TIME_WAIT;
    }
    return next;
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
    /* The slot's state before the segment out, the state after it in. A fresh
     * slot starts in SYN_SENT (and the segment moves it from there). */
    RegisterAction<SessionState_t, SlotId_t, SessionState_t>(session_state) session_state_start = {
        void apply(inout SessionState_t value, out SessionState_t state) {
            state = SESSION_SYN_SENT;
            value = tna_session_next(SESSION_SYN_SENT, md.ctrl, md.m.dir == DIR_CLIENT,
                                     md.m.from_cpu, md.reuse_possible);
        }
    };
    RegisterAction<SessionState_t, SlotId_t, SessionState_t>(session_state) session_state_step = {
        void apply(inout SessionState_t value, out SessionState_t state) {
            state = value;
            value = tna_session_next(value, md.ctrl, md.m.dir == DIR_CLIENT, md.m.from_cpu,
                                     md.reuse_possible);
        }
    };

    /* D8: rs_isn - cookie, our SYN/ACK TSval - the server's, the server's window
     * scale: written at the server SYN/ACK (0 in a fresh slot), read otherwise. */
    @id(ID_REGISTER_SESSION_DELTA)
    Register<bit<32>, SlotId_t>(SESSIONS_SIZE, 0) session_delta;
    @id(ID_REGISTER_SESSION_TSOFF)
    Register<bit<32>, SlotId_t>(SESSIONS_SIZE, 0) session_tsoff;
    @id(ID_REGISTER_SESSION_SERVER_WSCALE)
    Register<bit<8>, SlotId_t>(SESSIONS_SIZE, 0) session_server_wscale;

    RegisterAction<bit<32>, SlotId_t, bit<32>>(session_delta) session_delta_write = {
        void apply(inout bit<32> value, out bit<32> rv) {
            value = md.m.delta;
            rv = md.m.delta;
        }
    };
    RegisterAction<bit<32>, SlotId_t, bit<32>>(session_delta) session_delta_read = {
        void apply(inout bit<32> value, out bit<32> rv) {
            rv = value;
        }
    };
    RegisterAction<bit<32>, SlotId_t, bit<32>>(session_tsoff) session_tsoff_write = {
        void apply(inout bit<32> value, out bit<32> rv) {
            value = md.m.tsoff;
            rv = md.m.tsoff;
        }
    };
    RegisterAction<bit<32>, SlotId_t, bit<32>>(session_tsoff) session_tsoff_read = {
        void apply(inout bit<32> value, out bit<32> rv) {
            rv = value;
        }
    };
    RegisterAction<bit<8>, SlotId_t, bit<8>>(session_server_wscale) session_wscale_write = {
        void apply(inout bit<8> value, out bit<8> rv) {
            value = md.server_wscale;
            rv = md.server_wscale;
        }
    };
    RegisterAction<bit<8>, SlotId_t, bit<8>>(session_server_wscale) session_wscale_read = {
        void apply(inout bit<8> value, out bit<8> rv) {
            rv = value;
        }
    };

    /* C4: pending handshakes, as v1model's control/pending.p4 (which says what and
     * why): indexed by crc16(client, VIP, cport, vport) & (PENDING_SIZE - 1)
     * (PENDING_SIZE a power of two on TNA: no modulo in the pipeline), the 4-tuple
     * compared in full. Pass 0 of an ACK check reads the entry (one access per
     * register), its last pass stores a validated one; the server SYN/ACK that
     * establishes the session empties it. The clock is era (16) ++ the 48-bit global
     * timestamp (ns): PENDING_LIFETIME (us) is compared in ns. */
    @id(ID_REGISTER_PENDING_CLIENT)
    Register<bit<32>, bit<32>>(PENDING_SIZE, 0) pending_client;
    @id(ID_REGISTER_PENDING_VIP)
    Register<bit<32>, bit<32>>(PENDING_SIZE, 0) pending_vip;
    @id(ID_REGISTER_PENDING_PORTS)
    Register<bit<32>, bit<32>>(PENDING_SIZE, 0) pending_ports;
    @id(ID_REGISTER_PENDING_COOKIE)
    Register<bit<32>, bit<32>>(PENDING_SIZE, 0) pending_cookie;
    @id(ID_REGISTER_PENDING_ISN)
    Register<bit<32>, bit<32>>(PENDING_SIZE, 0) pending_isn;
    @id(ID_REGISTER_PENDING_SINCE)
    Register<bit<64>, bit<32>>(PENDING_SIZE, 0) pending_since;
    @id(ID_REGISTER_PENDING_CLOCK)
    Register<bit<64>, bit<32>>(1, 0) pending_clock;
    Hash<bit<16>>(HashAlgorithm_t.CRC16) pending_hash;

    /* What the pending RegisterActions write. */
    bit<32> p_client = 0;
    bit<32> p_vip = 0;
    bit<32> p_ports = 0;
    bit<32> p_cookie = 0;
    bit<32> p_isn = 0;
    bit<64> p_now = 0;
    bit<48> p_ts = 0;

    /* The pending clock: a drop of the 48-bit clock by more than half its range is
     * a wrap (one packet slightly out of order is not). */
    RegisterAction<bit<64>, bit<32>, bit<64>>(pending_clock) pending_clock_tick = {
        void apply(inout bit<64> value, out bit<64> now) {
            bit<16> era = value[63:48];
            bit<48> last = value[47:0];
            if (p_ts < last && last - p_ts > PENDING_CLOCK_HALF) {
                era = era + 1;
            }
            if (p_ts > last || era != value[63:48]) {
                value = era ++ p_ts;
            }
            now = era ++ p_ts;
        }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(pending_client) pending_client_read = {
        void apply(inout bit<32> value, out bit<32> rv) { rv = value; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(pending_client) pending_client_write = {
        void apply(inout bit<32> value) { value = p_client; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(pending_vip) pending_vip_read = {
        void apply(inout bit<32> value, out bit<32> rv) { rv = value; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(pending_vip) pending_vip_write = {
        void apply(inout bit<32> value) { value = p_vip; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(pending_ports) pending_ports_read = {
        void apply(inout bit<32> value, out bit<32> rv) { rv = value; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(pending_ports) pending_ports_write = {
        void apply(inout bit<32> value) { value = p_ports; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(pending_cookie) pending_cookie_read = {
        void apply(inout bit<32> value, out bit<32> rv) { rv = value; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(pending_cookie) pending_cookie_write = {
        void apply(inout bit<32> value) { value = p_cookie; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(pending_isn) pending_isn_read = {
        void apply(inout bit<32> value, out bit<32> rv) { rv = value; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(pending_isn) pending_isn_write = {
        void apply(inout bit<32> value) { value = p_isn; }
    };
    RegisterAction<bit<64>, bit<32>, bit<64>>(pending_since) pending_since_read = {
        void apply(inout bit<64> value, out bit<64> rv) { rv = value; }
    };
    RegisterAction<bit<64>, bit<32>, bit<64>>(pending_since) pending_since_write = {
        void apply(inout bit<64> value) { value = p_now; }
    };

    /* C8: the flow filter, as v1model's control/passthrough.p4 (which says what and
     * why): a cell per crc32(4-tuple) & (FLOW_FILTER_SIZE - 1) (a power of two on
     * TNA), holding the epoch and the 4-tuple that marked it. An undefended service's
     * client segment marks its cell (one write per register); a defended one's reads
     * it (one read per register). */
    @id(ID_REGISTER_PASSTHROUGH_FLOWS)
    Register<bit<8>, bit<32>>(FLOW_FILTER_SIZE, 0) passthrough_flows;
    @id(ID_REGISTER_PASSTHROUGH_SRC)
    Register<bit<32>, bit<32>>(FLOW_FILTER_SIZE, 0) passthrough_src;
    @id(ID_REGISTER_PASSTHROUGH_DST)
    Register<bit<32>, bit<32>>(FLOW_FILTER_SIZE, 0) passthrough_dst;
    @id(ID_REGISTER_PASSTHROUGH_PORTS)
    Register<bit<32>, bit<32>>(FLOW_FILTER_SIZE, 0) passthrough_ports;
    Hash<bit<32>>(HashAlgorithm_t.CRC32) flow_hash;

    RegisterAction<bit<8>, bit<32>, bit<8>>(passthrough_flows) flows_read = {
        void apply(inout bit<8> value, out bit<8> rv) { rv = value; }
    };
    RegisterAction<bit<8>, bit<32>, bit<8>>(passthrough_flows) flows_mark = {
        void apply(inout bit<8> value) { value = md.m.passthrough_epoch; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(passthrough_src) src_read = {
        void apply(inout bit<32> value, out bit<32> rv) { rv = value; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(passthrough_src) src_mark = {
        void apply(inout bit<32> value) { value = p_client; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(passthrough_dst) dst_read = {
        void apply(inout bit<32> value, out bit<32> rv) { rv = value; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(passthrough_dst) dst_mark = {
        void apply(inout bit<32> value) { value = p_vip; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(passthrough_ports) ports_read = {
        void apply(inout bit<32> value, out bit<32> rv) { rv = value; }
    };
    RegisterAction<bit<32>, bit<32>, bit<32>>(passthrough_ports) ports_mark = {
        void apply(inout bit<32> value) { value = p_ports; }
    };

    /* C8: the flow filter's epoch, keyless (as v1model). */
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
    Seqadj() seqadj;
    SegmentReply() reply;

    apply {
        bool first_pass = !hdr.cookie_pass.isValid();
        if (first_pass && md.m.svc_hit) {
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

        md.ctrl = ctrl;
        /* C5: a client ACK on a closing session would be checked for a cookie. */
        md.reuse_possible = first_pass && meta.keys_set && !meta.malformed && !meta.from_cpu;

        /* What the segment's decision asks for, carried out below, each in one place. */
        bit<8>  seqadj_mode = SEQADJ_NONE;
        bit<8>  reply_kind = REPLY_NONE;
        bit<32> reply_seq = meta.sess_cookie;
        bit<8>  reply_opts = 0;
        bit<8>  reply_shift = meta.win_shift;
        bit<32> reply_tsval = 0;
        bit<32> reply_tsecr = 0;
        bit<8>  punt_reason = 0;
        SlotId_t punt_slot = 0;
        PortId_t punt_port = ingress_port;
        bit<8>  session_event = 0;
        bool    server_ack = false;

        if (first_pass) {
            /* ------------------------------------------------------ sources (D16) */
            bool refuse_martian = meta.svc_hit && !meta.from_cpu && meta.martian;
            bool refuse_group_mac = meta.svc_hit && !meta.from_cpu
                                    && mac_is_group(hdr.h.ethernet.src_addr);
            bool refuse_version = meta.ip_bad_version && !meta.from_cpu
                                  && (meta.svc_hit || meta.session_hit);
            bool refuse = refuse_martian || refuse_group_mac || refuse_version;

            /* ------------------------------------------------------ session (D7) */
            SessionState_t new_state = SESSION_NONE;
            if (meta.session_hit && !refuse) {
                bool fresh = session_gen_claim.execute(meta.slot);
                if (fresh) {
                    meta.state = session_state_start.execute(meta.slot);
                } else {
                    meta.state = session_state_step.execute(meta.slot);
                }
                /* The state the RegisterAction wrote (the same function, here). */
                new_state = tna_session_next(meta.state, ctrl, meta.dir == DIR_CLIENT,
                                             meta.from_cpu, md.reuse_possible);
                /* D8: the server SYN/ACK that establishes the session records the
                 * translation; any other segment reads it (0 in a fresh slot). */
                bool establishing = meta.dir == DIR_SERVER && ctrl == (TCP_SYN | TCP_ACK)
                                    && meta.state == SESSION_SYN_SENT;
                if (establishing) {
                    meta.delta = hdr.h.tcp.seq_no - meta.sess_cookie;
                    meta.tsoff = 0;
                    if (meta.opt.has_timestamp) {
                        meta.tsoff = meta.ts_base - meta.opt.tsval;
                    }
                    md.server_wscale = 0;
                    if (meta.opt.has_wscale) {
                        md.server_wscale = meta.opt.wscale;
                        if (md.server_wscale > TCP_WSCALE_MAX) {
                            md.server_wscale = TCP_WSCALE_MAX;
                        }
                    }
                    md.m.delta = meta.delta;
                    md.m.tsoff = meta.tsoff;
                    session_delta_write.execute(meta.slot);
                    session_tsoff_write.execute(meta.slot);
                    session_wscale_write.execute(meta.slot);
                } else if (fresh) {
                    meta.delta = 0;
                    meta.tsoff = 0;
                    md.m.delta = 0;
                    md.m.tsoff = 0;
                    md.server_wscale = 0;
                    session_delta_write.execute(meta.slot);
                    session_tsoff_write.execute(meta.slot);
                    session_wscale_write.execute(meta.slot);
                } else {
                    meta.delta = session_delta_read.execute(meta.slot);
                    meta.tsoff = session_tsoff_read.execute(meta.slot);
                    md.server_wscale = session_wscale_read.execute(meta.slot);
                }
            }
            bool closing = meta.state >= SESSION_FIN_WAIT;
            bool in_session = meta.session_hit && meta.state != SESSION_NONE && !refuse;
            if (in_session && meta.dir == DIR_CLIENT && ctrl == TCP_SYN && closing
                    && !meta.from_cpu) {
                in_session = false;   /* C5: a new connection on a closing 4-tuple */
            }
            bool protect = !in_session && meta.svc_hit && !meta.svc_deny && meta.proxy_active
                           && hdr.h.tcp.isValid() && !meta.from_cpu && !refuse;

            /* ------------------------------------------------------ pending (C4) */
            /* C5: on a closing 4-tuple a pure ACK may be a new connection's handshake. */
            bool reuse_check = in_session && meta.dir == DIR_CLIENT && closing
                               && ctrl == TCP_ACK && md.reuse_possible;
            bool ack_check = (protect && ctrl == TCP_ACK && !meta.malformed && meta.keys_set)
                             || reuse_check;
            bool establishing = in_session && meta.dir == DIR_SERVER
                                && ctrl == (TCP_SYN | TCP_ACK) && meta.state == SESSION_SYN_SENT;
            bit<32> client_isn = hdr.h.tcp.seq_no - 1;
            bool pending_hit = false;
            if (ack_check || establishing) {
                /* The client's 4-tuple as the client sends it; at the server SYN/ACK
                 * (client, VIP, cport, vport) from the server entry. */
                p_client = hdr.h.ipv4.src_addr;
                p_vip = hdr.h.ipv4.dst_addr;
                p_ports = hdr.h.tcp.src_port ++ hdr.h.tcp.dst_port;
                if (establishing) {
                    p_client = hdr.h.ipv4.dst_addr;
                    p_vip = meta.nat_addr;
                    p_ports = hdr.h.tcp.dst_port ++ meta.nat_port;
                }
                bit<32> index = ((bit<32>)pending_hash.get({ p_client, p_vip, p_ports }))
                                & (PENDING_SIZE - 1);
                bool same = pending_client_read.execute(index) == p_client
                            && pending_vip_read.execute(index) == p_vip
                            && pending_ports_read.execute(index) == p_ports;
                if (same && establishing) {
                    p_now = 0;
                    pending_since_write.execute(index);
                } else if (same) {
                    p_ts = global_tstamp;
                    bit<64> now = pending_clock_tick.execute(0);
                    bit<32> stored_cookie = pending_cookie_read.execute(index);
                    bit<64> since = pending_since_read.execute(index);
                    /* Age in 64 bits, never modular: it cannot wrap back to young. */
                    if (since != 0 && stored_cookie == hdr.h.tcp.ack_no - 1
                            && now >= since && now - since < PENDING_LIFETIME * 1000) {
                        pending_hit = true;
                        client_isn = pending_isn_read.execute(index);
                    }
                } else if (ack_check) {
                    p_ts = global_tstamp;
                    pending_clock_tick.execute(0);
                }
            }

            /* ------------------------------------------------------ flow filter (C8) */
            /* Undefended are auto services while calm and mode on services that fail
             * open while the controller is gone; one that fails closed never is, so
             * the filter is not looked up for it. */
            bool passthrough_known = false;
            if (!in_session && meta.svc_hit && !meta.svc_deny && hdr.h.tcp.isValid()
                    && !meta.from_cpu && !refuse && !(meta.proxy_active && ctrl == TCP_SYN)
                    && !(meta.proxy_active && meta.proxy_mode != PROXY_MODE_AUTO
                         && (meta.svc_flags & SVC_FLAG_FAIL_CLOSED) != 0)) {
                p_client = hdr.h.ipv4.src_addr;
                p_vip = hdr.h.ipv4.dst_addr;
                p_ports = hdr.h.tcp.src_port ++ hdr.h.tcp.dst_port;
                bit<32> cell = flow_hash.get({ p_client, p_vip, hdr.h.tcp.src_port,
                                               hdr.h.tcp.dst_port })
                               & (FLOW_FILTER_SIZE - 1);
                if (meta.proxy_active) {
                    bit<8> seen = flows_read.execute(cell);
                    /* Epoch 0 would find every never-written cell: it marks nothing. */
                    passthrough_known = seen == meta.passthrough_epoch && seen != 0
                                        && src_read.execute(cell) == p_client
                                        && dst_read.execute(cell) == p_vip
                                        && ports_read.execute(cell) == p_ports;
                } else {
                    flows_mark.execute(cell);
                    src_mark.execute(cell);
                    dst_mark.execute(cell);
                    ports_mark.execute(cell);
                }
            }

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
            } else if (in_session && meta.dir == DIR_CLIENT && !reuse_check) {
                /* ------------------------------------------------ client segment */
                if (ctrl == TCP_SYN && !meta.from_cpu) {
                    meta.syn_in = true;
                }
                if (meta.from_cpu) {
                    /* The controller's server SYN (NAT only), or held client data. */
                    seqadj_mode = SEQADJ_C2S;
                    if ((ctrl & TCP_SYN) != 0) {
                        seqadj_mode = SEQADJ_C2S_NAT;
                    }
                    meta.route = true;
                    meta.event = EV_TRANSLATED_C2S;
                } else if (meta.state == SESSION_SYN_SENT) {
                    if ((ctrl & (TCP_RST | TCP_FIN)) != 0) {
                        /* D10: the client gave up: reset the server side. */
                        reply_kind = REPLY_SERVER_RESET;
                        session_event = SESSION_EV_CLIENT_ABORT;
                        meta.event = EV_CLIENT_ABORT;
                        meta.route = true;
                    } else if (meta.has_payload && (ctrl & TCP_SYN) == 0) {
                        /* C4: early data, held by the controller. */
                        punt_reason = PUNT_EARLY_DATA;
                        punt_slot = meta.slot;
                        meta.event = EV_EARLY_DATA;
                        meta.done = true;
                    } else {
                        drop_packet_tna(ig_dprsr_md);
                        meta.event = EV_DROP_HANDSHAKE;
                        meta.done = true;
                    }
                } else if ((ctrl & TCP_SYN) != 0) {
                    drop_packet_tna(ig_dprsr_md);
                    meta.event = EV_DROP_HANDSHAKE;
                    meta.done = true;
                } else {
                    seqadj_mode = SEQADJ_C2S;
                    meta.route = true;
                    if (meta.malformed) {
                        meta.event = EV_MALFORMED_PASSED;
                    } else {
                        meta.event = EV_TRANSLATED_C2S;
                    }
                }
            } else if (in_session && meta.dir == DIR_SERVER) {
                /* ------------------------------------------------ server segment */
                if (ctrl == (TCP_SYN | TCP_ACK) && meta.state == SESSION_SYN_SENT) {
                    /* D8: two packets out of one: this one becomes the client's
                     * window update, its mirror copy the ACK to the server (egress). */
                    session_event = SESSION_EV_ESTABLISHED;
                    meta.event = EV_SESSION_ESTABLISHED;
                    server_ack = true;
                    reply_kind = REPLY_WINDOW_UPDATE;
                    reply_tsval = meta.opt.tsval + meta.tsoff;
                    reply_tsecr = meta.opt.tsecr;
                    meta.route = true;
                } else if (ctrl == (TCP_SYN | TCP_ACK) && meta.state == SESSION_ESTABLISHED) {
                    /* Our ACK to the server was lost: again, nothing to the client
                     * (the copy is made of the window update this one becomes). */
                    server_ack = true;
                    reply_kind = REPLY_WINDOW_UPDATE;
                    reply_tsval = meta.opt.tsval + meta.tsoff;
                    reply_tsecr = meta.opt.tsecr;
                    drop_packet_tna(ig_dprsr_md);
                    meta.event = EV_SERVER_SYNACK_RETX;
                    meta.done = true;
                } else if (meta.state == SESSION_SYN_SENT) {
                    if ((ctrl & TCP_RST) != 0) {
                        /* D10: relay the refusal in the client's sequence space. */
                        reply_kind = REPLY_CLIENT_RESET;
                        session_event = SESSION_EV_SERVER_RESET;
                        meta.event = EV_SERVER_RESET;
                        meta.route = true;
                    } else {
                        drop_packet_tna(ig_dprsr_md);
                        meta.event = EV_DROP_HANDSHAKE;
                        meta.done = true;
                    }
                } else {
                    seqadj_mode = SEQADJ_S2C;
                    meta.route = true;
                    if (meta.malformed) {
                        meta.event = EV_MALFORMED_PASSED;
                    } else {
                        meta.event = EV_TRANSLATED_S2C;
                    }
                }
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
                    hdr.cookie_pass.isn = hdr.h.tcp.seq_no;
                }
                meta.done = true;
            } else if (protect && passthrough_known && ctrl != TCP_SYN) {
                /* C8: a connection from before the defence: forwarded, unproxied. */
                meta.passed = true;
                meta.event = EV_PASSTHROUGH;
            } else if (protect && meta.malformed) {
                /* Never answered nor digested (D1). */
                drop_packet_tna(ig_dprsr_md);
                meta.event = EV_DROP_MALFORMED;
                meta.done = true;
            } else if ((protect && ctrl == TCP_ACK) || reuse_check) {
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
                    hdr.cookie_pass.isn = client_isn;
                    if (pending_hit) {
                        hdr.cookie_pass.pending_hit = 1;
                    }
                    if (reuse_check) {
                        hdr.cookie_pass.reuse = 1;
                        hdr.cookie_pass.slot = meta.slot;
                        hdr.cookie_pass.state = meta.state;
                        hdr.cookie_pass.gen = meta.gen;
                        hdr.cookie_pass.delta = meta.delta;
                        hdr.cookie_pass.tsoff = meta.tsoff;
                        hdr.cookie_pass.nat_addr = meta.nat_addr;
                        hdr.cookie_pass.nat_port = meta.nat_port;
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
            } else if (meta.svc_hit && !in_session && hdr.h.tcp.isValid() && !meta.from_cpu) {
                /* Not defended: plain forwarding; SYNs counted (C8). */
                meta.passed = true;
                if (ctrl == TCP_SYN) {
                    meta.syn_in = true;
                    meta.event = EV_SYN_PASSED;
                }
            }
            if (in_session && new_state != meta.state && session_event == 0) {
                session_event = SESSION_EV_STATE;   /* FINs, RST after the handshake */
            }
            if (session_event != 0) {
                /* D7, D8, D10: the slot's change of state, to the controller. */
                ig_dprsr_md.digest_type = DIGEST_TYPE_SESSION_EVENT;
                md.event.slot = meta.slot;
                md.event.event = session_event;
                md.event.delta = meta.delta;
                md.event.tsoff = meta.tsoff;
                md.event.state = new_state;
                md.event.gen = meta.gen;
                if (meta.dir == DIR_CLIENT) {
                    md.event.client_addr = hdr.h.ipv4.src_addr;
                    md.event.client_port = hdr.h.tcp.src_port;
                } else {
                    md.event.client_addr = hdr.h.ipv4.dst_addr;
                    md.event.client_port = hdr.h.tcp.dst_port;
                }
            }
            if (server_ack) {
                /* D8: the mirror copy's header: what the ACK needs of the SYN/ACK
                 * (the window update this packet becomes keeps the rest). */
                ig_dprsr_md.mirror_type = MIRROR_TYPE_SERVER_ACK;
                md.mirror_session = REFLECT_SESSION_BASE + (MirrorId_t)ingress_port;
                md.server_ack.setValid();
                md.server_ack.kind = MIRROR_KIND_SERVER_ACK;
                md.server_ack.eth_dst = hdr.h.ethernet.src_addr;
                md.server_ack.eth_src = hdr.h.ethernet.dst_addr;
                md.server_ack.rs_addr = hdr.h.ipv4.src_addr;
                md.server_ack.rs_port = hdr.h.tcp.src_port;
                md.server_ack.ack = hdr.h.tcp.seq_no + 1;
                md.server_ack.window = meta.clone_window;
                md.server_ack.has_ts = 0;
                if (meta.opt.has_timestamp) {
                    md.server_ack.has_ts = 1;
                }
                md.server_ack.tsecr = meta.opt.tsval;
            }
            if (hdr.cookie_pass.isValid()) {
                hdr.cookie_pass.service_id = meta.service_id;
                hdr.cookie_pass.svc_flags = meta.svc_flags;
                hdr.cookie_pass.svc_mss = meta.svc_mss;
                hdr.cookie_pass.svc_wscale = meta.svc_wscale;
                hdr.cookie_pass.svc_window = meta.svc_window;
                hdr.cookie_pass.svc_ttl = meta.svc_ttl;
                if (meta.controller_down) {
                    hdr.cookie_pass.controller_down = 1;
                }
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
            bit<32> isn = hdr.cookie_pass.isn;
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
                if (!is_syn && cookie == hdr.h.tcp.ack_no - 1
                        && hdr.cookie_pass.pending_hit == 0) {
                    /* C4: a validated ACK leaves its pending entry (a slot shared by
                     * another flow is taken over). */
                    p_client = hdr.h.ipv4.src_addr;
                    p_vip = hdr.h.ipv4.dst_addr;
                    p_ports = hdr.h.tcp.src_port ++ hdr.h.tcp.dst_port;
                    p_cookie = cookie;
                    p_isn = isn;
                    p_ts = global_tstamp;
                    p_now = pending_clock_tick.execute(0);
                    bit<32> index = ((bit<32>)pending_hash.get({ p_client, p_vip, p_ports }))
                                    & (PENDING_SIZE - 1);
                    pending_client_write.execute(index);
                    pending_vip_write.execute(index);
                    pending_ports_write.execute(index);
                    pending_cookie_write.execute(index);
                    pending_isn_write.execute(index);
                    pending_since_write.execute(index);
                }
                if (is_syn) {
                    /* D3: the SYN becomes our SYN/ACK, back where it came from. */
                    reply_kind = REPLY_SYNACK;
                    reply_seq = cookie;
                    reply_opts = opts;
                    reply_shift = meta.svc_wscale;
                    reply_tsval = our_tsval_tna(global_tstamp);
                    reply_tsecr = meta.opt.tsval;
                    ig_tm_md.ucast_egress_port = first_port;
                    meta.event = EV_SYNACK_SENT;
                } else if (cookie != hdr.h.tcp.ack_no - 1 && hdr.cookie_pass.reuse == 1) {
                    /* C5: not a new handshake: the closing session's own segment,
                     * translated as in pass 0 it would have been; its state steps now. */
                    meta.session_hit = true;
                    meta.dir = DIR_CLIENT;
                    meta.slot = hdr.cookie_pass.slot;
                    meta.gen = hdr.cookie_pass.gen;
                    meta.delta = hdr.cookie_pass.delta;
                    meta.tsoff = hdr.cookie_pass.tsoff;
                    meta.nat_addr = hdr.cookie_pass.nat_addr;
                    meta.nat_port = hdr.cookie_pass.nat_port;
                    md.m.dir = DIR_CLIENT;
                    md.m.from_cpu = false;
                    md.reuse_possible = false;
                    meta.state = session_state_step.execute(meta.slot);
                    SessionState_t stepped = tna_session_next(meta.state, ctrl, true, false,
                                                              false);
                    if (stepped != meta.state) {
                        ig_dprsr_md.digest_type = DIGEST_TYPE_SESSION_EVENT;
                        md.event.slot = meta.slot;
                        md.event.event = SESSION_EV_STATE;
                        md.event.delta = meta.delta;
                        md.event.tsoff = meta.tsoff;
                        md.event.state = stepped;
                        md.event.gen = meta.gen;
                        md.event.client_addr = hdr.h.ipv4.src_addr;
                        md.event.client_port = hdr.h.tcp.src_port;
                    }
                    seqadj_mode = SEQADJ_C2S;
                    meta.route = true;
                    meta.done = false;
                    meta.event = EV_TRANSLATED_C2S;
                } else if (cookie != hdr.h.tcp.ack_no - 1) {
                    drop_packet_tna(ig_dprsr_md);
                    meta.event = EV_ACK_INVALID;
                } else if (hdr.cookie_pass.controller_down == 1) {
                    /* C13, fail closed: the validated ACK is refused with a RST. */
                    reply_kind = REPLY_REFUSAL_RESET;
                    ig_tm_md.ucast_egress_port = first_port;
                    meta.event = EV_CONTROLLER_DOWN_RESET;
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
                    if (hdr.cookie_pass.reuse == 1) {
                        md.ack.old_slot = hdr.cookie_pass.slot;
                        md.ack.old_state = hdr.cookie_pass.state;
                    }
                    if (hdr.cookie_pass.pending_hit == 1 && meta.has_payload
                            && hdr.h.tcp.seq_no - 1 != isn) {
                        /* C4: a later segment, one the cookie check alone would
                         * refuse (the first segment counts as a valid ACK). */
                        meta.event = EV_EARLY_DATA;
                    } else if (hdr.cookie_pass.reuse == 1) {
                        meta.event = EV_REUSE_ACK;
                    }
                    if (meta.has_payload) {
                        /* C4: the controller holds the data until the session is up. */
                        punt_reason = PUNT_COOKIE_DATA;
                        punt_port = first_port;
                    } else {
                        drop_packet_tna(ig_dprsr_md);
                    }
                }
                hdr.cookie_pass.setInvalid();
            }
        }

        /* ---------------------------------------------------------- effects */
        /* IPv4 only on TNA (the parser takes no IPv6 header, hdr.h.ipv6 is never
         * valid): the shared controls' IPv6 address arguments are zeros, and an IPv4
         * address goes in the low 32 bits of SegmentReply's 128-bit one. */
        seqadj.apply(hdr.h, seqadj_mode, meta.delta, meta.tsoff, md.server_wscale,
                     meta.win_shift, meta.nat_addr, 0, meta.nat_port,
                     meta.opt.has_timestamp, meta.opt.has_sack);
        /* The SYN/ACK promises TS by its OPTS; a window update has them when the
         * server's SYN/ACK had; resets have none. */
        bool reply_ts = meta.opt.has_timestamp;
        bit<32> frame_len;
        reply.apply(hdr.h, reply_kind, (ipv6_addr_t)meta.nat_addr, meta.nat_port, reply_seq,
                    reply_opts, meta.svc_window, reply_shift, meta.svc_mss, meta.svc_ttl, reply_ts,
                    reply_tsval, reply_tsecr, frame_len);
        if (reply_kind != REPLY_NONE) {
            hdr.tcp_pad.setInvalid();   /* with the options SegmentReply drops */
            md.tcp_fresh = true;
            md.tcp_len = ((bit<16>)hdr.h.tcp.data_offset) << 2;
        }
        if (punt_reason != 0) {
            punt_to_cpu_tna(hdr.h, ig_tm_md, punt_port, punt_reason, punt_slot);
        }
        md.m = meta;
    }
}

#endif
