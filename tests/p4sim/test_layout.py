"""p4sim's layers (p4sim/README.md, "Layout"): every `p4sim` import of every module,
lazy ones inside functions included, goes to its own layer or one before it, and the
two back ends never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import p4sim

ROOT = Path(p4sim.__file__).parent

# layer -> the layers its modules may import (their own included)
ALLOWED = {
    "frontend": {"frontend"},
    "controlplane": {"frontend", "controlplane"},
    "device": {"device"},
    "devconfig": {"frontend", "devconfig"},
    "backend.common": {"frontend", "backend.common"},
    "backend.python": {"frontend", "controlplane", "devconfig", "device", "backend.common",
                       "backend.python"},
    "backend.c": {"frontend", "controlplane", "devconfig", "device", "backend.common",
                  "backend.c"},
}


def layer(module: str) -> str:
    parts = module.split(".")[1:]
    if parts[:1] == ["backend"] and len(parts) > 1 and parts[1] in ("common", "python", "c"):
        return "backend." + parts[1]
    return parts[0] if parts else ""


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def p4sim_imports(path: Path) -> list[str]:
    """The p4sim modules (or names in them) that `path` imports."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module:
                out.append(target)
            else:
                out += [f"{target}.{a.name}" for a in node.names]
    return [m for m in out if m == "p4sim" or m.startswith("p4sim.")]


def test_every_import_goes_to_its_own_layer_or_one_before() -> None:
    checked = 0
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        mine = layer(module_name(path))
        allowed = ALLOWED.get(mine)
        if allowed is None:
            continue  # the layers above the back ends may import any layer
        for target in p4sim_imports(path):
            checked += 1
            if layer(target) not in allowed:
                bad.append(f"{path.relative_to(ROOT.parent)} ({mine}) imports {target}")
    assert checked > 100  # the walk found the tree
    assert bad == []


def test_backend_folder_holds_only_the_chooser_and_the_rig() -> None:
    loose = sorted(p.name for p in (ROOT / "backend").glob("*.py"))
    assert loose == ["__init__.py", "backends.py", "harness.py"]
    for pkg in ("common", "python", "c"):
        assert (ROOT / "backend" / pkg / "__init__.py").is_file()


def test_the_layer_check_sees_relative_and_lazy_imports() -> None:
    # What the check would make of a C back end module reaching into the Python one.
    src = ROOT / "backend" / "c" / "native.py"
    names = p4sim_imports(src)
    assert "p4sim.backend.c.cpipeline" in names  # `from . import cpipeline`
    assert "p4sim.device" in names  # imported inside a function
    assert layer("p4sim.backend.python.pipeline") not in ALLOWED["backend.c"]
