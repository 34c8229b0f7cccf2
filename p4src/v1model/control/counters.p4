/*
 * D12: proxy events, per service and global. Index = event (global) and
 * service_id * EVENTS_PER_SERVICE + event (per service); EV_* in defines.p4.
 */
#ifndef SYNPROXY_CONTROL_COUNTERS_P4
#define SYNPROXY_CONTROL_COUNTERS_P4

control EventCounters(in local_metadata_t meta) {

    @id(ID_COUNTER_SERVICE_EVENTS)
    counter(SERVICE_EVENTS_SIZE, CounterType.packets_and_bytes) service_events;

    @id(ID_COUNTER_GLOBAL_EVENTS)
    counter(EVENTS_PER_SERVICE, CounterType.packets_and_bytes) global_events;

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
