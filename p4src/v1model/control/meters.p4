/*
 * D15, overload fallback: SYN rate meters before cookies, and a meter on what goes to
 * the controller. Rates are P4Runtime MeterConfigs (cir/cburst/pir/pburst, packets per
 * second and packets) the controller writes; an unconfigured meter cell is green, so
 * nothing is capped until the controller says so. Each meter is RFC 2698's two-rate
 * three-colour marker (colour-blind): green below CIR, yellow between CIR and PIR,
 * red above PIR.
 *
 * A SYN that would get a cookie goes through, in this order:
 *   1. the source meters: its source prefix (/24 for IPv4; the caller gives the
 *      prefix as a family-neutral 64-bit value, so IPv6's /64 fits) picks two cells,
 *      one in each of source_syn_meter_a and _b, by a keyed PRF (HalfSipHash-2-4
 *      under the overload_config key, never a CRC: a CRC is affine, so whether two
 *      prefixes collide would not depend on the key, and an attacker could pick
 *      prefixes that share a victim's cell). The prefix is red only when both cells
 *      are: a flood must share both of a victim's cells to starve it. A red SYN is
 *      dropped (EV_DROP_SYN_SOURCE_RATE) before the service meter, so one prefix's
 *      excess never spends the service's budget.
 *   2. the service meter (cell = service id): red is dropped (EV_DROP_SYN_SERVICE_RATE).
 *   3. yellow (at either, i.e. above a CIR) is dropped with the probability
 *      early_drop / 256 of overload_config (LVS's rate drop before the meter is
 *      exhausted; 0 never, 256 always), as EV_DROP_SYN_EARLY.
 * Without overload_config (no key) the source meters are not used.
 *
 * What reaches the controller (ControllerMeter): cookie-ACK digests (cell 0) and
 * PacketIns of the proxy (cell 1). A red one is not sent and its packet is dropped
 * (EV_DROP_CONTROLLER_RATE): the client retransmits, the controller stays below what
 * it can take. Session-event digests are never metered (they belong to sessions the
 * controller already admitted).
 */
#ifndef SYNPROXY_CONTROL_METERS_P4
#define SYNPROXY_CONTROL_METERS_P4

control SynMeters(in bit<64> src_prefix, in bit<8> src_family, in ServiceId_t service_id,
                  out ProxyEvent_t drop_event) {

    @id(ID_METER_SERVICE_SYN)
    meter(MAX_SERVICE_IDS, MeterType.packets) service_syn_meter;
    @id(ID_METER_SOURCE_SYN_A)
    meter(SOURCE_METER_SIZE, MeterType.packets) source_syn_meter_a;
    @id(ID_METER_SOURCE_SYN_B)
    meter(SOURCE_METER_SIZE, MeterType.packets) source_syn_meter_b;

    bool key_set = false;
    bit<32> prf_k0 = 0;
    bit<32> prf_k1 = 0;
    bit<16> yellow_drop = 0;

    /* key0, key1: the source meters' PRF key (random, the controller's); early_drop:
     * the drop probability of a yellow SYN, in 1/256 (0..256). */
    @id(ID_ACTION_SET_OVERLOAD)
    action set_overload(bit<32> key0, bit<32> key1, bit<16> early_drop) {
        key_set = true;
        prf_k0 = key0;
        prf_k1 = key1;
        yellow_drop = early_drop;
    }

    @id(ID_ACTION_UNSET_OVERLOAD)
    action unset_overload() {
        key_set = false;
    }

    /* Keyless: the controller modifies the default action. No direct counter: no
     * entries to count. */
    @id(ID_TABLE_OVERLOAD_CONFIG)
    table overload_config {
        actions = {
            @defaultonly set_overload;
            @defaultonly unset_overload;
        }
        default_action = unset_overload();
        size = 1;
    }

    apply {
        drop_event = EV_NONE;
        overload_config.apply();
        bit<2> colour = 0;
        if (key_set) {
            /* HalfSipHash-2-4 over 9 bytes: the prefix's two words (little-endian,
             * as cookie.p4's) and the family byte, so an IPv4 and an IPv6 prefix
             * never hash alike; the last block is the length (9) and that byte. */
            hsip_state_h s;
            s.setValid();
            s.v0 = prf_k0;
            s.v1 = prf_k1;
            s.v2 = prf_k0 ^ HSIP_IV2;
            s.v3 = prf_k1 ^ HSIP_IV3;
            HSIP_COMPRESS(s, src_prefix[63:32])
            HSIP_COMPRESS(s, src_prefix[31:0])
            HSIP_COMPRESS(s, 0x09000000 | (bit<32>)src_family)
            s.v2 = s.v2 ^ HSIP_FINAL_XOR;
            HSIP_ROUND(s)
            HSIP_ROUND(s)
            HSIP_ROUND(s)
            HSIP_ROUND(s)
            bit<32> h = s.v1 ^ s.v3;
            /* Two independent cells: the high and the low half of the PRF. */
            bit<32> index_a = ((bit<32>)h[31:16]) % SOURCE_METER_SIZE;
            bit<32> index_b = ((bit<32>)h[15:0]) % SOURCE_METER_SIZE;
            bit<2> colour_a;
            bit<2> colour_b;
            source_syn_meter_a.execute_meter(index_a, colour_a);
            source_syn_meter_b.execute_meter(index_b, colour_b);
            colour = colour_a;
            if (colour_b < colour_a) {
                colour = colour_b;   /* the better of the two */
            }
        }
        if (colour == METER_RED) {
            drop_event = EV_DROP_SYN_SOURCE_RATE;
        } else {
            bit<2> svc_colour;
            service_syn_meter.execute_meter((bit<32>)service_id, svc_colour);
            if (svc_colour == METER_RED) {
                drop_event = EV_DROP_SYN_SERVICE_RATE;
            } else if (colour == METER_YELLOW || svc_colour == METER_YELLOW) {
                bit<8> r;
                random(r, 0, 255);
                if ((bit<16>)r < yellow_drop) {
                    drop_event = EV_DROP_SYN_EARLY;
                }
            }
        }
    }
}

/* D15: cell METER_CELL_DIGEST for a cookie-ACK digest, METER_CELL_PACKET_IN for a
 * PacketIn of the proxy; `allowed` false: red, neither is sent. */
control ControllerMeter(in bit<32> cell, out bool allowed) {

    @id(ID_METER_CONTROLLER)
    meter(2, MeterType.packets) controller_meter;

    apply {
        bit<2> colour;
        controller_meter.execute_meter(cell, colour);
        allowed = colour != METER_RED;
    }
}

#endif
