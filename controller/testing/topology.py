"""The two-port topology the controller's tests and benchmarks drive: a client subnet
on port 1, the real servers on port 2, one service, and the controller's config for it
(`config_text`)."""

from __future__ import annotations

import textwrap
from pathlib import Path

MAC1, MAC2 = "02:00:00:00:00:01", "02:00:00:00:00:02"
CLIENT_MAC, SERVER_MAC = "00:00:00:00:00:c1", "00:00:00:00:00:5e"
CLIENT_IP, VIP, VPORT = "10.0.0.1", "192.168.10.10", 80
RS_IP, RS_PORT = "10.1.0.5", 8080
RS2_IP = "10.1.0.6"
KEY_HEX = "0011223344556677"  # the cookie key of the config


def config_text(p4info: Path, devcfg: Path, sock: str, extra: str = "", *,
                service: str = "", sessions: str = "", election_id: int = 1,
                control: str = "") -> str:
    service = service or textwrap.dedent(f"""\
          - name: web
            vip: {VIP}
            port: {VPORT}
            mode: "on"
            synack: {{mss: 1460, wscale: 7, window: 0}}
            real_servers:
              - {{address: {RS_IP}, port: {RS_PORT}}}
        """)
    return textwrap.dedent(f"""\
        switch:
          address: "unix:{sock}"
          election_id: {election_id}
          p4info: "{p4info}"
          device_config: "{devcfg}"
        interfaces:
          - {{port: 1, mac: "{MAC1}", address: 10.0.0.254/24}}
          - {{port: 2, mac: "{MAC2}", address: 10.1.0.254/24}}
        neighbours:
          - {{address: {CLIENT_IP}, mac: "{CLIENT_MAC}", port: 1}}
          - {{address: {RS_IP}, mac: "{SERVER_MAC}", port: 2}}
          - {{address: {RS2_IP}, mac: "{SERVER_MAC}", port: 2}}
        cookie: {{key: "{KEY_HEX}", rotate_seconds: 3600}}
        """) + "services:\n" + textwrap.indent(service, "") + sessions + control + extra
