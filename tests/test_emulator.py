"""Tests for humekit.emulator: endpoints, auth, submissions, schedule, list, limits, faults, callbacks."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import time
import uuid

import httpx
import pytest

import humekit.backends.v0.jobs

from humekit.clock import VirtualClock
from humekit.emulator import Emulator, Faults, Schedule
from humekit.backends.v0.limits import DEFAULT_LIMITS
from humekit.testing.synthetic import make_wav

KEY = {"X-Hume-Api-Key": "test-key"}
JOBS = "/v0/batch/jobs"


def http(emu: Emulator) -> httpx.Client:
    """A raw httpx client on the emulator's in-process transport."""
    return httpx.Client(base_url=emu.url, transport=emu.transport(), headers=KEY)


def submit_text(api: httpx.Client, *texts: str, **extra) -> str:
    response = api.post(JOBS, json={"text": list(texts), "models": {"language": {}}, **extra})
    assert response.status_code == 200, response.text
    return response.json()["job_id"]


# -- auth --------------------------------------------------------------------------------------
def test_missing_key_gets_apigee_fault(emulator):
    """No X-Hume-Api-Key: 401 with Apigee's FailedToResolveAPIKey fault body."""
    response = httpx.Client(base_url=emulator.url, transport=emulator.transport()).get(JOBS)
    assert response.status_code == 401
    assert response.json()["fault"]["detail"]["errorcode"] == "steps.oauth.v2.FailedToResolveAPIKey"


def test_wrong_key_gets_invalid_api_key(emulator):
    """A wrong key: 401 with faultstring 'Invalid ApiKey' as the legacy SDK checks."""
    response = httpx.Client(base_url=emulator.url, transport=emulator.transport()).get(
        JOBS, headers={"X-Hume-Api-Key": "nope"}
    )
    assert response.status_code == 401
    fault = response.json()["fault"]
    assert fault["faultstring"] == "Invalid ApiKey" and "InvalidApiKey" in fault["detail"]["errorcode"]


def test_bearer_token_is_accepted(emulator):
    """Authorization: Bearer <key> works as well (FERN marks the multipart endpoint BearerAuth)."""
    response = httpx.Client(base_url=emulator.url, transport=emulator.transport()).get(
        JOBS, headers={"Authorization": "Bearer test-key"}
    )
    assert response.status_code == 200 and response.json() == []


# -- submissions -------------------------------------------------------------------------------
def test_json_submission_echoes_request_with_defaults(emulator):
    """Job details echo the request: every model with its defaults, null for those not asked for."""
    api = http(emulator)
    job_id = submit_text(api, "Hello.", callback_url="https://example.org/cb?run=1", notify=True)
    uuid.UUID(job_id)
    details = api.get(f"{JOBS}/{job_id}").json()
    assert list(details) == ["job_id", "request", "state", "type"]
    assert details["type"] == "INFERENCE"
    request = details["request"]
    assert list(request) == sorted(request)
    assert request["models"]["language"] == {
        "granularity": "word", "identify_speakers": False, "sentiment": None, "toxicity": None
    }
    assert request["models"]["face"] is None and request["models"]["prosody"] is None
    assert request["callback_url"] == "https://example.org/cb?run=1" and request["notify"] is True
    assert request["files"] == [] and request["urls"] == [] and request["text"] == ["Hello."]


def test_models_default_to_all_six(emulator):
    """Without 'models' every model runs, as the API documents."""
    api = http(emulator)
    job_id = api.post(JOBS, json={"text": ["x"]}).json()["job_id"]
    models = api.get(f"{JOBS}/{job_id}").json()["request"]["models"]
    assert sorted(models) == ["burst", "face", "facemesh", "language", "ner", "prosody"]
    assert all(v is not None for v in models.values())
    assert models["face"]["fps_pred"] == 3 and models["prosody"]["granularity"] == "utterance"


@pytest.mark.parametrize("as_file", [False, True], ids=["json-form-field", "json-file-part"])
def test_multipart_accepts_both_json_encodings(emulator, as_file):
    """The json part is accepted as a plain form field (raw client, curl) and as a file part (HumeClient)."""
    api = http(emulator)
    config = json.dumps({"models": {"prosody": {"granularity": "word"}}})
    files = [("file", ("a.wav", b"RIFF....WAVEfmt ", "audio/wav")), ("file", ("b.png", b"\x89PNG\r\n", "image/png"))]
    if as_file:
        response = api.post(JOBS, files=[*files, ("json", ("upload", config.encode(), "application/octet-stream"))])
    else:
        response = api.post(JOBS, files=files, data={"json": config})
    assert response.status_code == 200, response.text
    request = api.get(f"{JOBS}/{response.json()['job_id']}").json()["request"]
    assert request["models"]["prosody"]["granularity"] == "word"
    assert request["files"] == [
        {"filename": "a.wav", "md5sum": hashlib.md5(b"RIFF....WAVEfmt ").hexdigest(), "content_type": "audio/wav"},
        {"filename": "b.png", "md5sum": hashlib.md5(b"\x89PNG\r\n").hexdigest(), "content_type": "image/png"},
    ]


def test_multipart_without_json_runs_all_models(emulator):
    """A multipart upload with no json part runs every model."""
    api = http(emulator)
    response = api.post(JOBS, files=[("file", ("a.wav", b"abc", "audio/wav"))])
    models = api.get(f"{JOBS}/{response.json()['job_id']}").json()["request"]["models"]
    assert all(v is not None for v in models.values())


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"text": ["x"], "models": {"emotion": {}}}', "Unknown model"),
        (b'{"text": ["x"], "models": {"prosody": {"granularity": "paragraph"}}}', "is not one of"),
        (b'{"text": ["x"], "models": {"face": {"fps_pred": -1}}}', "fps_pred"),
        (b'{"text": ["x"], "models": {"face": {"prob_threshold": 2}}}', "prob_threshold"),
        (b'{"text": ["x"], "models": {"prosody": {"window": {"length": 0.1}}}}', "window.length"),
        (b'{"text": ["x"], "models": {"language": {"granularty": "word"}}}', "Unknown option"),
        (b'{"text": ["x"], "transcription": {"language": "xx"}}', "BCP-47"),
        (b'{"urls": ["ftp://x/a.wav"], "models": {"prosody": {}}}', "not an http"),
        (b'{"text": "just a string"}', "list of strings"),
        (b'{"models": {"prosody": {}}}', "Nothing to measure"),
        (b'{"text": ["x"], "colour": "blue"}', "Unknown request field"),
    ],
)
def test_bad_submissions_get_a_clear_400(emulator, body, fragment):
    """Malformed JSON, unknown models, bad granularity and friends: 400 with a message naming the problem."""
    response = http(emulator).post(JOBS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert fragment in response.json()["message"]
    assert emulator.jobs == []


def test_unsupported_content_type_is_415(emulator):
    """A body that is neither JSON nor multipart is refused with the fix in the message."""
    response = http(emulator).post(JOBS, content=b"x", headers={"content-type": "text/plain"})
    assert response.status_code == 415 and "multipart/form-data" in response.json()["message"]


def test_non_uuid_and_unknown_job_ids(emulator):
    """A non-UUID job id is 400; an unknown UUID is 404 {"message": "job not found"}."""
    api = http(emulator)
    assert api.get(f"{JOBS}/123").status_code == 400
    for suffix in ("", "/predictions", "/artifacts"):
        response = api.get(f"{JOBS}/{uuid.uuid4()}{suffix}")
        assert response.status_code == 404 and response.json() == {"message": "job not found"}


# -- schedule ----------------------------------------------------------------------------------
def test_states_and_millisecond_timestamps(emulator, clock):
    """QUEUED, IN_PROGRESS and COMPLETED carry the documented timestamp fields in ms."""
    api = http(emulator)
    job_id = submit_text(api, "a")
    state = api.get(f"{JOBS}/{job_id}").json()["state"]
    assert state == {"created_timestamp_ms": int(clock.time() * 1000), "status": "QUEUED"}
    clock.advance(1.0)
    state = api.get(f"{JOBS}/{job_id}").json()["state"]
    assert state["status"] == "IN_PROGRESS" and state["started_timestamp_ms"] - state["created_timestamp_ms"] == 1000
    clock.advance(2.0)
    state = api.get(f"{JOBS}/{job_id}").json()["state"]
    assert state["status"] == "COMPLETED" and state["ended_timestamp_ms"] - state["started_timestamp_ms"] == 2000
    assert state["num_predictions"] >= 1 and state["num_errors"] == 0


def test_predictions_and_artifacts_wait_for_completion(emulator, clock):
    """Predictions of a running job are a 400 that says to wait."""
    api = http(emulator)
    job_id = submit_text(api, "a")
    response = api.get(f"{JOBS}/{job_id}/predictions")
    assert response.status_code == 400 and "Wait until it is COMPLETED" in response.json()["message"]
    clock.advance(3)
    assert api.get(f"{JOBS}/{job_id}/predictions").status_code == 200
    artifacts = api.get(f"{JOBS}/{job_id}/artifacts")
    assert artifacts.status_code == 200 and artifacts.content[:2] == b"PK"


def test_long_schedule(clock):
    """A long schedule keeps jobs IN_PROGRESS for its whole length."""
    emu = Emulator(api_key="test-key", clock=clock, schedule=Schedule(queued=5, running=55))
    api = http(emu)
    job_id = submit_text(api, "a")
    clock.advance(59.9)
    assert api.get(f"{JOBS}/{job_id}").json()["state"]["status"] == "IN_PROGRESS"
    clock.advance(0.2)
    assert api.get(f"{JOBS}/{job_id}").json()["state"]["status"] == "COMPLETED"


# -- list --------------------------------------------------------------------------------------
def test_list_is_a_bare_array_with_default_limit_50(emulator, clock):
    """GET /v0/batch/jobs returns a JSON array, newest first, 50 at most by default."""
    api = http(emulator)
    ids = []
    for i in range(55):
        ids.append(submit_text(api, str(i)))
        clock.advance(0.01)
    listed = api.get(JOBS).json()
    assert isinstance(listed, list) and len(listed) == 50
    assert [j["job_id"] for j in listed] == ids[::-1][:50]


def test_list_rejects_bad_query(emulator):
    """Unknown status, sort key or direction in a list query is a 400."""
    api = http(emulator)
    for query in ("status=DONE", "sort_by=name", "direction=up", "limit=x", "when=yesterday"):
        assert api.get(f"{JOBS}?{query}").status_code == 400


# -- limits ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["urls", "text"])
def test_per_job_count_limits(emulator, kind):
    """101 URLs or 101 texts in one job: 400 naming the limit; 100 is fine."""
    api = http(emulator)
    values = [f"https://example.org/{i}.wav" if kind == "urls" else f"t{i}" for i in range(101)]
    response = api.post(JOBS, json={kind: values, "models": {"language": {}}})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == f"max_{'urls' if kind == 'urls' else 'texts'}_per_job" and "limit is 100" in body["message"]
    assert api.post(JOBS, json={kind: values[:100], "models": {"language": {}}}).status_code == 200


def test_file_count_limit(clock):
    """More files than max_files_per_job: 400 naming the limit."""
    emu = Emulator(api_key="test-key", clock=clock, limits=dataclasses.replace(DEFAULT_LIMITS, max_files_per_job=2))
    files = [("file", (f"{i}.wav", b"x", "audio/wav")) for i in range(3)]
    response = http(emu).post(JOBS, files=files)
    assert response.status_code == 400 and response.json()["code"] == "max_files_per_job"


def test_upload_size_limit_is_413(clock):
    """An upload over max_upload_bytes is refused with 413 and the advice to use a URL."""
    emu = Emulator(api_key="test-key", clock=clock, limits=dataclasses.replace(DEFAULT_LIMITS, max_upload_bytes=1000))
    response = http(emu).post(JOBS, files=[("file", ("big.wav", b"x" * 1001, "audio/wav"))])
    assert response.status_code == 413
    assert response.json()["code"] == "max_upload_bytes" and "URL" in response.json()["message"]
    assert http(emu).post(JOBS, files=[("file", ("ok.wav", b"x" * 1000, "audio/wav"))]).status_code == 200


def test_text_size_limit_is_413(clock):
    """A text string over max_text_bytes is refused with 413."""
    emu = Emulator(api_key="test-key", clock=clock, limits=dataclasses.replace(DEFAULT_LIMITS, max_text_bytes=10))
    response = http(emu).post(JOBS, json={"text": ["x" * 11]})
    assert response.status_code == 413 and response.json()["code"] == "max_text_bytes"


def test_queued_jobs_limit_is_429(clock):
    """Past max_queued_jobs queued jobs, submissions get 429 with Retry-After until some start."""
    emu = Emulator(api_key="test-key", clock=clock, limits=dataclasses.replace(DEFAULT_LIMITS, max_queued_jobs=3))
    api = http(emu)
    for i in range(3):
        submit_text(api, str(i))
    response = api.post(JOBS, json={"text": ["x"]})
    assert response.status_code == 429 and response.json()["code"] == "max_queued_jobs"
    assert "retry-after" in response.headers
    clock.advance(1.0)
    assert api.post(JOBS, json={"text": ["x"]}).status_code == 200


# -- faults ------------------------------------------------------------------------------------
def test_rate_limit_fault_sends_retry_after(clock):
    """rate_limit_rate=1: every request is a 429 with the configured Retry-After."""
    emu = Emulator(api_key="test-key", clock=clock, faults=Faults(rate_limit_rate=1.0, retry_after=4))
    response = http(emu).get(JOBS)
    assert response.status_code == 429 and response.headers["retry-after"] == "4"


def test_server_error_fault_is_seeded(clock):
    """server_error_rate draws 5xx from a seeded generator: the same seed gives the same pattern."""
    def pattern(seed: int) -> list[int]:
        emu = Emulator(api_key="test-key", clock=clock, faults=Faults(server_error_rate=0.5, seed=seed))
        api = http(emu)
        return [api.get(JOBS).status_code for _ in range(30)]

    first = pattern(11)
    assert first == pattern(11)
    assert {500, 502, 503} & set(first) and 200 in first
    assert sum(code >= 500 for code in first) in range(6, 25)


def test_drop_fault_in_process_and_over_http():
    """drop_rate=1 drops the connection: in-process as RemoteProtocolError, over HTTP as a closed socket."""
    with Emulator(api_key="test-key", faults=Faults(drop_rate=1.0)) as emu:
        with pytest.raises(httpx.RemoteProtocolError):
            http(emu).get(JOBS)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{emu.url}{JOBS}", headers=KEY, timeout=5)
    assert [r.status for r in emu.requests] == [None, None]


def test_latency_fault_delays_requests():
    """latency adds real delay to every request."""
    emu = Emulator(api_key="test-key", faults=Faults(latency=0.05))
    started = time.perf_counter()
    http(emu).get(JOBS)
    assert time.perf_counter() - started >= 0.05


def test_job_failure_fault(emulator, clock):
    """job_failure_rate=1: jobs end FAILED with the message in state.message; predictions are refused."""
    emu = Emulator(api_key="test-key", clock=clock, faults=Faults(job_failure_rate=1.0, job_failure_message="boom"))
    api = http(emu)
    job_id = submit_text(api, "a")
    clock.advance(3)
    state = api.get(f"{JOBS}/{job_id}").json()["state"]
    assert state["status"] == "FAILED" and state["message"] == "boom" and "ended_timestamp_ms" in state
    assert "boom" in api.get(f"{JOBS}/{job_id}/predictions").json()["message"]


def test_file_error_fault(clock):
    """file_error_rate=1: a COMPLETED job whose results carry per-file errors, counted in num_errors."""
    emu = Emulator(api_key="test-key", clock=clock, faults=Faults(file_error_rate=1.0, file_error_message="bad file"))
    api = http(emu)
    job_id = submit_text(api, "a", "b")
    clock.advance(3)
    state = api.get(f"{JOBS}/{job_id}").json()["state"]
    assert state["status"] == "COMPLETED" and state["num_errors"] >= 1
    errors = api.get(f"{JOBS}/{job_id}/predictions").json()[0]["results"]["errors"]
    assert errors and all(e["message"] == "bad file" and "file" in e for e in errors)


def test_lost_response_fault_creates_the_job(clock):
    """lost_response_rate=1: the job is created, the response is dropped, and the log says which job."""
    emu = Emulator(api_key="test-key", clock=clock, faults=Faults(lost_response_rate=1.0))
    with pytest.raises(httpx.RemoteProtocolError):
        http(emu).post(JOBS, json={"text": ["a"]})
    assert len(emu.jobs) == 1 and emu.requests[0].job_id == emu.jobs[0].job_id and emu.requests[0].status is None


def test_faults_reject_rates_outside_0_1():
    """A rate above 1 is a configuration mistake, caught at once."""
    with pytest.raises(ValueError, match="between 0 and 1"):
        Faults(server_error_rate=1.5)


# -- request log -------------------------------------------------------------------------------
def test_request_log_counts_posts_and_polls(emulator):
    """emu.requests records method, path and status of every request."""
    api = http(emulator)
    job_id = submit_text(api, "a")
    api.get(f"{JOBS}/{job_id}")
    api.get(JOBS, params={"status": ["QUEUED", "COMPLETED"]})
    log = emulator.requests
    assert [(r.method, r.path, r.status) for r in log] == [
        ("POST", JOBS, 200), ("GET", f"{JOBS}/{job_id}", 200), ("GET", JOBS, 200)
    ]
    assert log[0].job_id == job_id and log[2].query == "status=QUEUED&status=COMPLETED"


# -- media and URLs ----------------------------------------------------------------------------
def test_media_is_served_without_auth(emulator):
    """Files added with add_media are served under /media/ (public, like a presigned URL)."""
    url = emulator.add_media("clips/a.wav", b"RIFFdata")
    response = httpx.Client(transport=emulator.transport()).get(url)
    assert response.status_code == 200 and response.content == b"RIFFdata"
    assert httpx.Client(transport=emulator.transport()).get(f"{emulator.url}/media/nope.wav").status_code == 404


def test_unfetchable_url_is_a_source_error_in_a_completed_job(emulator, clock):
    """A URL the emulator cannot fetch becomes a top-level source error; the job still COMPLETES."""
    api = http(emulator)
    missing = f"{emulator.url}/media/missing.wav"
    outside = "https://example.org/a.wav"
    job_id = api.post(JOBS, json={"urls": [missing, outside], "models": {"prosody": {}}}).json()["job_id"]
    clock.advance(3)
    details = api.get(f"{JOBS}/{job_id}").json()
    assert details["state"]["status"] == "COMPLETED" and details["state"]["num_errors"] == 2
    predictions = api.get(f"{JOBS}/{job_id}/predictions").json()
    assert [p["source"] for p in predictions] == [{"type": "url", "url": missing}, {"type": "url", "url": outside}]
    assert "404" in predictions[0]["error"] and "network" in predictions[1]["error"]


# -- callbacks ---------------------------------------------------------------------------------
def _collecting_transport(received: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        received.append(request)
        return httpx.Response(200)

    return httpx.MockTransport(handler)


def _wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_callback_posted_on_completion_keeping_query_string():
    """On completion the emulator POSTs {job_id, status, predictions} to callback_url, query kept, signed."""
    received: list[httpx.Request] = []
    clock = VirtualClock(start=1_750_000_000)
    emu = Emulator(api_key="test-key", clock=clock, callback_transport=_collecting_transport(received),
                   webhook_signing_key="whsec")
    job_id = submit_text(http(emu), "a", callback_url="https://receiver.example/cb?token=abc")
    clock.advance(3)
    _wait_for(lambda: received)
    emu.stop()
    request = received[0]
    assert str(request.url) == "https://receiver.example/cb?token=abc"
    body = json.loads(request.content)
    assert body["job_id"] == job_id and body["status"] == "COMPLETED" and isinstance(body["predictions"], list)
    assert "x-hume-ai-webhook-signature" in request.headers and "x-hume-ai-webhook-timestamp" in request.headers


def test_callback_on_failure_carries_the_message():
    """A FAILED job's callback carries status FAILED and the failure message."""
    received: list[httpx.Request] = []
    clock = VirtualClock(start=1_750_000_000)
    emu = Emulator(api_key="test-key", clock=clock, callback_transport=_collecting_transport(received),
                   faults=Faults(job_failure_rate=1.0, job_failure_message="quota"))
    submit_text(http(emu), "a", callback_url="https://receiver.example/cb")
    clock.advance(3)
    _wait_for(lambda: received)
    emu.stop()
    body = json.loads(received[0].content)
    assert body["status"] == "FAILED" and body["message"] == "quota" and "x-hume-ai-webhook-signature" not in received[0].headers


def test_callback_loss_fault():
    """callback_loss_rate=1: no callback is sent, and the delivery log says it was lost on purpose."""
    received: list[httpx.Request] = []
    clock = VirtualClock(start=1_750_000_000)
    emu = Emulator(api_key="test-key", clock=clock, callback_transport=_collecting_transport(received),
                   faults=Faults(callback_loss_rate=1.0))
    submit_text(http(emu), "a", callback_url="https://receiver.example/cb")
    clock.advance(3)
    _wait_for(lambda: emu.callbacks)
    emu.stop()
    assert received == [] and emu.callbacks[0].lost


# -- standalone --------------------------------------------------------------------------------
def test_python_m_humekit_emulator_serves(tmp_path):
    """`python -m humekit.emulator --port 0` starts, prints its URL, answers, and stops on SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "humekit.emulator", "--port", "0", "--api-key", "cli-key"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline()
        assert "SYNTHETIC" in line
        url = line.split(" at ")[1].split()[0]
        response = httpx.get(f"{url}{JOBS}", headers={"X-Hume-Api-Key": "cli-key"}, timeout=5)
        assert response.status_code == 200 and response.json() == []
        rest = process.stdout.readline() + process.stdout.readline()
        assert "cli-key" not in rest
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_url_file_size_limit_is_a_source_error(clock):
    """A URL whose file is over max_url_file_bytes fails as a source, naming the limit; the job completes."""
    from humekit.testing.synthetic import make_wav

    emu = Emulator(api_key="test-key", clock=clock, limits=dataclasses.replace(DEFAULT_LIMITS, max_url_file_bytes=1000))
    url = emu.add_media("big.wav", make_wav(None, segments=[(0.1, 0.9)], duration=1.0))
    api = http(emu)
    job_id = api.post(JOBS, json={"urls": [url], "models": {"prosody": {}}}).json()["job_id"]
    clock.advance(3)
    assert api.get(f"{JOBS}/{job_id}").json()["state"]["status"] == "COMPLETED"
    assert "max_url_file_bytes" in api.get(f"{JOBS}/{job_id}/predictions").json()[0]["error"]


def test_over_long_media_is_a_per_file_error_through_the_api(clock):
    """An upload longer than max_media_seconds is a per-file error inside a COMPLETED job."""
    from humekit.testing.synthetic import make_wav

    emu = Emulator(api_key="test-key", clock=clock, limits=dataclasses.replace(DEFAULT_LIMITS, max_media_seconds=2.0))
    wav = make_wav(None, segments=[(0.1, 2.5)], duration=3.0, sample_rate=8000)
    api = http(emu)
    job_id = api.post(JOBS, files=[("file", ("long.wav", wav, "audio/wav"))]).json()["job_id"]
    clock.advance(3)
    state = api.get(f"{JOBS}/{job_id}").json()["state"]
    assert state["status"] == "COMPLETED" and state["num_errors"] == 1
    errors = api.get(f"{JOBS}/{job_id}/predictions").json()[0]["results"]["errors"]
    assert errors[0]["file"] == "long.wav" and "max_media_seconds" in errors[0]["message"]


def test_evi_routes_are_served_by_the_same_emulator(emulator):
    """/v0/evi/chats is answered by the embedded EVI emulator, behind the same API key."""
    response = http(emulator).get("/v0/evi/chats")
    assert response.status_code == 200 and "chats_page" in response.json()
    anonymous = httpx.Client(base_url=emulator.url, transport=emulator.transport()).get("/v0/evi/chats")
    assert anonymous.status_code == 401


def test_corrupt_archive_upload_is_a_per_file_error(emulator, clock):
    """A .zip upload that cannot be opened is a per-file error naming the archive, not a crash."""
    api = http(emulator)
    job_id = api.post(JOBS, files=[("file", ("broken.zip", b"PK\x03\x04" + b"\x00garbage" * 20, "application/zip"))]
                      ).json()["job_id"]
    clock.advance(3)
    errors = api.get(f"{JOBS}/{job_id}/predictions").json()[0]["results"]["errors"]
    assert errors and "broken.zip" in errors[0]["message"]


def test_jobs_file_keeps_jobs_across_restarts(tmp_path):
    """An emulator restarted with the same jobs_file still knows earlier jobs, uploads included, and finishes them."""
    clock = VirtualClock(start=1_750_000_000.0)
    first = Emulator(api_key="test-key", clock=clock, schedule=Schedule(queued=5, running=5),
                     jobs_file=tmp_path / "j.json")
    job_id = submit_text(http(first), "Remembered text.")
    with first.client() as client:
        upload = client.start_job(files=[humekit.backends.v0.jobs.Upload(filename="a.wav", data=make_wav(duration=2.0))],
                                  models={"prosody": {}})
    first.stop()
    clock.advance(20)
    second = Emulator(api_key="test-key", clock=clock, jobs_file=tmp_path / "j.json")
    with second.client() as client:
        assert client.get_job(job_id).status == "COMPLETED" and client.get_job(upload).status == "COMPLETED"
        assert client.get_predictions(job_id)[0]["results"]["predictions"][0]["models"]["language"]
        assert client.get_predictions(upload)[0]["source"]["filename"] == "a.wav"
    second.stop()
