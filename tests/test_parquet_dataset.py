"""Tests for humekit.predictions.parquet_dataset: prediction files to a partitioned Parquet dataset, and Dask."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from _paths import SAMPLES

from humekit.predictions.analysis import summarize
from humekit.predictions.archives import read_predictions
from humekit.predictions.export import read_dask, read_parquet, write_dataset

VIDEO = SAMPLES / "real_predictions_file_video_face_prosody_language.json"
PREDICTIONS = [
    "real_predictions_file_video_face_prosody_language.json",
    "real_predictions_text_language_conversational_turn.json",
    "real_predictions_url_video_face_TRIMMED.json",
    "sdk_example_get_job_predictions_face_url_archive.json",
    "real_artifacts_face_prosody_language.zip",
]
pytestmark = pytest.mark.samples  # the real predictions and artifacts


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
    # built and computed without a cluster, even when another test left a distributed Client as the default
    with dask.config.set({"scheduler": "synchronous", "dataframe.shuffle.method": "tasks"}):
        frame = read_dask(out)
        assert frame.npartitions >= 3
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
