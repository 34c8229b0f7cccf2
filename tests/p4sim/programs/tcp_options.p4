/* TCP with options: a parser loop over a header stack of option headers, a
 * header union per option kind, lookahead, registers, hashing, digests, clones
 * and a ternary table with const entries and priorities. */
#include <core.p4>
#include <v1model.p4>

#define MAX_OPTIONS 10

typedef bit<9>  port_t;
typedef bit<32> ipv4_addr_t;

const bit<16> TYPE_IPV4 = 16w0x0800;
const bit<8>  PROTO_TCP = 8w6;
const bit<32> CLONE_SESSION = 32w100;

enum bit<8> OptKind {
    EOL = 0,
    NOP = 1,
    MSS = 2,
    WSCALE = 3,
    SACK_OK = 4,
    TIMESTAMP = 8
}

enum Verdict { PASS, DROP, PUNT }

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> ether_type;
}

header ipv4_t {
    bit<4>      version;
    bit<4>      ihl;
    bit<8>      tos;
    bit<16>     total_len;
    bit<16>     id;
    bit<3>      flags;
    bit<13>     frag;
    bit<8>      ttl;
    bit<8>      protocol;
    bit<16>     csum;
    ipv4_addr_t src;
    ipv4_addr_t dst;
}

header tcp_t {
    bit<16> sport;
    bit<16> dport;
    bit<32> seq;
    bit<32> ack;
    bit<4>  data_offset;
    bit<4>  res;
    bit<8>  flags;
    bit<16> window;
    bit<16> csum;
    bit<16> urgent;
}

header opt_short_t { bit<8> kind; }
header opt_mss_t   { bit<8> kind; bit<8> len; bit<16> mss; }
header opt_ws_t    { bit<8> kind; bit<8> len; bit<8> shift; }
header opt_ts_t    { bit<8> kind; bit<8> len; bit<32> tsval; bit<32> tsecr; }
header opt_other_t { bit<8> kind; bit<8> len; varbit<304> data; }

header_union tcp_option_u {
    opt_short_t short;
    opt_mss_t   mss;
    opt_ws_t    ws;
    opt_ts_t    ts;
    opt_other_t other;
}

struct headers_t {
    ethernet_t                  ethernet;
    ipv4_t                      ipv4;
    tcp_t                       tcp;
    tcp_option_u[MAX_OPTIONS]   opts;
}

struct flow_digest_t {
    ipv4_addr_t src;
    ipv4_addr_t dst;
    bit<16>     sport;
    bit<16>     dport;
    bit<32>     isn;
}

struct metadata_t {
    bit<16> options_left;  /* bytes of TCP options not yet parsed */
    bit<16> mss;
    bit<8>  wscale;
    bool    has_ts;
    @field_list(1)
    bit<32> cookie;
    Verdict verdict;
}

parser OptParser(packet_in pkt,
                 out headers_t hdr,
                 inout metadata_t meta,
                 inout standard_metadata_t std) {
    state start {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            TYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }

    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        verify(hdr.ipv4.ihl == 5, error.HeaderTooShort);
        transition select(hdr.ipv4.protocol, hdr.ipv4.frag) {
            (PROTO_TCP, 0): parse_tcp;
            default: accept;
        }
    }

    state parse_tcp {
        pkt.extract(hdr.tcp);
        verify(hdr.tcp.data_offset >= 5, error.NoMatch);
        meta.options_left = ((bit<16>) hdr.tcp.data_offset - 5) << 2;
        transition next_option;
    }

    state next_option {
        transition select(meta.options_left) {
            0: accept;
            default: option_kind;
        }
    }

    state option_kind {
        transition select(pkt.lookahead<bit<8>>()) {
            OptKind.EOL: parse_short;
            OptKind.NOP: parse_short;
            OptKind.MSS: parse_mss;
            OptKind.WSCALE: parse_ws;
            OptKind.TIMESTAMP: parse_ts;
            default: parse_other;
        }
    }

    state parse_short {
        pkt.extract(hdr.opts.next.short);
        meta.options_left = meta.options_left - 1;
        transition next_option;
    }

    state parse_mss {
        pkt.extract(hdr.opts.next.mss);
        meta.mss = hdr.opts.last.mss.mss;
        meta.options_left = meta.options_left - 4;
        transition next_option;
    }

    state parse_ws {
        pkt.extract(hdr.opts.next.ws);
        meta.wscale = hdr.opts.last.ws.shift;
        meta.options_left = meta.options_left - 3;
        transition next_option;
    }

    state parse_ts {
        pkt.extract(hdr.opts.next.ts);
        meta.has_ts = true;
        meta.options_left = meta.options_left - 10;
        transition next_option;
    }

    state parse_other {
        bit<16> len = (bit<16>) pkt.lookahead<bit<16>>()[7:0];
        verify(len >= 2 && len <= meta.options_left, error.NoMatch);
        pkt.extract(hdr.opts.next.other, (bit<32>) ((len - 2) << 3));
        meta.options_left = meta.options_left - len;
        transition next_option;
    }
}

control NoVerify(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control OptIngress(inout headers_t hdr,
                   inout metadata_t meta,
                   inout standard_metadata_t std) {
    register<bit<32>>(32w1024) isn_store;
    register<bit<64>>(1) key_reg;
    counter(32w4, CounterType.packets) verdicts;
    meter(32w16, MeterType.packets) syn_rate;
    direct_counter(CounterType.packets_and_bytes) acl_hits;

    action drop() {
        mark_to_drop(std);
        meta.verdict = Verdict.DROP;
    }

    action forward(port_t port) {
        std.egress_spec = port;
        meta.verdict = Verdict.PASS;
    }

    action punt() {
        clone_preserving_field_list(CloneType.I2E, CLONE_SESSION, 1);
        meta.verdict = Verdict.PUNT;
    }

    table acl {
        key = {
            hdr.ipv4.src     : ternary @name("src");
            hdr.ipv4.dst     : ternary @name("dst");
            hdr.tcp.dport    : range   @name("dport");
            hdr.tcp.flags    : ternary @name("flags");
        }
        actions = { forward; drop; punt; }
        default_action = forward(1);
        counters = acl_hits;
        const entries = {
            priority = 1 : (_, _, 22 .. 23, _) : drop();
            priority = 2 : (32w0x0A000000 &&& 32w0xFF000000, _, _, 8w0x02 &&& 8w0x02) : punt();
            priority = 3 : (_, 32w0x0A000001, _, _) : forward(2);
        }
        size = 256;
    }

    apply {
        if (!hdr.tcp.isValid()) {
            forward(1);
            return;
        }
        bit<32> slot;
        hash(slot, HashAlgorithm.crc32, 32w0,
             { hdr.ipv4.src, hdr.ipv4.dst, hdr.tcp.sport, hdr.tcp.dport },
             32w1024);
        bit<64> key;
        key_reg.read(key, 0);
        bit<32> mixed = key[63:32] ^ (hdr.tcp.seq |+| key[31:0]);
        mixed = (mixed << 5 | mixed >> 27) + 32w0x9E3779B9;
        meta.cookie = mixed;

        bit<2> color;
        syn_rate.execute_meter(32w0, color);
        if (color == V1MODEL_METER_COLOR_RED) {
            drop();
            exit;
        }

        switch (acl.apply().action_run) {
            forward: {
                if (hdr.tcp.flags & 8w0x12 == 8w0x02) {
                    isn_store.write(slot, hdr.tcp.seq);
                    digest<flow_digest_t>(1, { hdr.ipv4.src, hdr.ipv4.dst,
                                               hdr.tcp.sport, hdr.tcp.dport, hdr.tcp.seq });
                }
            }
            drop:
            punt: { }
        }
        verdicts.count((bit<32>) meta.wscale & 3);
        if (meta.has_ts) {
            log_msg("timestamp option on flow {} -> {}", { hdr.ipv4.src, hdr.ipv4.dst });
        }
    }
}

control OptEgress(inout headers_t hdr,
                  inout metadata_t meta,
                  inout standard_metadata_t std) {
    apply {
        if (std.instance_type == 32w1) {
            truncate(32w64);
        }
    }
}

control OptChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        update_checksum(hdr.ipv4.isValid(),
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.tos, hdr.ipv4.total_len,
              hdr.ipv4.id, hdr.ipv4.flags, hdr.ipv4.frag, hdr.ipv4.ttl,
              hdr.ipv4.protocol, hdr.ipv4.src, hdr.ipv4.dst },
            hdr.ipv4.csum, HashAlgorithm.csum16);
        update_checksum_with_payload(hdr.tcp.isValid(),
            { hdr.ipv4.src, hdr.ipv4.dst, 8w0, hdr.ipv4.protocol,
              hdr.ipv4.total_len - 16w20,
              hdr.tcp.sport, hdr.tcp.dport, hdr.tcp.seq, hdr.tcp.ack,
              hdr.tcp.data_offset, hdr.tcp.res, hdr.tcp.flags, hdr.tcp.window,
              hdr.tcp.urgent, hdr.opts },
            hdr.tcp.csum, HashAlgorithm.csum16);
    }
}

control OptDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr);
    }
}

V1Switch(OptParser(), NoVerify(), OptIngress(), OptEgress(), OptChecksum(), OptDeparser()) main;
