"""Real Linux TCP through the SYN proxy: multi-megabyte transfers each way checked
byte for byte, with the TCP options (window scaling, SACK, timestamps) negotiated end
to end as both kernels see them (`ss -tnio` on the client and on the real server;
this ss prints `ts` and `sack` only with -o),
and with each option turned off by the client or by the service's SYN/ACK; many
concurrent connections spread over both real servers.

    .venv/bin/python -m pytest -q tests/e2e/test_e2e_transfer.py   (root: namespaces)
"""

from __future__ import annotations

import pytest

from tests.e2e.tcpopts import ALL, Options, client_peer, tcp_info, transfer_each_way

pytestmark = pytest.mark.netns

MB = 1_000_000


# (id, service, client sysctls, options both kernels must show, bytes each way)
CASES = [
    ("all-options", "web", {}, ALL, 4 * MB),
    ("client-no-wscale", "web", {"net.ipv4.tcp_window_scaling": "0"},
     Options(wscale=False, sack=True, ts=True), 2 * MB),
    ("client-no-sack", "web", {"net.ipv4.tcp_sack": "0"},
     Options(wscale=True, sack=False, ts=True), 2 * MB),
    ("client-no-timestamps", "web", {"net.ipv4.tcp_timestamps": "0"},
     Options(wscale=True, sack=True, ts=False), 2 * MB),
    ("synack-no-sack", "nosack", {}, Options(wscale=True, sack=False, ts=True), 2 * MB),
    ("synack-no-timestamps", "nots", {}, Options(wscale=True, sack=True, ts=False), 2 * MB),
    # The service config cannot turn window scaling off; a small scale the real server
    # does not share makes the switch rescale every server window instead.
    ("synack-wscale-2", "ws2", {}, ALL, 2 * MB),
]


@pytest.mark.parametrize(("service", "sysctls", "expected", "size"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_transfer_each_way_with_options(proxy, service: str, sysctls: dict[str, str],
                                        expected: Options, size: int) -> None:
    transfer_each_way(proxy, service, sysctls, expected, size)


def test_window_scale_factors_agree_across_the_proxy(proxy) -> None:
    """The client's send scale is what the SYN/ACK promised (the service's wscale), and
    the server's send scale is the client's own: the proxy rescales in between."""
    with proxy.paused_client("get", size=2 * MB, seed=11, pause_at=MB // 2) as pc:
        client = tcp_info(proxy.ss("client"), local_port=pc.local_port)
        peer = client_peer(proxy, pc.local_port)
        servers = [tcp_info(proxy.ss(rs.name), peer=peer) for rs in proxy.topo.real_servers]
        result = pc.resume()
    assert result["ok"], result
    (server,) = [s for s in servers if s is not None]
    c_snd, c_rcv = _wscale(client)
    s_snd, s_rcv = _wscale(server)
    assert c_snd == 7  # the service's SYN/ACK wscale (default 7)
    assert s_snd == c_rcv  # the server scales its window by what the client asked for


def _wscale(tokens: set[str] | None) -> tuple[int, int]:
    assert tokens is not None
    (w,) = [t for t in tokens if t.startswith("wscale:")]
    snd, rcv = w[len("wscale:"):].split(",")
    return int(snd), int(rcv)


def test_many_concurrent_connections_over_both_servers(proxy) -> None:
    records = proxy.workload(count=48, concurrency=12, size=50_000)
    assert len(records) == 48
    failed = [r for r in records if not r["ok"]]
    assert not failed, failed[:5]
    by_server: dict[str, int] = {}
    for r in records:
        by_server[r["server"]] = by_server.get(r["server"], 0) + 1
    assert set(by_server) == {"rs1", "rs2"}, by_server
    # Weighted round robin with equal weights: an even split, give or take the
    # connections other services or earlier tests interleaved.
    assert min(by_server.values()) >= 48 // 4, by_server


def test_servers_see_the_real_client_address(proxy) -> None:
    client_ip = proxy.topo.host("client").ip
    seen = set()
    for _ in range(4):
        r = proxy.client("whoami")
        assert r["ok"], r
        name, addr = r["body"].split()
        assert addr == client_ip and name == r["server"]
        seen.add(name)
    assert seen == {"rs1", "rs2"}
