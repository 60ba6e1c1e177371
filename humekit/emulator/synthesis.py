"""The emulator's predictions for one submitted source: real structure, **synthetic scores**.

**Scores are synthetic**: deterministic noise seeded by each file's md5 (see
:mod:`humekit.emulator.scores`); no model runs. Everything else follows the content and the
real samples' exact shapes (key names and order, explicit nulls, floats):

- prosody/burst segments come from the energy of a WAV's actual samples; other audio/video gets
  seeded segments over the duration its header states (:mod:`humekit.emulator.timeline`);
- language/NER on text tokenize the real strings (positions slice them exactly);
- speech has no transcription here: its ``text`` is **synthetic words** from a fixed vocabulary;
- face boxes lie inside the image; an image of one plain colour has no face; video frames are
  sampled at ``fps_pred`` of the video's own frame rate, read from its container
  (:attr:`humekit.pipeline.media.MediaInfo.frame_rate`; 25 fps when the container does not state one), and
  ``time = frame / rate``: the real samples show frame 8 at 0.32 s in a 25 fps video and frame
  230 at 7.674 s (= 230 × 1001 / 30000) in a 29.97 fps one.

Choices where Hume's behaviour is not documented (UNCONFIRMED):

- A requested model that does not apply to a file (face on a WAV, prosody on an image or a
  silent video, language on speech when ``transcription`` is null) is present with
  ``metadata: null`` and ``grouped_predictions: []``; unrequested models are absent, as in the
  samples. Model order: face, burst, prosody, language, ner, facemesh (sample 1: face, prosody,
  language).
- Files of no supported kind (PDF, unknown binary, archives inside archives), undecodable
  audio/video, and media over ``limits.max_media_seconds`` become per-file ``results.errors``.
- ``transcription=None`` (explicitly disabled): prosody still runs per speech segment with
  ``text: null``; language and NER on speech return nothing. ``window`` prosody also has
  ``text: null``. Burst runs on speech segments of at most 1.2 s.
- Archives: one prediction per member (hidden files and ``__MACOSX/`` skipped), ``file`` = the
  member's path. URL files are named by the URL path's last segment (sample 4).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from humekit.emulator.artifacts import artifacts_zip
from humekit.emulator.inputs import FileError, Media, Source, source_files
from humekit.emulator.scores import named, rng_for, score_matrix, sentiment_matrix
from humekit.emulator.timeline import Unit, face_frames, text_units, windows, word_spans
from humekit.backends.v0.limits import DEFAULT_LIMITS, Limits
from humekit.predictions.vocabulary import MODEL_ORDER  # order of models inside each prediction
from humekit.predictions.vocabulary import (
    BURST_DESCRIPTIONS,
    EMOTIONS,
    FACE_DESCRIPTIONS,
    FACS,
    LANGUAGE_EMOTIONS,
    SENTIMENT,
    TOXICITY,
)

__all__ = ["MODEL_ORDER", "Source", "artifacts_zip", "predict_source"]

SOURCE_FPS = 25.0  # the frame rate of a video whose container does not state one
MAX_BURST = 1.2  # seconds: longer voiced segments are speech, not vocal bursts


def predict_source(source: Source, models: dict[str, Any], *, transcription: dict[str, Any] | None,
                   limits: Limits = DEFAULT_LIMITS,
                   file_error: Callable[[str], str | None] = lambda file: None) -> dict[str, Any]:
    """One ``InferenceSourcePredictResult`` (JSON-ready dict) for one submitted source.

    Args:
        source: The source, with its bytes (or fetch error) filled in.
        models: The job's normalized models: all six keys, ``None`` for models not requested.
        transcription: The job's transcription config, or ``None`` when explicitly disabled.
        limits: Per-file limits (media duration, text size).
        file_error: Fault injection: a message for files that must fail, else ``None``.

    Returns:
        ``{"source", "results": {"predictions", "errors"}}``, or ``{"source", "error"}`` for a
        URL that could not be fetched.
    """
    head = _source_dict(source)
    if source.type == "url" and source.data is None:
        return {"source": head, "error": source.fetch_error or f"Failed to download {source.url}"}
    requested = {name: models[name] for name in MODEL_ORDER if models.get(name) is not None}
    predictions, errors = [], []
    for file, load in source_files(source, limits):
        message = file_error(file)
        if message is None:
            try:
                predictions.append(_predict(load(), requested, transcription))
            except FileError as exc:
                message = str(exc)
        if message is not None:
            errors.append({"message": message, "file": file})
    return {"source": head, "results": {"predictions": predictions, "errors": errors}}


def _source_dict(source: Source) -> dict[str, Any]:
    if source.type == "url":
        return {"type": "url", "url": source.url}
    if source.type == "file":
        md5 = source.md5sum or hashlib.md5(source.data or b"").hexdigest()
        return {"type": "file", "filename": source.filename, "content_type": source.content_type, "md5sum": md5}
    return {"type": "text"}


# --- one prediction --------------------------------------------------------------------------
def _predict(media: Media, requested: dict[str, Any], transcription: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, config in requested.items():
        metadata, groups = _BUILDERS[name](media, config, transcription)
        out[name] = {"metadata": metadata, "grouped_predictions": groups}
    return {"file": media.file, "file_type": media.file_type, "models": out}


Built = tuple[dict[str, Any] | None, list[dict[str, Any]]]


def _grouped(items: Sequence[tuple[str, float, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """(group id, sort key, item) triples → ``[{"id", "predictions"}]``, ids sorted, items by key."""
    groups: dict[str, list[tuple[float, Mapping[str, Any]]]] = {}
    for gid, key, item in items:
        groups.setdefault(gid, []).append((key, item))
    return [{"id": gid, "predictions": [item for _, item in sorted(groups[gid], key=lambda p: p[0])]}
            for gid in sorted(groups)]


def _speech_metadata(media: Media, transcription: dict[str, Any] | None) -> dict[str, Any]:
    confidence = float(np.float32(0.9 + 0.099 * rng_for(media.md5, "confidence").random()))
    language = (transcription or {}).get("language") or "en"
    return {"confidence": confidence, "detected_language": language}


def _speakers(config: dict[str, Any], transcription: dict[str, Any] | None) -> bool:
    return bool(config.get("identify_speakers") or (transcription or {}).get("identify_speakers"))


def _timed(t0: float | None, t1: float | None) -> dict[str, float] | None:
    return None if t0 is None or t1 is None else {"begin": t0, "end": t1}


def _face(media: Media, config: dict[str, Any], transcription: dict[str, Any] | None) -> Built:
    return None, _grouped(_face_items(media, config, facemesh=False))


def _facemesh(media: Media, config: dict[str, Any], transcription: dict[str, Any] | None) -> Built:
    return None, _grouped(_face_items(media, {}, facemesh=True))


def _face_items(media: Media, config: dict[str, Any], *, facemesh: bool) -> list[tuple[str, float, dict[str, Any]]]:
    if media.file_type not in ("image", "video", "video_no_audio"):
        return []
    info = media.info
    width, height = info.width or 1280, info.height or 720  # video size is often not in the header
    rate = info.frame_rate or SOURCE_FPS  # the container's frame rate; 25 fps when it does not say
    if media.file_type == "image":
        frames, faces = np.zeros(1, np.int64), 0 if media.blank else 1
    else:
        frames = face_frames(info.duration or 0.0, float(config.get("fps_pred", 3)), source_fps=rate)
        faces = 1 + int(media.md5[0], 16) % 2  # one or two people on screen, fixed per video
    times = frames / rate
    threshold = float(config.get("prob_threshold", 0.99))
    identify = bool(config.get("identify_faces"))
    items: list[tuple[str, float, dict[str, Any]]] = []
    for k in range(faces):
        boxes = _face_boxes(media, k, faces, len(frames), width, height)
        if boxes is None or boxes[0, 2] < float(config.get("min_face_size") or 0):
            continue  # a face smaller than min_face_size is not detected
        gid = f"face_{k}" if identify else "unknown"
        rng = rng_for(media.md5, "face-prob", k)
        probs = 1.0 - (1.0 - threshold) * 10 ** rng.uniform(-3, -0.3, len(frames))
        emotions = score_matrix(media.md5, f"{'facemesh' if facemesh else 'face'}:{k}", "face", len(frames), 48, times)
        facs = (score_matrix(media.md5, f"facs:{k}", "facs", len(frames), len(FACS), times)
                if config.get("facs") is not None else None)
        desc = (score_matrix(media.md5, f"desc:{k}", "descriptions", len(frames), len(FACE_DESCRIPTIONS), times)
                if config.get("descriptions") is not None else None)
        for i, frame in enumerate(frames.tolist()):
            if facemesh:
                items.append((gid, frame + k / 10, {"emotions": named(EMOTIONS, emotions[i].tolist())}))
                continue
            x, y, w, h = boxes[i].tolist()
            items.append((gid, frame + k / 10, {
                "frame": frame,
                "time": frame / rate if media.file_type != "image" else 0,  # sample 5: an image's time is 0
                "prob": float(np.float32(probs[i])),
                "box": {"x": x, "y": y, "w": w, "h": h},
                "emotions": named(EMOTIONS, emotions[i].tolist()),
                "facs": None if facs is None else named(FACS, facs[i].tolist()),
                "descriptions": None if desc is None else named(FACE_DESCRIPTIONS, desc[i].tolist()),
            }))
    return items


def _face_boxes(media: Media, k: int, faces: int, n: int, width: int, height: int) -> np.ndarray | None:
    """``(n, 4)`` float32 boxes (x, y, w, h) drifting slightly, always inside the frame."""
    rng = rng_for(media.md5, "face-box", k)
    w = width / faces * rng.uniform(0.35, 0.55)
    h = min(height * 0.95, w * rng.uniform(1.15, 1.35))
    if w < 1 or h < 1:
        return None
    cx = width * (k + 0.5) / faces + rng.uniform(-0.05, 0.05) * width / faces
    cy = height / 2 + rng.uniform(-0.05, 0.05) * height
    drift = np.cumsum(rng.normal(0, 0.004, (n, 2)), axis=0) * [width, height]
    x = np.clip(cx - w / 2 + drift[:, 0], 0, width - w)
    y = np.clip(cy - h / 2 + drift[:, 1], 0, height - h)
    boxes = np.column_stack([x, y, np.full(n, w), np.full(n, h)])
    return boxes.astype(np.float32).astype(np.float64)


def _prosody(media: Media, config: dict[str, Any], transcription: dict[str, Any] | None) -> Built:
    if media.transcript is None or not media.segments:
        return None, []
    identify = _speakers(config, transcription)
    window = config.get("window")
    if window is not None:  # {} means a window with the default 4 s length and 1 s step
        spans = windows(media.info.duration or 0.0, window.get("length", 4.0), window.get("step", 1.0))
        units = [Unit("", 0, 0, b, e) for b, e in spans]
    elif transcription is None:  # no transcript: granularity is ignored, one item per speech segment
        units = [Unit("", 0, 0, b, e) for b, e in media.segments]
    else:
        units = media.transcript.units(config.get("granularity") or "utterance")
    with_text = transcription is not None and window is None
    # every unit here is timed (windows, speech segments, a transcript of speech); only text units lack t0/t1
    mids = np.array([(u.t0 + u.t1) / 2 for u in units])  # type: ignore[operator]
    scores = score_matrix(media.md5, "prosody", "prosody", len(units), 48, mids)
    items = [(u.speaker if identify and with_text else "unknown", u.t0 or 0.0, {
        "text": u.text if with_text else None,
        "time": _timed(u.t0, u.t1),
        "confidence": None,
        "speaker_confidence": None,
        "emotions": named(EMOTIONS, scores[i].tolist()),
    }) for i, u in enumerate(units)]
    return (_speech_metadata(media, transcription) if with_text else None), _grouped(items)


def _burst(media: Media, config: dict[str, Any], transcription: dict[str, Any] | None) -> Built:
    spans = [(b, e) for b, e in media.segments if e - b <= MAX_BURST]
    mids = np.array([(b + e) / 2 for b, e in spans])
    scores = score_matrix(media.md5, "burst", "burst", len(spans), 48, mids)
    desc = score_matrix(media.md5, "burst-desc", "burst_descriptions", len(spans), len(BURST_DESCRIPTIONS), mids)
    items = [("unknown", b, {"time": {"begin": b, "end": e}, "emotions": named(EMOTIONS, scores[i].tolist()),
                             "descriptions": named(BURST_DESCRIPTIONS, desc[i].tolist())})
             for i, (b, e) in enumerate(spans)]
    return None, _grouped(items)


def _language_units(media: Media, config: dict[str, Any], transcription: dict[str, Any] | None) -> list[Unit] | None:
    granularity = config.get("granularity") or "word"
    if media.text is not None:
        return text_units(media.text, granularity)
    if media.transcript is None or transcription is None:
        return None
    return media.transcript.units(granularity)


def _language(media: Media, config: dict[str, Any], transcription: dict[str, Any] | None) -> Built:
    units = _language_units(media, config, transcription)
    if not units:
        return None, []
    identify = media.text is None and _speakers(config, transcription)
    keys = np.array([u.t0 if u.t0 is not None else u.begin / 15.0 for u in units])  # ~15 chars/s for text
    emotions = score_matrix(media.md5, "language", "language", len(units), len(LANGUAGE_EMOTIONS), keys)
    sentiment = sentiment_matrix(media.md5, "language", len(units)) if config.get("sentiment") is not None else None
    toxicity = (score_matrix(media.md5, "toxicity", "toxicity", len(units), len(TOXICITY), keys)
                if config.get("toxicity") is not None else None)
    items = [(u.speaker if identify else "unknown", u.begin, {
        "text": u.text,
        "position": {"begin": u.begin, "end": u.end},
        "time": _timed(u.t0, u.t1),
        "confidence": None,
        "speaker_confidence": None,
        "emotions": named(LANGUAGE_EMOTIONS, emotions[i].tolist()),
        "sentiment": None if sentiment is None else named(SENTIMENT, sentiment[i].tolist()),
        "toxicity": None if toxicity is None else named(TOXICITY, toxicity[i].tolist()),
    }) for i, u in enumerate(units)]
    metadata = None if media.text is not None else _speech_metadata(media, transcription)
    return metadata, _grouped(items)


def _text_entities(text: str) -> list[Unit]:
    """Capitalised words that do not open a sentence (and are not "I"), punctuation trimmed."""
    out, sentence_start = [], True
    for begin, end in word_spans(text):
        token = text[begin:end]
        core = token.strip("\"'()[]{}.,;:!?")
        if core and core[0].isupper() and not sentence_start and core != "I":
            b = begin + token.index(core)
            out.append(Unit(core, b, b + len(core)))
        sentence_start = token.endswith((".", "!", "?"))
    return out


def _ner(media: Media, config: dict[str, Any], transcription: dict[str, Any] | None) -> Built:
    if media.text is not None:
        entities = _text_entities(media.text)
    elif media.transcript is not None and transcription is not None:
        entities = [Unit(w.text.rstrip("."), w.begin, w.begin + len(w.text.rstrip(".")), w.t0, w.t1, w.speaker)
                    for w in media.transcript.entities()]
    else:
        return None, []
    if not entities:
        return None, []
    identify = media.text is None and _speakers(config, transcription)
    keys = np.array([u.t0 if u.t0 is not None else u.begin / 15.0 for u in entities])
    emotions = score_matrix(media.md5, "ner", "ner", len(entities), len(LANGUAGE_EMOTIONS), keys)
    rng = rng_for(media.md5, "ner-confidence")
    confidence, support = rng.uniform(0.6, 1.0, len(entities)), rng.uniform(0.2, 1.0, len(entities))
    items = [(u.speaker if identify else "unknown", u.begin, {
        "entity": u.text,
        "position": {"begin": u.begin, "end": u.end},
        "entity_confidence": float(np.float32(confidence[i])),
        "support": float(np.float32(support[i])),
        "uri": "https://www.wikidata.org/w/index.php?search=" + u.text.replace(" ", "+"),
        "link_word": u.text,
        "time": _timed(u.t0, u.t1),
        "confidence": None,
        "speaker_confidence": None,
        "emotions": named(LANGUAGE_EMOTIONS, emotions[i].tolist()),
    }) for i, u in enumerate(entities)]
    metadata = None if media.text is not None else _speech_metadata(media, transcription)
    return metadata, _grouped(items)


_BUILDERS: dict[str, Callable[[Media, dict[str, Any], dict[str, Any] | None], Built]] = {
    "face": _face,
    "burst": _burst,
    "prosody": _prosody,
    "language": _language,
    "ner": _ner,
    "facemesh": _facemesh,
}
