"""synproxyctl as an operator uses it: `check FILE` (like nft -c), the schema generated
from the validator, `status` and `counters` as named tables (`--json` for the answer),
rates since the last read, `--zero`, and error messages that name the path and quote.

Run: .venv/bin/python -m pytest -q tests/controller/test_synproxyctl.py
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import schema
from controller.cli import main
from controller.control import ControlServer
from tests.controller.ctlbench import (
    CLIENT_PORT,
    ROOT,
    RS_IP,
    RS_PORT,
    ControllerThread,
    client_tcp,
    config_text,
    start_controller,
)

pytestmark = pytest.mark.timeout(120)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_check_good_and_bad_files(artefacts: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(config_text(*artefacts, str(tmp_path / "sw.sock")))
    rc, out, _ = run(capsys, "check", str(good))
    assert rc == 0 and out == f"{good}: config and program ok (1 services)\n"
    rc, out, _ = run(capsys, "check", str(ROOT / "examples" / "synproxy.yaml"),
                     "--config-only")
    assert rc == 0 and "config ok (5 services)" in out

    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("  port: 80\n", "  prot: 80\n", 1))
    rc, out, err = run(capsys, "check", str(bad))
    line = 1 + bad.read_text().splitlines().index("  prot: 80")
    assert rc == 2 and out == ""
    assert err.startswith(f"synproxyctl: {bad}:{line}: services[0].prot: unknown key")

    rc, _, err = run(capsys, "check", str(tmp_path / "none.yaml"))
    assert rc == 2 and err == f"synproxyctl: {tmp_path / 'none.yaml'}: cannot read: " \
                              "No such file or directory\n"
    missing = tmp_path / "nop4info.yaml"
    missing.write_text(config_text(tmp_path / "nope.txt", artefacts[1], "s"))
    rc, _, err = run(capsys, "check", str(missing))
    assert rc == 2 and "switch.p4info: cannot load" in err and "nope.txt" in err
    assert run(capsys, "check", str(missing), "--config-only")[0] == 0


def test_schema_doc_is_the_validators(capsys) -> None:
    sch = schema.trace()
    assert schema.uncovered(sch) == [], "keys the traced configs do not use"
    doc = schema.markdown(sch)
    assert "| `port` | integer 1..65535 | **required** |" in doc
    assert "| `mode` | off or on or auto | `on` |" in doc
    assert (ROOT / "examples" / "SCHEMA.md").read_text() == doc, \
        "examples/SCHEMA.md is stale: synproxyctl schema > examples/SCHEMA.md"
    rc, out, _ = run(capsys, "schema")
    assert rc == 0 and out == doc


@pytest.fixture
def served(artefacts, sock, switch, tmp_path: Path) -> Iterator[tuple[ControllerThread, str]]:
    ct = start_controller(artefacts, sock, tmp_path)
    assert ct.ctl is not None
    ctl, path = ct.ctl, str(tmp_path / "ctl.sock")
    server = ControlServer(ctl, path)
    ct.call(server.start)
    try:
        yield ct, path
    finally:
        ct.call(server.close)
        ct.stop()


def syns(switch, n: int, base: int = 42000) -> None:
    for i in range(n):
        switch.send(CLIENT_PORT, client_tcp("S", 1000 + i, sport=base + i))
    assert switch.wait_idle()


def test_status_and_counters_tables(served, switch, capsys) -> None:
    _ct, path = served
    syns(switch, 3)
    rc, out, _ = run(capsys, "status", "--socket", path)
    assert rc == 0 and "controller: primary, synced" in out
    row = next(ln for ln in out.splitlines() if ln.startswith("web "))
    assert row.split() == ["web", "192.168.10.10:80", "on", "-", f"{RS_IP}:{RS_PORT}", "1",
                           "0", "-"]
    rc, out, _ = run(capsys, "status", "--socket", path, "--json")
    assert rc == 0 and json.loads(out)["services"]["web"]["real_servers"][0]["sessions"] == 0

    rc, out, _ = run(capsys, "counters", "--socket", path)
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["SERVICE", "SYN_IN", "SYNACK_SENT"]
    assert lines[1].split()[:3] == ["web", "3", "3"]
    assert lines[2].split()[:3] == ["(switch)", "3", "3"]
    rc, out, _ = run(capsys, "counters", "--socket", path, "--json")
    assert json.loads(out)["services_by_name"]["web"]["syn_in"] == 3


def test_rates_and_zero(served, switch, capsys) -> None:
    _ct, path = served
    syns(switch, 2)
    run(capsys, "counters", "--socket", path)
    syns(switch, 5, base=43000)
    rc, out, _ = run(capsys, "counters", "--socket", path, "--rate", "--json")
    ans = json.loads(out)
    assert rc == 0 and ans["elapsed"] > 0
    assert round(ans["rates"]["services"]["web"]["syn_in"] * ans["elapsed"]) == 5
    rc, out, _ = run(capsys, "counters", "--socket", path, "--rate", "--interval", "0.05")
    assert rc == 0 and "per second over the last" in out

    rc, out, _ = run(capsys, "counters", "--socket", path, "--zero")
    assert rc == 0 and "zeroed" in out and out.splitlines()[1].split()[:2] == ["web", "7"]
    syns(switch, 2, base=44000)
    rc, out, _ = run(capsys, "counters", "--socket", path, "--json")
    ans = json.loads(out)
    assert ans["services_by_name"]["web"]["syn_in"] == 2 and ans["zeroed_seconds_ago"] >= 0
    # the switch's own counter is not reset
    assert switch.counter("global_events", 1) == 9


def test_errors_name_the_path_and_quote(served, tmp_path: Path, capsys) -> None:
    _ct, path = served
    rc, _, err = run(capsys, "rs", "add", "nosuch", "10.1.0.9:80", "--socket", path)
    assert rc == 2 and err == "synproxyctl: no service named 'nosuch'\n"
    rc, _, err = run(capsys, "service", "remove", "nosuch", "--socket", path)
    assert rc == 2 and err == "synproxyctl: no service named 'nosuch'\n"
    gone = str(tmp_path / "gone.sock")
    rc, _, err = run(capsys, "status", "--socket", gone)
    assert rc == 1 and err.startswith(f"synproxyctl: {gone}: No such file or directory")
    rc, _, err = run(capsys, "status", "--config", str(tmp_path / "none.yaml"))
    assert rc == 2 and f"{tmp_path / 'none.yaml'}: cannot read" in err


def test_service_add_takes_the_config_files_health_check(served, tmp_path: Path,
                                                         capsys) -> None:
    """Whatever a service's `health` mapping accepts, `service add` takes as --health and
    --health-OPT (and --controller-down): the service runs with it (saved back as the
    file would have it); a bad value is named as the config names it; an option without
    --health is refused."""
    from controller.config import HealthCheck, load_config

    ct, path = served
    rc, out, err = run(capsys, "service", "add", "api", "--vip", "192.168.10.20", "--port",
                       "443", "--rs", "10.1.0.7:8443", "--health", "http",
                       "--health-interval", "0.5", "--health-timeout", "0.25",
                       "--health-rise", "3", "--health-fall", "4", "--health-port", "8080",
                       "--health-path", "/ok", "--health-status", "204",
                       "--controller-down", "closed", "--socket", path)
    assert rc == 0, err
    running = ct.ctl.services[json.loads(out)["id"]]
    want = HealthCheck(type="http", interval=0.5, timeout=0.25, rise=3, fall=4, port=8080,
                       path="/ok", status=204)
    assert running.health == want and running.controller_down == "closed"
    saved = tmp_path / "saved.yaml"
    assert run(capsys, "save", "--to", str(saved), "--socket", path)[0] == 0
    (api,) = [s for s in load_config(saved).services if s.name == "api"]
    assert (api.health, api.controller_down) == (want, "closed")
    # Only --health: the mapping's defaults.
    rc, out, err = run(capsys, "service", "add", "db", "--vip", "192.168.10.21", "--port",
                       "5432", "--rs", "10.1.0.8:5432", "--health", "tcp", "--socket", path)
    assert rc == 0, err
    assert ct.ctl.services[json.loads(out)["id"]].health == HealthCheck()

    rc, _, err = run(capsys, "service", "add", "x", "--vip", "192.168.10.22", "--port", "80",
                     "--rs", "10.1.0.9:80", "--health", "tcp", "--health-rise", "0",
                     "--socket", path)
    assert rc == 2 and "services[0].health.rise: 0 is out of range 1..100" in err, err
    rc, _, err = run(capsys, "service", "add", "x", "--vip", "192.168.10.22", "--port", "80",
                     "--rs", "10.1.0.9:80", "--health-path", "/x", "--socket", path)
    assert rc == 2 and err == "synproxyctl: --health-path needs --health tcp|http\n"
    rc, _, err = run(capsys, "service", "add", "x", "--vip", "192.168.10.22", "--port", "80",
                     "--health", "http", "--health-path", "no-slash", "--socket", path)
    assert rc == 2 and "health.path: 'no-slash' is not an HTTP path" in err, err
    with pytest.raises(SystemExit):  # argparse: not a number
        main(["service", "add", "x", "--vip", "1.2.3.4", "--port", "80", "--health", "tcp",
              "--health-interval", "soon", "--socket", path])
