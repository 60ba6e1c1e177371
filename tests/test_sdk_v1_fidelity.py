"""The official v1 SDK, hume-expression-measurement==0.1.0, unmodified, against the v1 emulator."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from _v1 import jpeg, speech

from humekit.clock import VirtualClock
from humekit.emulator.v1 import V1Emulator, V1Faults, V1Limits
from humekit.testing.synthetic import make_mp3, make_wav

em = pytest.importorskip("hume_expression_measurement", reason="the v1 SDK is a test extra (pip install humekit[test])")
from hume_expression_measurement import (  # noqa: E402
    ExpressionMeasurementClient,
    ExpressionMeasurementClientEnvironment,
)
from hume_expression_measurement.core.api_error import ApiError  # noqa: E402
from hume_expression_measurement.core.parse_error import ParsingError  # noqa: E402
from hume_expression_measurement.errors import (  # noqa: E402
    BadRequestError,
    ContentTooLargeError,
    ForbiddenError,
    InternalServerError,
    NotFoundError,
    ServiceUnavailableError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
)
from hume_expression_measurement.types import (  # noqa: E402
    AudioFileConfig,
    AudioRunConfig,
    VideoFileConfig,
    VideoFileConfigFace,
)

pytestmark = pytest.mark.sdk


def sdk(emu: V1Emulator, *, api_key: str | None = None, max_retries: int = 0) -> ExpressionMeasurementClient:
    """An unmodified SDK client pointed at a served emulator through its environment."""
    environment = ExpressionMeasurementClientEnvironment(base=emu.url, production=emu.url.replace("http", "ws", 1))
    return ExpressionMeasurementClient(api_key=api_key or emu.api_key, environment=environment,
                                       max_retries=max_retries)


@pytest.fixture
def served():
    """A v1 emulator on a loopback port, on a virtual clock."""
    with V1Emulator(clock=VirtualClock(start=1_796_000_000.0)) as emu:
        yield emu


def test_sdk_uploads_a_wav(served):
    """audio.measure(file=wav bytes, config=...) parses into AudioFileResponse with the emulator's run."""
    response = sdk(served).audio.measure(file=speech(12.0), config=AudioFileConfig(measurement_timer_ms=4000))
    assert response.received.audio_duration_ms == 12000 and len(response.utterances) == 2
    assert response.measurements and all(m.trigger in ("interval", "speech_ended") for m in response.measurements)
    assert response.run_id == served.runs[0].run_id and len(response.request_id) == 32
    assert served.requests[-1].path == "/v1/expression/audio/file"


def test_sdk_uploads_raw_pcm_both_ways(served):
    """Raw PCM as (name, bytes, application/octet-stream) and as bare bytes (labelled audio/wav) both measure."""
    client = sdk(served)
    wav = speech(8.0)
    labelled = client.audio.measure(file=("a.pcm", wav[44:], "application/octet-stream"))
    bare = client.audio.measure(file=wav[44:])
    reference = client.audio.measure(file=wav)
    assert labelled.measurements == bare.measurements == reference.measurements
    assert len(served.runs) == 3


def test_sdk_uploads_images_and_chains_face_state(served):
    """video.measure(file=[jpegs]) gives one result per image; face_state carries into the next request."""
    client = sdk(served)
    config = VideoFileConfig(face=VideoFileConfigFace(return_face_state=True, threshold=0.5))
    first = client.video.measure(file=[jpeg(i) for i in range(4)], config=config)
    assert first.received.frames == 4 and [m.frame_id for m in first.measurements] == [0, 1, 2, 3]
    assert first.face_state
    second = client.video.measure(file=[jpeg(9)], config=VideoFileConfig(face=config.face,
                                                                            face_state=first.face_state))
    assert second.face_state and second.measurements[0].frame_id == 0
    assert served.runs[0].metered_seconds == 10.0


def test_sdk_lists_and_pages_runs(served):
    """runs.list pages newest first through next_cursor; filters and datetimes are understood."""
    client = sdk(served)
    made = []
    for i in range(5):
        made.append(client.audio.measure(file=speech(3.0, seed=i)).run_id)
        served.clock.sleep(1.0)
    made.append(client.video.measure(file=[jpeg()]).run_id)
    seen, cursor = [], None
    while True:
        page = client.runs.list(page_size=2, cursor=cursor)
        seen += [r.run_id for r in page.runs]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == made[::-1]
    audio = client.runs.list(endpoint="audio", mode="file", status="ended",
                             started_after=datetime.fromtimestamp(served.runs[-1].started_at + 1, UTC))
    assert [r.run_id for r in audio.runs] == made[4:0:-1] and audio.next_cursor is None


def test_sdk_gets_a_run_and_its_events(served):
    """runs.get returns a Run with its AudioRunConfig; runs.list_events an empty page for a file run."""
    client = sdk(served)
    run_id = client.audio.measure(file=speech(13.0), config=AudioFileConfig(measurement_timer_ms=6000)).run_id
    run = client.runs.get(run_id)
    assert run.metered_seconds == 13.0 and run.status == "ended" and run.endpoint == "audio"
    assert isinstance(run.config, AudioRunConfig) and run.config.measurement_timer_ms == 6000
    events = client.runs.list_events(run_id, page_size=10)
    assert events.events == [] and events.next_cursor is None and not events.gaps


@pytest.mark.parametrize("call, error, code", [
    (lambda c: c.audio.measure(file=speech(2.0), config={"timer_ms": 1}), BadRequestError, "config_invalid"),
    (lambda c: c.audio.measure(file=make_wav(segments=[], duration=1.0, channels=2)), BadRequestError,
     "audio_decode_failed"),
    (lambda c: c.video.measure(file=[jpeg()[:400]]), BadRequestError, "image_decode_failed"),
    (lambda c: c.audio.measure(file=make_mp3(duration=1.0)), UnsupportedMediaTypeError, "unsupported_media_type"),
    (lambda c: c.runs.get(str(uuid.uuid4())), NotFoundError, "not_found"),
    (lambda c: c.runs.list(page_size=500), BadRequestError, "invalid_request"),
], ids=["config_invalid", "audio_decode_failed", "image_decode_failed", "unsupported_media_type", "not_found",
        "invalid_request"])  # fmt: skip
def test_sdk_raises_each_typed_error(served, call, error, code):
    """Each refusal reaches the SDK as its typed exception with an ErrorBody carrying the code."""
    with pytest.raises(error) as caught:
        call(sdk(served))
    assert caught.value.body.code == code and len(caught.value.body.request_id) == 32


def test_sdk_content_too_large():
    """A body over the request limit raises ContentTooLargeError (audio_too_long)."""
    with V1Emulator(limits=V1Limits(max_request_bytes=20_000)) as emu:
        with pytest.raises(ContentTooLargeError) as caught:
            sdk(emu).audio.measure(file=speech(3.0))
    assert caught.value.body.code == "audio_too_long"


def test_sdk_unauthorized_and_forbidden(served):
    """A wrong key raises UnauthorizedError (AuthenticationError body with request_id); a read-only key Forbidden."""
    with pytest.raises(UnauthorizedError) as caught:
        sdk(served, api_key="wrong").runs.list()
    assert caught.value.body.request_id and caught.value.body.message
    with pytest.raises(ForbiddenError) as forbidden:
        sdk(served, api_key=served.read_only_api_key).audio.measure(file=speech(2.0))
    assert forbidden.value.body.code == "forbidden"


@pytest.mark.parametrize("fault, error, code", [
    ("internal_error", InternalServerError, "internal_error"),
    ("server_busy", ServiceUnavailableError, "server_busy"),
])  # fmt: skip
def test_sdk_typed_server_errors(fault, error, code):
    """500 and 503 faults raise InternalServerError / ServiceUnavailableError when retries are off."""
    with V1Emulator(faults=V1Faults(script=(fault,))) as emu:
        with pytest.raises(error) as caught:
            sdk(emu).audio.measure(file=speech(2.0))
    assert caught.value.body.code == code


def test_sdk_gateway_429_is_a_bare_api_error_without_code():
    """The gateway's 429 {message} is not typed: a bare ApiError whose body has no code."""
    with V1Emulator(faults=V1Faults(script=("gateway_rate_limit",))) as emu:
        with pytest.raises(ApiError) as caught:
            sdk(emu).audio.measure(file=speech(2.0))
    assert type(caught.value) is ApiError and caught.value.status_code == 429
    assert caught.value.body == {"message": "API rate limit exceeded"}


def test_sdk_malformed_and_truncated_answers():
    """A malformed 200 raises ParsingError (not an ApiError); a truncated 200 a bare ApiError with the text."""
    with V1Emulator(faults=V1Faults(script=("malformed", "truncated"))) as emu:
        client = sdk(emu)
        with pytest.raises(ParsingError):
            client.audio.measure(file=speech(2.0))
        with pytest.raises(ApiError) as caught:
            client.audio.measure(file=speech(2.0))
        assert caught.value.status_code == 200 and isinstance(caught.value.body, str)
        assert len(emu.runs) == 2  # both were measured and billed before the answer went wrong


def test_sdk_retries_a_503_honouring_retry_after_and_a_dropped_connection():
    """With its default retries the SDK gets through a 503 with Retry-After and a dropped connection."""
    with V1Emulator(faults=V1Faults(script=("server_busy_retry_after", "drop"), retry_after=1)) as emu:
        response = sdk(emu, max_retries=2).audio.measure(file=speech(3.0))
        assert response.run_id == emu.runs[0].run_id
        assert [r.fault for r in emu.requests] == ["server_busy_retry_after", "drop", "none"]
