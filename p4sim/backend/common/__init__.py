"""What both back ends (`p4sim.backend.python`, `p4sim.backend.c`) share.

* `tables`: a table's initial default action and `const entries` as computed at
  compile time (`TableSetup`, `table_setup`) and their installation into the device
  state at load (`install_tables`);
* `fieldlists`: the `@field_list` annotations of the user metadata (what resubmit,
  recirculate and clones preserve);
* `hashes`: v1model's hash and checksum algorithms, computed as bmv2 computes them
  (the Python back end calls them; the C runtime's `p4_hash.c` gives the same answers);
* `trace`: the per-packet trace (`-L trace`), the `Tracer` events a back end reports.
"""
