"""Tests for the real-samples gate (tests/_paths.py, conftest.py) and benchmarks that need the samples."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _paths import REPO


def _pytest(tmp_path: Path, *args: str, ci: bool, **overrides: str) -> subprocess.CompletedProcess[str]:
    """pytest on ``args`` in a subprocess, with the samples nowhere (and ``overrides`` in its environment)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env["HUMEKIT_SAMPLES"] = str(tmp_path / "nowhere")
    env.update(overrides)
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=240, check=False)


def test_missing_samples_skip_with_one_line(tmp_path: Path) -> None:
    """Without the samples, modules that read them still collect, and their tests skip under one summary line."""
    proc = _pytest(tmp_path, "tests/test_schema.py", "tests/test_events.py", "tests/test_analysis.py", ci=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1 and "HUMEKIT_SAMPLES=" in skipped[0] and "nowhere" in skipped[0], proc.stdout[-3000:]
    assert " passed" in proc.stdout  # the SDK examples in the repo are still checked


def test_missing_samples_fail_under_ci(tmp_path: Path) -> None:
    """With CI=true a missing samples folder is a failure, never a skip."""
    proc = _pytest(tmp_path, "tests/test_events.py", ci=True)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "CI=true: the real Hume samples are not at" in proc.stdout and "skipped" not in proc.stdout


def test_flatten_benchmark_says_where_to_put_the_samples(tmp_path: Path) -> None:
    """benchmarks/flatten.py without the samples exits 2 with what to do, not a traceback."""
    env = {**os.environ, "HUMEKIT_SAMPLES": str(tmp_path / "nowhere")}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "flatten.py"), "--size-mb", "1"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert "HUMEKIT_SAMPLES" in proc.stderr and "../shared/samples" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
