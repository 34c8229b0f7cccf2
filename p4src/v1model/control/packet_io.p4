/* The CPU port: PacketOut from the controller, PacketIn to it. */
#ifndef SYNPROXY_CONTROL_PACKET_IO_P4
#define SYNPROXY_CONTROL_PACKET_IO_P4

/* PacketIn: the proxy (proxy.p4) sets the packet_in header and sends to CPU_PORT_ID. */

/* A PacketOut either leaves by the port it names, untouched, or (PKTOUT_FLAG_PIPELINE)
 * runs the pipeline like a packet from the network, trusted: that is how the
 * controller's server SYN and buffered client data (C2, C4) get the session's NAT
 * and translation. */
control PacketIoIngress(inout headers_t hdr, inout local_metadata_t meta,
                        inout standard_metadata_t standard_metadata) {
    apply {
        if (hdr.packet_out.isValid()) {
            if ((hdr.packet_out.flags & PKTOUT_FLAG_PIPELINE) != 0) {
                meta.from_cpu = true;
            } else {
                standard_metadata.egress_spec = hdr.packet_out.egress_port;
                meta.done = true;
            }
            hdr.packet_out.setInvalid();
        }
    }
}

#endif
