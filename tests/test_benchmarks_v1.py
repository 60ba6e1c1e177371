"""Tests for benchmarks/v1.py: the v1 benchmark runs end to end in a tiny configuration (figures are not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from _paths import REPO

pytest.importorskip("hume_expression_measurement", reason="the v1 SDK is a test extra (pip install humekit[test])")
pytestmark = pytest.mark.sdk


def test_v1_benchmark_prints_the_three_figures_in_one_run() -> None:
    """One run prints conversion against the floor, the extra peak RSS and both clients' requests/s, every upload 200."""
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "v1.py"), "--minutes", "0.2", "--requests", "3",
                           "--seconds", "10", "--latency", "0"], capture_output=True, text=True, timeout=240,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert re.search(r"audio s converted per CPU s, convert: \d+ \(\d+\.\d+x the floor", out), out
    assert re.search(r"audio s converted per CPU s, backend: \d+ ", out), out
    assert re.search(r"extra peak RSS converting the 0.2-min file: \d+\.\d MB", out), out
    assert re.search(r"requests/s at latency 0 s: humekit \d+\.\d, SDK loop \d+\.\d \(\d+\.\d+x\)", out), out
    rows = {m[0]: (int(m[1]), int(m[2])) for m in re.findall(r"^\s+0\s+(humekit|SDK loop)\s+(\d+)\s+(\d+)\s", out,
                                                                re.MULTILINE)}
    assert rows == {"humekit": (3, 0), "SDK loop": (3, 0)}, out  # 3 uploads answered 200 each, nothing else sent
