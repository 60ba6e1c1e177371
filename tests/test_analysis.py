"""Tests for humekit.predictions.analysis: wide tables, summaries, top emotions and timeline plots."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from _paths import SAMPLES, require_samples

import humekit
from humekit.predictions.analysis import plot_timeline, summarize, top_emotions, wide
from humekit.clock import VirtualClock
from humekit.emulator import Emulator, Schedule
from humekit.errors import ScoresTableError
from humekit.predictions.decoding import to_frame
from humekit.testing.synthetic import make_image, make_wav

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
    assert table.shape[1] == 26 + 53
    assert "emotion" not in table.columns and "score" not in table.columns
    assert table.iloc[0]["Admiration"] == 0.19679194688796997
    assert str(table["Joy"].dtype) == "Float64"
    face = table[table.model == "face"]
    assert face["Annoyance"].isna().all()  # a language-only label
    long_total = video.score.astype(float).sum()
    assert np.isclose(table.iloc[:, 26:].astype(float).sum().sum(), long_total)


def test_wide_keeps_duplicated_segments_apart(video: pd.DataFrame) -> None:
    """A segment that appears twice (the same source submitted twice) gives two rows."""
    prosody = video[video.model == "prosody"]
    doubled = pd.concat([prosody, prosody], ignore_index=True)
    assert len(wide(doubled)) == 2 * len(wide(prosody))


def test_summarize_statistics(video: pd.DataFrame) -> None:
    """mean and max match a groupby; the time-weighted mean weights by segment duration."""
    summary = summarize(video)
    assert len(summary) == 48 + 48 + 53
    assert list(summary.columns) == ["source", "file", "api", "model", "emotion", "mean", "time_weighted_mean", "max"]
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
    """Several sources need recording=; text without time cannot be plotted."""
    other = video.assign(source=video.source.cat.rename_categories(["other.mp4"]))
    both = pd.concat([video.astype({"source": str}), other.astype({"source": str})])
    with pytest.raises(ValueError, match="pass recording="):
        plot_timeline(both, emotions="Joy")
    with pytest.raises(ValueError, match="no timed rows"):
        plot_timeline(to_frame(TEXT.read_bytes()), emotions="Joy")


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> humekit.MeasureResult:
    """measure's result for two recordings (one with a 3.5 s silence) and an image, prosody per word and face."""
    folder = tmp_path_factory.mktemp("measured")
    make_wav(folder / "gap.wav", segments=[(0.2, 1.5), (5.0, 6.5)], duration=7.0, seed=1)
    make_wav(folder / "talk.wav", segments=[(0.2, 2.5)], seed=2)
    make_image(folder / "face.png", seed=3)
    table = pd.DataFrame({"id": ["gap", "talk", "pic"], "path": ["gap.wav", "talk.wav", "face.png"]})
    emu = Emulator(api_key="k", clock=VirtualClock(start=1_750_000_000.0), schedule=Schedule(queued=1, running=1))
    try:
        return humekit.measure(table, id_col="id", source_col="path", root=str(folder), client=emu.client(),
                               models={"prosody": {"granularity": "word"}, "face": {}},
                               ledger=folder / "ledger.sqlite", progress=False)
    finally:
        emu.stop()


def test_helpers_take_the_measure_result(measured: humekit.MeasureResult) -> None:
    """summarize, top_emotions and plot_timeline work on measure's result, one recording per ID and model."""
    summary = summarize(measured)
    assert list(summary.columns) == ["id", "api", "model", "emotion", "mean", "time_weighted_mean", "max"]
    assert summary.groupby(["id", "model"], observed=True).ngroups == 3  # gap/talk prosody, pic face
    joy = measured.predictions.query("id == 'gap' and model == 'prosody' and emotion == 'Joy'")["score"]
    row = summary.query("id == 'gap' and model == 'prosody' and emotion == 'Joy'").iloc[0]
    assert np.isclose(row["mean"], joy.astype(float).mean())
    pd.testing.assert_frame_equal(summarize(measured.predictions, id_col="id"), summary)
    top = top_emotions(measured, k=2)
    assert list(top.columns) == ["id", "api", "model", "rank", "emotion", "score"] and len(top) == 6
    ax = plot_timeline(measured, emotions="Joy", recording="talk")
    assert ax.get_title() == "talk" and len(ax.get_lines()) == 1
    import matplotlib.pyplot as plt

    plt.close("all")


def test_helpers_say_what_to_pass(measured: humekit.MeasureResult) -> None:
    """result.predictions without id_col, a wrong id_col or a non-table get a humekit error naming the fix."""
    with pytest.raises(ScoresTableError, match=r"pass the MeasureResult itself \(summarize\(result\)\).*id_col='id'"):
        summarize(measured.predictions)
    with pytest.raises(ScoresTableError, match=r"top_emotions\(result\)"):
        top_emotions(measured.predictions)
    with pytest.raises(ScoresTableError, match="id_col='speaker' is not a column"):
        summarize(measured.predictions, id_col="speaker")
    with pytest.raises(ScoresTableError, match="takes the result of humekit.measure"):
        summarize([1, 2, 3])
    with pytest.raises(ScoresTableError, match="pass recording= one of"):
        plot_timeline(measured, emotions="Joy")
    with pytest.raises(ScoresTableError, match="no rows with id == 'nobody'"):
        plot_timeline(measured, emotions="Joy", recording="nobody")


def test_plot_timeline_breaks_the_line_at_silences(measured: humekit.MeasureResult) -> None:
    """A 3.5 s silence between two utterances leaves a gap (NaN) in the line; max_gap=None joins it."""
    import matplotlib.pyplot as plt

    words = measured.predictions.query("id == 'gap' and model == 'prosody' and emotion == 'Joy'")
    (line,) = plot_timeline(measured, emotions="Joy", recording="gap").get_lines()
    x = np.asarray(line.get_xdata(), dtype=float)
    assert np.isnan(x).sum() == 1 and (~np.isnan(x)).sum() == len(words)
    before, after = x[: np.flatnonzero(np.isnan(x))[0]], x[np.flatnonzero(np.isnan(x))[0] + 1 :]
    assert before.max() < 2.0 and after.min() > 4.5  # the break falls in the silence
    (joined,) = plot_timeline(measured, emotions="Joy", recording="gap", max_gap=None, ax=plt.subplots()[1]).get_lines()
    assert not np.isnan(np.asarray(joined.get_xdata(), dtype=float)).any()
    with pytest.warns(DeprecationWarning, match="recording="):
        plot_timeline(measured, emotions="Joy", source="gap", ax=plt.subplots()[1])
    plt.close("all")


def as_v1(frame: pd.DataFrame) -> pd.DataFrame:
    """The same rows as if v1 had measured them, with other scores (half of v0's)."""
    return frame.assign(api=pd.Categorical(["v1"] * len(frame), dtype=frame["api"].dtype), score=frame["score"] / 2)


def test_wide_keeps_v0_and_v1_segments_apart(measured: humekit.MeasureResult) -> None:
    """A table holding v0 and v1 scores of one segment pivots to a v0 row and a v1 row, each its own scores."""
    face = measured.predictions.query("id == 'pic'")
    table = wide(pd.concat([face, as_v1(face)], ignore_index=True))
    assert table["api"].tolist() == ["v0", "v1"] and table["model"].tolist() == ["face", "face"]
    joy = face.loc[face["emotion"] == "Joy", "score"].iloc[0]
    assert table["Joy"].tolist() == [pytest.approx(joy), pytest.approx(joy / 2)]  # neither averaged nor summed


def test_summaries_key_by_api_and_refuse_a_by_that_would_mix_them(measured: humekit.MeasureResult) -> None:
    """summarize and top_emotions group v0 and v1 apart; a by= without api on a mixed table names the fix."""
    face = measured.predictions.query("id == 'pic'")
    mixed = pd.concat([face, as_v1(face)], ignore_index=True)
    summary = summarize(mixed, id_col="id").query("emotion == 'Joy'")
    joy = face.loc[face["emotion"] == "Joy", "score"].astype(float).mean()
    assert summary.set_index("api")["mean"].to_dict() == {"v0": pytest.approx(joy), "v1": pytest.approx(joy / 2)}
    assert set(top_emotions(mixed, id_col="id", k=1)["api"]) == {"v0", "v1"}
    with pytest.raises(ScoresTableError, match=r"v0 and v1.*by=\['id', 'model', 'api'\].*frame\['api'\] == 'v1'"):
        summarize(mixed, by=["id", "model"])
    summarize(face, by=["id", "model"])  # one API: nothing to keep apart


def test_plot_timeline_draws_each_api_apart(measured: humekit.MeasureResult) -> None:
    """One recording measured by both APIs gets a line per API, labelled with it."""
    import matplotlib.pyplot as plt

    talk = measured.predictions.query("id == 'talk'")
    ax = plot_timeline(pd.concat([talk, as_v1(talk)], ignore_index=True), id_col="id", emotions="Joy")
    assert sorted(line.get_label() for line in ax.get_lines()) == ["Joy (v0 prosody)", "Joy (v1 prosody)"]
    plt.close("all")
