"""Tests for humekit.predictions.archives: predictions JSON, artifacts ZIPs and folders read the same way."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from _paths import SAMPLES, payload, sample_param

from humekit.predictions.archives import iter_prediction_files, read_predictions
from humekit.errors import PredictionsFormatError
from humekit.predictions.decoding import to_tables
from humekit.predictions.vocabulary import (
    CSV_EMOTIONS,
    CSV_LANGUAGE_EMOTIONS,
    FACE_DESCRIPTIONS,
    FACS,
    SENTIMENT,
    TOXICITY,
)

VIDEO = payload("real_predictions_file_video_face_prosody_language.json")
ZIP = payload("real_artifacts_face_prosody_language.zip")
PREDICTION_SAMPLES = {
    "real_predictions_file_video_face_prosody_language.json": 16956,
    "real_predictions_text_language_conversational_turn.json": 1325,
    "real_predictions_url_video_face_TRIMMED.json": 576,
    "sdk_example_get_job_predictions_face_url_archive.json": 48,
    "real_artifacts_face_prosody_language.zip": 27192,
}
ABSENT_IN_CSV = ["source_type", "md5sum", "file_type"]
HEADERS = {
    "face": ["Id", "Frame", "Time", "Probability", "FaceX0", "FaceY0", "FaceWidth", "FaceHeight",
             *CSV_EMOTIONS, *FACS, *FACE_DESCRIPTIONS],
    "prosody": ["Id", "Text", "BeginTime", "EndTime", "Confidence", "SpeakerConfidence", *CSV_EMOTIONS],
    "language": ["Id", "Text", "BeginPosition", "EndPosition", "BeginTime", "EndTime", "Confidence",
                 "SpeakerConfidence", *CSV_LANGUAGE_EMOTIONS, *SENTIMENT, *TOXICITY],
}  # fmt: skip


def _cell(value: Any) -> str:
    return "" if value is None else repr(float(value)) if isinstance(value, float) else str(value)


def _row(model: str, gid: str, item: dict[str, Any]) -> dict[str, Any]:
    scores = {e["name"]: e["score"] for key in ("emotions", "facs", "descriptions", "sentiment", "toxicity")
              for e in item.get(key) or ()}  # fmt: skip
    time, box, pos = item.get("time"), item.get("box") or {}, item.get("position") or {}
    fields = {"Id": gid, "Text": item.get("text"), "Frame": item.get("frame"), "Probability": item.get("prob"),
              "FaceX0": box.get("x"), "FaceY0": box.get("y"), "FaceWidth": box.get("w"), "FaceHeight": box.get("h"),
              "BeginPosition": pos.get("begin"), "EndPosition": pos.get("end"),
              "Confidence": item.get("confidence"), "SpeakerConfidence": item.get("speaker_confidence")}  # fmt: skip
    if model == "face":
        fields["Time"] = time
    else:
        fields["BeginTime"], fields["EndTime"] = (time or {}).get("begin"), (time or {}).get("end")
    return {**fields, **scores}


def write_artifacts_zip(predictions: list[dict[str, Any]], path: Path) -> Path:
    """Write predictions JSON as an artifacts ZIP: file-<i>-<name>/csv/<name>/<model>.csv."""
    with zipfile.ZipFile(path, "w") as archive:
        for i, element in enumerate(predictions):
            name = element["source"].get("filename") or element["source"].get("url", "").rsplit("/", 1)[-1]
            for pred in element["results"]["predictions"]:
                for model, block in pred["models"].items():
                    out = io.StringIO()
                    writer = csv.writer(out, lineterminator="\r\n")  # as in the real ZIP
                    writer.writerow(HEADERS[model])
                    for group in block["grouped_predictions"]:
                        for item in group["predictions"]:
                            row = _row(model, group["id"], item)
                            writer.writerow([_cell(row.get(h)) for h in HEADERS[model]])
                    archive.writestr(f"file-{i}-{name}/csv/{pred['file']}/{model}.csv", out.getvalue())
    return path


def _sorted(frame: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    keys = ["model", "group", "begin", "position_begin", *extra]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


@pytest.mark.samples
def test_helper_writes_the_real_headers() -> None:
    """The test ZIP writer produces exactly the CSV headers of the real artifacts ZIP."""
    with zipfile.ZipFile(ZIP) as archive:
        for name in archive.namelist():
            model = name.rsplit("/", 1)[-1][:-4]
            assert archive.read(name).decode().splitlines()[0].split(",") == HEADERS[model]


@pytest.mark.samples
def test_real_zip_counts_and_values() -> None:
    """The real artifacts ZIP reads to exact row counts and pinned values."""
    tables = read_predictions(ZIP)
    s = tables.scores
    assert s.groupby("model", observed=True).size().to_dict() == {"face": 24768, "prosody": 1152, "language": 1272}
    assert len(tables.descriptors) == 216 and set(tables.descriptors.kind) == {"sentiment"}
    assert len(tables.errors) == 0 and len(tables.metadata) == 0
    first = s.iloc[0]
    assert (first.source, first.file, first.group, first.frame, first.begin, first.end) == (
        "bad_interview.mp4", "bad_interview.mp4", "face_0", 8, 0.32, 0.32)  # fmt: skip
    assert (first.emotion, first.score, first.box_h) == ("Admiration", 0.2178158015012741, 341.75242614746094)
    assert s[ABSENT_IN_CSV].isna().all().all()
    language = s[s.model == "language"].iloc[0]
    assert (language.text, language.position_begin, language.position_end) == ("Hi, Nun.", 0, 8)
    assert (language.begin, language.end, language.score) == (3.2328947, 3.8714912, 0.021000448614358902)
    assert set(s[s.model == "prosody"].group) == {"spk_0", "spk_1"}


@pytest.mark.samples
def test_json_and_zip_of_the_same_job_are_equal(tmp_path: Path) -> None:
    """A job read from JSON and from its artifacts ZIP gives the same rows, columns and dtypes."""
    doc = orjson.loads(VIDEO.read_bytes())
    from_json = to_tables(doc)
    from_zip = read_predictions(write_artifacts_zip(doc, tmp_path / "artifacts.zip"))
    assert (from_json.scores.dtypes.astype(str) == from_zip.scores.dtypes.astype(str)).all()
    assert (from_json.descriptors.dtypes.astype(str) == from_zip.descriptors.dtypes.astype(str)).all()
    assert from_zip.scores[ABSENT_IN_CSV].isna().all().all()
    left = _sorted(from_json.scores.drop(columns=ABSENT_IN_CSV), ["frame", "emotion"])
    right = _sorted(from_zip.scores.drop(columns=ABSENT_IN_CSV), ["frame", "emotion"])
    pd.testing.assert_frame_equal(left, right)
    left = _sorted(from_json.descriptors.drop(columns=ABSENT_IN_CSV), ["name"])
    right = _sorted(from_zip.descriptors.drop(columns=ABSENT_IN_CSV), ["name"])
    pd.testing.assert_frame_equal(left, right)


@pytest.mark.samples
@pytest.mark.parametrize(("name", "rows"), PREDICTION_SAMPLES.items())
def test_every_prediction_sample_reads(name: str, rows: int) -> None:
    """Every predictions sample (JSON or ZIP) reads with its exact row count and the same dtypes."""
    tables = read_predictions(payload(name))
    assert len(tables.scores) == rows
    reference = to_tables(VIDEO.read_bytes()).scores.dtypes.astype(str)
    assert (tables.scores.dtypes.astype(str) == reference).all()


@pytest.mark.parametrize("name", [sample_param(n, n) for n in ("sdk_example_get_job_details_completed.json",
                                  "sdk_example_evi_list_chats.json", "docs_webhook_chat_ended.json", "README.md")])
def test_non_predictions_name_the_file(name: str) -> None:
    """Files that are not predictions raise PredictionsFormatError naming the file."""
    with pytest.raises(PredictionsFormatError, match=name.replace(".", r"\.")):
        read_predictions(payload(name))


@pytest.mark.samples
def test_samples_folder_recursively(tmp_path: Path) -> None:
    """A folder reads recursively; non-predictions files raise, or are skipped with on_invalid="skip"."""
    with pytest.raises(PredictionsFormatError):
        read_predictions(SAMPLES)
    tables = read_predictions(SAMPLES, on_invalid="skip")
    assert len(tables.scores) == sum(PREDICTION_SAMPLES.values())
    assert tables.scores.source.nunique() == 5
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "job.json").write_bytes(VIDEO.read_bytes())
    (tmp_path / "notes.txt").write_text("not predictions")
    assert [p.name for p in iter_prediction_files(tmp_path)] == ["job.json"]
    assert len(read_predictions(tmp_path).scores) == 16956


@pytest.mark.samples
def test_extracted_artifacts_folder_equals_zip(tmp_path: Path) -> None:
    """An extracted artifacts folder reads exactly like the ZIP itself."""
    with zipfile.ZipFile(ZIP) as archive:
        archive.extractall(tmp_path)
    expected = read_predictions(ZIP)
    found = read_predictions(tmp_path)
    pd.testing.assert_frame_equal(found.scores, expected.scores)
    pd.testing.assert_frame_equal(found.descriptors, expected.descriptors)


@pytest.mark.samples
def test_models_filter_applies_to_zips() -> None:
    """models= also filters the CSVs of an artifacts ZIP."""
    tables = read_predictions(ZIP, models=["prosody"])
    assert len(tables.scores) == 1152 and len(tables.descriptors) == 0


def test_bad_zip_and_missing_path(tmp_path: Path) -> None:
    """A ZIP without artifacts CSVs and a missing path give clear errors."""
    bad = tmp_path / "other.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(PredictionsFormatError, match="artifacts ZIP"):
        read_predictions(bad)
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    with pytest.raises(PredictionsFormatError, match="not a ZIP"):
        read_predictions(tmp_path / "broken.zip")
    with pytest.raises(FileNotFoundError):
        read_predictions(tmp_path / "nope.json")


def test_image_faces_have_no_time_in_json_and_in_artifacts(tmp_path: Path) -> None:
    """A face on an uploaded image: begin/end null from the JSON (Hume's time 0) and from its artifacts CSV."""
    from humekit.emulator.synthesis import Source, artifacts_zip, predict_source
    from humekit.testing.synthetic import make_image

    data = make_image()
    config = {"fps_pred": 3, "prob_threshold": 0.99, "identify_faces": False, "min_face_size": 60, "facs": None,
              "descriptions": None, "save_faces": False}
    models = {"face": config, "burst": None, "prosody": None, "language": None, "ner": None, "facemesh": None}
    doc = [predict_source(Source(type="file", filename="portrait.png", data=data), models, transcription={})]
    assert doc[0]["results"]["predictions"][0]["models"]["face"]["grouped_predictions"][0]["predictions"][0][
        "time"] == 0  # fmt: skip
    (tmp_path / "a.zip").write_bytes(artifacts_zip(doc))
    for scores in (to_tables(doc).scores, read_predictions(tmp_path / "a.zip").scores):
        assert len(scores) and scores["begin"].isna().all() and scores["end"].isna().all()
