"""The program the controller drives: the P4Info and device config named by the
config, checked to be synproxy.p4's, and everything derived from the P4Info once
(ids, the session codec, the digest decoder, packet metadata)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from google.protobuf import json_format, text_format
from google.protobuf.message import DecodeError
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2 as pb

from . import fullnat, p4consts
from .config import Config, check_program
from .digests import DigestDecoder
from .install import SessionCodec, canonical
from .limits import ProgramLimits
from .p4info import P4InfoError, P4InfoIndex, load_p4info

PKTOUT_PIPELINE = p4consts.PKTOUT_FLAG_PIPELINE  # packet_out flags: the pipeline routes it


class StartupError(Exception):
    """The controller cannot start: a file is missing or is not the synproxy program."""


def pipeline_cookie(p4info_bytes: bytes, device_config: bytes) -> int:
    """A 64-bit fingerprint of our pipeline, stored as the config's cookie so a
    restarted controller can tell its own pipeline from another one."""
    h = hashlib.sha256(p4info_bytes + b"\0" + device_config).digest()
    return int.from_bytes(h[:8], "big") >> 1  # keep it positive in any signed reader


def read_p4info(path: Path) -> p4info_pb2.P4Info:
    """A P4Info as p4c or p4sim-compile write it: text by default, binary (`.bin`) or
    JSON (`.json`) by suffix, as `--p4runtime-files` names them."""
    if path.suffix == ".bin":
        return p4info_pb2.P4Info.FromString(path.read_bytes())
    if path.suffix == ".json":
        return json_format.Parse(path.read_text(), p4info_pb2.P4Info())
    return load_p4info(path)


def _resolve(base: Path, path: str) -> Path:
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return base / p


class Program:
    def __init__(self, cfg: Config) -> None:
        base = Path(cfg.path).parent if cfg.path else Path(".")
        where = f"{cfg.path or '<config>'}: switch"
        try:
            self.p4info = read_p4info(_resolve(base, cfg.switch.p4info))
        except (OSError, UnicodeDecodeError, text_format.ParseError, json_format.ParseError,
                DecodeError) as e:
            raise StartupError(f"{where}.p4info: cannot load '{cfg.switch.p4info}': {e}") from None
        try:
            self.device_config = _resolve(base, cfg.switch.device_config).read_bytes()
        except OSError as e:
            raise StartupError(f"{where}.device_config: cannot read: {e.strerror}") from None
        self.cookie = pipeline_cookie(self.p4info.SerializeToString(deterministic=True),
                                      self.device_config)
        self.p4 = p4 = P4InfoIndex(self.p4info)
        try:
            self.codec = SessionCodec(p4, cfg.sessions.timeouts.established)
            self.decoder = DigestDecoder(p4)
            for table in ("services", "cookie_keys", "defense", "passthrough_epoch"):
                p4.table(table)
            out_md = {m.name: m.id for m in p4.packet_metadata("packet_out").metadata}
            in_md = {m.name: m.id for m in p4.packet_metadata("packet_in").metadata}
            self.pktin_reason, self.pktin_port = in_md["reason"], in_md["ingress_port"]
            self.svc_counter = p4.get("counters", "service_events").preamble.id
            self.global_counter = p4.get("counters", "global_events").preamble.id
            self.limits = ProgramLimits.from_p4info(p4)
            # The controller-down policy needs the heartbeat table (v1model program).
            self.has_heartbeat = any(t.preamble.name.endswith("controller_heartbeat")
                                     for t in self.p4info.tables)
        except (P4InfoError, KeyError, ValueError) as e:
            raise StartupError(f"{where}.p4info: not the synproxy program: {e}") from None
        check_program(cfg, self.limits)  # ConfigError: more than the program holds
        for name in fullnat.unsupported(cfg, p4):
            raise StartupError(f"service '{name}' is FULLNAT, but the program has no FULLNAT "
                               "tables (fullnat_sessions; p4src/README.md \"FULLNAT\")")
        # Every PacketOut of the controller: port 0 (the pipeline routes it), flags 1.
        self.packet_out_metadata = [
            pb.PacketMetadata(metadata_id=out_md["egress_port"], value=b"\x00"),
            pb.PacketMetadata(metadata_id=out_md["flags"], value=canonical(PKTOUT_PIPELINE))]
