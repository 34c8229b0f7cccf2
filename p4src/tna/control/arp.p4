/* D2: ARP answers for the switch's own addresses (as v1model's control/arp.p4). */
#ifndef SYNPROXY_TNA_CONTROL_ARP_P4
#define SYNPROXY_TNA_CONTROL_ARP_P4

/* The I/G bit: the least significant bit of the first octet on the wire (D16). */
bool mac_is_group(in mac_addr_t mac) {
    return mac[40:40] == 1;
}

/* TNA counts a direct counter in the actions that call count(): here the hits. */
control ArpResponder(inout headers_t hdr, inout local_metadata_t meta,
                     in PortId_t ingress_port,
                     inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                     inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {

    @id(ID_DIRECT_COUNTER_ARP_REPLIES)
    DirectCounter<bit<32>>(CounterType_t.PACKETS_AND_BYTES) arp_replies_counter;

    @id(ID_ACTION_REPLY_ARP)
    action reply_arp(mac_addr_t mac) {
        ipv4_addr_t asked = hdr.arp.target_ip;
        hdr.ethernet.dst_addr = hdr.arp.sender_mac;
        hdr.ethernet.src_addr = mac;
        hdr.arp.oper = ARP_OPER_REPLY;
        hdr.arp.target_mac = hdr.arp.sender_mac;
        hdr.arp.target_ip = hdr.arp.sender_ip;
        hdr.arp.sender_mac = mac;
        hdr.arp.sender_ip = asked;
        ig_tm_md.ucast_egress_port = ingress_port;
        meta.done = true;
        arp_replies_counter.count();
    }

    @id(ID_TABLE_ARP_REPLIES)
    table arp_replies {
        key = {
            hdr.arp.target_ip : exact @name("target_ip");
        }
        actions = {
            reply_arp;
            @defaultonly NoAction;
        }
        const default_action = NoAction();
        counters = arp_replies_counter;
        size = ARP_REPLIES_SIZE;
    }

    apply {
        if (hdr.arp.oper == ARP_OPER_REQUEST && hdr.arp.htype == ARP_HTYPE_ETHERNET
                && hdr.arp.ptype == ETHERTYPE_IPV4) {
            if (mac_is_group(hdr.arp.sender_mac) || mac_is_group(hdr.ethernet.src_addr)) {
                drop_packet_tna(ig_dprsr_md);
                meta.event = EV_DROP_GROUP_MAC;
                meta.done = true;
            } else {
                arp_replies.apply();
            }
        }
    }
}

#endif
