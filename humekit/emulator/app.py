"""The emulator's request handling: auth, faults, routing and the five batch endpoints.

:class:`EmulatorApp.handle` turns one :class:`~humekit.emulator.wire.EmuRequest` into one
:class:`~humekit.emulator.wire.EmuResponse`; the in-process transport and the loopback HTTP
server both call it, so they behave identically.
"""

from __future__ import annotations

import hmac
import mimetypes
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from humekit.clock import Clock
from humekit.emulator.faults import FaultInjector
from humekit.emulator.media_store import MediaStore
from humekit.emulator.store import Job, JobStore, Schedule
from humekit.emulator.submission import Rejection, parse_submission
from humekit.emulator.synthesis import Source, artifacts_zip, predict_source
from humekit.emulator.wire import EmuRequest, EmuResponse, json_response
from humekit.backends.v0.limits import Limits

__all__ = ["EmulatorApp", "RequestRecord"]

_JOB_PATH = re.compile(r"^/v0/batch/jobs/(?P<id>[^/]+)(?P<rest>/predictions|/artifacts)?/?$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_STATUSES = ("QUEUED", "IN_PROGRESS", "COMPLETED", "FAILED")
_SORT_KEYS = {"created": "created_ms", "started": "started_ms", "ended": "ended_ms"}
# Apigee's fault bodies, which Hume's gateway returns (LEGACY SDK checks these exact strings).
_INVALID_KEY = {"fault": {"faultstring": "Invalid ApiKey", "detail": {"errorcode": "oauth.v2.InvalidApiKey"}}}
_MISSING_KEY = {
    "fault": {
        "faultstring": "Failed to resolve API Key variable request.header.X-Hume-Api-Key",
        "detail": {"errorcode": "steps.oauth.v2.FailedToResolveAPIKey"},
    }
}


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the emulator answered (or dropped)."""

    time: float
    method: str
    path: str
    status: int | None
    r"""The status sent, or ``None`` when the connection was dropped."""
    query: str = ""
    job_id: str | None = None
    r"""The job a POST created (also set when its response was lost)."""
    size: int = 0
    r"""The request body's length in bytes (what was uploaded)."""


class EmulatorApp:
    """The batch API's behaviour, independent of how requests arrive."""

    def __init__(
        self,
        *,
        api_key: str,
        clock: Clock,
        schedule: Schedule,
        faults: FaultInjector,
        limits: Limits,
        media: MediaStore,
        fetch: Callable[[str], bytes],
        on_job_created: Callable[[Job], None] = lambda job: None,
        extra_routes: Callable[[EmuRequest], EmuResponse | None] = lambda request: None,
    ):
        self._api_key = api_key
        self.clock = clock
        self.schedule = schedule
        self.faults = faults
        self.limits = limits
        self.media = media
        self.jobs = JobStore()
        self.requests: list[RequestRecord] = []
        self._fetch = fetch
        self._on_job_created = on_job_created
        self._extra_routes = extra_routes
        self._synth_lock = threading.Lock()

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    # -- entry point -------------------------------------------------------------------------
    def handle(self, request: EmuRequest) -> EmuResponse:
        """Answer one request, recording it in :attr:`requests`."""
        created: list[str] = []
        response = self._dispatch(request, created)
        self.requests.append(
            RequestRecord(
                time=self.clock.time(),
                method=request.method,
                path=request.path,
                status=None if response.drop else response.status,
                query=request.query_string,
                job_id=created[0] if created else None,
                size=len(request.body or b""),
            )
        )
        return response

    def _dispatch(self, request: EmuRequest, created: list[str]) -> EmuResponse:
        injected = self.faults.faults
        if injected.latency:
            time.sleep(injected.latency)
        if request.path.startswith("/media/"):
            return self._media(request)
        denied = self.check_auth(request)
        if denied is not None:
            return denied
        if self.faults.happens(injected.drop_rate):
            return EmuResponse(0, drop=True)
        if self.faults.happens(injected.rate_limit_rate):
            return json_response(
                429,
                {"code": "rate_limited", "error": "Too Many Requests", "message": "Rate limit exceeded; retry later"},
                headers={"retry-after": f"{injected.retry_after:g}"},
            )
        if self.faults.happens(injected.server_error_rate):
            status = self.faults.choice((500, 502, 503))
            return json_response(status, {"message": "Internal server error (injected by the emulator)"})
        try:
            return self._route(request, created)
        except Rejection as rejection:
            return json_response(rejection.status, rejection.body)

    def check_auth(self, request: EmuRequest) -> EmuResponse | None:
        """401 with Apigee's fault body unless the request carries the right key."""
        key = request.header("x-hume-api-key")
        if key is None:
            bearer = request.header("authorization") or ""
            key = bearer[7:] if bearer.lower().startswith("bearer ") else None
        if key is None:
            return json_response(401, _MISSING_KEY)
        if not hmac.compare_digest(key.encode(), self._api_key.encode()):
            return json_response(401, _INVALID_KEY)
        return None

    def _route(self, request: EmuRequest, created: list[str]) -> EmuResponse:
        path = request.path.rstrip("/") or "/"
        if path == "/v0/batch/jobs":
            if request.method == "POST":
                return self._submit(request, created)
            if request.method == "GET":
                return self._list(request)
            return _method_not_allowed(request)
        match = _JOB_PATH.match(request.path)
        if match:
            if request.method != "GET":
                return _method_not_allowed(request)
            return self._job_endpoint(match["id"], match["rest"] or "")
        extra = self._extra_routes(request)
        if extra is not None:
            return extra
        return json_response(404, {"message": f"No route for {request.method} {request.path}"})

    # -- endpoints ---------------------------------------------------------------------------
    def _submit(self, request: EmuRequest, created: list[str]) -> EmuResponse:
        submission = parse_submission(request.header("content-type"), request.body, limits=self.limits)
        now = self.now_ms()
        if self.jobs.count("QUEUED", now) >= self.limits.max_queued_jobs:
            return json_response(
                429,
                {
                    "code": "max_queued_jobs",
                    "error": "Too Many Requests",
                    "message": f"{self.limits.max_queued_jobs} jobs are already queued (max_queued_jobs); "
                    "wait for some to start before submitting more",
                },
                headers={"retry-after": f"{max(self.schedule.queued, 1.0):g}"},
            )
        injected = self.faults.faults
        failure = injected.job_failure_message if self.faults.happens(injected.job_failure_rate) else None
        job = self.jobs.create(
            request=submission.request,
            sources=submission.sources,
            now_ms=now,
            schedule=self.schedule,
            failure=failure,
        )
        created.append(job.job_id)
        self._on_job_created(job)
        if self.faults.happens(injected.lost_response_rate):
            return EmuResponse(0, drop=True)
        return json_response(200, {"job_id": job.job_id})

    def _list(self, request: EmuRequest) -> EmuResponse:
        params: dict[str, list[str]] = {}
        for key, value in request.query:
            params.setdefault(key, []).append(value)
        try:
            limit = int(params.get("limit", ["50"])[-1])
            timestamp = int(params.get("timestamp_ms", [str(self.now_ms())])[-1])
        except ValueError:
            raise Rejection(400, "limit and timestamp_ms must be integers") from None
        statuses = params.get("status", [])
        when = params.get("when", [None])[-1]
        sort_by = params.get("sort_by", ["created"])[-1]
        direction = params.get("direction", ["desc"])[-1]
        bad = [s for s in statuses if s not in _STATUSES]
        if bad or limit < 0 or when not in (None, "created_before", "created_after") or sort_by not in _SORT_KEYS or (
            direction not in ("asc", "desc")
        ):
            raise Rejection(
                400,
                "Invalid list query: status must be one of QUEUED, IN_PROGRESS, COMPLETED, FAILED; "
                "when created_before|created_after; sort_by created|started|ended; direction asc|desc; limit >= 0",
            )
        now = self.now_ms()
        visible = now - int(self.faults.faults.list_lag * 1000)
        jobs = [j for j in self.jobs.all() if j.created_ms <= visible and (not statuses or j.status(now) in statuses)]
        if when == "created_before":
            jobs = [j for j in jobs if j.created_ms < timestamp]
        elif when == "created_after":
            jobs = [j for j in jobs if j.created_ms > timestamp]
        key = _SORT_KEYS[sort_by]
        jobs.sort(key=lambda j: (getattr(j, key), j.job_id), reverse=direction == "desc")
        return json_response(200, [self.job_details(j, now) for j in jobs[:limit]])

    def _job_endpoint(self, job_id: str, rest: str) -> EmuResponse:
        if not _UUID.match(job_id):
            raise Rejection(400, f"Job ID {job_id!r} is not a UUID (36 characters, e.g. as returned by POST)")
        job = self.jobs.get(job_id)
        if job is None:
            return json_response(404, {"message": "job not found"})
        now = self.now_ms()
        if not rest:
            return json_response(200, self.job_details(job, now))
        status = job.status(now)
        if status != "COMPLETED":
            detail = f"it FAILED: {job.failure}" if status == "FAILED" else f"it is {status}"
            raise Rejection(400, f"Job {job_id} has no {rest[1:]}: {detail}. Wait until it is COMPLETED.")
        predictions = self.predictions(job)
        if rest == "/predictions":
            return json_response(200, predictions)
        return EmuResponse(
            200,
            artifacts_zip(predictions),
            {"content-type": "application/octet-stream", "content-disposition": 'attachment; filename="artifacts.zip"'},
        )

    def _media(self, request: EmuRequest) -> EmuResponse:
        data = self.media.get(request.path[len("/media/") :])
        if data is None or request.method not in ("GET", "HEAD"):
            return json_response(404, {"message": f"No media at {request.path}"})
        kind = mimetypes.guess_type(request.path)[0] or "application/octet-stream"
        return EmuResponse(200, b"" if request.method == "HEAD" else data, {"content-type": kind})

    # -- job contents ------------------------------------------------------------------------
    def job_details(self, job: Job, now_ms: int) -> dict[str, Any]:
        """The job object of GET /v0/batch/jobs/{id}, keys in Hume's order."""
        return {
            "job_id": job.job_id,
            "request": job.request,
            "state": job.state(now_ms, self._counts),
            "type": "INFERENCE",
        }

    def predictions(self, job: Job) -> list[dict[str, Any]]:
        """The job's predictions, synthesized on first use and then kept."""
        with self._synth_lock:
            if job.predictions is None:
                job.predictions = [self._predict(job, source) for source in job.sources]
            return job.predictions

    def _predict(self, job: Job, source: Source) -> dict[str, Any]:
        if source.type == "url" and source.url is not None:
            source = self._fetched(source.url)
        injected = self.faults.faults
        return predict_source(
            source,
            job.request["models"],
            transcription=job.request["transcription"],
            limits=self.limits,
            file_error=lambda file: injected.file_error_message
            if self.faults.happens(injected.file_error_rate)
            else None,
        )

    def _fetched(self, url: str) -> Source:
        try:
            data = self._fetch(url)
        except Exception as exc:  # any fetch failure is a per-source error, as at Hume
            return Source(type="url", url=url, fetch_error=f"Failed to download {url}: {exc}")
        if len(data) > self.limits.max_url_file_bytes:
            return Source(
                type="url",
                url=url,
                fetch_error=f"File at {url} is {len(data):,} bytes, over the "
                f"{self.limits.max_url_file_bytes:,}-byte limit for URLs (max_url_file_bytes)",
            )
        return Source(type="url", url=url, data=data)

    def _counts(self, job: Job) -> tuple[int, int]:
        predictions = self.predictions(job)
        ok = sum(len(p.get("results", {}).get("predictions", [])) for p in predictions)
        errors = sum(len(p.get("results", {}).get("errors", [])) + ("error" in p) for p in predictions)
        return ok, errors

    def is_own_url(self, url: str, origins: set[str]) -> bool:
        """Whether ``url`` points at this emulator's ``/media/`` (so no network is needed)."""
        parts = urlsplit(url)
        return parts.path.startswith("/media/") and parts.netloc in origins


def _method_not_allowed(request: EmuRequest) -> EmuResponse:
    return json_response(405, {"message": f"{request.method} is not allowed on {request.path}"})
