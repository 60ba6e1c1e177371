"""Tests for humekit.predictions.decoding: flattening predictions JSON into long tables."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from _paths import payload, sample_param

from humekit.errors import PredictionsFormatError
from humekit.predictions.decoding import (
    DESCRIPTOR_COLUMNS,
    ERROR_COLUMNS,
    METADATA_COLUMNS,
    SCORE_COLUMNS,
    PredictionTables,
    to_frame,
    to_tables,
)
from humekit.predictions.vocabulary import EMOTIONS, LANGUAGE_EMOTIONS

VIDEO = payload("real_predictions_file_video_face_prosody_language.json")
TEXT = payload("real_predictions_text_language_conversational_turn.json")
URL = payload("real_predictions_url_video_face_TRIMMED.json")
ARCHIVE = payload("sdk_example_get_job_predictions_face_url_archive.json")
NOT_PREDICTIONS = [
    "sdk_example_get_job_details_completed.json",
    "sdk_example_list_jobs.json",
    "sdk_example_start_job_response.json",
    "sdk_example_evi_list_chat_events.json",
    "sdk_example_evi_list_chats.json",
    "sdk_example_evi_chat_audio_reconstruction.json",
    "docs_webhook_chat_started.json",
    "docs_webhook_chat_ended.json",
    "fern_example_webhook_tool_call.json",
]
EXPECTED_DTYPES = {
    **dict.fromkeys(["source_type", "source", "md5sum", "file", "file_type", "api", "model", "group", "text",
                     "emotion", "entity", "uri", "link_word"], "category"),  # fmt: skip
    **dict.fromkeys(["frame", "position_begin", "position_end"], "Int64"),
    **dict.fromkeys(["begin", "end", "score", "prob", "box_x", "box_y", "box_w", "box_h", "confidence",
                     "speaker_confidence", "entity_confidence", "support"], "Float64"),  # fmt: skip
}


def load(path: Path) -> Any:
    """Parse a sample file."""
    return orjson.loads(path.read_bytes())


@pytest.mark.parametrize(
    ("path", "scores", "by_model", "descriptors", "metadata"),
    [
        sample_param(VIDEO.name, VIDEO, 16956, {"face": 15744, "prosody": 576, "language": 636}, 108, 2),
        sample_param(TEXT.name, TEXT, 1325, {"language": 1325}, 0, 0),
        sample_param(URL.name, URL, 576, {"face": 576}, 0, 0),
        sample_param(ARCHIVE.name, ARCHIVE, 48, {"face": 48}, 0, 0),
    ],
)
def test_sample_row_counts(path: Path, scores: int, by_model: dict[str, int], descriptors: int, metadata: int) -> None:
    """Each real sample flattens to exactly one row per (segment, emotion) it holds."""
    tables = to_tables(path.read_bytes())
    assert len(tables.scores) == scores
    assert tables.scores.groupby("model", observed=True).size().to_dict() == by_model
    assert len(tables.descriptors) == descriptors
    assert len(tables.metadata) == metadata
    assert len(tables.errors) == 0


@pytest.mark.samples
def test_video_sample_exact_values() -> None:
    """Pinned values of the uploaded-video sample: face, prosody, language, sentiment, metadata."""
    tables = to_tables(VIDEO.read_bytes())
    s = tables.scores
    first = s.iloc[0]
    assert (first.source_type, first.source, first.file, first.file_type) == (
        "file", "video1318490298.mp4", "video1318490298.mp4", "video")  # fmt: skip
    assert first.md5sum == "871152ade0c760bc8a84bcb349ad6843"
    assert (first.model, first.group, first.frame, first.begin, first.end) == ("face", "face_0", 8, 0.32, 0.32)
    assert (first.emotion, first.score, first.box_x) == ("Admiration", 0.19679194688796997, 157.8803253173828)
    assert pd.isna(first.text) and pd.isna(first.position_begin)
    prosody = s[s.model == "prosody"].iloc[0]
    assert (prosody.group, prosody.begin, prosody.end) == ("spk_1", 10.860989, 13.253563999999999)
    assert prosody.text == "Let me remember for a second."
    assert prosody.score == 0.01597532071173191
    language = s[s.model == "language"]
    assert language.emotion.nunique() == 53
    assert (language.iloc[0].text, language.iloc[0].position_begin, language.iloc[0].position_end) == ("Since I...", 0, 10)
    sentiment = tables.descriptors.iloc[4]
    assert (sentiment["kind"], sentiment["name"], sentiment["score"]) == ("sentiment", "5", 0.824765145778656)
    assert tables.metadata.model.tolist() == ["prosody", "language"]
    assert tables.metadata.confidence.tolist() == [0.9941406, 0.9941406]
    assert tables.metadata.detected_language.tolist() == ["en", "en"]


@pytest.mark.samples
def test_text_url_and_archive_samples() -> None:
    """Raw text uses source "text" and the string index as file; URL sources keep the URL."""
    text = to_frame(TEXT.read_bytes())
    assert (text.iloc[0].source, text.iloc[0].file, text.iloc[0].text) == ("text", "2", "[hes].")
    assert text.begin.isna().all() and text.file.nunique() == 25
    url = to_frame(URL.read_bytes())
    assert url.source.iloc[0].startswith("https://jeff-public-data.s3.us-east-1.amazonaws.com/feelings_lab.mp4?")
    assert (url.iloc[0].file_type, url.iloc[0].group, url.iloc[0].frame) == ("video_no_audio", "face_1", 230)
    assert list(url.group.cat.categories) == ["face_0", "face_1", "face_2", "face_3"]
    archive = to_frame(ARCHIVE.read_bytes())
    assert (archive.iloc[0].file, archive.iloc[0].group) == ("faces/100.jpg", "unknown")
    assert archive.begin.isna().all() and archive.end.isna().all()  # an image has no time (Hume sends 0)
    assert archive.file_type.isna().all() and archive.md5sum.isna().all()


@pytest.mark.parametrize("path", [sample_param(p.name) for p in (VIDEO, TEXT, URL, ARCHIVE)])
def test_schema_is_stable(path: Path) -> None:
    """Every table has the same columns and dtypes whatever models the sample has."""
    tables = to_tables(path.read_bytes())
    assert tuple(tables.scores.columns) == SCORE_COLUMNS
    assert tables.scores.dtypes.astype(str).to_dict() == EXPECTED_DTYPES
    assert tuple(tables.descriptors.columns) == DESCRIPTOR_COLUMNS
    assert tuple(tables.errors.columns) == ERROR_COLUMNS
    assert tuple(tables.metadata.columns) == METADATA_COLUMNS
    assert list(tables.scores.emotion.cat.categories) == list(LANGUAGE_EMOTIONS)
    for table in (tables.scores, tables.descriptors, tables.metadata):  # read from v0 predictions: v0's vocabulary
        assert list(table["api"].cat.categories) == ["v0", "v1"] and set(table["api"]) <= {"v0"}


@pytest.mark.samples
def test_inputs_bytes_str_parsed_and_callback_agree() -> None:
    """Raw bytes, str, parsed JSON and a callback body give identical tables."""
    raw = URL.read_bytes()
    expected = to_frame(raw)
    pd.testing.assert_frame_equal(to_frame(raw.decode()), expected)
    pd.testing.assert_frame_equal(to_frame(orjson.loads(raw)), expected)
    callback = {"job_id": "abc", "status": "COMPLETED", "predictions": orjson.loads(raw)}
    pd.testing.assert_frame_equal(to_frame(callback), expected)
    assert isinstance(to_tables(raw), PredictionTables)


@pytest.mark.samples
def test_models_filter() -> None:
    """models= keeps only the named models; an unknown model name is an error."""
    frame = to_frame(VIDEO.read_bytes(), models=["prosody"])
    assert set(frame.model.unique()) == {"prosody"} and len(frame) == 576
    with pytest.raises(ValueError, match="unknown model"):
        to_frame(VIDEO.read_bytes(), models=["faces"])


@pytest.mark.samples
def test_nulls_missing_models_and_extra_keys_are_tolerated() -> None:
    """Null models, groups, items, emotions and scores, and unknown keys do not break flattening."""
    doc = load(VIDEO)
    doc[0]["extra"] = {"x": 1}
    models = doc[0]["results"]["predictions"][0]["models"]
    models["burst"] = None
    models["ner"] = {"metadata": None, "grouped_predictions": None}
    models["prosody"]["grouped_predictions"].append({"id": "spk_9", "predictions": None})
    face = models["face"]["grouped_predictions"][0]["predictions"]
    face[0]["new_field"] = [1, 2]
    face[0]["emotions"][0]["score"] = None
    face[1]["emotions"] = None
    face[2]["box"] = None
    face.append(None)
    models["language"]["grouped_predictions"][0]["predictions"][0]["sentiment"] = None
    tables = to_tables(doc)
    assert len(tables.scores) == 16956 - 48
    assert tables.scores.score.isna().sum() == 1
    assert tables.scores[(tables.scores.frame == 24) & (tables.scores.group == "face_0")].box_x.isna().all()
    assert len(tables.descriptors) == 108 - 9


@pytest.mark.samples
def test_unexpected_labels_take_the_slow_path() -> None:
    """Reordered, missing or unknown emotion labels are still matched to the right scores."""
    doc = load(URL)
    original = to_frame(doc)
    shuffled = copy.deepcopy(doc)
    item = shuffled[0]["results"]["predictions"][0]["models"]["face"]["grouped_predictions"][0]["predictions"][0]
    item["emotions"].reverse()
    pd.testing.assert_frame_equal(
        to_frame(shuffled).sort_values(["group", "frame", "emotion"]).reset_index(drop=True),
        original.sort_values(["group", "frame", "emotion"]).reset_index(drop=True),
    )
    item["emotions"] = [{"name": "Serenity", "score": 0.5}, {"name": "Joy", "score": 0.25}]
    frame = to_frame(shuffled)
    assert len(frame) == len(original) - 46
    assert "Serenity" in frame.emotion.cat.categories
    assert frame[frame.emotion == "Serenity"].score.tolist() == [0.5]
    assert list(frame.emotion.cat.categories[:53]) == list(LANGUAGE_EMOTIONS)


def test_errors_are_kept_and_to_frame_warns(caplog: pytest.LogCaptureFixture) -> None:
    """Failed sources and per-file errors go to .errors, and to_frame logs a WARNING about them."""
    doc = load(ARCHIVE)
    doc[0]["results"]["errors"] = [{"file": "faces/101.jpg", "message": "no faces found"}]
    doc.append({"source": {"type": "url", "url": "https://example.com/missing.mp4"}, "error": "download failed"})
    tables = to_tables(doc)
    assert tables.errors.file.tolist()[0] == "faces/101.jpg"
    assert tables.errors.message.tolist() == ["no faces found", "download failed"]
    assert tables.errors.source.tolist() == ["https://hume-tutorials.s3.amazonaws.com/faces.zip",
                                             "https://example.com/missing.mp4"]  # fmt: skip
    assert str(tables.errors.message.dtype) == "string"
    with caplog.at_level(logging.WARNING, logger="humekit"):
        frame = to_frame(doc)
    assert len(frame) == 48
    assert "to_tables" in caplog.text and "2 source(s)/file(s) failed" in caplog.text


def test_failed_callback_is_an_error_row() -> None:
    """A FAILED callback body without predictions becomes one error row."""
    tables = to_tables({"job_id": "j1", "status": "FAILED", "predictions": None, "message": "quota"})
    assert len(tables.scores) == 0
    assert tables.errors.message.tolist() == ["job j1 FAILED: quota"]


def test_empty_predictions_give_empty_typed_tables() -> None:
    """An empty job gives empty tables that still have the full schema."""
    tables = to_tables(b"[]")
    assert len(tables.scores) == 0
    assert tables.scores.dtypes.astype(str).to_dict() == EXPECTED_DTYPES


@pytest.mark.parametrize("name", [sample_param(name, name) for name in NOT_PREDICTIONS])
def test_non_prediction_samples_are_rejected(name: str) -> None:
    """Job details, job lists, EVI payloads and webhooks are not predictions: a clear error."""
    with pytest.raises(PredictionsFormatError, match=r"expected Hume predictions.*; found"):
        to_tables(payload(name).read_bytes())


@pytest.mark.parametrize(
    ("document", "found"),
    [
        (b"{not json", "not valid JSON"),
        (b"42", "found a int"),
        (b"[1, 2]", "element 0 is a int"),
        (b'[{"source": "file.mp4"}]', "element 0 is an object"),
        (b'{"job_id": "x"}', "POST /v0/batch/jobs"),
        (VIDEO, "read_predictions"),
        (str(VIDEO), "looks like a path.*read_predictions"),
        ("predictions.json", "looks like a path.*read_predictions"),
    ],
)
def test_bad_documents_say_what_was_found(document: bytes | Path, found: str) -> None:
    """Malformed documents raise PredictionsFormatError naming what was found."""
    with pytest.raises(PredictionsFormatError, match=found):
        to_frame(document)


@pytest.mark.samples
def test_label_sets_match_the_vocabulary() -> None:
    """Face rows carry the 48 expressions and language rows the 53, in JSON order."""
    frame = to_frame(VIDEO.read_bytes())
    face = frame[(frame.model == "face")].iloc[:48]
    assert face.emotion.tolist() == list(EMOTIONS)
    language = frame[(frame.model == "language")].iloc[:53]
    assert language.emotion.tolist() == list(LANGUAGE_EMOTIONS)
