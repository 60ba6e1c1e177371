"""Tests for humekit.backends.v0.submitting: claims, peers and refusals around the POST (the rest runs through measure)."""

from __future__ import annotations

import os
import socket
from typing import Any

import pandas as pd
import pytest

from humekit.backends.v0.backend import BatchBackend
from humekit.emulator import Emulator
from humekit.errors import BadRequestError
from humekit.pipeline.ledger import Ledger
from humekit.backends.v0.packing import plan_jobs
from humekit.pipeline.planning import PlannedJob, config_key, normalize_models, row_inputs
from humekit.backends.v0.submitting import submit_jobs
from humekit.pipeline.validation import validate

MODELS = normalize_models(["language"])


def one_job(backend: BatchBackend) -> tuple[PlannedJob, str]:
    """A planned text job of two rows, and its configuration key."""
    table = pd.DataFrame({"id": [1, 2], "text": ["One.", "Two."]})
    checked = validate(table, id_col="id", source_col="text", kind="text", models=MODELS)
    config = config_key(backend=backend.name, endpoint=backend.endpoint, models=MODELS, transcription=None)
    rows = row_inputs(checked, id_col="id", source_col="text", config=config)
    (job,) = plan_jobs(rows, config=config).jobs
    return job, config


def submit(job: PlannedJob, backend: BatchBackend, ledger: Ledger, config: str, models: Any = MODELS) -> Any:
    """submit_jobs for one job."""
    return submit_jobs([job], backend, ledger, config=config, models=models, transcription=None, callback_url=None)


def test_a_claim_released_by_a_live_peer_is_claimed_again_and_posted(tmp_path, clock):
    """While we wait on a live peer's claim, the peer's POST is refused and it releases the claim:
    we claim the job ourselves and post it, instead of waiting on a claim that no longer exists."""
    emu = Emulator(api_key="k", clock=clock)
    backend = BatchBackend(emu.client())
    ledger = Ledger(tmp_path / "l.sqlite", clock=clock)
    job, config = one_job(backend)
    ledger.claim(job.key, backend=backend.name, kind=job.kind, request=job.describe(), inputs=[])
    peer = f"{socket.gethostname()}:{os.getppid()}"  # a live process on this host
    ledger._db().execute("UPDATE jobs SET owner=? WHERE job_key=?", (peer, job.key))
    sleep = clock.sleep

    def peer_is_refused(seconds: float) -> None:
        ledger.release(job.key)
        sleep(seconds)

    clock.sleep = peer_is_refused  # type: ignore[method-assign]
    report = submit(job, backend, ledger, config)
    assert report.submitted == [emu.jobs[0].job_id] and len(emu.jobs) == 1
    assert ledger.state(job.key).job_id == emu.jobs[0].job_id


def test_a_refused_post_is_raised_and_released(tmp_path, clock):
    """A 400 for bad model options reaches the caller, and the ledger keeps no claim for it."""
    emu = Emulator(api_key="k", clock=clock)
    backend = BatchBackend(emu.client())
    ledger = Ledger(tmp_path / "l.sqlite", clock=clock)
    job, config = one_job(backend)
    with pytest.raises(BadRequestError):
        submit(job, backend, ledger, config, models={"language": {"granularty": "word"}})
    assert ledger.state(job.key) is None and not emu.jobs
