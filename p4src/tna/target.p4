/*
 * TNA hooks: the target constants the shared code and the TNA controls use.
 * Included after tna.p4 (which defines PortId_t, MirrorId_t, DigestType_t) and
 * before p4src/common.
 */
#ifndef SYNPROXY_TNA_TARGET_P4
#define SYNPROXY_TNA_TARGET_P4

/* The CPU (PCIe) port: 192 on a 2- or 4-pipe Tofino 1 (pipe 1, port 64); 320 on
 * Tofino 2. p4sim's cpu_port must match. Override with -DCPU_PORT=<n>. */
#ifndef CPU_PORT
#define CPU_PORT 192
#endif
const PortId_t CPU_PORT_ID = CPU_PORT;

/* The port the cookie passes are recirculated through: pipe 0's recirculation port
 * 68 on Tofino 1 (any port in loopback mode will do). -DRECIRC_PORT=<n>. */
#ifndef RECIRC_PORT
#define RECIRC_PORT 68
#endif
const PortId_t RECIRC_PORT_ID = RECIRC_PORT;

/* ig_intr_md_for_dprsr.digest_type values: one per digest struct (D5, D8). */
const DigestType_t DIGEST_TYPE_NONE = 0;
const DigestType_t DIGEST_TYPE_COOKIE_ACK = 1;
const DigestType_t DIGEST_TYPE_SESSION_EVENT = 2;

/* Mirror sessions REFLECT_SESSION_BASE + p send a copy out of port p (D8: the ACK to
 * the server goes back out of the port its SYN/ACK came in on), as v1model's clone
 * sessions; the controller and the tests configure both the same way. 512 + a
 * 9-bit port fits MirrorId_t (10 bits). */
const MirrorId_t REFLECT_SESSION_BASE = 512;
const MirrorType_t MIRROR_TYPE_SERVER_ACK = 1;

/* drop_ctl = 1: no unicast, multicast or resubmit copy of the packet. */
const bit<3> DROP_CTL_DROP = 1;

/* IPv6 extension headers in headers_t (common/headers.p4): v1model keeps the chain
 * in a stack of header unions, which bf-p4c refuses ("Unsupported type
 * header_union"). The TNA parser does not follow IPv6 (D13 is not on TNA yet), so
 * the TNA headers hold no extension header: an IPv6 frame is forwarded at L2 as
 * any frame of an ether type the parser does not follow. */
#define IPV6_EXT_HEADERS

/* The @field_list index common/headers.p4 names for v1model's clone; TNA ignores
 * the annotation (a mirror carries its own header). */
#define FIELD_LIST_SERVER_ACK 1

#endif
