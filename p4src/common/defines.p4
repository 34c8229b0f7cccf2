/*
 * Types, constants and enumerations shared by every program in p4src/ (v1model and,
 * later, TNA). Target-specific types (PortId_t, MirrorId_t) come from the target's own
 * hook file, included before this one.
 */
#ifndef SYNPROXY_COMMON_DEFINES_P4
#define SYNPROXY_COMMON_DEFINES_P4

/* ------------------------------------------------------------------ types */

typedef bit<48> mac_addr_t;
typedef bit<32> ipv4_addr_t;
typedef bit<128> ipv6_addr_t;
typedef bit<16> l4_port_t;
/* Index of a protected service (one services entry may share it with others). */
typedef bit<16> ServiceId_t;
/* Index of a session in the per-session registers. 32 bits because v1model's
 * register index is bit<32>; the controller never hands out slots >= SESSIONS_SIZE. */
typedef bit<32> SlotId_t;
typedef bit<8>  SessionState_t;
typedef bit<8>  ProxyEvent_t;

/* ------------------------------------------------------------------ protocols */

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> ETHERTYPE_ARP  = 0x0806;
const bit<16> ETHERTYPE_IPV6 = 0x86dd;
/* VLAN tags (D16): an 802.1Q tag (C-tag), and the 802.1ad S-tag of a double-tagged
 * (Q-in-Q) frame. At most VLAN_TAGS_MAX tags are parsed. */
const bit<16> ETHERTYPE_VLAN = 0x8100;
const bit<16> ETHERTYPE_QINQ = 0x88a8;
/* Ethernet header and one VLAN tag, in bytes. */
const bit<16> ETH_HDR_LEN  = 14;
const bit<16> VLAN_TAG_LEN = 4;

const bit<4> IPV4_VERSION = 4;
const bit<4> IPV6_VERSION = 6;
/* The fixed IPv6 header, in bytes. */
const bit<16> IPV6_HDR_LEN = 40;
/* The largest MSS an IPv6 SYN/ACK offers (D13): what a 1500-byte link fits under the
 * IPv6 and TCP headers. */
const bit<16> IPV6_MSS_MAX = 1440;

/* IPv6 Next Header values of the extension headers the parser follows (D13). */
const bit<8> IPV6_NH_HOP_BY_HOP = 0;
const bit<8> IPV6_NH_ROUTING    = 43;
const bit<8> IPV6_NH_FRAGMENT   = 44;
const bit<8> IPV6_NH_DST_OPTS   = 60;
/* The longest option-type extension header followed: hdr_ext_len <= 31 (256 bytes). */
const bit<8> IPV6_OPT_HDR_MAX_EXT_LEN = 31;

const bit<8> IP_PROTO_ICMPV6 = 58;
const bit<8> ICMPV6_NS = 135;
const bit<8> ICMPV6_NA = 136;
const bit<8> ND_OPT_SOURCE_LLA = 1;
const bit<8> ND_OPT_TARGET_LLA = 2;
/* NA flags: Router, Solicited, Override (RFC 4861 4.4). */
const bit<32> ND_NA_FLAGS_RSO = 0xe0000000;
/* Neighbour discovery is only believed with a hop limit of 255 (RFC 4861 7.1.1). */
const bit<8> ND_HOP_LIMIT = 255;

const bit<16> ARP_HTYPE_ETHERNET = 1;
const bit<16> ARP_OPER_REQUEST   = 1;
const bit<16> ARP_OPER_REPLY     = 2;

const bit<8> IP_PROTO_ICMP = 1;
const bit<8> IP_PROTO_TCP  = 6;
const bit<8> IP_PROTO_UDP  = 17;
const bit<8> IP_PROTO_ESP  = 50;
const bit<8> IP_PROTO_AH   = 51;

/* ICMP (IPv4) echo: type ++ code words, and the ICMP header's length (type, code,
 * checksum and the 4 bytes that every message type has after them). */
const bit<16> ICMP_ECHO_REQUEST_WORD = 0x0800;
const bit<16> ICMP_ECHO_REPLY_WORD   = 0x0000;
const bit<16> ICMP_HDR_LEN = 8;
/* ICMPv6 echo (RFC 4443): request 128, reply 129, as type ++ code words. */
const bit<16> ICMPV6_ECHO_REQUEST_WORD = 0x8000;
const bit<16> ICMPV6_ECHO_REPLY_WORD   = 0x8100;
const bit<8>  IPV6_DEFAULT_HOP_LIMIT   = 64;

const bit<8> IPV4_DEFAULT_TTL = 64;

/* TCP flags, as the low 8 bits of the 16-bit offset/flags word. */
const bit<8> TCP_FIN = 0x01;
const bit<8> TCP_SYN = 0x02;
const bit<8> TCP_RST = 0x04;
const bit<8> TCP_PSH = 0x08;
const bit<8> TCP_ACK = 0x10;
const bit<8> TCP_URG = 0x20;
/* The flags that decide how the proxy treats a segment (PSH/URG/ECE/CWR do not). */
const bit<8> TCP_CTRL_MASK = 0x17;   /* FIN | SYN | RST | ACK */

/* TCP option kinds and the (kind, length) pairs the parser recognises. */
const bit<8> TCP_OPT_EOL       = 0;
const bit<8> TCP_OPT_NOP       = 1;
const bit<8> TCP_OPT_MSS       = 2;
const bit<8> TCP_OPT_WSCALE    = 3;
const bit<8> TCP_OPT_SACK_PERM = 4;
const bit<8> TCP_OPT_SACK      = 5;
const bit<8> TCP_OPT_TIMESTAMP = 8;

const bit<8> TCP_OPT_MSS_LEN       = 4;
const bit<8> TCP_OPT_WSCALE_LEN    = 3;
const bit<8> TCP_OPT_SACK_PERM_LEN = 2;
const bit<8> TCP_OPT_TIMESTAMP_LEN = 10;
/* A SACK option is 2 bytes plus 8 per block (1 to 4 blocks). */
const bit<8> TCP_OPT_SACK1_LEN = 10;
const bit<8> TCP_OPT_SACK2_LEN = 18;
const bit<8> TCP_OPT_SACK3_LEN = 26;
const bit<8> TCP_OPT_SACK4_LEN = 34;

/* Two NOPs, used to pad generated options to 32-bit alignment (RFC 7323 App. A). */
const bit<16> TCP_OPT_NOP_NOP = 0x0101;
/* SACK-permitted (kind 4, length 2) as one 16-bit word. */
const bit<16> TCP_OPT_SACK_PERM_WORD = 0x0402;

/* A TCP header without options, in 32-bit words. */
const bit<4> TCP_MIN_DATA_OFFSET = 5;

/* ------------------------------------------------------------------ SYN cookie
 * Layout (see controller/cookie.py, the Python reference, and p4src/README.md):
 *   cookie = MAC[31:9] ++ E ++ OPTS[7:0]        E = epoch[0]
 *   OPTS   = mss_index(2) ++ wscale(4) ++ sack_ok(1) ++ ts_ok(1)
 *   MAC    = HalfSipHash-2-4(k0, k1; saddr, daddr, sport ++ dport, isn,
 *                            epoch[23:0] ++ OPTS)
 */
const bit<32> COOKIE_MAC_MASK  = 0xfffffe00;
const bit<32> COOKIE_EPOCH_BIT = 0x00000100;
const bit<32> COOKIE_OPTS_MASK = 0x000000ff;
/* MSS values the 2-bit index stands for: the client's MSS rounded down. */
const bit<16> COOKIE_MSS_0 = 536;
const bit<16> COOKIE_MSS_1 = 1300;
const bit<16> COOKIE_MSS_2 = 1440;
const bit<16> COOKIE_MSS_3 = 1460;
/* D13: the same index for an IPv6 flow (its header is 20 bytes longer; 1220 is
 * what the IPv6 minimum MTU, 1280, leaves). */
const bit<16> COOKIE_MSS6_0 = 1220;
const bit<16> COOKIE_MSS6_1 = 1300;
const bit<16> COOKIE_MSS6_2 = 1380;
const bit<16> COOKIE_MSS6_3 = 1440;
/* Window-scale field value for "client sent no window-scale option". */
const bit<4> COOKIE_WSCALE_NONE = 15;
/* RFC 7323: shifts above 14 are treated as 14. */
const bit<8> TCP_WSCALE_MAX = 14;

/* HalfSipHash initialisation constants ("lyge", "tedb": the SipHash family's IVs
 * cut to 32 bits) and the finalisation xor for a 32-bit output. */
const bit<32> HSIP_IV2 = 0x6c796765;
const bit<32> HSIP_IV3 = 0x74656462;
const bit<32> HSIP_FINAL_XOR = 0x000000ff;
/* The MAC input is 5 words = 20 bytes; HalfSipHash's last block carries the length
 * in its top byte. */
const bit<32> HSIP_COOKIE_LEN_WORD = 0x14000000;
/* D13: an IPv6 flow's MAC input is 11 words = 44 bytes (the addresses in full). */
const bit<32> HSIP_COOKIE6_LEN_WORD = 0x2c000000;

/* ------------------------------------------------------------------ services */

/* Proxy mode of a service (D2, C8). AUTO proxies only while the service has an
 * entry in the defense table. */
const bit<8> PROXY_MODE_OFF  = 0;
const bit<8> PROXY_MODE_ON   = 1;
const bit<8> PROXY_MODE_AUTO = 2;

/* Service flags (set_service's `flags` parameter). */
const bit<8> SVC_FLAG_SACK   = 0x01;   /* offer SACK-permitted if the client does */
const bit<8> SVC_FLAG_TS     = 0x02;   /* offer timestamps if the client does */
const bit<8> SVC_FLAG_WSCALE = 0x04;   /* offer window scaling if the client does */
const bit<8> SVC_FLAG_DEFER  = 0x08;   /* D5: start the session on the first data */
const bit<8> SVC_FLAG_NAT    = 0x10;   /* C8: unproxied flows are NATed (nat.p4) */
const bit<8> SVC_FLAG_FAIL_CLOSED = 0x20;   /* controller gone: refuse (else pass) */

/* ------------------------------------------------------------------ sessions */

/* Session states, per slot in the session_state register (D7, D11). A slot whose
 * session_gen differs from its entry's gen (a new install or restart) starts as
 * SYN_SENT; the data plane moves it on and reports every change (digest). */
const SessionState_t SESSION_NONE        = 0;
const SessionState_t SESSION_SYN_SENT    = 1;   /* server SYN sent, SYN/ACK awaited */
const SessionState_t SESSION_ESTABLISHED = 2;
const SessionState_t SESSION_FIN_WAIT    = 3;   /* client sent FIN first */
const SessionState_t SESSION_CLOSE_WAIT  = 4;   /* server sent FIN first */
const SessionState_t SESSION_LAST_ACK    = 5;   /* both sides sent FIN */
const SessionState_t SESSION_TIME_WAIT   = 6;   /* an ACK followed both FINs */
const SessionState_t SESSION_CLOSE       = 7;   /* RST seen, or handshake aborted */

/* C4: the pending-handshake clock (proxy.p4) counts wraps of the 48-bit ingress
 * clock in its top 16 bits. A wrap is a drop of more than half the clock's range
 * (packets handled slightly out of timestamp order are no wrap). */
const bit<48> PENDING_CLOCK_HALF = 0x800000000000;

/* Direction of a session entry. */
const bit<8> DIR_NONE   = 0;
const bit<8> DIR_CLIENT = 1;   /* client -> VIP (towards the real server) */
const bit<8> DIR_SERVER = 2;   /* real server -> client */

/* session_event_digest_t.event */
const bit<8> SESSION_EV_ESTABLISHED  = 1;   /* D8: server SYN/ACK seen */
const bit<8> SESSION_EV_SERVER_RESET = 2;   /* D10: server RST during handshake */
const bit<8> SESSION_EV_CLIENT_ABORT = 3;   /* D10: client RST/FIN during handshake */
const bit<8> SESSION_EV_STATE        = 4;   /* any other state change (FINs, RST) */

/* ------------------------------------------------------------------ events (D12)
 * Index into the global_events counter and, offset by service_id * EVENTS_PER_SERVICE,
 * into service_events. Every protected-service packet counts exactly one outcome;
 * SYNs also count EV_SYN_IN. */
const ProxyEvent_t EV_NONE                = 0;
const ProxyEvent_t EV_SYN_IN              = 1;
const ProxyEvent_t EV_SYNACK_SENT         = 2;
const ProxyEvent_t EV_ACK_VALID           = 3;
const ProxyEvent_t EV_ACK_INVALID         = 4;   /* bad cookie: dropped */
const ProxyEvent_t EV_SESSION_ESTABLISHED = 5;
const ProxyEvent_t EV_DROP_NO_SESSION     = 6;
const ProxyEvent_t EV_DROP_DEFER          = 7;
const ProxyEvent_t EV_DROP_UDP            = 8;
const ProxyEvent_t EV_DROP_FRAGMENT       = 9;
const ProxyEvent_t EV_DROP_MALFORMED      = 10;
const ProxyEvent_t EV_TRANSLATED_C2S      = 11;
const ProxyEvent_t EV_TRANSLATED_S2C      = 12;
const ProxyEvent_t EV_SERVER_RESET        = 13;
const ProxyEvent_t EV_CLIENT_ABORT        = 14;
const ProxyEvent_t EV_EARLY_DATA          = 15;   /* data punted to the controller (C4) */
const ProxyEvent_t EV_DROP_HANDSHAKE      = 16;   /* stray segment while SYN_SENT */
const ProxyEvent_t EV_DROP_POLICY         = 17;   /* other protocols denied (D15) */
const ProxyEvent_t EV_SYN_PASSED          = 18;   /* SYN to an unprotected service */
const ProxyEvent_t EV_SERVER_SYNACK_RETX  = 19;   /* server SYN/ACK again: ACK resent */
const ProxyEvent_t EV_MALFORMED_PASSED    = 20;   /* malformed, forwarded in a session */
const ProxyEvent_t EV_REUSE_ACK           = 21;   /* valid cookie ACK on a closing session */
const ProxyEvent_t EV_DROP_NO_KEY         = 22;   /* SYN before the controller set a key */
const ProxyEvent_t EV_PASSTHROUGH         = 23;   /* flow seen before the defence, passed */
const ProxyEvent_t EV_DROP_NO_SERVER      = 24;   /* NAT service, unproxied, no bucket entry */
const ProxyEvent_t EV_DROP_MARTIAN        = 25;   /* D16: martian source address, to a VIP */
const ProxyEvent_t EV_DROP_GROUP_MAC      = 26;   /* D16: group source MAC (to a VIP, or ARP) */
const ProxyEvent_t EV_DROP_UNPARSED       = 27;   /* D16: a frame the parser cannot follow */
const ProxyEvent_t EV_CONTROLLER_DOWN_PASSED = 28;   /* SYN passed: controller gone, fail open */
const ProxyEvent_t EV_CONTROLLER_DOWN_RESET  = 29;   /* handshake reset: controller gone, fail closed */
const ProxyEvent_t EV_DROP_SYN_SOURCE_RATE   = 30;   /* D15: SYN above its source prefix's meter */
const ProxyEvent_t EV_DROP_SYN_SERVICE_RATE  = 31;   /* D15: SYN above its service's meter */
const ProxyEvent_t EV_DROP_SYN_EARLY         = 32;   /* D15: SYN above a CIR, random early drop */
const ProxyEvent_t EV_DROP_CONTROLLER_RATE   = 33;   /* D15: digest/PacketIn above its meter */
const ProxyEvent_t EV_V6_CHAIN_PASSED        = 34;   /* D13: unfollowed IPv6 header chain, forwarded */
/* D15, icmp.p4: ICMP and the other protocols to a VIP, by the service's policy. */
const ProxyEvent_t EV_ICMP_ECHO_ANSWERED     = 40;   /* echo request answered by the switch */
const ProxyEvent_t EV_ICMP_PASSED            = 41;   /* ICMP passed to the servers */
const ProxyEvent_t EV_DROP_ICMP              = 42;   /* ICMP dropped by policy, or not answerable */
const ProxyEvent_t EV_DROP_ICMP_TRUNCATED    = 43;   /* ICMP header shorter than 8 bytes */
const ProxyEvent_t EV_DROP_ICMP_RATE         = 44;   /* echo request above the answer meter */
const ProxyEvent_t EV_IPSEC_PASSED           = 45;   /* AH or ESP passed to the servers */
const ProxyEvent_t EV_DROP_IPSEC             = 46;   /* AH or ESP dropped by policy */
const ProxyEvent_t EV_PROTOCOL_PASSED        = 47;   /* another protocol passed (dropped: DROP_POLICY) */
const ProxyEvent_t EV_DROP_FULLNAT_UNKNOWN   = 48;   /* D7: to a FULLNAT local address, no session */

/* ------------------------------------------------------------------ meters (D15)
 * v1model's meter colours, and the cells of controller_meter (meters.p4). */
const bit<2> METER_GREEN  = 0;
const bit<2> METER_YELLOW = 1;
const bit<2> METER_RED    = 2;
const bit<32> METER_CELL_DIGEST    = 0;
const bit<32> METER_CELL_PACKET_IN = 1;

/* ------------------------------------------------------------------ CPU port I/O */

/* packet_in_t.reason */
const bit<8> PUNT_NONE         = 0;
const bit<8> PUNT_EARLY_DATA   = 1;   /* client data while the server handshake is pending */
const bit<8> PUNT_COOKIE_DATA  = 2;   /* valid cookie ACK carrying data (digest sent too) */
const bit<8> PUNT_ROUTE        = 3;   /* a route's punt action */

/* packet_out_t.flags */
const bit<8> PKTOUT_FLAG_PIPELINE = 0x01;   /* run the ingress pipeline (session NAT) */

#endif
