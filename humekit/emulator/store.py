"""The emulator's jobs: their schedule through QUEUED, IN_PROGRESS and a terminal state.

A job's state is derived from the clock and its schedule, never advanced by a background
thread, so a virtual clock moves every job at once and a real clock needs no timers. Predictions
are synthesized once, the first time a finished job is looked at, and kept.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from humekit.emulator.synthesis import Source

__all__ = ["Job", "JobStore", "Schedule"]


@dataclass(frozen=True, slots=True)
class Schedule:
    """How long jobs stay in each state, in seconds of the emulator's clock."""

    queued: float = 1.0
    r"""Seconds from creation to IN_PROGRESS."""
    running: float = 2.0
    r"""Seconds from IN_PROGRESS to COMPLETED or FAILED."""

    def __post_init__(self) -> None:
        if self.queued < 0 or self.running < 0:
            raise ValueError(f"Schedule durations must be >= 0, got {self.queued!r}, {self.running!r}")


@dataclass(slots=True)
class Job:
    """One emulated batch job."""

    job_id: str
    request: dict[str, Any]
    sources: list[Source]
    created_ms: int
    started_ms: int
    ended_ms: int
    failure: str | None = None
    predictions: list[dict[str, Any]] | None = None
    callback_sent: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def status(self, now_ms: int) -> str:
        """QUEUED, IN_PROGRESS, COMPLETED or FAILED at ``now_ms``."""
        if now_ms < self.started_ms:
            return "QUEUED"
        if now_ms < self.ended_ms:
            return "IN_PROGRESS"
        return "FAILED" if self.failure else "COMPLETED"

    def state(self, now_ms: int, counts: Callable[[Job], tuple[int, int]]) -> dict[str, Any]:
        """The ``state`` object of job details, with keys as Hume orders them."""
        status = self.status(now_ms)
        state: dict[str, Any] = {"created_timestamp_ms": self.created_ms}
        if status == "QUEUED":
            return {**state, "status": status}
        if status == "IN_PROGRESS":
            return {**state, "started_timestamp_ms": self.started_ms, "status": status}
        state["ended_timestamp_ms"] = self.ended_ms
        if status == "FAILED":
            return {**state, "message": self.failure, "started_timestamp_ms": self.started_ms, "status": status}
        num_predictions, num_errors = counts(self)
        return {
            **state,
            "num_errors": num_errors,
            "num_predictions": num_predictions,
            "started_timestamp_ms": self.started_ms,
            "status": status,
        }


class JobStore:
    """All jobs of one emulator, safe to use from many request threads."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.RLock()

    def create(
        self,
        *,
        request: dict[str, Any],
        sources: list[Source],
        now_ms: int,
        schedule: Schedule,
        failure: str | None,
    ) -> Job:
        """Add a job created at ``now_ms`` that follows ``schedule``."""
        started = now_ms + round(schedule.queued * 1000)
        job = Job(
            job_id=str(uuid.uuid4()),
            request=request,
            sources=sources,
            created_ms=now_ms,
            started_ms=started,
            ended_ms=started + round(schedule.running * 1000),
            failure=failure,
        )
        with self._lock:
            self._jobs[job.job_id] = job
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def count(self, status: str, now_ms: int) -> int:
        """How many jobs are in ``status`` at ``now_ms``."""
        return sum(1 for job in self.all() if job.status(now_ms) == status)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write every job to ``path`` as JSON (uploaded bytes in base64), replacing it atomically."""
        with self._lock:
            jobs = [_job_json(job) for job in self._jobs.values()]
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(orjson.dumps({"version": 1, "jobs": jobs}))
        tmp.replace(path)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Add the jobs :meth:`save` wrote to ``path`` (so a restarted emulator still knows them)."""
        document = orjson.loads(Path(path).read_bytes())
        with self._lock:
            for data in document["jobs"]:
                job = _job_from_json(data)
                self._jobs[job.job_id] = job


def _job_json(job: Job) -> dict[str, Any]:
    data = {f.name: getattr(job, f.name) for f in dataclasses.fields(job)}
    data["sources"] = [{**dataclasses.asdict(source), "data": None if source.data is None
                        else base64.b64encode(source.data).decode()} for source in job.sources]
    return data


def _job_from_json(data: dict[str, Any]) -> Job:
    sources = [Source(**{**s, "texts": tuple(s["texts"]),
                         "data": None if s["data"] is None else base64.b64decode(s["data"])}) for s in data["sources"]]
    return Job(**{**data, "sources": sources})
