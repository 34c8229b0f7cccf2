/* Header, metadata and digest types shared by the programs in p4src/. */
#ifndef SYNPROXY_COMMON_HEADERS_P4
#define SYNPROXY_COMMON_HEADERS_P4

/* ------------------------------------------------------------------ CPU port
 * PacketIn/PacketOut metadata (P4Runtime controller_packet_metadata). Both are whole
 * bytes, as P4Runtime servers expect. */

@controller_header("packet_in")
header packet_in_t {
    PortId_t ingress_port;
    bit<7>   _pad0;
    bit<8>   reason;      /* PUNT_* */
    SlotId_t slot;        /* session slot for PUNT_EARLY_DATA, else 0 */
}

@controller_header("packet_out")
header packet_out_t {
    PortId_t egress_port; /* used unless flags has PKTOUT_FLAG_PIPELINE */
    bit<7>   _pad0;
    bit<8>   flags;       /* PKTOUT_FLAG_* */
}

/* ------------------------------------------------------------------ L2 / L3 */

header ethernet_t {
    mac_addr_t dst_addr;
    mac_addr_t src_addr;
    bit<16>    ether_type;
}

/* An 802.1Q / 802.1ad tag: the TCI, then the type of what follows. The TPID that
 * announced it is the ether_type before it. */
header vlan_tag_t {
    bit<3>  pcp;
    bit<1>  dei;
    bit<12> vid;
    bit<16> ether_type;
}

header arp_t {
    bit<16>     htype;
    bit<16>     ptype;
    bit<8>      hlen;
    bit<8>      plen;
    bit<16>     oper;
    mac_addr_t  sender_mac;
    ipv4_addr_t sender_ip;
    mac_addr_t  target_mac;
    ipv4_addr_t target_ip;
}

header ipv4_t {
    bit<4>      version;
    bit<4>      ihl;
    bit<6>      dscp;
    bit<2>      ecn;
    bit<16>     total_len;
    bit<16>     identification;
    bit<1>      flag_rsvd;
    bit<1>      flag_df;
    bit<1>      flag_mf;
    bit<13>     frag_offset;
    bit<8>      ttl;
    bit<8>      protocol;
    bit<16>     hdr_checksum;
    ipv4_addr_t src_addr;
    ipv4_addr_t dst_addr;
}

/* IPv4 options are skipped as one opaque block (up to 40 bytes, sized by IHL). */
header ipv4_options_t {
    varbit<320> data;
}

/* IPv6 (D13): the fixed header, then the extension headers the parser follows, in
 * wire order (ipv6_ext_u, a stack: re-emitted where they were). */
header ipv6_t {
    bit<4>      version;
    bit<8>      traffic_class;
    bit<20>     flow_label;
    bit<16>     payload_len;
    bit<8>      next_header;
    bit<8>      hop_limit;
    ipv6_addr_t src_addr;
    ipv6_addr_t dst_addr;
}

/* Hop-by-hop, destination options and routing headers: (8 + 8 * hdr_ext_len)
 * bytes; the parser follows those of at most IPV6_OPT_HDR_MAX_LEN bytes. */
header ipv6_opt_hdr_t {
    bit<8>       next_header;
    bit<8>       hdr_ext_len;
    varbit<2032> data;
}

header ipv6_frag_t {
    bit<8>  next_header;
    bit<8>  reserved;
    bit<13> frag_offset;
    bit<2>  res;
    bit<1>  flag_m;
    bit<32> identification;
}

/* The chain as the headers_t member IPV6_EXT_HEADERS declares; a target without
 * header unions (TNA: bf-p4c has none) defines its own before this file. */
#ifndef IPV6_EXT_HEADERS
header_union ipv6_ext_u {
    ipv6_opt_hdr_t opt;
    ipv6_frag_t    frag;
}
#define IPV6_EXT_HEADERS ipv6_ext_u[IPV6_EXT_MAX] ipv6_ext;
#endif

/* Neighbour solicitation / advertisement (ICMPv6 135 / 136) after the ICMPv6
 * header (icmp_t): flags and reserved bits, the target address. */
header nd_t {
    bit<32>     flags;
    ipv6_addr_t target;
}

/* A source / target link-layer address option (type 1 / 2, length 1 = 8 bytes). */
header nd_lla_opt_t {
    bit<8>     opt_type;
    bit<8>     len;
    mac_addr_t mac;
}

/* ------------------------------------------------------------------ L4 */

header tcp_t {
    l4_port_t src_port;
    l4_port_t dst_port;
    bit<32>   seq_no;
    bit<32>   ack_no;
    bit<4>    data_offset;
    bit<4>    res;
    bit<8>    flags;      /* CWR ECE URG ACK PSH RST SYN FIN: TCP_* constants */
    bit<16>   window;
    bit<16>   checksum;
    bit<16>   urgent_ptr;
}

header udp_t {
    l4_port_t src_port;
    l4_port_t dst_port;
    bit<16>   length;
    bit<16>   checksum;
}

header icmp_t {
    bit<8>  icmp_type;
    bit<8>  code;
    bit<16> checksum;
}

/* ------------------------------------------------------------------ TCP options
 * The options are parsed into a stack of header unions, one element per option, in
 * wire order. Typed members let the translation rewrite SACK edges and timestamps in
 * place, and the deparser re-emits every option where it was, so the data offset,
 * the alignment and any option the proxy does not understand are preserved. */

header tcp_opt_eol_t {
    bit<8> kind;
}

header tcp_opt_nop_t {
    bit<8> kind;
}

header tcp_opt_mss_t {
    bit<8>  kind;
    bit<8>  len;
    bit<16> mss;
}

header tcp_opt_wscale_t {
    bit<8> kind;
    bit<8> len;
    bit<8> shift;
}

header tcp_opt_sack_perm_t {
    bit<8> kind;
    bit<8> len;
}

header tcp_opt_timestamp_t {
    bit<8>  kind;
    bit<8>  len;
    bit<32> tsval;
    bit<32> tsecr;
}

/* SACK with 1..4 blocks: each block is (left edge, right edge). */
header tcp_opt_sack1_t {
    bit<8>  kind;
    bit<8>  len;
    bit<32> left0;
    bit<32> right0;
}

header tcp_opt_sack2_t {
    bit<8>  kind;
    bit<8>  len;
    bit<32> left0;
    bit<32> right0;
    bit<32> left1;
    bit<32> right1;
}

header tcp_opt_sack3_t {
    bit<8>  kind;
    bit<8>  len;
    bit<32> left0;
    bit<32> right0;
    bit<32> left1;
    bit<32> right1;
    bit<32> left2;
    bit<32> right2;
}

header tcp_opt_sack4_t {
    bit<8>  kind;
    bit<8>  len;
    bit<32> left0;
    bit<32> right0;
    bit<32> left1;
    bit<32> right1;
    bit<32> left2;
    bit<32> right2;
    bit<32> left3;
    bit<32> right3;
}

/* Any other option, and known kinds with an unexpected length: kept as it came. */
header tcp_opt_generic_t {
    bit<8>      kind;
    bit<8>      len;
    varbit<304> data;
}

header_union tcp_option_t {
    tcp_opt_eol_t       eol;
    tcp_opt_nop_t       nop;
    tcp_opt_mss_t       mss;
    tcp_opt_wscale_t    wscale;
    tcp_opt_sack_perm_t sack_perm;
    tcp_opt_timestamp_t timestamp;
    tcp_opt_sack1_t     sack1;
    tcp_opt_sack2_t     sack2;
    tcp_opt_sack3_t     sack3;
    tcp_opt_sack4_t     sack4;
    tcp_opt_generic_t   generic;
}

/* Options of segments the switch builds (SYN/ACK, ACK to the server, window update).
 * Each is a 32-bit-aligned block; the deparser emits them after the (then empty)
 * parsed option stack, in this order: MSS | NOP WS | NOP NOP SACKOK | pp TS, where
 * pp is NOP NOP, or SACKOK when both SACK and timestamps are offered. */
header gen_mss_t {
    bit<8>  kind;
    bit<8>  len;
    bit<16> mss;
}

header gen_wscale_t {
    bit<8> nop;
    bit<8> kind;
    bit<8> len;
    bit<8> shift;
}

header gen_sack_perm_t {
    bit<16> nops;
    bit<8>  kind;
    bit<8>  len;
}

header gen_timestamp_t {
    bit<16> prefix;
    bit<8>  kind;
    bit<8>  len;
    bit<32> tsval;
    bit<32> tsecr;
}

struct headers_t {
    packet_out_t    packet_out;
    packet_in_t     packet_in;
    ethernet_t      ethernet;
    vlan_tag_t      vlan_outer;   /* the first tag (802.1ad S-tag or 802.1Q) */
    vlan_tag_t      vlan_inner;   /* the second tag of a double-tagged frame */
    arp_t           arp;
    ipv4_t          ipv4;
    ipv4_options_t  ipv4_options;
    ipv6_t          ipv6;
    IPV6_EXT_HEADERS
    tcp_t           tcp;
    tcp_option_t[TCP_OPTIONS_MAX] tcp_options;
    gen_mss_t       gen_mss;
    gen_wscale_t    gen_wscale;
    gen_sack_perm_t gen_sack_perm;
    gen_timestamp_t gen_timestamp;
    udp_t           udp;
    icmp_t          icmp;         /* ICMP, or the ICMPv6 header */
    nd_t            nd;           /* ICMPv6 neighbour solicitation / advertisement */
    nd_lla_opt_t    nd_lla;       /* its first option, if a link-layer address */
}

/* ------------------------------------------------------------------ metadata */

/* What the parser learnt from the TCP options (values of the last occurrence). */
struct tcp_opt_info_t {
    bool    has_mss;
    bit<16> mss;
    bool    has_wscale;
    bit<8>  wscale;
    bool    sack_perm;
    bool    has_sack;       /* a SACK option of 1..4 blocks */
    bool    has_timestamp;
    bit<32> tsval;
    bit<32> tsecr;
}

/* A bucket of the unproxied NAT (nat.p4). Its width sets the number of buckets
 * (NAT_BUCKETS, sizes.p4); the controller reads it from the P4Info. */
typedef bit<NAT_BUCKET_BITS> NatBucket_t;

struct local_metadata_t {
    /* parser scratch */
    bit<8>         opt_left;      /* option bytes not parsed yet */
    bit<8>         opt_len;       /* length byte of the option being parsed */
    tcp_opt_info_t opt;
    bit<8>         ipv6_opt_hdrs;  /* IPv6 option-type extension headers followed */
    bool           ipv6_frag_hdr;  /* an IPv6 fragment header followed */
    bit<8>         ipv6_nh_next;   /* Next Header of the extension header at hand */

    /* packet facts */
    bool      from_cpu;           /* a PacketOut run through the pipeline */
    bit<16>   l2_len;             /* Ethernet header and VLAN tags, in bytes */
    bool      l2_unparsed;        /* D16: more VLAN tags than the parser follows */
    bool      martian;            /* D16: the source is in martian_sources */
    bool      ip_bad_version;     /* D16: IPv4 ether type, version != 4 */
    bool      is_fragment;
    bit<8>    ip_proto;           /* IPv4 protocol, IPv6 upper-layer Next Header */
    bit<16>   ipv6_ext_len;       /* bytes of IPv6 extension headers followed */
    bool      ipv6_unfollowed;    /* D13: an extension-header chain not followed */
    bool      ipv6_chain_pass;    /* ipv6_chain_policy: forward such chains */
    ipv6_addr_t nat_addr6;        /* IPv6 twin of nat_addr */
    bool      malformed;          /* parser error or inconsistent lengths */
    l4_port_t l4_src_port;        /* 0 when there is no L4 header */
    l4_port_t l4_dst_port;
    bit<16>   ip_payload_len;     /* IPv4 total length minus the IPv4 header */
    bit<64>   src_prefix;         /* D15: the source's prefix (IPv4 /24), for the meters */
    bit<8>    src_family;         /* D15: 4 or 6 */
    bool      has_payload;        /* TCP segment carries data */

    /* services (D2) */
    bool        svc_hit;
    bool        svc_deny;
    ServiceId_t service_id;
    bit<8>      proxy_mode;
    bit<8>      svc_flags;
    bit<16>     svc_mss;
    bit<8>      svc_wscale;
    bit<16>     svc_window;
    bit<8>      svc_ttl;
    bool        proxy_active;
    bool        controller_down;   /* heartbeat.p4: no heartbeat within its limit */

    /* cookie key state (D3), from the cookie_keys table */
    bool    keys_set;
    bit<32> key0;
    bit<32> key1;
    bit<32> epoch;
    bit<32> prev_key0;
    bit<32> prev_key1;
    bit<32> prev_epoch;

    /* session (D7) */
    bool           session_hit;
    bit<8>         dir;
    SlotId_t       slot;
    SessionState_t state;
    ipv4_addr_t    nat_addr;      /* new dst (client dir) or src (server dir) address */
    l4_port_t      nat_port;
    bit<32>        sess_cookie;   /* server dir: the cookie the client was given */
    bit<32>        ts_base;       /* server dir: the TSval of our SYN/ACK */
    bit<8>         win_shift;     /* server dir: shift for the window update */
    bit<32>        gen;           /* the entry's incarnation of its slot */
    bit<32>        delta;
    bit<32>        tsoff;

    /* outcome */
    bool         route;           /* forward by L3 routing */
    bool         done;            /* egress decided (reply, punt or drop) */
    bool         syn_in;          /* count EV_SYN_IN too */
    bool         passed;          /* C8: forwarded unproxied (undefended or passthrough) */
    NatBucket_t  nat_bucket;      /* C8: the flow's bucket (NAT services, nat.p4) */
    bit<8>       passthrough_epoch;   /* C8: the flow filter's current epoch */
    ProxyEvent_t event;

    /* Carried into egress by the server-ACK clone. The clone is re-parsed, but
     * (as in bmv2) all metadata is then reset except these fields, so the
     * timestamps the parser found have to travel here too. */
    @field_list(FIELD_LIST_SERVER_ACK)
    bit<16> clone_window;
    @field_list(FIELD_LIST_SERVER_ACK)
    bit<8>  clone_has_ts;
    @field_list(FIELD_LIST_SERVER_ACK)
    bit<32> clone_tsval;
    @field_list(FIELD_LIST_SERVER_ACK)
    bit<32> clone_tsecr;
}

/* ------------------------------------------------------------------ digests */

/* D5: a client's ACK carried a valid cookie. The controller installs the session
 * and sends the server SYN (C2). */
struct cookie_ack_digest_t {
    ipv4_addr_t    client_addr;
    ipv4_addr_t    vip_addr;
    l4_port_t      client_port;
    l4_port_t      vip_port;
    bit<32>        client_isn;    /* seq - 1 */
    bit<32>        cookie;        /* ack - 1 */
    bit<16>        mss;           /* decoded from the cookie */
    bit<8>         wscale;        /* 15: no window scaling */
    bit<1>         sack_ok;
    bit<1>         ts_ok;
    bit<1>         has_payload;
    bit<5>         _pad0;
    bit<16>        client_window;
    bit<32>        client_tsval;
    bit<32>        client_tsecr;  /* = TSval of our SYN/ACK: the session's ts_base */
    PortId_t       ingress_port;
    ServiceId_t    service_id;
    SlotId_t       old_slot;      /* C5: the closing session this ACK hit, else 0 */
    SessionState_t old_state;     /* its state, SESSION_NONE if none */
}

/* The same for an IPv6 flow (D13): the fields of cookie_ack_digest_t, in order,
 * the addresses 128 bits wide. */
struct cookie_ack_digest_v6_t {
    ipv6_addr_t    client_addr;
    ipv6_addr_t    vip_addr;
    l4_port_t      client_port;
    l4_port_t      vip_port;
    bit<32>        client_isn;
    bit<32>        cookie;
    bit<16>        mss;
    bit<8>         wscale;
    bit<1>         sack_ok;
    bit<1>         ts_ok;
    bit<1>         has_payload;
    bit<5>         _pad0;
    bit<16>        client_window;
    bit<32>        client_tsval;
    bit<32>        client_tsecr;
    PortId_t       ingress_port;
    ServiceId_t    service_id;
    SlotId_t       old_slot;
    SessionState_t old_state;
}

/* D8, D10: a session changed state in the data plane. */
struct session_event_digest_t {
    SlotId_t    slot;
    bit<8>      event;            /* SESSION_EV_* */
    bit<32>     delta;            /* server ISN - cookie (ESTABLISHED) */
    bit<32>     tsoff;
    ipv4_addr_t client_addr;
    l4_port_t   client_port;
    SessionState_t state;         /* the slot's state after the packet */
    bit<32>     gen;              /* the entry's gen: the incarnation reported on */
}

/* The same for an IPv6 session. */
struct session_event_digest_v6_t {
    SlotId_t    slot;
    bit<8>      event;
    bit<32>     delta;
    bit<32>     tsoff;
    ipv6_addr_t client_addr;
    l4_port_t   client_port;
    SessionState_t state;
    bit<32>     gen;
}

#endif
