/* Every table, register and counter size, in one place (shared by the targets). */
#ifndef SYNPROXY_COMMON_SIZES_P4
#define SYNPROXY_COMMON_SIZES_P4

/* Parsed TCP options per segment. Real stacks send at most 6 (NOP NOP TS NOP NOP SACK);
 * a 40-byte option area needing more is treated as malformed. A macro, not a const,
 * because it sizes a header stack and the unrolled per-option code in seqadj.p4. */
#define TCP_OPTIONS_MAX 12

const bit<32> SERVICES_SIZE      = 1024;
const bit<32> MAX_SERVICE_IDS    = 256;    /* service_id < MAX_SERVICE_IDS */
const bit<32> SESSIONS_SIZE      = 65536;  /* slots; the table holds two entries per slot */
const bit<32> SESSION_ENTRIES    = 131072;
const bit<32> ARP_REPLIES_SIZE   = 1024;
const bit<32> ROUTER_MACS_SIZE   = 64;
const bit<32> IPV4_ROUTES_SIZE   = 4096;
const bit<32> MAC_TABLE_SIZE     = 4096;
const bit<32> FLOW_FILTER_SIZE   = 65536;  /* cells of the passthrough flow filter */
/* C4: pending handshakes (a validated cookie ACK whose session is not installed yet),
 * one slot per crc16(4-tuple) mod size; an entry offers its ISN to the flow's later
 * segments for PENDING_LIFETIME microseconds of the ingress clock. */
const bit<32> PENDING_SIZE       = 8192;
const bit<64> PENDING_LIFETIME   = 10000000;   /* 10 s */
const bit<32> MARTIAN_SOURCES_SIZE = 1024;     /* D16: bogon prefixes, own addresses */
const bit<32> EVENTS_PER_SERVICE = 32;     /* > every EV_* value */
const bit<32> SERVICE_EVENTS_SIZE = 8192;  /* MAX_SERVICE_IDS * EVENTS_PER_SERVICE */

/* C8, nat.p4: unproxied flows of a NAT service are spread over 2^NAT_BUCKET_BITS
 * buckets, each pointing at a real server. A macro: it is a bit width. */
#define NAT_BUCKET_BITS 6
const bit<32> NAT_BUCKETS        = 64;     /* 1 << NAT_BUCKET_BITS */
const bit<32> NAT_BUCKETS_SIZE   = 16384;  /* MAX_SERVICE_IDS * NAT_BUCKETS */
const bit<32> NAT_REVERSE_SIZE   = 4096;   /* real servers of NAT services in auto/off */

#endif
