"""The TCP options both kernels use on a connection through the proxy, read with
`ss -tnio` (this ss prints `ts` and `sack` only with -o), on the client and on the
real server that holds it; for either address family (`proxy.family`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def tcp_info(ss_out: str, *, local_port: int | None = None,
             peer: str | None = None) -> set[str] | None:
    """The `ss -tnio` info tokens of the one connection whose local port is
    `local_port` (or whose peer is `peer`, "addr:port"); None if it is absent."""
    lines = ss_out.splitlines()
    for i, line in enumerate(lines):
        if not line or line[0].isspace() or i + 1 >= len(lines):
            continue
        cols = line.split()  # [State] Recv-Q Send-Q local peer [timer:(...)]
        if cols and not cols[0].isdigit():
            cols = cols[1:]  # the State column (ss prints it when asked for several)
        if len(cols) < 4:
            continue
        local, remote = cols[2], cols[3]
        if (local_port is not None and local.endswith(f":{local_port}")) or \
                (peer is not None and remote == peer):
            info = lines[i + 1]
            return set(info.split()) if info[:1].isspace() else None
    return None


@dataclass(frozen=True)
class Options:
    wscale: bool
    sack: bool
    ts: bool

    @staticmethod
    def of(tokens: set[str]) -> Options:
        return Options(wscale=any(t.startswith("wscale:") for t in tokens),
                       sack="sack" in tokens, ts="ts" in tokens)


ALL = Options(wscale=True, sack=True, ts=True)


def client_peer(proxy: Any, local_port: int) -> str:
    """The client's end of a connection as ss prints it on a server ("addr:port",
    an IPv6 address in brackets)."""
    ip = proxy.topo.host("client").ip_of(proxy.family)
    return f"[{ip}]:{local_port}" if ":" in ip else f"{ip}:{local_port}"


def both_sides(proxy: Any, local_port: int) -> tuple[Options, Options, str]:
    """The options the client's kernel and the real server's kernel use on the
    connection from `local_port`; also which server holds it."""
    client_tokens = tcp_info(proxy.ss("client"), local_port=local_port)
    assert client_tokens is not None, proxy.ss("client")
    peer = client_peer(proxy, local_port)
    found = {rs.name: tcp_info(proxy.ss(rs.name), peer=peer) for rs in proxy.topo.real_servers}
    holders = {name: tokens for name, tokens in found.items() if tokens is not None}
    assert len(holders) == 1, f"the connection from {peer} at the servers: {found}"
    ((server, server_tokens),) = holders.items()
    return Options.of(client_tokens), Options.of(server_tokens), server


def transfer_each_way(proxy: Any, service: str, sysctls: dict[str, str],
                      expected: Options, size: int) -> None:
    """A download then an upload of `size` bytes through `service`, each stopped a
    quarter of the way to read the options both kernels use: they must be `expected`,
    and the bytes must arrive whole (the server's SHA-256 of an upload matches)."""
    with proxy.client_sysctls(sysctls):
        with proxy.paused_client("get", service, size=size, seed=size + 1,
                                 pause_at=size // 4) as pc:
            client_opts, server_opts, server = both_sides(proxy, pc.local_port)
            down = pc.resume()
        assert down["ok"], down
        assert down["bytes"] == size and down["server"] == server
        assert client_opts == expected, f"client side: {client_opts}"
        assert server_opts == expected, f"server side ({server}): {server_opts}"

        with proxy.paused_client("post", service, size=size, seed=size + 2,
                                 pause_at=size // 4) as pc:
            client_opts, server_opts, server = both_sides(proxy, pc.local_port)
            up = pc.resume()
        assert up["ok"], up
        assert up["server"] == server
        assert client_opts == expected and server_opts == expected
