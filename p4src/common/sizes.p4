/* Every table, register and counter size, in one place (shared by the targets).
 *
 * Sizes are macros with defaults, so a test or a small target can shrink them at
 * compile time: `p4sim-compile -DSESSIONS_SIZE=1024 ...` (or p4c's -D). The controller
 * reads the sizes it depends on from the P4Info (tables' and registers' `size`), never
 * from a copy. Sizes used as the bound of a hash() carry a width (32w...), as p4c
 * needs a typed bound there: override them with one too (-DPENDING_SIZE=32w1024).
 * Derived sizes follow the ones they derive from unless given themselves. */
#ifndef SYNPROXY_COMMON_SIZES_P4
#define SYNPROXY_COMMON_SIZES_P4

/* Parsed TCP options per segment. Real stacks send at most 6 (NOP NOP TS NOP NOP SACK);
 * a 40-byte option area needing more is treated as malformed. A macro, not a const,
 * because it sizes a header stack and the unrolled per-option code in seqadj.p4. */
#define TCP_OPTIONS_MAX 12

#ifndef SERVICES_SIZE
#define SERVICES_SIZE 1024
#endif
/* IPv6 extension headers the parser follows in one chain (D13): three of
 * hop-by-hop / destination options / routing, and one fragment header. */
#ifndef IPV6_EXT_MAX
#define IPV6_EXT_MAX 4
#endif
#ifndef MAX_SERVICE_IDS
#define MAX_SERVICE_IDS 256        /* service_id < MAX_SERVICE_IDS */
#endif
#ifndef SESSIONS_SIZE
#define SESSIONS_SIZE 65536        /* slots; the table holds two entries per slot */
#endif
#ifndef SESSION_ENTRIES
#define SESSION_ENTRIES (2 * SESSIONS_SIZE)
#endif
#ifndef ARP_REPLIES_SIZE
#define ARP_REPLIES_SIZE 1024
#endif
#ifndef ROUTER_MACS_SIZE
#define ROUTER_MACS_SIZE 64
#endif
#ifndef IPV4_ROUTES_SIZE
#define IPV4_ROUTES_SIZE 4096
#endif
#ifndef MAC_TABLE_SIZE
#define MAC_TABLE_SIZE 4096
#endif
#ifndef FLOW_FILTER_SIZE
#define FLOW_FILTER_SIZE 32w65536  /* cells of the passthrough flow filter (a hash bound) */
#endif
/* C4: pending handshakes (a validated cookie ACK whose session is not installed yet),
 * one slot per crc16(4-tuple) mod size (a hash bound); an entry offers its ISN to the
 * flow's later segments for PENDING_LIFETIME microseconds of the ingress clock. */
#ifndef PENDING_SIZE
#define PENDING_SIZE 32w8192
#endif
const bit<64> PENDING_LIFETIME   = 10000000;   /* 10 s */
/* D15: cells of each of the two source-prefix SYN meters (meters.p4; a modulus). */
#ifndef SOURCE_METER_SIZE
#define SOURCE_METER_SIZE 32w1024
#endif
#ifndef FULLNAT_LOCAL_ADDRESSES_SIZE
#define FULLNAT_LOCAL_ADDRESSES_SIZE 256       /* D7: FULLNAT local addresses (laddrs) */
#endif
#ifndef MARTIAN_SOURCES_SIZE
#define MARTIAN_SOURCES_SIZE 1024              /* D16: bogon prefixes, own addresses */
#endif
#ifndef VIP_PROTOCOLS_SIZE
#define VIP_PROTOCOLS_SIZE 1024                /* D15: (service, protocol) policies */
#endif
const bit<32> EVENTS_PER_SERVICE = 64;     /* > every EV_* value */
#ifndef SERVICE_EVENTS_SIZE
#define SERVICE_EVENTS_SIZE (MAX_SERVICE_IDS * EVENTS_PER_SERVICE)
#endif

/* C8, nat.p4: unproxied flows of a NAT service are spread over 2^NAT_BUCKET_BITS
 * buckets, each pointing at a real server. A macro: it is a bit width. */
#define NAT_BUCKET_BITS 6
const bit<32> NAT_BUCKETS        = 64;     /* 1 << NAT_BUCKET_BITS */
#ifndef NAT_BUCKETS_SIZE
#define NAT_BUCKETS_SIZE (MAX_SERVICE_IDS * NAT_BUCKETS)
#endif
#ifndef NAT_REVERSE_SIZE
#define NAT_REVERSE_SIZE 4096      /* real servers of NAT services in auto/off */
#endif

#endif
