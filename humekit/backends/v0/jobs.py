"""Batch jobs: what GET /v0/batch/jobs/{id} says about a job, files to upload, and the four job calls humekit makes."""

from __future__ import annotations

import io
import mimetypes
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from humekit.clock import Clock
from humekit.errors import APIError

if TYPE_CHECKING:
    from humekit.pipeline.planning import Unit

__all__ = ["TERMINAL_STATUSES", "JobDetails", "JobsAPI", "Upload", "lost_job_message"]

#: Statuses after which a job never changes. QUEUED and IN_PROGRESS are normal waiting states.
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED"})


@dataclass(frozen=True, slots=True)
class JobDetails:
    """A batch job as the API describes it (``InferenceJob``), tolerant of nulls and extra keys."""

    job_id: str
    status: str
    created_ms: int | None = None
    started_ms: int | None = None
    ended_ms: int | None = None
    message: str | None = None
    r"""Why the job FAILED (``state.message``)."""
    num_predictions: int | None = None
    num_errors: int | None = None
    request: dict[str, Any] = field(default_factory=dict, repr=False)
    r"""The request as the API echoed it (models with defaults, urls, text, files with md5sums)."""

    @property
    def terminal(self) -> bool:
        """Whether the job is COMPLETED or FAILED."""
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_json(cls, data: Any) -> JobDetails:
        """Build from the JSON of job details or of one element of the job list."""
        if not isinstance(data, dict) or "job_id" not in data:
            raise APIError(f"Expected a job object with 'job_id', got {str(data)[:200]!r}")
        state = data.get("state") or {}
        return cls(
            job_id=str(data["job_id"]),
            status=str(state.get("status") or data.get("status") or "UNKNOWN"),
            created_ms=state.get("created_timestamp_ms"),
            started_ms=state.get("started_timestamp_ms"),
            ended_ms=state.get("ended_timestamp_ms"),
            message=state.get("message"),
            num_predictions=state.get("num_predictions"),
            num_errors=state.get("num_errors"),
            request=data.get("request") or {},
        )


@dataclass(frozen=True, slots=True)
class Upload:
    """One local file to send in a multipart job, read from disk when the request is sent."""

    filename: str
    r"""The name Hume sees (and echoes in ``source.filename``): make it unique within a job."""
    path: Path | None = None
    data: bytes | None = field(default=None, repr=False)
    content_type: str | None = None

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, filename: str | None = None) -> Upload:
        """An upload streamed from ``path``, sent as ``filename`` (default: its base name)."""
        path = Path(path)
        name = filename or path.name
        return cls(filename=name, path=path, content_type=mimetypes.guess_type(name)[0])

    def open(self) -> Any:
        """A fresh binary stream of the content (re-opened on every attempt)."""
        if self.path is not None:
            return self.path.open("rb")
        return io.BytesIO(self.data or b"")


class JobsAPI(Protocol):
    """The four calls submitting and waiting make on the v0 batch API (:class:`~humekit.backends.v0.BatchBackend`
    makes them through :class:`humekit.Client`; tests may pass a fake)."""

    name: str
    endpoint: str
    r"""Where requests go (the base URL): part of every job's identity in the ledger."""
    clock: Clock
    settle: float
    r"""Seconds a submission whose answer was lost may take to show up to :meth:`find`."""

    def submit(self, job: Unit, *, models: Mapping[str, Any], transcription: Any,
               callback_url: str | None) -> str:
        """Create the job; return its id. Raise LimitExceededError if the payload is refused for a limit."""
        ...

    def find(self, job: Unit, *, since_ms: int) -> str | None:
        """The id of an already-created job with exactly this job's inputs (asking for its models, when it
        records them), if any (lost responses)."""
        ...

    def poll(self, job_ids: Sequence[str], *, since_ms: int) -> dict[str, JobDetails]:
        """Current details of these jobs (those it could read)."""
        ...

    def fetch(self, job_id: str) -> bytes:
        """The predictions JSON of a COMPLETED job, as the API sent it."""
        ...


def lost_job_message(job_id: str, endpoint: str) -> str:
    """Why a job in the ledger has no result: the endpoint answers 404 for it, and what to do."""
    return (f"{endpoint} no longer knows job {job_id} (404): the endpoint was restarted or reset (an emulator), "
            "the API key belongs to another account, or the API was sunset. Nothing more will come from this job; "
            "humekit.retry_failed(result) resubmits these rows as new jobs.")
