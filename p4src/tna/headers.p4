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
 *   service_id, svc_*: the services hit of pass 0 (the tables are looked up once)
 *   isn: the client ISN of the MAC: seq for a SYN, seq - 1 for an ACK, or the ISN its
 *        pending entry offers (C4, pending_hit)
 *   reuse, slot .. nat_port: C5, a client ACK on a closing session: the session, so
 *        that the last pass reports it with a valid cookie or translates the segment
 *        as the session's when the cookie fails */
header cookie_pass_t {
    bit<8>      pass;
    bit<1>      controller_down;   /* C13, heartbeat.p4: pass 0 found the controller gone */
    bit<1>      pending_hit;       /* C4: pass 0 found this flow's pending entry */
    bit<1>      reuse;             /* C5: an ACK check on a closing session (below) */
    bit<4>      _pad0;
    PortId_t    ingress_port;
    bit<32>     m4;
    ServiceId_t service_id;
    bit<8>      svc_flags;
    bit<16>     svc_mss;
    bit<8>      svc_wscale;
    bit<16>     svc_window;
    bit<8>      svc_ttl;
    bit<32>     isn;          /* the client ISN the MAC covers (seq - 1, or C4's) */
    SlotId_t    slot;         /* reuse: the closing session, for the digest (old_slot, */
    SessionState_t state;     /* old_state) or, when the cookie fails, its translation */
    bit<32>     gen;
    bit<32>     delta;
    bit<32>     tsoff;
    ipv4_addr_t nat_addr;
    l4_port_t   nat_port;
    bit<32>  v0;
    bit<32>  v1;
    bit<32>  v2;
    bit<32>  v3;
}

/* D8: in front of the ingress mirror copy of a server SYN/ACK, which egress turns
 * into the ACK to the server. The copy is the packet as the ingress deparser
 * emitted it: by then the client's window update (and the bridged cookie_pass
 * header), so what the ACK needs of the SYN/ACK itself travels here.
 *   kind: MIRROR_KIND_SERVER_ACK (the egress parser tells it from cookie_pass, whose
 *         first byte, the pass, is at most COOKIE_LAST_PASS)
 *   eth_dst, eth_src: the SYN/ACK's source and destination MACs, swapped
 *   rs_addr, rs_port: the server's address and port (the SYN/ACK's source)
 *   ack: the server's ISN + 1; window: the client's window
 *   tsecr: the server's TSval (has_ts: the SYN/ACK had timestamps) */
const bit<8> MIRROR_KIND_SERVER_ACK = 0x80;

header server_ack_mirror_t {
    bit<8>      kind;
    mac_addr_t  eth_dst;
    mac_addr_t  eth_src;
    ipv4_addr_t rs_addr;
    l4_port_t   rs_port;
    bit<32>     ack;
    bit<16>     window;
    bit<8>      has_ts;
    bit<32>     tsecr;
}

/* cookie_pass_t's size in bytes (472 bits). */
const bit<32> COOKIE_PASS_BYTES = 59;

/* The option bytes after an EOL (at most 39). */
header tcp_opt_pad_t {
    varbit<312> data;
}

struct tna_headers_t {
    cookie_pass_t cookie_pass;
    headers_t     h;              /* the shared headers, as v1model parses them */
    tcp_opt_pad_t tcp_pad;        /* emitted after h.tcp_options */
}

/* What the ingress hands its deparser beyond the shared metadata. */
struct tna_ingress_metadata_t {
    local_metadata_t    m;        /* the shared metadata, as in v1model */
    bool                tcp_fresh;    /* a segment the switch built: full TCP checksum */
    bit<16>             tcp_len;      /* its TCP length, for the pseudo-header */
    cookie_ack_digest_t ack;          /* D5: the digest, when digest_type says so */
    session_event_digest_t event;     /* D7, D8, D10: same */
    bit<8>              ctrl;         /* the segment's control flags (TCP_CTRL_MASK) */
    bit<8>              server_wscale;    /* D8: the session's server window scale */
    bool                reuse_possible;   /* C5: pass 0, keys set, well formed, not the CPU's */
    MirrorId_t          mirror_session;   /* D8: when mirror_type says so */
    server_ack_mirror_t server_ack;       /* D8: the mirror header */
}

/* Egress parses the frame only behind a server-ACK mirror header; it is then a
 * window update as SegmentReply builds it: IPv4 without options, TCP whose only
 * option is the timestamp block (data offset 8), or none. */
struct tna_egress_headers_t {
    server_ack_mirror_t server_ack;
    cookie_pass_t   cookie_pass;
    ethernet_t      ethernet;
    vlan_tag_t      vlan_outer;
    vlan_tag_t      vlan_inner;
    ipv4_t          ipv4;
    tcp_t           tcp;
    gen_timestamp_t gen_timestamp;
}

struct tna_egress_metadata_t {
}

#endif
