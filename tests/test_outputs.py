"""Tests for humekit.pipeline.outputs: result.wide() and result.per_row(), each with one meaning, with the user's columns."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import humekit
from humekit.clock import VirtualClock
from humekit.emulator import Emulator, Schedule
from humekit.errors import MissingColumnError
from humekit.testing.synthetic import make_wav


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> humekit.MeasureResult:
    """Two spoken recordings and a missing file (invalid), with the user's columns speaker and condition."""
    folder = tmp_path_factory.mktemp("outputs")
    make_wav(folder / "a.wav", segments=[(0.2, 1.4), (2.0, 3.1)], seed=1)
    make_wav(folder / "b.wav", segments=[(0.3, 2.0)], seed=2)
    table = pd.DataFrame({"speaker": ["s1", "s2", "s3"], "rid": pd.array([11, 12, 13], dtype="Int64"),
                          "path": ["a.wav", "b.wav", "gone.wav"], "condition": ["calm", "excited", "calm"]})
    emu = Emulator(api_key="k", clock=VirtualClock(start=1_750_000_000.0), schedule=Schedule(queued=1, running=1))
    try:
        return humekit.measure(table, id_col="rid", source_col="path", root=str(folder), client=emu.client(),
                               models=["prosody", "language"], ledger=folder / "l.sqlite", progress=False,
                               errors="mark")
    finally:
        emu.stop()


def test_wide_is_one_row_per_segment_without_user_columns(result: humekit.MeasureResult) -> None:
    """wide(): the ID, status, segment keys and one column per emotion; one row per segment, invalid rows kept."""
    wide = result.wide()
    assert list(wide.columns[:4]) == ["rid", "status", "api", "model"] and "speaker" not in wide.columns
    assert set(wide["api"].dropna()) == {"v0"}  # the emulated batch API's vocabulary
    segments = result.predictions.groupby(["rid", "model", "begin", "text"], observed=True).ngroups
    assert len(wide) == segments + 1  # + the invalid row, once, with empty scores
    assert wide.loc[wide["rid"] == 13, "Joy"].isna().all()
    assert str(wide["rid"].dtype) == "Int64"


def test_per_row_is_one_row_per_row_and_model_with_means(result: humekit.MeasureResult) -> None:
    """per_row(): one row per input row, API and model, segments counted, each emotion the mean over them."""
    rows = result.per_row()
    assert list(rows.columns[:5]) == ["rid", "status", "api", "model", "segments"]
    assert not rows.duplicated(["rid", "model"]).any()
    models = [str(m) if pd.notna(m) else None for m in rows["model"]]
    assert set(zip(rows["rid"], models, strict=True)) == {
        (11, "prosody"), (11, "language"), (12, "prosody"), (12, "language"), (13, None)}
    prosody_a = result.predictions.query("rid == 11 and model == 'prosody'")
    row = rows[(rows["rid"] == 11) & (rows["model"] == "prosody")].iloc[0]
    assert row["segments"] == prosody_a.groupby("begin").ngroups
    assert row["Joy"] == pytest.approx(prosody_a.loc[prosody_a["emotion"] == "Joy", "score"].astype(float).mean())
    missing = rows[rows["rid"] == 13].iloc[0]
    assert missing["status"] == "invalid" and missing["segments"] == 0 and pd.isna(missing["Joy"])
    assert str(rows["segments"].dtype) == "Int64" and str(rows["Joy"].dtype) == "Float64"
    assert str(rows["rid"].dtype) == "Int64"  # the ID keeps the dtype of the table


def test_per_row_never_averages_v0_and_v1_scores_together(result: humekit.MeasureResult) -> None:
    """A result whose predictions hold v0 and v1 rows of one row and model gets one per_row row for each API."""
    v0 = result.predictions
    v1 = v0.assign(api=pd.Categorical(["v1"] * len(v0), dtype=v0["api"].dtype), score=v0["score"] / 2)
    rows = dataclasses.replace(result, stored_predictions=pd.concat([v0, v1], ignore_index=True)).per_row()
    prosody = rows[(rows["rid"] == 11) & (rows["model"] == "prosody")].set_index("api")
    joy = v0.query("rid == 11 and model == 'prosody' and emotion == 'Joy'")["score"].astype(float).mean()
    assert prosody["Joy"].to_dict() == {"v0": pytest.approx(joy), "v1": pytest.approx(joy / 2)}
    assert prosody["segments"].nunique() == 1  # each API's segments counted once
    wide = dataclasses.replace(result, stored_predictions=pd.concat([v0, v1], ignore_index=True)).wide()
    assert (wide["api"] == "v1").sum() == (wide["api"] == "v0").sum() == len(result.wide()) - 1  # the invalid row once


def test_columns_carry_the_users_columns_on_request(result: humekit.MeasureResult) -> None:
    """columns=True carries every user column in the table's order; a list carries those; a typo is named."""
    everything = result.per_row(columns=True)
    assert list(everything.columns[:7]) == ["speaker", "rid", "path", "condition", "status", "api", "model"]
    chosen = result.wide(columns=["condition"])
    assert list(chosen.columns[:3]) == ["rid", "condition", "status"]
    assert chosen.drop_duplicates("rid").set_index("rid")["condition"].to_dict() == {11: "calm", 12: "excited",
                                                                                     13: "calm"}
    with pytest.raises(MissingColumnError, match=r"columns=\['conditon'\]: not in your table"):
        result.per_row(columns=["conditon"])


def test_summarize_rows_is_a_deprecated_alias(result: humekit.MeasureResult) -> None:
    """humekit.cli.run.summarize_rows still works, warns, and equals per_row(columns=True)."""
    from humekit.cli.run import summarize_rows

    table = result.checked[["speaker", "rid", "path", "condition"]]
    with pytest.warns(DeprecationWarning, match="per_row"):
        old = summarize_rows(result, table)
    pd.testing.assert_frame_equal(old, result.per_row(columns=True))


def test_user_columns_named_like_humekit_columns_are_carried_beside_them(tmp_path, capsys) -> None:
    """Your columns named like a column of per_row or wide (status, model, segments, Joy) come out as table_<name>
    there, others keep their names, and
    humekit run writes its outputs (it used to crash with KeyError 'model' after the jobs were paid for)."""
    from humekit.cli import main

    table = pd.DataFrame({"id": ["a", "b"], "text": ["So glad you came.", "Far too long a wait."],
                          "status": ["pilot", "main"], "model": ["x", "y"], "segments": [3, 4], "Joy": [0.1, 0.2]})
    with Emulator(api_key="k", clock=VirtualClock(start=1_750_000_000.0)) as emu:
        result = humekit.measure(table, id_col="id", source_col="text", kind="text", models=["language"],
                                 client=emu.client(), ledger=tmp_path / "l.sqlite", progress=False)
    per_row, wide = result.per_row(columns=True), result.wide(columns=True)
    for frame in (per_row, wide):
        assert frame["table_status"].tolist()[:1] == ["pilot"] and set(frame["status"].astype(str)) == {"ok"}
        assert {"table_model", "table_Joy", "model", "Joy"} <= set(frame.columns)
        assert not frame.columns.duplicated().any()
    assert "table_segments" in per_row and "segments" in per_row
    assert wide["segments"].tolist()[:1] == [3]  # wide() has no segments column of its own: yours keeps its name
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    code = main(["run", "--api", "v0", str(path), "--id-col", "id", "--source-col", "text", "--kind", "text", "--models",
                 "language", "--out", str(tmp_path / "out"), "--emulator", "--no-progress"])
    assert code == 0, capsys.readouterr()
    assert pd.read_csv(tmp_path / "out" / "per_row.csv")["table_model"].tolist() == ["x", "y"]
