"""Helpers shared by the reliability tests: figures for the report, job-duplication checks, canonical tables."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from humekit.emulator import Emulator

#: Where figures go: set by ``python -m tests.reliability.report``; unset, nothing is written.
FIGURES_ENV = "HUMEKIT_RELIABILITY_FIGURES"
CHILD = Path(__file__).with_name("_child.py")
CHILD_TIMEOUT = 120.0


def run_child(spec: dict[str, Any], *, script: Path = CHILD) -> subprocess.CompletedProcess[str]:
    """Run a child script with its JSON spec; it is always reaped (killed on timeout)."""
    proc = subprocess.Popen([sys.executable, str(script), json.dumps(spec)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=10)
        pytest.fail(f"child did not finish in {CHILD_TIMEOUT} s: {err[-2000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def race_children(spec: dict[str, Any], *, processes: int, go: Path, delay: float) -> list[dict[str, Any]]:
    """Start ``processes`` children on one spec, let them all wait at the start line (``go``, touched after
    ``delay`` s), and return each one's summary (its last line of JSON); every child is reaped and must
    have ended well."""
    procs = [subprocess.Popen([sys.executable, str(CHILD), json.dumps(spec)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
             for _ in range(processes)]
    try:
        time.sleep(delay)  # let every process import and wait at the start line
        go.touch()
        outputs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]


def record(name: str, **figures: Any) -> None:
    """Write one test's figures as ``<dir>/<name>.json`` for the report (a no-op outside the report run)."""
    folder = os.environ.get(FIGURES_ENV)
    if not folder:
        return
    path = Path(folder) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=1, sort_keys=True, default=str))


def integrity(path: str | os.PathLike[str]) -> str:
    """``PRAGMA integrity_check`` through a fresh connection (so a crashed writer's WAL is recovered)."""
    db = sqlite3.connect(path, timeout=30)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def job_inputs(job: Any) -> list[tuple[str, Any]]:
    """What a job of the emulator measured, one entry per input: texts, URLs, or (upload name, md5)."""
    request = job.request
    return ([("text", t) for t in request.get("text") or []] + [("url", u) for u in request.get("urls") or []]
            + [("file", (f.get("filename"), f.get("md5sum"))) for f in request.get("files") or []])


def duplicate_report(emu: Emulator) -> dict[str, int]:
    """How many jobs, distinct payloads and inputs sent more than once the emulator saw."""
    jobs = emu.jobs
    payloads = {tuple(job_inputs(job)) for job in jobs}
    counts = Counter(item for job in jobs for item in job_inputs(job))
    return {"jobs": len(jobs), "distinct_payloads": len(payloads), "inputs": len(counts),
            "inputs_sent_twice": sum(1 for n in counts.values() if n > 1)}


def assert_no_duplicate_jobs(emu: Emulator, expected_jobs: int | None = None) -> dict[str, int]:
    """No two jobs with the same payload, no input in two jobs, and (optionally) the expected job count."""
    report = duplicate_report(emu)
    assert report["distinct_payloads"] == report["jobs"], report
    assert report["inputs_sent_twice"] == 0, report
    if expected_jobs is not None:
        assert report["jobs"] == expected_jobs, report
    return report


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """A predictions table in a canonical order with plain dtypes, to compare two runs per ID."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype) or out[column].dtype == object:
            out[column] = out[column].astype("string")
    keys = [c for c in out.columns if c != "score"] + (["score"] if "score" in out.columns else [])
    return out.sort_values(keys, kind="stable", na_position="first").reset_index(drop=True)


def request_summary(emu: Emulator) -> dict[str, int]:
    """Requests the emulator answered, by outcome."""
    records = emu.requests
    return {
        "requests": len(records),
        "posts": sum(r.method == "POST" for r in records),
        "status_429": sum(r.status == 429 for r in records),
        "status_5xx": sum(r.status is not None and r.status >= 500 for r in records),
        "dropped": sum(r.status is None and r.job_id is None for r in records),
        "lost_responses": sum(r.status is None and r.job_id is not None for r in records),
    }
