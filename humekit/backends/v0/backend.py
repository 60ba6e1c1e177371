"""The seam between the pipeline and an API: submit a planned job, find it, poll it, fetch it.

:class:`BatchBackend` speaks Hume's v0 batch API through :class:`humekit.Client` (or any
compatible base URL, such as the emulator). A backend for Hume's synchronous v1 upload API can
implement the same four methods; the pipeline stages (validate, plan, submit, wait, fetch, join)
do not change.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from humekit.backends.v0.client import Client
from humekit.clock import Clock
from humekit.errors import NotFoundError
from humekit.backends.v0.jobs import JobDetails, Upload
from humekit.pipeline.planning import PlannedJob

__all__ = ["Backend", "BatchBackend"]

logger = logging.getLogger("humekit.backends.v0.backend")

_LIST_PAGE = 100
_SKEW_MS = 10 * 60 * 1000  # list from this long before our own timestamps, in case the clocks disagree


class Backend(Protocol):
    """What the pipeline needs from an API."""

    name: str
    endpoint: str
    r"""Where requests go (the base URL): part of every job's identity in the ledger."""
    clock: Clock
    settle: float
    r"""Seconds a submission whose answer was lost may take to show up to :meth:`find`."""

    def submit(self, job: PlannedJob, *, models: Mapping[str, Any], transcription: Any,
               callback_url: str | None) -> str:
        """Create the job; return its id. Raise LimitExceededError if the payload is refused for a limit."""
        ...

    def find(self, job: PlannedJob, *, since_ms: int) -> str | None:
        """The id of an already-created job with exactly this job's inputs (asking for its models, when it
        records them), if any (lost responses)."""
        ...

    def poll(self, job_ids: Sequence[str], *, since_ms: int) -> dict[str, JobDetails]:
        """Current details of these jobs (those it could read)."""
        ...

    def fetch(self, job_id: str) -> bytes:
        """The predictions JSON of a COMPLETED job, as the API sent it."""
        ...


class BatchBackend:
    """Hume's v0 batch API (``/v0/batch/jobs``)."""

    name = "hume-v0-batch"

    def __init__(self, client: Client, *, list_threshold: int = 3, settle: float = 10.0,
                 endpoint: str | None = None):
        self.client = client
        self.endpoint = endpoint or client.base_url
        r"""The endpoint's identity in the ledger (default: the client's base URL). Jobs made at one
        endpoint are never reused at another; give one name to endpoints that serve the same results
        (an emulator restarted on another port, say)."""
        self.clock = client.clock
        self.list_threshold = list_threshold
        r"""With at least this many jobs to poll, one list request replaces per-job requests."""
        self.settle = settle
        r"""Seconds to wait before looking again for a job whose POST got no answer (or whose process
        died) and that the job list does not show yet: the server may still be creating it. Hume offers
        no idempotency key, so this look is what stands between a lost answer and paying twice."""

    def __repr__(self) -> str:
        return f"BatchBackend({self.client!r})"

    def submit(self, job: PlannedJob, *, models: Mapping[str, Any], transcription: Any,
               callback_url: str | None) -> str:
        extra: dict[str, Any] = {"models": dict(models), "callback_url": callback_url}
        if transcription is not None:
            extra["transcription"] = None if transcription is False else transcription
        if job.kind == "url":
            return self.client.start_job(urls=[i.value for i in job.inputs], **extra)
        if job.kind == "text":
            return self.client.start_job(text=[i.value for i in job.inputs], **extra)
        uploads = [Upload.from_path(i.value, filename=i.filename) for i in job.inputs]
        return self.client.start_job(files=uploads, **extra)

    def find(self, job: PlannedJob, *, since_ms: int) -> str | None:
        wanted = _signature(job)
        for details in self._list_since(since_ms - _SKEW_MS):
            if _echo_signature(job.kind, details.request) == wanted and _asks_for(details.request, job.models):
                return details.job_id
        return None

    def poll(self, job_ids: Sequence[str], *, since_ms: int) -> dict[str, JobDetails]:
        if len(job_ids) < self.list_threshold:
            return {job_id: self._details(job_id) for job_id in job_ids}
        wanted = set(job_ids)
        found = {d.job_id: d for d in self._list_since(since_ms - _SKEW_MS) if d.job_id in wanted}
        # A job the list does not show at all (clock skew, a very busy account) is asked for directly.
        for job_id in job_ids:
            if job_id not in found:
                found[job_id] = self._details(job_id)
        return found

    def _details(self, job_id: str) -> JobDetails:
        """One job's details; a job the endpoint does not know (404) is reported FAILED, saying why."""
        try:
            return self.client.get_job(job_id)
        except NotFoundError:
            return JobDetails(job_id=job_id, status="FAILED", message=lost_job_message(job_id, self.endpoint))

    def fetch(self, job_id: str) -> bytes:
        return self.client.get_bytes(f"/v0/batch/jobs/{job_id}/predictions")

    def _list_since(self, since_ms: int, *, statuses: Sequence[str] = ()) -> list[JobDetails]:
        """Every job created after ``since_ms``, oldest first, paging on the creation time."""
        seen: dict[str, JobDetails] = {}
        cursor = since_ms
        while True:
            page = self.client.list_jobs(limit=_LIST_PAGE, status=list(statuses) or None, when="created_after",
                                         timestamp_ms=cursor, sort_by="created", direction="asc")
            fresh = [d for d in page if d.job_id not in seen]
            seen.update((d.job_id, d) for d in fresh)
            if len(page) < _LIST_PAGE or not fresh:
                return list(seen.values())
            newest = max(d.created_ms or cursor for d in page)
            # Step back one ms so jobs created in the same millisecond are not skipped; `seen` dedupes.
            cursor = newest - 1 if newest - 1 > cursor else newest


_ECHO_FIELD = {"url": "urls", "text": "text", "file": "files"}


def lost_job_message(job_id: str, endpoint: str) -> str:
    """Why a job in the ledger has no result: the endpoint answers 404 for it, and what to do."""
    return (f"{endpoint} no longer knows job {job_id} (404): the endpoint was restarted or reset (an emulator), "
            "the API key belongs to another account, or the API was sunset. Nothing more will come from this job; "
            "humekit.retry_failed(result) resubmits these rows as new jobs.")


def _signature(job: PlannedJob) -> tuple[Any, ...]:
    """What identifies a job's inputs: the URLs or texts in order, or the uploads' (filename, md5)."""
    if job.kind == "file":
        return tuple((i.filename, i.md5) for i in job.inputs)
    return tuple(i.value for i in job.inputs)


def _asks_for(request: Mapping[str, Any], models: Sequence[str]) -> bool:
    """Whether an echoed request asks for every one of ``models`` (a job with the same inputs for other
    models, made when a model was added later, is not this job). Hume echoes ``null`` for models not
    requested, or every model with its defaults; an echo without ``models`` is not held against it."""
    echoed = request.get("models")
    if not models or not isinstance(echoed, Mapping):
        return True
    return all(echoed.get(name) is not None for name in models)


def _echo_signature(kind: str, request: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The same for a job the API echoes; ``None`` if it also holds inputs of another kind."""
    if any(request.get(field) for other, field in _ECHO_FIELD.items() if other != kind):
        return None
    if kind == "file":
        return tuple((f.get("filename"), f.get("md5sum")) for f in request.get("files") or ())
    return tuple(request.get(_ECHO_FIELD[kind]) or ())
