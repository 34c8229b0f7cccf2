"""The v1model program's in-process input tests (test_synproxy_input.py: random and
mutated packets), run on the TNA program (p4src/tna/synproxy.p4) in p4sim's TNA
pipeline: the same tests, with the conftest benches built on the TNA program (this
module's `synproxy_program`). The exact-packet handshake cases live in the PTF suite,
which runs on the TNA program too (ptf-tests/run_tna.py). The SYN and the cookie ACK
each take four passes through the pipeline there (three recirculations).

Tests of what the TNA program does not do yet (p4src/README.md, "TNA") are strict
xfails with the reason: they start passing, and then fail here, when it does.

Run: .venv/bin/python -m pytest -q tests/p4src/test_tna_handshake.py
"""

from __future__ import annotations

import pytest

from p4sim.frontend import load
from tests.p4src import test_synproxy_input
from tests.p4src.p4bench import CPU_PORT, ROOT

TNA_SYNPROXY = ROOT / "p4src" / "tna" / "synproxy.p4"

NOT_ON_TNA_YET: dict[str, str] = {}


@pytest.fixture(scope="module")
def synproxy_program():
    """The TNA program, with the CPU port the benches use."""
    return load(
        TNA_SYNPROXY, defines={"CPU_PORT": str(CPU_PORT)}, include_dirs=[str(ROOT / "p4src")]
    )


for _module in (test_synproxy_input,):
    for _name in dir(_module):
        if _name.startswith("test_"):
            _test = getattr(_module, _name)
            if _name in NOT_ON_TNA_YET:
                _test = pytest.mark.xfail(reason=NOT_ON_TNA_YET[_name], strict=True)(_test)
            globals()[_name] = _test
