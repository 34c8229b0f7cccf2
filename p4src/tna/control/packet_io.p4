/* The CPU port on TNA: PacketOut from the controller, PacketIn to it. */
#ifndef SYNPROXY_TNA_CONTROL_PACKET_IO_P4
#define SYNPROXY_TNA_CONTROL_PACKET_IO_P4

void drop_packet_tna(inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {
    ig_dprsr_md.drop_ctl = DROP_CTL_DROP;
}

/* Send the packet to the controller with a packet_in header saying why.
 * ingress_port is the port it first came in on (a recirculated packet's is in the
 * cookie pass header). */
void punt_to_cpu_tna(inout headers_t hdr, inout ingress_intrinsic_metadata_for_tm_t ig_tm_md,
                     in PortId_t ingress_port, in bit<8> reason, in SlotId_t slot) {
    ig_tm_md.ucast_egress_port = CPU_PORT_ID;
    hdr.packet_in.setValid();
    hdr.packet_in.ingress_port = ingress_port;
    hdr.packet_in._pad0 = 0;
    hdr.packet_in.reason = reason;
    hdr.packet_in.slot = slot;
}

/* As v1model's PacketIoIngress: flags 0 leaves by egress_port untouched, flags 1
 * (PKTOUT_FLAG_PIPELINE) runs the pipeline as trusted traffic. */
control PacketIoIngress(inout headers_t hdr, inout local_metadata_t meta,
                        inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {
    apply {
        if (hdr.packet_out.isValid()) {
            if ((hdr.packet_out.flags & PKTOUT_FLAG_PIPELINE) != 0) {
                meta.from_cpu = true;
            } else {
                ig_tm_md.ucast_egress_port = hdr.packet_out.egress_port;
                meta.done = true;
            }
            hdr.packet_out.setInvalid();
        }
    }
}

#endif
