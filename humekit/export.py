"""Save prediction tables to Parquet or CSV and read them back with the same dtypes.

- :func:`to_parquet` / :func:`read_parquet`: one table to one file, or a
  :class:`~humekit.predictions.PredictionTables` to a folder of ``<table>.parquet`` files.
  Categoricals, ``Int64`` and ``Float64`` round-trip.
- :func:`to_csv` / :func:`read_csv`: the same with CSV; :func:`read_csv` restores the dtypes.
- :func:`write_dataset`: thousands of prediction files to a Parquet dataset partitioned by model,
  one input file at a time (memory stays about one file's tables), and :func:`read_dask` to
  analyse it with Dask (``pip install 'humekit[dask]'``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from humekit._tables import (
    DESCRIPTOR_COLUMNS,
    ERROR_COLUMNS,
    FIXED_CATEGORIES,
    METADATA_COLUMNS,
    SCORE_COLUMNS,
    PredictionTables,
    category_dtype,
    column_dtype,
)
from humekit.archives import iter_prediction_files, read_predictions

__all__ = ["read_csv", "read_dask", "read_parquet", "restore_dtypes", "to_csv", "to_parquet", "write_dataset"]

PathLike = str | os.PathLike[str]
_NULLABLE = {"Int64": pd.Int64Dtype(), "Float64": pd.Float64Dtype(), "string": pd.StringDtype(na_value=pd.NA)}
_TABLES = tuple(f.name for f in fields(PredictionTables))
_ARROW = {"category": pa.dictionary(pa.int32(), pa.string()), "Int64": pa.int64(),
          "Float64": pa.float64(), "string": pa.string()}  # fmt: skip


def restore_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a table's known columns humekit's dtypes (fixed categories included); others are left alone."""
    out = {}
    for name in frame.columns:
        column, kind = frame[name], column_dtype(name)
        if kind is None:
            pass  # not one of humekit's columns: keep the user's dtype
        elif kind == "category":
            fixed = list(FIXED_CATEGORIES.get(name, ()))
            values = column.astype("str").where(column.notna())
            present = pd.unique(values.dropna())
            extra = sorted(str(v) for v in present if v not in set(fixed))
            current = list(column.cat.categories) if isinstance(column.dtype, pd.CategoricalDtype) else []
            if fixed:
                cats = fixed + extra
            elif current and set(present) <= set(current):
                cats = [str(c) for c in current]
            else:
                cats = extra
            column = pd.Series(pd.Categorical(values, dtype=category_dtype(cats)), index=frame.index)
        elif column.dtype != _NULLABLE[kind]:
            column = column.astype(_NULLABLE[kind])
        out[name] = column
    return pd.DataFrame(out, index=frame.index)


def _arrow(frame: pd.DataFrame) -> pa.Table:
    known = [c for c in frame.columns if column_dtype(c) is not None]
    table = pa.Table.from_pandas(frame, preserve_index=False)  # other columns (e.g. the ID) as pyarrow infers
    for c in known:
        i = table.schema.get_field_index(c)
        table = table.set_column(i, pa.field(c, _ARROW[column_dtype(c)]), table.column(i).cast(_ARROW[column_dtype(c)]))
    return table


def to_parquet(data: pd.DataFrame | PredictionTables, path: PathLike) -> Path:
    """Write a table to ``path`` (a file), or all tables of ``data`` into the folder ``path``.

    Args:
        data: A table such as ``to_frame(...)``, or a :class:`PredictionTables`.
        path: The ``.parquet`` file, or the folder that gets ``scores.parquet``, ``descriptors.parquet``...

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    if isinstance(data, PredictionTables):
        path.mkdir(parents=True, exist_ok=True)
        for name in _TABLES:
            pq.write_table(_arrow(getattr(data, name)), path / f"{name}.parquet")
    else:
        pq.write_table(_arrow(data), path)
    return path


def read_parquet(path: PathLike) -> pd.DataFrame | PredictionTables:
    """Read what :func:`to_parquet` (or :func:`write_dataset`, its ``scores`` folder) wrote.

    Args:
        path: A ``.parquet`` file, a dataset folder, or a folder of ``<table>.parquet`` files.

    Returns:
        A DataFrame, or a :class:`PredictionTables` for a folder holding ``scores.parquet``.
    """
    path = Path(path)
    if path.is_dir() and (path / "scores.parquet").is_file():
        return PredictionTables(**{n: restore_dtypes(pq.read_table(path / f"{n}.parquet").to_pandas())
                                   for n in _TABLES})  # fmt: skip
    frame = pq.read_table(path).to_pandas()
    for columns in (SCORE_COLUMNS, DESCRIPTOR_COLUMNS, ERROR_COLUMNS, METADATA_COLUMNS):
        if set(frame.columns) == set(columns):  # a partition column comes back last: put it back
            frame = frame[list(columns)]
    return restore_dtypes(frame)


def to_csv(data: pd.DataFrame | PredictionTables, path: PathLike) -> Path:
    """Write a table to a CSV file, or all tables of ``data`` into the folder ``path`` (``<table>.csv``)."""
    path = Path(path)
    if isinstance(data, PredictionTables):
        path.mkdir(parents=True, exist_ok=True)
        for name in _TABLES:
            getattr(data, name).to_csv(path / f"{name}.csv", index=False)
    else:
        data.to_csv(path, index=False)
    return path


def read_csv(path: PathLike) -> pd.DataFrame | PredictionTables:
    """Read what :func:`to_csv` wrote, restoring humekit's dtypes (floats are written exactly)."""
    path = Path(path)
    if path.is_dir():
        return PredictionTables(**{n: read_csv(path / f"{n}.csv") for n in _TABLES})  # type: ignore[arg-type]
    header = pd.read_csv(path, nrows=0).columns
    dtypes = {c: ("str" if column_dtype(c) in ("category", "string") else column_dtype(c)) for c in header
              if column_dtype(c) is not None}
    frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""], float_precision="round_trip")
    return restore_dtypes(frame)


def write_dataset(
    paths: PathLike | Iterable[PathLike],
    out_dir: PathLike,
    *,
    partition_cols: Sequence[str] = ("model",),
    models: Iterable[str] | None = None,
    on_invalid: Literal["raise", "skip"] = "raise",
    append: bool = False,
) -> Path:
    """Write many prediction files to a partitioned Parquet dataset, one input file at a time.

    ``out_dir`` gets one dataset per table: ``scores/model=face/part-000000-0.parquet``,
    ``descriptors/...``, ``errors/...`` and ``metadata/...``. Memory is bounded by the largest
    single input file's tables, so any number of files can be converted.

    Args:
        paths: Files or folders, as for :func:`humekit.archives.read_predictions`.
        out_dir: The dataset folder (created; files already there are kept).
        partition_cols: Columns to partition by (those a table lacks are skipped for it).
        models: Keep only these models.
        on_invalid: ``"raise"`` or ``"skip"`` files that are not predictions.
        append: Add to a dataset already in ``out_dir`` (by default that is an error, so that
            converting the same files twice cannot silently duplicate rows).

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.

    Raises:
        FileExistsError: ``out_dir`` already holds a dataset and ``append`` is false.
    """
    out = Path(out_dir)
    existing = [p for name in _TABLES if (out / name).is_dir() for p in (out / name).rglob("*.parquet")]
    if existing and not append:
        raise FileExistsError(f"{out} already holds a Parquet dataset; pass append=True to add to it")
    out.mkdir(parents=True, exist_ok=True)
    start = 1 + max((int(p.name.split("-")[1]) for p in existing if p.name.startswith("part-")), default=-1)
    for i, file in enumerate(iter_prediction_files(paths), start=start):
        tables = read_predictions(file, models=models, on_invalid=on_invalid)
        for name in _TABLES:
            frame = getattr(tables, name)
            if frame.empty:
                continue
            pq.write_to_dataset(
                _arrow(frame),
                out / name,
                partition_cols=[c for c in partition_cols if c in frame.columns] or None,
                basename_template=f"part-{i:06d}-{{i}}.parquet",
                existing_data_behavior="overwrite_or_ignore",
            )
    return out


def read_dask(out_dir: PathLike, *, table: str = "scores", **kwargs: Any) -> Any:
    """Open a :func:`write_dataset` folder as a lazy ``dask.dataframe.DataFrame``.

    Args:
        out_dir: The folder given to :func:`write_dataset`.
        table: Which table: ``"scores"`` (default), ``"descriptors"``, ``"errors"`` or ``"metadata"``.
        **kwargs: Passed to ``dask.dataframe.read_parquet``.

    Raises:
        ImportError: Dask is not installed (``pip install 'humekit[dask]'``).
    """
    try:
        import dask.dataframe as dd
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("read_dask needs Dask: pip install 'humekit[dask]'") from None
    if table not in _TABLES:
        raise ValueError(f"unknown table {table!r}; choose from {list(_TABLES)}")
    root = Path(out_dir) / table
    first = next(root.rglob("*.parquet"), None)
    if first is None:
        raise FileNotFoundError(f"no Parquet files under {root}; write it with humekit.export.write_dataset")
    if "categories" not in kwargs:  # dask would otherwise also treat the partition column as stored
        schema = pq.read_schema(first)
        kwargs["categories"] = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    return dd.read_parquet(str(root), **kwargs)
