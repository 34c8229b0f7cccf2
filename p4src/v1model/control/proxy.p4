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
 * Pending handshakes (C4). The cookie check recomputes the MAC with isn = seq - 1,
 * which holds for the handshake ACK and the first data segment only. When the
 * controller lags, later segments of a request reach the switch before the session
 * exists; so a validated ACK leaves (4-tuple, cookie, isn, time) in a small hashed
 * memory, and a segment of exactly that 4-tuple with ack - 1 == that cookie, within
 * PENDING_LIFETIME, has its cookie checked with the stored ISN instead of seq - 1.
 * The entry only proposes an ISN: the MAC is always checked, with the keys accepted
 * now, so a slot shared with another 4-tuple (the index is a CRC, which an attacker
 * can make collide), a key rotated out since, or a stale entry vouch for nothing.
 * The server SYN/ACK that establishes the session clears the entry, so a later
 * segment of a connection that is closing can never pass for a new one. The hash
 * runs only on the ACK-check path and at that SYN/ACK: established traffic pays
 * nothing.
 *
 * D16, never a reflector: a packet to a VIP from a martian source (martians.p4) or
 * a group source MAC, or with an IP version other than 4, is dropped and counted
 * before anything else looks at it: no SYN/ACK, no digest, no register touched.
 */
#ifndef SYNPROXY_CONTROL_PROXY_P4
#define SYNPROXY_CONTROL_PROXY_P4

/* D11: the state after a segment of an established session. Approximate by design:
 * only the controller's timeouts end a session, so an early TIME_WAIT (an ACK that
 * crossed the second FIN) costs nothing. */
SessionState_t session_next_state(in SessionState_t state, in bit<8> ctrl,
                                  in bool from_client) {
    SessionState_t next = state;
    if ((ctrl & TCP_RST) != 0) {
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

/* D8: what the copy of a server SYN/ACK carries into egress (server_ack.p4), where
 * it becomes the ACK that completes the server handshake. */
void server_ack_prepare(inout local_metadata_t meta) {
    meta.clone_has_ts = 0;
    if (meta.opt.has_timestamp) {
        meta.clone_has_ts = 1;
    }
    meta.clone_tsval = meta.opt.tsval;
    meta.clone_tsecr = meta.opt.tsecr;
}

/* Our TSval clock: the ingress clock (microseconds) in units of 1.024 ms. */
bit<32> our_tsval(in bit<48> ingress_timestamp) {
    return (bit<32>)(ingress_timestamp >> 10);
}

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

    /* C8: connections opened while a service was not defended have no session and
     * no cookie; without this filter, turning the defence on would cut them all.
     * While a service passes traffic, every client segment marks the cell of its
     * flow with its 4-tuple; while it is defended, a segment that is not a valid
     * cookie ACK but whose own 4-tuple marks its cell is passed as before. The
     * tuple is compared in full (D16): the index is a CRC, and a spoofer who marked
     * one cell while the service was calm could otherwise aim a whole flood of
     * colliding tuples through it. The price: two live flows in one cell hold it
     * by turns (the last segment wins), and the other is cut when the defence
     * comes on, as every connection would be without the filter.
     * A cell is "set" when it holds the current epoch (passthrough_epoch below), so
     * the controller clears the whole filter, when the defence has been off long
     * enough for its flows to be gone, by moving to the next epoch (1..255: 0 is
     * what a never-written cell holds). */
    @id(ID_REGISTER_PASSTHROUGH_FLOWS)
    register<bit<8>>(FLOW_FILTER_SIZE) passthrough_flows;
    /* The 4-tuple that set each cell: src, dst, sport ++ dport. */
    @id(ID_REGISTER_PASSTHROUGH_SRC)
    register<bit<32>>(FLOW_FILTER_SIZE) passthrough_src;
    @id(ID_REGISTER_PASSTHROUGH_DST)
    register<bit<32>>(FLOW_FILTER_SIZE) passthrough_dst;
    @id(ID_REGISTER_PASSTHROUGH_PORTS)
    register<bit<32>>(FLOW_FILTER_SIZE) passthrough_ports;

    @id(ID_ACTION_SET_PASSTHROUGH_EPOCH)
    action set_passthrough_epoch(bit<8> epoch) {
        meta.passthrough_epoch = epoch;
    }

    /* C8: keyless; the controller modifies the default action to bump the epoch.
     * No direct counter: a keyless table has no entries to count. */
    @id(ID_TABLE_PASSTHROUGH_EPOCH)
    table passthrough_epoch {
        actions = {
            @defaultonly set_passthrough_epoch;
        }
        default_action = set_passthrough_epoch(1);
        size = 1;
    }

    /* C4: pending handshakes, indexed by crc16(client, VIP, cport, vport) mod
     * PENDING_SIZE. The index is only where to look: pending_client, pending_vip
     * and pending_ports (cport ++ vport) hold the 4-tuple itself, compared in full.
     * pending_cookie: the validated cookie (ack - 1); pending_isn: the client ISN
     * (seq - 1 of the validated segment); pending_since: when it was stored, on the
     * pending clock below (0: empty). Written only by the data plane. */
    @id(ID_REGISTER_PENDING_CLIENT)
    register<bit<32>>(PENDING_SIZE) pending_client;
    @id(ID_REGISTER_PENDING_VIP)
    register<bit<32>>(PENDING_SIZE) pending_vip;
    @id(ID_REGISTER_PENDING_PORTS)
    register<bit<32>>(PENDING_SIZE) pending_ports;
    @id(ID_REGISTER_PENDING_COOKIE)
    register<bit<32>>(PENDING_SIZE) pending_cookie;
    @id(ID_REGISTER_PENDING_ISN)
    register<bit<32>>(PENDING_SIZE) pending_isn;
    @id(ID_REGISTER_PENDING_SINCE)
    register<bit<64>>(PENDING_SIZE) pending_since;
    /* C4: a clock that does not wrap, for the entries' age: era (16) ++ the last
     * 48-bit ingress timestamp (microseconds) seen on the ACK-check path. The era
     * counts the wraps of the ingress clock (one per 8.9 years), so an age is
     * measured in 64 bits and an expired entry stays expired. */
    @id(ID_REGISTER_PENDING_CLOCK)
    register<bit<64>>(1) pending_clock;

    CookieCheck() cookie_check;

    apply {
        /* ---------------------------------------------------------- facts (D1) */
        bit<8> ctrl = 0;
        if (hdr.tcp.isValid()) {
            ctrl = hdr.tcp.flags & TCP_CTRL_MASK;
        }
        meta.malformed = standard_metadata.parser_error != error.NoError
                         || meta.ip_bad_version;
        bit<16> ip_hdr_len = ((bit<16>)hdr.ipv4.ihl) << 2;
        if (hdr.ipv4.total_len < ip_hdr_len
                || (bit<32>)hdr.ipv4.total_len + (bit<32>)meta.l2_len
                   > standard_metadata.packet_length) {
            meta.malformed = true;   /* lengths that do not fit the frame */
        } else {
            meta.ip_payload_len = hdr.ipv4.total_len - ip_hdr_len;
        }
        if (hdr.tcp.isValid() && !meta.malformed) {
            bit<16> tcp_hdr_len = ((bit<16>)hdr.tcp.data_offset) << 2;
            if (meta.ip_payload_len < tcp_hdr_len) {
                meta.malformed = true;
            } else {
                meta.has_payload = meta.ip_payload_len > tcp_hdr_len;
            }
        }

        /* ---------------------------------------------------------- sources (D16) */
        /* To a VIP (or in a session) from where no honest host sends, or not IPv4:
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
        /* D8: the server SYN/ACK that establishes the session (handled below). */
        bool establishing = in_session && meta.dir == DIR_SERVER
                            && ctrl == (TCP_SYN | TCP_ACK) && meta.state == SESSION_SYN_SENT;

        /* ---------------------------------------------------------- pending handshake (C4) */
        bit<32> client_isn = hdr.tcp.seq_no - 1;
        bool pending_hit = false;   /* this 4-tuple's entry, same cookie, not expired */
        bit<32> pending_index = 0;
        bit<64> now = 0;
        if (ack_check) {
            /* The pending clock: a drop of the 48-bit ingress clock by more than half
             * its range is a wrap (one packet slightly out of order is not). */
            bit<64> clock;
            pending_clock.read(clock, 0);
            bit<16> era = clock[63:48];
            bit<48> last = clock[47:0];
            bit<48> ts = standard_metadata.ingress_global_timestamp;
            if (ts < last && last - ts > PENDING_CLOCK_HALF) {
                era = era + 1;
            }
            if (ts > last || era != clock[63:48]) {
                pending_clock.write(0, era ++ ts);
            }
            now = era ++ ts;
        }
        if (ack_check || establishing) {
            /* The client's 4-tuple as the client sends it. At the server SYN/ACK it is
             * (client, VIP, cport, vport): the server entry's vip_addr/vip_port are the
             * VIP's in NAT and in transparent mode alike. */
            ipv4_addr_t p_client = hdr.ipv4.src_addr;
            ipv4_addr_t p_vip = hdr.ipv4.dst_addr;
            l4_port_t p_cport = hdr.tcp.src_port;
            l4_port_t p_vport = hdr.tcp.dst_port;
            if (establishing) {
                p_client = hdr.ipv4.dst_addr;
                p_vip = meta.nat_addr;
                p_cport = hdr.tcp.dst_port;
                p_vport = meta.nat_port;
            }
            hash(pending_index, HashAlgorithm.crc16, 32w0,
                 { p_client, p_vip, p_cport, p_vport }, PENDING_SIZE);
            bit<32> stored_client;
            bit<32> stored_vip;
            bit<32> stored_ports;
            pending_client.read(stored_client, pending_index);
            pending_vip.read(stored_vip, pending_index);
            pending_ports.read(stored_ports, pending_index);
            /* Exactly this 4-tuple: the index alone is a CRC, which collides at will. */
            if (stored_client == p_client && stored_vip == p_vip
                    && stored_ports == (p_cport ++ p_vport)) {
                if (establishing) {
                    pending_since.write(pending_index, 0);
                } else {
                    bit<32> stored_cookie;
                    bit<64> since;
                    pending_cookie.read(stored_cookie, pending_index);
                    pending_since.read(since, pending_index);
                    /* Age in 64 bits, never modular: it cannot wrap back to young. */
                    if (since != 0 && stored_cookie == hdr.tcp.ack_no - 1
                            && now >= since && now - since < PENDING_LIFETIME) {
                        pending_hit = true;
                        pending_isn.read(client_isn, pending_index);
                    }
                }
            }
        }
        /* D5: one MAC per ACK, with the pending entry's ISN if it has one for this
         * segment, else seq - 1. The MAC covers the 4-tuple and the epoch: a pending
         * entry validates nothing the keys accepted now would refuse. */
        bool cookie_ok = false;
        if (ack_check) {
            cookie_check.apply(hdr.ipv4, hdr.tcp, meta, client_isn, cookie_ok);
            if (cookie_ok && !pending_hit) {
                /* A slot shared by another flow (hash collision) is taken over: that
                 * flow's later segments then need their cookie check, as before C4. */
                pending_client.write(pending_index, hdr.ipv4.src_addr);
                pending_vip.write(pending_index, hdr.ipv4.dst_addr);
                pending_ports.write(pending_index, hdr.tcp.src_port ++ hdr.tcp.dst_port);
                pending_cookie.write(pending_index, hdr.tcp.ack_no - 1);
                pending_isn.write(pending_index, client_isn);
                pending_since.write(pending_index, now);
            }
        }
        bool pending_ok = pending_hit && cookie_ok;
        bool passthrough_known = false;
        /* Undefended are auto services while calm and mode on services that fail open
         * while the controller is gone (heartbeat.p4); one that fails closed never is,
         * so the filter is not looked up for it. */
        if (!in_session && meta.svc_hit && !meta.svc_deny && hdr.tcp.isValid()
                && !meta.from_cpu && !refuse && !(meta.proxy_active && ctrl == TCP_SYN)
                && !(meta.proxy_active && meta.proxy_mode != PROXY_MODE_AUTO
                     && (meta.svc_flags & SVC_FLAG_FAIL_CLOSED) != 0)) {
            bit<32> flow_cell;
            hash(flow_cell, HashAlgorithm.crc32, 32w0,
                 { hdr.ipv4.src_addr, hdr.ipv4.dst_addr, hdr.tcp.src_port, hdr.tcp.dst_port },
                 FLOW_FILTER_SIZE);
            passthrough_epoch.apply();
            bit<32> flow_ports = (hdr.tcp.src_port ++ hdr.tcp.dst_port);
            if (meta.proxy_active) {
                bit<8> seen;
                bit<32> seen_src;
                bit<32> seen_dst;
                bit<32> seen_ports;
                passthrough_flows.read(seen, flow_cell);
                passthrough_src.read(seen_src, flow_cell);
                passthrough_dst.read(seen_dst, flow_cell);
                passthrough_ports.read(seen_ports, flow_cell);
                /* Epoch 0 would find every never-written cell: it marks nothing. */
                passthrough_known = seen == meta.passthrough_epoch && seen != 0
                                    && seen_src == hdr.ipv4.src_addr
                                    && seen_dst == hdr.ipv4.dst_addr
                                    && seen_ports == flow_ports;
            } else {
                passthrough_flows.write(flow_cell, meta.passthrough_epoch);
                passthrough_src.write(flow_cell, hdr.ipv4.src_addr);
                passthrough_dst.write(flow_cell, hdr.ipv4.dst_addr);
                passthrough_ports.write(flow_cell, flow_ports);
            }
        }

        SessionState_t new_state = meta.state;
        bit<8> session_event = 0;
        bool send_cookie_digest = false;
        bit<32> frame_len = 0;

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
        } else if (ack_check && cookie_ok && meta.controller_down) {
            /* ------------------------------------------------ fail closed (heartbeat.p4) */
            frame_len = build_refusal_reset(hdr, meta.svc_ttl);
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
                    punt_to_cpu(hdr, standard_metadata, PUNT_COOKIE_DATA, 0);
                } else {
                    mark_to_drop(standard_metadata);
                }
            }
            meta.done = true;
        } else if (in_session && meta.dir == DIR_CLIENT) {
            /* ------------------------------------------------ client -> server */
            if (ctrl == TCP_SYN && !meta.from_cpu) {
                meta.syn_in = true;   /* D12: SYN_IN counts every client SYN */
            }
            if (meta.from_cpu) {
                /* The controller's server SYN (NAT only), or held client data. */
                seqadj_client_to_server(hdr, (ctrl & TCP_SYN) == 0, meta.delta, meta.tsoff,
                                        meta.nat_addr, meta.nat_port);
                meta.route = true;
                meta.event = EV_TRANSLATED_C2S;
            } else if (meta.state == SESSION_SYN_SENT) {
                if ((ctrl & (TCP_RST | TCP_FIN)) != 0) {
                    /* D10: the client gave up: reset the server side. */
                    frame_len = build_server_reset(hdr, meta.nat_addr, meta.nat_port);
                    new_state = SESSION_CLOSE;
                    session_event = SESSION_EV_CLIENT_ABORT;
                    meta.event = EV_CLIENT_ABORT;
                    meta.route = true;
                } else if (meta.has_payload && (ctrl & TCP_SYN) == 0) {
                    /* C4: early data, held by the controller. */
                    punt_to_cpu(hdr, standard_metadata, PUNT_EARLY_DATA, meta.slot);
                    meta.event = EV_EARLY_DATA;
                    meta.done = true;
                } else {
                    mark_to_drop(standard_metadata);
                    meta.event = EV_DROP_HANDSHAKE;
                    meta.done = true;
                }
            } else if ((ctrl & TCP_SYN) != 0) {
                mark_to_drop(standard_metadata);
                meta.event = EV_DROP_HANDSHAKE;
                meta.done = true;
            } else {
                seqadj_client_to_server(hdr, true, meta.delta, meta.tsoff,
                                        meta.nat_addr, meta.nat_port);
                new_state = session_next_state(meta.state, ctrl, true);
                meta.route = true;
                if (meta.malformed) {
                    meta.event = EV_MALFORMED_PASSED;
                } else {
                    meta.event = EV_TRANSLATED_C2S;
                }
            }
        } else if (in_session && meta.dir == DIR_SERVER) {
            /* ------------------------------------------------ server -> client */
            if (establishing) {
                /* D8: the sign convention: client-space + delta = server-space. The
                 * pending handshake entry, if still this flow's, was emptied above. */
                meta.delta = hdr.tcp.seq_no - meta.sess_cookie;
                meta.tsoff = 0;
                if (meta.opt.has_timestamp) {
                    meta.tsoff = meta.ts_base - meta.opt.tsval;
                }
                session_delta.write(meta.slot, meta.delta);
                session_tsoff.write(meta.slot, meta.tsoff);
                server_wscale = 0;
                if (meta.opt.has_wscale) {
                    server_wscale = meta.opt.wscale;
                    if (server_wscale > TCP_WSCALE_MAX) {
                        server_wscale = TCP_WSCALE_MAX;
                    }
                }
                session_server_wscale.write(meta.slot, server_wscale);
                new_state = SESSION_ESTABLISHED;
                session_event = SESSION_EV_ESTABLISHED;
                meta.event = EV_SESSION_ESTABLISHED;
                /* Two packets out of one: the copy goes back to the server as the ACK
                 * (built in egress), this one becomes the client's window update. */
                server_ack_prepare(meta);
                clone_preserving_field_list(CloneType.I2E,
                    REFLECT_SESSION_BASE + (bit<32>)standard_metadata.ingress_port,
                    FIELD_LIST_SERVER_ACK);
                frame_len = build_window_update(hdr, meta.nat_addr, meta.nat_port,
                                                meta.sess_cookie, meta.win_shift,
                                                meta.opt.has_timestamp,
                                                meta.opt.tsval + meta.tsoff, meta.opt.tsecr);
                meta.route = true;
            } else if (ctrl == (TCP_SYN | TCP_ACK) && meta.state == SESSION_ESTABLISHED) {
                /* Our ACK to the server was lost: send it again, nothing to the client. */
                server_ack_prepare(meta);
                clone_preserving_field_list(CloneType.I2E,
                    REFLECT_SESSION_BASE + (bit<32>)standard_metadata.ingress_port,
                    FIELD_LIST_SERVER_ACK);
                mark_to_drop(standard_metadata);
                meta.event = EV_SERVER_SYNACK_RETX;
                meta.done = true;
            } else if (meta.state == SESSION_SYN_SENT) {
                if ((ctrl & TCP_RST) != 0) {
                    /* D10: relay the refusal in the client's sequence space. */
                    frame_len = build_client_reset(hdr, meta.nat_addr, meta.nat_port,
                                                   meta.sess_cookie);
                    new_state = SESSION_CLOSE;
                    session_event = SESSION_EV_SERVER_RESET;
                    meta.event = EV_SERVER_RESET;
                    meta.route = true;
                } else {
                    mark_to_drop(standard_metadata);
                    meta.event = EV_DROP_HANDSHAKE;
                    meta.done = true;
                }
            } else {
                seqadj_server_to_client(hdr, meta.delta, meta.tsoff,
                                        server_wscale, meta.win_shift,
                                        meta.nat_addr, meta.nat_port);
                new_state = session_next_state(meta.state, ctrl, false);
                meta.route = true;
                if (meta.malformed) {
                    meta.event = EV_MALFORMED_PASSED;
                } else {
                    meta.event = EV_TRANSLATED_S2C;
                }
            }
        } else if (meta.svc_deny && !meta.from_cpu) {
            /* ------------------------------------------------ denied (D6, D15) */
            if (meta.is_fragment) {
                meta.event = EV_DROP_FRAGMENT;
            } else if (hdr.ipv4.protocol == IP_PROTO_UDP) {
                meta.event = EV_DROP_UDP;
            } else {
                meta.event = EV_DROP_POLICY;
            }
            mark_to_drop(standard_metadata);
            meta.done = true;
        } else if (meta.svc_hit && hdr.tcp.isValid() && !meta.from_cpu) {
            /* ------------------------------------------------ new connection */
            if (ctrl == TCP_SYN) {
                meta.syn_in = true;
            }
            if (!meta.proxy_active) {
                /* Not defended: plain forwarding (NAT services: nat.p4); SYNs counted
                 * for AUTO (C8). */
                meta.passed = true;
                if (ctrl == TCP_SYN) {
                    meta.event = EV_SYN_PASSED;
                }
            } else if (passthrough_known && ctrl != TCP_SYN) {
                /* A connection from before the defence: forwarded, unproxied. */
                meta.passed = true;
                meta.event = EV_PASSTHROUGH;
            } else if (meta.malformed) {
                /* Never answered (D1). */
                mark_to_drop(standard_metadata);
                meta.event = EV_DROP_MALFORMED;
                meta.done = true;
            } else if (ctrl == TCP_SYN) {
                if (meta.keys_set) {
                    /* D3, D4: SYN/ACK with seq = cookie, sent back where it came from. */
                    bit<8> opts = cookie_encode_options(meta.opt, meta.svc_flags);
                    bit<32> cookie = cookie_make(meta.key0, meta.key1, meta.epoch,
                                                 hdr.ipv4.src_addr, hdr.ipv4.dst_addr,
                                                 hdr.tcp.src_port, hdr.tcp.dst_port,
                                                 hdr.tcp.seq_no, opts);
                    bit<32> tsval = our_tsval(standard_metadata.ingress_global_timestamp);
                    frame_len = build_synack(hdr, cookie, opts, meta.svc_mss, meta.svc_wscale,
                                             meta.svc_window, meta.svc_ttl, tsval,
                                             meta.opt.tsval);
                    standard_metadata.egress_spec = standard_metadata.ingress_port;
                    meta.event = EV_SYNACK_SENT;
                } else {
                    mark_to_drop(standard_metadata);
                    meta.event = EV_DROP_NO_KEY;
                }
                meta.done = true;
            } else if (ctrl == TCP_ACK) {
                /* D5: not a valid cookie. */
                mark_to_drop(standard_metadata);
                meta.event = EV_ACK_INVALID;
                meta.done = true;
            } else {
                /* D6: ACK/RST/FIN/data floods and odd flag mixes. */
                mark_to_drop(standard_metadata);
                meta.event = EV_DROP_NO_SESSION;
                meta.done = true;
            }
        }

        /* ---------------------------------------------------------- effects */
        if (new_state != meta.state) {
            session_state.write(meta.slot, new_state);
            if (session_event == 0) {
                session_event = SESSION_EV_STATE;   /* FINs, RST after the handshake */
            }
        }
        if (frame_len != 0) {
            truncate(frame_len);
        }
        if (send_cookie_digest) {
            bit<32> cookie = hdr.tcp.ack_no - 1;
            cookie_ack_digest_t d;
            d.client_addr = hdr.ipv4.src_addr;
            d.vip_addr = hdr.ipv4.dst_addr;
            d.client_port = hdr.tcp.src_port;
            d.vip_port = hdr.tcp.dst_port;
            d.client_isn = client_isn;   /* seq - 1, or the pending entry's */
            d.cookie = cookie;
            d.mss = cookie_decode_mss(cookie[7:6]);
            d.wscale = (bit<8>)cookie[5:2];
            d.sack_ok = cookie[1:1];
            d.ts_ok = cookie[0:0];
            d.has_payload = 0;
            if (meta.has_payload) {
                d.has_payload = 1;
            }
            d._pad0 = 0;
            d.client_window = hdr.tcp.window;
            d.client_tsval = meta.opt.tsval;
            d.client_tsecr = meta.opt.tsecr;
            d.ingress_port = standard_metadata.ingress_port;
            d.service_id = meta.service_id;
            d.old_slot = 0;
            d.old_state = SESSION_NONE;
            if (reuse_check) {
                d.old_slot = meta.slot;
                d.old_state = meta.state;
            }
            digest<cookie_ack_digest_t>(1, d);
        }
        if (session_event != 0) {
            session_event_digest_t e;
            e.slot = meta.slot;
            e.event = session_event;
            e.delta = meta.delta;
            e.tsoff = meta.tsoff;
            e.client_addr = hdr.ipv4.dst_addr;
            e.client_port = hdr.tcp.dst_port;
            e.state = new_state;
            e.gen = meta.gen;
            if (meta.dir == DIR_CLIENT) {
                e.client_addr = hdr.ipv4.src_addr;
                e.client_port = hdr.tcp.src_port;
            }
            digest<session_event_digest_t>(1, e);
        }
    }
}

#endif
