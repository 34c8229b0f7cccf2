"""Helpers for the tests and the benchmarks that drive a controller: `thread` runs a
Controller on its own event loop in a thread, `fakeswitch` is a P4Runtime server that
only accepts (no data plane), for measuring and testing the controller's batching,
`topology` the two-port topology and the controller's config for it."""
