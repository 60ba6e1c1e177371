"""A Dask worker SIGKILLed mid-partition: Dask runs the partition elsewhere and the shared ledger loses nothing.

A LocalCluster of 2 worker processes measures a table of short recordings in several partitions against
the v1 emulator, served in this process (outside the workers). When the emulator receives its n-th
upload, a worker busy with a partition is SIGKILLed (its nanny starts a new one). Afterwards every row is
in the dataset (ok), no recording was answered under two units, the uploads of the same window bytes sent
again are at most the requests that were in flight at the kill (sent, answer not yet stored: v1 answers
synchronously and keeps nothing, so an answer the dead worker had not stored can only be asked for again),
and a rerun sends nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _dask import WatchedEmulator, kill_worker, killable_cluster, recordings

import humekit
from humekit.distributed.measuring import TASK_PREFIX

from ._support import record

ROWS, PARTITIONS, MAX_IN_FLIGHT, CONCURRENCY = 24, 4, 4, 4
KILL_AT = (3, 9, 15)  # the upload (of 24) during which a busy worker is killed: early, mid-way, late


@pytest.fixture
def cluster() -> Iterator[Any]:
    """2 worker processes, 1 thread each, set up for killing them: a fresh cluster per trial, so no trial waits on
    a nanny to replace the worker an earlier trial killed (slow on a loaded machine)."""
    with killable_cluster() as client:
        yield client


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """24 two-second recordings, each its own bytes and one v1 request."""
    return recordings(tmp_path_factory.mktemp("media"), ROWS)


@pytest.fixture
def ledger(ledger_location: str) -> str:
    """The shared ledger: a SQLite file (all workers on this machine), or a schema on the throwaway PostgreSQL
    server (tests/_postgres.py), as every worker opens it."""
    return ledger_location


class Killer:
    """Kills a worker busy with a partition as the emulator receives upload ``at``; notes the in-flight requests."""

    def __init__(self, client: Any, ledger: str, at: int):
        self.client, self.ledger, self.at = client, ledger, at
        self.killed_pid: int | None = None
        self.in_flight_at_kill = -1
        self.done = threading.Event()

    def __call__(self, upload: int) -> None:
        if upload != self.at or self.done.is_set():
            return
        try:
            busy = sorted(address for address, keys in self.client.processing().items()
                          if any(str(key).startswith(TASK_PREFIX) for key in keys))
            if busy:
                self.killed_pid = kill_worker(self.client, busy[0])
                self.in_flight_at_kill = _in_flight(self.ledger)
        finally:
            self.done.set()


def _in_flight(ledger: str) -> int:
    """Units the ledger shows sent with no answer stored: what a kill now can make resent. A send is recorded
    before its request waits for a lease, so this counts the requests waiting for one too (it may pass the cap)."""
    store = humekit.Ledger(ledger)
    try:
        jobs = store.jobs()
        return len(store.sends(jobs.loc[jobs["state"] == "submitting", "job_key"]))
    finally:
        store.close()


def _units(ledger: str, endpoint: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """This trial's units (those sent to ``endpoint``), their inputs, and each one's sends."""
    store = humekit.Ledger(ledger)
    try:
        jobs = store.jobs()
        requests = store.requests(jobs["job_key"])
        jobs = jobs[[requests[key].get("endpoint") == endpoint for key in jobs["job_key"]]]
        return jobs, store.inputs(jobs["job_key"]), store.sends(jobs["job_key"])
    finally:
        store.close()


@pytest.mark.parametrize("kill_at", KILL_AT)
def test_a_worker_killed_mid_partition_loses_no_row_and_pays_twice_only_for_what_was_in_flight(
        cluster: Any, table: pd.DataFrame, ledger: str, kill_at: int, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    """SIGKILL a busy worker at an upload: every row ok, 0 units answered twice, resends <= in flight, rerun sends 0."""
    cluster.wait_for_workers(2, timeout=60)
    killer = Killer(cluster, ledger, kill_at)
    out = tmp_path / "out"
    with WatchedEmulator(latency=0.2, on_upload=killer) as emu:
        result = humekit.measure_distributed(table, id_col="id", source_col="path", models=["audio"], ledger=ledger,
                                             out=out, client=cluster, base_url=emu.url, npartitions=PARTITIONS,
                                             concurrency=CONCURRENCY, max_in_flight=MAX_IN_FLIGHT, retries=2,
                                             progress=False)
        uploads = emu.uploads  # the rerun runs on the workers there are (the killed one's nanny may still restart it)
        again = humekit.measure_distributed(table, id_col="id", source_col="path", models=["audio"], ledger=ledger,
                                            out=out, client=cluster, base_url=emu.url, npartitions=PARTITIONS,
                                            max_in_flight=MAX_IN_FLIGHT, progress=False)
        rerun_uploads = emu.uploads - uploads
        jobs, inputs, sends = _units(ledger, emu.url)
    assert killer.killed_pid is not None, "no worker was busy with a partition at the kill point"
    status = result.status()
    scored = set(humekit.read_dask(out).compute()["id"].astype(str))
    answered_twice = int((inputs.groupby("content")["job_key"].nunique() > 1).sum())
    resent = sum(n - 1 for n in sends.values())
    figures = dict(api="v1", engine=request.node.callspec.params["ledger_locations"], kill_at=kill_at, kills=1, rows=ROWS,
                   partitions=PARTITIONS, workers=2, max_in_flight=MAX_IN_FLIGHT, ok=result.counts()["ok"],
                   rows_in_dataset=int(status["id"].nunique()), scored_rows=len(scored), units=len(jobs),
                   answered_twice=answered_twice, uploads=uploads, duplicate_sends=emu.duplicate_sends,
                   ledger_resends=resent, in_flight_at_kill=killer.in_flight_at_kill, rerun_uploads=rerun_uploads)
    record(f"dask-kill-{figures['engine']}-{kill_at}", **figures)
    assert result.counts() == {"ok": ROWS, "failed": 0, "invalid": 0, "pending": 0}, figures
    assert len(status) == ROWS and set(status["id"]) == set(table["id"]) == scored, figures
    assert len(jobs) == ROWS and set(jobs["state"]) == {"submitted"} and answered_twice == 0, figures
    assert emu.duplicate_sends <= resent <= killer.in_flight_at_kill, figures  # only what was in flight is resent
    assert emu.duplicate_sends <= CONCURRENCY, figures  # at most the dead worker's threads had one in flight each
    assert uploads == ROWS + emu.duplicate_sends, figures
    assert rerun_uploads == 0 and again.counts()["ok"] == ROWS, figures
