"""Tests for humekit.predictions._schema: typed decoding of predictions and the repairs it reports."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pandas as pd
import pytest
from _paths import payload, sample_param
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humekit.testing import synthetic
from humekit.predictions._schema import MAX_REPAIRS, MODEL_ORDER, _types, decode, decode_python
from humekit.emulator.inputs import Source
from humekit.emulator.synthesis import predict_source
from humekit.errors import PredictionsFormatError
from humekit.predictions.decoding import to_frame, to_tables
from humekit.predictions.vocabulary import MODELS

VIDEO = payload("real_predictions_file_video_face_prosody_language.json")
PREDICTION_SAMPLES = [sample_param(name) for name in (
    "real_predictions_file_video_face_prosody_language.json", "real_predictions_text_language_conversational_turn.json",
    "real_predictions_url_video_face_TRIMMED.json", "sdk_example_get_job_predictions_face_url_archive.json")]


def load(path: Path) -> Any:
    """Parse a sample file."""
    return orjson.loads(path.read_bytes())


def face_items(doc: Any) -> list[dict[str, Any]]:
    """The face items of the video sample's first group."""
    return doc[0]["results"]["predictions"][0]["models"]["face"]["grouped_predictions"][0]["predictions"]


def assert_tables_equal(left: Any, right: Any) -> None:
    """All four tables of two PredictionTables are equal."""
    for name in ("scores", "descriptors", "errors", "metadata"):
        pd.testing.assert_frame_equal(getattr(left, name), getattr(right, name), obj=name)


def test_model_order_covers_every_model() -> None:
    """MODEL_ORDER names each of Hume's six models once."""
    assert sorted(MODEL_ORDER) == sorted(MODELS)


def emulated_document() -> bytes:
    """Emulator predictions with every model and every descriptor list, for a video and a text."""
    video = Source(type="file", filename="v.mp4", md5sum="0" * 32, data=synthetic.make_mp4(duration=3.0))
    text = Source(type="text", texts=("I am so happy today. What a day!",))
    on = {"granularity": "sentence", "identify_speakers": False, "sentiment": {}, "toxicity": {}}
    models = {"face": {"fps_pred": 3, "prob_threshold": 0.99, "identify_faces": True, "min_face_size": 0,
                       "facs": {}, "descriptions": {}, "save_faces": False},
              "burst": {}, "prosody": {"granularity": "utterance", "identify_speakers": False, "window": None},
              "language": on, "ner": {"identify_speakers": False}, "facemesh": {}}  # fmt: skip
    transcription = {"language": None, "identify_speakers": False, "confidence_threshold": 0.5}
    return orjson.dumps([predict_source(s, models, transcription=transcription) for s in (video, text)])


def known_labels_decode(data: bytes, *, described: bool) -> bool:
    """Whether the fast decoder (Hume's labels only) takes ``data`` without a fallback."""
    try:
        _types(described, True)[1].decode(data)
    except msgspec.ValidationError:
        return False
    return True


@pytest.mark.parametrize("path", PREDICTION_SAMPLES)
def test_every_sample_takes_the_fast_decoder(path: Path) -> None:
    """Real samples fit the typed shape with Hume's labels as they are: no repair, no fallback."""
    for described in (True, False):
        assert known_labels_decode(path.read_bytes(), described=described)
        assert decode(path.read_bytes(), described=described) is not None


def test_emulator_output_with_every_model_takes_the_fast_decoder() -> None:
    """Every model and descriptor list the emulator writes uses only the vocabulary's names."""
    data = emulated_document()
    tables = to_tables(data)
    assert set(tables.descriptors.kind) == {"facs", "description", "sentiment", "toxicity"}
    assert {"face", "prosody", "language", "ner"} <= set(tables.scores.model)
    assert known_labels_decode(data, described=True) and known_labels_decode(data, described=False)


@pytest.mark.samples
def test_an_unknown_label_falls_back_to_the_string_decoder() -> None:
    """A label Hume does not have fails the fast decoder but still decodes in one pass, and is kept."""
    doc = load(VIDEO)
    face_items(doc)[0]["emotions"][0]["name"] = "Serenity"
    face_items(doc)[0]["facs"] = [{"name": "AU99", "score": 0.5}]
    data = orjson.dumps(doc)
    assert not known_labels_decode(data, described=False)
    assert decode(data, described=True) is not None
    tables = to_tables(data)
    assert "Serenity" in set(tables.scores.emotion) and "AU99" in set(tables.descriptors.name)


@pytest.mark.parametrize("path", PREDICTION_SAMPLES)
def test_bytes_and_parsed_documents_give_equal_tables(path: Path) -> None:
    """The one-pass bytes decoder and the converter of parsed JSON give identical tables."""
    assert_tables_equal(to_tables(path.read_bytes()), to_tables(load(path)))


@pytest.mark.samples
def test_models_come_out_in_humes_order_whatever_the_json_order() -> None:
    """Rows follow face, burst, prosody, language... even if a document lists models otherwise."""
    doc = load(VIDEO)
    models = doc[0]["results"]["predictions"][0]["models"]
    doc[0]["results"]["predictions"][0]["models"] = dict(reversed(list(models.items())))
    assert list(to_frame(orjson.dumps(doc)).model.unique()) == ["face", "prosody", "language"]


@pytest.mark.samples
def test_wrong_type_is_read_as_null_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A value of the wrong type becomes null, and a WARNING names its JSON path and value."""
    doc = load(VIDEO)
    face_items(doc)[3]["prob"] = "n/a"
    face_items(doc)[4]["box"] = "somewhere"
    face_items(doc)[5]["frame"] = 2.5
    with caplog.at_level(logging.WARNING, logger="humekit"):
        scores = to_frame(orjson.dumps(doc))
    assert len(scores) == 16956
    first = scores[(scores.model == "face") & (scores.group == "face_0")].drop_duplicates("frame")
    assert first.prob.isna().tolist()[:5] == [False, False, False, True, False]
    assert first.box_x.isna().tolist()[:6] == [False, False, False, False, True, False]
    assert first.frame.isna().tolist()[:6] == [False] * 5 + [True]
    assert "$[0].results.predictions[0].models.face.grouped_predictions[0].predictions[3].prob" in caplog.text
    assert "'n/a'" in caplog.text


@pytest.mark.samples
def test_numbers_given_as_strings_are_read_as_numbers() -> None:
    """A score written as a string ("0.5") is the number, not a repair."""
    doc = load(VIDEO)
    face_items(doc)[0]["emotions"][0]["score"] = "0.5"
    assert decode(orjson.dumps(doc), described=False) is not None
    assert to_frame(orjson.dumps(doc)).score.iloc[0] == 0.5


@pytest.mark.samples
def test_bad_list_elements_and_unknown_models_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    """A null item, an emotion without a name and a model Hume lacks are dropped, each logged."""
    doc = load(VIDEO)
    face_items(doc).insert(0, None)
    face_items(doc)[1]["emotions"][0] = {"score": 0.5}
    face_items(doc)[2]["emotions"][1]["name"] = 7  # neither a str nor made one: the entry goes
    doc[0]["results"]["predictions"][0]["models"]["gait"] = {"grouped_predictions": []}
    with caplog.at_level(logging.WARNING, logger="humekit"):
        scores = to_frame(doc)
    assert len(scores) == 16956 - 2
    assert "dropped model 'gait'" in caplog.text
    assert caplog.text.count("dropped $[0]") == 3


@pytest.mark.samples
def test_parsed_input_is_never_modified() -> None:
    """Repairs work on a copy: the caller's parsed document is left as it was."""
    doc = load(VIDEO)
    face_items(doc)[0]["prob"] = "n/a"
    face_items(doc).append(None)
    before = copy.deepcopy(doc)
    to_tables(doc)
    assert doc == before


@pytest.mark.samples
def test_too_many_repairs_is_a_format_error() -> None:
    """A document needing more than MAX_REPAIRS repairs is not predictions with a few bad values."""
    doc = load(VIDEO)
    for item in face_items(doc):
        item["emotions"] = [None] * 48
    with pytest.raises(PredictionsFormatError, match=f"after {MAX_REPAIRS} repair"):
        decode_python(doc, described=False)


def test_invalid_json_is_a_format_error() -> None:
    """Bytes that are not JSON raise PredictionsFormatError, not a msgspec error."""
    with pytest.raises(PredictionsFormatError, match="not valid JSON"):
        decode(b'[{"source": ', described=False)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a parsed JSON document."""
    out = [path] if path else []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        out += _paths(value, (*path, key))
    return out


SMALL = load(payload("sdk_example_get_job_predictions_face_url_archive.json"))
SMALL_PATHS = _paths(SMALL)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(SMALL_PATHS), JSON_VALUES), min_size=1, max_size=4))
def test_any_corrupted_value_gives_tables_or_a_format_error(edits: list[tuple[tuple[Any, ...], Any]]) -> None:
    """Whatever value replaces whatever part of a real document, the result is tables or a clear error."""
    doc = copy.deepcopy(SMALL)
    for path, value in edits:
        node = doc
        try:
            for key in path[:-1]:
                node = node[key]
            if isinstance(node, dict) != isinstance(path[-1], str):
                continue  # an earlier edit changed a list into an object or back
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed this path
    try:
        from_bytes, from_parsed = to_tables(orjson.dumps(doc)), to_tables(doc)
    except PredictionsFormatError:
        return
    assert_tables_equal(from_bytes, from_parsed)
