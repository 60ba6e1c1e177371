"""The HTTP client for Hume's v0 batch API (and any compatible base URL, such as the emulator).

Typed methods for the five batch endpoints, status-mapped exceptions, and retries with
exponential backoff and jitter for transient failures (connection errors, 408, 429, 5xx),
honouring ``Retry-After`` up to a cap. A POST that may have created a job is never retried
blindly: only failures that prove nothing was created (a refused connection, a 429) are retried;
anything else is raised for the job ledger to reconcile.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson
import tenacity

from humekit import errors
from humekit._internal.backoff import exponential
from humekit.backends._http import Limiter, http_client, log_retry, retry_after_seconds, send
from humekit.clock import Clock, SystemClock
from humekit.config import Secret, resolve_api_key, resolve_base_url
from humekit.backends.v0.jobs import JobDetails, Upload
from humekit.pipeline.progress import CountingReader, upload_listener

__all__ = ["Client"]


_UNSET: Any = object()
_LIMIT_CODES = frozenset(
    {"max_urls_per_job", "max_texts_per_job", "max_files_per_job", "max_upload_bytes", "max_text_bytes"}
)


class Client:
    """A client for the batch API.

    Args:
        api_key: defaults to ``HUME_API_KEY`` from the environment or a ``.env`` file.
        base_url: defaults to ``HUME_BASE_URL``, else ``https://api.hume.ai``.
        timeout: seconds for each request (connect timeout is shorter).
        max_retries: retries after the first attempt for transient failures.
        retry_timeout: stop retrying after this many seconds in total.
        wait_initial, wait_max: the backoff starts at ``wait_initial`` seconds and doubles up to
            ``wait_max``, each wait with ±20% jitter (never past ``wait_max``); a ``Retry-After``
            header replaces it.
        max_retry_after: a ``Retry-After`` longer than this is not waited for: a
            :class:`~humekit.RateLimitError` is raised with ``.retry_after``.
        transport: an ``httpx`` transport, e.g. ``Emulator().transport()`` for in-process tests.
        clock: where retries sleep (a virtual clock makes them instant).
        limiter: makes what each request holds while it is in flight (never while a retry waits), e.g. a lease
            of a cluster-wide cap (:func:`humekit.measure_distributed`'s ``max_in_flight``); none by default.

    Usage::

        with humekit.Client() as client:
            job_id = client.start_job(urls=["https://example.org/a.mp4"], models={"face": {}})
            details = client.get_job(job_id)
    """

    def __init__(
        self,
        *,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        retry_timeout: float = 300.0,
        wait_initial: float = 1.0,
        wait_max: float = 60.0,
        max_retry_after: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        limiter: Limiter | None = None,
    ):
        self._api_key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        self.max_retries = max_retries
        self.retry_timeout = retry_timeout
        self.wait_initial = wait_initial
        self.wait_max = wait_max
        self.max_retry_after = max_retry_after
        self.clock: Clock = clock or SystemClock()
        self.limiter = limiter
        self._http = http_client(base_url=self.base_url, timeout=timeout, transport=transport)

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<humekit.Client base_url={self.base_url!r} api_key=Secret('********')>"

    # -- the five batch endpoints ------------------------------------------------------------
    def start_job(
        self,
        *,
        urls: Sequence[str] = (),
        text: Sequence[str] = (),
        files: Sequence[Upload] = (),
        models: dict[str, Any] | None = None,
        transcription: dict[str, Any] | None = _UNSET,
        callback_url: str | None = None,
        notify: bool | None = None,
    ) -> str:
        """Start a job: JSON for URLs and text, multipart when there are ``files``. Returns its id.

        Raises :class:`~humekit.LimitExceededError` when the API rejects the job for a limit
        (do not resend the same payload), and :class:`~humekit.APIConnectionError` when the
        response was lost: the job may exist, so reconcile with :meth:`list_jobs` before retrying.
        """
        request: dict[str, Any] = {}
        if models is not None:
            request["models"] = models
        if transcription is not _UNSET:
            request["transcription"] = transcription
        if urls:
            request["urls"] = list(urls)
        if text:
            request["text"] = list(text)
        if callback_url is not None:
            request["callback_url"] = callback_url
        if notify is not None:
            request["notify"] = notify
        return self.start_job_from_request(request, files=files)

    def start_job_from_request(self, request: dict[str, Any], *, files: Sequence[Upload] = ()) -> str:
        """Start a job from a raw ``InferenceBaseRequest`` dict (plus uploads)."""
        body = orjson.dumps(request)
        if not files:
            data = self._call("POST", "/v0/batch/jobs", idempotent=False, content=body,
                              headers={"content-type": "application/json"})
        else:
            data = self._call("POST", "/v0/batch/jobs", idempotent=False, uploads=files, json_part=body)
        job_id = data.get("job_id") if isinstance(data, dict) else None
        if not isinstance(job_id, str):
            raise errors.APIError(f"POST /v0/batch/jobs answered without a job_id: {str(data)[:200]!r}")
        return job_id

    def get_job(self, job_id: str) -> JobDetails:
        """GET /v0/batch/jobs/{id}: the job's state and echoed request."""
        return JobDetails.from_json(self._call("GET", f"/v0/batch/jobs/{job_id}"))

    def list_jobs(
        self,
        *,
        limit: int | None = None,
        status: str | Iterable[str] | None = None,
        when: str | None = None,
        timestamp_ms: int | None = None,
        sort_by: str | None = None,
        direction: str | None = None,
    ) -> list[JobDetails]:
        """GET /v0/batch/jobs: jobs filtered by status (repeatable) and creation time."""
        params: list[tuple[str, str]] = []
        if limit is not None:
            params.append(("limit", str(limit)))
        for value in [status] if isinstance(status, str) else (status or []):
            params.append(("status", value))
        filters: tuple[tuple[str, str | int | None], ...] = (
            ("when", when), ("timestamp_ms", timestamp_ms), ("sort_by", sort_by), ("direction", direction))
        for key, given in filters:
            if given is not None:
                params.append((key, str(given)))
        data = self._call("GET", "/v0/batch/jobs", params=params)
        if not isinstance(data, list):
            raise errors.APIError(f"GET /v0/batch/jobs should answer a JSON array, got {type(data).__name__}")
        return [JobDetails.from_json(item) for item in data]

    def get_predictions(self, job_id: str) -> list[dict[str, Any]]:
        """GET /v0/batch/jobs/{id}/predictions: the raw predictions JSON (see :func:`humekit.to_frame`)."""
        return self._call("GET", f"/v0/batch/jobs/{job_id}/predictions")

    def get_artifacts(self, job_id: str, path: str | Path | None = None) -> bytes | Path:
        """GET /v0/batch/jobs/{id}/artifacts: the ZIP's bytes, or written to ``path`` (returned)."""
        content = self._call("GET", f"/v0/batch/jobs/{job_id}/artifacts", raw=True)
        if path is None:
            return content
        path = Path(path)
        path.write_bytes(content)
        return path

    # -- generic access (EVI and other endpoints) --------------------------------------------
    def get_json(self, path: str, *, params: Any = None) -> Any:
        """GET any API path and return its JSON, with the same retries and errors."""
        return self._call("GET", path, params=params)

    def get_bytes(self, url_or_path: str) -> bytes:
        """GET any API path or absolute URL and return the body bytes.

        The API key is sent only to the base URL's origin, never to another host (such as the
        signed storage URL of :func:`humekit.webhooks.evi.chat_audio`).
        """
        return self._call("GET", url_or_path, raw=True)

    # -- machinery ---------------------------------------------------------------------------
    def _is_api_url(self, url_or_path: str) -> bool:
        """Whether a request goes to the API itself: a path, or an absolute URL on the base URL's origin."""
        url = httpx.URL(url_or_path)
        if not url.is_absolute_url:
            return True
        base = self._http.base_url
        return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)

    def _call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool = True,
        raw: bool = False,
        params: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        uploads: Sequence[Upload] = (),
        json_part: bytes | None = None,
    ) -> Any:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1) | tenacity.stop_after_delay(self.retry_timeout),
            wait=self._backoff,
            retry=tenacity.retry_if_exception(lambda exc: _should_retry(exc, idempotent, self.max_retry_after)),
            sleep=self.clock.sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        for attempt in retrying:
            with attempt, ExitStack() as stack:
                files = None
                if uploads:
                    listener = upload_listener.get()  # a progress display counting the bytes sent
                    opened = [stack.enter_context(u.open()) for u in uploads]
                    if listener is not None:
                        opened = [CountingReader(f, listener) for f in opened]
                    files = [("file", (u.filename, f, u.content_type or "application/octet-stream"))
                             for u, f in zip(uploads, opened, strict=True)]
                    # Sent as a file part, as the official SDK does ("to match server expectations").
                    files.append(("json", ("request.json", json_part or b"{}", "application/json")))
                response = self._send(method, path, params=params, content=content, headers=headers, files=files)
                _raise_for_status(response, method, path)
                if raw:
                    return response.content
                try:
                    return orjson.loads(response.content)
                except orjson.JSONDecodeError:
                    raise errors.APIError(
                        f"{method} {path} answered {response.status_code} with a body that is not JSON: "
                        f"{response.text[:200]!r}; is the base URL ({self.base_url}) a Hume-compatible API?"
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers") or {})
        if self._is_api_url(path):  # never hand the key to another host (a signed storage URL, say)
            headers.setdefault("x-hume-api-key", self._api_key.reveal())
        return send(self._http, method, path, base_url=self.base_url, secret=self._api_key, limiter=self.limiter,
                    headers=headers, **kwargs)

    def _backoff(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        return exponential(state.attempt_number - 1, initial=self.wait_initial, maximum=self.wait_max, jitter=0.2)


def _should_retry(exc: BaseException, idempotent: bool, max_retry_after: float) -> bool:
    if isinstance(exc, errors.RateLimitError):
        # A 429 means the request was refused, so even a POST is safe to repeat.
        return exc.retry_after is None or exc.retry_after <= max_retry_after
    if isinstance(exc, errors.APIConnectionError):
        return idempotent or not getattr(exc, "request_sent", True)
    if isinstance(exc, errors.APIStatusError):
        return idempotent and (exc.status_code in (408, 409) or exc.status_code >= 500)
    return False


def _server_message(body: Any) -> str:
    if isinstance(body, dict):
        fault = body.get("fault")
        if isinstance(fault, dict):
            return str(fault.get("faultstring", ""))
        for key in ("message", "error", "detail"):
            if body.get(key):
                return str(body[key])
    return str(body)[:300] if body else ""


def _raise_for_status(response: httpx.Response, method: str, path: str) -> None:
    status = response.status_code
    if status < 400:
        return
    try:
        body: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = response.text[:500]
    server = _server_message(body)
    where = f"{method} {path} -> {status}"
    context = dict(status_code=status, body=body, request_id=response.headers.get("x-request-id"),
                   method=method, path=path)
    if status in (401, 403):
        raise errors.AuthenticationError(
            f"{where}: {server or 'unauthorized'}. Check HUME_API_KEY (or api_key=) for this base URL.", **context
        )
    route = httpx.URL(path).path.rstrip("/")
    if route.startswith("/v0/evi") and status == 410:
        from humekit.webhooks.evi import sunset_message

        raise errors.EVISunsetError(sunset_message(f"{where}: {server or 'gone'}"))
    if status == 404:
        if route in ("/v0/batch/jobs", "") or (method == "POST" and route.startswith("/v0/batch")):
            hint = ("This base URL does not serve the v0 batch API: Hume sunset it on 2026-06-14. Point "
                    "base_url (or HUME_BASE_URL) at a compatible endpoint, or use humekit.emulator.Emulator.")
        elif route.startswith("/v0/evi"):
            hint = ("Check the chat id. (Hume's own EVI ended on 2026-11-13 and its data is deleted: read chats "
                    "you exported before then with humekit.read_chat_events.)")
        else:
            hint = "Check the job or chat id."
        raise errors.NotFoundError(f"{where}: {server or 'not found'}. {hint}", **context)
    if status == 429:
        retry_after = retry_after_seconds(response)
        raise errors.RateLimitError(
            f"{where}: {server or 'rate limited'}. Retry after {retry_after if retry_after is not None else 'a while'} s.",
            retry_after=retry_after, **context,
        )
    if status >= 500:
        raise errors.ServerError(f"{where}: {server or 'server error'}. The API failed on its side; try again later.",
                                 **context)
    code = body.get("code") if isinstance(body, dict) else None
    if status == 413 or code in _LIMIT_CODES:
        raise errors.LimitExceededError(
            f"{where}: {server}. Split the job or shrink the file; do not resend the same payload.",
            limit=code if code in _LIMIT_CODES else None, **context,
        )
    raise errors.BadRequestError(f"{where}: {server or 'bad request'}. Fix the request as the message says.", **context)
