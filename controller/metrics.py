"""Prometheus metrics of the controller (C10), in a registry of its own so that
several controllers (tests) can live in one process.

Two kinds of series:

* the controller's own (sessions, digests, writes ...): prometheus_client counters and
  gauges updated where things happen;
* what the switch and the session table hold at scrape time (`SwitchCollector`): the
  switch's event counters per service and per drop reason, and the sessions per real
  server, labelled with the service's address family (`family`: ipv4 or ipv6, D13).
  They are read when Prometheus scrapes, on the controller's event loop, so
  a service or real server removed at run time has no series at the next scrape.

`MetricsServer` serves `/metrics` and `/healthz` only; any other path is a 404.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("controller.metrics")

SCRAPE_TIMEOUT = 5.0


@dataclass
class Snapshot:
    """What one scrape reads on the controller's loop. Event counters are keyed by
    the event names of `admin.EVENT_NAMES`; `switch` is None when the switch could not
    be read (not connected, not primary)."""

    switch: dict[str, int] | None = None  # global_events: every packet, any service
    services: dict[str, dict[str, int]] = field(default_factory=dict)  # service_events
    # (service, "address:port") -> (sessions now, weight, sessions installed so far,
    # up by its health checks); None: no controller to ask
    real_servers: dict[tuple[str, str], tuple[int, int, int, bool]] | None = None
    # service -> its address family, "ipv4" or "ipv6" (D13): a label of its series
    families: dict[str, str] = field(default_factory=dict)


def _drop_reason(event: str) -> str | None:
    return event[5:] if event.startswith("drop_") else None


class SwitchCollector(Collector):
    """The series read at scrape time through `source` (a coroutine function run on
    `loop`); `created` counts the sessions installed per real server (kept on the
    loop, read there by `source`)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.source: Callable[[], Coroutine[Any, Any, Snapshot]] | None = None
        # (service, "address:port") -> sessions installed towards it
        self.created: dict[tuple[str, str], int] = {}

    def bind(self, loop: asyncio.AbstractEventLoop,
             source: Callable[[], Coroutine[Any, Any, Snapshot]]) -> None:
        self.loop, self.source = loop, source

    def snapshot(self) -> Snapshot:
        loop, source = self.loop, self.source
        if loop is None or source is None or loop.is_closed():
            return Snapshot()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # a scrape on the loop itself cannot wait for it
            return Snapshot()
        try:
            return asyncio.run_coroutine_threadsafe(source(), loop).result(SCRAPE_TIMEOUT)
        except Exception as e:  # noqa: BLE001 - a scrape never fails on the switch's account
            log.debug("event=scrape_failed error=%r", str(e) or type(e).__name__)
            return Snapshot()

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        up = GaugeMetricFamily("synproxy_switch_counters_up",
                               "1 when this scrape read the switch's event counters")
        up.add_metric([], 1 if snap.switch is not None else 0)
        yield up
        if snap.switch is not None:
            yield from self._switch(snap)
        yield from self._real_servers(snap)

    @staticmethod
    def _switch(snap: Snapshot) -> Iterator[Metric]:
        assert snap.switch is not None
        svc = ["service", "family"]
        syns = CounterMetricFamily("synproxy_syns_received_total",
                                   "SYNs to the service seen by the switch", labels=svc)
        cookies = CounterMetricFamily("synproxy_cookies_sent_total",
                                      "SYN/ACKs with a cookie sent by the switch", labels=svc)
        acks = CounterMetricFamily("synproxy_cookie_acks_total",
                                   "Handshake ACKs checked against their cookie",
                                   labels=[*svc, "result"])
        drops = CounterMetricFamily("synproxy_drops_total",
                                    "Packets to the service the switch dropped, by reason",
                                    labels=[*svc, "reason"])
        events = CounterMetricFamily("synproxy_service_events_total",
                                     "Every event counter of the service (service_events)",
                                     labels=[*svc, "event"])
        for name, counts in sorted(snap.services.items()):
            fam = snap.families.get(name, "ipv4")
            syns.add_metric([name, fam], counts.get("syn_in", 0))
            cookies.add_metric([name, fam], counts.get("synack_sent", 0))
            acks.add_metric([name, fam, "valid"], counts.get("ack_valid", 0))
            acks.add_metric([name, fam, "invalid"], counts.get("ack_invalid", 0))
            for ev, n in sorted(counts.items()):
                events.add_metric([name, fam, ev], n)
                if (reason := _drop_reason(ev)) is not None:
                    drops.add_metric([name, fam, reason], n)
        sw_events = CounterMetricFamily("synproxy_switch_events_total",
                                        "Every event counter of the switch (global_events: "
                                        "all services, and packets of none)", labels=["event"])
        sw_drops = CounterMetricFamily("synproxy_switch_drops_total",
                                       "Packets the switch dropped, by reason (all services, "
                                       "and packets of none: martian, unparsed ...)",
                                       labels=["reason"])
        for ev, n in sorted(snap.switch.items()):
            sw_events.add_metric([ev], n)
            if (reason := _drop_reason(ev)) is not None:
                sw_drops.add_metric([reason], n)
        yield from (syns, cookies, acks, drops, events, sw_events, sw_drops)

    @staticmethod
    def _real_servers(snap: Snapshot) -> Iterator[Metric]:
        labels = ["service", "family", "real_server"]
        now = GaugeMetricFamily("synproxy_real_server_sessions",
                                "Sessions of the real server in the session table", labels=labels)
        weight = GaugeMetricFamily("synproxy_real_server_weight",
                                   "Scheduling weight of the real server", labels=labels)
        total = CounterMetricFamily("synproxy_real_server_sessions_total",
                                    "Sessions installed towards the real server (rate() of it: "
                                    "new sessions per second)", labels=labels)
        up = GaugeMetricFamily("synproxy_real_server_up",
                               "1 while the real server's health checks pass (or it has none)",
                               labels=labels)
        for (svc, server), (n, w, created, healthy) in sorted((snap.real_servers or {}).items()):
            key = [svc, snap.families.get(svc, "ipv4"), server]
            now.add_metric(key, n)
            weight.add_metric(key, w)
            total.add_metric(key, created)
            up.add_metric(key, 1 if healthy else 0)
        yield from (now, weight, total, up)


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
        self.fullnat_exhausted = Counter(
            "synproxy_fullnat_exhausted_total",
            "Validated handshakes refused: no free FULLNAT local address and port (D7)",
            ["service"], registry=r)
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
        self.fullnat_in_use = Gauge("synproxy_fullnat_local_in_use",
                                    "FULLNAT local tuples taken (D7), freed ones included "
                                    "until the switch forgot them", registry=r)
        self.defense = Gauge("synproxy_defense_active", "Auto defence on (1) per service",
                             ["service", "family"], registry=r)
        self.syn_rate = Gauge("synproxy_service_syn_rate", "SYNs/s per auto service",
                              ["service", "family"], registry=r)
        self.primary = Gauge("synproxy_primary", "1 while this controller is primary",
                             registry=r)
        self.setup_latency = Histogram(
            "synproxy_session_setup_seconds", "Digest received -> server SYN sent",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0), registry=r)
        self.switch = SwitchCollector()
        r.register(self.switch)
        self.server: MetricsServer | None = None

    def session_created(self, service: str, server: str) -> None:
        """One more session towards `server` (config.hostport: "[IPv6]:port")."""
        key = (service, server)
        self.switch.created[key] = self.switch.created.get(key, 0) + 1

    def forget_service(self, name: str) -> None:
        """Drop the labelled series of a service that was removed."""
        for g in (self.defense, self.syn_rate):
            for fam in ("ipv4", "ipv6"):
                try:
                    g.remove(name, fam)
                except KeyError:
                    pass
        for key in [k for k in self.switch.created if k[0] == name]:
            del self.switch.created[key]

    def forget_real_servers(self, service: str, keep: set[str]) -> None:
        """Drop the session count of real servers of `service` not in `keep`."""
        for key in [k for k in self.switch.created if k[0] == service and k[1] not in keep]:
            del self.switch.created[key]

    def serve(self, listen: str, health: Callable[[], tuple[bool, str]] | None = None
              ) -> MetricsServer:
        """Start the HTTP endpoint on "host:port" (`/metrics`, `/healthz`)."""
        self.server = MetricsServer(listen, self.registry, health or (lambda: (True, "ok")))
        return self.server

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None


class MetricsServer:
    """`/metrics` (the registry, text or OpenMetrics by the Accept header) and
    `/healthz` (200 or 503 with the reason, from `health`) in a thread; 404 else."""

    def __init__(self, listen: str, registry: CollectorRegistry,
                 health: Callable[[], tuple[bool, str]]) -> None:
        host, _, port = listen.rpartition(":")
        family = socket.AF_INET
        if host.startswith("[") and host.endswith("]"):
            host, family = host[1:-1], socket.AF_INET6

        class Server(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True

        self.httpd = Server((host or "0.0.0.0", int(port)), _handler(registry, health))
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="metrics",
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def _handler(registry: CollectorRegistry,
             health: Callable[[], tuple[bool, str]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's name
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                encoder, ctype = choose_encoder(self.headers.get("Accept", ""))
                self._send(200, ctype, encoder(registry))
            elif path == "/healthz":
                ok, why = health()
                self._send(200 if ok else 503, "text/plain; charset=utf-8",
                           (why + "\n").encode())
            else:
                self._send(404, "text/plain; charset=utf-8",
                           b"not found: /metrics and /healthz only\n")

        def _send(self, code: int, ctype: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes are not log events

    return Handler
