/*
 * TNA-only headers and metadata, around the shared ones (p4src/common/headers.p4).
 */
#ifndef SYNPROXY_TNA_HEADERS_P4
#define SYNPROXY_TNA_HEADERS_P4

/* The cookie's HalfSipHash does not fit one pass through the pipeline (cookie.p4):
 * its state travels between passes in this header, in front of the Ethernet header.
 * It is also the bridged metadata from ingress to egress: every packet carries it
 * through the traffic manager; egress keeps it only for a packet that goes round
 * again (to RECIRC_PORT), so it never leaves the switch.
 *   pass: the next pass to run (0: none, the packet is done with the cookie)
 *   ingress_port: the port the packet first came in on (the SYN/ACK goes back there)
 *   m4: the last message word, epoch[23:0] ++ OPTS, chosen in pass 0 with the key
 *   v0..v3: the hash state after the passes so far
 *   service_id, svc_*: the services hit of pass 0 (the tables are looked up once) */
header cookie_pass_t {
    bit<8>      pass;
    bit<7>      _pad0;
    PortId_t    ingress_port;
    bit<32>     m4;
    ServiceId_t service_id;
    bit<8>      svc_flags;
    bit<16>     svc_mss;
    bit<8>      svc_wscale;
    bit<16>     svc_window;
    bit<8>      svc_ttl;
    bit<32>  v0;
    bit<32>  v1;
    bit<32>  v2;
    bit<32>  v3;
}

struct tna_headers_t {
    cookie_pass_t cookie_pass;
    headers_t     h;              /* the shared headers, as v1model parses them */
}

/* What the ingress hands its deparser beyond the shared metadata. */
struct tna_ingress_metadata_t {
    local_metadata_t    m;        /* the shared metadata, as in v1model */
    bool                tcp_fresh;    /* a segment the switch built: full TCP checksum */
    bit<16>             tcp_len;      /* its TCP length, for the pseudo-header */
    cookie_ack_digest_t ack;          /* D5: the digest, when digest_type says so */
    session_event_digest_t event;     /* D8, D10: same (no state change sends one yet) */
}

struct tna_egress_headers_t {
    cookie_pass_t cookie_pass;
}

struct tna_egress_metadata_t {
}

#endif
