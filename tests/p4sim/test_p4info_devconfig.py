"""Device config encode/decode (p4sim.devconfig)."""

from __future__ import annotations

import json

import pytest

from p4sim.devconfig import DeviceConfigError, decode_device_config, encode_device_config
from p4sim.frontend.errors import P4Error


def test_round_trip_keeps_text_and_name():
    src = '# 1 "prog.p4"\ncontrol C() { apply { } }\n// ünïcode\n'
    data = encode_device_config(src, "prog.p4")
    assert json.loads(data)["format"] == "p4sim/1"
    decoded = decode_device_config(data)
    assert decoded == (src, "prog.p4")
    assert decoded.source == src and decoded.filename == "prog.p4"


def test_bmv2_json_is_rejected_with_a_hint():
    bmv2 = json.dumps({"header_types": [], "pipelines": []}).encode()
    with pytest.raises(DeviceConfigError, match="bmv2 JSON"):
        decode_device_config(bmv2)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"\xff\xfe", "not p4sim/1 JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"format": "p4sim/2", "source": "", "filename": ""}', "p4sim/2"),
        (b'{"format": "p4sim/1", "source": 3, "filename": "x"}', "string 'source'"),
    ],
)
def test_bad_configs_give_clear_errors(data, message):
    with pytest.raises(DeviceConfigError, match=message) as info:
        decode_device_config(data)
    # Callers that report front-end errors catch this as a P4Error too.
    assert isinstance(info.value, P4Error)
    assert "<builtin>" not in str(info.value)
