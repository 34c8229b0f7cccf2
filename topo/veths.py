"""A veth lab for running p4sim by hand: pairs of veths in the current namespace.

    python -m topo.veths up [--pairs 4]      # veth0<->veth1, veth2<->veth3, ...
    python -m topo.veths down                # removes the lab's veths, and only those
    python -m topo.veths show

The naming is bmv2's `veth_setup.sh`: pair i is veth(2i) <-> veth(2i+1); give the
even end to the switch (`p4sim -i 0@veth0 -i 1@veth2`) and send and capture on the
odd end (scapy, tcpdump). Each lab veth is up, has checksum offloads and IPv6 off (so
the P4 program sees real checksums and no router solicitations), and carries the
interface alias `p4synproxy-veth-lab`: `down` removes exactly the veths with that
alias, so it never touches an interface it did not make. `up` refuses to start if
one of the names it needs is taken by an interface that is not the lab's. Needs
root (CAP_NET_ADMIN); run it under `ip netns exec NS` for a private lab.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from .netns import command

ALIAS = "p4synproxy-veth-lab"
SYS_NET = Path("/sys/class/net")
OFFLOADS = ("tx", "rx", "tso", "gso", "gro")


class VethError(RuntimeError):
    pass


def _run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise VethError(f"`{' '.join(cmd)}` failed: {proc.stderr.strip()}")
    return proc


def pair_names(pairs: int) -> list[tuple[str, str]]:
    return [(f"veth{2 * i}", f"veth{2 * i + 1}") for i in range(pairs)]


def is_lab_veth(name: str) -> bool:
    try:
        return (SYS_NET / name / "ifalias").read_text().strip() == ALIAS
    except OSError:
        return False


def lab_veths() -> list[str]:
    """The lab's interfaces in this namespace, in name order."""
    if not SYS_NET.is_dir():
        return []
    names = [p.name for p in SYS_NET.iterdir() if is_lab_veth(p.name)]
    return sorted(names, key=lambda n: (len(n), n))


def up(pairs: int) -> list[tuple[str, str]]:
    """Create the missing pairs (pairs already in the lab are kept as they are)."""
    if not 1 <= pairs <= 64:
        raise VethError(f"--pairs {pairs}: give 1 to 64")
    wanted = pair_names(pairs)
    for a, b in wanted:
        for name in (a, b):
            if (SYS_NET / name).exists() and not is_lab_veth(name):
                raise VethError(f"{name} exists and is not a lab veth: not touching it")
    for a, b in wanted:
        if is_lab_veth(a) and is_lab_veth(b):
            continue
        _run(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
        for name in (a, b):
            _run(["ip", "link", "set", "dev", name, "alias", ALIAS])
            _run(["sysctl", "-qw", f"net.ipv6.conf.{name}.disable_ipv6=1"], check=False)
            _run(["ip", "link", "set", "dev", name, "up"])
            _run(["ethtool", "-K", name, *(w for o in OFFLOADS for w in (o, "off"))],
                 check=False)
    return wanted


def down() -> list[str]:
    """Delete the lab's veths (deleting one end removes its peer)."""
    removed = []
    for name in lab_veths():
        if (SYS_NET / name).exists():
            _run(["ip", "link", "del", "dev", name])
            removed.append(name)
    return removed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m topo.veths", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="create veth0<->veth1, veth2<->veth3, ...")
    p_up.add_argument("--pairs", type=int, default=4, help="number of pairs (default: 4)")
    sub.add_parser("down", help="remove the lab's veths")
    sub.add_parser("show", help="list the lab's veths")
    args = ap.parse_args(argv)

    def run() -> None:
        if args.cmd == "up":
            for a, b in up(args.pairs):
                print(f"{a} <-> {b}")
        elif args.cmd == "down":
            removed = down()
            print("removed: " + (", ".join(removed) if removed else "nothing"))
        else:
            print("\n".join(lab_veths()) or "no lab veths")

    return command("topo.veths: error", run, errors=(VethError,))


if __name__ == "__main__":
    sys.exit(main())
