"""Config loading: a good file loads; every mistake names file, line and field."""

import textwrap

import pytest

from controller.config import ConfigError, load_config, parse_config

GOOD = textwrap.dedent("""\
    switch:
      address: unix:/tmp/sw.sock
      election_id: 7
    interfaces:
      - {port: 1, mac: "02:00:00:00:01:01", address: 10.0.1.1/24}
      - {port: 2, mac: "02:00:00:00:02:01", address: 10.0.2.1/24}
    neighbours:
      - {address: 10.0.1.10, mac: "02:00:00:00:01:0a", port: 1}
      - {address: 10.0.2.10, mac: "02:00:00:00:02:0a", port: 2}
    routes:
      - {prefix: 10.0.1.0/24, next_hop: 10.0.1.10}
    services:
      - name: web
        vip: 10.0.0.100
        port: 80
        mode: on
        auto: {syn_rate_on: 500, syn_rate_off: 100, quiet_seconds: 5}
        synack: {mss: 1400, wscale: 9, sack: false, window: 1024}
        defer: true
        real_servers:
          - {address: 10.0.2.10, port: 8080, weight: 3}
          - {address: 10.0.2.11, port: 8080}
    cookie: {key: "0001020304050607", rotate_seconds: 30}
    sessions:
      max: 1000
      timeouts: {established: 60}
      reuse: {time_wait: false}
    """)


def test_good_config_loads(tmp_path) -> None:
    p = tmp_path / "cfg.yaml"
    p.write_text(GOOD)
    cfg = load_config(p)
    web = cfg.services[0]
    assert (web.vip, web.port, web.mode, web.defer) == ("10.0.0.100", 80, "on", True)
    assert web.synack.mss == 1400 and web.synack.wscale == 9 and not web.synack.sack
    assert web.synack.timestamps  # default kept
    assert [s.weight for s in web.real_servers] == [3, 1]
    assert cfg.cookie.key == bytes(range(8))
    assert cfg.sessions.timeouts.established == 60 and cfg.sessions.timeouts.time_wait == 60
    assert not cfg.sessions.reuse.time_wait and cfg.sessions.reuse.close
    assert cfg.switch.election_id == 7 and cfg.path == str(p)


@pytest.mark.parametrize("old,new,line,message", [
    ("vip: 10.0.0.100", "vip: 10.0.0.300", 14, r"services\[0\]\.vip: '10.0.0.300' is not an IPv4"),
    ("port: 80", "port: 80000", 15, r"services\[0\]\.port: 80000 is out of range"),
    ("mode: on", "mode: sometimes", 16, r"services\[0\]\.mode: 'sometimes' is not one of"),
    ("wscale: 9", "wscale: 15", 18, r"services\[0\]\.synack\.wscale: 15 is out of range"),
    ("window: 1024", "window: 0", 13, r"defer needs a non-zero synack\.window"),
    ("syn_rate_off: 100", "syn_rate_off: 900", 17, r"hysteresis"),
    ("defer: true", "deffer: true", 19, r"services\[0\]\.deffer: unknown key"),
    ('key: "0001020304050607"', 'key: "00"', 23, r"cookie\.key: the cookie key must be 8 bytes"),
    ("next_hop: 10.0.1.10", "next_hop: 10.0.1.99", 11, r"routes\[0\]\.next_hop: 10.0.1.99 is not in neighbours"),
    ("max: 1000", "max: lots", 25, r"sessions\.max: 'lots' is not an integer"),
    ('mac: "02:00:00:00:01:01"', 'mac: "02:00:00:00:01"', 5, r"interfaces\[0\]\.mac: .* is not a MAC"),
])
def test_errors_point_at_file_line_and_field(old: str, new: str, line: int, message: str) -> None:
    assert old in GOOD
    with pytest.raises(ConfigError, match=message) as exc:
        parse_config(GOOD.replace(old, new, 1), "cfg.yaml")
    assert exc.value.file == "cfg.yaml"
    assert exc.value.line == line, str(exc.value)
    assert str(exc.value).startswith(f"cfg.yaml:{line}: ")


def test_nat_services_take_every_mode() -> None:
    """Unproxied connections of a NAT service are translated by the switch's bucket
    table (C8), so auto and off go with NAT as with transparent mode."""
    for mode in ("auto", "off"):
        for nat in ("true", "false"):
            text = GOOD.replace("mode: on", f"mode: {mode}\n    nat: {nat}", 1)
            cfg = parse_config(text, "c.yaml")
            assert (cfg.services[0].mode, cfg.services[0].nat) == (mode, nat == "true")
    servers = ("    real_servers:\n      - {address: 10.0.2.10, port: 8080, weight: 3}\n"
               "      - {address: 10.0.2.11, port: 8080}\n")
    assert servers in GOOD
    with pytest.raises(ConfigError, match=r"c.yaml:13: services\[0\]: a NAT service needs at "
                                          r"least one real server"):
        parse_config(GOOD.replace("mode: on", "mode: auto", 1).replace(servers, ""), "c.yaml")


SECOND = """\
  - name: api
    vip: 10.0.0.101
    port: 443
    mode: {mode}
    nat: {nat}
    real_servers:
      - {{address: 10.0.2.12, port: 8080}}
      - {{address: 10.0.2.10, port: 8080}}
"""


def _two_services(first_mode: str, second_mode: str, second_nat: str = "true") -> str:
    text = GOOD.replace("mode: on", f"mode: {first_mode}", 1)
    return text.replace("cookie:", SECOND.format(mode=second_mode, nat=second_nat)
                        + "cookie:", 1)


def test_a_real_server_backs_one_unproxied_nat_service() -> None:
    """The switch translates a real server's answers back by its address and port
    (nat_reverse): two auto/off NAT services cannot share one; the error points at
    the second one's real server."""
    with pytest.raises(ConfigError) as exc:
        parse_config(_two_services("auto", "off"), "c.yaml")
    assert str(exc.value).startswith(
        "c.yaml:30: services[1].real_servers[1]: 10.0.2.10:8080 already serves NAT "
        "service 'web'"), str(exc.value)
    # Proxied (mode on, failing closed: the default) or transparent services may share
    # it: their answers hit sessions.
    for first, second, nat in (("on", "auto", "true"), ("auto", "on", "true"),
                               ("auto", "auto", "false")):
        cfg = parse_config(_two_services(first, second, nat), "c.yaml")
        assert [s.mode for s in cfg.services] == [first, second]
        assert [s.controller_down for s in cfg.services] == ["closed", "closed"]
    # A mode on service that fails open is NATed unproxied while the controller is gone,
    # so it holds its real servers as an auto one does.
    with pytest.raises(ConfigError, match=r"on with controller_down: open\): a real server "
                                          r"can back only one"):
        parse_config(_two_services("on", "auto").replace(
            "    mode: on\n", "    mode: on\n    controller_down: open\n"), "c.yaml")
    # Another port of the same address is another real server.
    text = _two_services("auto", "auto").replace("- {address: 10.0.2.10, port: 8080}\n",
                                                 "- {address: 10.0.2.10, port: 8081}\n")
    assert len(parse_config(text, "c.yaml").services) == 2


def test_duplicate_vip_and_missing_fields() -> None:
    dup = GOOD + textwrap.dedent("""\
        """)
    text = dup.replace("services:\n", "services:\n  - {name: other, vip: 10.0.0.100, port: 80, mode: off, nat: false}\n", 1)
    with pytest.raises(ConfigError, match=r"is already service 'other'"):
        parse_config(text, "c.yaml")
    with pytest.raises(ConfigError, match=r"missing required key 'vip'"):
        parse_config("services:\n  - {name: x, port: 80}\n", "c.yaml")


def test_not_yaml_and_empty_and_missing_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"c.yaml:3: not valid YAML"):
        parse_config("switch:\n  address: [unclosed\n", "c.yaml")
    with pytest.raises(ConfigError, match="empty"):
        parse_config("", "c.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_control_section() -> None:
    cfg = parse_config("control: {socket: /run/s.sock, state_poll_seconds: 0.5, "
                       "auto_poll_seconds: 2, log_format: json}\n")
    assert cfg.control.socket == "/run/s.sock" and cfg.control.log_format == "json"
    assert (cfg.control.state_poll_seconds, cfg.control.auto_poll_seconds) == (0.5, 2.0)
    default = parse_config("metrics: {listen: '127.0.0.1:9100'}\n").control
    assert default.socket == "" and default.log_format == "kv"


# ----------------------------------------------------------------------------- IPv6 (D13)

V6 = textwrap.dedent("""\
    interfaces:
      - {port: 1, mac: "02:00:00:00:01:01", address: 10.0.1.1/24, address6: "2001:db8:1::1/64"}
      - {port: 2, mac: "02:00:00:00:02:01", address6: "2001:db8:2::1/64"}
    neighbours:
      - {address: "2001:db8:1::10", mac: "02:00:00:00:01:0a", port: 1}
      - {address: "2001:db8:2::10", mac: "02:00:00:00:02:0a", port: 2}
    routes:
      - {prefix: "2001:db8:2::/64", next_hop: "2001:db8:2::10"}
    bogons: ["2001:db8:dead::/48"]
    services:
      - name: web6
        vip: "2001:DB8::100"
        port: 80
        real_servers:
          - {address: "2001:db8:2::10", port: 8080}
          - {address: "2001:db8:2:0::11", port: 8080}
    """)


def test_ipv6_config_loads_in_canonical_form() -> None:
    cfg = parse_config(V6, "v6.yaml")
    web6 = cfg.services[0]
    assert web6.vip == "2001:db8::100"
    assert [r.address for r in web6.real_servers] == ["2001:db8:2::10", "2001:db8:2::11"]
    assert cfg.interfaces[0].address == "10.0.1.1/24"
    assert cfg.interfaces[1].address6 == "2001:db8:2::1/64" and cfg.interfaces[1].address == ""
    assert cfg.routes[0].prefix == "2001:db8:2::/64" and cfg.bogons == ("2001:db8:dead::/48",)


@pytest.mark.parametrize("old,new,line,message", [
    # Mixed families are refused, pointing at the real server (NAT46/64 is not done).
    ('{address: "2001:db8:2::10", port: 8080}', "{address: 10.0.2.10, port: 8080}", 15,
     r"services\[0\]\.real_servers\[0\]: 10\.0\.2\.10 is IPv4 but the VIP "
     r"2001:db8::100 is IPv6: a service's real servers are of its VIP's family"),
    ('vip: "2001:DB8::100"', "vip: 10.0.0.100", 15,
     r"services\[0\]\.real_servers\[0\]: 2001:db8:2::10 is IPv6 but the VIP 10\.0\.0\.100"),
    ('next_hop: "2001:db8:2::10"', "next_hop: 10.0.1.10", 8,
     r"routes\[0\]\.next_hop: 10\.0\.1\.10 is IPv4 but the prefix 2001:db8:2::/64 is IPv6"),
    ('vip: "2001:DB8::100"', 'vip: "2001:db8::1::100"', 12,
     r"services\[0\]\.vip: '2001:db8::1::100' is not an IPv4 or IPv6 address"),
    ('vip: "2001:DB8::100"', 'vip: "ff02::1"', 12, r"is a multicast address, not a host"),
    ('vip: "2001:DB8::100"', 'vip: "fe80::1"', 12, r"is a link-local address"),
    ('vip: "2001:DB8::100"', 'vip: "::"', 12, r"is the unspecified address"),
    ('vip: "2001:DB8::100"', 'vip: "::1"', 12, r"is the loopback address"),
    # The controller keys flows by address: IPv4 written as IPv6 would alias IPv4 flows.
    ('vip: "2001:DB8::100"', 'vip: "::ffff:10.0.0.100"', 12, r"IPv4 address written as IPv6"),
    ('vip: "2001:DB8::100"', 'vip: "::10.0.0.100"', 12, r"IPv4 address written as IPv6"),
    ('address6: "2001:db8:2::1/64"', 'address6: "10.0.2.1/24"', 3,
     r"interfaces\[1\]\.address6: '10\.0\.2\.1/24' is not an IPv6 address/prefix"),
    ('address6: "2001:db8:2::1/64"', 'address6: "ff02::1/64"', 3, r"not a gateway address"),
    ('address6: "2001:db8:2::1/64"', 'mac6: "x"', 3,
     r"interfaces\[1\]\.mac6: unknown key"),
    ('{address: "2001:db8:2::10", mac: "02:00:00:00:02:0a", port: 2}\n',
     '{address: "2001:db8:2::10", mac: "02:00:00:00:02:0a", port: 2}\n'
     '  - {address: 10.0.2.10, mac: "02:00:00:00:02:0b", port: 2}\n', 7,
     r"neighbours\[2\]\.address: 10\.0\.2\.10 is IPv4 but the interface of port 2 has no "
     r"address \(IPv4\)"),
    ('bogons: ["2001:db8:dead::/48"]', 'bogons: ["2001:db8:dead::1/48"]', 9,
     r"bogons\[0\]: '2001:db8:dead::1/48' is not an IPv4 or IPv6 prefix"),
])
def test_ipv6_errors_point_at_file_line_and_field(old: str, new: str, line: int,
                                                  message: str) -> None:
    assert old in V6
    with pytest.raises(ConfigError, match=message) as exc:
        parse_config(V6.replace(old, new, 1), "v6.yaml")
    assert exc.value.line == line, str(exc.value)


def test_an_interface_needs_an_address_of_either_family() -> None:
    text = V6.replace(', address6: "2001:db8:2::1/64"}', "}", 1)
    with pytest.raises(ConfigError, match=r"v6.yaml:3: interfaces\[1\]: an interface needs an "
                                          r"address \(IPv4\), an address6 \(IPv6\) or both"):
        parse_config(text, "v6.yaml")


def test_ipv6_entries_install_on_a_program_with_the_ipv6_tables() -> None:
    """A program with the IPv6 tables takes an IPv6 config; one without them (the TNA
    program today) refuses it at start-up, naming the first IPv6 item, instead of
    failing on a table write."""
    from controller.config import check_program
    from controller.limits import ProgramLimits

    check_program(parse_config(V6, "v6.yaml"), ProgramLimits())
    with pytest.raises(ConfigError, match=r"v6.yaml:2: interfaces\[0\]\.address6: "
                                          r"2001:db8:1::1/64 is IPv6, but the program has "
                                          r"no IPv6 tables \(services_v6"):
        check_program(parse_config(V6, "v6.yaml"), ProgramLimits(ipv6=False))
    check_program(parse_config(GOOD, "v4.yaml"), ProgramLimits(ipv6=False))  # IPv4 only


@pytest.mark.parametrize("change, where, line", [
    ("    defer: true\n", "    defer: true\n    syn_rate: {rate: 100}\n",
     r"v4.yaml:\d+: services\[0\]\.syn_rate"),
    ("    defer: true\n", "    defer: true\n    icmp: answer\n",
     r"v4.yaml:\d+: services\[0\]\.icmp"),
    ("cookie:", "overload: {early_drop: 0.25}\ncookie:", r"v4.yaml:\d+: overload"),
])
def test_d15_asks_are_refused_by_a_program_without_its_objects(
        change: str, where: str, line: str) -> None:
    """The TNA program has no vip_protocols, overload_config or meters: a rate cap,
    early drop or ICMP answers are refused at start-up, naming the field, rather than
    silently not enforced; a config without them is taken, and by the v1model program
    with them."""
    from controller.config import check_program
    from controller.limits import ProgramLimits

    text = GOOD.replace(change, where, 1)
    assert text != GOOD
    check_program(parse_config(text, "v4.yaml"), ProgramLimits())
    with pytest.raises(ConfigError, match=line + r".*asks for D15.*program has no "
                                          r"vip_protocols, overload_config or meters"):
        check_program(parse_config(text, "v4.yaml"), ProgramLimits(overload=False))
    check_program(parse_config(GOOD, "v4.yaml"), ProgramLimits(overload=False))


@pytest.mark.parametrize("vip,synack,mss", [
    ('"2001:db8::100"', "", 1440),  # IPv6: 40-byte header
    ('"2001:db8::100"', "{wscale: 5}", 1440),
    ('"2001:db8::100"', "{mss: 1400}", 1400),  # as given
    ("10.0.0.100", "", 1460),
    ("10.0.0.100", "{wscale: 5}", 1460),
])
def test_mss_default_per_family(vip: str, synack: str, mss: int) -> None:
    fam6 = ":" in vip
    rs = '"2001:db8:2::10"' if fam6 else "10.0.2.10"
    text = (f"services:\n  - name: s\n    vip: {vip}\n    port: 80\n"
            f"    real_servers: [{{address: {rs}, port: 80}}]\n"
            + (f"    synack: {synack}\n" if synack else ""))
    svc = parse_config(text).services[0]
    assert svc.synack.mss == mss
    if "wscale" in synack:
        assert svc.synack.wscale == 5
