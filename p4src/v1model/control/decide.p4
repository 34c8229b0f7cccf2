/*
 * SynProxy's decisions (proxy.p4), one control per kind of segment: of a session, from
 * the client or from the server, and without one (to a service). Each sets the
 * packet's fate in `meta` and `standard_metadata` (event, drop, route, done) and asks
 * for the rest in `fx`, which SynProxy carries out after the decision, each in one
 * place: the new session state and its digest, the registers of an established
 * session, the clone that becomes the ACK to the server, the translation (Seqadj), the
 * segment built in place of this one (SegmentReply), the PacketIn. No header is
 * passed to them: what they read of the segment comes as values. Before them,
 * SegmentFacts states the facts of the segment; after them, ProxyDigests sends the
 * digests. Each is applied from one place (no copy of its arguments).
 */
#ifndef SYNPROXY_CONTROL_DECIDE_P4
#define SYNPROXY_CONTROL_DECIDE_P4

/* What a decision asks SynProxy to do. */
struct proxy_effects_t {
    SessionState_t new_state;   /* the slot's state after the segment */
    bit<8>  session_event;      /* SESSION_EV_*; 0: STATE if new_state differs, else none */
    bool    record;             /* D8: write delta, tsoff and server_wscale to the slot */
    bit<8>  server_wscale;      /* the server's window scale (read, or its SYN/ACK's) */
    bool    server_ack;         /* D8: clone the server SYN/ACK, the ACK to it in egress */
    bit<8>  seqadj_mode;        /* SEQADJ_* (seqadj.p4) */
    bit<8>  reply_kind;         /* REPLY_* (reply.p4), with the five below */
    bit<32> reply_seq;
    bit<8>  reply_opts;
    bit<8>  reply_shift;
    bit<32> reply_tsval;
    bit<32> reply_tsecr;
    bit<8>  punt_reason;        /* PUNT_*: to the controller; 0: not */
}

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

/* Our TSval clock: the ingress clock (microseconds) in units of 1.024 ms. */
bit<32> our_tsval(in bit<48> ingress_timestamp) {
    return (bit<32>)(ingress_timestamp >> 10);
}

/* A client segment of a session (the controller's own, from_cpu, included). */
control ClientSegment(in bit<8> ctrl, inout local_metadata_t meta,
                      inout standard_metadata_t standard_metadata,
                      inout proxy_effects_t fx) {
    apply {
        if (ctrl == TCP_SYN && !meta.from_cpu) {
            meta.syn_in = true;   /* D12: SYN_IN counts every client SYN */
        }
        if (meta.from_cpu) {
            /* The controller's server SYN (NAT only), or held client data. */
            fx.seqadj_mode = SEQADJ_C2S;
            if ((ctrl & TCP_SYN) != 0) {
                fx.seqadj_mode = SEQADJ_C2S_NAT;
            }
            meta.route = true;
            meta.event = EV_TRANSLATED_C2S;
        } else if (meta.state == SESSION_SYN_SENT) {
            if ((ctrl & (TCP_RST | TCP_FIN)) != 0) {
                /* D10: the client gave up: reset the server side. */
                fx.reply_kind = REPLY_SERVER_RESET;
                fx.new_state = SESSION_CLOSE;
                fx.session_event = SESSION_EV_CLIENT_ABORT;
                meta.event = EV_CLIENT_ABORT;
                meta.route = true;
            } else if (meta.has_payload && (ctrl & TCP_SYN) == 0) {
                /* C4: early data, held by the controller. */
                fx.punt_reason = PUNT_EARLY_DATA;
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
            fx.seqadj_mode = SEQADJ_C2S;
            fx.new_state = session_next_state(meta.state, ctrl, true);
            meta.route = true;
            if (meta.malformed) {
                meta.event = EV_MALFORMED_PASSED;
            } else {
                meta.event = EV_TRANSLATED_C2S;
            }
        }
    }
}

/* A server segment of a session. `establishing`: its SYN/ACK in SYN_SENT (D8). */
control ServerSegment(in bit<8> ctrl, in bit<32> seq, in bool establishing,
                      inout local_metadata_t meta,
                      inout standard_metadata_t standard_metadata,
                      inout proxy_effects_t fx) {
    apply {
        if (establishing) {
            /* D8: the sign convention: client-space + delta = server-space. The
             * pending handshake entry, if still this flow's, was emptied before. */
            meta.delta = seq - meta.sess_cookie;
            meta.tsoff = 0;
            if (meta.opt.has_timestamp) {
                meta.tsoff = meta.ts_base - meta.opt.tsval;
            }
            fx.server_wscale = 0;
            if (meta.opt.has_wscale) {
                fx.server_wscale = meta.opt.wscale;
                if (fx.server_wscale > TCP_WSCALE_MAX) {
                    fx.server_wscale = TCP_WSCALE_MAX;
                }
            }
            fx.record = true;
            fx.new_state = SESSION_ESTABLISHED;
            fx.session_event = SESSION_EV_ESTABLISHED;
            meta.event = EV_SESSION_ESTABLISHED;
            /* Two packets out of one: the copy goes back to the server as the ACK
             * (built in egress), this one becomes the client's window update. */
            fx.server_ack = true;
            fx.reply_kind = REPLY_WINDOW_UPDATE;
            fx.reply_tsval = meta.opt.tsval + meta.tsoff;
            fx.reply_tsecr = meta.opt.tsecr;
            meta.route = true;
        } else if (ctrl == (TCP_SYN | TCP_ACK) && meta.state == SESSION_ESTABLISHED) {
            /* Our ACK to the server was lost: send it again, nothing to the client. */
            fx.server_ack = true;
            mark_to_drop(standard_metadata);
            meta.event = EV_SERVER_SYNACK_RETX;
            meta.done = true;
        } else if (meta.state == SESSION_SYN_SENT) {
            if ((ctrl & TCP_RST) != 0) {
                /* D10: relay the refusal in the client's sequence space. */
                fx.reply_kind = REPLY_CLIENT_RESET;
                fx.new_state = SESSION_CLOSE;
                fx.session_event = SESSION_EV_SERVER_RESET;
                meta.event = EV_SERVER_RESET;
                meta.route = true;
            } else {
                mark_to_drop(standard_metadata);
                meta.event = EV_DROP_HANDSHAKE;
                meta.done = true;
            }
        } else {
            fx.seqadj_mode = SEQADJ_S2C;
            fx.new_state = session_next_state(meta.state, ctrl, false);
            meta.route = true;
            if (meta.malformed) {
                meta.event = EV_MALFORMED_PASSED;
            } else {
                meta.event = EV_TRANSLATED_S2C;
            }
        }
    }
}

/* A segment to a service without a session (or a client SYN on a closing one): denied,
 * passed while undefended or as a flow from before the defence (C8), answered with a
 * SYN/ACK (`synack`, with `cookie`), or dropped. An ACK with a valid cookie never
 * comes here (SynProxy decides it). */
control NewConnection(in bit<8> ctrl, in bool tcp_valid, in bit<8> ip_proto,
                      in bool synack, in bit<32> cookie, in bool passthrough_known,
                      inout local_metadata_t meta,
                      inout standard_metadata_t standard_metadata,
                      inout proxy_effects_t fx) {
    apply {
    if (meta.svc_deny && !meta.from_cpu) {
        /* ------------------------------------------------ denied (D6, D15) */
        if (meta.is_fragment) {
            meta.event = EV_DROP_FRAGMENT;
        } else if (ip_proto == IP_PROTO_UDP) {
            meta.event = EV_DROP_UDP;
        } else {
            meta.event = EV_DROP_POLICY;
        }
        mark_to_drop(standard_metadata);
        meta.done = true;
    } else if (meta.svc_hit && tcp_valid && !meta.from_cpu) {
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
            if (synack) {
                /* D3, D4: SYN/ACK with seq = cookie, sent back where it came from. */
                fx.reply_kind = REPLY_SYNACK;
                fx.reply_seq = cookie;
                fx.reply_opts = cookie[7:0];
                fx.reply_shift = meta.svc_wscale;
                fx.reply_tsval = our_tsval(standard_metadata.ingress_global_timestamp);
                fx.reply_tsecr = meta.opt.tsval;
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
    }
}

/* D1: the facts of a segment: its control flags (`ctrl`: TCP_CTRL_MASK of its
 * flags, 0 without TCP) and, in meta, whether it is malformed (a parser error, an IP
 * version other than the ether type's, lengths that do not fit the frame or each
 * other), its IP payload length (IPv6: after the extension headers followed) and
 * whether it carries data. */
control SegmentFacts(in ipv4_t ip, in ipv6_t ip6, in tcp_t tcp,
                     in standard_metadata_t standard_metadata,
                     inout local_metadata_t meta, out bit<8> ctrl) {
    apply {
        ctrl = 0;
        if (tcp.isValid()) {
            ctrl = tcp.flags & TCP_CTRL_MASK;
        }
        meta.malformed = standard_metadata.parser_error != error.NoError
                         || meta.ip_bad_version;
        if (ip6.isValid()) {
            if (ip6.payload_len < meta.ipv6_ext_len
                    || (bit<32>)ip6.payload_len + (bit<32>)IPV6_HDR_LEN + (bit<32>)meta.l2_len
                       > standard_metadata.packet_length) {
                meta.malformed = true;   /* lengths that do not fit the frame */
            } else {
                meta.ip_payload_len = ip6.payload_len - meta.ipv6_ext_len;
            }
        } else {
            bit<16> ip_hdr_len = ((bit<16>)ip.ihl) << 2;
            if (ip.total_len < ip_hdr_len
                    || (bit<32>)ip.total_len + (bit<32>)meta.l2_len
                       > standard_metadata.packet_length) {
                meta.malformed = true;   /* lengths that do not fit the frame */
            } else {
                meta.ip_payload_len = ip.total_len - ip_hdr_len;
            }
        }
        if (tcp.isValid() && !meta.malformed) {
            bit<16> tcp_hdr_len = ((bit<16>)tcp.data_offset) << 2;
            if (meta.ip_payload_len < tcp_hdr_len) {
                meta.malformed = true;
            } else {
                meta.has_payload = meta.ip_payload_len > tcp_hdr_len;
            }
        }
    }
}

/* The digests of a segment (p4src/README.md, "Digests"): cookie_ack_digest_t for a
 * valid cookie ACK (`cookie_digest`; `reuse`: on a closing session, C5), and
 * session_event_digest_t for every change of a slot's state (`session_event` != 0);
 * their _v6 twins for an IPv6 segment (D13), the same fields, the addresses 128 bits
 * wide and the MSS from the IPv6 table. */
control ProxyDigests(in ipv4_t ip, in ipv6_t ip6, in tcp_t tcp, in local_metadata_t meta,
                     in standard_metadata_t standard_metadata, in bool cookie_digest,
                     in bit<32> client_isn, in bit<32> cookie, in bool reuse,
                     in bit<8> session_event, in SessionState_t new_state) {
    apply {
        /* Nothing to do for most segments (established traffic pays nothing). */
        if (cookie_digest || session_event != 0) {
            bool v6 = ip6.isValid();
            bit<1> has_payload = 0;
            if (meta.has_payload) {
                has_payload = 1;
            }
            SlotId_t old_slot = 0;
            SessionState_t old_state = SESSION_NONE;
            if (reuse) {
                old_slot = meta.slot;
                old_state = meta.state;
            }
            /* The session's client: the source of a client segment, else the
             * destination. */
            bool from_client = meta.dir == DIR_CLIENT;
            l4_port_t client_port = tcp.dst_port;
            if (from_client) {
                client_port = tcp.src_port;
            }
            if (cookie_digest && v6) {
                cookie_ack_digest_v6_t d6;
                d6.client_addr = ip6.src_addr;
                d6.vip_addr = ip6.dst_addr;
                d6.client_port = tcp.src_port;
                d6.vip_port = tcp.dst_port;
                d6.client_isn = client_isn;
                d6.cookie = cookie;
                d6.mss = cookie_decode_mss6(cookie[7:6]);
                d6.wscale = (bit<8>)cookie[5:2];
                d6.sack_ok = cookie[1:1];
                d6.ts_ok = cookie[0:0];
                d6.has_payload = has_payload;
                d6._pad0 = 0;
                d6.client_window = tcp.window;
                d6.client_tsval = meta.opt.tsval;
                d6.client_tsecr = meta.opt.tsecr;
                d6.ingress_port = standard_metadata.ingress_port;
                d6.service_id = meta.service_id;
                d6.old_slot = old_slot;
                d6.old_state = old_state;
                digest<cookie_ack_digest_v6_t>(1, d6);
            } else if (cookie_digest) {
                /* cookie_ok: the MAC's cookie is ack - 1. */
                cookie_ack_digest_t d;
                d.client_addr = ip.src_addr;
                d.vip_addr = ip.dst_addr;
                d.client_port = tcp.src_port;
                d.vip_port = tcp.dst_port;
                d.client_isn = client_isn;   /* seq - 1, or the pending entry's */
                d.cookie = cookie;
                d.mss = cookie_decode_mss(cookie[7:6]);
                d.wscale = (bit<8>)cookie[5:2];
                d.sack_ok = cookie[1:1];
                d.ts_ok = cookie[0:0];
                d.has_payload = has_payload;
                d._pad0 = 0;
                d.client_window = tcp.window;
                d.client_tsval = meta.opt.tsval;
                d.client_tsecr = meta.opt.tsecr;
                d.ingress_port = standard_metadata.ingress_port;
                d.service_id = meta.service_id;
                d.old_slot = old_slot;
                d.old_state = old_state;
                digest<cookie_ack_digest_t>(1, d);
            }
            if (session_event != 0 && v6) {
                session_event_digest_v6_t e6;
                e6.slot = meta.slot;
                e6.event = session_event;
                e6.delta = meta.delta;
                e6.tsoff = meta.tsoff;
                e6.client_addr = ip6.dst_addr;
                if (from_client) {
                    e6.client_addr = ip6.src_addr;
                }
                e6.client_port = client_port;
                e6.state = new_state;
                e6.gen = meta.gen;
                digest<session_event_digest_v6_t>(1, e6);
            } else if (session_event != 0) {
                session_event_digest_t e;
                e.slot = meta.slot;
                e.event = session_event;
                e.delta = meta.delta;
                e.tsoff = meta.tsoff;
                e.client_addr = ip.dst_addr;
                if (from_client) {
                    e.client_addr = ip.src_addr;
                }
                e.client_port = client_port;
                e.state = new_state;
                e.gen = meta.gen;
                digest<session_event_digest_t>(1, e);
            }
        }
    }
}

#endif
