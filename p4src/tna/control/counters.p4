/* D12: proxy events, per service and global (as v1model's control/counters.p4).
 * A packet counts its frame as it arrived: a recirculated pass (cookie.p4) takes
 * the cookie_pass header in front of it off the bytes counted. */
#ifndef SYNPROXY_TNA_CONTROL_COUNTERS_P4
#define SYNPROXY_TNA_CONTROL_COUNTERS_P4

control EventCounters(in local_metadata_t meta, in bool recirculated) {

    @id(ID_COUNTER_SERVICE_EVENTS)
    Counter<bit<32>, bit<32>>(SERVICE_EVENTS_SIZE, CounterType_t.PACKETS_AND_BYTES) service_events;

    @id(ID_COUNTER_GLOBAL_EVENTS)
    Counter<bit<32>, bit<32>>(EVENTS_PER_SERVICE, CounterType_t.PACKETS_AND_BYTES) global_events;

    apply {
        bit<32> adjust = 0;
        if (recirculated) {
            adjust = 0 - COOKIE_PASS_BYTES;
        }
        bit<32> base = (bit<32>)meta.service_id * EVENTS_PER_SERVICE;
        if (meta.syn_in) {
            service_events.count(base + (bit<32>)EV_SYN_IN, adjust);
            global_events.count((bit<32>)EV_SYN_IN, adjust);
        }
        if (meta.event != EV_NONE) {
            service_events.count(base + (bit<32>)meta.event, adjust);
            global_events.count((bit<32>)meta.event, adjust);
        }
    }
}

#endif
