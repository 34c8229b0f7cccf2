/*
 * SYN proxy with SYN cookies for v1model (bmv2 simple_switch_grpc, p4sim).
 * What it does and what the controller installs: p4src/README.md. This file holds
 * only the includes, the instantiation and the order of application.
 */
#include <core.p4>
#include <v1model.p4>

#include "target.p4"
#include "../common/defines.p4"
#include "../common/sizes.p4"
#include "../common/ids.p4"
#include "../common/headers.p4"

#include "parser.p4"
#include "control/checksum.p4"
#include "control/reply.p4"
#include "control/seqadj.p4"
#include "control/cookie.p4"
#include "control/packet_io.p4"
#include "control/arp.p4"
#include "control/services.p4"
#include "control/martians.p4"
#include "control/ipv6.p4"
#include "control/session.p4"
#include "control/heartbeat.p4"
#include "control/pending.p4"
#include "control/passthrough.p4"
#include "control/meters.p4"
#include "control/icmp.p4"
#include "control/decide.p4"
#include "control/proxy.p4"
#include "control/nat.p4"
#include "control/fullnat.p4"
#include "control/forwarding.p4"
#include "control/counters.p4"
#include "control/server_ack.p4"

control SynproxyIngress(inout headers_t hdr, inout local_metadata_t meta,
                        inout standard_metadata_t standard_metadata) {
    PacketIoIngress() packet_io;
    ArpResponder() arp_responder;
    Services() services;
    MartianSources() martian_sources;
    SessionLookup() session_lookup;
    CookieKeys() cookie_keys;
    ControllerWatch() controller_watch;
    SynProxy() synproxy;
    UnproxiedNat() nat;
    FullNat() fullnat;
    NeighbourResponder() neighbour_responder;
    Ipv6ChainPolicy() ipv6_chain_policy;
    VipProtocols() vip_protocols;
    Forwarding() forwarding;
    EventCounters() event_counters;

    apply {
        packet_io.apply(hdr, meta, standard_metadata);
        if (meta.l2_unparsed && !meta.done) {
            /* D16: more VLAN tags than the parser follows: it cannot tell whether the
             * frame is to a VIP, so it is not bridged on a guess. */
            mark_to_drop(standard_metadata);
            meta.event = EV_DROP_UNPARSED;
            meta.done = true;
        }
        if (!meta.done) {
            if (hdr.arp.isValid()) {
                arp_responder.apply(hdr, meta, standard_metadata);
            } else if (hdr.ipv4.isValid() || (hdr.ipv6.isValid() && !meta.ipv6_unfollowed)) {
                /* Each control is applied at one place only (bmv2 allows a table one
                 * successor): the families share the lookups. D13: an NS is not a
                 * service's. */
                bool ns = hdr.nd.isValid();
                if (!ns) {
                    services.apply(hdr, meta);
                    session_lookup.apply(hdr, meta);     /* a session's service id wins */
                }
                if (ns || (meta.svc_hit && !meta.session_hit && !meta.from_cpu)) {
                    /* D16: only what may be answered; a session's client was
                     * validated already, so established traffic pays nothing. */
                    martian_sources.apply(hdr, meta);
                }
                if (ns) {
                    neighbour_responder.apply(hdr, meta, standard_metadata);
                } else if (meta.svc_deny && !meta.session_hit && !meta.from_cpu
                           && !meta.is_fragment
                           && meta.ip_proto != IP_PROTO_TCP && meta.ip_proto != IP_PROTO_UDP) {
                    /* D15: ICMP, AH, ESP, ... to a VIP (either family), by its policy
                     * (icmp.p4). */
                    vip_protocols.apply(hdr.ethernet, hdr.ipv4, hdr.ipv6, hdr.icmp,
                                        hdr.ipv4_options.isValid() || meta.ipv6_ext_len != 0,
                                        meta, standard_metadata);
                } else {
                    /* Both families (D13): one proxy path. */
                    controller_watch.apply(hdr.tcp, meta, standard_metadata);
                    cookie_keys.apply(meta);
                    synproxy.apply(hdr, meta, standard_metadata);
                    controller_down_count(meta);
                    if (hdr.ipv4.isValid()) {
                        fullnat.apply(hdr.ipv4, hdr.tcp, meta, standard_metadata);   /* D7: IPv4 */
                    }
                }
                if (!ns) {
                    nat.apply(hdr, meta, standard_metadata);   /* C8: NAT services, unproxied */
                }
            } else if (hdr.ipv6.isValid()) {
                ipv6_chain_policy.apply(meta, standard_metadata);   /* D13: unfollowed chain */
            }
        }
        if (!meta.done) {
            forwarding.apply(hdr, meta, standard_metadata);
        }
        event_counters.apply(meta);
    }
}

control SynproxyEgress(inout headers_t hdr, inout local_metadata_t meta,
                       inout standard_metadata_t standard_metadata) {
    ServerAckEgress() server_ack;
    FloodPruning() flood_pruning;

    apply {
        server_ack.apply(hdr, meta, standard_metadata);
        flood_pruning.apply(standard_metadata);
    }
}

V1Switch(SynproxyParser(),
         SynproxyVerifyChecksum(),
         SynproxyIngress(),
         SynproxyEgress(),
         SynproxyComputeChecksum(),
         SynproxyDeparser()) main;
