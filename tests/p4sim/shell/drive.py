"""Run by the p4runtime-shell virtualenv (.venv-shell, protobuf 3.20), not by pytest.

Pushes a pipeline with p4runtime-shell, inserts an LPM route, reads it back, then
waits for a line on stdin (the test sends a packet through the route meanwhile),
deletes the route and reads again. Each step prints one JSON line.

    .venv-shell/bin/python tests/p4sim/shell/drive.py ADDR P4INFO DEVICE_CONFIG TABLE
"""

import json
import sys

from p4runtime_sh import shell as sh


def say(**kw):
    print(json.dumps(kw), flush=True)


def main():
    addr, p4info, config, table = sys.argv[1:5]
    sh.setup(device_id=0, grpc_addr=addr, election_id=(0, 1),
             config=sh.FwdPipeConfig(p4info, config), verbose=False)
    try:
        te = sh.TableEntry(table)(action="FwdIngress.ipv4_forward")
        te.match["dst_addr"] = "10.0.0.0/8"
        te.action["dst_addr"] = "00:00:00:00:00:02"
        te.action["port"] = "2"
        te.insert()
        entries = list(sh.TableEntry(table).read())
        say(step="inserted", prefix_lens=[e.match["dst_addr"].lpm.prefix_len for e in entries])
        sys.stdin.readline()
        te.delete()
        say(step="deleted", left=len(list(sh.TableEntry(table).read())))
    finally:
        sh.teardown()


if __name__ == "__main__":
    main()
