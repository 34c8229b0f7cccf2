/*
 * v1model hooks: the Tofino-style type names and the target constants the shared
 * code uses. Included after v1model.p4 and before p4src/common.
 */
#ifndef SYNPROXY_V1MODEL_TARGET_P4
#define SYNPROXY_V1MODEL_TARGET_P4

/* v1model defines PortId_t itself from API version 20200408 on. */
#if V1MODEL_VERSION < 20200408
typedef bit<9> PortId_t;
#endif
/* A clone (mirror) session id, as clone() takes it. */
typedef bit<32> MirrorId_t;

/* The switch's CPU port: simple_switch_grpc --cpu-port and p4sim's cpu_port must
 * match. Override with -DCPU_PORT=<n>. */
#ifndef CPU_PORT
#define CPU_PORT 255
#endif
const PortId_t CPU_PORT_ID = CPU_PORT;

/* standard_metadata.instance_type values (bmv2 simple_switch). */
const bit<32> PKT_INSTANCE_TYPE_NORMAL        = 0;
const bit<32> PKT_INSTANCE_TYPE_INGRESS_CLONE = 1;

/* Clone sessions REFLECT_SESSION_BASE + p send a copy back out of port p. The
 * controller creates one per front-panel port: a server SYN/ACK makes two packets,
 * the window update to the client (routed) and the ACK back to the server (D8). */
const MirrorId_t REFLECT_SESSION_BASE = 512;

/* @field_list index of the metadata an ingress clone carries into egress. */
#define FIELD_LIST_SERVER_ACK 1

#endif
