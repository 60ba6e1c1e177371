"""Tests for humekit.analysis: wide tables, summaries, top emotions and timeline plots."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from _paths import SAMPLES, require_samples

from humekit.analysis import plot_timeline, summarize, top_emotions, wide
from humekit.predictions import to_frame

matplotlib.use("Agg")
pytestmark = pytest.mark.samples  # the real video and text predictions

VIDEO = SAMPLES / "real_predictions_file_video_face_prosody_language.json"
TEXT = SAMPLES / "real_predictions_text_language_conversational_turn.json"


@pytest.fixture(scope="module")
def video() -> pd.DataFrame:
    """The uploaded-video sample as a long table."""
    require_samples()
    return to_frame(VIDEO.read_bytes())


def test_wide_has_one_row_per_segment(video: pd.DataFrame) -> None:
    """wide() gives 328 face + 12 prosody + 12 language segments and one column per emotion."""
    table = wide(video)
    assert len(table) == 352
    assert table.shape[1] == 25 + 53
    assert "emotion" not in table.columns and "score" not in table.columns
    assert table.iloc[0]["Admiration"] == 0.19679194688796997
    assert str(table["Joy"].dtype) == "Float64"
    face = table[table.model == "face"]
    assert face["Annoyance"].isna().all()  # a language-only label
    long_total = video.score.astype(float).sum()
    assert np.isclose(table.iloc[:, 25:].astype(float).sum().sum(), long_total)


def test_wide_keeps_duplicated_segments_apart(video: pd.DataFrame) -> None:
    """A segment that appears twice (the same source submitted twice) gives two rows."""
    prosody = video[video.model == "prosody"]
    doubled = pd.concat([prosody, prosody], ignore_index=True)
    assert len(wide(doubled)) == 2 * len(wide(prosody))


def test_summarize_statistics(video: pd.DataFrame) -> None:
    """mean and max match a groupby; the time-weighted mean weights by segment duration."""
    summary = summarize(video)
    assert len(summary) == 48 + 48 + 53
    assert list(summary.columns) == ["source", "file", "model", "emotion", "mean", "time_weighted_mean", "max"]
    prosody = video[(video.model == "prosody") & (video.emotion == "Joy")]
    row = summary[(summary.model == "prosody") & (summary.emotion == "Joy")].iloc[0]
    scores = prosody.score.astype(float)
    weights = (prosody.end - prosody.begin).astype(float)
    assert np.isclose(row["mean"], scores.mean()) and row["max"] == scores.max()
    assert np.isclose(row["time_weighted_mean"], (scores * weights).sum() / weights.sum())
    assert not np.isclose(row["time_weighted_mean"], row["mean"])
    face = summary[summary.model == "face"]
    assert np.allclose(face["time_weighted_mean"], face["mean"])  # face points weigh the same


def test_summarize_without_times_falls_back_to_mean() -> None:
    """Raw-text predictions have no time: the time-weighted mean is the plain mean."""
    summary = summarize(to_frame(TEXT.read_bytes()), by=("source",), how=("mean", "time_weighted_mean"))
    assert len(summary) == 53
    assert np.allclose(summary["time_weighted_mean"], summary["mean"])


def test_summarize_rejects_bad_arguments(video: pd.DataFrame) -> None:
    """Unknown statistics or columns raise ValueError."""
    with pytest.raises(ValueError, match="unknown statistic"):
        summarize(video, how=("median",))
    with pytest.raises(ValueError, match="not in the table"):
        summarize(video, by=("speaker",))


def test_top_emotions(video: pd.DataFrame) -> None:
    """top_emotions gives k ranked rows per recording and model, best first."""
    top = top_emotions(video, k=3)
    assert len(top) == 9
    assert top.groupby("model", observed=True)["rank"].apply(list).to_dict() == {
        "face": [1, 2, 3], "language": [1, 2, 3], "prosody": [1, 2, 3]}  # fmt: skip
    face = top[top.model == "face"]
    assert face.score.is_monotonic_decreasing
    assert face.iloc[0].emotion == "Calmness"


def test_plot_timeline_returns_axes(video: pd.DataFrame) -> None:
    """plot_timeline draws one line per emotion and model and returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    ax = plot_timeline(video, emotions=["Joy", "Calmness"])
    assert isinstance(ax, Axes)
    assert len(ax.get_lines()) == 6  # 2 emotions x face, prosody, language
    fig, own = plt.subplots()
    assert plot_timeline(video[video.model == "face"], emotions="Joy", ax=own) is own
    assert len(own.get_lines()) == 1
    plt.close("all")


def test_plot_timeline_errors(video: pd.DataFrame) -> None:
    """Several sources need source=; text without time cannot be plotted."""
    other = video.assign(source=video.source.cat.rename_categories(["other.mp4"]))
    both = pd.concat([video.astype({"source": str}), other.astype({"source": str})])
    with pytest.raises(ValueError, match="pass source="):
        plot_timeline(both, emotions="Joy")
    with pytest.raises(ValueError, match="no timed rows"):
        plot_timeline(to_frame(TEXT.read_bytes()), emotions="Joy")
