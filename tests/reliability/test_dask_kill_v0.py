"""A Dask worker SIGKILLed mid-partition under the v0 batch API: the retried partition finds the dead worker's job.

A LocalCluster of 2 worker processes measures a table of short texts in 4 partitions (one batch job each)
against the v0 emulator, served in this process (outside the workers). Once the emulator has answered the
n-th job POST (the job exists, its id not yet back at the worker, nor in the ledger) or the n-th status
poll, the worker measuring that job's partition is SIGKILLed (its nanny starts a new one). Dask runs the
partition again; its ``measure`` finds the dead worker's claim in the shared ledger and that job in
``GET /v0/batch/jobs`` (or its id in the ledger) instead of creating it again. Afterwards every row is in the
dataset (ok), the emulator holds exactly one job per partition (no input in two jobs), and a rerun creates none.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _dask import KEY, kill_worker, killable_cluster

import humekit
from humekit.distributed.measuring import TASK_PREFIX
from humekit.emulator import Emulator, Schedule
from humekit.emulator.store import Job
from humekit.emulator.wire import EmuRequest, EmuResponse

from ._support import duplicate_report, record

ROWS, PARTITIONS, MAX_IN_FLIGHT = 24, 4, 4
#: Jobs QUEUED 0.5 s then IN_PROGRESS 1 s, so a worker polls each one a few times.
SCHEDULE = Schedule(queued=0.5, running=1.0)
#: When a busy worker is killed: right after the 1st and the 3rd job POST are answered, and at the 1st status poll.
KILL_AT = ("post-1", "post-3", "poll-1")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """2 worker processes, 1 thread each, set up for killing them (kept set while the module's tests run)."""
    with killable_cluster() as client:
        yield client


@pytest.fixture(scope="module")
def table() -> Any:
    """24 short texts under IDs ``t000``..., as a Dask table of 4 partitions (each one v0 job)."""
    import dask.dataframe as dd

    texts = pd.DataFrame({"id": [f"t{i:03d}" for i in range(ROWS)],
                          "text": [f"t{i:03d} I am {'so ' * (i % 3)}glad the trial number {i} went well." for i in
                                   range(ROWS)]})
    return dd.from_pandas(texts, npartitions=PARTITIONS, sort=False)


class WatchedBatchEmulator(Emulator):
    """The v0 emulator calling ``on_answered(kind, n, job)`` once it has answered the n-th job POST (``"post"``,
    the job created) or job status GET (``"poll"``), before the answer goes out."""

    def __init__(self, *, on_answered: Callable[[str, int, Job], None]):
        super().__init__(api_key=KEY, schedule=SCHEDULE)
        self.on_answered = on_answered
        self.answered: Counter[str] = Counter()
        self._watch = threading.Lock()

    def handle(self, request: EmuRequest) -> EmuResponse:
        response = super().handle(request)
        path = request.path.rstrip("/")
        if response.drop or response.status != 200 or not path.startswith("/v0/batch/jobs"):
            return response
        if request.method == "POST" and path == "/v0/batch/jobs":
            kind, job_id = "post", json.loads(response.body)["job_id"]
        elif request.method == "GET" and path.count("/") == 4:
            kind, job_id = "poll", path.rsplit("/", 1)[1]
        else:
            return response
        with self._watch:
            self.answered[kind] += 1
            number = self.answered[kind]
        self.on_answered(kind, number, next(job for job in self.jobs if job.job_id == job_id))
        return response

    @property
    def list_lookups(self) -> int:
        """``GET /v0/batch/jobs`` requests: the job list, where a claim left without a job id is reconciled."""
        return sum(r.method == "GET" and r.path.rstrip("/") == "/v0/batch/jobs" for r in self.requests)


class Killer:
    """Kills the worker measuring a job's partition once the emulator has answered the job's POST or poll ``at``
    (``"post-3"``, ``"poll-1"``); notes the ledger's claims then."""

    def __init__(self, client: Any, ledger: str, partition_of: dict[str, int], at: str):
        self.client, self.ledger, self.partition_of = client, ledger, partition_of
        kind, _, number = at.partition("-")
        self.at = (kind, int(number))
        self.killed_pid: int | None = None
        self.in_flight_at_kill = -1
        self.orphaned_at_kill = -1
        self.done = threading.Event()

    def __call__(self, kind: str, number: int, job: Job) -> None:
        if (kind, number) != self.at or self.done.is_set():
            return
        try:
            partition = self.partition_of[job.request["text"][0].split()[0]]
            measuring = [address for address, keys in self.client.processing().items()
                         if any(str(key).startswith(TASK_PREFIX) and str(key).rsplit("-", 1)[1] == str(partition)
                                for key in keys)]
            if measuring:
                self.killed_pid = kill_worker(self.client, measuring[0])
                self.in_flight_at_kill, self.orphaned_at_kill = _claims(self.ledger, self.killed_pid)
        finally:
            self.done.set()


def _claims(ledger: str, pid: int) -> tuple[int, int]:
    """Jobs claimed with no job id recorded yet (being submitted), and those of them the process ``pid`` held."""
    store = humekit.Ledger(ledger)
    try:
        jobs = store.jobs()
        submitting = jobs[jobs["job_id"].isna()]
        return len(submitting), int(submitting["owner"].astype(str).str.endswith(f":{pid}").sum())
    finally:
        store.close()


def _units(ledger: str, endpoint: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """This trial's jobs in the ledger (those made at ``endpoint``) and their inputs."""
    store = humekit.Ledger(ledger)
    try:
        jobs = store.jobs()
        requests = store.requests(jobs["job_key"])
        jobs = jobs[[requests[key].get("endpoint") == endpoint for key in jobs["job_key"]]]
        return jobs, store.inputs(jobs["job_key"])
    finally:
        store.close()


@pytest.mark.parametrize("kill_at", KILL_AT)
def test_a_worker_killed_mid_partition_under_v0_creates_no_job_twice(
        cluster: Any, table: Any, ledger_location: str, kill_at: str, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    """SIGKILL the worker of a job just POSTed (or polled): every row ok, 1 job per partition, a rerun creates 0."""
    cluster.wait_for_workers(2, timeout=180)  # the nanny of a worker killed in an earlier trial has replaced it
    partition_of = {row_id: i for i in range(PARTITIONS) for row_id in table.partitions[i]["id"].compute()}
    killer = Killer(cluster, ledger_location, partition_of, kill_at)
    out = tmp_path / "out"
    options: dict[str, Any] = dict(id_col="id", source_col="text", models=["language"], kind="text", api="v0",
                                   ledger=ledger_location, out=out, client=cluster, max_in_flight=MAX_IN_FLIGHT,
                                   wait_initial=1.0, wait_max=1.0, progress=False)
    with WatchedBatchEmulator(on_answered=killer) as emu:
        result = humekit.measure_distributed(table, base_url=emu.url, retries=2, **options)
        created = len(emu.jobs)
        cluster.wait_for_workers(2, timeout=180)
        again = humekit.measure_distributed(table, base_url=emu.url, **options)
        rerun_jobs = len(emu.jobs) - created
        dupes, list_lookups = duplicate_report(emu), emu.list_lookups
        jobs, inputs = _units(ledger_location, emu.url)
    assert killer.killed_pid is not None, "no worker was measuring the job's partition at the kill point"
    status = result.status()
    scored = set(humekit.read_dask(out).compute()["id"].astype(str))
    answered_twice = int((inputs.groupby("content")["job_key"].nunique() > 1).sum())
    figures = dict(api="v0", engine=request.node.callspec.params["ledger_locations"], kill_at=kill_at, kills=1,
                   rows=ROWS, partitions=PARTITIONS, workers=2, max_in_flight=MAX_IN_FLIGHT,
                   ok=result.counts()["ok"], rows_in_dataset=int(status["id"].nunique()), scored_rows=len(scored),
                   units=len(jobs), answered_twice=answered_twice, jobs=dupes["jobs"],
                   duplicate_sends=dupes["jobs"] - dupes["distinct_payloads"],
                   inputs_sent_twice=dupes["inputs_sent_twice"], rerun_uploads=rerun_jobs,
                   in_flight_at_kill=killer.in_flight_at_kill, orphaned_at_kill=killer.orphaned_at_kill,
                   list_lookups=list_lookups)
    record(f"dask-kill-v0-{figures['engine']}-{kill_at}", **figures)
    # a POST kill leaves the dead worker's job created with no id in the ledger; a poll kill, its id recorded
    assert killer.orphaned_at_kill == (1 if kill_at.startswith("post") else 0), figures
    assert result.counts() == {"ok": ROWS, "failed": 0, "invalid": 0, "pending": 0}, figures
    assert len(status) == ROWS and set(status["id"]) == set(partition_of) == scored, figures
    assert len(jobs) == PARTITIONS and jobs["job_id"].notna().all() and answered_twice == 0, figures
    assert dupes == {"jobs": PARTITIONS, "distinct_payloads": PARTITIONS, "inputs": ROWS, "inputs_sent_twice": 0}, \
        figures  # 0 duplicate jobs: the retried partition found the dead worker's job
    assert rerun_jobs == 0 and again.counts()["ok"] == ROWS, figures
