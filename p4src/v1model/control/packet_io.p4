/* The CPU port: PacketOut from the controller, PacketIn to it. */
#ifndef SYNPROXY_CONTROL_PACKET_IO_P4
#define SYNPROXY_CONTROL_PACKET_IO_P4

/* Send the packet to the controller with a packet_in header saying why. */
void punt_to_cpu(inout headers_t hdr, inout standard_metadata_t standard_metadata,
                 in bit<8> reason, in SlotId_t slot) {
    standard_metadata.egress_spec = CPU_PORT_ID;
    hdr.packet_in.setValid();
    hdr.packet_in.ingress_port = standard_metadata.ingress_port;
    hdr.packet_in._pad0 = 0;
    hdr.packet_in.reason = reason;
    hdr.packet_in.slot = slot;
}

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
