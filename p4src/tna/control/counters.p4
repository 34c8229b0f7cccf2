/* D12: proxy events, per service and global (as v1model's control/counters.p4). */
#ifndef SYNPROXY_TNA_CONTROL_COUNTERS_P4
#define SYNPROXY_TNA_CONTROL_COUNTERS_P4

control EventCounters(in local_metadata_t meta) {

    @id(ID_COUNTER_SERVICE_EVENTS)
    Counter<bit<32>, bit<32>>(SERVICE_EVENTS_SIZE, CounterType_t.PACKETS_AND_BYTES) service_events;

    @id(ID_COUNTER_GLOBAL_EVENTS)
    Counter<bit<32>, bit<32>>(EVENTS_PER_SERVICE, CounterType_t.PACKETS_AND_BYTES) global_events;

    apply {
        bit<32> base = (bit<32>)meta.service_id * EVENTS_PER_SERVICE;
        if (meta.syn_in) {
            service_events.count(base + (bit<32>)EV_SYN_IN);
            global_events.count((bit<32>)EV_SYN_IN);
        }
        if (meta.event != EV_NONE) {
            service_events.count(base + (bit<32>)meta.event);
            global_events.count((bit<32>)meta.event);
        }
    }
}

#endif
