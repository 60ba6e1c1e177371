"""Decode v1 answers into humekit's long tables, on the recording's clock, with ids unique per recording.

An audio answer (``AudioFileResponse``) measures one window of a recording: its times are ms from the
window's start, so the window's offset (recorded with the unit) is added back; its utterance and
measurement ids restart at 0 in every request, so they are re-keyed with the window's index
(``group`` = ``"<window>:<utterance>"``, ``frame`` = the measurement id within it). Audio ``expressions``
are prediction rows of model ``audio``; ``voice_attributes`` are descriptor rows (kind ``voice_attribute``).

An image answer (``VideoFileResponse``) measures a batch of frames: each ``frame_id`` is the part's index
in the request, mapped back to the video's frame index and timestamp recorded with the unit (and, for a
batch of images, to the input each image answers for: ``frame_inputs``); faces are
grouped by ``face_id`` (``face_<id>``; an unmeasured face, listed without an id, has no scores).
Expressions are prediction rows of model ``face``, descriptions descriptor rows (kind ``description``).

v1's lists are sparse: a name absent from a window was below its cutoff, so it is missing, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import pandas as pd

from humekit.backends.base import Decoded
from humekit.errors import PredictionsFormatError
from humekit.pipeline.columns import DESCRIPTOR_COLUMNS, PREDICTION_COLUMNS

__all__ = ["decode"]


def decode(kind: str, answer: bytes, *, request: Mapping[str, Any], input_key: str) -> Decoded:
    """One v1 answer as :class:`~humekit.backends.base.Decoded` tables (``request``: what the unit recorded)."""
    try:
        body = orjson.loads(answer)
    except orjson.JSONDecodeError as exc:
        raise PredictionsFormatError(f"a stored v1 answer is not JSON ({exc}); the ledger may be damaged") from None
    if not isinstance(body, dict):
        raise PredictionsFormatError("a stored v1 answer is not a JSON object")
    found: list[tuple[str, str | None]]
    if "utterances" in body or "received" in body and "audio_duration_ms" in (body.get("received") or {}):
        scores, descriptors = _audio(body, request)
        found = [("", "audio")]
    else:
        scores, descriptors = _images(body, request)
        found = [("", "image")]
    keys = [str(key) for key in request.get("frame_inputs") or [input_key]]
    answered = {key: (found, {("", str(row["model"])) for row in scores if row.get("input_key", key) == key})
                for key in dict.fromkeys(keys)}
    return Decoded(scores=_frame(scores, PREDICTION_COLUMNS, input_key),
                   descriptors=_frame(descriptors, DESCRIPTOR_COLUMNS, input_key), errors={}, answered=answered)


def _audio(body: Mapping[str, Any], request: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    window = request.get("window") or {}
    offset = int(window.get("start_ms", 0))
    index = int(window.get("index", 0))
    scores: list[dict[str, Any]] = []
    descriptors: list[dict[str, Any]] = []
    for measurement in body.get("measurements") or ():
        where = {"group": f"{index}:{measurement.get('utterance_id')}", "frame": measurement.get("measurement_id"),
                 "begin": (int(measurement["audio_start_ms"]) + offset) / 1000,
                 "end": (int(measurement["audio_end_ms"]) + offset) / 1000, "text": measurement.get("trigger")}
        scores += [{**where, "model": "audio", "emotion": e["name"], "score": e["probability"]}
                   for e in measurement.get("expressions") or ()]
        descriptors += [{**where, "model": "audio", "kind": "voice_attribute", "name": a["name"],
                         "score": a["probability"]} for a in measurement.get("voice_attributes") or ()]
    return scores, descriptors


def _images(body: Mapping[str, Any], request: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    frames = [tuple(f) for f in request.get("frames") or ()]  # (frame index in the video, timestamp ms)
    inputs = request.get("frame_inputs")  # an image batch: the input each image answers for
    scores: list[dict[str, Any]] = []
    descriptors: list[dict[str, Any]] = []
    for measurement in body.get("measurements") or ():
        part = int(measurement["frame_id"])
        frame, timestamp = frames[part] if part < len(frames) else (part, None)
        seconds = None if timestamp is None else timestamp / 1000
        for face in measurement.get("faces") or ():
            if face.get("face_id") is None:
                continue  # listed, not measured: no scores
            x0, y0, x1, y1 = (face.get("bbox") or [None] * 4)[:4]
            where = {"model": "face", "group": f"face_{face['face_id']}", "frame": frame, "begin": seconds,
                     "end": seconds, **({"input_key": str(inputs[part])} if inputs and part < len(inputs) else {})}
            box = {"box_x": x0, "box_y": y0, "box_w": None if x0 is None else x1 - x0,
                   "box_h": None if y0 is None else y1 - y0, "confidence": face.get("confidence")}
            scores += [{**where, **box, "emotion": e["name"], "score": e["probability"]}
                       for e in face.get("expressions") or ()]
            descriptors += [{**where, "kind": "description", "name": d["name"], "score": d["probability"]}
                            for d in face.get("descriptions") or ()]
    return scores, descriptors


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...], input_key: str) -> pd.DataFrame:
    """The rows with every column of the table (missing ones empty) and the input they answer for."""
    keys = [row.get("input_key", input_key) for row in rows]
    frame = pd.DataFrame(rows).reindex(columns=list(columns))
    frame["input_key"] = pd.Series(keys, index=frame.index, dtype="string")
    return frame
