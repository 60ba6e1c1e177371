"""Tests for humekit.backends.v1.client: the SDK's multipart encoding, v1's error codes, retries and Retry-After."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from humekit import errors
from humekit.backends.v1.client import AUDIO_PATH, V1Client
from humekit.clock import VirtualClock

KEY = "v1-test-key-0123456789"
OK_AUDIO = {"request_id": "0" * 32, "run_id": "01926f3a-5b1c-7d2e-8f00-000000000000",
            "received": {"audio_duration_ms": 1000}, "utterances": [], "measurements": []}


def client(handler: Callable[[httpx.Request], httpx.Response], **options: object) -> tuple[V1Client, VirtualClock]:
    clock = VirtualClock()
    return V1Client(api_key=KEY, base_url="http://v1.test", transport=httpx.MockTransport(handler), clock=clock,
                    **options), clock  # type: ignore[arg-type]


def error(status: int, code: str | None, message: str = "no", headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"message": message} if code is None else {"type": "error", "code": code, "message": message,
                                                       "request_id": "f" * 32}
    return httpx.Response(status, json=body, headers=headers)


def test_audio_upload_is_encoded_as_the_official_sdk_encodes_it() -> None:
    """One `file` part without a filename, a `config` part of JSON with default separators, the key header."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=OK_AUDIO)

    v1, _ = client(handler)
    body = v1.measure_audio(b"RIFF....WAVE", config={"measurement_timer_ms": 5000})
    assert json.loads(body) == OK_AUDIO
    (request,) = seen
    assert request.url.path == AUDIO_PATH and request.headers["x-hume-api-key"] == KEY
    raw = request.read()
    assert b'name="config"\r\nContent-Type: application/json\r\n\r\n{"measurement_timer_ms": 5000}' in raw
    assert b'Content-Disposition: form-data; name="file"\r\nContent-Type: audio/wav\r\n\r\nRIFF....WAVE' in raw


def test_images_go_as_one_jpeg_part_each_in_order() -> None:
    """measure_images sends every image as its own `file` part, in the order given."""
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.read())
        return httpx.Response(200, json={"request_id": "0" * 32, "run_id": "r", "received": {"frames": 2},
                                         "measurements": []})

    v1, _ = client(handler)
    v1.measure_images([b"\xff\xd8first", b"\xff\xd8second"], config={"face": {"return_face_state": True}})
    raw = seen[0]
    assert raw.count(b'name="file"') == 2 and raw.index(b"first") < raw.index(b"second")
    assert raw.count(b"Content-Type: image/jpeg") == 2


@pytest.mark.parametrize(("status", "code", "kind"), [
    (413, "audio_too_long", errors.LimitExceededError),
    (413, "image_too_large", errors.LimitExceededError),
    (415, "unsupported_media_type", errors.PayloadRefusedError),
    (400, "audio_decode_failed", errors.PayloadRefusedError),
    (400, "image_decode_failed", errors.PayloadRefusedError),
    (400, "config_invalid", errors.PayloadRefusedError),
    (400, "message_invalid", errors.PayloadRefusedError),
    (401, None, errors.AuthenticationError),
    (403, "forbidden", errors.AuthenticationError),
    (404, "not_found", errors.NotFoundError),
])
def test_each_refusal_is_raised_once_with_its_code_and_request_id(status: int, code: str | None,
                                                                 kind: type[Exception]) -> None:
    """A refusal is not retried; its error says the status, v1's code, the request id and what to do."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return error(status, code, "the server's own words")

    v1, _ = client(handler)
    with pytest.raises(kind) as raised:
        v1.measure_audio(b"\x00\x00")
    assert len(calls) == 1
    text = str(raised.value)
    assert f"-> {status}" in text and "the server's own words" in text and KEY not in text
    if code is not None:
        assert code in text and "f" * 32 in text
    if isinstance(raised.value, errors.PayloadRefusedError):
        assert raised.value.code == code and "will not send it again" in text


@pytest.mark.parametrize("first", [
    error(503, "server_busy", headers={"retry-after": "7"}),
    error(503, "server_busy"),
    error(500, "internal_error"),
    error(429, None, "API rate limit exceeded"),
])
def test_busy_failing_or_rate_limited_answers_are_retried(first: httpx.Response) -> None:
    """503 (with or without Retry-After), 500 and a gateway 429 with no code are retried, then succeed."""
    answers = [first, httpx.Response(200, json=OK_AUDIO)]
    v1, clock = client(lambda request: answers.pop(0))
    started = clock.time()
    assert json.loads(v1.measure_audio(b"\x00\x00")) == OK_AUDIO
    waited = clock.time() - started
    assert waited == 7 if "retry-after" in first.headers else 0 < waited < 7  # the server's wait, or the backoff


def test_a_dropped_connection_is_retried() -> None:
    """A connection dropped mid-answer is tried again."""
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) == 1:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        return httpx.Response(200, json=OK_AUDIO)

    v1, _ = client(handler)
    v1.measure_audio(b"\x00\x00")
    assert len(attempts) == 2


def test_retries_end_with_the_last_error() -> None:
    """When every attempt is busy the ServerError is raised after max_retries retries, naming what to do."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return error(503, "server_busy")

    v1, _ = client(handler, max_retries=2)
    with pytest.raises(errors.ServerError, match="run the same call again later"):
        v1.measure_audio(b"\x00\x00")
    assert len(calls) == 3


def test_a_malformed_2xx_is_an_error_not_an_answer() -> None:
    """A 200 whose body is not JSON is refused (nothing would be stored from it)."""
    v1, _ = client(lambda request: httpx.Response(200, content=b"<html>gateway</html>"))
    with pytest.raises(errors.APIError, match="not JSON"):
        v1.measure_audio(b"\x00\x00")


@pytest.mark.parametrize("body", [{"request_id": "0" * 32, "note": "no fields"}, [], {**OK_AUDIO, "run_id": None},
                                  {**OK_AUDIO, "measurements": None}])
def test_a_2xx_json_that_is_not_v1s_response_is_an_error_not_an_answer(body: object) -> None:
    """A 200 of JSON without run_id and a measurements list is refused (a row would be ok with no scores)."""
    v1, _ = client(lambda request: httpx.Response(200, json=body))
    with pytest.raises(errors.APIError, match="not v1's response"):
        v1.measure_audio(b"\x00\x00")


def test_the_timeout_grows_with_the_body() -> None:
    """A 20 MB upload gets a longer timeout than an empty one."""
    timeouts: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"]["read"])
        return httpx.Response(200, json=OK_AUDIO)

    v1, _ = client(handler, timeout=30.0, seconds_per_megabyte=2.0)
    v1.measure_audio(b"")
    v1.measure_audio(b"\x00" * 20_000_000)
    assert timeouts == [30.0, 70.0]


def test_the_key_is_never_shown() -> None:
    """The client's repr hides the key."""
    v1, _ = client(lambda request: httpx.Response(200, json=OK_AUDIO))
    assert KEY not in repr(v1) and "********" in repr(v1)
