"""Tests for humekit._internal.moved: the modules' old import paths keep working for this release."""

from __future__ import annotations

import json
import subprocess
import sys

from humekit._internal.moved import MOVED

_PROBE = """
import importlib, json, warnings
import humekit
from humekit._internal.moved import MOVED
found = {}
for old, new in MOVED.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(f"humekit.{old}")
    found[old] = {"same": module is importlib.import_module(f"humekit.{new}"),
                  "warned": [str(w.message) for w in caught if w.category is DeprecationWarning]}
import humekit.measure
from humekit.ledger import Ledger
found["_after"] = {"measure_is_function": callable(humekit.measure) and humekit.measure.__name__ == "measure",
                   "ledger_class": Ledger is humekit.Ledger}
print(json.dumps(found))
"""


def _probe() -> dict[str, dict[str, object]]:
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_every_old_path_is_the_module_at_its_new_path_with_a_warning_naming_it() -> None:
    """``import humekit.<old>`` gives the very module at its new path and warns where it now lives."""
    found = _probe()
    for old, new in MOVED.items():
        assert found[old]["same"], old
        if old != "measure":  # registered up front, see the next test
            assert found[old]["warned"] == [f"humekit.{old} moved to humekit.{new}; import it from there "
                                            "(the old path goes in the next release)"], old


def test_importing_the_old_measure_module_leaves_humekit_measure_the_function() -> None:
    """The module ``humekit.measure`` never shadows the function ``humekit.measure``."""
    after = _probe()["_after"]
    assert after == {"measure_is_function": True, "ledger_class": True}
