"""Tests for the PostgreSQL gate (tests/_postgres.py, conftest.py): one skip line locally, a failure under CI=true."""

from __future__ import annotations

import re
from pathlib import Path

from test_samples_gate import _pytest as _pytest_with


def _pytest(tmp_path: Path, *args: str, ci: bool):
    """pytest on ``args`` in a subprocess whose PostgreSQL binaries are nowhere."""
    return _pytest_with(tmp_path, *args, ci=ci, HUMEKIT_PG_BINDIR=str(tmp_path / "no-postgresql-here"))


def test_without_postgresql_its_variants_skip_with_one_line(tmp_path: Path) -> None:
    """Without the server's binaries the SQLite variants pass and every PostgreSQL one skips, under one line."""
    proc = _pytest(tmp_path, "tests/test_answers.py", "tests/test_sends.py", ci=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1 and "no-postgresql-here" in skipped[0] and "apt-get install postgresql" in skipped[0], \
        proc.stdout[-3000:]
    counts = re.search(r"(\d+) passed, (\d+) skipped", proc.stdout)
    assert counts is not None and int(counts[2]) >= 1 and int(counts[1]) >= int(counts[2]), proc.stdout[-3000:]


def test_without_postgresql_ci_fails(tmp_path: Path) -> None:
    """With CI=true a missing PostgreSQL is a failure of its tests, never a skip."""
    proc = _pytest(tmp_path, "tests/test_answers.py", ci=True)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "CI=true: PostgreSQL's server binaries" in proc.stdout and "skipped" not in proc.stdout
