"""Save prediction tables to Parquet or CSV and read them back with the same dtypes.

- :func:`to_parquet` / :func:`read_parquet`: one table to one file, a
  :class:`~humekit.predictions.decoding.PredictionTables` to a folder of ``<table>.parquet`` files, or a
  result to a folder (Parquet only). Every dtype round-trips: categoricals, ``Int64``,
  ``Float64``, and ``object`` columns (which pyarrow alone would read back as ``str``).
- :func:`to_csv` / :func:`read_csv`: the same with CSV; :func:`read_csv` restores the dtypes.

Importable from here too, each defined in the module named:

- :func:`write_result` / :func:`read_result`: a whole :class:`~humekit.MeasureResult` to a folder and back
  (:mod:`~humekit.predictions.result_folder`); ``result.save(folder)`` calls :func:`write_result`.
- :func:`write_dataset` / :func:`read_dask`: thousands of prediction files to a Parquet dataset partitioned
  by model, and Dask to analyse it (:mod:`~humekit.predictions.parquet_dataset`).
- :func:`restore_dtypes`: humekit's dtypes on a table read back (:mod:`~humekit.predictions.file_dtypes`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from humekit.errors import ConfigurationError
from humekit.pipeline.outputs import ResultTables, SavedResult
from humekit.predictions._tables import (
    DESCRIPTOR_COLUMNS,
    ERROR_COLUMNS,
    METADATA_COLUMNS,
    SCORE_COLUMNS,
    TABLE_NAMES,
    PredictionTables,
    column_dtype,
)
from humekit.predictions.file_dtypes import read_parquet_table, restore_dtypes, write_parquet
from humekit.predictions.parquet_dataset import read_dask, write_dataset
from humekit.predictions.result_folder import MANIFEST, RESULT_TABLES  # noqa: F401 (importable here, as before)
from humekit.predictions.result_folder import read_result, write_result

__all__ = [
    "read_csv", "read_dask", "read_parquet", "read_result", "restore_dtypes", "to_csv", "to_parquet",
    "write_dataset", "write_result",
]  # fmt: skip

PathLike = str | os.PathLike[str]


def _destination(data: Any, path: PathLike | None, what: str) -> Path:
    """``path`` as a Path, or an error saying what to pass."""
    if path is None:
        example = ("result, 'out/study'" if isinstance(data, ResultTables) else
                   "tables, 'out/tables'" if isinstance(data, PredictionTables) else f"frame, 'scores.{what}'")
        raise ConfigurationError(f"to_{what} needs a path: to_{what}({example}) "
                                 f"({'a folder' if not isinstance(data, pd.DataFrame) else 'a file'})")
    if not isinstance(data, (pd.DataFrame, PredictionTables, ResultTables)):
        raise ConfigurationError(f"to_{what} takes a DataFrame, a PredictionTables or the result of humekit.measure; "
                                 f"got a {type(data).__name__}")
    return Path(path)


def to_parquet(data: pd.DataFrame | PredictionTables | ResultTables, path: PathLike | None = None) -> Path:
    """Write a table to ``path`` (a file), or all tables of ``data`` into the folder ``path``.

    Args:
        data: A table such as ``to_frame(...)`` or ``result.predictions``, a :class:`PredictionTables`,
            or the result of :func:`humekit.measure` (written as by :func:`write_result`, Parquet only).
        path: The ``.parquet`` file, or the folder that gets ``scores.parquet``, ``descriptors.parquet``...
            (``status.parquet``, ``predictions.parquet``... for a result).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ConfigurationError: no ``path``, or ``data`` is none of these (the message says what to pass).
    """
    path = _destination(data, path, "parquet")
    if isinstance(data, ResultTables):
        return write_result(data, path, formats=("parquet",))
    if isinstance(data, PredictionTables):
        path.mkdir(parents=True, exist_ok=True)
        for name in TABLE_NAMES:
            write_parquet(getattr(data, name), path / f"{name}.parquet")
    else:
        write_parquet(data, path)
    return path


def read_parquet(path: PathLike) -> pd.DataFrame | PredictionTables | SavedResult:
    """Read what :func:`to_parquet` (or :func:`write_dataset`, its ``scores`` folder) wrote.

    Args:
        path: A ``.parquet`` file, a dataset folder, a folder of ``<table>.parquet`` files, or a
            result's folder (:func:`write_result`).

    Returns:
        A DataFrame with the dtypes that were written, a :class:`PredictionTables` for a folder
        holding ``scores.parquet``, or a :class:`~humekit.pipeline.outputs.SavedResult` for a result's folder.
    """
    path = Path(path)
    if path.is_dir() and (path / "status.parquet").is_file():
        return read_result(path)
    if path.is_dir() and (path / "scores.parquet").is_file():
        return PredictionTables(**{n: read_parquet_table(path / f"{n}.parquet", restore=True) for n in TABLE_NAMES})
    frame = read_parquet_table(path, restore=True)
    for columns in (SCORE_COLUMNS, DESCRIPTOR_COLUMNS, ERROR_COLUMNS, METADATA_COLUMNS):
        if set(frame.columns) == set(columns):  # a partition column comes back last: put it back
            frame = frame[list(columns)]
    return frame


def to_csv(data: pd.DataFrame | PredictionTables | ResultTables, path: PathLike | None = None) -> Path:
    """Write a table to a CSV file, or all tables of ``data`` (a :class:`PredictionTables`, or a
    result as by :func:`write_result`, CSV only) into the folder ``path`` (``<table>.csv``)."""
    path = _destination(data, path, "csv")
    if isinstance(data, ResultTables):
        return write_result(data, path, formats=("csv",))
    if isinstance(data, PredictionTables):
        path.mkdir(parents=True, exist_ok=True)
        for name in TABLE_NAMES:
            getattr(data, name).to_csv(path / f"{name}.csv", index=False)
    else:
        data.to_csv(path, index=False)
    return path


def read_csv(path: PathLike) -> pd.DataFrame | PredictionTables | SavedResult:
    """Read what :func:`to_csv` wrote, restoring humekit's dtypes (floats are written exactly)."""
    path = Path(path)
    if path.is_dir() and (path / "status.csv").is_file():
        return read_result(path)
    if path.is_dir():
        return PredictionTables(**{n: read_csv(path / f"{n}.csv") for n in TABLE_NAMES})  # type: ignore[arg-type]
    header = pd.read_csv(path, nrows=0).columns
    dtypes = {c: ("str" if want in ("category", "string") else want) for c in header
              if (want := column_dtype(c)) is not None}
    frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""], float_precision="round_trip")
    return restore_dtypes(frame)
