"""Concurrency on PostgreSQL: processes measuring one table through one shared PostgreSQL ledger pay once.

The same race as test_concurrency.py (its 200-row study and its single run's job count are the reference), with
the ledger a database on the throwaway server (tests/_postgres.py) instead of a SQLite file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from humekit.emulator import Emulator
from humekit.pipeline.ledger import Ledger

from ._support import race_children, assert_no_duplicate_jobs, record
from .test_concurrency import KEY, LIMITS, MODELS, SCHEDULE, measure_here, study  # noqa: F401 - requested below

Study = tuple[Path, pd.DataFrame, int, pd.DataFrame]


@pytest.fixture(scope="module")
def single_run(request: pytest.FixtureRequest) -> Study:
    """test_concurrency's 200-row study (texts and WAVs) with the job count and predictions of one run of it."""
    return request.getfixturevalue("study")


@pytest.mark.slow
@pytest.mark.postgresql
@pytest.mark.parametrize("processes", [2, 3], ids=["2-procs", "3-procs"])
def test_processes_share_one_postgresql_ledger(single_run: Study, processes: int, postgres_server,
                                               tmp_path: Path) -> None:
    """Processes started together on one PostgreSQL ledger: all finish ok, exactly one single run's jobs, the
    same predictions."""
    folder, frame, single_jobs, single_predictions = single_run
    ledger, go = postgres_server.create_database(), tmp_path / "go"  # a new database: they race to create tables too
    with Emulator(api_key=KEY, schedule=SCHEDULE) as emu:
        spec = {"url": emu.url, "key": KEY, "ledger": ledger, "table": str(folder / "table.pkl"),
                "models": MODELS, "limits": LIMITS, "go": str(go)}
        summaries = race_children(spec, processes=processes, go=go, delay=1.5)
        assert all(summary["counts"]["ok"] == len(frame) for summary in summaries)
        dupes = assert_no_duplicate_jobs(emu, expected_jobs=single_jobs)
        assert sum(s["submitted"] for s in summaries) <= single_jobs  # each unit sent by one process, once
        shared = Ledger(ledger)
        assert len(shared.jobs()) == single_jobs and shared.integrity_check() == "ok"
        shared.close()
        pd.testing.assert_frame_equal(measure_here(frame, emu, ledger), single_predictions)
    record(f"concurrency-postgresql-{processes}", engine="postgresql", processes=processes, rows=len(frame),
           jobs=dupes["jobs"], single_jobs=single_jobs, submitted_per_process=[s["submitted"] for s in summaries],
           reused_per_process=[s["reused"] for s in summaries], integrity="ok")
