/*
 * A plain router/bridge for v1model: ARP answers for the switch's addresses, IPv4
 * longest-prefix routing for frames to a router MAC, MAC bridging for the rest. It
 * shares the parser and the forwarding controls with synproxy.p4 (same table
 * names) and serves to test and benchmark the software target on simple traffic.
 */
#include <core.p4>
#include <v1model.p4>

#include "target.p4"
#include "../common/defines.p4"
#include "../common/sizes.p4"
#include "../common/ids.p4"
#include "../common/headers.p4"

#include "parser.p4"
#include "control/packet_io.p4"
#include "control/arp.p4"
#include "control/forwarding.p4"

control RouterIngress(inout headers_t hdr, inout local_metadata_t meta,
                      inout standard_metadata_t standard_metadata) {
    PacketIoIngress() packet_io;
    ArpResponder() arp_responder;
    Forwarding() forwarding;

    apply {
        packet_io.apply(hdr, meta, standard_metadata);
        if (meta.l2_unparsed && !meta.done) {
            mark_to_drop(standard_metadata);   /* more VLAN tags than parsed */
            meta.done = true;
        }
        if (!meta.done && hdr.arp.isValid()) {
            arp_responder.apply(hdr, meta, standard_metadata);
        }
        if (!meta.done) {
            forwarding.apply(hdr, meta, standard_metadata);
        }
    }
}

control RouterEgress(inout headers_t hdr, inout local_metadata_t meta,
                     inout standard_metadata_t standard_metadata) {
    FloodPruning() flood_pruning;

    apply {
        flood_pruning.apply(standard_metadata);
    }
}

V1Switch(SynproxyParser(),
         SynproxyVerifyChecksum(),
         RouterIngress(),
         RouterEgress(),
         SynproxyComputeChecksum(),
         SynproxyDeparser()) main;
