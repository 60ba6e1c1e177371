"""The official SDK, hume==0.13.13 (the last with the batch client), unmodified, against the emulator."""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from humekit.emulator import Emulator, Schedule
from humekit.testing.synthetic import make_image, make_wav

hume = pytest.importorskip("hume", reason="the official SDK is a test extra (pip install humekit[test])")
from hume import HumeClient  # noqa: E402
from hume.expression_measurement.batch.types import (  # noqa: E402
    Face,
    InferenceBaseRequest,
    Language,
    Models,
    Prosody,
)

pytestmark = pytest.mark.sdk


@pytest.fixture
def sdk_and_emulator():
    """A served emulator and an unmodified HumeClient pointed at it."""
    with Emulator(api_key="sdk-key", schedule=Schedule(queued=0.1, running=0.2)) as emu:
        yield HumeClient(api_key="sdk-key", base_url=emu.url), emu


def await_completed(batch, job_id: str, timeout: float = 20.0):
    """Poll with the SDK's get_job_details until a terminal state."""
    deadline = time.monotonic() + timeout
    while True:
        job = batch.get_job_details(id=job_id)
        if job.state.status in ("COMPLETED", "FAILED"):
            return job
        assert time.monotonic() < deadline, "job did not finish"
        time.sleep(1.0)


def test_sdk_url_job_end_to_end(sdk_and_emulator):
    """start_inference_job(urls) -> details -> list -> predictions -> artifacts, all through the SDK's models."""
    client, emu = sdk_and_emulator
    batch = client.expression_measurement.batch
    url = emu.add_media("speech.wav", make_wav(None, segments=[(0.2, 1.0), (1.5, 2.4)], duration=3.0))
    job_id = batch.start_inference_job(urls=[url], models=Models(prosody=Prosody(granularity="utterance")))
    job = await_completed(batch, job_id)
    assert job.state.status == "COMPLETED" and job.type == "INFERENCE"
    assert job.request.urls == [url]
    assert job_id in [j.job_id for j in batch.list_jobs(limit=10)]
    assert [j.job_id for j in batch.list_jobs(status=["COMPLETED"])] == [job_id]
    predictions = batch.get_job_predictions(id=job_id)
    assert predictions[0].source.type == "url" and predictions[0].source.url == url
    prosody = predictions[0].results.predictions[0].models.prosody
    segments = prosody.grouped_predictions[0].predictions
    assert segments and len(segments[0].emotions) == 48
    assert all(0 <= s.time.begin < s.time.end <= 3.0 for s in segments)
    archive = b"".join(batch.get_job_artifacts(id=job_id))
    assert any(name.endswith("prosody.csv") for name in zipfile.ZipFile(io.BytesIO(archive)).namelist())


def test_sdk_text_job(sdk_and_emulator):
    """start_inference_job(text) yields one text source with language predictions per string."""
    client, _ = sdk_and_emulator
    batch = client.expression_measurement.batch
    texts = ["I love this.", "This is awful!", "Maybe tomorrow."]
    job_id = batch.start_inference_job(text=texts, models=Models(language=Language(granularity="sentence")))
    await_completed(batch, job_id)
    predictions = batch.get_job_predictions(id=job_id)
    assert len(predictions) == 1 and predictions[0].source.type == "text"
    files = sorted(p.file for p in predictions[0].results.predictions)
    assert files == ["1", "2", "3"]
    first = next(p for p in predictions[0].results.predictions if p.file == "1")
    item = first.models.language.grouped_predictions[0].predictions[0]
    assert item.text == "I love this." and len(item.emotions) == 53


def test_sdk_local_file_job(sdk_and_emulator, tmp_path):
    """start_inference_job_from_local_file (json sent as a file part) with an image and a WAV."""
    client, emu = sdk_and_emulator
    batch = client.expression_measurement.batch
    image = tmp_path / "face.png"
    make_image(image, width=320, height=240, seed=1)
    audio = tmp_path / "voice.wav"
    make_wav(audio, segments=[(0.1, 0.9)], duration=1.2)
    with image.open("rb") as f1, audio.open("rb") as f2:
        job_id = batch.start_inference_job_from_local_file(
            file=[f1, f2], json=InferenceBaseRequest(models=Models(face=Face(), prosody=Prosody()))
        )
    job = await_completed(batch, job_id)
    assert [f.filename for f in job.request.files] == ["face.png", "voice.wav"]
    predictions = batch.get_job_predictions(id=job_id)
    assert [p.source.filename for p in predictions] == ["face.png", "voice.wav"]
    face = predictions[0].results.predictions[0].models.face.grouped_predictions[0].predictions[0]
    assert face.frame == 0 and 0 <= face.box.x < 320 and len(face.emotions) == 48
    assert predictions[1].results.predictions[0].models.prosody.grouped_predictions


def test_sdk_raw_client_form_field_json(sdk_and_emulator, tmp_path):
    """The SDK's raw client sends the json part as a form field; the emulator accepts that too."""
    client, _ = sdk_and_emulator
    raw = client.expression_measurement.batch.with_raw_response
    audio = tmp_path / "v.wav"
    make_wav(audio, segments=[(0.1, 0.5)], duration=0.8)
    with audio.open("rb") as f:
        response = raw.start_inference_job_from_local_file(
            file=[f], json=InferenceBaseRequest(models=Models(prosody=Prosody()))
        )
    assert len(response.data) == 36
