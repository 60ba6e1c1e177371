"""Everyday analyses of a long scores table (:func:`humekit.predictions.to_frame`).

- :func:`wide`: one row per segment, one column per emotion.
- :func:`summarize`: per recording (or any grouping) mean, time-weighted mean and max of each emotion.
- :func:`top_emotions`: the ``k`` strongest emotions per recording.
- :func:`plot_timeline`: emotion scores over time for one recording (needs ``humekit[plot]``).

:func:`summarize` only uses operations Dask supports too, so it also accepts a
``dask.dataframe.DataFrame`` (e.g. from :func:`humekit.export.read_dask`) and then returns a lazy one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["RECORDING", "plot_timeline", "summarize", "top_emotions", "wide"]

#: The columns that identify one recording (and model) in a scores table.
RECORDING: tuple[str, ...] = ("source", "file", "model")
_HOW = ("mean", "time_weighted_mean", "max")


def wide(frame: pd.DataFrame) -> pd.DataFrame:
    """Pivot a long scores table to one row per segment and one ``Float64`` column per emotion.

    Args:
        frame: A long table with ``emotion`` and ``score`` columns (e.g. from ``to_frame``).
            Every other column identifies the segment; duplicated segments stay separate rows.

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
    by: Sequence[str] = RECORDING,
    how: Iterable[str] = _HOW,
) -> Any:
    """Summarize each emotion per recording: mean, time-weighted mean and max.

    The time-weighted mean weights each segment by its duration (``end - begin``), so a long
    utterance counts more than a short one. Face rows are points in time and weigh the same; a
    group with no positive duration at all (e.g. raw text) falls back to the plain mean.

    Args:
        frame: A long scores table (pandas, or a Dask DataFrame: the result is then lazy).
        by: Columns that identify a recording (default ``("source", "file", "model")``).
        how: Any of ``"mean"``, ``"time_weighted_mean"``, ``"max"``.

    Returns:
        One row per (``by``, ``emotion``) with one column per ``how``, sorted by the keys (pandas).

    Raises:
        ValueError: ``how`` names an unknown statistic or ``by`` a missing column.
    """
    how = list(how)
    if unknown := set(how) - set(_HOW):
        raise ValueError(f"unknown statistic(s) {sorted(unknown)}; choose from {list(_HOW)}")
    keys = [*by, "emotion"]
    if missing := [c for c in keys if c not in frame.columns]:
        raise ValueError(f"column(s) {missing} not in the table; it has {list(frame.columns)}")
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
    frame: pd.DataFrame,
    k: int = 3,
    *,
    by: Sequence[str] = RECORDING,
    how: str = "mean",
) -> pd.DataFrame:
    """The ``k`` highest-scoring emotions per recording.

    Args:
        frame: A long scores table.
        k: How many emotions per group.
        by: Columns that identify a recording.
        how: The statistic to rank by (``"mean"``, ``"time_weighted_mean"`` or ``"max"``).

    Returns:
        Columns ``by + ["rank", "emotion", "score"]``, ``rank`` from 1, best first.
    """
    stats = summarize(frame, by=by, how=[how]).rename(columns={how: "score"})
    stats = stats.sort_values([*by, "score"], ascending=[True] * len(by) + [False], kind="stable")
    top = stats.groupby(list(by), observed=True, dropna=False, sort=False).head(k).copy()
    top.insert(len(by), "rank", top.groupby(list(by), observed=True, dropna=False).cumcount() + 1)
    return top.reset_index(drop=True)


def plot_timeline(
    frame: pd.DataFrame,
    *,
    emotions: str | Sequence[str],
    source: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Plot emotion scores over time for one recording (faces or speakers averaged per time).

    Args:
        frame: A long scores table.
        emotions: One emotion name or several.
        source: The recording (``source`` value) to plot; may be omitted when there is only one.
        ax: Axes to draw on; a new figure by default.

    Returns:
        The matplotlib Axes.

    Raises:
        ImportError: matplotlib is not installed (``pip install humekit[plot]``).
        ValueError: Several sources and none chosen, or nothing with a time to plot.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("plot_timeline needs matplotlib: pip install 'humekit[plot]'") from None
    names = [emotions] if isinstance(emotions, str) else list(emotions)
    sources = frame["source"].dropna().unique()
    if source is None and len(sources) > 1:
        raise ValueError(f"the table has {len(sources)} sources; pass source= one of {list(sources[:5])}")
    rows = frame if source is None else frame[frame["source"] == source]
    rows = rows[rows["emotion"].isin(names)]
    t = (rows["begin"].astype("float64") + rows["end"].astype("float64")) / 2
    data = pd.DataFrame({"model": rows["model"].astype("str"), "emotion": rows["emotion"].astype("str"),
                         "t": t, "score": rows["score"].astype("float64")}).dropna(subset=["t"])
    if data.empty:
        raise ValueError(f"no timed rows for {names} in {source or 'the table'} (raw-text predictions have no time)")
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4))
    several = data["model"].nunique() > 1
    for (model, emotion), part in data.groupby(["model", "emotion"], sort=True):
        line = part.groupby("t")["score"].mean()
        ax.plot(line.index, line.to_numpy(), marker="." if len(line) < 50 else None,
                label=f"{emotion} ({model})" if several else emotion)  # fmt: skip
    ax.set_xlabel("time (s)")
    ax.set_ylabel("score")
    ax.set_title(str(source if source is not None else (sources[0] if len(sources) else "")))
    ax.legend(loc="upper right", fontsize="small")
    return ax
