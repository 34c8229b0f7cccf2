/* D2: ARP answers for the switch's own addresses (gateway addresses and VIPs). */
#ifndef SYNPROXY_CONTROL_ARP_P4
#define SYNPROXY_CONTROL_ARP_P4

/* The I/G bit: the least significant bit of the first octet on the wire (D16). */
bool mac_is_group(in mac_addr_t mac) {
    return mac[40:40] == 1;
}

control ArpResponder(inout headers_t hdr, inout local_metadata_t meta,
                     inout standard_metadata_t standard_metadata) {

    @id(ID_DIRECT_COUNTER_ARP_REPLIES)
    direct_counter(CounterType.packets_and_bytes) arp_replies_counter;

    /* Turn the request into the reply, in place, and send it back out. */
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
        standard_metadata.egress_spec = standard_metadata.ingress_port;
        meta.done = true;
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
        /* Other ARP (replies, requests for others) is bridged like any frame. */
        if (hdr.arp.oper == ARP_OPER_REQUEST && hdr.arp.htype == ARP_HTYPE_ETHERNET
                && hdr.arp.ptype == ETHERTYPE_IPV4) {
            if (mac_is_group(hdr.arp.sender_mac) || mac_is_group(hdr.ethernet.src_addr)) {
                /* D16: a reply would go to every host of the segment (or a group):
                 * no honest host asks from a group address. Dropped, counted. */
                mark_to_drop(standard_metadata);
                meta.event = EV_DROP_GROUP_MAC;
                meta.done = true;
            } else {
                arp_replies.apply();
            }
        }
    }
}

#endif
