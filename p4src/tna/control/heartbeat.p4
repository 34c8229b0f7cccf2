/*
 * The controller-down policy (C13), as v1model's control/heartbeat.p4, which says
 * what the heartbeat is and how the offset between the two clocks is kept. On
 * Tofino each of the four registers is read and written by one RegisterAction per
 * packet, in dependency order: instance, beat and last check each report what
 * changed, then the offset register takes the new sample when one of them asks for
 * it (or the sample is below the offset) and returns the offset in force.
 * Our clock is our_tsval_tna's (2^20 ns ticks; the controller's are 1.024 ms: the
 * 2.4% difference in rate is followed like any drift, by taking the offset afresh).
 */
#ifndef SYNPROXY_TNA_CONTROL_HEARTBEAT_P4
#define SYNPROXY_TNA_CONTROL_HEARTBEAT_P4

control ControllerWatch(in tcp_t tcp, inout local_metadata_t meta, in bit<48> global_tstamp) {

    bit<32> hb_instance = 0;
    bit<32> hb_beat = 0;
    bit<32> hb_limit = 0;
    bit<32> now = 0;
    bit<32> sample = 0;
    bool    retake = false;

    @id(ID_ACTION_SET_HEARTBEAT)
    action set_heartbeat(bit<32> instance, bit<32> beat, bit<32> limit) {
        hb_instance = instance;
        hb_beat = beat;
        hb_limit = limit;
    }

    @id(ID_TABLE_CONTROLLER_HEARTBEAT)
    table controller_heartbeat {
        actions = {
            @defaultonly set_heartbeat;
        }
        default_action = set_heartbeat(0, 0, 0);
        size = 1;
    }

    @id(ID_REGISTER_HEARTBEAT_INSTANCE)
    Register<bit<32>, bit<32>>(1, 0) heartbeat_instance;
    @id(ID_REGISTER_HEARTBEAT_BEAT)
    Register<bit<32>, bit<32>>(1, 0) heartbeat_beat;
    @id(ID_REGISTER_HEARTBEAT_OFFSET)
    Register<bit<32>, bit<32>>(1, 0) heartbeat_offset;
    @id(ID_REGISTER_HEARTBEAT_CHECKED)
    Register<bit<32>, bit<32>>(1, 0) heartbeat_checked;

    /* Another instance than the last seen: true; the cell takes this one. */
    RegisterAction<bit<32>, bit<32>, bool>(heartbeat_instance) instance_swap = {
        void apply(inout bit<32> value, out bool changed) {
            changed = value != hb_instance;
            value = hb_instance;
        }
    };
    RegisterAction<bit<32>, bit<32>, bool>(heartbeat_beat) beat_swap = {
        void apply(inout bit<32> value, out bool changed) {
            changed = value != hb_beat;
            value = hb_beat;
        }
    };
    /* The last check's time out, now in. */
    RegisterAction<bit<32>, bit<32>, bit<32>>(heartbeat_checked) checked_swap = {
        void apply(inout bit<32> value, out bit<32> last) {
            last = value;
            value = now;
        }
    };
    /* The offset: the sample when asked (retake) or when below it (the top bit of
     * sample - offset set: an earlier, so smaller, sample modulo 2^32). */
    RegisterAction<bit<32>, bit<32>, bit<32>>(heartbeat_offset) offset_update = {
        void apply(inout bit<32> value, out bit<32> offset) {
            bit<32> below = sample - value;
            if (retake || below[31:31] == 1) {
                value = sample;
            }
            offset = value;
        }
    };

    apply {
        meta.controller_down = false;
        if (meta.svc_hit && !meta.svc_deny && meta.proxy_active && !meta.session_hit
                && !meta.from_cpu && tcp.isValid()) {
            controller_heartbeat.apply();
            if (hb_limit != 0) {
                now = (bit<32>)(global_tstamp >> 20);
                sample = now - hb_beat;
                bool new_instance = instance_swap.execute(0);
                bool new_beat = beat_swap.execute(0);
                bit<32> last = checked_swap.execute(0);
                retake = new_instance || (new_beat && now - last <= (hb_limit >> 2));
                bit<32> offset = offset_update.execute(0);
                meta.controller_down = sample - offset > hb_limit;
            }
        }
        if (meta.controller_down) {
            if ((meta.svc_flags & SVC_FLAG_FAIL_CLOSED) == 0) {
                meta.proxy_active = false;   /* fail open: as mode off */
            }
        }
    }
}

/* After SynProxy: a SYN passed because the controller is gone is counted as such. */
void controller_down_count(inout local_metadata_t meta) {
    if (meta.controller_down && meta.event == EV_SYN_PASSED) {
        meta.event = EV_CONTROLLER_DOWN_PASSED;
    }
}

#endif
