"""Prometheus metrics of the controller (C10), in a registry of its own so that
several controllers (tests) can live in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.digests = Counter("synproxy_digests_total", "Digests received", ["kind"], registry=r)
        self.sessions_created = Counter("synproxy_sessions_created_total",
                                        "Sessions installed", registry=r)
        self.sessions_freed = Counter("synproxy_sessions_freed_total", "Sessions freed",
                                      ["reason"], registry=r)
        self.table_full = Counter("synproxy_session_table_full_total",
                                  "Validated handshakes dropped: no free slot", registry=r)
        self.syn_retransmits = Counter("synproxy_syn_retransmits_total",
                                       "Server SYNs resent", registry=r)
        self.early_held = Counter("synproxy_early_data_held_total",
                                  "Client segments held for a pending session", registry=r)
        self.early_dropped = Counter("synproxy_early_data_dropped_total",
                                     "Client segments dropped above the per-session bound",
                                     registry=r)
        self.early_released = Counter("synproxy_early_data_released_total",
                                      "Held segments re-injected", registry=r)
        self.reuse = Counter("synproxy_session_reuse_total", "Closing sessions restarted (C5)",
                             ["result"], registry=r)
        self.key_rotations = Counter("synproxy_key_rotations_total", "Cookie key rotations",
                                     registry=r)
        self.writes = Counter("synproxy_p4rt_writes_total", "Write RPCs", registry=r)
        self.write_errors = Counter("synproxy_p4rt_write_errors_total", "Failed updates",
                                    registry=r)
        self.sessions = Gauge("synproxy_sessions", "Sessions by state", ["state"], registry=r)
        self.defense = Gauge("synproxy_defense_active", "Auto defence on (1) per service",
                             ["service"], registry=r)
        self.syn_rate = Gauge("synproxy_service_syn_rate", "SYNs/s per auto service",
                              ["service"], registry=r)
        self.primary = Gauge("synproxy_primary", "1 while this controller is primary",
                             registry=r)
        self.setup_latency = Histogram(
            "synproxy_session_setup_seconds", "Digest received -> server SYN sent",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0), registry=r)

    def serve(self, listen: str) -> None:
        """Start the HTTP endpoint on "host:port"."""
        host, _, port = listen.rpartition(":")
        start_http_server(int(port), addr=host or "0.0.0.0", registry=self.registry)
