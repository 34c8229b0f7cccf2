"""A P4Info with the IPv6 digests (D13) added where it lacks them, for testing the
controller's IPv6 handshake path against a program without them (the v1model program
declares them itself; tests/controller/test_ipv6.py checks the two agree).

The digests are declared as p4src/common/headers.p4 declares them: the members of
the IPv4 digest, in order, the addresses 128 bits wide. They get new ids.
"""

from __future__ import annotations

from p4.config.v1 import p4info_pb2

#: IPv4 digest -> its IPv6 twin, and the members that widen to 128 bits.
TWINS = {"cookie_ack_digest_t": ("cookie_ack_digest_v6_t", ("client_addr", "vip_addr")),
         "session_event_digest_t": ("session_event_digest_v6_t", ("client_addr",))}


def with_ipv6_digests(info: p4info_pb2.P4Info) -> p4info_pb2.P4Info:
    """A copy of `info` with the IPv6 twins of its digests (those it lacks)."""
    out = p4info_pb2.P4Info()
    out.CopyFrom(info)
    have = {d.preamble.name for d in out.digests}
    next_id = max((d.preamble.id for d in out.digests), default=0x3D000000) + 0x100
    for d in list(out.digests):
        twin = TWINS.get(d.preamble.name)
        if twin is None or twin[0] in have:
            continue
        name, wide = twin
        struct = out.type_info.structs[name]
        struct.CopyFrom(out.type_info.structs[d.type_spec.struct.name])
        for m in struct.members:
            if m.name in wide:
                m.type_spec.bitstring.bit.bitwidth = 128
        new = out.digests.add()
        new.preamble.id, new.preamble.name, new.preamble.alias = next_id, name, name
        new.type_spec.struct.name = name
        next_id += 1
    return out
