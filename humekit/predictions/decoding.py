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
  whether it came from JSON or from artifacts CSVs (:mod:`humekit.predictions.archives`): a field a source
  does not carry is null. Strings are categoricals (each value repeats on 48-53 rows; a presigned
  URL is ~1 KB), numbers are nullable ``Int64``/``Float64``. ``emotion``, ``model``,
  ``source_type`` and ``kind`` have fixed categories (see :mod:`humekit.predictions.vocabulary`), so tables
  from different jobs share them.
- **Speed.** Raw JSON is decoded in one pass by msgspec into typed structs
  (:mod:`humekit.predictions._schema`), skipping every key the tables do not use (and the descriptor lists
  when :func:`to_frame` only wants scores); parsed JSON is converted to the same structs. Values
  of the wrong type are read as null (or dropped, for list elements) with a WARNING naming their
  JSON path. Each segment's fields go to flat lists, its emotion scores to one flat list, after a
  check that the labels are exactly the expected list (a different or unknown label set takes a
  slow path that still works). The long table is then made with ``np.repeat`` and
  ``pd.Categorical.from_codes``, never one Python object per emotion row.
- **Order.** Rows follow the document's sources, files and groups, with models in the order
  Hume echoes them (face, burst, prosody, language, ner, facemesh).

Face rows have the frame time in both ``begin`` and ``end`` (a face is seen at a point in time);
on a still image both are null (Hume sends ``time: 0`` for an image: it has no timeline).
Raw-text jobs have ``source == "text"`` and the string's index (as Hume sends it) in ``file``.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from operator import attrgetter
from typing import Any

import orjson
import pandas as pd

from humekit.predictions._tables import (
    DESCRIPTOR_COLUMNS,
    DESCRIPTOR_KINDS,
    ERROR_COLUMNS,
    METADATA_COLUMNS,
    SCORE_COLUMNS,
    SOURCE_COLUMNS,
    PredictionTables,
    TableBuilder,
    is_image,
)
from humekit.predictions._schema import DESCRIPTOR_KEYS, MODEL_ORDER, Box, Position, Span, decode, decode_python
from humekit.errors import PredictionsFormatError
from humekit.predictions.vocabulary import EMOTIONS, LANGUAGE_EMOTIONS, check_models

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

_name = attrgetter("name")
_score = attrgetter("score")
_NO_POSITION, _NO_BOX = Position(), Box()
_LABELS, _LANGUAGE_LABELS = list(EMOTIONS), list(LANGUAGE_EMOTIONS)
#: Item fields copied as they are (``time``, ``position`` and ``box`` are split into columns).
_PLAIN_FIELDS = (
    "frame", "prob", "text", "confidence", "speaker_confidence",
    "entity", "entity_confidence", "support", "uri", "link_word",
)  # fmt: skip
assert len(DESCRIPTOR_KEYS) == len(DESCRIPTOR_KINDS)  # item key i fills the descriptors of kind i


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


def tables_and_files(predictions: Any) -> tuple[PredictionTables, pd.DataFrame]:
    """:func:`to_tables` and, from the same pass, one row per prediction (file) of the document.

    The second table lists every file Hume answered for, including those with no segment at
    all (silence, no face): columns :data:`SOURCE_COLUMNS` (``source_type``, ``source``,
    ``md5sum``, ``file``, ``file_type``). :mod:`humekit.pipeline.joining` uses it to say why a row has no
    predictions.
    """
    builder = TableBuilder()
    add_document(builder, predictions)
    files = pd.DataFrame(builder.preds, columns=list(SOURCE_COLUMNS), dtype=object)
    return builder.build(), files


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
    add_document(builder, predictions, models=models, descriptors=False)
    scores, errors = builder.build_scores()
    warn_errors(errors)
    return scores


def warn_errors(errors: pd.DataFrame) -> None:
    """Log a WARNING on the ``humekit`` logger if ``errors`` (a ``.errors`` table) has rows."""
    if len(errors):
        first = errors.iloc[0]
        logger.warning(
            "%d source(s)/file(s) failed and have no scores (first: %s %s: %s); "
            "call humekit.predictions.decoding.to_tables(...) and read .errors to see them all",
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
        return f"a path ({obj}); to read files use humekit.predictions.archives.read_predictions"
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


def _looks_like_a_path(text: str) -> bool:
    head = text[:1000].strip()
    return bool(head) and head[0] not in "[{" and (head.lower().endswith((".json", ".zip")) or os.path.exists(head))


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


def add_document(
    builder: TableBuilder, predictions: Any, *, models: Iterable[str] | None = None, descriptors: bool = True
) -> None:
    """Validate ``predictions`` and add it to ``builder`` (see :func:`to_tables`).

    With ``descriptors=False`` the descriptor lists are not even decoded (what :func:`to_frame` needs).
    """
    wanted = None if models is None else check_models(models)
    if isinstance(predictions, str) and _looks_like_a_path(predictions):
        raise PredictionsFormatError(
            f"expected the predictions JSON itself, found what looks like a path ({predictions[:200]!r}); "
            "to read files use humekit.read_predictions(path)"
        )
    with _gc_paused():
        elements: list[Any] | None = None
        failures: list[str] = []
        if isinstance(predictions, (bytes, bytearray, memoryview, str)):
            elements = decode(predictions, described=descriptors)  # None: not a plain, well-typed list
        if elements is None:
            raw, failures = sources(predictions)
            elements = decode_python(raw, described=descriptors)
        for message in failures:
            builder.errors.append((None, None, None, None, message))
        _add_elements(builder, elements, wanted, descriptors)
        builder.seal()


def _add_elements(builder: TableBuilder, elements: list[Any], wanted: frozenset[str] | None, described: bool) -> None:
    for element in elements:
        src = element.source
        kind = src.type
        key = (kind, src.url if kind == "url" else "text" if kind == "text" else src.filename, src.md5sum)
        if element.error:
            builder.errors.append((*key, None, str(element.error)))
        results = element.results
        if results is None:
            continue
        for err in results.errors or ():
            file, message = (None, err) if isinstance(err, str) else (err.file, err.message)
            builder.errors.append((*key, file, str(message)))
        for pred in results.predictions or ():
            p = len(builder.preds)
            builder.preds.append((*key, pred.file, pred.file_type))
            if pred.models is None:
                continue
            for model in MODEL_ORDER:
                block = getattr(pred.models, model)
                if block is None or (wanted is not None and model not in wanted):
                    continue
                meta = block.metadata
                if meta is not None:
                    builder.metadata.append((p, model, meta.confidence, meta.detected_language))
                for group in block.grouped_predictions or ():
                    if group.predictions:
                        _add_group(builder, p, model, _text(group.id), group.predictions, described)


def _add_group(builder: TableBuilder, p: int, model: str, gid: str | None, items: list[Any], described: bool) -> None:
    n, start = len(items), builder.n_segments
    col = builder.column
    builder.pred_idx += [p] * n
    builder.model += [model] * n
    col("group", start).extend([gid] * n)
    times = [it.time for it in items]
    if model in ("face", "facemesh") and is_image(*builder.preds[p][3:5]):
        times = [None] * n  # a still image: a face at no time, not at 0 s
    if any(type(t) is Span for t in times):
        col("begin", start).extend([t.begin if type(t) is Span else t for t in times])
        col("end", start).extend([t.end if type(t) is Span else t for t in times])
    else:  # a face is seen at a point in time: that time is both begin and end
        col("begin", start).extend(times)
        col("end", start).extend(times)
    positions = [it.position or _NO_POSITION for it in items]
    col("position_begin", start).extend([s.begin for s in positions])
    col("position_end", start).extend([s.end for s in positions])
    boxes = [it.box or _NO_BOX for it in items]
    for side in ("x", "y", "w", "h"):
        col(f"box_{side}", start).extend(map(attrgetter(side), boxes))
    for field in _PLAIN_FIELDS:
        col(field, start).extend(map(attrgetter(field), items))
    _add_emotions(builder, model, items)
    if described:
        for kind, key in enumerate(DESCRIPTOR_KEYS):
            _add_descriptors(builder, start, kind, list(map(attrgetter(key), items)))
    builder.n_segments += n


def _add_emotions(builder: TableBuilder, model: str, items: list[Any]) -> None:
    expected = _LANGUAGE_LABELS if model in ("language", "ner") else _LABELS
    tid = builder.template(expected)
    tids, scores = builder.tids, builder.scores
    for it in items:
        emotions = it.emotions
        # the fast path: exactly the expected labels, in order (checked for every item)
        if emotions is not None and list(map(_name, emotions)) == expected:
            scores += map(_score, emotions)
            tids.append(tid)
        elif emotions:
            tids.append(builder.template(list(map(_name, emotions))))
            scores += map(_score, emotions)
        else:
            tids.append(0)


def _add_descriptors(builder: TableBuilder, start: int, kind: int, lists: list[Any]) -> None:
    for i, entries in enumerate(lists):
        if entries:
            builder.d_seg += [start + i] * len(entries)
            builder.d_kind += [kind] * len(entries)
            builder.d_name += map(_name, entries)
            builder.d_score += map(_score, entries)
