"""Generate the P4Runtime Python stubs for the running protobuf runtime (`make deps`).

Every published `p4runtime` wheel (1.4.1, 1.5.0, 1.6.0) ships modules made by an old
protoc: they build their descriptors field by field, which protobuf >= 4 refuses
under its upb runtime ("Descriptors cannot be created directly"). The protos they
were compiled from are inside them, as serialised FileDescriptorProtos; this script
takes those from the pinned wheel (never importing it), and runs the protoc of
grpcio-tools, which matches the pinned protobuf and grpcio, to write current
`p4/v1/*_pb2.py`, `*_pb2.pyi` and `p4runtime_pb2_grpc.py` into site-packages. The
import paths (`from p4.v1 import p4runtime_pb2`) are those of the wheel.

    python tools/p4runtime_stubs.py [--version 1.6.0] [--out DIR]
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

from google.protobuf import any_pb2, descriptor_pb2
from google.rpc import status_pb2

PROTOS = (
    "p4/config/v1/p4types.proto",
    "p4/config/v1/p4info.proto",
    "p4/v1/p4data.proto",
    "p4/v1/p4runtime.proto",
)
SERVICES = ("p4/v1/p4runtime.proto",)


def embedded_descriptor(source: str, name: str) -> descriptor_pb2.FileDescriptorProto:
    """The FileDescriptorProto `name` held as a bytes literal in a generated module."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
            try:
                fd = descriptor_pb2.FileDescriptorProto.FromString(node.value)
            except Exception:  # noqa: BLE001 - other byte strings are not descriptors
                continue
            if fd.name == name:
                return fd
    raise ValueError(f"no descriptor of {name} in the module")


def descriptor_set(wheel: Path) -> descriptor_pb2.FileDescriptorSet:
    """The P4Runtime protos of `wheel` and the Google protos they import."""
    out = descriptor_pb2.FileDescriptorSet()
    for dep in (any_pb2.DESCRIPTOR, status_pb2.DESCRIPTOR):
        dep.CopyToProto(out.file.add())
    with zipfile.ZipFile(wheel) as zf:
        for proto in PROTOS:
            module = proto.removesuffix(".proto") + "_pb2.py"
            out.file.add().CopyFrom(embedded_descriptor(zf.read(module).decode(), proto))
    return out


def download(version: str, into: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--only-binary", ":all:", "-d", str(into), f"p4runtime=={version}"],
                   check=True)
    return next(into.glob("p4runtime-*.whl"))


def generate(wheel: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        desc = Path(tmp) / "p4runtime.desc"
        desc.write_bytes(descriptor_set(wheel).SerializeToString())
        args = [sys.executable, "-m", "grpc_tools.protoc", f"--descriptor_set_in={desc}",
                f"--python_out={out}", f"--pyi_out={out}"]
        subprocess.run([*args, *PROTOS], check=True)
        subprocess.run([*args, f"--grpc_python_out={out}", *SERVICES], check=True)
    for pkg in ("p4", "p4/config", "p4/config/v1", "p4/v1"):
        (out / pkg / "__init__.py").touch()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--version", default="1.6.0", help="p4runtime wheel to take the protos from")
    ap.add_argument("--out", type=Path, default=Path(sysconfig.get_paths()["purelib"]))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(download(args.version, Path(tmp)), args.out)
    print(f"P4Runtime {args.version} stubs written to {args.out}/p4")
    return 0


if __name__ == "__main__":
    sys.exit(main())
