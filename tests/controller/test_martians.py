"""D16: the martian sources the controller installs (controller/install.py) and the
`bogons` config key.

Run: .venv/bin/python -m pytest -q tests/controller/test_martians.py
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from controller import install
from controller.config import ConfigError, parse_config
from controller.p4info import P4InfoIndex, load_p4info

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
interfaces:
  - {port: 1, mac: "02:00:00:00:01:01", address: 10.0.1.1/24}
  - {port: 2, mac: "02:00:00:00:02:01", address: 10.0.2.1/30}
  - {port: 3, mac: "02:00:00:00:03:01", address: 10.0.3.1/31}
neighbours:
  - {address: 10.0.1.10, mac: "02:00:00:00:01:0a", port: 1}
routes:
  - {prefix: 172.16.0.0/16, next_hop: 10.0.1.10}
bogons: [198.51.100.0/24, 203.0.113.7]
services:
  - {name: web, vip: 192.0.2.10, port: 80, mode: on, nat: false}
  - {name: tls, vip: 192.0.2.10, port: 443, mode: on, nat: false}
"""


def test_defaults_own_addresses_vips_broadcasts_and_bogons() -> None:
    cfg = parse_config(CONFIG, "c.yaml")
    assert cfg.bogons == ("198.51.100.0/24", "203.0.113.7/32")
    assert install.martian_prefixes(cfg) == [
        "0.0.0.0/8",
        "10.0.1.1/32", "10.0.1.255/32",   # own address, directed broadcast of its /24
        "10.0.2.1/32", "10.0.2.3/32",     # a /30 has a broadcast address too
        "10.0.3.1/32",                    # a /31 has none (RFC 3021)
        "127.0.0.0/8",
        "172.16.255.255/32",              # a routed prefix's directed broadcast
        "192.0.2.10/32",                  # the VIP, once for both services
        "198.51.100.0/24", "203.0.113.7/32",
        "224.0.0.0/4", "240.0.0.0/4",     # multicast; reserved with 255.255.255.255
    ]


def test_no_config_still_refuses_the_defaults() -> None:
    cfg = parse_config("services: []\n", "c.yaml")
    assert install.martian_prefixes(cfg) == list(install.MARTIAN_DEFAULTS)


def test_a_bad_bogon_points_at_its_line() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("services: []\nbogons:\n  - 10.0.0.0/33\n", "c.yaml")
    assert "c.yaml:3" in str(err.value) and "bogons[0]" in str(err.value)


def _built_p4info() -> P4InfoIndex:
    p4info = ROOT / "build" / "p4sim" / "synproxy" / "p4info.txt"
    if not p4info.exists():
        pytest.fail(f"{p4info} is missing: run `make build` first")
    return P4InfoIndex(load_p4info(str(p4info)))


def test_entries_are_installed_with_forwarding() -> None:
    p4 = _built_p4info()
    cfg = parse_config(CONFIG, "c.yaml")
    table = p4.get("tables", "martian_sources").preamble.id
    action = p4.get("actions", "set_martian").preamble.id
    entries = [e for e in install.forwarding_entries(p4, cfg) if e.table_id == table]
    assert len(entries) == len(install.martian_prefixes(cfg))
    assert {e.action.action.action_id for e in entries} == {action}
    lpm = sorted((e.match[0].lpm.value, e.match[0].lpm.prefix_len) for e in entries)
    assert (bytes([127, 0, 0, 0]), 8) in [(v.rjust(4, b"\0"), n) for v, n in lpm]


CONFIG6 = """\
interfaces:
  - {port: 1, mac: "02:00:00:00:01:01", address: 10.0.1.1/24, address6: "2001:db8:1::1/64"}
  - {port: 2, mac: "02:00:00:00:02:01", address6: "2001:db8:2::1/64"}
neighbours:
  - {address: "2001:db8:2::10", mac: "02:00:00:00:02:0a", port: 2}
routes:
  - {prefix: "2001:db8:99::/48", next_hop: "2001:db8:2::10"}
bogons: [198.51.100.0/24, "2001:db8:bad::/48"]
services:
  - {name: web6, vip: "2001:db8:f::10", port: 80, mode: off, nat: false,
     real_servers: [{address: "2001:db8:2::10", port: 80}]}
"""


def test_ipv6_prefixes_defaults_own_addresses_vips_and_bogons() -> None:
    cfg = parse_config(CONFIG6, "c6.yaml")
    got = install.martian_prefixes_v6(cfg)
    for p in ("::/128", "::1/128", "ff00::/8", "fe80::/10", "::ffff:0:0/96",
              "2001:db8:1::1/128", "2001:db8:2::1/128", "2001:db8:f::10/128",
              "2001:db8:bad::/48"):
        assert p in got
    # a real server / neighbour is not a martian; nor is an IPv4 bogon in the v6 list
    assert "2001:db8:2::10/128" not in got
    assert all(":" in p for p in got)
    # the IPv4 list takes the IPv4 half only (an IPv6-only interface is skipped)
    v4 = install.martian_prefixes(cfg)
    assert "198.51.100.0/24" in v4 and all(":" not in p for p in v4)


def test_a_transparent_ipv6_vip_that_is_a_servers_own_address_is_no_martian() -> None:
    """The server at a transparent VIP sends from it (its neighbour solicitations
    first): only the switch's own addresses and the VIPs it answers for are martian.
    The same address as a NAT service's VIP, or a transparent VIP no host owns, is."""
    cfg = parse_config(CONFIG6 + """\
  - {name: own6, vip: "2001:db8:2::10", port: 8088, mode: on, nat: false}
""", "c6.yaml")
    got = install.martian_prefixes_v6(cfg)
    assert "2001:db8:2::10/128" not in got
    assert "2001:db8:f::10/128" in got  # transparent, but no neighbour's address
    nat = parse_config(CONFIG6 + """\
  - {name: nat6, vip: "2001:db8:2::10", port: 8088, mode: on,
     real_servers: [{address: "2001:db8:2::10", port: 80}]}
""", "c6.yaml")
    assert "2001:db8:2::10/128" in install.martian_prefixes_v6(nat)
    # The IPv4 list keeps a transparent VIP that is a neighbour's (ARP has no martian
    # check, so its server resolves its gateway all the same).
    v4 = parse_config(CONFIG + """\
  - {name: own4, vip: 10.0.1.10, port: 8088, mode: on, nat: false}
""", "c.yaml")
    assert "10.0.1.10/32" in install.martian_prefixes(v4)


def test_ipv6_entries_go_to_the_v6_tables() -> None:
    p4 = _built_p4info()
    cfg = parse_config(CONFIG6, "c6.yaml")
    ids = {name: p4.get("tables", name).preamble.id
           for name in ("martian_sources_v6", "nd_replies", "ipv6_routes", "arp_replies",
                        "ipv4_routes")}
    entries = install.forwarding_entries(p4, cfg)
    by = {n: [e for e in entries if e.table_id == t] for n, t in ids.items()}
    assert len(by["martian_sources_v6"]) == len(install.martian_prefixes_v6(cfg))
    targets = {int.from_bytes(e.match[0].exact.value, "big") for e in by["nd_replies"]}
    assert targets == {int(ipaddress.IPv6Address(a))
                       for a in ("2001:db8:1::1", "2001:db8:2::1", "2001:db8:f::10")}
    assert sorted(e.match[0].lpm.prefix_len for e in by["ipv6_routes"]) == [48, 128]
    assert len(by["arp_replies"]) == 1 and by["ipv4_routes"] == []


def test_ipv4_only_config_installs_no_ipv6_entry() -> None:
    p4 = _built_p4info()
    v6 = {p4.get("tables", n).preamble.id
          for n in ("martian_sources_v6", "nd_replies", "ipv6_routes")}
    assert not [e for e in install.forwarding_entries(p4, parse_config(CONFIG, "c.yaml"))
                if e.table_id in v6]
