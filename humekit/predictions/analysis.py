"""Everyday analyses of a long scores table: ``measure``'s output or archived predictions.

- :func:`wide`: one row per segment, one column per emotion.
- :func:`summarize`: per recording (or any grouping) mean, time-weighted mean and max of each emotion.
- :func:`top_emotions`: the ``k`` strongest emotions per recording.
- :func:`plot_timeline`: emotion scores over time for one recording (needs ``humekit[plot]``).

v0 and v1 scores never mix: every long table humekit makes has an ``api`` column (``v0``, ``v1``: whose
models and labels the row's are; v1's ``face`` is not v0's ``face``), and these helpers keep it as a key.
:func:`wide` keeps it as a segment column (a v0 and a v1 segment are never one row), :func:`summarize` and
:func:`top_emotions` group by it by default (and refuse a ``by=`` without it for a table that holds both),
:func:`plot_timeline` draws each API's lines apart.

Each takes what humekit gives you, as it is:

- the :class:`~humekit.MeasureResult` of :func:`humekit.measure` (``summarize(result)``): a
  recording is a row of your table, named by your ID column;
- a table keyed by your ID column, such as ``result.predictions``, with ``id_col=`` naming it;
- an archived scores table (:func:`humekit.read_predictions`, :func:`humekit.to_frame`), where
  ``source`` (and ``file``) name the recording.

:func:`summarize` only uses operations Dask supports too, so it also accepts a
``dask.dataframe.DataFrame`` (e.g. from :func:`humekit.predictions.export.read_dask`) and then returns a lazy one.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from humekit.errors import ScoresTableError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["RECORDING", "plot_timeline", "summarize", "top_emotions", "wide"]

#: The columns that identify one recording (and model) in an archived scores table (with ``api`` before
#: ``model`` when the table has it).
RECORDING: tuple[str, ...] = ("source", "file", "model")
_HOW = ("mean", "time_weighted_mean", "max")
#: Columns of a scores table that are never a recording's ID.
_SCORE_COLUMNS = frozenset((
    "api", "model", "group", "frame", "begin", "end", "text", "position_begin", "position_end", "emotion", "score",
    "file", "file_type", "prob", "box_x", "box_y", "box_w", "box_h", "confidence", "speaker_confidence",
    "source_type", "source", "md5sum", "entity", "entity_confidence", "support", "uri", "link_word",
))  # fmt: skip


def _scores(data: Any, id_col: str | None, what: str) -> tuple[Any, str | None]:
    """The long scores table in ``data`` and the column naming a recording (``None``: ``source``).

    ``data`` is a :class:`~humekit.MeasureResult` (its ``predictions``, keyed by its ``id_col``)
    or a table (keyed by ``id_col`` when given, else by ``source``).
    """
    if hasattr(data, "predictions") and hasattr(data, "id_col") and hasattr(data, "status"):
        if id_col is not None and id_col != data.id_col:
            raise ScoresTableError(f"{what}: id_col={id_col!r} but this result is keyed by {data.id_col!r}; "
                                   "leave id_col out when you pass a MeasureResult")
        return data.predictions, data.id_col
    if not hasattr(data, "columns"):
        raise ScoresTableError(f"{what} takes the result of humekit.measure, or a long scores table "
                               "(result.predictions, humekit.read_predictions(...).scores); "
                               f"got a {type(data).__name__}")
    columns = list(data.columns)
    if missing := [c for c in ("emotion", "score") if c not in columns]:
        raise ScoresTableError(f"{what}: the table has no {missing} column(s), so it is not a long scores table; "
                               "pass the result of humekit.measure, result.predictions or read_predictions(...).scores")
    if id_col is not None:
        if id_col not in columns:
            raise ScoresTableError(f"{what}: id_col={id_col!r} is not a column of the table; it has {columns}")
        return data, id_col
    return data, None


def _keys(frame: Any, id_col: str | None, by: Sequence[str] | None, what: str) -> list[str]:
    """The grouping columns: ``by`` if given, else the recording (ID or source) and model; all checked."""
    if by is None:
        if id_col is not None:
            by = (id_col, "model")
        elif "source" in frame.columns:
            by = RECORDING
        else:
            ids = [c for c in frame.columns if c not in _SCORE_COLUMNS]
            hint = f"id_col={ids[0]!r}" if ids else "id_col='<your ID column>'"
            raise ScoresTableError(
                f"{what}: the table has no 'source' column, so it is keyed by an ID column (as measure's "
                f"predictions are): pass the MeasureResult itself ({what}(result)) or name the column ({hint})"
            )
        if "api" in frame.columns:  # the same model name in v0 and v1 is two vocabularies: keep them apart
            by = [*by[:-1], "api", by[-1]]
    keys = list(by)
    if missing := [c for c in keys if c not in frame.columns]:
        raise ScoresTableError(f"{what}: by= column(s) {missing} not in the table; it has {list(frame.columns)}")
    if "api" not in keys:
        _refuse_mixed_apis(frame, what, fix=f"pass by={[*keys, 'api']!r} to keep them apart")
    return keys


def _refuse_mixed_apis(frame: Any, what: str, *, fix: str) -> None:
    """Raise :class:`ScoresTableError` if a pandas table's ``api`` column holds both v0 and v1 rows.

    ``fix`` is what to do instead besides selecting one API. A lazy (Dask) table is not checked: that would
    compute it.
    """
    if not isinstance(frame, pd.DataFrame) or "api" not in frame.columns:
        return
    apis = sorted(str(a) for a in frame["api"].dropna().unique())
    if len(apis) > 1:
        raise ScoresTableError(
            f"{what}: the table holds scores from {' and '.join(apis)}, whose models and labels are different "
            f"vocabularies (v1's face is not v0's face), so they must not be averaged together; {fix}, or select "
            f"one API first: frame[frame['api'] == {apis[-1]!r}]"
        )


def wide(frame: pd.DataFrame) -> pd.DataFrame:
    """Pivot a long scores table to one row per segment and one ``Float64`` column per emotion.

    Args:
        frame: A long table with ``emotion`` and ``score`` columns (e.g. from ``to_frame``).
            Every other column identifies the segment; duplicated segments stay separate rows. ``api``
            is one of them, so a table holding v0 and v1 scores gives separate v0 and v1 rows, each
            with its own API's scores (a label both APIs have shares a column, never a value).

    Returns:
        The segment columns (in first-appearance order of segments) followed by one column per
        emotion present, in the ``emotion`` categories' order.
    """
    keys = [c for c in frame.columns if c not in ("emotion", "score")]
    varying = [c for c in keys if frame[c].notna().any()] or keys[:1]
    segment = frame.groupby(varying, sort=False, observed=True, dropna=False).ngroup().to_numpy()
    emotion = frame["emotion"].astype("category")
    codes = emotion.cat.codes.to_numpy()
    # the n-th copy of a (segment, emotion) pair belongs to the n-th copy of a duplicated segment
    occurrence = pd.Series(codes).groupby([segment, codes]).cumcount().to_numpy()
    row, first = np.unique(segment.astype(np.int64) * (occurrence.max(initial=0) + 1) + occurrence, return_index=True)
    row_of = np.searchsorted(row, segment.astype(np.int64) * (occurrence.max(initial=0) + 1) + occurrence)
    order = np.argsort(first, kind="stable")  # first-appearance order
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    present = np.unique(codes[codes >= 0])
    column_of = np.full(len(emotion.cat.categories), -1)
    column_of[present] = np.arange(len(present))
    values = np.full((len(row), len(present)), np.nan)
    ok = codes >= 0
    values[rank[row_of[ok]], column_of[codes[ok]]] = frame["score"].to_numpy(dtype=np.float64, na_value=np.nan)[ok]
    out = frame[keys].iloc[first[order]].reset_index(drop=True)
    for j, c in enumerate(present):
        out[str(emotion.cat.categories[c])] = pd.array(values[:, j], dtype="Float64")
    return out


def summarize(
    frame: Any,
    *,
    by: Sequence[str] | None = None,
    how: Iterable[str] = _HOW,
    id_col: str | None = None,
) -> Any:
    """Summarize each emotion per recording: mean, time-weighted mean and max.

    The time-weighted mean weights each segment by its duration (``end - begin``), so a long
    utterance counts more than a short one. Face rows are points in time and weigh the same; a
    group with no positive duration at all (e.g. raw text, images) falls back to the plain mean.

    Args:
        frame: The result of :func:`humekit.measure`, or a long scores table (pandas, or a Dask
            DataFrame: the result is then lazy).
        by: Columns that identify a recording. Default: the ID column and ``model`` for a result
            (or with ``id_col``), else ``("source", "file", "model")``; ``api`` before ``model`` when the
            table has it. A ``by`` without ``api`` is refused for a table holding v0 and v1 scores.
        how: Any of ``"mean"``, ``"time_weighted_mean"``, ``"max"``.
        id_col: The ID column of a table keyed by it (``result.predictions``).

    Returns:
        One row per (``by``, ``emotion``) with one column per ``how``, sorted by the keys (pandas).

    Raises:
        ValueError: ``how`` names an unknown statistic.
        ScoresTableError: the table lacks the key columns, or ``by`` would average v0 and v1 scores
            together (it says what to pass).
    """
    how = list(how)
    if unknown := set(how) - set(_HOW):
        raise ValueError(f"unknown statistic(s) {sorted(unknown)}; choose from {list(_HOW)}")
    frame, id_col = _scores(frame, id_col, "summarize")
    keys = [*_keys(frame, id_col, by, "summarize"), "emotion"]
    score = frame["score"].astype("float64")
    duration = (frame["end"].astype("float64") - frame["begin"].astype("float64")).clip(lower=0)
    weight = duration.where(frame["model"].astype("str") != "face", 1.0)
    weight = weight.where(~score.isna() & ~weight.isna(), 0.0)
    parts = frame[keys].assign(_s=score, _ws=(weight * score.fillna(0.0)), _w=weight)
    out = parts.groupby(keys, observed=True, dropna=False).agg(
        mean=("_s", "mean"), max=("_s", "max"), _ws=("_ws", "sum"), _w=("_w", "sum")
    )
    out["time_weighted_mean"] = (out["_ws"] / out["_w"]).where(out["_w"] > 0, out["mean"])
    out = out[how].reset_index()
    return out.sort_values(keys, ignore_index=True) if isinstance(out, pd.DataFrame) else out


def top_emotions(
    frame: Any,
    k: int = 3,
    *,
    by: Sequence[str] | None = None,
    how: str = "mean",
    id_col: str | None = None,
) -> pd.DataFrame:
    """The ``k`` highest-scoring emotions per recording.

    Args:
        frame: The result of :func:`humekit.measure`, or a long scores table.
        k: How many emotions per group.
        by: Columns that identify a recording (defaults as for :func:`summarize`).
        how: The statistic to rank by (``"mean"``, ``"time_weighted_mean"`` or ``"max"``).
        id_col: The ID column of a table keyed by it (``result.predictions``).

    Returns:
        Columns ``by + ["rank", "emotion", "score"]``, ``rank`` from 1, best first.
    """
    frame, id_col = _scores(frame, id_col, "top_emotions")
    by = _keys(frame, id_col, by, "top_emotions")
    stats = summarize(frame, by=by, how=[how]).rename(columns={how: "score"})
    stats = stats.sort_values([*by, "score"], ascending=[True] * len(by) + [False], kind="stable")
    top = stats.groupby(list(by), observed=True, dropna=False, sort=False).head(k).copy()
    top.insert(len(by), "rank", top.groupby(list(by), observed=True, dropna=False).cumcount() + 1)
    return top.reset_index(drop=True)


def plot_timeline(
    frame: Any,
    *,
    emotions: str | Sequence[str],
    recording: Any = None,
    id_col: str | None = None,
    models: str | Sequence[str] | None = None,
    max_gap: float | None = 1.0,
    ax: Axes | None = None,
    source: Any = None,
) -> Axes:
    """Plot emotion scores over time for one recording (faces or speakers averaged per time).

    Each segment is drawn at its midpoint; the line breaks where the next segment starts more than
    ``max_gap`` seconds after the previous one ends (a silence, a face out of the picture), so no
    line is drawn across time with no predictions. A table with v0 and v1 rows gets one line per API
    (labelled ``Joy (v1 face)``): the two are never averaged.

    Args:
        frame: The result of :func:`humekit.measure`, or a long scores table.
        emotions: One emotion name or several.
        recording: The recording to plot: its ID (a result, or a table with ``id_col``), or its
            ``source`` (an archived table); may be omitted when there is only one.
        id_col: The ID column of a table keyed by it (``result.predictions``).
        models: Only these models (default: all that have times).
        max_gap: Seconds of no predictions beyond which the line breaks; ``None`` never breaks.
        ax: Axes to draw on; a new figure by default.
        source: The former name of ``recording`` (deprecated).

    Returns:
        The matplotlib Axes.

    Raises:
        ImportError: matplotlib is not installed (``pip install humekit[plot]``).
        ValueError: Several recordings and none chosen, or nothing with a time to plot.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("plot_timeline needs matplotlib: pip install 'humekit[plot]'") from None
    if source is not None:
        warnings.warn("plot_timeline(source=...) is deprecated: pass recording=...", DeprecationWarning, stacklevel=2)
        recording = source if recording is None else recording
    frame, id_col = _scores(frame, id_col, "plot_timeline")
    key = id_col if id_col is not None else "source"
    if key not in frame.columns:
        _keys(frame, id_col, None, "plot_timeline")  # raises, naming what to pass
    names = [emotions] if isinstance(emotions, str) else list(emotions)
    recordings = frame[key].dropna().unique()
    if recording is None and len(recordings) > 1:
        raise ScoresTableError(f"plot_timeline: the table has {len(recordings)} recordings; "
                               f"pass recording= one of {list(recordings[:5])}")
    rows = frame if recording is None else frame[frame[key] == recording]
    if recording is not None and rows.empty:
        raise ScoresTableError(f"plot_timeline: no rows with {key} == {recording!r}; "
                               f"the table has {list(recordings[:5])}{' ...' if len(recordings) > 5 else ''}")
    rows = rows[rows["emotion"].isin(names)]
    if models is not None:
        rows = rows[rows["model"].isin([models] if isinstance(models, str) else list(models))]
    begin, end = rows["begin"].astype("float64"), rows["end"].astype("float64")
    # v0 and v1 lines are drawn apart: one model name in both APIs is two vocabularies
    api = rows["api"].astype("str") if "api" in rows.columns else pd.Series("", index=rows.index)
    data = pd.DataFrame({"api": api, "model": rows["model"].astype("str"), "emotion": rows["emotion"].astype("str"),
                         "t": (begin + end) / 2, "begin": begin, "end": end,
                         "score": rows["score"].astype("float64")}).dropna(subset=["t"])
    shown = recording if recording is not None else (recordings[0] if len(recordings) else "")
    if data.empty:
        raise ValueError(f"no timed rows for {names} in {shown or 'the table'} "
                         "(raw-text and image predictions have no time)")
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4))
    several, apis = data["model"].nunique() > 1, data["api"].nunique() > 1
    for (api_name, model, emotion), part in data.groupby(["api", "model", "emotion"], sort=True):
        line = part.groupby("t").agg(score=("score", "mean"), begin=("begin", "min"), end=("end", "max"))
        t, y = _break_at_gaps(line, max_gap)
        name = f"{api_name} {model}" if apis else model
        ax.plot(t, y, marker="." if len(line) < 50 else None,
                label=f"{emotion} ({name})" if several or apis else emotion)  # fmt: skip
    ax.set_xlabel("time (s)")
    ax.set_ylabel("score")
    ax.set_title(str(shown))
    ax.legend(loc="upper right", fontsize="small")
    return ax


def _break_at_gaps(line: pd.DataFrame, max_gap: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Midpoint times and scores with a NaN inserted wherever more than ``max_gap`` s have no segment."""
    t, y = line.index.to_numpy(dtype=np.float64), line["score"].to_numpy(dtype=np.float64)
    if max_gap is None or len(t) < 2:
        return t, y
    reach = np.maximum.accumulate(line["end"].to_numpy(dtype=np.float64))  # overlapping segments cover time
    gaps = np.flatnonzero(line["begin"].to_numpy(dtype=np.float64)[1:] - reach[:-1] > max_gap) + 1
    return np.insert(t, gaps, np.nan), np.insert(y, gaps, np.nan)
