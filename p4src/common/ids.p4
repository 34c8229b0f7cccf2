/*
 * Stable P4Runtime ids (@id). Values below 2^24: the compiler adds the 8-bit
 * resource-type prefix of the P4Runtime spec. Never reuse a retired value; the
 * controller still resolves everything by name.
 */
#ifndef SYNPROXY_COMMON_IDS_P4
#define SYNPROXY_COMMON_IDS_P4

/* tables */
#define ID_TABLE_SERVICES     1
#define ID_TABLE_SESSIONS     2
#define ID_TABLE_COOKIE_KEYS  3
#define ID_TABLE_ARP_REPLIES  4
#define ID_TABLE_ROUTER_MACS  5
#define ID_TABLE_IPV4_ROUTES  6
#define ID_TABLE_MAC_TABLE    7
#define ID_TABLE_NAT_BUCKETS  8
#define ID_TABLE_NAT_REVERSE  9
#define ID_TABLE_DEFENSE      10
#define ID_TABLE_PASSTHROUGH_EPOCH 11
#define ID_TABLE_MARTIAN_SOURCES  12
#define ID_TABLE_CONTROLLER_HEARTBEAT 13
#define ID_TABLE_SERVICES_V6  14
#define ID_TABLE_SESSIONS_V6  15
#define ID_TABLE_MARTIAN_SOURCES_V6 16
#define ID_TABLE_ND_REPLIES   17
#define ID_TABLE_IPV6_ROUTES  18
#define ID_TABLE_NAT_BUCKETS_V6 19
#define ID_TABLE_NAT_REVERSE_V6 20
#define ID_TABLE_IPV6_CHAIN_POLICY 21
#define ID_TABLE_OVERLOAD_CONFIG  22
#define ID_TABLE_VIP_PROTOCOLS    28

/* actions */
#define ID_ACTION_SET_SERVICE         1
#define ID_ACTION_DENY_SERVICE        2
#define ID_ACTION_NO_SERVICE          3
#define ID_ACTION_SET_CLIENT_SESSION  4
#define ID_ACTION_SET_SERVER_SESSION  5
#define ID_ACTION_NO_SESSION          6
#define ID_ACTION_SET_COOKIE_KEYS     7
#define ID_ACTION_UNSET_COOKIE_KEYS   8
#define ID_ACTION_REPLY_ARP           9
#define ID_ACTION_SET_ROUTED          10
#define ID_ACTION_ROUTE_TO            11
#define ID_ACTION_PUNT_ROUTE          12
#define ID_ACTION_DROP_PACKET         13
#define ID_ACTION_BRIDGE_TO           14
#define ID_ACTION_FLOOD               15
#define ID_ACTION_NAT_TO              16
#define ID_ACTION_NO_SERVER           17
#define ID_ACTION_NAT_FROM            18
#define ID_ACTION_NO_NAT              19
#define ID_ACTION_SET_DEFENSE_ACTIVE  20
#define ID_ACTION_NO_DEFENSE          21
#define ID_ACTION_SET_PASSTHROUGH_EPOCH 22
#define ID_ACTION_SET_MARTIAN         23
#define ID_ACTION_SET_HEARTBEAT       24
#define ID_ACTION_SET_CLIENT_SESSION_V6 25
#define ID_ACTION_SET_SERVER_SESSION_V6 26
#define ID_ACTION_REPLY_NA            27
#define ID_ACTION_NAT_TO_V6           28
#define ID_ACTION_NAT_FROM_V6         29
#define ID_ACTION_SET_IPV6_CHAIN_POLICY 30
#define ID_ACTION_SET_OVERLOAD        31
#define ID_ACTION_UNSET_OVERLOAD      32
#define ID_ACTION_ICMP_ANSWER         40
#define ID_ACTION_PROTOCOL_PASS       41
#define ID_ACTION_PROTOCOL_DROP       42

/* registers */
#define ID_REGISTER_SESSION_STATE     1
#define ID_REGISTER_SESSION_DELTA     2
#define ID_REGISTER_SESSION_TSOFF     3
/* 4 was defense_active (now the defense table): retired */
#define ID_REGISTER_PASSTHROUGH_FLOWS 5
#define ID_REGISTER_SESSION_SERVER_WSCALE 6
/* 7 was pending_tag (a crc32 of the 4-tuple; now the tuple itself): retired */
#define ID_REGISTER_PENDING_COOKIE    8
#define ID_REGISTER_PENDING_ISN       9
/* 10 was pending_time (a 32-bit clock that wrapped; now pending_since): retired */
#define ID_REGISTER_SESSION_GEN       11
#define ID_REGISTER_PENDING_CLIENT    12
#define ID_REGISTER_PENDING_VIP       13
#define ID_REGISTER_PENDING_PORTS     14
#define ID_REGISTER_PENDING_SINCE     15
#define ID_REGISTER_PENDING_CLOCK     16
#define ID_REGISTER_PASSTHROUGH_SRC   17
#define ID_REGISTER_PASSTHROUGH_DST   18
#define ID_REGISTER_PASSTHROUGH_PORTS 19
#define ID_REGISTER_HEARTBEAT_INSTANCE 20
#define ID_REGISTER_HEARTBEAT_BEAT    21
#define ID_REGISTER_HEARTBEAT_OFFSET  22
#define ID_REGISTER_HEARTBEAT_CHECKED 23
#define ID_REGISTER_PENDING_CLIENT6   24
#define ID_REGISTER_PENDING_VIP6      25
#define ID_REGISTER_PASSTHROUGH_SRC6  26
#define ID_REGISTER_PASSTHROUGH_DST6  27

/* counters */
#define ID_COUNTER_SERVICE_EVENTS     1
#define ID_COUNTER_GLOBAL_EVENTS      2

/* meters */
#define ID_METER_SERVICE_SYN          1
#define ID_METER_SOURCE_SYN_A         2
#define ID_METER_SOURCE_SYN_B         3
#define ID_METER_CONTROLLER           4
/* 32..39: the numbers of the issue-16 work's registers, also for its meters */
#define ID_METER_ICMP_ECHO            32

/* direct counters */
#define ID_DIRECT_COUNTER_SERVICES    1
#define ID_DIRECT_COUNTER_SESSIONS    2
#define ID_DIRECT_COUNTER_ARP_REPLIES 3
#define ID_DIRECT_COUNTER_ROUTER_MACS 4
#define ID_DIRECT_COUNTER_IPV4_ROUTES 5
#define ID_DIRECT_COUNTER_MAC_TABLE   6
#define ID_DIRECT_COUNTER_NAT_BUCKETS 7
#define ID_DIRECT_COUNTER_NAT_REVERSE 8
#define ID_DIRECT_COUNTER_DEFENSE     9
#define ID_DIRECT_COUNTER_MARTIAN_SOURCES 10
#define ID_DIRECT_COUNTER_SERVICES_V6 11
#define ID_DIRECT_COUNTER_SESSIONS_V6 12
#define ID_DIRECT_COUNTER_MARTIAN_SOURCES_V6 13
#define ID_DIRECT_COUNTER_ND_REPLIES  14
#define ID_DIRECT_COUNTER_IPV6_ROUTES 15
#define ID_DIRECT_COUNTER_NAT_BUCKETS_V6 16
#define ID_DIRECT_COUNTER_NAT_REVERSE_V6 17

#endif
