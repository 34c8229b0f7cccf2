"""Bad operator input at every surface — the config file, synproxyctl's arguments, the
operator socket, the socket's answers — gives a clear error and exit status 2, never a
traceback, and an operator's path is never deleted unless it is our own socket.

Run: .venv/bin/python -m pytest -q tests/controller/test_operator_input.py
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from google.protobuf import text_format
from p4.config.v1 import p4info_pb2

from controller.cli import main
from controller.config import ConfigError, RealServer, Service, parse_config
from controller.control import ControlServer, Invalid, handle
from controller.limits import ProgramLimits
from controller.p4info import P4InfoIndex
from tests.controller.ctlbench import config_text

pytestmark = pytest.mark.timeout(60)


def run(cfg: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["run", "--config", str(cfg)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def write_config(tmp_path: Path, artefacts: tuple[Path, Path], extra: str = "", **kw: Any) -> Path:
    cfg = tmp_path / "synproxy.yaml"
    cfg.write_text(config_text(*artefacts, str(tmp_path / "sw.sock"), extra, **kw))
    return cfg


# ------------------------------------------------------------------ config file


def test_config_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(b"switch:\n  address: \"unix:/x\"\n# caf\xe9\n")
    code, err = run(cfg, capsys)
    assert code == 2
    assert f"{cfg}:3:" in err and "not UTF-8" in err


@pytest.mark.parametrize(
    "listen, message",
    [
        ("nonsense", "is not HOST:PORT"),
        ("127.0.0.1:abc", "port 'abc' is not a number 1..65535"),
        ("127.0.0.1:99999", "port '99999' is not a number 1..65535"),
        ("300.1.1.1:9100", "is not an address or a host name"),
    ],
)
def test_metrics_listen(listen: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(f'metrics:\n  listen: "{listen}"\n', "c.yaml")
    assert str(e.value).startswith("c.yaml:2: metrics.listen:") and message in str(e.value)
    assert parse_config('metrics: {listen: "[::1]:9100"}\n').metrics.listen == "[::1]:9100"
    assert parse_config('metrics: {listen: "localhost:9100"}\n').metrics.listen


@pytest.mark.parametrize("address", ["nonsense", "unix:", "localhost:99999", "10.0.0.1:"])
def test_switch_address(address: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(f'switch:\n  address: "{address}"\n', "c.yaml")
    assert str(e.value).startswith("c.yaml:2: switch.address:")
    for good in ("unix:/tmp/s.sock", "127.0.0.1:9559", "switch-1.lab:9559"):
        assert parse_config(f'switch: {{address: "{good}"}}\n').switch.address == good


def test_all_zero_weights() -> None:
    text = ("services:\n  - name: web\n    vip: 10.0.0.1\n    port: 80\n    real_servers:\n"
            "      - {address: 10.1.0.1, port: 80, weight: 0}\n"
            "      - {address: 10.1.0.2, port: 80, weight: 0}\n")
    with pytest.raises(ConfigError) as e:
        parse_config(text, "c.yaml")
    assert "c.yaml:6: services[0].real_servers: every weight is 0" in str(e.value)


def test_more_services_than_the_program_holds(
    artefacts: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The limit comes from the P4Info: here a program whose counters hold 3 services."""
    info = text_format.Parse(artefacts[0].read_text(), p4info_pb2.P4Info())
    for c in info.counters:
        if c.preamble.name.endswith("service_events"):
            c.size = 4 * 64
    small = tmp_path / "p4info.txt"
    small.write_text(text_format.MessageToString(info))
    services = "".join(
        f"  - name: s{i}\n    vip: 192.168.10.{i + 1}\n    port: 80\n    real_servers:\n"
        f"      - {{address: 10.1.0.5, port: 8080}}\n"
        for i in range(4)
    )
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_text(small, artefacts[1], str(tmp_path / "s"), service=services))
    code, err = run(cfg, capsys)
    assert code == 2
    line = cfg.read_text().splitlines().index("  - name: s3") + 1
    assert f"{cfg}:{line}: services[3]: 4 services configured, the program holds 3" in err


def test_limits_read_from_p4info(artefacts: tuple[Path, Path]) -> None:
    info = text_format.Parse(artefacts[0].read_text(), p4info_pb2.P4Info())
    limits = ProgramLimits.from_p4info(P4InfoIndex(info))
    assert limits == ProgramLimits(service_ids=256, events_per_service=64, session_slots=65536)
    assert limits.ipv6  # the v1model program has the IPv6 tables (D13)


def test_a_program_without_ipv6_tables_takes_no_ipv6() -> None:
    """The TNA program has no IPv6 tables yet: its limits say so (check_program then
    refuses an IPv6 config, test_config)."""
    golden = Path(__file__).parents[1] / "p4src" / "golden" / "synproxy_tna.p4info.txt"
    info = text_format.Parse(golden.read_text(), p4info_pb2.P4Info())
    assert not ProgramLimits.from_p4info(P4InfoIndex(info)).ipv6


@pytest.mark.parametrize("suffix", [".txt", ".bin", ".json"])
def test_garbage_p4info(
    suffix: str, artefacts: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / f"p4info{suffix}"
    garbage.write_bytes(bytes(range(256)) * 4)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_text(garbage, artefacts[1], str(tmp_path / "s")))
    code, err = run(cfg, capsys)
    assert code == 2 and "switch.p4info: cannot load" in err


# ------------------------------------------------------------------ control.socket


def test_control_socket_on_a_regular_file(
    artefacts: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("do not delete\n")
    cfg = write_config(tmp_path, artefacts, control=f'control: {{socket: "{precious}"}}\n')
    code, err = run(cfg, capsys)
    assert code == 2
    assert "control.socket" in err and "is not a socket" in err
    assert precious.read_text() == "do not delete\n"


def fake_controller(cfg_path: str = "c.yaml") -> Any:
    cfg = parse_config('control: {socket: "/x"}\n', cfg_path)
    return SimpleNamespace(cfg=cfg)


def test_control_socket_of_a_live_controller_is_kept(tmp_path: Path) -> None:
    path = str(tmp_path / "ctl.sock")
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(path)
    live.listen(1)
    try:
        with pytest.raises(Exception) as e:
            asyncio.run(ControlServer(fake_controller(), path).start())
        assert "another running controller" in str(e.value)
        assert os.path.exists(path)
    finally:
        live.close()


def test_stale_socket_replaced_and_only_ours_removed(tmp_path: Path) -> None:
    path = str(tmp_path / "ctl.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens: a previous run's

    async def go() -> None:
        server = ControlServer(fake_controller(), path)
        await server.start()
        os.unlink(path)
        Path(path).write_text("the operator's file now\n")  # replaced behind our back
        await server.close()

    asyncio.run(go())
    assert Path(path).read_text() == "the operator's file now\n"


# ------------------------------------------------------------------ synproxyctl args


@pytest.mark.parametrize(
    "args, message",
    [
        (["rs", "add", "web", "10.0.10.10:99999"], "port 99999 is out of range 1..65535"),
        (["rs", "add", "web", "10.0.10.10:-5"], "port -5 is out of range 1..65535"),
        (["rs", "add", "web", "10.0.10.300:80"], "'10.0.10.300' is not an IPv4 or IPv6 address"),
        (["rs", "weight", "web", "10.0.10.10:80", "1001"], "weight 1001 is out of range"),
        (["sessions", "--limit", "1e999"], "limit '1e999' is not an integer"),
        (["service", "add", "x", "--vip", "1.2.3.4", "--port", "0"], "port 0 is out of range"),
        (["service", "add", "x", "--vip", "1.2.3.4", "--port", "80", "--rs", "1.1.1.1:80:x"],
         "weight 'x' is not an integer"),
        (["service", "add", "x", "--vip", "2001:db8::1::2", "--port", "80"],
         "is not an IPv4 or IPv6 address"),
        (["service", "add", "x", "--vip", "2001:db8::1", "--port", "80", "--rs",
          "2001:db8::5:80"], "an IPv6 address goes in brackets"),
        (["service", "add", "x", "--vip", "2001:db8::1", "--port", "80", "--rs",
          "[2001:db8::5]80"], "is not [IPV6]:PORT[:WEIGHT]"),
        (["rs", "add", "x", "[2001:db8::5]:80:3", "--weight", "3"], "is not ADDR:PORT"),
    ],
)
def test_bad_synproxyctl_arguments(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        main([*args, "--socket", "/nonexistent"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.fixture()
def garbage_socket(tmp_path: Path) -> Iterator[str]:
    """A unix socket that answers every request with something that is not an answer."""
    path = str(tmp_path / "garbage.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    answers = [b"\x00\xffnot json at all\n", b"[1, 2, 3]\n"]

    def serve() -> None:
        for answer in answers:
            conn, _ = srv.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(answer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield path
    srv.close()


def test_garbage_answer(garbage_socket: str, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        assert main(["status", "--socket", garbage_socket]) == 2
        err = capsys.readouterr().err
        assert "not an answer of the controller" in err and "Traceback" not in err


# ------------------------------------------------------------------ operator socket


class FakeCtl:
    """What `handle` needs of the controller, recording what reached it."""

    def __init__(self) -> None:
        self.limits = ProgramLimits(service_ids=4)
        rs = (RealServer("10.1.0.5", 80, 1), RealServer("10.1.0.6", 80, 2))
        rs6 = (RealServer("2001:db8::5", 80, 1),)
        self.services = {1: Service("web", "10.0.0.1", 80, real_servers=rs),
                         2: Service("web6", "2001:db8::1", 80, real_servers=rs6)}
        self.calls: list[Any] = []

    def service_id(self, name: str) -> int:
        for sid, s in self.services.items():
            if s.name == name:
                return sid
        raise KeyError(f"no service named '{name}'")

    def sessions(self, limit: int) -> list[Any]:
        self.calls.append(("sessions", limit))
        return []

    async def set_real_servers(self, name: str, servers: tuple[RealServer, ...]) -> None:
        self.calls.append(("set_real_servers", name, servers))

    async def add_service(self, s: Service) -> int:
        self.calls.append(("add_service", s))
        sid = max(self.services) + 1
        self.services[sid] = s
        return sid


@pytest.mark.parametrize(
    "req, message",
    [
        ({"cmd": "sessions", "limit": float("inf")}, "limit must be an integer"),  # 1e999
        ({"cmd": "sessions", "limit": None}, "limit must be an integer"),
        ({"cmd": "sessions", "limit": 0}, "limit must be 1..1000000"),
        ({"cmd": "rs_add", "service": "web", "address": "10.1.0.7", "port": 99999},
         "port must be 1..65535"),
        ({"cmd": "rs_add", "service": "web", "address": "10.1.0.7", "port": -5},
         "port must be 1..65535"),
        ({"cmd": "rs_add", "service": "web", "address": "10.1.0.7", "port": "80"},
         "port must be an integer"),
        ({"cmd": "rs_add", "service": "web", "address": "nonsense", "port": 80},
         "address must be an IPv4 or IPv6 address"),
        # A real server of the VIP's family only; IPv6 addresses that no host has.
        ({"cmd": "rs_add", "service": "web", "address": "2001:db8::7", "port": 80},
         "is IPv6 but the VIP 10.0.0.1 is IPv4"),
        ({"cmd": "rs_add", "service": "web6", "address": "10.1.0.7", "port": 80},
         "is IPv4 but the VIP 2001:db8::1 is IPv6"),
        ({"cmd": "rs_add", "service": "web6", "address": "ff02::1", "port": 80},
         "is a multicast address"),
        ({"cmd": "rs_add", "service": "web6", "address": "::ffff:10.1.0.7", "port": 80},
         "IPv4 address written as IPv6"),
        ({"cmd": "rs_add", "service": "web6", "address": "2001:db8::5", "port": 80},
         "[2001:db8::5]:80 is already a real server of web6"),
        ({"cmd": "rs_add", "service": "web6", "address": "2001:DB8:0::7", "port": 80}, None),
        ({"cmd": "service_add", "service": {"name": "v6", "vip": "2001:db8::2", "port": 80,
                                            "real_servers": [{"address": "10.1.0.5",
                                                              "port": 80}]}},
         "10.1.0.5 is IPv4 but the VIP 2001:db8::2 is IPv6"),
        ({"cmd": "rs_add", "service": "web", "address": "10.1.0.7", "port": 80, "weight": True},
         "weight must be an integer"),
        ({"cmd": "rs_add", "service": "nope", "address": "10.1.0.7", "port": 80},
         "no service named 'nope'"),
        ({"cmd": "rs_weight", "service": "web", "address": "10.1.0.5", "port": 80, "weight": 0},
         None),
        ({"cmd": "rs_remove", "service": "web", "address": "10.1.0.9", "port": 80},
         "not a real server"),
        ({"cmd": "service_add", "service": "web"}, "needs a 'service' mapping"),
        ({"cmd": "service_remove", "name": 5}, "name must be a non-empty string"),
        ({"cmd": "bogus"}, "unknown command"),
    ],
)
def test_socket_refuses_bad_arguments(req: dict[str, Any], message: str | None) -> None:
    ctl = FakeCtl()
    if message is None:  # valid: reaches the controller
        asyncio.run(handle(ctl, req))  # type: ignore[arg-type]
        assert ctl.calls and ctl.calls[0][0] == "set_real_servers"
        return
    with pytest.raises(Invalid) as e:
        asyncio.run(handle(ctl, req))  # type: ignore[arg-type]
    assert message in str(e.value)
    assert ctl.calls == []  # the controller never saw it


@pytest.mark.parametrize("ipv6", [True, False])
def test_socket_adds_an_ipv6_service_where_the_program_has_ipv6(ipv6: bool) -> None:
    ctl = FakeCtl()
    ctl.limits = ProgramLimits(service_ids=4, ipv6=ipv6)
    req = {"cmd": "service_add", "service": {
        "name": "v6", "vip": "2001:DB8::2", "port": 80,
        "real_servers": [{"address": "2001:db8::5", "port": 80}]}}
    if not ipv6:
        with pytest.raises(Invalid, match=r"service.vip: 2001:db8::2 is IPv6, but the "
                                          r"program has no IPv6 tables"):
            asyncio.run(handle(ctl, req))  # type: ignore[arg-type]
        assert ctl.calls == []
        return
    asyncio.run(handle(ctl, req))  # type: ignore[arg-type]
    (cmd, svc), = ctl.calls
    assert cmd == "add_service" and svc.vip == "2001:db8::2" and svc.synack.mss == 1440


def test_socket_refuses_all_zero_weights() -> None:
    ctl = FakeCtl()
    req = {"cmd": "rs_weight", "service": "web", "address": "10.1.0.5", "port": 80, "weight": 0}
    asyncio.run(handle(ctl, req))  # type: ignore[arg-type]
    ctl.services[1] = Service("web", "10.0.0.1", 80, real_servers=ctl.calls[0][2])
    ctl.calls.clear()
    req = {**req, "address": "10.1.0.6"}
    with pytest.raises(Invalid) as e:
        asyncio.run(handle(ctl, req))  # type: ignore[arg-type]
    assert "every weight of web would be 0" in str(e.value) and ctl.calls == []


def test_socket_refuses_services_past_the_program() -> None:
    ctl = FakeCtl()  # service ids 1..3, two of them taken
    spec = {"name": "b", "vip": "10.0.0.2", "port": 80,
            "real_servers": [{"address": "10.1.0.5", "port": 80}]}
    asyncio.run(handle(ctl, {"cmd": "service_add", "service": spec}))  # type: ignore[arg-type]
    with pytest.raises(Invalid) as e:
        asyncio.run(handle(ctl, {"cmd": "service_add",  # type: ignore[arg-type]
                                 "service": {**spec, "name": "c", "vip": "10.0.0.3"}}))
    assert "the program holds 3 services" in str(e.value)


def test_socket_answers_invalid_json_lines(tmp_path: Path) -> None:
    """Over the socket: a line of JSON with 1e999, null, or no JSON at all."""
    path = str(tmp_path / "ctl.sock")

    async def go() -> list[dict[str, Any]]:
        ctl = FakeCtl()
        ctl.cfg = fake_controller().cfg  # type: ignore[attr-defined]
        server = ControlServer(ctl, path)  # type: ignore[arg-type]
        await server.start()
        reader, writer = await asyncio.open_unix_connection(path)
        answers = []
        for line in (b'{"cmd": "sessions", "limit": 1e999}', b'{"cmd": "sessions", "limit": null}',
                     b"\xff\xfe garbage", b"[]", b'{"cmd": "sessions", "limit": 5}'):
            writer.write(line + b"\n")
            answers.append(json.loads(await reader.readline()))
        writer.write(b"{" + b" " * (2 << 20) + b"}\n")  # over the line limit
        answers.append(json.loads(await reader.readline()))
        writer.close()
        await server.close()
        return answers

    answers = asyncio.run(go())
    assert [a["ok"] for a in answers] == [False, False, False, False, True, False]
    assert "request over" in answers[-1]["error"]
    assert all(a["invalid"] for a in answers[:4])
    assert "limit must be an integer" in answers[0]["error"]
    assert not os.path.exists(path)  # our own socket is removed on close
