"""Tests for benchmarks/dask_local_cluster.py: the laptop example runs end to end in a tiny configuration."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from _paths import REPO


def test_the_local_cluster_example_measures_and_its_rerun_sends_nothing(tmp_path: Path) -> None:
    """6 recordings on 1 worker in 2 partitions: all ok, 6 requests, the dataset read back, a rerun uploads 0."""
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "dask_local_cluster.py"), "--rows", "6",
                           "--workers", "1", "--partitions", "2", "--latency", "0", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "<DistributedResult 6 rows in 2 partitions (6 ok); 6 requests, 60 s billed;" in out, out
    assert re.search(r"dataset .*: \d+ Dask partitions, [\d,]+ score rows, 6 sessions scored", out), out
    assert "rerun: 6 ok, 0 uploads sent" in out, out
