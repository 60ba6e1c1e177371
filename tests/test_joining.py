"""Tests for humekit.pipeline.joining: why a row has no predictions, read from real Hume output."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from _paths import SAMPLES, payload, require_samples

import humekit
from humekit.backends.v0.decoding import decode
from humekit.backends.v1.backend import V1Backend
from humekit.backends.v1.client import V1Client
from humekit.backends.v1.limits import DEFAULT_V1_LIMITS
from humekit.emulator.v1 import V1Emulator
from humekit.testing.media import make_audio
from humekit.pipeline.joining import no_predictions_note
from humekit.pipeline.joining import notes as notes_of

VIDEO = SAMPLES / "real_predictions_file_video_face_prosody_language.json"
URL_VIDEO = SAMPLES / "real_predictions_url_video_face_TRIMMED.json"
TEXT = SAMPLES / "real_predictions_text_language_conversational_turn.json"
ARCHIVE = payload("sdk_example_get_job_predictions_face_url_archive.json")  # in the repo


def notes(document: Any, kind: str, requested: list[str]) -> dict[str, str]:
    return notes_of(decode(kind, orjson.dumps(document)), requested)


@pytest.fixture(scope="module")
def video() -> list[Any]:
    """Real Hume output for one uploaded video: face, prosody and language all found something."""
    require_samples()  # a module fixture is set up before the samples mark is looked at
    return orjson.loads(VIDEO.read_bytes())


@pytest.mark.samples
def test_real_output_with_every_model_found_has_no_note(video: list[Any]) -> None:
    """A real prediction where each requested model has segments gives no note."""
    assert notes(video, "file", ["face", "prosody", "language"]) == {}


@pytest.mark.samples
@pytest.mark.parametrize("how", ["empty groups", "model left out"])
def test_real_output_without_faces_says_no_face_found(video: list[Any], how: str) -> None:
    """Real output whose face model is empty (or absent) notes 'face: no face found' for that file."""
    doc = copy.deepcopy(video)
    models = doc[0]["results"]["predictions"][0]["models"]
    if how == "empty groups":
        models["face"]["grouped_predictions"] = []
    else:
        del models["face"]
    assert notes(doc, "file", ["face", "prosody", "language"]) == {"video1318490298.mp4": "face: no face found"}


@pytest.mark.samples
def test_real_silent_output_says_no_speech_found(video: list[Any]) -> None:
    """Real output with prosody and language empty notes no speech and nothing transcribed."""
    doc = copy.deepcopy(video)
    models = doc[0]["results"]["predictions"][0]["models"]
    models["prosody"]["grouped_predictions"] = []
    models["language"]["grouped_predictions"] = []
    assert notes(doc, "file", ["prosody", "language"]) == {
        "video1318490298.mp4": "prosody: no speech found; language: no speech transcribed"}


@pytest.mark.samples
def test_real_video_without_sound_says_so() -> None:
    """Hume's file_type video_no_audio (the URL sample) explains an empty prosody."""
    doc = orjson.loads(URL_VIDEO.read_bytes())
    (url,) = notes(doc, "url", ["face", "prosody"]).items()
    assert url[0].startswith("https://") and url[1] == "prosody: the video has no audio track"


@pytest.mark.samples
def test_real_text_and_archive_outputs() -> None:
    """Raw text keyed by its index: nothing to note; an archive notes how many of its files lack a face."""
    assert notes(orjson.loads(TEXT.read_bytes()), "text", ["language"]) == {}
    archive = orjson.loads(ARCHIVE.read_bytes())
    assert notes(archive, "url", ["face"]) == {}
    member = copy.deepcopy(archive[0]["results"]["predictions"][0])
    member["file"], member["models"]["face"]["grouped_predictions"] = "faces/101.jpg", []
    archive[0]["results"]["predictions"].append(member)
    assert list(notes(archive, "url", ["face"]).values()) == ["face: no face found in 1 of 2 files"]


def test_note_wording() -> None:
    """Models that cannot apply are named only when nothing that applies was asked for."""
    assert no_predictions_note([("a.wav", "audio")], set(), ["face"]) == "face: does not apply to audio"
    assert no_predictions_note([("a.wav", "audio")], set(), ["face", "prosody"]) == "prosody: no speech found"
    assert no_predictions_note([("a.wav", "audio")], {("a.wav", "prosody")}, ["face", "prosody"]) is None
    assert no_predictions_note([("t", "text")], set(), ["language"]) == "language: no text found"
    assert no_predictions_note([], set(), ["face"]) == "no predictions returned for this input"


def test_unstated_or_unusual_file_types() -> None:
    """A file_type Hume leaves out counts as any kind; 'image_jpeg'-like values count as their prefix."""
    from humekit.backends.v0.decoding import file_kind as _file_kind

    assert [_file_kind(t) for t in ("video", "video_no_audio", "audio_mp3", "image_png", "text", None, "3d")] == [
        "video", "video_no_audio", "audio", "image", "text", None, None]
    assert no_predictions_note([("x", None)], set(), ["face"]) == "face: no face found"


@pytest.mark.samples
def test_a_prediction_without_a_file_name_is_matched_to_its_scores(video: list[Any]) -> None:
    """A prediction whose file is null still pairs with its own segments (no false 'nothing found')."""
    doc = copy.deepcopy(video)
    doc[0]["results"]["predictions"][0]["file"] = None
    assert notes(doc, "file", ["face", "prosody", "language"]) == {}


def test_a_rows_note_is_read_from_all_its_windows_together(tmp_path: Path) -> None:
    """A recording whose first window is silent and last has speech gets no note; one silent throughout does."""
    late = make_audio(tmp_path / "late.wav", duration=40, segments=[(24, 37)], seed=1)
    quiet = make_audio(tmp_path / "quiet.wav", duration=40, segments=[], seed=2)
    emu = V1Emulator()
    backend = V1Backend(V1Client(api_key=emu.api_key, base_url=emu.url, transport=emu.transport()),
                        limits=dataclasses.replace(DEFAULT_V1_LIMITS, window_target_ms=20_000))
    result = humekit.measure(pd.DataFrame({"id": ["late", "quiet"], "src": [str(late), str(quiet)]}), id_col="id",
                             source_col="src", models=["audio"], backend=backend, ledger=tmp_path / "l.sqlite",
                             progress=False)
    windows = [r["window"] for r in result.ledger.requests(result.ledger.jobs()["job_key"]).values()
               if r["files"][0]["path"] == str(late)]
    first = min(windows, key=lambda w: w["start_ms"])
    assert len(windows) >= 2 and first["end_ms"] <= 24_000  # the first window holds none of the speech
    late_rows = result.predictions[result.predictions["id"] == "late"]
    assert len(late_rows) and late_rows["begin"].min() >= 24  # speech found, in a later window only
    notes = result.status.set_index("id")["note"]
    assert pd.isna(notes["late"]) and notes["quiet"] == "audio: no speech found"
