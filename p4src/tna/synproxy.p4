/*
 * SYN proxy with SYN cookies for TNA (Tofino; p4sim's tna model). What it does and
 * what the controller installs: p4src/README.md ("TNA" says where this program
 * differs from the v1model one). This file holds only the includes, the
 * instantiation and the order of application.
 */
#include <core.p4>
#include <tna.p4>

/* bf-p4c: metadata starts at 0 / false, as v1model's does (the controls read
 * flags they do not all set on every path). p4sim's tna model does the same. */
@pragma pa_auto_init_metadata

#include "target.p4"
#include "../common/defines.p4"
#include "../common/sizes.p4"
#include "../common/ids.p4"
#include "../common/headers.p4"
#include "headers.p4"

/* Architecture-neutral parts of the v1model program: checksum arithmetic, the
 * segments the switch builds, HalfSipHash rounds, the key table, OPTS coding, the
 * translation of a session's segments. */
#include "../v1model/control/checksum.p4"
#include "../v1model/control/reply.p4"
#include "../v1model/control/cookie.p4"
#include "../v1model/control/seqadj.p4"

#include "parser.p4"
#include "control/packet_io.p4"
#include "control/arp.p4"
#include "control/services.p4"
#include "control/martians.p4"
#include "control/session.p4"
#include "control/heartbeat.p4"
#include "control/cookie.p4"
#include "control/proxy.p4"
#include "control/nat.p4"
#include "control/forwarding.p4"
#include "control/counters.p4"

control SynproxyIngress(inout tna_headers_t hdr, inout tna_ingress_metadata_t md,
                        in ingress_intrinsic_metadata_t ig_intr_md,
                        in ingress_intrinsic_metadata_from_parser_t ig_prsr_md,
                        inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                        inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {
    PacketIoIngress() packet_io;
    ArpResponder() arp_responder;
    Services() services;
    MartianSources() martian_sources;
    SessionLookup() session_lookup;
    CookieKeys() cookie_keys;
    ControllerWatch() controller_watch;
    SynProxy() synproxy;
    UnproxiedNat() nat;
    Forwarding() forwarding;
    EventCounters() event_counters;

    apply {
        bool first_pass = !hdr.cookie_pass.isValid();
        if (first_pass) {
            packet_io.apply(hdr.h, md.m, ig_tm_md);
            if (md.m.l2_unparsed && !md.m.done) {
                drop_packet_tna(ig_dprsr_md);
                md.m.event = EV_DROP_UNPARSED;
                md.m.done = true;
            }
        }
        if (!md.m.done) {
            if (hdr.h.arp.isValid() && first_pass) {
                arp_responder.apply(hdr.h, md.m, ig_intr_md.ingress_port, ig_dprsr_md, ig_tm_md);
            } else if (hdr.h.ipv4.isValid()) {
                if (first_pass) {
                    services.apply(hdr.h, md.m);
                    session_lookup.apply(hdr.h, md.m);
                    if (md.m.svc_hit && !md.m.session_hit && !md.m.from_cpu) {
                        martian_sources.apply(hdr.h, md.m);
                    }
                    controller_watch.apply(hdr.h.tcp, md.m, ig_prsr_md.global_tstamp);
                    cookie_keys.apply(md.m);
                }
                synproxy.apply(hdr, md, ig_intr_md.ingress_port, ig_prsr_md.parser_err,
                               ig_prsr_md.global_tstamp, ig_dprsr_md, ig_tm_md);
                controller_down_count(md.m);
                if (first_pass) {
                    nat.apply(hdr.h, md.m, ig_dprsr_md);   /* C8: NAT services, unproxied */
                }
            }
        }
        if (!md.m.done) {
            forwarding.apply(hdr.h, md.m, ig_intr_md.ingress_port, ig_dprsr_md, ig_tm_md);
        }
        event_counters.apply(md.m, !first_pass);
        if (!hdr.cookie_pass.isValid()) {
            /* Bridged to egress on every packet (egress parses it first). */
            hdr.cookie_pass.setValid();
            hdr.cookie_pass.pass = 0;
            hdr.cookie_pass.controller_down = 0;
            hdr.cookie_pass.pending_hit = 0;
            hdr.cookie_pass.isn = 0;
            hdr.cookie_pass.reuse = 0;
            hdr.cookie_pass.slot = 0;
            hdr.cookie_pass.state = 0;
            hdr.cookie_pass.gen = 0;
            hdr.cookie_pass.delta = 0;
            hdr.cookie_pass.tsoff = 0;
            hdr.cookie_pass.nat_addr = 0;
            hdr.cookie_pass.nat_port = 0;
            hdr.cookie_pass._pad0 = 0;
            hdr.cookie_pass.ingress_port = ig_intr_md.ingress_port;
            hdr.cookie_pass.m4 = 0;
            hdr.cookie_pass.service_id = 0;
            hdr.cookie_pass.svc_flags = 0;
            hdr.cookie_pass.svc_mss = 0;
            hdr.cookie_pass.svc_wscale = 0;
            hdr.cookie_pass.svc_window = 0;
            hdr.cookie_pass.svc_ttl = 0;
            hdr.cookie_pass.v0 = 0;
            hdr.cookie_pass.v1 = 0;
            hdr.cookie_pass.v2 = 0;
            hdr.cookie_pass.v3 = 0;
        }
    }
}

/* Egress: the cookie pass header stays only on a packet that goes round again. A
 * server-ACK mirror copy (D8) is the client's window update: it becomes the ACK
 * that completes the server handshake, as the client would send it. */
control SynproxyEgress(inout tna_egress_headers_t hdr, inout tna_egress_metadata_t meta,
                       in egress_intrinsic_metadata_t eg_intr_md) {
    apply {
        if (hdr.server_ack.isValid()) {
            hdr.ethernet.dst_addr = hdr.server_ack.eth_dst;
            hdr.ethernet.src_addr = hdr.server_ack.eth_src;
            /* From the client (the window update's destination) to the server. */
            hdr.ipv4.src_addr = hdr.ipv4.dst_addr;
            hdr.ipv4.dst_addr = hdr.server_ack.rs_addr;
            hdr.ipv4.ttl = IPV4_DEFAULT_TTL;
            hdr.tcp.src_port = hdr.tcp.dst_port;
            hdr.tcp.dst_port = hdr.server_ack.rs_port;
            /* The window update's ack is the SYN/ACK's: the client's next seq. */
            hdr.tcp.seq_no = hdr.tcp.ack_no;
            hdr.tcp.ack_no = hdr.server_ack.ack;
            hdr.tcp.flags = TCP_ACK;
            hdr.tcp.window = hdr.server_ack.window;
            if (hdr.gen_timestamp.isValid()) {
                /* TSval: the client's, which the server echoed (the window update's
                 * TSecr); TSecr: the server's TSval. */
                hdr.gen_timestamp.tsval = hdr.gen_timestamp.tsecr;
                hdr.gen_timestamp.tsecr = hdr.server_ack.tsecr;
            }
            hdr.server_ack.setInvalid();
            hdr.cookie_pass.setInvalid();
        } else if (eg_intr_md.egress_port != RECIRC_PORT_ID || hdr.cookie_pass.pass == 0) {
            hdr.cookie_pass.setInvalid();
        }
    }
}

Pipeline(SynproxyIngressParser(),
         SynproxyIngress(),
         SynproxyIngressDeparser(),
         SynproxyEgressParser(),
         SynproxyEgress(),
         SynproxyEgressDeparser()) pipe;

Switch(pipe) main;
