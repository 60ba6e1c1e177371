"""Chaos: 2,000 rows against an emulator that injects 5xx, 429s, dropped connections, lost responses and failures."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from humekit import DEFAULT_LIMITS, APIError, measure
from humekit.clock import VirtualClock
from humekit.emulator import Emulator, Faults, Schedule

from ._support import assert_no_duplicate_jobs, canonical, record, request_summary

MODELS = {"prosody": {}, "language": {}}
LIMITS = replace(DEFAULT_LIMITS, max_files_per_job=50, max_texts_per_job=50)
FAULTS = Faults(server_error_rate=0.10, rate_limit_rate=0.05, retry_after=2.0, drop_rate=0.03,
                lost_response_rate=0.05, job_failure_rate=0.03, file_error_rate=0.05, seed=11)
MAX_RERUNS = 5  # a run that gives up (every retry of one request failed) is resumed with the same ledger
MAX_FACTOR = 3.0


def run(table: pd.DataFrame, faults: Faults, ledger: Path) -> tuple[Any, Emulator, int, float]:
    """Measure the table against an in-process emulator on a virtual clock; resume after a give-up (bounded)."""
    emu = Emulator(api_key="chaos", clock=VirtualClock(start=1_750_000_000.0), faults=faults,
                   schedule=Schedule(queued=5.0, running=30.0))
    started = time.perf_counter()
    reruns = 0
    client = emu.client()
    while True:
        try:
            result = measure(table, id_col="id", source_col="source", models=MODELS, client=client, ledger=ledger,
                             limits=LIMITS, progress=False, timeout=24 * 3600)
            break
        except APIError:
            reruns += 1
            assert reruns <= MAX_RERUNS, "the chaos run kept giving up"
    result.ledger.close()
    client.close()
    return result, emu, reruns, time.perf_counter() - started


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """2,000 rows: 1,000 texts and 1,000 small WAVs (some identical files, colliding basenames)."""
    from humekit.testing.study import make_recordings

    return make_recordings(tmp_path_factory.mktemp("chaos"), n=2000, seed=5, kinds=("audio", "text"))


@pytest.mark.slow
def test_chaos_run_ends_every_row_ok_or_failed_without_duplicates(table: pd.DataFrame, tmp_path: Path) -> None:
    """Under 10% 5xx, 5% 429, drops, lost responses, 3% FAILED jobs, 5% file errors: all rows settle, no job twice."""
    clean, clean_emu, _, clean_seconds = run(table, Faults(), tmp_path / "clean.sqlite")
    assert (clean.status["status"] == "ok").all()
    clean_requests = request_summary(clean_emu)["requests"]
    clean_jobs = assert_no_duplicate_jobs(clean_emu)["jobs"]

    result, emu, reruns, seconds = run(table, FAULTS, tmp_path / "chaos.sqlite")
    status = result.status
    assert set(status["status"].astype(str)) <= {"ok", "failed"}, status["status"].value_counts()
    failed = status[status["status"] == "failed"]
    assert failed["error"].notna().all() and (failed["error"].str.len() > 10).all()
    assert result.ledger.integrity_check() == "ok"

    # Nothing paid twice: one job per planned payload, no input in two jobs, as many jobs as without faults.
    dupes = assert_no_duplicate_jobs(emu, expected_jobs=clean_jobs)

    # Every row of a FAILED job is failed with Hume's message; every other failure is a per-file error.
    failed_jobs = {job.job_id for job in emu.jobs if job.failure}
    in_failed_job = status["job_id"].isin(failed_jobs)
    assert (status.loc[in_failed_job, "status"] == "failed").all()
    assert status.loc[in_failed_job, "error"].str.contains("FAILED").all()
    file_errors = failed[~failed["job_id"].isin(failed_jobs)]
    assert file_errors["error"].str.contains("injected an error").all()

    # Rows that succeeded have exactly the predictions of the fault-free run.
    ok_ids = status.loc[status["status"] == "ok", "id"]
    got = canonical(result.predictions[result.predictions["id"].isin(ok_ids)])
    want = canonical(clean.predictions[clean.predictions["id"].isin(ok_ids)])
    pd.testing.assert_frame_equal(got, want)

    summary = request_summary(emu)
    factor = summary["requests"] / clean_requests
    assert factor <= MAX_FACTOR, (summary, clean_requests)
    assert summary["status_5xx"] and summary["status_429"] and summary["dropped"] and summary["lost_responses"]
    counts = result.counts()
    record("chaos", rows=len(table), ok=counts.get("ok", 0), failed=counts.get("failed", 0),
           failed_jobs=len(failed_jobs), rows_in_failed_jobs=int(in_failed_job.sum()), file_errors=len(file_errors),
           jobs=dupes["jobs"], clean_jobs=clean_jobs, inputs_sent_twice=dupes["inputs_sent_twice"],
           requests=summary["requests"], clean_requests=clean_requests, factor=round(factor, 3),
           injected={k: v for k, v in summary.items() if k not in ("requests", "posts")}, posts=summary["posts"],
           reruns=reruns, seconds=round(seconds, 1), clean_seconds=round(clean_seconds, 1),
           faults={"server_error_rate": FAULTS.server_error_rate, "rate_limit_rate": FAULTS.rate_limit_rate,
                   "retry_after": FAULTS.retry_after, "drop_rate": FAULTS.drop_rate,
                   "lost_response_rate": FAULTS.lost_response_rate, "job_failure_rate": FAULTS.job_failure_rate,
                   "file_error_rate": FAULTS.file_error_rate, "seed": FAULTS.seed})
