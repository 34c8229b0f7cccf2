"""p4sim's back ends: a checked program and its P4Info made into a pipeline that runs
packets with v1model semantics against a `p4sim.device.DeviceState`.

* `python`: the Python back end (the program compiled once into Python code; also
  the TNA pipeline);
* `c`: the C back end (the program compiled to C, built and loaded with cffi);
* `common`: what both share (tables' program-given contents, field lists, hashes,
  the per-packet trace); neither back end imports the other;
* `backends`: the back ends by name (`python`, `c`, `$P4SIM_BACKEND`);
* `harness`: an in-process harness for tests of P4 programs, on either back end.
"""
