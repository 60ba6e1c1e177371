"""The columnar engine behind :mod:`humekit.predictions.decoding` and :mod:`humekit.predictions.archives`.

A :class:`TableBuilder` takes predictions one recording (or one artifacts CSV) at a time and
keeps them as flat per-segment columns: plain Python lists while a document is being walked,
sealed into numpy arrays after each document so that memory tracks the output, not the JSON tree.
:meth:`TableBuilder.build` then makes the long tables once, with ``np.repeat`` and
``pd.Categorical.from_codes``; no per-emotion Python object is ever created.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from humekit.predictions.vocabulary import API_MODELS, LANGUAGE_EMOTIONS, MODELS

SOURCE_COLUMNS = ("source_type", "source", "md5sum", "file", "file_type")
#: ``api`` names the API whose vocabulary a row's ``model`` and labels belong to (``v0`` or ``v1``), so that
#: v0 and v1 scores in one study never mix silently: every table with a ``model`` column has it beside it.
SEGMENT_COLUMNS = ("api", "model", "group", "frame", "begin", "end", "text", "position_begin", "position_end")
EXTRA_COLUMNS = (
    "prob", "box_x", "box_y", "box_w", "box_h", "confidence", "speaker_confidence",
    "entity", "entity_confidence", "support", "uri", "link_word",
)  # fmt: skip
SCORE_COLUMNS = SOURCE_COLUMNS + SEGMENT_COLUMNS + ("emotion", "score") + EXTRA_COLUMNS
DESCRIPTOR_COLUMNS = SOURCE_COLUMNS + SEGMENT_COLUMNS + ("kind", "name", "score")
ERROR_COLUMNS = ("source_type", "source", "md5sum", "file", "message")
METADATA_COLUMNS = SOURCE_COLUMNS + ("api", "model", "confidence", "detected_language")

#: Per-segment fields kept as strings (categoricals in the tables) and as numbers.
STRING_FIELDS = ("group", "text", "entity", "uri", "link_word")
INT_FIELDS = ("frame", "position_begin", "position_end")
FLOAT_FIELDS = (
    "begin", "end", "prob", "box_x", "box_y", "box_w", "box_h",
    "confidence", "speaker_confidence", "entity_confidence", "support",
)  # fmt: skip
NUMERIC_FIELDS = INT_FIELDS + FLOAT_FIELDS
DESCRIPTOR_KINDS = ("facs", "description", "sentiment", "toxicity")

#: Categories fixed in advance, so tables from different files share them; unknown values are appended.
FIXED_CATEGORIES: dict[str, tuple[str, ...]] = {
    "source_type": ("file", "text", "url"),
    "api": tuple(API_MODELS),
    "model": MODELS,
    "emotion": LANGUAGE_EMOTIONS,
    "kind": DESCRIPTOR_KINDS,
}
#: The API whose predictions documents and artifacts these tables are read from: v0's batch API (v1 answers
#: are decoded by :mod:`humekit.backends.v1.decoding`).
PREDICTIONS_API = "v0"
CATEGORICAL_COLUMNS = frozenset(
    (*SOURCE_COLUMNS, *STRING_FIELDS, "api", "model", "emotion", "kind", "name", "detected_language")
)


_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".heic", ".heif", ".avif")


def is_image(file: Any, file_type: Any) -> bool:
    """Whether a prediction's file is a still image: Hume's ``file_type`` says so, or, when Hume
    leaves it out (archive members in the SDK's example), the file name has an image suffix.
    A face on an image is at no time: its ``begin``/``end`` are null (Hume sends ``time: 0``)."""
    if file_type is not None:
        return str(file_type).startswith("image")  # "image" (unconfirmed for Hume; "image_png" would do too)
    return isinstance(file, str) and file.lower().endswith(_IMAGE_SUFFIXES)


def column_dtype(name: str) -> str | None:
    """The pandas dtype family of a table column: ``category``, ``Int64``, ``Float64``, ``string``,
    or ``None`` for a column humekit does not define (a user's ID column, say), left as it is."""
    if name in CATEGORICAL_COLUMNS:
        return "category"
    if name in INT_FIELDS:
        return "Int64"
    if name == "message":
        return "string"
    if name in FLOAT_FIELDS or name == "score":
        return "Float64"
    return None


def _floats(values: Sequence[Any]) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):  # junk in a numeric field: keep numbers, null the rest
        ok = (int, float)
        return np.array(
            [v if isinstance(v, ok) and not isinstance(v, bool) else None for v in values],
            dtype=np.float64,
        )


def _objects(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _same(array: np.ndarray) -> np.ndarray:
    return array


def _code_dtype(n: int) -> type[np.signedinteger[Any]]:
    return np.int8 if n < 127 else np.int16 if n < 32_767 else np.int32


_EMPTY_DTYPE = pd.CategoricalDtype(pd.Index([], dtype="str"))


@lru_cache(maxsize=4096)
def _cached_dtype(categories: tuple[str, ...]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(pd.Index(list(categories), dtype="str"))


def category_dtype(categories: Sequence[str]) -> pd.CategoricalDtype:
    """An unordered categorical dtype over ``categories`` (cached when short: dtypes are immutable)."""
    if len(categories) <= 64:
        return _cached_dtype(tuple(categories))
    return pd.CategoricalDtype(pd.Index(list(categories), dtype="str"))


def api_column(api: str, rows: int) -> pd.Categorical:
    """The ``api`` column of ``rows`` rows measured with ``api`` (``"v0"`` or ``"v1"``), with its fixed categories."""
    names = FIXED_CATEGORIES["api"]
    return pd.Categorical.from_codes(np.full(rows, names.index(api), dtype=np.int8), dtype=category_dtype(names),
                                     validate=False)


def categorical(
    values: np.ndarray,
    spread: Callable[[np.ndarray], np.ndarray],
    *,
    name: str,
    used: np.ndarray | None = None,
    rows: int | None = None,
) -> pd.Categorical:
    """Factorize per-segment ``values`` (strings or None), then spread the small codes to rows.

    ``used`` marks the values that reach some row; the others are not made categories.
    """
    if used is not None:
        values = np.where(used, values, np.array(None, dtype=object))
    fixed = FIXED_CATEGORIES.get(name)
    if fixed is None:
        codes, uniques = pd.factorize(values, sort=True)
        cats = list(uniques)
        if not cats:
            empty = np.full(rows, -1, dtype=np.int8) if rows is not None else spread(codes.astype(np.int8))
            return pd.Categorical.from_codes(empty, dtype=_EMPTY_DTYPE, validate=False)
    else:
        cats = list(fixed)
        index = {c: i for i, c in enumerate(cats)}
        uniq, inverse = pd.factorize(values)[::-1]
        for u in uniq:
            if u not in index:
                index[u] = len(cats)
                cats.append(u)
        lookup = np.array([index[u] for u in uniq] + [-1], dtype=np.int64)
        codes = lookup[inverse]  # inverse == -1 (null) picks the trailing -1
    small = codes.astype(_code_dtype(len(cats)), copy=False)
    return pd.Categorical.from_codes(spread(small), dtype=category_dtype(cats), validate=False)


def nullable(
    values: np.ndarray, spread: Callable[[np.ndarray], np.ndarray], *, integer: bool, rows: int | None = None
) -> Any:
    """A nullable ``Float64``/``Int64`` array from float values with NaN as null.

    Given the number of ``rows``, a column with no values or no nulls skips spreading values or mask.
    """
    mask = np.isnan(values)
    dtype = np.int64 if integer else np.float64
    kind = pd.arrays.IntegerArray if integer else pd.arrays.FloatingArray
    if rows is not None and mask.all():
        return kind(np.zeros(rows, dtype=dtype), np.ones(rows, dtype=bool))
    data = np.where(mask, 0, values).astype(np.int64) if integer else values
    return kind(spread(data), np.zeros(rows, dtype=np.bool_) if rows is not None and not mask.any() else spread(mask))


@dataclass(frozen=True)
class PredictionTables:
    """Hume predictions as four long DataFrames sharing the same key columns.

    Attributes:
        scores: One row per (segment, emotion): the table :func:`humekit.predictions.decoding.to_frame` returns.
        descriptors: One row per (segment, descriptor): face FACS and descriptions, burst
            descriptions, language sentiment and toxicity, with ``kind``, ``name`` and ``score``.
        errors: Failed sources and per-file errors, with ``file`` and ``message``.
        metadata: Transcription metadata per recording and model (``confidence``, ``detected_language``).
    """

    scores: pd.DataFrame
    descriptors: pd.DataFrame
    errors: pd.DataFrame
    metadata: pd.DataFrame


#: The names of the four tables of :class:`PredictionTables`, in order (the files written for them are named so).
TABLE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(PredictionTables))


class TableBuilder:
    """Accumulates segments from many documents and builds :class:`PredictionTables` once."""

    def __init__(self) -> None:
        self.preds: list[tuple[str | None, ...]] = []  # (source_type, source, md5sum, file, file_type)
        self.errors: list[tuple[Any, ...]] = []
        self.metadata: list[tuple[Any, ...]] = []
        self.n_segments = 0  # sealed + open
        self._sealed = 0
        self._emotion_index = {name: i for i, name in enumerate(LANGUAGE_EMOTIONS)}
        self._emotion_names = list(LANGUAGE_EMOTIONS)
        self.templates: list[np.ndarray] = [np.empty(0, np.int64)]  # template 0: no emotions
        self._template_ids: dict[tuple[str, ...], int] = {(): 0}
        self._chunks: dict[str, list[np.ndarray]] = {}
        self._reset_open()

    def _reset_open(self) -> None:
        self.cols: dict[str, list[Any]] = {}
        self.pred_idx: list[int] = []
        self.model: list[str] = []
        self.tids: list[int] = []
        self.scores: list[Any] = []
        self.d_seg: list[int] = []
        self.d_kind: list[int] = []
        self.d_name: list[Any] = []
        self.d_score: list[Any] = []

    def template(self, names: Sequence[str]) -> int:
        """The id of the emotion-label sequence ``names`` (registering it and new labels if needed)."""
        key = tuple(names)
        tid = self._template_ids.get(key)
        if tid is None:
            for n in key:
                if n not in self._emotion_index:
                    self._emotion_index[n] = len(self._emotion_names)
                    self._emotion_names.append(n)
            tid = len(self.templates)
            self.templates.append(np.array([self._emotion_index[n] for n in key], dtype=np.int64))
            self._template_ids[key] = tid
        return tid

    def column(self, name: str, start: int) -> list[Any]:
        """The open list of per-segment field ``name``, padded with None up to segment ``start``."""
        lst = self.cols.get(name)
        if lst is None:
            lst = self.cols[name] = []
        base = start - self._sealed
        if len(lst) < base:
            lst.extend([None] * (base - len(lst)))
        return lst

    def _push(self, key: str, array: np.ndarray) -> None:
        self._chunks.setdefault(key, []).append(array)

    def seal(self) -> None:
        """Turn the open lists into compact arrays (call after each document)."""
        n = self.n_segments - self._sealed
        if n:
            for name in STRING_FIELDS + NUMERIC_FIELDS:
                lst = self.column(name, self.n_segments)
                self._push(name, _objects(lst) if name in STRING_FIELDS else _floats(lst))
            self._push("pred_idx", np.array(self.pred_idx, dtype=np.int64))
            self._push("model", _objects(self.model))
            self._push("tid", np.array(self.tids, dtype=np.int64))
            self._push("scores", _floats(self.scores))
        if self.d_seg:
            self._push("d_seg", np.array(self.d_seg, dtype=np.int64))
            self._push("d_kind", np.array(self.d_kind, dtype=np.int64))
            self._push("d_name", _objects(self.d_name))
            self._push("d_score", _floats(self.d_score))
        self._sealed = self.n_segments
        self._reset_open()

    def add_arrays(self, arrays: dict[str, np.ndarray], *, pred: int, model: str, tid: np.ndarray,
                   scores: np.ndarray, descriptors: tuple[np.ndarray, ...] | None = None) -> None:
        """Add already-columnar segments (the artifacts-CSV path). Arrays are per segment."""
        self.seal()
        n = len(tid)
        for name in STRING_FIELDS + NUMERIC_FIELDS:
            if name in arrays:
                self._push(name, arrays[name])
            else:
                self._push(name, np.full(n, None, dtype=object) if name in STRING_FIELDS else np.full(n, np.nan))
        self._push("pred_idx", np.full(n, pred, dtype=np.int64))
        self._push("model", _objects([model] * n))
        self._push("tid", tid.astype(np.int64))
        self._push("scores", scores.astype(np.float64))
        if descriptors is not None and len(descriptors[0]):
            seg, kind, names, values = descriptors
            self._push("d_seg", seg + self.n_segments)
            self._push("d_kind", kind)
            self._push("d_name", names)
            self._push("d_score", values)
        self.n_segments += n
        self._sealed = self.n_segments

    def _cat(self, key: str, empty: np.ndarray) -> np.ndarray:
        chunks = self._chunks.get(key)
        return np.concatenate(chunks) if chunks else empty

    def build(self) -> PredictionTables:
        """Build the four tables from everything added so far."""
        return self._build(scores_only=False)

    def build_scores(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Only the ``scores`` and ``errors`` tables (what :func:`~humekit.to_frame` needs), faster."""
        tables = self._build(scores_only=True)
        return tables.scores, tables.errors

    def _build(self, *, scores_only: bool) -> PredictionTables:
        self.seal()
        f64, i64, obj = np.empty(0), np.empty(0, np.int64), np.empty(0, object)
        seg = {k: self._cat(k, obj if k in STRING_FIELDS else f64) for k in STRING_FIELDS + NUMERIC_FIELDS}
        pred_idx, model, tid = self._cat("pred_idx", i64), self._cat("model", obj), self._cat("tid", i64)
        lengths = np.array([len(t) for t in self.templates], dtype=np.int64)
        counts = lengths[tid]
        # emotion codes: each segment's template laid end to end, without a Python loop per segment
        flat = np.concatenate(self.templates)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        out_starts = np.cumsum(counts) - counts
        codes = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(starts[tid] - out_starts, counts)
        emotion_codes = flat[codes] if len(codes) else i64

        preds = self.preds or [(None,) * 5]
        pred_cols = {c: _objects([p[i] for p in preds]) for i, c in enumerate(SOURCE_COLUMNS)}

        def frame(spread: Callable[[np.ndarray], np.ndarray], rows: np.ndarray, extra: dict[str, Any],
                  columns: Sequence[str], seg_used: np.ndarray | None) -> pd.DataFrame:
            pred_used = None
            if seg_used is not None:
                pred_used = np.zeros(len(preds), dtype=bool)
                pred_used[pred_idx[seg_used]] = True
            n = len(rows)
            data: dict[str, Any] = {}
            for c in columns:
                if c in extra:
                    data[c] = extra[c]
                elif c in SOURCE_COLUMNS:
                    data[c] = categorical(pred_cols[c], lambda a: spread(a[pred_idx]), name=c, used=pred_used, rows=n)
                elif c == "api":
                    data[c] = api_column(PREDICTIONS_API, n)
                elif c == "model":
                    data[c] = categorical(model, spread, name=c)
                elif c in STRING_FIELDS:
                    data[c] = categorical(seg[c], spread, name=c, used=seg_used, rows=n)
                else:
                    data[c] = nullable(seg[c], spread, integer=c in INT_FIELDS, rows=n)
            return pd.DataFrame(data, index=pd.RangeIndex(len(rows)), copy=False)

        emo_cats = category_dtype(self._emotion_names)
        scores_raw = self._cat("scores", f64)
        score_extra = {
            "emotion": pd.Categorical.from_codes(emotion_codes.astype(_code_dtype(len(emo_cats.categories))),
                                                 dtype=emo_cats, validate=False),
            "score": nullable(scores_raw, _same, integer=False, rows=len(scores_raw)),
        }
        scores = frame(lambda a: np.repeat(a, counts), scores_raw, score_extra, SCORE_COLUMNS,
                       seg_used=counts > 0 if (counts == 0).any() else None)
        if scores_only:
            return PredictionTables(scores, pd.DataFrame(), self._errors(), pd.DataFrame())

        d_seg = self._cat("d_seg", i64)
        order = np.argsort(d_seg, kind="stable")
        d_seg = d_seg[order]
        d_extra = {
            "kind": categorical(_objects([DESCRIPTOR_KINDS[k] for k in self._cat("d_kind", i64)[order]]),
                                _same, name="kind"),
            "name": categorical(self._cat("d_name", obj)[order], _same, name="name"),
            "score": nullable(self._cat("d_score", f64)[order], _same, integer=False),
        }
        descriptors = frame(lambda a: a[d_seg], d_seg, d_extra, DESCRIPTOR_COLUMNS,
                            seg_used=np.bincount(d_seg, minlength=len(tid)) > 0)
        return PredictionTables(scores, descriptors, self._errors(), self._metadata())

    def _errors(self) -> pd.DataFrame:
        rows = self.errors
        data: dict[str, Any] = {
            c: categorical(_objects([r[i] for r in rows]), _same, name=c) for i, c in enumerate(ERROR_COLUMNS[:-1])
        }
        data["message"] = pd.array([r[-1] for r in rows], dtype="string")
        return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))

    def _metadata(self) -> pd.DataFrame:
        rows = self.metadata  # (pred index, model, confidence, detected_language)
        data: dict[str, Any] = {}
        for i, c in enumerate(SOURCE_COLUMNS):
            data[c] = categorical(_objects([self.preds[r[0]][i] for r in rows]), _same, name=c)
        data["api"] = api_column(PREDICTIONS_API, len(rows))
        data["model"] = categorical(_objects([r[1] for r in rows]), _same, name="model")
        data["confidence"] = nullable(_floats([r[2] for r in rows]), _same, integer=False)
        data["detected_language"] = categorical(_objects([r[3] for r in rows]), _same, name="detected_language")
        return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
