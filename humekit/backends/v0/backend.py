"""Hume's v0 batch API as a :class:`~humekit.backends.base.Backend`: jobs of up to 100 inputs, polled or called back.

:class:`BatchBackend` speaks ``/v0/batch/jobs`` through :class:`humekit.Client` (Hume's API until its
sunset on 2026-06-14, or any compatible base URL such as the emulator). To the pipeline it packs rows
into jobs (:mod:`~humekit.backends.v0.packing`), executes them (:mod:`~humekit.backends.v0.execution`)
and decodes their predictions JSON (:mod:`~humekit.backends.v0.decoding`); to submitting and waiting it
is a :class:`~humekit.backends.v0.jobs.JobsAPI` (submit, find, poll, fetch).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from humekit.backends.base import Decoded, Executed, Run
from humekit.backends.v0 import decoding, execution
from humekit.backends.v0.client import Client
from humekit.backends.v0.jobs import JobDetails, JobsAPI, Upload, lost_job_message
from humekit.backends.v0.limits import Limits
from humekit.backends.v0.packing import plan_jobs
from humekit.errors import NotFoundError
from humekit.pipeline.input_limits import InputLimits
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.planning import Plan, RowInput, Unit

__all__ = ["Backend", "BatchBackend", "JobsAPI", "lost_job_message"]

logger = logging.getLogger("humekit.backends.v0.backend")

_LIST_PAGE = 100
_SKEW_MS = 10 * 60 * 1000  # list from this long before our own timestamps, in case the clocks disagree


class BatchBackend:
    """Hume's v0 batch API (``/v0/batch/jobs``)."""

    name = "hume-v0-batch"
    api = "v0"

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

    # -- the pipeline's seam (humekit.backends.base.Backend) ------------------------------------
    def check(self, run: Run) -> None:
        """Polling intervals Hume would not accept and a ``callback=`` that cannot receive callbacks."""
        execution.check(run)

    def pack(self, rows: Sequence[RowInput], *, config: str, models: Sequence[str], salt: str,
             limits: InputLimits) -> Plan:
        """Jobs under the per-job limits (``limits`` must be a :class:`humekit.Limits`)."""
        if not isinstance(limits, Limits):
            raise TypeError(f"the v0 batch backend packs under humekit.Limits, not {type(limits).__name__}")
        return plan_jobs(rows, config=config, limits=limits, salt=salt, models=models)

    def execute(self, units: Sequence[Unit], run: Run) -> Executed:
        """Claim and submit every job (split in halves when refused for a limit)."""
        return execution.execute(self, units, run)

    def resume(self, unit_keys: Sequence[str], rows: Mapping[str, RowInput], run: Run) -> Executed:
        """Finish interrupted submissions, reconciled against the job list first."""
        return execution.resume(self, unit_keys, rows, run)

    def collect(self, unit_keys: Sequence[str], run: Run) -> None:
        """Wait for the jobs (polls with backoff, or callbacks) and store their predictions."""
        execution.collect(self, unit_keys, run)

    def decode(self, kind: str, answer: bytes, *, request: Mapping[str, Any]) -> Decoded:
        """A job's predictions JSON as tables keyed by input (URL, upload filename, 1-based text index); a
        job's times are already on its inputs' clocks, so the request is not needed."""
        return decoding.decode(kind, answer)

    def request(self, unit: Unit) -> dict[str, Any]:
        """A job's inputs as the ledger records them (URLs, text digests, upload names and md5s)."""
        return unit.describe()

    def billed_seconds(self, request: Mapping[str, Any]) -> float | None:
        """Not priced: the v0 batch API billed by the minute of media per model, and is gone."""
        return None

    def in_flight(self, unit_keys: Sequence[str], ledger: Ledger) -> list[str]:
        """The jobs still queued, running or being submitted."""
        return execution.in_flight(unit_keys, ledger)

    # -- the job calls (humekit.backends.v0.jobs.JobsAPI) ----------------------------------------
    def submit(self, job: Unit, *, models: Mapping[str, Any], transcription: Any,
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

    def find(self, job: Unit, *, since_ms: int) -> str | None:
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


def _signature(job: Unit) -> tuple[Any, ...]:
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


#: The name the v0 job calls had when they were the pipeline's seam (kept for this release).
Backend = JobsAPI
