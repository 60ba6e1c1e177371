"""Crash and resume: SIGKILL a ``measure`` process at many points; a rerun finishes with nothing lost or paid twice."""

from __future__ import annotations

import json
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from humekit import DEFAULT_LIMITS, Client, measure
from humekit.backends.v0.backend import BatchBackend
from humekit.emulator import Emulator, Schedule
from humekit.testing.study import make_recordings

from ._support import assert_no_duplicate_jobs, canonical, integrity, record, request_summary, run_child

KEY = "crash-test-key"
MODELS = {"prosody": {}, "language": {}}
LIMITS = {"max_files_per_job": 25, "max_texts_per_job": 25}  # a few hundred rows make about a dozen jobs
SCHEDULE = Schedule(queued=0.2, running=0.3)

# (kill point, occurrence) per crash; "last" is the count a clean run makes. Several crashes in one
# trial kill the rerun too (a crash during recovery). Together they cover every phase: before and
# after claiming, before/on the wire/after each POST, inside ledger transactions, while waiting
# (list polls, status records), while fetching and storing predictions, and at seeded random times.
TRIALS: list[list[tuple[str, Any]]] = [
    [("ledger.claim:before", 1)],
    [("ledger.claim:after", 1)],
    [("txn.claim", 3)],
    [("post:before", 1)],
    [("post:inflight", 1)],
    [("post:after", 1)],
    [("txn.record_submitted", 1)],
    [("ledger.record_submitted:after", 2)],
    [("ledger.claim:after", 5)],
    [("post:inflight", 4)],
    [("post:after", 6)],
    [("post:before", "last")],
    [("post:after", "last")],
    [("list:before", 1)],
    [("ledger.record_status:before", 5)],
    [("ledger.record_status:after", 3)],
    [("fetch:before", 1)],
    [("fetch:after", 1)],
    [("txn.store_predictions", 4)],
    [("fetch:after", "last")],
    [("txn.store_predictions", "last")],
    [("post:after", 2), ("post:after", 1)],
    [("post:inflight", 3), ("ledger.claim:after", 2), ("fetch:after", 2)],
    [("list:after", 1), ("fetch:before", 3)],
    [("delay", 1)],
    [("delay", 2)],
    [("delay", 3)],
    [("delay", 4)],
    [("delay", 5), ("delay", 6)],
]


@dataclass
class Study:
    folder: Path
    table: Path
    frame: pd.DataFrame
    jobs: int
    calls: dict[str, int]
    seconds: float
    predictions: pd.DataFrame
    requests: int


def spec_for(emu: Emulator, study_table: Path, ledger: Path, kill: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"url": emu.url, "key": KEY, "ledger": str(ledger), "table": str(study_table), "models": MODELS,
            "limits": LIMITS, "kill": kill}


def resume(frame: pd.DataFrame, emu: Emulator, ledger: Path) -> Any:
    with Client(api_key=KEY, base_url=emu.url) as client:
        backend = BatchBackend(client, settle=0.5)  # as in _child.py: the emulator lists a job once it exists
        result = measure(frame, id_col="id", source_col="source", models=MODELS, backend=backend, ledger=ledger,
                         limits=replace(DEFAULT_LIMITS, **LIMITS), progress=False)
    result.ledger.close()
    return result


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Study]:
    """300 rows (150 texts, 150 small WAVs with some identical files) and a clean run's jobs, calls and predictions."""
    folder = tmp_path_factory.mktemp("crash-study")
    frame = make_recordings(folder, n=300, seed=7, kinds=("audio", "text"))
    table = folder / "table.pkl"
    frame.to_pickle(table)
    with Emulator(api_key=KEY, schedule=SCHEDULE) as emu:
        done = run_child(spec_for(emu, table, folder / "clean.sqlite"))
        assert done.returncode == 0, done.stderr[-3000:]
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        assert summary["counts"]["ok"] == len(frame)
        clean = resume(frame, emu, folder / "clean.sqlite")  # a rerun: no request, the clean predictions
        assert_no_duplicate_jobs(emu)
        yield Study(folder, table, frame, len(emu.jobs), summary["calls"], summary["seconds"],
                    canonical(clean.predictions), request_summary(emu)["requests"])


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(len(TRIALS)), ids=lambda i: f"{i:02d}-" + "+".join(
    f"{p}#{n}" for p, n in TRIALS[i]))
def test_sigkill_then_resume(study: Study, trial: int, tmp_path: Path) -> None:
    """SIGKILL at the trial's points, rerun to completion: all rows ok, no job twice, same predictions, sound ledger."""
    rng = random.Random(trial)
    ledger = tmp_path / "ledger.sqlite"
    kills = []
    with Emulator(api_key=KEY, schedule=SCHEDULE) as emu:
        for point, n in TRIALS[trial]:
            kill: dict[str, Any] = {"point": point, "n": 1}
            if point == "delay":
                # odd trials anywhere in the run; even ones early, where the submitting happens
                kill["delay"] = round(rng.uniform(0.05, 0.9 * study.seconds if trial % 2 else 0.4), 3)
            else:
                kill["n"] = study.calls[point.replace("inflight", "before")] if n == "last" else n
                kill["delay"] = 0.002 + rng.random() * 0.01
            done = run_child(spec_for(emu, study.table, ledger, kill))
            if point != "delay":
                assert done.returncode == -signal.SIGKILL, (kill, done.returncode, done.stderr[-3000:])
            else:
                assert done.returncode in (0, -signal.SIGKILL), done.stderr[-3000:]
            killed = done.returncode == -signal.SIGKILL
            posted = sum(r.method == "POST" for r in emu.requests)
            assert integrity(ledger) == "ok"
            kills.append({**kill, "killed": killed, "jobs_at_kill": len(emu.jobs), "posts_at_kill": posted})
            time.sleep(0.2)  # a rerun comes after the dead process's last request was answered
        result = resume(study.frame, emu, ledger)
        assert integrity(ledger) == "ok"
        counts = result.counts()
        assert counts.get("ok") == len(study.frame), result.status[result.status["status"] != "ok"].head()
        dupes = assert_no_duplicate_jobs(emu, expected_jobs=study.jobs)
        pd.testing.assert_frame_equal(canonical(result.predictions), study.predictions)
        requests = request_summary(emu)["requests"]
    record(f"crash-{trial:02d}", kills=kills, jobs=dupes["jobs"], clean_jobs=study.jobs,
           distinct_payloads=dupes["distinct_payloads"], inputs_sent_twice=dupes["inputs_sent_twice"],
           rows=len(study.frame), ok=counts.get("ok"), requests=requests, clean_requests=study.requests,
           integrity="ok")
