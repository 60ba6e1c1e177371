"""Concurrency: several processes measuring the same table with one ledger at once corrupt nothing and pay once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from humekit import DEFAULT_LIMITS, Client, measure
from humekit.emulator import Emulator, Schedule
from humekit.testing.study import make_recordings

from ._support import race_children, assert_no_duplicate_jobs, canonical, integrity, record, request_summary

KEY = "concurrency-key"
MODELS = {"prosody": {}, "language": {}}
LIMITS = {"max_files_per_job": 20, "max_texts_per_job": 20}
SCHEDULE = Schedule(queued=0.2, running=0.3)


def measure_here(frame: pd.DataFrame, emu: Emulator, ledger: Path) -> pd.DataFrame:
    with Client(api_key=KEY, base_url=emu.url) as client:
        result = measure(frame, id_col="id", source_col="source", models=MODELS, client=client, ledger=ledger,
                         limits=replace(DEFAULT_LIMITS, **LIMITS), progress=False)
    result.ledger.close()
    assert (result.status["status"] == "ok").all()
    return canonical(result.predictions)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, int, pd.DataFrame]:
    """200 rows (texts and WAVs), and the job count and predictions of a single run."""
    folder = tmp_path_factory.mktemp("concurrency")
    frame = make_recordings(folder, n=200, seed=9, kinds=("audio", "text"))
    frame.to_pickle(folder / "table.pkl")
    with Emulator(api_key=KEY, schedule=SCHEDULE) as emu:
        predictions = measure_here(frame, emu, folder / "single.sqlite")
        jobs = assert_no_duplicate_jobs(emu)["jobs"]
    return folder, frame, jobs, predictions


@pytest.mark.slow
@pytest.mark.parametrize("processes,trial", [(2, 0), (2, 1), (3, 2)], ids=["2-procs-a", "2-procs-b", "3-procs"])
def test_processes_share_one_ledger(study: tuple[Path, pd.DataFrame, int, pd.DataFrame], processes: int, trial: int,
                                    tmp_path: Path) -> None:
    """Processes started together on one ledger: all finish ok, integrity ok, as many jobs as one run, same results."""
    folder, frame, single_jobs, single_predictions = study
    ledger, go = tmp_path / "shared.sqlite", tmp_path / "go"
    with Emulator(api_key=KEY, schedule=SCHEDULE) as emu:
        spec = {"url": emu.url, "key": KEY, "ledger": str(ledger), "table": str(folder / "table.pkl"),
                "models": MODELS, "limits": LIMITS, "go": str(go)}
        summaries = race_children(spec, processes=processes, go=go, delay=1.5 + trial * 0.3)
        assert all(summary["counts"]["ok"] == len(frame) for summary in summaries)
        assert integrity(ledger) == "ok"
        dupes = assert_no_duplicate_jobs(emu, expected_jobs=single_jobs)
        submitted = sum(s["submitted"] for s in summaries)
        assert submitted + 0 <= single_jobs  # jobs recovered from the list count as reused, never as new
        pd.testing.assert_frame_equal(measure_here(frame, emu, ledger), single_predictions)
        requests = request_summary(emu)
    record(f"concurrency-{trial}", processes=processes, rows=len(frame), jobs=dupes["jobs"], single_jobs=single_jobs,
           submitted_per_process=[s["submitted"] for s in summaries], reused_per_process=[s["reused"] for s in summaries],
           requests=requests["requests"], posts=requests["posts"], integrity="ok")
