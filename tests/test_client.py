"""Tests for humekit.backends.v0.client: configuration, the five endpoints, error mapping and retries."""

from __future__ import annotations

import hashlib
import logging
import time

import httpx
import pytest

import humekit
from humekit.backends.v0.client import Client
from humekit.clock import VirtualClock
from humekit.emulator import Emulator, Faults, Schedule
from humekit.backends.v0.jobs import Upload


class SleepLog(VirtualClock):
    """A virtual clock that remembers every sleep."""

    def __init__(self) -> None:
        super().__init__(start=1_750_000_000.0)
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        super().sleep(seconds)


def test_api_key_from_environment(monkeypatch):
    """HUME_API_KEY is used when no key is passed."""
    monkeypatch.setenv("HUME_API_KEY", "env-key")
    emu = Emulator(api_key="env-key")
    client = Client(base_url=emu.url, transport=emu.transport())
    assert client.list_jobs() == []


def test_api_key_from_dotenv(tmp_path, monkeypatch):
    """A .env file in the working directory supplies HUME_API_KEY and HUME_BASE_URL."""
    (tmp_path / ".env").write_text("HUME_API_KEY=dotenv-key\nHUME_BASE_URL=http://example.invalid\n")
    monkeypatch.chdir(tmp_path)
    from humekit.config import _dotenv

    _dotenv.cache_clear()
    client = Client()
    assert client.base_url == "http://example.invalid"
    assert client._api_key.reveal() == "dotenv-key"
    _dotenv.cache_clear()


def test_missing_api_key_says_what_to_do(tmp_path, monkeypatch):
    """Without any key the error names HUME_API_KEY, api_key= and the emulator."""
    monkeypatch.chdir(tmp_path)
    from humekit.config import _dotenv

    _dotenv.cache_clear()
    with pytest.raises(humekit.ConfigurationError, match="HUME_API_KEY.*api_key=.*Emulator"):
        Client()


def test_bad_base_url_is_a_configuration_error():
    """A base URL without http(s) is refused up front."""
    with pytest.raises(humekit.ConfigurationError, match="not an http"):
        Client(api_key="k", base_url="api.hume.ai")


def test_repr_never_shows_the_key():
    """The client's repr hides the API key."""
    client = Client(api_key="sk-very-secret-123", base_url="http://x.invalid")
    assert "sk-very-secret-123" not in repr(client)
    assert "********" in repr(client)


def test_wrong_key_raises_authentication_error_without_the_key(emulator):
    """A 401 becomes AuthenticationError; neither message nor repr contain the key."""
    client = Client(api_key="sk-wrong-key-999", base_url=emulator.url, transport=emulator.transport())
    with pytest.raises(humekit.AuthenticationError) as info:
        client.list_jobs()
    assert info.value.status_code == 401
    assert "Invalid ApiKey" in str(info.value)
    assert "sk-wrong-key-999" not in str(info.value) + repr(info.value) + repr(info.value.body)


def test_start_job_and_read_details(emulator, clock):
    """A JSON job moves QUEUED -> IN_PROGRESS -> COMPLETED as the clock advances."""
    client = emulator.client()
    job_id = client.start_job(text=["I am happy."], models={"language": {}})
    assert client.get_job(job_id).status == "QUEUED"
    clock.advance(1.5)
    assert client.get_job(job_id).status == "IN_PROGRESS"
    clock.advance(2)
    details = client.get_job(job_id)
    assert details.status == "COMPLETED" and details.terminal
    assert details.created_ms < details.started_ms < details.ended_ms
    assert details.request["text"] == ["I am happy."]


def test_uploads_stream_from_disk_with_md5(emulator, tmp_path):
    """A multipart upload from a path is echoed with its filename and md5sum."""
    path = tmp_path / "take1.wav"
    path.write_bytes(b"RIFF" + bytes(range(256)) * 10)
    client = emulator.client()
    job_id = client.start_job(files=[Upload.from_path(path, filename="row-7__take1.wav")], models={"prosody": {}})
    files = client.get_job(job_id).request["files"]
    assert files == [
        {"filename": "row-7__take1.wav", "md5sum": hashlib.md5(path.read_bytes()).hexdigest(), "content_type": "audio/x-wav"}
    ]


def test_not_found_and_bad_job_id(emulator):
    """An unknown UUID is NotFoundError; a non-UUID id is BadRequestError."""
    client = emulator.client()
    with pytest.raises(humekit.NotFoundError, match="job not found"):
        client.get_job("00000000-0000-4000-8000-000000000000")
    with pytest.raises(humekit.BadRequestError, match="not a UUID"):
        client.get_job("not-a-uuid")


def test_limit_rejection_is_limit_exceeded_error(emulator):
    """101 URLs are rejected with LimitExceededError naming the limit."""
    client = emulator.client()
    with pytest.raises(humekit.LimitExceededError) as info:
        client.start_job(urls=[f"https://example.org/{i}.wav" for i in range(101)], models={"prosody": {}})
    assert info.value.limit == "max_urls_per_job"
    assert "do not resend" in str(info.value)


def test_get_retries_5xx_with_backoff():
    """A GET answered 5xx is retried with growing, jittered waits."""
    clock = SleepLog()
    emu = Emulator(api_key="k", clock=clock, faults=Faults(server_error_rate=0.7, seed=3))
    client = Client(api_key="k", base_url=emu.url, transport=emu.transport(), clock=clock, max_retries=10)
    assert client.list_jobs() == []
    failures = [r for r in emu.requests if r.status and r.status >= 500]
    assert len(failures) == len(clock.sleeps) >= 1
    assert all(0.8 <= s for s in clock.sleeps)
    if len(clock.sleeps) >= 2:
        assert clock.sleeps[1] > clock.sleeps[0] * 1.3


def test_retry_after_is_honoured():
    """A 429's Retry-After sets the wait before the retry."""
    clock = SleepLog()
    emu = Emulator(api_key="k", clock=clock, faults=Faults(rate_limit_rate=0.5, retry_after=7, seed=1))
    client = Client(api_key="k", base_url=emu.url, transport=emu.transport(), clock=clock, max_retries=20)
    for _ in range(5):
        client.list_jobs()
    assert clock.sleeps and all(s == 7 for s in clock.sleeps)


@pytest.mark.parametrize(
    ("headers", "low", "high"),
    [({"retry-after-ms": "2500"}, 2.5, 2.5), ({"retry-after": "4"}, 4, 4), ({"x-ratelimit-reset": "+12"}, 11, 12)],
)
def test_rate_limit_delay_headers_in_the_sdks_order(headers, low, high):
    """retry-after-ms, then Retry-After, then X-RateLimit-Reset (a Unix time) set the wait, as in the official SDK."""
    answers = iter([429, 200])
    sent = {k: (str(time.time() + 12) if v == "+12" else v) for k, v in headers.items()}

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(status, json=[] if status == 200 else {"message": "slow down"},
                              headers=sent if status == 429 else {})

    clock = SleepLog()
    client = Client(api_key="k", base_url="https://api.example.com", transport=httpx.MockTransport(handler),
                    clock=clock)
    client.list_jobs()
    assert len(clock.sleeps) == 1 and low <= clock.sleeps[0] <= high


def test_retry_after_over_the_cap_raises_rate_limit_error():
    """A Retry-After longer than max_retry_after is raised with .retry_after, not waited for."""
    emu = Emulator(api_key="k", faults=Faults(rate_limit_rate=1.0, retry_after=600))
    client = Client(api_key="k", base_url=emu.url, transport=emu.transport(), clock=SleepLog())
    with pytest.raises(humekit.RateLimitError) as info:
        client.list_jobs()
    assert info.value.retry_after == 600


def test_post_is_not_retried_after_a_server_error():
    """A POST answered 5xx is raised at once: the job ledger decides, not blind retries."""
    clock = SleepLog()
    emu = Emulator(api_key="k", clock=clock, faults=Faults(server_error_rate=1.0))
    client = Client(api_key="k", base_url=emu.url, transport=emu.transport(), clock=clock)
    with pytest.raises(humekit.ServerError, match="try again later"):
        client.start_job(text=["hi"], models={"language": {}})
    assert [r.method for r in emu.requests] == ["POST"]


def test_post_is_retried_after_429():
    """A 429 proves nothing was created, so the POST is repeated."""
    clock = SleepLog()
    emu = Emulator(api_key="k", clock=clock, faults=Faults(rate_limit_rate=0.5, seed=2))
    client = Client(api_key="k", base_url=emu.url, transport=emu.transport(), clock=clock, max_retries=20)
    for _ in range(4):
        client.start_job(text=["hi"], models={"language": {}})
    assert len(emu.jobs) == 4
    assert any(r.status == 429 for r in emu.requests)


def test_lost_response_is_a_connection_error_and_not_retried():
    """When the POST's response is lost the job exists, and the client does not POST again."""
    emu = Emulator(api_key="k", faults=Faults(lost_response_rate=1.0))
    client = Client(api_key="k", base_url=emu.url, transport=emu.transport(), clock=SleepLog())
    with pytest.raises(humekit.APIConnectionError, match="without a response"):
        client.start_job(text=["hi"], models={"language": {}})
    assert len(emu.jobs) == 1
    assert [r.job_id for r in emu.requests] == [emu.jobs[0].job_id]


def test_refused_connection_on_post_is_retried():
    """A refused connection (nothing listening) proves the POST never arrived, so it is retried."""
    clock = SleepLog()
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    client = Client(api_key="k", base_url="http://127.0.0.1:9", transport=httpx.MockTransport(refuse),
                    clock=clock, max_retries=2)
    with pytest.raises(humekit.APIConnectionError):
        client.start_job(text=["hi"], models={"language": {}})
    assert len(calls) == 3 and len(clock.sleeps) == 2


def test_the_key_goes_only_to_the_api_origin():
    """Paths and same-origin URLs carry the key; a signed URL on another host (or port) never gets it."""
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("x-hume-api-key")))
        return httpx.Response(200, content=b"ok")

    client = Client(api_key="sk-canary", base_url="https://api.example.com", transport=httpx.MockTransport(handler))
    client.get_bytes("/v0/evi/chats")
    client.get_bytes("https://api.example.com/media/x.wav")
    client.get_bytes("https://storage.example.net/audio.wav?X-Goog-Signature=abc")
    client.get_bytes("https://api.example.com:8443/other")
    assert [key for _, key in seen] == ["sk-canary", "sk-canary", None, None]


def test_debug_logging_never_shows_the_key(caplog):
    """Debug logs of requests and retries carry no API key."""
    clock = SleepLog()
    emu = Emulator(api_key="sk-log-secret-42", clock=clock, faults=Faults(server_error_rate=0.5, seed=5))
    client = Client(api_key="sk-log-secret-42", base_url=emu.url, transport=emu.transport(), clock=clock,
                    max_retries=10)
    with caplog.at_level(logging.DEBUG):
        client.list_jobs()
        client.start_job(text=["x"], models={"language": {}})
    assert caplog.records
    assert "sk-log-secret-42" not in caplog.text


def test_list_jobs_filters(emulator, clock):
    """list_jobs passes status (repeated), limit, when/timestamp_ms, sort_by and direction."""
    client = emulator.client()
    first = client.start_job(text=["a"], models={"language": {}})
    clock.advance(5)
    second = client.start_job(text=["b"], models={"language": {}})
    assert [j.job_id for j in client.list_jobs()] == [second, first]
    assert [j.job_id for j in client.list_jobs(direction="asc")] == [first, second]
    assert [j.job_id for j in client.list_jobs(status="COMPLETED")] == [first]
    assert len(client.list_jobs(status=["COMPLETED", "QUEUED"])) == 2
    assert [j.job_id for j in client.list_jobs(limit=1)] == [second]
    cut = client.get_job(second).created_ms
    assert [j.job_id for j in client.list_jobs(when="created_before", timestamp_ms=cut)] == [first]
    assert [j.job_id for j in client.list_jobs(when="created_after", timestamp_ms=cut - 1)] == [second]
    assert [j.job_id for j in client.list_jobs(sort_by="ended", direction="asc")] == [first, second]


def test_served_emulator_over_real_http(served_emulator):
    """The client works over real loopback HTTP too."""
    client = Client(api_key=served_emulator.api_key, base_url=served_emulator.url)
    job_id = client.start_job(text=["Hello there."], models={"language": {}})
    assert client.get_job(job_id).job_id == job_id


def test_schedule_is_reported_in_repr():
    """Reprs say the emulator's scores are synthetic."""
    assert "synthetic" in repr(Emulator(schedule=Schedule(queued=0, running=0)))


def test_a_404_on_the_jobs_endpoint_names_the_sunset():
    """POST /v0/batch/jobs answered 404 says the base URL does not serve v0; a job 404 asks for the id."""
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"message": "Not Found"})

    client = Client(api_key="k", base_url="https://api.example.com", transport=httpx.MockTransport(handler))
    with pytest.raises(humekit.NotFoundError, match="sunset it on 2026-06-14"):
        client.start_job(urls=["https://example.com/a.mp4"], models={"face": {}})
    with pytest.raises(humekit.NotFoundError, match="Check the job or chat id"):
        client.get_job("abc")
