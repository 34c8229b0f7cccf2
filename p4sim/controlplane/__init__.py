"""p4sim's control-plane view of a checked program: the names p4c gives its tables,
actions and extern instances (`naming`) and its P4Info (`p4info`, with
`p4info_ids` ids and aliases, `p4info_types` type info, `p4info_externs` extern
instances, `p4info_usage` what the program uses, `p4info_helpers` shared pieces).
Both back ends name things through `naming`; the device state is built from the P4Info.
"""
