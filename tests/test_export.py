"""Tests for humekit.predictions.export: Parquet/CSV round trips, partitioned datasets and Dask."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from _paths import SAMPLES, require_samples

from humekit.predictions.analysis import summarize
from humekit.predictions.archives import read_predictions
from humekit.predictions.export import read_csv, read_dask, read_parquet, to_csv, to_parquet, write_dataset
from humekit.predictions.decoding import PredictionTables, to_tables

VIDEO = SAMPLES / "real_predictions_file_video_face_prosody_language.json"
PREDICTIONS = [
    "real_predictions_file_video_face_prosody_language.json",
    "real_predictions_text_language_conversational_turn.json",
    "real_predictions_url_video_face_TRIMMED.json",
    "sdk_example_get_job_predictions_face_url_archive.json",
    "real_artifacts_face_prosody_language.zip",
]
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


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A folder with every predictions sample, one in a subfolder."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for i, name in enumerate(PREDICTIONS):
        shutil.copy(SAMPLES / name, folder / ("sub" if i == 2 else "") / name)
    return folder


def _key_sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = ["source", "file", "model", "group", "frame", "begin", "position_begin", "emotion"]
    plain = frame.astype({c: "str" for c in ["source", "file", "model", "group", "emotion"]})
    return plain.sort_values(keys, kind="stable").reset_index(drop=True)


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


def test_write_dataset_partitions_and_reads_back(corpus: Path, tmp_path: Path) -> None:
    """write_dataset writes one partition per model and reads back to the same rows and dtypes."""
    out = write_dataset(corpus, tmp_path / "ds")
    assert sorted(p.name for p in (out / "scores").iterdir()) == ["model=face", "model=language", "model=prosody"]
    assert len(list((out / "scores").rglob("*.parquet"))) == 9  # 3 + 1 + 1 + 1 + 3 models
    expected = read_predictions(corpus).scores
    back = read_parquet(out / "scores")
    assert list(back.columns) == list(expected.columns)
    assert (back.dtypes.astype(str) == expected.dtypes.astype(str)).all()
    assert list(back.emotion.cat.categories) == list(expected.emotion.cat.categories)
    pd.testing.assert_frame_equal(_key_sorted(back), _key_sorted(expected), check_categorical=False)


def test_write_dataset_refuses_to_duplicate(tmp_path: Path) -> None:
    """Writing into an existing dataset needs append=True, which adds new part files."""
    out = write_dataset(VIDEO, tmp_path / "ds")
    with pytest.raises(FileExistsError, match="append=True"):
        write_dataset(VIDEO, out)
    write_dataset(VIDEO, out, append=True)
    assert len(read_parquet(out / "scores")) == 2 * 16956
    assert len(list((out / "scores" / "model=face").iterdir())) == 2


# dask 2026.8 calls DataFrame.reset_index(inplace=True) when reading Parquet, deprecated in pandas 3.1
@pytest.mark.filterwarnings("ignore:The inplace keyword:pandas.errors.Pandas4Warning")
def test_dask_summary_equals_pandas(corpus: Path, tmp_path: Path) -> None:
    """A summary computed lazily with Dask (synchronous scheduler) equals the pandas one."""
    import dask

    out = write_dataset(corpus, tmp_path / "ds", partition_cols=("model",))
    frame = read_dask(out)
    assert frame.npartitions >= 3
    with dask.config.set(scheduler="synchronous"):
        lazy = summarize(frame).compute()
    eager = summarize(read_predictions(corpus).scores)
    keys = ["source", "file", "model", "emotion"]

    def norm(summary: pd.DataFrame) -> pd.DataFrame:
        return summary.astype({k: "str" for k in keys}).sort_values(keys).reset_index(drop=True)

    assert len(lazy) == len(eager) == 2 * (48 + 48 + 53) + 25 * 53 + 48 + 48
    pd.testing.assert_frame_equal(norm(lazy), norm(eager), check_dtype=False)


def test_read_dask_errors(tmp_path: Path) -> None:
    """read_dask names a bad table and an empty folder."""
    with pytest.raises(ValueError, match="unknown table"):
        read_dask(tmp_path, table="frames")
    with pytest.raises(FileNotFoundError, match="write_dataset"):
        read_dask(tmp_path)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory):
    """A measured result with string IDs, a user column and an invalid row (status with None and text errors)."""
    from humekit import measure
    from humekit.clock import VirtualClock
    from humekit.emulator import Emulator, Schedule

    folder = tmp_path_factory.mktemp("measured")
    table = pd.DataFrame({"id": ["t-1", "t-2", "gone"], "src": ["One two.", "Three four five.", "gone.wav"],
                          "group": pd.array([1, 2, None], dtype="Int64")})
    emu = Emulator(api_key="k", clock=VirtualClock(start=1_750_000_000.0), schedule=Schedule(queued=1, running=1))
    try:
        return measure(table, id_col="id", source_col="src", models=["language"], client=emu.client(),
                       root=str(folder), ledger=folder / "l.sqlite", progress=False, errors="mark")
    finally:
        emu.stop()


def _same(back: pd.DataFrame, written: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(back.reset_index(drop=True), written.reset_index(drop=True))


@pytest.mark.parametrize("formats", [("parquet",), ("csv",)])
def test_write_result_round_trips_a_whole_result(measured, tmp_path: Path, formats) -> None:
    """result.save(folder) writes every table; read_result gives back the same values and dtypes, Parquet or CSV."""
    from humekit.predictions.export import read_result

    folder = measured.save(tmp_path / "study", formats=formats)
    suffix = formats[0]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["result.json", *(f"{n}.{suffix}" for n in ("status", "predictions", "descriptors", "per_row", "table"))])
    back = read_result(folder)
    assert back.id_col == "id" and back.counts() == measured.counts()
    _same(back.status, measured.status)
    _same(back.predictions, measured.predictions)
    _same(back.table, measured.checked[["id", "src", "group"]])
    _same(back.per_row(columns=True), measured.per_row(columns=True))
    _same(back.wide(), measured.wide())
    assert back.table["group"].dtype == "Int64" and back.status["status"].dtype == measured.status["status"].dtype


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


def test_a_result_and_a_single_table_are_written_to_parquet_the_same_way(measured, tmp_path: Path) -> None:
    """write_result's predictions.parquet has the schema to_parquet gives the same table (one Parquet writer)."""
    import pyarrow.parquet as pq

    from humekit.predictions.export import write_result

    folder = write_result(measured, tmp_path / "r", formats="parquet")
    single = to_parquet(measured.predictions, tmp_path / "p.parquet")
    assert pq.read_schema(folder / "predictions.parquet").remove_metadata() == \
        pq.read_schema(single).remove_metadata()
