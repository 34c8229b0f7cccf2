/*
 * Controller-down policy. The controller refreshes a heartbeat (the keyless
 * `controller_heartbeat` table's default action) every interval; the data plane
 * decides from it, per new connection, whether the controller is gone, and then
 * follows the service's policy (SVC_FLAG_FAIL_CLOSED in its `set_service` flags):
 *   fail open:   the service is not proxied (as mode off: SYNs pass to the servers,
 *                NAT services through their NAT buckets, C8), counted as
 *                EV_CONTROLLER_DOWN_PASSED per SYN;
 *   fail closed: a cookie-validated handshake ACK is answered with a RST (proxy.p4,
 *                REPLY_REFUSAL_RESET in reply.p4),
 *                counted as EV_CONTROLLER_DOWN_RESET; a SYN still gets its SYN/ACK,
 *                so nothing is reflected that is not reflected today.
 * Established sessions are not looked at: their entries stay and keep working.
 *
 * The beat is the controller's own clock, in ticks of 1.024 ms (as our_tsval): the
 * data plane cannot see when a table was written, only the beat the next packet
 * finds, which may come long after the write. So it keeps the offset between its
 * clock and the controller's (both in 32-bit ticks):
 *   offset = min over packets of (now - beat)       (each is >= the true offset)
 *   silence = now - beat - offset                   (<= the true time since the write)
 * The controller is gone when silence > limit: never declared early, late by the
 * error of the offset, which is the shortest wait seen between a write and a packet
 * that found it. The offset is taken afresh when the instance changes (a controller
 * restarted, or another one, with its own clock) and when a new beat is found by a
 * packet that follows the last one checked within limit / 4 (so a drift of the two
 * clocks' rates is followed rather than accumulated).
 * All arithmetic is modulo 2^32 ticks: a silence beyond 2^31 ticks (25 days) reads
 * as a fresh beat. limit 0 (the program's default) turns the check off.
 * The controller writes the table only; the registers are the data plane's.
 */
#ifndef SYNPROXY_CONTROL_HEARTBEAT_P4
#define SYNPROXY_CONTROL_HEARTBEAT_P4

control ControllerWatch(in tcp_t tcp, inout local_metadata_t meta,
                        in standard_metadata_t standard_metadata) {

    bit<32> hb_instance = 0;
    bit<32> hb_beat = 0;
    bit<32> hb_limit = 0;

    /* instance: nonzero, new per controller start; beat: its clock in ticks;
     * limit: the silence, in ticks, after which it counts as gone (0: never). */
    @id(ID_ACTION_SET_HEARTBEAT)
    action set_heartbeat(bit<32> instance, bit<32> beat, bit<32> limit) {
        hb_instance = instance;
        hb_beat = beat;
        hb_limit = limit;
    }

    /* Keyless; the controller modifies the default action every interval. */
    @id(ID_TABLE_CONTROLLER_HEARTBEAT)
    table controller_heartbeat {
        actions = {
            @defaultonly set_heartbeat;
        }
        default_action = set_heartbeat(0, 0, 0);
        size = 1;
    }

    /* The last instance and beat seen, the offset (ticks), the last check (ticks). */
    @id(ID_REGISTER_HEARTBEAT_INSTANCE)
    register<bit<32>>(1) heartbeat_instance;
    @id(ID_REGISTER_HEARTBEAT_BEAT)
    register<bit<32>>(1) heartbeat_beat;
    @id(ID_REGISTER_HEARTBEAT_OFFSET)
    register<bit<32>>(1) heartbeat_offset;
    @id(ID_REGISTER_HEARTBEAT_CHECKED)
    register<bit<32>>(1) heartbeat_checked;

    apply {
        meta.controller_down = false;
        /* New connections to a proxied service only (session traffic pays nothing). */
        if (meta.svc_hit && !meta.svc_deny && meta.proxy_active && !meta.session_hit
                && !meta.from_cpu && tcp.isValid()) {
            controller_heartbeat.apply();
            if (hb_limit != 0) {
                bit<32> now = (bit<32>)(standard_metadata.ingress_global_timestamp >> 10);
                bit<32> instance;
                bit<32> beat;
                bit<32> offset;
                bit<32> checked;
                heartbeat_instance.read(instance, 0);
                heartbeat_beat.read(beat, 0);
                heartbeat_offset.read(offset, 0);
                heartbeat_checked.read(checked, 0);
                bit<32> sample = now - hb_beat;
                bit<32> below = sample - offset;   /* top bit set: an earlier sample */
                if (instance != hb_instance || below[31:31] == 1
                        || (beat != hb_beat && now - checked <= (hb_limit >> 2))) {
                    offset = sample;
                }
                heartbeat_instance.write(0, hb_instance);
                heartbeat_beat.write(0, hb_beat);
                heartbeat_offset.write(0, offset);
                heartbeat_checked.write(0, now);
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
