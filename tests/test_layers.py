"""Tests for the layers (ARCHITECTURE.md): the core imports no backend, and ruff's import rules say so too."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "humekit"
CORE = sorted([*PACKAGE.glob("pipeline/**/*.py"), *PACKAGE.glob("predictions/**/*.py")])
#: What the core must never import: a backend, the emulator, the webhook layer, the CLI, test fixtures.
FORBIDDEN = ("humekit.backends.v0", "humekit.backends.sync", "humekit.emulator", "humekit.webhooks", "humekit.cli",
             "humekit.testing")
#: The composition root builds the default backend (v0 through client=, with limits=) and types callback=.
ROOT_MAY = {"humekit.backends.v0.client", "humekit.backends.v0.limits", "humekit.backends.v0.backend",
            "humekit.backends.v1.client", "humekit.backends.v1.limits", "humekit.backends.v1.backend",
            "humekit.webhooks.receiver"}


def imported(path: Path) -> set[str]:
    """Every module a file imports, at the top, in functions or under TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_core_modules_import_no_backend() -> None:
    """pipeline/ and predictions/ import only the seam's contract (humekit.backends.base), never a backend."""
    assert len(CORE) >= 20  # the glob found the core
    offenders = {}
    for path in CORE:
        allowed = ROOT_MAY if path.name == "measure.py" and path.parent.name == "pipeline" else set()
        bad = {m for m in imported(path) if m.startswith(FORBIDDEN) and m not in allowed
               and not any(m.startswith(f"{a}.") for a in allowed)}
        if bad:
            offenders[str(path.relative_to(PACKAGE))] = sorted(bad)
    assert offenders == {}


def test_the_composition_root_names_v0_only_to_build_the_default() -> None:
    """measure.py's backend imports are exactly the clients, the limits and (inside a function) the backends."""
    measure = PACKAGE / "pipeline" / "measure.py"
    assert {m for m in imported(measure) if m.startswith(FORBIDDEN)} <= ROOT_MAY | {
        f"{m}.{name}" for m in ROOT_MAY for name in ("Client", "DEFAULT_LIMITS", "Limits", "BatchBackend",
                                                      "CallbackReceiver", "V1Client", "V1Backend", "DEFAULT_V1_LIMITS")}


def test_ruff_refuses_a_backend_import_in_the_core() -> None:
    """ruff's banned-api rule (pyproject.toml) flags a v0 import written into a core module."""
    source = '"""probe"""\n\nfrom humekit.backends.v0.client import Client\n\n__all__ = ["Client"]\n'
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "TID251", "--no-cache",
                           "--stdin-filename", "humekit/pipeline/probe.py", "-"], input=source,
                          capture_output=True, text=True, cwd=PACKAGE.parent)
    assert done.returncode == 1 and "TID251" in done.stdout and "the core imports no backend" in done.stdout
