"""Hume batch predictions as tidy (long) pandas DataFrames.

:func:`to_frame` turns the JSON of ``GET /v0/batch/jobs/{id}/predictions`` (a list of sources), or
a batch callback body ``{job_id, status, predictions}``, into one row per (segment, emotion)::

    >>> scores = to_frame(Path("predictions.json").read_bytes())         # doctest: +SKIP
    >>> scores.groupby(["source", "model", "emotion"]).score.mean()      # doctest: +SKIP

Design:

- **One long table per kind of number.** ``scores`` holds the emotion scores. Face FACS and
  descriptions, burst descriptions, language sentiment and toxicity go to a separate
  ``descriptors`` table with the same key columns plus ``kind`` and ``name``, so that a mean over
  ``score`` never mixes emotions with action units. :func:`to_tables` returns all of them as a
  :class:`PredictionTables`: ``scores``, ``descriptors``, ``errors`` and ``metadata``.
- **Errors are never silently lost.** Failed sources and per-file errors only fit in
  ``to_tables(...).errors``; :func:`to_frame` logs a WARNING on the ``"humekit"`` logger naming
  :func:`to_tables` whenever a document has any.
- **A stable schema.** Every table has the same columns and dtypes whatever models ran and
  whether it came from JSON or from artifacts CSVs (:mod:`humekit.archives`): a field a source
  does not carry is null. Strings are categoricals (each value repeats on 48-53 rows; a presigned
  URL is ~1 KB), numbers are nullable ``Int64``/``Float64``. ``emotion``, ``model``,
  ``source_type`` and ``kind`` have fixed categories (see :mod:`humekit.vocabulary`), so tables
  from different jobs share them.
- **Speed.** Each segment's fields go to flat lists, its emotion scores to one flat list, after a
  check that the labels are exactly the expected list (a different or unknown label set takes a
  slow path that still works). The long table is then made with ``np.repeat`` and
  ``pd.Categorical.from_codes``, never one Python object per emotion.

Face rows have the frame time in both ``begin`` and ``end`` (a face is seen at a point in time).
Raw-text jobs have ``source == "text"`` and the string's index (as Hume sends it) in ``file``.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

import orjson
import pandas as pd

from humekit._tables import (
    DESCRIPTOR_COLUMNS,
    DESCRIPTOR_KINDS,
    ERROR_COLUMNS,
    METADATA_COLUMNS,
    SCORE_COLUMNS,
    PredictionTables,
    TableBuilder,
)
from humekit.errors import PredictionsFormatError
from humekit.vocabulary import EMOTIONS, LANGUAGE_EMOTIONS, MODELS

__all__ = [
    "DESCRIPTOR_COLUMNS",
    "ERROR_COLUMNS",
    "METADATA_COLUMNS",
    "SCORE_COLUMNS",
    "PredictionTables",
    "to_frame",
    "to_tables",
]

logger = logging.getLogger("humekit")

_name = itemgetter("name")
_score = itemgetter("score")
_NO_DICT: dict[str, Any] = {}
_TIMED = ("text", "time", "confidence", "speaker_confidence")
#: Item fields read per model (others are picked up if the group's first item has them).
_FIELDS: dict[str, tuple[str, ...]] = {
    "face": ("frame", "time", "prob", "box"),
    "prosody": _TIMED,
    "burst": ("time",),
    "language": (*_TIMED, "position"),
    "ner": (*_TIMED, "position", "entity", "entity_confidence", "support", "uri", "link_word"),
    "facemesh": (),
}
_ALL_FIELDS = frozenset(f for fields in _FIELDS.values() for f in fields)
_DESCRIPTOR_KEYS = {"facs": 0, "descriptions": 1, "sentiment": 2, "toxicity": 3}
_KIND_KEYS: dict[str, tuple[str, ...]] = {
    "face": ("facs", "descriptions"),
    "burst": ("descriptions",),
    "language": ("sentiment", "toxicity"),
    "ner": ("sentiment", "toxicity"),
}
assert DESCRIPTOR_KINDS == ("facs", "description", "sentiment", "toxicity")


def to_tables(predictions: Any, *, models: Iterable[str] | None = None) -> PredictionTables:
    """Flatten Hume batch predictions into long tables.

    Args:
        predictions: The predictions document: parsed JSON, or its raw ``bytes``/``str``. Either
            the list returned by ``GET /v0/batch/jobs/{id}/predictions`` (one element per source)
            or a batch callback body ``{"job_id", "status", "predictions"}``.
        models: Keep only these models (e.g. ``["face"]``); all models by default.

    Returns:
        A :class:`PredictionTables` with ``scores``, ``descriptors``, ``errors`` and ``metadata``.

    Raises:
        PredictionsFormatError: The document is not Hume predictions.
        ValueError: ``models`` names a model Hume does not have.
    """
    builder = TableBuilder()
    add_document(builder, predictions, models=models)
    return builder.build()


def to_frame(predictions: Any, *, models: Iterable[str] | None = None) -> pd.DataFrame:
    """Flatten Hume batch predictions into one row per (segment, emotion).

    Args:
        predictions: As for :func:`to_tables`.
        models: Keep only these models; all by default.

    Returns:
        The ``scores`` table of :func:`to_tables` (columns :data:`SCORE_COLUMNS`). Failed sources
        and per-file errors are logged as a WARNING; use :func:`to_tables` to get them as a table.

    Raises:
        PredictionsFormatError: The document is not Hume predictions.
    """
    builder = TableBuilder()
    add_document(builder, predictions, models=models)
    scores, errors = builder.build_scores()
    warn_errors(errors)
    return scores


def warn_errors(errors: pd.DataFrame) -> None:
    """Log a WARNING on the ``humekit`` logger if ``errors`` (a ``.errors`` table) has rows."""
    if len(errors):
        first = errors.iloc[0]
        logger.warning(
            "%d source(s)/file(s) failed and have no scores (first: %s %s: %s); "
            "call humekit.predictions.to_tables(...) and read .errors to see them all",
            len(errors), first["source"], "" if pd.isna(first["file"]) else first["file"], first["message"],
        )  # fmt: skip


def _describe(obj: Any) -> str:
    if isinstance(obj, dict):
        keys = sorted(map(str, obj))[:8]
        hint = ""
        if {"state", "request"} <= obj.keys():
            hint = " (this looks like job details from GET /v0/batch/jobs/{id})"
        elif obj.keys() == {"job_id"}:
            hint = " (this looks like the response of POST /v0/batch/jobs)"
        elif any(k.startswith("chat") or k in {"events_page", "event_name"} for k in obj):
            hint = " (this looks like an EVI chat or webhook payload)"
        return f"an object with keys {keys}{hint}"
    if isinstance(obj, list):
        return f"a list whose first element is {_describe(obj[0])}" if obj else "an empty list"
    if isinstance(obj, os.PathLike):
        return f"a path ({obj}); to read files use humekit.archives.read_predictions"
    return f"a {type(obj).__name__}"


def sources(predictions: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Validate a predictions document and return its source elements and any job-level failure."""
    if isinstance(predictions, (bytes, bytearray, memoryview, str)):
        try:
            predictions = orjson.loads(predictions)
        except orjson.JSONDecodeError as exc:
            raise PredictionsFormatError(f"predictions are not valid JSON: {exc}") from None
    failures: list[str] = []
    if isinstance(predictions, dict):
        if "predictions" in predictions and ({"job_id", "status"} & predictions.keys()):
            body, predictions = predictions, predictions["predictions"]
            if predictions is None:  # a FAILED callback carries a message instead (field name UNCONFIRMED)
                reason = body.get("message") or body.get("error") or body.get("status")
                failures.append(f"job {body.get('job_id')} {body.get('status')}: {reason}")
                predictions = []
        elif isinstance(predictions.get("source"), dict):
            predictions = [predictions]
    expected = (
        "expected Hume predictions: the list from GET /v0/batch/jobs/{id}/predictions "
        "(elements {source, results}) or a callback body {job_id, status, predictions}"
    )
    if not isinstance(predictions, list):
        raise PredictionsFormatError(f"{expected}; found {_describe(predictions)}")
    for i, element in enumerate(predictions):
        if not (isinstance(element, dict) and isinstance(element.get("source"), dict)):
            raise PredictionsFormatError(f"{expected}; found element {i} is {_describe(element)}")
    return predictions, failures


def _text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Parsing and walking a document allocates millions of acyclic containers; letting the cyclic
    # GC scan the whole tree again and again costs ~20% of the time and frees nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def add_document(builder: TableBuilder, predictions: Any, *, models: Iterable[str] | None = None) -> None:
    """Validate ``predictions`` and add all of it to ``builder`` (see :func:`to_tables`)."""
    with _gc_paused():
        _add_document(builder, predictions, models=models)


def _add_document(builder: TableBuilder, predictions: Any, *, models: Iterable[str] | None) -> None:
    wanted = None if models is None else frozenset([models] if isinstance(models, str) else models)
    if wanted is not None and not wanted <= set(MODELS):
        raise ValueError(f"unknown model(s) {sorted(wanted - set(MODELS))}; Hume's models are {list(MODELS)}")
    elements, failures = sources(predictions)
    for message in failures:
        builder.errors.append((None, None, None, None, message))
    for element in elements:
        src = element["source"]
        kind = _text(src.get("type"))
        name = src.get("url") if kind == "url" else "text" if kind == "text" else src.get("filename")
        key = (kind, _text(name), _text(src.get("md5sum")))
        if element.get("error"):
            builder.errors.append((*key, None, str(element["error"])))
        results = element.get("results") or _NO_DICT
        for err in results.get("errors") or ():
            err = err if isinstance(err, dict) else {"message": err}
            builder.errors.append((*key, _text(err.get("file")), str(err.get("message"))))
        for pred in results.get("predictions") or ():
            if not isinstance(pred, dict):
                continue
            p = len(builder.preds)
            builder.preds.append((*key, _text(pred.get("file")), _text(pred.get("file_type"))))
            for model, block in (pred.get("models") or _NO_DICT).items():
                if not isinstance(block, dict) or (wanted is not None and model not in wanted):
                    continue
                meta = block.get("metadata")
                if isinstance(meta, dict):
                    builder.metadata.append((p, model, meta.get("confidence"), _text(meta.get("detected_language"))))
                for group in block.get("grouped_predictions") or ():
                    if isinstance(group, dict) and group.get("predictions"):
                        _add_group(builder, p, model, _text(group.get("id")), group["predictions"])
    builder.seal()


def _add_group(builder: TableBuilder, p: int, model: str, gid: str | None, items: list[Any]) -> None:
    if type(items) is not list or not all(map(dict.__instancecheck__, items)):
        items = [it for it in items if isinstance(it, dict)] if isinstance(items, list) else []
    n, start = len(items), builder.n_segments
    builder.pred_idx += [p] * n
    builder.model += [model] * n
    builder.column("group", start).extend([gid] * n)
    fields = _FIELDS.get(model, tuple(_ALL_FIELDS))
    extra = _ALL_FIELDS.intersection(items[0]).difference(fields) if items else ()
    col = builder.column
    for field in (*fields, *extra):
        values = [it.get(field) for it in items]
        if field == "time" and model == "face":
            col("begin", start).extend(values)
            col("end", start).extend(values)
        elif field in ("time", "position", "box"):
            dicts = [v if isinstance(v, dict) else _NO_DICT for v in values]
            parts = {"time": (("begin", "begin"), ("end", "end")),
                     "position": (("begin", "position_begin"), ("end", "position_end")),
                     "box": (("x", "box_x"), ("y", "box_y"), ("w", "box_w"), ("h", "box_h"))}[field]
            for sub, target in parts:
                col(target, start).extend([d.get(sub) for d in dicts])
        elif field in ("text", "entity", "uri", "link_word"):
            col(field, start).extend([_text(v) for v in values])
        else:
            col(field, start).extend(values)
    _add_emotions(builder, model, items)
    for key in _KIND_KEYS.get(model, tuple(_DESCRIPTOR_KEYS)):
        _add_descriptors(builder, start, _DESCRIPTOR_KEYS[key], [it.get(key) for it in items])
    builder.n_segments += n


def _add_emotions(builder: TableBuilder, model: str, items: list[dict[str, Any]]) -> None:
    expected = list(LANGUAGE_EMOTIONS) if model in ("language", "ner") else list(EMOTIONS)
    tid = builder.template(expected)
    tids, scores = builder.tids, builder.scores
    for it in items:
        emotions = it.get("emotions")
        mark = len(scores)
        try:  # the fast path: exactly the expected labels, in order (checked for every item)
            if list(map(_name, emotions)) == expected:
                scores += map(_score, emotions)
                tids.append(tid)
                continue
        except (KeyError, TypeError):
            del scores[mark:]
        names, values = [], []
        for e in emotions if isinstance(emotions, list) else ():
            if isinstance(e, dict) and isinstance(e.get("name"), str):
                names.append(e["name"])
                values.append(e.get("score"))
        tids.append(builder.template(names))
        scores += values


def _add_descriptors(builder: TableBuilder, start: int, kind: int, lists: list[Any]) -> None:
    for i, entries in enumerate(lists):
        if not entries or not isinstance(entries, list):
            continue
        try:
            names, values = list(map(_name, entries)), list(map(_score, entries))
        except (KeyError, TypeError):
            good = [e for e in entries if isinstance(e, dict) and "name" in e]
            names, values = [_text(e["name"]) for e in good], [e.get("score") for e in good]
        builder.d_seg += [start + i] * len(names)
        builder.d_kind += [kind] * len(names)
        builder.d_name += names
        builder.d_score += values
