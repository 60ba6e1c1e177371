"""Tests for benchmarks/scale.py: the scale benchmark runs end to end at tiny sizes (figures are not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys

from _paths import REPO


def test_scale_benchmark_prints_a_line_per_size_and_the_ratio() -> None:
    """Two tiny sizes, each in its own subprocess: a row of figures for each (every prediction streamed) and the ratio."""
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "scale.py"), "--sizes", "150", "300",
                           "--chunk-rows", "100", "--emotions", "5", "--per-unit", "7"],
                          capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = re.findall(r"^\s+(\d+)\s+([\d,]+)\s+[\d.]+\s+[\d.]+\s+\d+\s+[\d.]+\s+[\d.]+$", proc.stdout, re.MULTILINE)
    assert rows == [("150", "750"), ("300", "1,500")], proc.stdout
    assert re.search(r"largest/smallest CPU per row: \d+\.\d\d", proc.stdout), proc.stdout
    assert re.search(r"peak memory above the start, largest table / smallest full chunk: \d+\.\d\d \(300 rows / 150\)",
                     proc.stdout), proc.stdout
