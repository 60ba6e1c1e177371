"""The HTTP client for Hume's v1 Expression Measurement API (``https://api.cloud.hume.ai``, or the v1 emulator).

One synchronous multipart upload per request, the measurements only in the response: audio as one
``file`` part (16 kHz mono s16 WAV or headerless PCM), images as one JPEG ``file`` part each, an
optional JSON ``config`` part, encoded as the official SDK encodes them. Errors carry v1's ``code``
(``audio_too_long``, ``unsupported_media_type``, ...) and ``request_id``. Retries, with exponential
backoff and jitter or the server's ``Retry-After``, cover what the SDK retries: 503 ``server_busy``,
other 5xx, a gateway 429 and a dropped connection. Each request's timeout grows with its body. A 2xx upload
answer that is not v1's response (not JSON, or JSON without ``run_id`` and ``measurements``) is an error, never
an answer: nothing is stored from it, and the same call sends the request again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
import orjson
import tenacity

from humekit import errors
from humekit._internal.backoff import exponential
from humekit.backends._http import Limiter, http_client, log_retry, retry_after_seconds, send
from humekit.clock import Clock, SystemClock
from humekit.config import DEFAULT_V1_BASE_URL, Secret, resolve_api_key, resolve_base_url

__all__ = ["AUDIO_PATH", "IMAGES_PATH", "V1Client"]

AUDIO_PATH = "/v1/expression/audio/file"
IMAGES_PATH = "/v1/expression/video/file"
RUNS_PATH = "/v1/expression/run"

#: v1 codes that say the payload itself is refused (sending the same bytes again cannot succeed).
_REFUSED_CODES = frozenset({"audio_too_long", "image_too_large", "unsupported_media_type", "audio_decode_failed",
                            "image_decode_failed", "message_invalid", "config_invalid", "invalid_request"})
_WHAT_TO_DO = {
    "audio_too_long": "humekit cuts recordings into windows under the limit, so report this as a humekit bug",
    "image_too_large": "humekit re-encodes images under the limit, so report this as a humekit bug",
    "unsupported_media_type": "the file could not be converted to what v1 takes; re-encode it (WAV, MP3, MP4, JPEG...)",
    "audio_decode_failed": "the server could not read the converted audio; check that the file plays",
    "image_decode_failed": "the server could not read an image; check that the file opens",
    "config_invalid": "an option humekit sent is not accepted; report this as a humekit bug",
    "message_invalid": "the request could not be read; report this as a humekit bug",
}


class V1Client:
    """A client for the v1 Expression Measurement API.

    Args:
        api_key: defaults to ``HUME_API_KEY`` from the environment or a ``.env`` file.
        base_url: defaults to ``HUME_BASE_URL``, else ``https://api.cloud.hume.ai``.
        timeout: seconds for a request with no body; each megabyte sent adds ``seconds_per_megabyte``.
        max_retries: retries after the first attempt for 5xx, a gateway 429 and dropped connections.
        wait_initial, wait_max: exponential backoff (±20 % jitter) when the server names no wait.
        max_retry_after: a ``Retry-After`` longer than this is not waited for: the error is raised.
        transport: an ``httpx`` transport (e.g. the v1 emulator's in-process one).
        clock: where retries sleep.
        limiter: makes what each request holds while it is in flight (never while a retry waits), e.g. a lease
            of a cluster-wide cap (:func:`humekit.measure_distributed`'s ``max_in_flight``); none by default.
    """

    def __init__(
        self,
        *,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        seconds_per_megabyte: float = 4.0,
        max_retries: int = 4,
        wait_initial: float = 1.0,
        wait_max: float = 60.0,
        max_retry_after: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        limiter: Limiter | None = None,
    ):
        self._api_key = resolve_api_key(api_key, offline="the v1 emulator, humekit.emulator.v1.V1Emulator() "
                                        "(V1Client(api_key=emu.api_key, base_url=emu.url))")
        self.base_url = resolve_base_url(base_url, default=DEFAULT_V1_BASE_URL)
        self.timeout = timeout
        self.seconds_per_megabyte = seconds_per_megabyte
        self.max_retries = max_retries
        self.wait_initial = wait_initial
        self.wait_max = wait_max
        self.max_retry_after = max_retry_after
        self.clock: Clock = clock or SystemClock()
        self.limiter = limiter
        self._http = http_client(base_url=self.base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> V1Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<humekit V1Client base_url={self.base_url!r} api_key=Secret('********')>"

    # -- the routes ----------------------------------------------------------------------------
    def measure_audio(self, audio: bytes, *, config: Mapping[str, Any] | None = None,
                      content_type: str = "audio/wav", on_lost: Callable[[], None] | None = None) -> bytes:
        """POST one audio upload; the response body (``AudioFileResponse``) exactly as it came.

        ``on_lost`` is called for every attempt whose answer was lost after the request was sent (the
        server may have measured and billed it): a retry pays again, and the caller can count it.
        """
        return self._upload(AUDIO_PATH, [audio], content_type, config, on_lost)

    def measure_images(self, images: Sequence[bytes], *, config: Mapping[str, Any] | None = None,
                       on_lost: Callable[[], None] | None = None) -> bytes:
        """POST JPEG images (one ``file`` part each, in order); the ``VideoFileResponse`` as it came."""
        return self._upload(IMAGES_PATH, list(images), "image/jpeg", config, on_lost)

    def list_runs(self, **params: Any) -> dict[str, Any]:
        """GET the runs (newest first): ``page_size``, ``cursor``, ``status``, ``mode``, ``endpoint``,
        ``started_after`` (inclusive), ``started_before`` (exclusive)."""
        return dict(orjson.loads(self._call("GET", RUNS_PATH, params={k: v for k, v in params.items() if v is not None})))

    def get_run(self, run_id: str) -> dict[str, Any]:
        """GET one run: its status, metered seconds and configuration (never its measurements)."""
        return dict(orjson.loads(self._call("GET", f"{RUNS_PATH}/{run_id}")))

    # -- plumbing ------------------------------------------------------------------------------
    def _upload(self, path: str, parts: list[bytes], content_type: str, config: Mapping[str, Any] | None,
                on_lost: Callable[[], None] | None) -> bytes:
        files: list[tuple[str, tuple[str | None, bytes, str]]] = []
        if config:  # as the SDK sends it: json.dumps with its default separators, no filename
            files.append(("config", (None, json.dumps(dict(config)).encode(), "application/json")))
        files += [("file", (None, part, content_type)) for part in parts]
        size = sum(len(part) for part in parts)
        timeout = self.timeout + self.seconds_per_megabyte * size / 1_000_000
        answer = self._call("POST", path, files=files, timeout=timeout, on_lost=on_lost)
        body = orjson.loads(answer)
        if not (isinstance(body, dict) and isinstance(body.get("run_id"), str)
                and isinstance(body.get("measurements"), list)):
            fields = sorted(body) if isinstance(body, dict) else type(body).__name__
            raise errors.APIError(
                f"POST {path} answered 2xx with JSON that is not v1's response (no run_id and measurements list; "
                f"fields: {fields}); is {self.base_url} Hume's v1 API? Nothing was stored; run the same call again"
            )
        return answer

    def _call(self, method: str, path: str, *, timeout: float | None = None,
              on_lost: Callable[[], None] | None = None, **kwargs: Any) -> bytes:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._backoff,
            retry=tenacity.retry_if_exception(self._should_retry),
            sleep=self.clock.sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        headers = {"x-hume-api-key": self._api_key.reveal()}
        for attempt in retrying:
            with attempt:
                try:
                    response = send(self._http, method, path, base_url=self.base_url, secret=self._api_key,
                                    limiter=self.limiter, headers=headers, timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                                    **kwargs)
                except errors.APIConnectionError as exc:
                    if exc.request_sent and on_lost is not None:
                        on_lost()  # the server may have measured (and billed) it
                    raise
                _raise_for_status(response, method, path)
                try:
                    orjson.loads(response.content)
                except orjson.JSONDecodeError:
                    raise errors.APIError(
                        f"{method} {path} answered {response.status_code} with a body that is not JSON "
                        f"({len(response.content)} bytes); is {self.base_url} Hume's v1 API? Nothing was stored; "
                        "run the same call again"
                    ) from None
                return response.content
        raise AssertionError("unreachable")  # pragma: no cover

    def _should_retry(self, exc: BaseException) -> bool:
        if isinstance(exc, errors.RateLimitError):
            return exc.retry_after is None or exc.retry_after <= self.max_retry_after
        if isinstance(exc, errors.APITimeoutError):
            return False  # a read timeout is not retried (as in the SDK): the server may still be measuring
        return isinstance(exc, errors.APIConnectionError | errors.ServerError)

    def _backoff(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_retry_after)
        return exponential(state.attempt_number - 1, initial=self.wait_initial, maximum=self.wait_max, jitter=0.2)


def _raise_for_status(response: httpx.Response, method: str, path: str) -> None:
    """v1's error bodies (``{type, code, message, request_id}``; 401: ``{message, request_id?}``) as humekit errors."""
    status = response.status_code
    if status < 400:
        return
    try:
        body: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = response.text[:500]
    fields = body if isinstance(body, dict) else {}
    code = fields.get("code") if isinstance(fields.get("code"), str) else None
    request_id = fields.get("request_id") if isinstance(fields.get("request_id"), str) else None
    server = str(fields.get("message") or body or "").strip()[:300]
    where = f"{method} {path} -> {status}" + (f" {code}" if code else "") + (f" (request {request_id})" if request_id else "")
    context: dict[str, Any] = dict(status_code=status, body=body, request_id=request_id, method=method, path=path)
    retry_after = retry_after_seconds(response)
    if status in (401, 403):
        raise errors.AuthenticationError(f"{where}: {server or 'unauthorized'}. Check HUME_API_KEY (or api_key=): "
                                         "it must be a key for Hume's v1 Expression Measurement API.", **context)
    if status == 404 and method == "POST":
        raise errors.NotFoundError(f"{where}: {server or 'not found'}. This base URL does not serve Hume's v1 API; "
                                   "leave base_url/HUME_BASE_URL unset for https://api.cloud.hume.ai.", **context)
    if status == 404:
        raise errors.NotFoundError(f"{where}: {server or 'not found'}. Check the run id.", **context)
    if status == 429:
        raise errors.RateLimitError(f"{where}: {server or 'rate limited'}. Lower concurrency= or try again later.",
                                    retry_after=retry_after, **context)
    if status >= 500:
        raise errors.ServerError(f"{where}: {server or 'server error'}. The API failed on its side (or is busy); "
                                 "run the same call again later: answers already stored are kept.",
                                 retry_after=retry_after, **context)
    if status in (400, 413, 415) and (code in _REFUSED_CODES or code is None):
        hint = _WHAT_TO_DO.get(code or "", "fix the input as the message says")
        kind = errors.LimitExceededError if status == 413 else errors.PayloadRefusedError
        extra: dict[str, Any] = {"limit": code} if kind is errors.LimitExceededError else {}
        raise kind(f"{where}: {server}. humekit will not send it again: {hint}.", code=code, **extra, **context)
    raise errors.BadRequestError(f"{where}: {server or 'bad request'}. Fix the request as the message says.", **context)
