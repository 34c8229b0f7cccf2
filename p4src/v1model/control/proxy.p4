/*
 * The SYN proxy proper: what happens to a TCP segment given its session (if any)
 * and its service (if any). It owns the per-slot session registers, so every read
 * and write of session state is here.
 *
 * Session state machine (per slot, session_state register; D7, D8, D10, D11):
 *
 *   (controller installs entries with a new gen, sends the server SYN; the first
 *    packet that hits them finds session_gen != gen and starts the slot afresh:
 *    SYN_SENT, delta, tsoff and server window scale 0, session_gen = gen)
 *   SYN_SENT --server SYN/ACK--> ESTABLISHED      delta, tsoff recorded; ACK to
 *                                                 server + window update to client
 *   SYN_SENT --server RST-----> CLOSE             client reset with seq cookie + 1
 *   SYN_SENT --client RST/FIN--> CLOSE            server reset
 *   ESTABLISHED --client FIN--> FIN_WAIT --server FIN--> LAST_ACK
 *   ESTABLISHED --server FIN--> CLOSE_WAIT --client FIN--> LAST_ACK
 *   LAST_ACK --pure ACK--> TIME_WAIT
 *   any --RST--> CLOSE
 *
 * Every change of state is reported in a session_event digest (state after, gen),
 * so the controller follows sessions without reading registers. The controller
 * expires sessions from these states and reuses slots (C5, C6). In
 * FIN_WAIT .. CLOSE a client SYN is treated as a new connection (it gets a cookie),
 * and a pure ACK carrying a valid cookie is reported (digest with old_slot) rather
 * than forwarded.
 *
 * Its parts, each a control applied from one place: PendingHandshakes (pending.p4:
 * C4's memory of validated handshakes, around the one cookie MAC of a segment),
 * PassthroughFilter (passthrough.p4: C8's flows from before the defence), the
 * decisions per kind of segment, ClientSegment, ServerSegment and NewConnection,
 * with SegmentFacts and ProxyDigests (decide.p4), Seqadj (seqadj.p4: translation) and SegmentReply (reply.p4: the
 * segments the switch builds). The apply below states the facts, reads the session
 * registers, has the segment decided, and carries out what the decision asks for
 * (proxy_effects_t), each effect in one place: a control applied once is inlined by
 * the compilers without copying the headers, a function is not.
 *
 * D13: both families take this path; an IPv6 segment (hdr.ipv6 valid) is looked up
 * in the _v6 tables, its cookie covers the full addresses (cookie.p4), its pending
 * cell, digests, translation and replies are its family's.
 *
 * D16, never a reflector: a packet to a VIP from a martian source (martians.p4) or
 * a group source MAC, or with an IP version other than its ether type's, is dropped
 * and counted before anything else looks at it: no SYN/ACK, no digest, no register
 * touched.
 */
#ifndef SYNPROXY_CONTROL_PROXY_P4
#define SYNPROXY_CONTROL_PROXY_P4

control SynProxy(inout headers_t hdr, inout local_metadata_t meta,
                 inout standard_metadata_t standard_metadata) {

    /* The gen of the entries that last used each slot. Another gen in a hit entry
     * is a new incarnation (install or restart in place): the registers below are
     * then an earlier one's and start over. The control plane never writes these
     * registers (P4Runtime servers such as bmv2's do not offer register access). */
    @id(ID_REGISTER_SESSION_GEN)
    register<bit<32>>(SESSIONS_SIZE) session_gen;
    /* SESSION_* of each slot. */
    @id(ID_REGISTER_SESSION_STATE)
    register<SessionState_t>(SESSIONS_SIZE) session_state;
    /* rs_isn - cookie, written at the server SYN/ACK (0 in a fresh slot). */
    @id(ID_REGISTER_SESSION_DELTA)
    register<bit<32>>(SESSIONS_SIZE) session_delta;
    /* our SYN/ACK TSval - server's SYN/ACK TSval, written with delta. */
    @id(ID_REGISTER_SESSION_TSOFF)
    register<bit<32>>(SESSIONS_SIZE) session_tsoff;
    /* The window scale of the server's SYN/ACK (0 if none), written with delta: its
     * windows are rescaled when it differs from the scale the client was offered. */
    @id(ID_REGISTER_SESSION_SERVER_WSCALE)
    register<bit<8>>(SESSIONS_SIZE) session_server_wscale;

    /* In this order: the P4Info lists their registers in declaration order. */
    PassthroughFilter() passthrough;
    PendingHandshakes() pending;
    SegmentFacts() segment_facts;
    ClientSegment() client_segment;
    ServerSegment() server_segment;
    NewConnection() new_connection;
    Seqadj() seqadj;
    SegmentReply() reply;
    ProxyDigests() digests;
    SynMeters() syn_meters;
    ControllerMeter() controller_meter;

    apply {
        /* ---------------------------------------------------------- facts (D1) */
        bit<8> ctrl;
        bool v6 = hdr.ipv6.isValid();
        segment_facts.apply(hdr.ipv4, hdr.ipv6, hdr.tcp, standard_metadata, meta, ctrl);

        /* ---------------------------------------------------------- sources (D16) */
        /* To a VIP (or in a session) from where no honest host sends, or an IP
         * version other than the ether type's:
         * dropped below before anything is answered, stored or reported. */
        bool refuse_martian = meta.svc_hit && !meta.from_cpu && meta.martian;
        bool refuse_group_mac = meta.svc_hit && !meta.from_cpu
                                && mac_is_group(hdr.ethernet.src_addr);
        bool refuse_version = meta.ip_bad_version && !meta.from_cpu
                              && (meta.svc_hit || meta.session_hit);
        bool refuse = refuse_martian || refuse_group_mac || refuse_version;

        /* ---------------------------------------------------------- session (D7) */
        bit<8> server_wscale = 0;
        if (meta.session_hit && !refuse) {
            bit<32> slot_gen;
            session_gen.read(slot_gen, meta.slot);
            if (slot_gen == meta.gen) {
                session_state.read(meta.state, meta.slot);
                session_delta.read(meta.delta, meta.slot);
                session_tsoff.read(meta.tsoff, meta.slot);
                if (meta.dir == DIR_SERVER) {
                    session_server_wscale.read(server_wscale, meta.slot);
                }
            } else {
                /* A new incarnation of the slot (install, or restart in place: C5):
                 * what the registers hold is an earlier one's. Start it as the
                 * controller left it, waiting for the server, and record it so that
                 * the next packet finds it. */
                meta.state = SESSION_SYN_SENT;
                meta.delta = 0;
                meta.tsoff = 0;
                session_gen.write(meta.slot, meta.gen);
                session_state.write(meta.slot, SESSION_SYN_SENT);
                session_delta.write(meta.slot, 0);
                session_tsoff.write(meta.slot, 0);
                session_server_wscale.write(meta.slot, 0);
            }
        }
        bool closing = meta.state >= SESSION_FIN_WAIT;
        bool in_session = meta.session_hit && meta.state != SESSION_NONE && !refuse;
        if (in_session && meta.dir == DIR_CLIENT && ctrl == TCP_SYN && closing
                && !meta.from_cpu) {
            in_session = false;   /* C5: a new connection on a closing 4-tuple */
        }
        bool protect = !in_session && meta.svc_hit && !meta.svc_deny && meta.proxy_active
                       && hdr.tcp.isValid() && !meta.from_cpu && !refuse;
        bool reuse_check = in_session && meta.dir == DIR_CLIENT && closing
                           && ctrl == TCP_ACK && !meta.from_cpu && !meta.malformed;
        bool ack_check = (protect && ctrl == TCP_ACK && !meta.malformed) || reuse_check;
        /* D3: a SYN answered with a SYN/ACK (its cookie is made with the ACK check's
         * MAC below). */
        bool synack = protect && ctrl == TCP_SYN && !meta.malformed && meta.keys_set;
        /* D15: the SYN meters, before a cookie is minted (meters.p4). The source
         * prefix is family-neutral: IPv4's /24, IPv6's /64. */
        ProxyEvent_t overload_event = EV_NONE;
        if (synack) {
            if (v6) {
                meta.src_prefix = hdr.ipv6.src_addr[127:64];
                meta.src_family = 6;
            } else {
                meta.src_prefix = (bit<64>)(hdr.ipv4.src_addr & 0xffffff00);
                meta.src_family = 4;
            }
            syn_meters.apply(meta.src_prefix, meta.src_family, meta.service_id,
                             overload_event);
            if (overload_event != EV_NONE) {
                synack = false;
            }
        }
        /* D8: the server SYN/ACK that establishes the session (handled below). */
        bool establishing = in_session && meta.dir == DIR_SERVER
                            && ctrl == (TCP_SYN | TCP_ACK) && meta.state == SESSION_SYN_SENT;

        /* ---------------------------------------------------------- cookie, pending (C4) */
        bit<32> client_isn;
        bit<32> cookie;
        bool cookie_ok;
        bool pending_hit;
        pending.apply(hdr.ipv4, hdr.ipv6, hdr.tcp, meta, ack_check, synack, establishing,
                      standard_metadata.ingress_global_timestamp,
                      client_isn, cookie, cookie_ok, pending_hit);
        bool pending_ok = pending_hit && cookie_ok;
        bool passthrough_known = false;
        /* Undefended are auto services while calm and mode on services that fail open
         * while the controller is gone (heartbeat.p4); one that fails closed never is,
         * so the filter is not looked up for it. */
        if (!in_session && meta.svc_hit && !meta.svc_deny && hdr.tcp.isValid()
                && !meta.from_cpu && !refuse && !(meta.proxy_active && ctrl == TCP_SYN)
                && !(meta.proxy_active && meta.proxy_mode != PROXY_MODE_AUTO
                     && (meta.svc_flags & SVC_FLAG_FAIL_CLOSED) != 0)) {
            passthrough.apply(hdr.ipv4, hdr.ipv6, hdr.tcp, meta, passthrough_known);
        }

        /* ---------------------------------------------------------- decision */
        /* What the decision asks for, carried out after it (decide.p4). */
        bool send_cookie_digest = false;
        proxy_effects_t fx;
        fx.new_state = meta.state;
        fx.session_event = 0;
        fx.record = false;
        fx.server_wscale = server_wscale;
        fx.server_ack = false;
        fx.seqadj_mode = SEQADJ_NONE;
        fx.reply_kind = REPLY_NONE;
        fx.reply_seq = meta.sess_cookie;
        fx.reply_opts = 0;
        fx.reply_shift = meta.win_shift;
        fx.reply_tsval = 0;
        fx.reply_tsecr = 0;
        fx.punt_reason = 0;

        if (refuse) {
            /* ------------------------------------------------ never a reflector (D16) */
            mark_to_drop(standard_metadata);
            if (refuse_version) {
                meta.event = EV_DROP_MALFORMED;
            } else if (refuse_martian) {
                meta.event = EV_DROP_MARTIAN;
            } else {
                meta.event = EV_DROP_GROUP_MAC;
            }
            meta.done = true;
        } else if (overload_event != EV_NONE) {
            /* ------------------------------------------------ over a SYN meter (D15) */
            mark_to_drop(standard_metadata);
            meta.syn_in = true;
            meta.event = overload_event;
            meta.done = true;
        } else if (ack_check && cookie_ok && meta.controller_down) {
            /* ------------------------------------------------ fail closed (heartbeat.p4) */
            fx.reply_kind = REPLY_REFUSAL_RESET;
            standard_metadata.egress_spec = standard_metadata.ingress_port;
            meta.event = EV_CONTROLLER_DOWN_RESET;
            meta.done = true;
        } else if (ack_check && cookie_ok) {
            /* ------------------------------------------------ valid cookie ACK (D5) */
            if ((meta.svc_flags & SVC_FLAG_DEFER) != 0 && !meta.has_payload) {
                meta.event = EV_DROP_DEFER;
                mark_to_drop(standard_metadata);
            } else {
                send_cookie_digest = true;
                if (pending_ok && meta.has_payload && hdr.tcp.seq_no - 1 != client_isn) {
                    /* C4: a later segment, one the cookie check alone would refuse
                     * (the first segment counts as a valid ACK, as it always did). */
                    meta.event = EV_EARLY_DATA;
                } else if (reuse_check) {
                    meta.event = EV_REUSE_ACK;
                } else {
                    meta.event = EV_ACK_VALID;
                }
                if (meta.has_payload) {
                    /* C4: the controller holds the data until the session is up. */
                    fx.punt_reason = PUNT_COOKIE_DATA;
                } else {
                    mark_to_drop(standard_metadata);
                }
            }
            meta.done = true;
        } else if (in_session && meta.dir == DIR_CLIENT) {
            client_segment.apply(ctrl, meta, standard_metadata, fx);
        } else if (in_session && meta.dir == DIR_SERVER) {
            server_segment.apply(ctrl, hdr.tcp.seq_no, establishing, meta, standard_metadata,
                                 fx);
        } else {
            new_connection.apply(ctrl, hdr.tcp.isValid(), meta.ip_proto, synack, cookie,
                                 passthrough_known, meta, standard_metadata, fx);
        }

        /* ---------------------------------------------------------- controller meter (D15) */
        if (send_cookie_digest || fx.punt_reason != 0) {
            bit<32> cell = METER_CELL_PACKET_IN;
            if (send_cookie_digest) {
                cell = METER_CELL_DIGEST;
            }
            bool allowed;
            controller_meter.apply(cell, allowed);
            if (!allowed) {
                /* Neither the digest nor the PacketIn: the client sends again. */
                send_cookie_digest = false;
                fx.punt_reason = 0;
                mark_to_drop(standard_metadata);
                meta.event = EV_DROP_CONTROLLER_RATE;
                meta.done = true;
            }
        }

        /* ---------------------------------------------------------- effects */
        if (fx.record) {
            /* D8: the session's delta, tsoff and the server's window scale. */
            session_delta.write(meta.slot, meta.delta);
            session_tsoff.write(meta.slot, meta.tsoff);
            session_server_wscale.write(meta.slot, fx.server_wscale);
        }
        if (fx.server_ack) {
            /* D8: two packets out of one: the copy goes back to the server as the ACK
             * (built in egress, server_ack.p4, from these fields), this one becomes
             * the client's window update (or is dropped, for a retransmission). */
            meta.clone_has_ts = 0;
            if (meta.opt.has_timestamp) {
                meta.clone_has_ts = 1;
            }
            meta.clone_tsval = meta.opt.tsval;
            meta.clone_tsecr = meta.opt.tsecr;
            clone_preserving_field_list(CloneType.I2E,
                REFLECT_SESSION_BASE + (bit<32>)standard_metadata.ingress_port,
                FIELD_LIST_SERVER_ACK);
        }
        seqadj.apply(hdr, fx.seqadj_mode, meta.delta, meta.tsoff, fx.server_wscale,
                     meta.win_shift, meta.nat_addr, meta.nat_addr6, meta.nat_port,
                     meta.opt.has_timestamp, meta.opt.has_sack);
        /* The segment built in place of this one: the session's other address in its
         * family, the MSS clamped for IPv6 (D13). */
        ipv6_addr_t reply_addr = (bit<128>)meta.nat_addr;
        bit<16> reply_mss = meta.svc_mss;
        if (v6) {
            reply_addr = meta.nat_addr6;
            reply_mss = ipv6_synack_mss(meta.svc_mss);
        }
        bit<32> frame_len;
        reply.apply(hdr, fx.reply_kind, reply_addr, meta.nat_port, fx.reply_seq,
                    fx.reply_opts, meta.svc_window, fx.reply_shift, reply_mss, meta.svc_ttl,
                    meta.opt.has_timestamp, fx.reply_tsval, fx.reply_tsecr, frame_len);
        if (frame_len != 0 && v6) {
            IPV6_EXT_CLEAR(hdr)
        }
        if (fx.punt_reason != 0) {
            /* To the controller, with a packet_in header saying why. */
            standard_metadata.egress_spec = CPU_PORT_ID;
            hdr.packet_in.setValid();
            hdr.packet_in.ingress_port = standard_metadata.ingress_port;
            hdr.packet_in._pad0 = 0;
            hdr.packet_in.reason = fx.punt_reason;
            hdr.packet_in.slot = 0;
            if (fx.punt_reason == PUNT_EARLY_DATA) {
                hdr.packet_in.slot = meta.slot;
            }
        }
        if (fx.new_state != meta.state) {
            session_state.write(meta.slot, fx.new_state);
            if (fx.session_event == 0) {
                fx.session_event = SESSION_EV_STATE;   /* FINs, RST after the handshake */
            }
        }
        if (frame_len != 0) {
            truncate(frame_len);
        }
        digests.apply(hdr.ipv4, hdr.ipv6, hdr.tcp, meta, standard_metadata, send_cookie_digest,
                      client_isn, cookie, reuse_check, fx.session_event, fx.new_state);
    }
}

#endif
