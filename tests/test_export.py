"""Tests for humekit.predictions.export: Parquet/CSV round trips of tables and results, with their dtypes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _paths import SAMPLES, require_samples
from _results import measured_result, same_rows as _same  # noqa: F401 (measured_result is the `measured` fixture)

from humekit.predictions.export import read_csv, read_parquet, to_csv, to_parquet
from humekit.predictions.decoding import PredictionTables, to_tables

VIDEO = SAMPLES / "real_predictions_file_video_face_prosody_language.json"
TABLES = ("scores", "descriptors", "errors", "metadata")
pytestmark = pytest.mark.samples  # the real predictions and artifacts


@pytest.fixture(scope="module")
def tables() -> PredictionTables:
    """The uploaded-video sample's tables, with one per-file error added."""
    import orjson

    require_samples()
    doc = orjson.loads(VIDEO.read_bytes())
    doc[0]["results"]["errors"] = [{"file": "x.mp4", "message": "bad file"}]
    return to_tables(doc)


def test_parquet_round_trip_frame(tables: PredictionTables, tmp_path: Path) -> None:
    """A scores table survives Parquet with identical values and dtypes (categoricals included)."""
    path = to_parquet(tables.scores, tmp_path / "scores.parquet")
    pd.testing.assert_frame_equal(read_parquet(path), tables.scores)


def test_parquet_round_trip_tables(tables: PredictionTables, tmp_path: Path) -> None:
    """All four tables survive Parquet as a folder."""
    back = read_parquet(to_parquet(tables, tmp_path / "tables"))
    assert isinstance(back, PredictionTables)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(tables, name))
    assert back.errors.message.tolist() == ["bad file"]


def test_csv_round_trip_tables(tables: PredictionTables, tmp_path: Path) -> None:
    """CSV round-trips exactly too: read_csv restores dtypes and floats are written exactly."""
    back = read_csv(to_csv(tables, tmp_path / "csv"))
    assert isinstance(back, PredictionTables)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(tables, name))
    frame = read_csv(to_csv(tables.scores, tmp_path / "scores.csv"))
    pd.testing.assert_frame_equal(frame, tables.scores)


def test_to_parquet_takes_a_result_or_says_what_to_pass(measured, tmp_path: Path) -> None:
    """to_parquet(result, folder) writes the result's folder; without a path or with a list it names the fix."""
    from humekit.predictions.analysis import summarize
    from humekit.errors import ConfigurationError
    from humekit.pipeline.outputs import SavedResult

    folder = to_parquet(measured, tmp_path / "r")
    back = read_parquet(folder)
    assert isinstance(back, SavedResult)
    pd.testing.assert_frame_equal(summarize(back), summarize(measured))
    with pytest.raises(ConfigurationError, match=r"to_parquet needs a path: to_parquet\(result, 'out/study'\)"):
        to_parquet(measured)
    with pytest.raises(ConfigurationError, match="takes a DataFrame, a PredictionTables or the result"):
        to_parquet([1, 2], tmp_path / "x.parquet")


def test_read_parquet_returns_the_dtypes_written(measured, tmp_path: Path) -> None:
    """object columns (string IDs, job ids, errors) come back as object, not str; categoricals and Int64 stay."""
    for frame in (measured.status, measured.predictions, measured.per_row(columns=True)):
        back = read_parquet(to_parquet(frame, tmp_path / "t.parquet"))
        assert back.dtypes.astype(str).to_dict() == frame.dtypes.astype(str).to_dict()
        _same(back, frame)
