/* Egress: the second packet of a server SYN/ACK. */
#ifndef SYNPROXY_CONTROL_SERVER_ACK_P4
#define SYNPROXY_CONTROL_SERVER_ACK_P4

/* D8: the ingress clone of a server SYN/ACK arrives here re-parsed, as it came in,
 * on the reflect session's port (the port it came from). It becomes the ACK that
 * completes the server handshake; the client's window and the SYN/ACK's
 * timestamps ride in the clone_* fields. */
control ServerAckEgress(inout headers_t hdr, inout local_metadata_t meta,
                        inout standard_metadata_t standard_metadata) {
    SegmentReply() reply;

    apply {
        if (standard_metadata.instance_type == PKT_INSTANCE_TYPE_INGRESS_CLONE
                && hdr.tcp.isValid()) {
            /* TSval = the client's TSval the server echoed, TSecr = the server's
             * TSval. */
            bit<32> frame_len;
            reply.apply(hdr, REPLY_SERVER_ACK, 0, 0, 0, 0, meta.clone_window, 0, 0, 0,
                        meta.clone_has_ts == 1, meta.clone_tsecr, meta.clone_tsval,
                        frame_len);
            IPV6_EXT_CLEAR(hdr)
            truncate(frame_len);
        }
    }
}

#endif
