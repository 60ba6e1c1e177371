"""Tests for humekit.emulator.synthesis and .artifacts: real structure, synthetic deterministic scores."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from _paths import payload, require_samples

from humekit.testing import synthetic
from humekit.emulator.synthesis import MODEL_ORDER, Source, artifacts_zip, predict_source
from humekit.backends.v0.limits import Limits
from humekit.predictions.vocabulary import EMOTIONS, FACE_DESCRIPTIONS, FACS, LANGUAGE_EMOTIONS, SENTIMENT, TOXICITY

FACE = {"fps_pred": 3, "prob_threshold": 0.99, "identify_faces": False, "min_face_size": 60, "facs": None,
        "descriptions": None, "save_faces": False}
PROSODY = {"granularity": "utterance", "identify_speakers": False, "window": None}
LANGUAGE = {"granularity": "word", "identify_speakers": False, "sentiment": None, "toxicity": None}
TRANSCRIPTION = {"language": None, "identify_speakers": False, "confidence_threshold": 0.5}


def models(**requested: Any) -> dict[str, Any]:
    """The normalized six-key models dict, with defaults for the models named (True = defaults)."""
    defaults = {"face": FACE, "prosody": PROSODY, "language": LANGUAGE, "burst": {}, "ner": {"identify_speakers": False},
                "facemesh": {}}
    out = {name: None for name in ("burst", "face", "facemesh", "language", "ner", "prosody")}
    for name, value in requested.items():
        out[name] = dict(defaults[name]) if value is True else {**defaults[name], **value}
    return out


def run(source: Source, job_models: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("transcription", TRANSCRIPTION)
    return predict_source(source, job_models, **kwargs)


def file_source(name: str, data: bytes) -> Source:
    return Source(type="file", filename=name, data=data)


def items(prediction: dict[str, Any], model: str) -> list[dict[str, Any]]:
    return [p for g in prediction["models"][model]["grouped_predictions"] for p in g["predictions"]]


def shape(value: Any) -> Any:
    """A value's structure: key order, nesting, nulls and JSON types (int and float alike)."""
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return ["list", shape(value[0]) if value else None]
    if value is None or isinstance(value, str | bool):
        return type(value).__name__
    return "number"


@pytest.fixture(scope="module")
def real_video() -> dict[str, Any]:
    return json.loads((require_samples() / "real_predictions_file_video_face_prosody_language.json").read_text())[0]


@pytest.fixture(scope="module")
def real_text() -> dict[str, Any]:
    return json.loads((require_samples() / "real_predictions_text_language_conversational_turn.json").read_text())[0]


@pytest.fixture(scope="module")
def wav_segments() -> list[tuple[float, float]]:
    return synthetic.random_segments(40.0, seed=7)


@pytest.fixture(scope="module")
def wav(wav_segments) -> bytes:
    return synthetic.make_wav(segments=wav_segments, duration=40.0, seed=7)


# --- sources and the envelope -------------------------------------------------------------------
def test_source_dicts_match_the_real_shapes(wav, real_video, real_text):
    """Sources are exactly {type,url} / {type,filename,content_type,md5sum} / {type}, keys in order."""
    url = run(Source(type="url", url="https://h/x.wav", data=wav), models(prosody=True))
    upload = run(file_source("x.wav", wav), models(prosody=True))
    text = run(Source(type="text", texts=("Hi.",)), models(language=True))
    assert url["source"] == {"type": "url", "url": "https://h/x.wav"}
    assert list(upload["source"]) == list(real_video["source"])
    assert upload["source"]["md5sum"] == __import__("hashlib").md5(wav).hexdigest()
    assert text["source"] == real_text["source"] == {"type": "text"}
    assert list(url) == ["source", "results"] and list(url["results"]) == ["predictions", "errors"]


def test_fetch_error_is_a_top_level_error():
    """A URL that could not be fetched yields {source, error} and no results."""
    out = run(Source(type="url", url="https://h/gone.mp4", fetch_error="Failed to download: 404"), models(face=True))
    assert out == {"source": {"type": "url", "url": "https://h/gone.mp4"}, "error": "Failed to download: 404"}


def test_only_requested_models_in_hume_order(wav):
    """Only requested models appear, in the order face, burst, prosody, language, ner, facemesh."""
    out = run(file_source("a.wav", wav), models(ner=True, prosody=True, face=True))
    assert list(out["results"]["predictions"][0]["models"]) == ["face", "prosody", "ner"]
    assert [m for m in MODEL_ORDER if m in ("face", "prosody", "ner")] == ["face", "prosody", "ner"]


def test_inapplicable_model_is_present_and_empty(wav):
    """A requested model that does not apply (face on a WAV) has metadata null and no groups."""
    face = run(file_source("a.wav", wav), models(face=True))["results"]["predictions"][0]["models"]["face"]
    assert face == {"metadata": None, "grouped_predictions": []}


# --- structure against the real samples -----------------------------------------------------------
def test_video_structure_matches_real_sample(real_video):
    """Face, prosody and language on a video have the real sample's keys, order, nulls and types."""
    job = models(face={"identify_faces": True}, prosody={"identify_speakers": True},
                 language={"granularity": "sentence", "sentiment": {}})
    ours = run(file_source("v.mp4", synthetic.make_mp4(duration=30.0)), job)
    real_pred, our_pred = real_video["results"]["predictions"][0], ours["results"]["predictions"][0]
    assert list(our_pred) == list(real_pred) and our_pred["file_type"] == real_pred["file_type"] == "video"
    assert list(our_pred["models"]) == list(real_pred["models"])
    for model in ("face", "prosody", "language"):
        real_block, our_block = real_pred["models"][model], our_pred["models"][model]
        assert shape(our_block["metadata"]) == shape(real_block["metadata"])
        assert list(our_block["grouped_predictions"][0]) == ["id", "predictions"]
        assert shape(items(our_pred, model)[0]) == shape(items(real_pred, model)[0]), model
        names = [e["name"] for e in items(our_pred, model)[0]["emotions"]]
        assert names == [e["name"] for e in items(real_pred, model)[0]["emotions"]]


def test_text_structure_matches_real_sample(real_text):
    """A text job's predictions have the real text sample's shape (time and metadata null)."""
    ours = run(Source(type="text", texts=("Hello there.", "Fine.")), models(language={"granularity": "conversational_turn"}))
    real_pred, our_pred = real_text["results"]["predictions"][0], ours["results"]["predictions"][0]
    assert shape(our_pred) == shape(real_pred)


def test_image_structure_matches_sdk_archive_example():
    """A face on an image matches the SDK's archive example item: frame 0, time 0, facs/descriptions null."""
    example = json.loads(payload("sdk_example_get_job_predictions_face_url_archive.json").read_text())[0]
    real_item = example["results"]["predictions"][0]["models"]["face"]["grouped_predictions"][0]["predictions"][0]
    ours = run(file_source("me.png", synthetic.make_image()), models(face=True))["results"]["predictions"][0]
    item = items(ours, "face")[0]
    assert shape(item) == shape(real_item)
    assert (item["frame"], item["time"]) == (0, 0) and ours["file_type"] == "image"


# --- audio timeline -----------------------------------------------------------------------------
def test_wav_utterances_match_drawn_segments(wav, wav_segments):
    """Prosody utterances on a WAV are the bursts make_wav drew, within 0.1 s."""
    pred = run(file_source("a.wav", wav), models(prosody=True))["results"]["predictions"][0]
    found = sorted((p["time"]["begin"], p["time"]["end"]) for p in items(pred, "prosody"))
    assert len(found) == len(wav_segments)
    for (b, e), (fb, fe) in zip(wav_segments, found, strict=True):
        assert abs(b - fb) < 0.1 and abs(e - fe) < 0.1


@pytest.mark.parametrize("granularity", ["word", "sentence", "utterance", "conversational_turn"])
@pytest.mark.parametrize("kind", ["wav", "mp3", "mp4", "webm"])
def test_every_segment_inside_its_recording(kind, granularity):
    """Prosody, language, NER and burst times lie inside [0, duration] of their own recording."""
    duration = 17.3
    data = {"wav": lambda: synthetic.make_wav(segments=synthetic.random_segments(duration, seed=2), duration=duration),
            "mp3": lambda: synthetic.make_mp3(duration=duration),
            "mp4": lambda: synthetic.make_mp4(duration=duration),
            "webm": lambda: synthetic.make_webm(duration=duration)}[kind]()
    job = models(prosody={"granularity": granularity}, language={"granularity": granularity}, ner=True, burst=True)
    pred = run(file_source(f"r.{kind}", data), job)["results"]["predictions"][0]
    assert items(pred, "prosody") and items(pred, "language")
    for model in ("prosody", "language", "ner", "burst"):
        for p in items(pred, model):
            assert 0 <= p["time"]["begin"] < p["time"]["end"] <= duration + 0.05, (model, p["time"])


def test_words_split_segments(wav):
    """Word-level prosody splits each utterance into ~0.3–0.5 s words that tile it."""
    out = run(file_source("a.wav", wav), models(prosody=True))["results"]["predictions"][0]
    utterances = items(out, "prosody")
    words = items(run(file_source("a.wav", wav), models(prosody={"granularity": "word"}))["results"]["predictions"][0], "prosody")
    lengths = [w["time"]["end"] - w["time"]["begin"] for w in words]
    assert 0.3 <= sum(lengths) / len(lengths) <= 0.5
    for u in utterances:
        inside = [w for w in words if u["time"]["begin"] <= w["time"]["begin"] < u["time"]["end"]]
        assert inside and inside[-1]["time"]["end"] == pytest.approx(u["time"]["end"])
        assert " ".join(w["text"] for w in inside) == u["text"]


def test_speakers_alternate_and_turns_merge(wav):
    """identify_speakers labels segments spk_0/spk_1; unidentified speech is 'unknown'."""
    on = run(file_source("a.wav", wav), models(prosody={"identify_speakers": True}))["results"]["predictions"][0]
    groups = on["models"]["prosody"]["grouped_predictions"]
    assert [g["id"] for g in groups] == ["spk_0", "spk_1"]
    off = run(file_source("a.wav", wav), models(prosody=True))["results"]["predictions"][0]
    assert [g["id"] for g in off["models"]["prosody"]["grouped_predictions"]] == ["unknown"]


def test_window_covers_the_whole_file(wav):
    """A prosody window gives fixed windows from 0 with the step, cut at the file's end, text null."""
    pred = run(file_source("a.wav", wav), models(prosody={"window": {"length": 4.0, "step": 2.0}}))["results"]["predictions"][0]
    times = [(p["time"]["begin"], p["time"]["end"]) for p in items(pred, "prosody")]
    assert times[0] == (0.0, 4.0) and times[1] == (2.0, 6.0) and times[-1][1] == pytest.approx(40.0)
    assert {p["text"] for p in items(pred, "prosody")} == {None}


def test_empty_window_means_default_window(wav):
    """window: {} switches windows on with the documented defaults (length 4 s, step 1 s)."""
    pred = run(file_source("a.wav", wav), models(prosody={"window": {}}))["results"]["predictions"][0]
    times = [(p["time"]["begin"], p["time"]["end"]) for p in items(pred, "prosody")]
    assert times[:2] == [(0.0, 4.0), (1.0, 5.0)] and len(times) == 40


def test_language_on_audio_metadata_and_transcription_off(wav):
    """Speech language carries transcription metadata; with transcription null it is empty."""
    job = models(language=True, prosody=True)
    pred = run(file_source("a.wav", wav), job, transcription={**TRANSCRIPTION, "language": "fr"})["results"]["predictions"][0]
    assert list(pred["models"]["language"]["metadata"]) == ["confidence", "detected_language"]
    assert pred["models"]["language"]["metadata"]["detected_language"] == "fr"
    off = run(file_source("a.wav", wav), job, transcription=None)["results"]["predictions"][0]["models"]
    assert off["language"]["grouped_predictions"] == [] and off["prosody"]["metadata"] is None
    assert {p["text"] for g in off["prosody"]["grouped_predictions"] for p in g["predictions"]} == {None}


# --- text -----------------------------------------------------------------------------------
TEXTS = ("Hello there. My name is Alice Smith, and I live in Paris!", "Fine.", "  Thank you so much.  ",
         "Is it? Yes.", "", "Update my address.", "What was that?", "Okay")


@pytest.mark.parametrize("granularity", ["word", "sentence", "utterance", "conversational_turn"])
def test_text_positions_slice_the_original(granularity):
    """Every language item's position slices its own string back to its text."""
    out = run(Source(type="text", texts=TEXTS), models(language={"granularity": granularity}))
    for pred in out["results"]["predictions"]:
        original = TEXTS[int(pred["file"]) - 1]
        for p in items(pred, "language"):
            assert original[p["position"]["begin"] : p["position"]["end"]] == p["text"] and p["time"] is None


def test_text_indices_one_based_strings_scrambled():
    """Each text is one prediction, file '1'..'N' as strings, in a deterministic scrambled order."""
    texts = tuple(f"Sentence number {i}." for i in range(25))
    files = [p["file"] for p in run(Source(type="text", texts=texts), models(language=True))["results"]["predictions"]]
    assert sorted(files, key=int) == [str(i) for i in range(1, 26)] and files != sorted(files, key=int)
    assert files == [p["file"] for p in run(Source(type="text", texts=texts), models(language=True))["results"]["predictions"]]


def test_text_granularities_count():
    """Words, sentences (= utterances) and the whole passage for conversational_turn."""
    text = ("Hello there. My name is Alice Smith, and I live in Paris!",)
    counts = {g: len(items(run(Source(type="text", texts=text), models(language={"granularity": g}))["results"]["predictions"][0], "language"))
              for g in ("word", "sentence", "utterance", "conversational_turn")}
    assert counts == {"word": 12, "sentence": 2, "utterance": 2, "conversational_turn": 1}


def test_sentiment_and_toxicity_toggle():
    """sentiment/toxicity are null unless requested, then named '1'..'9' and the six labels."""
    off = items(run(Source(type="text", texts=("Hi.",)), models(language=True))["results"]["predictions"][0], "language")[0]
    assert off["sentiment"] is None and off["toxicity"] is None
    job = models(language={"sentiment": {}, "toxicity": {}})
    on = items(run(Source(type="text", texts=("Hi.",)), job)["results"]["predictions"][0], "language")[0]
    assert [s["name"] for s in on["sentiment"]] == list(SENTIMENT) and [t["name"] for t in on["toxicity"]] == list(TOXICITY)
    assert 0.9 < sum(s["score"] for s in on["sentiment"]) < 1.0
    assert [e["name"] for e in on["emotions"]] == list(LANGUAGE_EMOTIONS)


def test_ner_finds_capitalised_entities_with_positions():
    """NER reports capitalised non-initial words with exact positions and the documented keys."""
    text = "Yesterday I met Alice in Paris. Then we left."
    pred = run(Source(type="text", texts=(text,)), models(ner=True))["results"]["predictions"][0]
    entities = items(pred, "ner")
    assert [e["entity"] for e in entities] == ["Alice", "Paris"]
    assert all(text[e["position"]["begin"] : e["position"]["end"]] == e["entity"] for e in entities)
    assert list(entities[0]) == ["entity", "position", "entity_confidence", "support", "uri", "link_word", "time",
                                 "confidence", "speaker_confidence", "emotions"]


# --- faces ------------------------------------------------------------------------------------
def test_face_on_image_box_inside_and_prob_over_threshold():
    """An image face has its box inside the image and prob ≥ prob_threshold; ids follow identify_faces."""
    image = synthetic.make_image(width=300, height=200, seed=3)
    for identify, gid in ((False, "unknown"), (True, "face_0")):
        pred = run(file_source("f.jpg", image), models(face={"identify_faces": identify, "prob_threshold": 0.9}))
        groups = pred["results"]["predictions"][0]["models"]["face"]["grouped_predictions"]
        (item,) = groups[0]["predictions"]
        box = item["box"]
        assert groups[0]["id"] == gid and item["prob"] >= 0.9
        assert 0 <= box["x"] and box["x"] + box["w"] <= 300 and 0 <= box["y"] and box["y"] + box["h"] <= 200


def test_small_image_has_no_face_over_min_face_size():
    """Faces smaller than min_face_size are not detected."""
    pred = run(file_source("f.png", synthetic.make_image(width=40, height=40)), models(face=True))
    assert pred["results"]["predictions"][0]["models"]["face"]["grouped_predictions"] == []


def test_video_frames_follow_fps_pred():
    """Video frames are round(n·25/fps_pred) from n=1 (frame 8, time 0.32 at 3 fps), inside the duration."""
    pred = run(file_source("v.mp4", synthetic.make_mp4(duration=10.0)), models(face={"identify_faces": True}))
    first = pred["results"]["predictions"][0]["models"]["face"]["grouped_predictions"][0]["predictions"]
    assert [(p["frame"], p["time"]) for p in first[:3]] == [(8, 0.32), (17, 0.68), (25, 1.0)]
    assert first[-1]["time"] < 10.0 and len(first) == 29  # frames 0..249 exist; 250 would be t = 10.0
    every = run(file_source("v.mp4", synthetic.make_mp4(duration=2.0)), models(face={"fps_pred": 0}))
    frames = sorted({p["frame"] for p in items(every["results"]["predictions"][0], "face")})
    assert frames == list(range(1, 50))


def test_video_times_follow_the_files_frame_rate(samples):
    """At 29.97 fps frames step by 10 and time = frame * 1001 / 30000, as in the real URL-video sample."""
    real = json.loads((samples / "real_predictions_url_video_face_TRIMMED.json").read_bytes())
    real_items = real[0]["results"]["predictions"][0]["models"]["face"]["grouped_predictions"][0]["predictions"]
    video = synthetic.make_mp4(duration=10.0, fps=30000 / 1001, audio=False)
    pred = run(file_source("v.mp4", video), models(face={"identify_faces": True}))
    ours = {p["frame"]: p["time"] for p in pred["results"]["predictions"][0]["models"]["face"]["grouped_predictions"][0]
            ["predictions"]}  # fmt: skip
    assert sorted(ours)[:3] == [10, 20, 30]
    for item in real_items:  # frames 230, 240, 250: the same frames at the same times
        assert ours[item["frame"]] == pytest.approx(item["time"], abs=1e-12)
    webm = run(file_source("v.webm", synthetic.make_webm(duration=3.0, fps=24.0)),
               models(face={"identify_faces": True}))
    group = webm["results"]["predictions"][0]["models"]["face"]["grouped_predictions"][0]["predictions"]
    assert [p["frame"] for p in group[:2]] == [8, 16]  # 24 fps / 3: every 8th frame
    assert [p["time"] for p in group[:2]] == pytest.approx([8 / 24, 16 / 24], abs=1e-6)  # DefaultDuration is whole ns


def test_one_colour_image_has_no_face():
    """An image of one plain colour comes back with no face (grouped_predictions empty), a drawn face with one."""
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (320, 400), (200, 180, 160)).save(blank, "PNG")
    pred = run(file_source("wall.png", blank.getvalue()), models(face={}))
    assert pred["results"]["predictions"][0]["models"]["face"] == {"metadata": None, "grouped_predictions": []}
    assert items(run(file_source("f.png", synthetic.make_image()), models(face={}))["results"]["predictions"][0],
                 "face")


def test_facs_and_descriptions_when_requested():
    """facs/descriptions list the real FACS and description names when switched on."""
    pred = run(file_source("f.png", synthetic.make_image()), models(face={"facs": {}, "descriptions": {}}))
    item = items(pred["results"]["predictions"][0], "face")[0]
    assert [f["name"] for f in item["facs"]] == list(FACS)
    assert [d["name"] for d in item["descriptions"]] == list(FACE_DESCRIPTIONS)


def test_silent_video_is_video_no_audio():
    """A video without an audio track is 'video_no_audio' and has no prosody."""
    pred = run(file_source("v.mp4", synthetic.make_mp4(duration=5.0, audio=False)), models(face=True, prosody=True))
    pred = pred["results"]["predictions"][0]
    assert pred["file_type"] == "video_no_audio" and items(pred, "face") and not items(pred, "prosody")


def test_facemesh_items_are_emotions_only():
    """Facemesh items carry only the 48 emotions."""
    pred = run(file_source("f.png", synthetic.make_image()), models(facemesh=True))["results"]["predictions"][0]
    (item,) = items(pred, "facemesh")
    assert list(item) == ["emotions"] and [e["name"] for e in item["emotions"]] == list(EMOTIONS)


# --- archives, errors -----------------------------------------------------------------------------
@pytest.mark.parametrize("pack", [
    lambda m: synthetic.make_zip(members=m),
    lambda m: synthetic.make_tar(members=m, compression="gz"),
    lambda m: synthetic.make_tar(members=m, compression="bz2"),
    lambda m: synthetic.make_tar(members=m, compression="xz"),
])
def test_archive_members_are_files(pack):
    """An archive is one source with one prediction per member, file = member path; hidden files skipped."""
    members = {"faces/100.jpg": synthetic.make_image(format="JPEG"), "audio/a.wav": synthetic.make_wav(segments=[(0.2, 1.0)]),
               "notes/n.txt": b"Meet Bob in Rome.", "__MACOSX/._x": b"junk", ".DS_Store": b"junk"}
    out = run(Source(type="url", url="https://h/faces.zip", data=pack(members)), models(face=True, language=True))
    preds = out["results"]["predictions"]
    assert {p["file"]: p["file_type"] for p in preds} == {"faces/100.jpg": "image", "audio/a.wav": "audio",
                                                          "notes/n.txt": "text"}
    assert out["results"]["errors"] == []


@pytest.mark.parametrize(("name", "data", "needle"), [
    ("paper.pdf", b"%PDF-1.7 ...", "Unsupported file type"),
    ("broken.mp4", synthetic.make_mp4()[:20], "Could not decode"),
    ("inner.zip", synthetic.make_zip(members={"x.zip": synthetic.make_zip(members={"a.txt": b"a"})}), "archive inside"),
])
def test_unusable_files_become_per_file_errors(name, data, needle):
    """Unsupported, undecodable and nested-archive files are results.errors, not predictions."""
    out = run(file_source(name, data), models(face=True))
    assert out["results"]["predictions"] == []
    (error,) = out["results"]["errors"]
    assert list(error) == ["message", "file"] and needle in error["message"]


def test_media_over_the_duration_limit_is_an_error():
    """Media longer than limits.max_media_seconds fails with a message naming the limit."""
    out = run(file_source("long.mp3", synthetic.make_mp3(duration=20.0)), models(prosody=True),
              limits=Limits(max_media_seconds=10.0))
    (error,) = out["results"]["errors"]
    assert error["file"] == "long.mp3" and "max_media_seconds" in error["message"]


def test_injected_file_errors():
    """file_error() fails exactly the files it names, with its message."""
    out = run(Source(type="text", texts=("a.", "b.", "c.")), models(language=True),
              file_error=lambda file: "boom" if file == "2" else None)
    assert out["results"]["errors"] == [{"message": "boom", "file": "2"}]
    assert sorted(p["file"] for p in out["results"]["predictions"]) == ["1", "3"]


def test_url_file_named_by_path():
    """A URL's prediction is named by the path's last segment, query string dropped."""
    out = run(Source(type="url", url="https://s3/x/feelings_lab.mp4?X-Amz=1", data=synthetic.make_mp4(audio=False)),
              models(face=True))
    assert out["results"]["predictions"][0]["file"] == "feelings_lab.mp4"


# --- determinism, plausibility, speed ------------------------------------------------------------
def test_deterministic_and_content_seeded(wav):
    """Same content → identical output; different content → different scores."""
    job = models(prosody=True, burst=True, language=True)
    a = run(file_source("a.wav", wav), job)
    assert a == run(file_source("a.wav", wav), job)
    other = synthetic.make_wav(segments=synthetic.random_segments(40.0, seed=7), duration=40.0, seed=8)
    b = run(file_source("a.wav", other), job)
    assert items(a["results"]["predictions"][0], "prosody")[0]["emotions"] != items(b["results"]["predictions"][0], "prosody")[0]["emotions"]


def test_scores_plausible(wav):
    """Scores lie in (0, 1) and are sparse-ish: median low, a few high."""
    pred = run(file_source("v.mp4", synthetic.make_mp4(duration=60.0)), models(face=True, prosody=True))["results"]["predictions"][0]
    for model, upper in (("face", 0.3), ("prosody", 0.15)):
        scores = sorted(e["score"] for p in items(pred, model) for e in p["emotions"])
        assert 0 < scores[0] and scores[-1] < 1 and scores[len(scores) // 2] < upper and scores[-1] > 2 * scores[len(scores) // 2]


def test_fast_on_ten_minutes_and_a_hundred_texts():
    """A 10-minute WAV and 100 texts each synthesize in well under a second."""
    long_wav = synthetic.make_wav(segments=synthetic.random_segments(600.0, seed=1), duration=600.0)
    job = models(prosody=True, burst=True, language=True, ner=True)
    start = time.perf_counter()
    run(file_source("long.wav", long_wav), job)
    assert time.perf_counter() - start < 1.0
    start = time.perf_counter()
    run(Source(type="text", texts=tuple(f"Text {i}. My name is Alice, I live in Paris!" for i in range(100))), job)
    assert time.perf_counter() - start < 1.0


# --- artifacts ZIP ----------------------------------------------------------------------------------
def _real_headers() -> dict[str, list[str]]:
    with zipfile.ZipFile(require_samples() / "real_artifacts_face_prosody_language.zip") as zf:
        return {Path(n).stem: next(csv.reader(io.StringIO(zf.read(n).decode()))) for n in zf.namelist()}


def _read_zip(data: bytes) -> dict[str, list[list[str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: list(csv.reader(io.StringIO(zf.read(n).decode(), newline=""))) for n in zf.namelist()}


@pytest.fixture(scope="module")
def job_predictions(wav) -> list[dict[str, Any]]:
    job = models(face=True, prosody={"identify_speakers": True}, language={"sentiment": {}}, burst=True, ner=True)
    return [
        run(file_source("clip.mp4", synthetic.make_mp4(duration=12.0)), job),
        run(Source(type="url", url="https://h/a.wav", data=wav), job),
        run(Source(type="text", texts=("Meet Alice in Paris. Now!", "Fine.")), job),
        run(Source(type="url", url="https://h/gone.wav", fetch_error="404"), job),
    ]


def test_artifacts_headers_equal_the_real_zip(job_predictions):
    """face, prosody and language CSV headers equal the real artifacts ZIP's, column for column."""
    real = _real_headers()
    ours = {Path(n).stem: rows[0] for n, rows in _read_zip(artifacts_zip(job_predictions)).items()}
    for model in ("face", "prosody", "language"):
        assert ours[model] == real[model], model


def test_artifacts_layout_and_row_counts(job_predictions):
    """Paths are file-<i>-<name>/csv/<name>/<model>.csv and each CSV has one row per prediction item."""
    tables = _read_zip(artifacts_zip(job_predictions))
    expected = {}
    index = 0
    for result in job_predictions:
        preds = result.get("results", {}).get("predictions", [])
        if result["source"]["type"] == "text":
            preds = sorted(preds, key=lambda p: int(p["file"]))
        for pred in preds:
            name = f"text-{pred['file']}" if result["source"]["type"] == "text" else pred["file"]
            for model in ("language", "prosody", "face", "burst", "ner"):
                count = len(items(pred, model)) if model in pred["models"] else 0
                if count:
                    expected[f"file-{index}-{name}/csv/{name}/{model}.csv"] = count
            index += 1
    assert {n: len(rows) - 1 for n, rows in tables.items()} == expected
    assert "file-1-a.wav/csv/a.wav/prosody.csv" in expected and "file-2-text-1/csv/text-1/language.csv" in expected


def test_artifacts_cells_like_the_real_csvs(job_predictions):
    """Unrequested FACS cells are empty (as in the real face.csv), text times empty, rows sorted by time."""
    tables = _read_zip(artifacts_zip(job_predictions))
    face = tables["file-0-clip.mp4/csv/clip.mp4/face.csv"]
    au = face[0].index("AU1 Inner Brow Raise")
    frames = [int(r[1]) for r in face[1:]]
    assert all(row[au] == "" for row in face[1:]) and frames[0] == 8 and frames == sorted(frames)
    prosody = tables["file-1-a.wav/csv/a.wav/prosody.csv"]
    begins = [float(r[2]) for r in prosody[1:]]
    assert begins == sorted(begins) and {r[0] for r in prosody[1:]} == {"spk_0", "spk_1"}
    text = tables["file-2-text-1/csv/text-1/language.csv"]
    assert text[1][:6] == ["unknown", "Meet", "0", "4", "", ""]


def _plain(value: Any) -> bool:
    """Only JSON's own Python types, recursively (numpy scalars would break orjson)."""
    if isinstance(value, dict):
        return all(type(k) is str and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def test_output_is_plain_json(job_predictions):
    """Predictions hold only plain JSON types, so orjson and json serialize them as is."""
    import orjson

    assert _plain(job_predictions)
    assert json.loads(orjson.dumps(job_predictions)) == json.loads(json.dumps(job_predictions))


def test_artifacts_zip_is_deterministic(job_predictions):
    """The same predictions give byte-identical ZIPs."""
    assert artifacts_zip(job_predictions) == artifacts_zip(job_predictions)


def test_source_is_frozen():
    """Source is an immutable record."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        Source(type="text").type = "url"  # type: ignore[misc]
