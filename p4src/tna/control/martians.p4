/* D16: source prefixes no honest host sends from (as v1model's control/martians.p4). */
#ifndef SYNPROXY_TNA_CONTROL_MARTIANS_P4
#define SYNPROXY_TNA_CONTROL_MARTIANS_P4

control MartianSources(in headers_t hdr, inout local_metadata_t meta) {

    @id(ID_DIRECT_COUNTER_MARTIAN_SOURCES)
    DirectCounter<bit<32>>(CounterType_t.PACKETS_AND_BYTES) martian_sources_counter;

    @id(ID_ACTION_SET_MARTIAN)
    action set_martian() {
        meta.martian = true;
        martian_sources_counter.count();
    }

    @id(ID_TABLE_MARTIAN_SOURCES)
    table martian_sources {
        key = {
            hdr.ipv4.src_addr : lpm @name("src_addr");
        }
        actions = {
            set_martian;
            @defaultonly NoAction;
        }
        const default_action = NoAction();
        counters = martian_sources_counter;
        size = MARTIAN_SOURCES_SIZE;
    }

    apply {
        martian_sources.apply();
    }
}

#endif
