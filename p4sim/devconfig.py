"""The p4sim device config: what SetForwardingPipelineConfig carries as
`p4_device_config` for p4sim, as bmv2's JSON does for bmv2.

It is the preprocessed P4 source, so that loading it needs no `cpp` and no
include files, and the name of the main file, so that error messages point at
the original source:

    {"format": "p4sim/1", "source": "<preprocessed text>", "filename": "prog.p4"}

Anything else (a bmv2 JSON pushed to p4sim by mistake, a truncated upload)
is rejected with an error that says what was received.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from .frontend.errors import NOWHERE, P4Error

FORMAT = "p4sim/1"


class DeviceConfigError(P4Error):
    """The bytes are not a p4sim device config. A P4Error (so a server that
    reports front-end errors reports this one too) without a source location."""

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)
        self.loc = NOWHERE
        self.message = message


class DeviceConfig(NamedTuple):
    source: str
    filename: str


def encode_device_config(source_text: str, filename: str) -> bytes:
    """The device config for preprocessed `source_text` from `filename`."""
    if not isinstance(source_text, str) or not isinstance(filename, str):
        raise TypeError("source_text and filename must be strings")
    doc = {"format": FORMAT, "source": source_text, "filename": filename}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def decode_device_config(data: bytes) -> DeviceConfig:
    """(source_text, filename) from a device config; DeviceConfigError otherwise.
    The result is a NamedTuple, so `.source` / `.filename` work too."""
    if not data:
        raise DeviceConfigError("empty device config (expected a p4sim/1 JSON document)")
    try:
        doc = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DeviceConfigError(f"device config is not p4sim/1 JSON: {e}") from None
    if not isinstance(doc, dict):
        raise DeviceConfigError("device config is not a JSON object (expected p4sim/1)")
    fmt = doc.get("format")
    if fmt != FORMAT:
        hint = ""
        if fmt is None and ("pipelines" in doc or "header_types" in doc):
            hint = " (this looks like a bmv2 JSON; compile with p4sim-compile for p4sim)"
        raise DeviceConfigError(f"device config format is {fmt!r}, expected {FORMAT!r}{hint}")
    source, filename = doc.get("source"), doc.get("filename")
    if not isinstance(source, str) or not isinstance(filename, str):
        raise DeviceConfigError("p4sim/1 device config needs string 'source' and 'filename'")
    return DeviceConfig(source, filename)


# Short names for callers that prefer them.
encode = encode_device_config
decode = decode_device_config
