"""The GET /artifacts ZIP: a job's predictions as per-file, per-model CSVs, laid out like Hume's.

Layout and format follow the real artifacts ZIP (``samples/real_artifacts_face_prosody_language.zip``):

- ``file-<i>-<name>/csv/<name>/<model>.csv``, ``i`` counting predictions from 0 across the job;
  entries stored uncompressed, as in the real ZIP, with fixed timestamps so the bytes are stable;
- the real headers: identifying columns, then emotions in the CSV order (``vocabulary.CSV_*``),
  then all FACS and description columns for face (empty cells when not requested, as in the
  real face.csv), sentiment ``1..9`` and toxicity for language;
- ``null`` → empty cell, floats as Python's ``repr``, CRLF line ends (the ``csv`` default);
- rows ordered by frame (face), begin time (prosody, burst) or position (language, ner),
  across all face/speaker ids, like the real CSVs.

Choices not seen in real data (UNCONFIRMED):

- ``<name>`` is the prediction's ``file`` with ``/`` replaced by ``_`` (archive members such as
  ``faces/100.jpg`` stay one directory deep); raw texts are named ``text-<n>``, ``n`` being the
  1-based index of the string, and are listed in index order.
- burst.csv and ner.csv headers are our guess at Hume's pattern (below); facemesh has no CSV.
- A model gets a CSV only when it has at least one prediction for that file.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from humekit.predictions.vocabulary import (
    BURST_DESCRIPTIONS,
    CSV_EMOTIONS,
    CSV_LANGUAGE_EMOTIONS,
    FACE_DESCRIPTIONS,
    FACS,
    SENTIMENT,
    TOXICITY,
)

__all__ = ["CSV_HEADERS", "artifact_name", "artifacts_zip"]

#: Header of each model's CSV. face, prosody and language are the real ones.
CSV_HEADERS: dict[str, tuple[str, ...]] = {
    "language": ("Id", "Text", "BeginPosition", "EndPosition", "BeginTime", "EndTime", "Confidence",
                 "SpeakerConfidence", *CSV_LANGUAGE_EMOTIONS, *SENTIMENT, *TOXICITY),
    "prosody": ("Id", "Text", "BeginTime", "EndTime", "Confidence", "SpeakerConfidence", *CSV_EMOTIONS),
    "face": ("Id", "Frame", "Time", "Probability", "FaceX0", "FaceY0", "FaceWidth", "FaceHeight",
             *CSV_EMOTIONS, *FACS, *FACE_DESCRIPTIONS),
    "burst": ("Id", "BeginTime", "EndTime", *CSV_EMOTIONS, *BURST_DESCRIPTIONS),
    "ner": ("Id", "Entity", "BeginPosition", "EndPosition", "BeginTime", "EndTime", "EntityConfidence",
            "Support", "URI", "LinkWord", "Confidence", "SpeakerConfidence", *CSV_LANGUAGE_EMOTIONS),
}
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def artifact_name(source_type: str, file: str) -> str:
    """The ``<name>`` used for one prediction's directory (see the module docstring)."""
    name = file.replace("/", "_").replace("\\", "_")
    return f"text-{name}" if source_type == "text" else name


def artifacts_zip(predictions: list[dict[str, Any]]) -> bytes:
    """The GET /artifacts ZIP for a job's predictions list, in the documented CSV layout.

    Args:
        predictions: The job's GET /predictions list (sources that failed are skipped).

    Returns:
        The ZIP's bytes.
    """
    buf = io.BytesIO()
    index = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for result in predictions:
            source_type = result.get("source", {}).get("type", "")
            for prediction in _in_order(source_type, result.get("results", {}).get("predictions", [])):
                name = artifact_name(source_type, prediction["file"])
                for model in CSV_HEADERS:
                    rows = _rows(model, prediction.get("models", {}).get(model))
                    if rows:
                        entry = zipfile.ZipInfo(f"file-{index}-{name}/csv/{name}/{model}.csv", _ZIP_TIME)
                        entry.external_attr = 0o100644 << 16
                        zf.writestr(entry, _csv_text(CSV_HEADERS[model], rows))
                index += 1
    return buf.getvalue()


def _in_order(source_type: str, predictions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if source_type == "text":  # texts arrive scrambled; the ZIP lists them by string index
        return sorted(predictions, key=lambda p: int(p["file"]) if str(p["file"]).isdigit() else 0)
    return predictions


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()


def _scores(entries: list[dict[str, Any]] | None, order: Sequence[str]) -> list[Any]:
    if entries is None:
        return [None] * len(order)
    by_name = {e["name"]: e["score"] for e in entries}
    return [by_name.get(name) for name in order]


def _span(value: dict[str, Any] | None) -> list[Any]:
    return [None, None] if value is None else [value.get("begin"), value.get("end")]


def _rows(model: str, block: dict[str, Any] | None) -> list[list[Any]]:
    """One CSV row per prediction item, sorted like the real CSVs."""
    if not block:
        return []
    keyed: list[tuple[tuple[Any, ...], list[Any]]] = []
    for rank, group in enumerate(block.get("grouped_predictions", [])):
        gid = group["id"]
        for p in group["predictions"]:
            keyed.append(_row(model, gid, rank, p))
    return [row for _, row in sorted(keyed, key=lambda kr: kr[0])]


def _row(model: str, gid: str, rank: int, p: dict[str, Any]) -> tuple[tuple[Any, ...], list[Any]]:
    time = p.get("time") if isinstance(p.get("time"), dict) else None
    begin_time = (time or {}).get("begin")
    if model == "face":
        box = p.get("box") or {}
        row = [gid, p.get("frame"), p.get("time"), p.get("prob"),
               box.get("x"), box.get("y"), box.get("w"), box.get("h"),
               *_scores(p.get("emotions"), CSV_EMOTIONS), *_scores(p.get("facs"), FACS),
               *_scores(p.get("descriptions"), FACE_DESCRIPTIONS)]
        return (p.get("frame") or 0, rank), row
    if model == "prosody":
        row = [gid, p.get("text"), *_span(time), p.get("confidence"), p.get("speaker_confidence"),
               *_scores(p.get("emotions"), CSV_EMOTIONS)]
        return (begin_time or 0.0, rank), row
    if model == "burst":
        row = [gid, *_span(time), *_scores(p.get("emotions"), CSV_EMOTIONS),
               *_scores(p.get("descriptions"), BURST_DESCRIPTIONS)]
        return (begin_time or 0.0, rank), row
    position = p.get("position") or {}
    key = (position.get("begin") or 0, begin_time or 0.0, rank)
    if model == "language":
        row = [gid, p.get("text"), *_span(position), *_span(time), p.get("confidence"), p.get("speaker_confidence"),
               *_scores(p.get("emotions"), CSV_LANGUAGE_EMOTIONS), *_scores(p.get("sentiment"), SENTIMENT),
               *_scores(p.get("toxicity"), TOXICITY)]
        return key, row
    row = [gid, p.get("entity"), *_span(position), *_span(time), p.get("entity_confidence"), p.get("support"),
           p.get("uri"), p.get("link_word"), p.get("confidence"), p.get("speaker_confidence"),
           *_scores(p.get("emotions"), CSV_LANGUAGE_EMOTIONS)]
    return key, row
