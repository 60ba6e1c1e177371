"""Save prediction tables to Parquet or CSV and read them back with the same dtypes.

- :func:`write_result` / :func:`read_result`: a whole :class:`~humekit.MeasureResult` to a folder
  (``status``, ``predictions``, ``descriptors``, ``per_row`` and your ``table``, as Parquet and
  CSV, with ``result.json`` recording the ID column and every column's dtype) and back, as a
  :class:`~humekit.pipeline.outputs.SavedResult`. ``result.save(folder)`` calls :func:`write_result`.
- :func:`to_parquet` / :func:`read_parquet`: one table to one file, a
  :class:`~humekit.predictions.decoding.PredictionTables` to a folder of ``<table>.parquet`` files, or a
  result to a folder (Parquet only). Every dtype round-trips: categoricals, ``Int64``,
  ``Float64``, and ``object`` columns (which pyarrow alone would read back as ``str``).
- :func:`to_csv` / :func:`read_csv`: the same with CSV; :func:`read_csv` restores the dtypes.
- :func:`write_dataset`: thousands of prediction files to a Parquet dataset partitioned by model,
  one input file at a time (memory stays about one file's tables), and :func:`read_dask` to
  analyse it with Dask (``pip install 'humekit[dask]'``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from humekit.predictions._tables import (
    DESCRIPTOR_COLUMNS,
    ERROR_COLUMNS,
    FIXED_CATEGORIES,
    METADATA_COLUMNS,
    SCORE_COLUMNS,
    PredictionTables,
    category_dtype,
    column_dtype,
)
from humekit.predictions.archives import iter_prediction_files, read_predictions
from humekit.errors import ConfigurationError
from humekit.pipeline.outputs import ResultTables, SavedResult

__all__ = [
    "read_csv", "read_dask", "read_parquet", "read_result", "restore_dtypes", "to_csv", "to_parquet",
    "write_dataset", "write_result",
]  # fmt: skip

logger = logging.getLogger("humekit")
#: The tables :func:`write_result` writes, in this order, and the manifest beside them.
RESULT_TABLES = ("status", "predictions", "descriptors", "per_row", "table")
MANIFEST = "result.json"

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


def _humekit_typed(name: str, dtype: Any) -> bool:
    """Whether a column named like one of humekit's holds humekit's dtype (not a user's column of that name)."""
    kind = column_dtype(name)
    if kind == "category":
        return isinstance(dtype, pd.CategoricalDtype)
    if kind == "string":
        return isinstance(dtype, pd.StringDtype) or dtype == object
    return kind is not None and str(dtype) in (kind, kind.lower())


def _arrow(frame: pd.DataFrame) -> pa.Table:
    known = [c for c in frame.columns if _humekit_typed(c, frame[c].dtype)]
    table = pa.Table.from_pandas(frame, preserve_index=False)  # other columns (e.g. the ID) as pyarrow infers
    for c in known:
        want = column_dtype(c)
        if want is None:  # not a humekit column (known holds only those)
            continue
        i = table.schema.get_field_index(c)
        table = table.set_column(i, pa.field(c, _ARROW[want]), table.column(i).cast(_ARROW[want]))
    return table


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """The one way humekit writes a Parquet file: humekit's columns with their Arrow types, no index."""
    pq.write_table(_arrow(frame), path)


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
        for name in _TABLES:
            _write_parquet(getattr(data, name), path / f"{name}.parquet")
    else:
        _write_parquet(data, path)
    return path


def _read_table(path: Path, *, restore: bool = False) -> pd.DataFrame:
    """A Parquet file or dataset as pandas with the dtypes written: ``object`` columns back as
    ``object`` (pyarrow makes them ``str``); with ``restore``, humekit's columns get humekit's dtypes
    (fixed categories; a dataset's partition column) unless a column of that name was written
    with another dtype (a user's own ``group`` or ``text`` column stays as it was)."""
    table = pq.read_table(path)
    frame = table.to_pandas()
    written = {c.get("name"): c for c in (table.schema.pandas_metadata or {}).get("columns", [])}
    for name in frame.columns:
        if (written.get(name) or {}).get("numpy_type") == "object" and frame[name].dtype != object:
            frame[name] = _as_objects(frame[name])
    if not restore:
        return frame
    theirs = [c for c in frame.columns if c in written and column_dtype(c) is not None
              and not _humekit_typed(c, frame[c].dtype)]  # fmt: skip
    restored = restore_dtypes(frame.drop(columns=theirs))
    return pd.concat([restored, frame[theirs]], axis=1)[list(frame.columns)] if theirs else restored


def _as_objects(column: pd.Series) -> pd.Series:
    """``column`` as ``object`` with ``None`` for missing values, as humekit's tables hold them."""
    # pandas-stubs reject na_value=None, which pandas documents and accepts
    values = column.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
    return pd.Series(values, index=column.index, dtype=object, name=column.name)


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
        return PredictionTables(**{n: _read_table(path / f"{n}.parquet", restore=True) for n in _TABLES})
    frame = _read_table(path, restore=True)
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
        for name in _TABLES:
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
        return PredictionTables(**{n: read_csv(path / f"{n}.csv") for n in _TABLES})  # type: ignore[arg-type]
    header = pd.read_csv(path, nrows=0).columns
    dtypes = {c: ("str" if want in ("category", "string") else want) for c in header
              if (want := column_dtype(c)) is not None}
    frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""], float_precision="round_trip")
    return restore_dtypes(frame)


def write_result(result: ResultTables, folder: PathLike, *, formats: Sequence[str] = ("parquet", "csv")) -> Path:
    """Write a whole result to ``folder``: every table, as Parquet and/or CSV, and ``result.json``.

    The tables: ``status`` (one row per input row), ``predictions`` (long), ``descriptors``,
    ``per_row`` (one row per input row and model with your columns: ``result.per_row(columns=True)``)
    and ``table`` (your table as measured). ``result.json`` records the ID column and each
    column's dtype, so :func:`read_result` gives back the dtypes that were written, from Parquet
    or from CSV. Files already in ``folder`` with these names are replaced.

    Args:
        result: What :func:`humekit.measure` returned (or a :class:`~humekit.pipeline.outputs.SavedResult`).
        folder: Created if needed.
        formats: ``"parquet"``, ``"csv"`` or both.

    Returns:
        ``folder`` as a :class:`~pathlib.Path`.
    """
    formats = [formats] if isinstance(formats, str) else list(formats)
    if not formats or set(formats) - {"parquet", "csv"}:
        raise ConfigurationError(f"formats={formats!r}: choose 'parquet', 'csv' or both")
    if not isinstance(result, ResultTables):
        raise ConfigurationError(f"write_result takes the result of humekit.measure; got a {type(result).__name__}"
                                 " (write a single table with to_parquet(frame, path))")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tables = {"status": result.status.reset_index(drop=True), "predictions": result.predictions,
              "descriptors": getattr(result, "descriptors", pd.DataFrame()), "per_row": result.per_row(columns=True),
              "table": result._user_table().reset_index(drop=True)}  # fmt: skip
    manifest: dict[str, Any] = {"format": "humekit-result", "version": 1, "id_col": result.id_col,
                                "formats": formats, "tables": {}}  # fmt: skip
    for name, frame in tables.items():
        frame = _storable(frame, name)
        manifest["tables"][name] = {c: _dtype_record(frame[c]) for c in frame.columns}
        if "parquet" in formats:
            _write_parquet(frame, out / f"{name}.parquet")
        if "csv" in formats:
            frame.to_csv(out / f"{name}.csv", index=False)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str), encoding="utf-8")
    return out


def _storable(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """``frame`` with ``object`` columns that mix types (IDs like 1 and "a") as strings, which files need."""
    out = frame
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object:
            kinds = {type(v) for v in values if v is not None and not (isinstance(v, float) and pd.isna(v))}
            if len(kinds) > 1:
                logger.warning("%s: column %r mixes %s; written as strings", name, column,
                               sorted(k.__name__ for k in kinds))
                out = out.copy() if out is frame else out
                out[column] = values.map(lambda v: v if v is None or isinstance(v, str) else str(v))
    return out


def _dtype_record(column: pd.Series) -> Any:
    """How to restore ``column``'s dtype from CSV: its name, with the categories of a categorical."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return {"dtype": "category", "categories": [str(c) for c in column.cat.categories]}
    return str(column.dtype)


def _restore(frame: pd.DataFrame, dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """Give the columns of a CSV-read ``frame`` the dtypes :func:`write_result` recorded."""
    out = {}
    for name in frame.columns:
        column, want = frame[name], dtypes.get(name)
        if isinstance(want, dict) and want.get("dtype") == "category":
            values = column.astype("str").where(column.notna())
            column = pd.Series(pd.Categorical(values, dtype=category_dtype(want["categories"])), index=frame.index)
        elif want == "object":
            column = _as_objects(column)
        elif want in ("bool", "boolean"):
            column = column.map({"True": True, "False": False}).astype(want)
        elif isinstance(want, str) and want != str(column.dtype):
            try:
                # want is a dtype name from humekit's schema; pandas-stubs type astype for literal names only
                column = column.astype(want)  # type: ignore[call-overload]
            except (TypeError, ValueError):
                logger.warning("column %r could not be read back as %s; kept as %s", name, want, column.dtype)
        out[name] = column
    return pd.DataFrame(out, index=frame.index)


def read_result(folder: PathLike) -> SavedResult:
    """Read a folder :func:`write_result` (or ``result.save``) wrote, with the dtypes that were written.

    Reads the Parquet files when present, else the CSV files (restoring dtypes from ``result.json``).

    Returns:
        A :class:`~humekit.pipeline.outputs.SavedResult`: ``status``, ``predictions``, ``descriptors``,
        ``table``, ``id_col``, and the same :meth:`~humekit.pipeline.outputs.ResultTables.wide` and
        :meth:`~humekit.pipeline.outputs.ResultTables.per_row` as the result.

    Raises:
        FileNotFoundError: ``folder`` holds no saved result.
    """
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{folder} holds no saved result ({MANIFEST} is missing); write one with "
                                "result.save(folder) or humekit.predictions.export.write_result(result, folder)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    frames = {}
    for name in RESULT_TABLES:
        if (folder / f"{name}.parquet").is_file():
            frames[name] = _read_table(folder / f"{name}.parquet")
        elif (folder / f"{name}.csv").is_file():
            raw = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])
            frames[name] = _restore(raw, manifest["tables"].get(name, {}))
        else:
            raise FileNotFoundError(f"{folder} lacks {name}.parquet and {name}.csv; write the result again "
                                    "with result.save(folder)")
    return SavedResult(id_col=manifest["id_col"], status=frames["status"], predictions=frames["predictions"],
                       descriptors=frames["descriptors"], table=frames["table"])


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
        paths: Files or folders, as for :func:`humekit.predictions.archives.read_predictions`.
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
        raise FileNotFoundError(f"no Parquet files under {root}; write it with humekit.predictions.export.write_dataset")
    if "categories" not in kwargs:  # dask would otherwise also treat the partition column as stored
        schema = pq.read_schema(first)
        kwargs["categories"] = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    return dd.read_parquet(str(root), **kwargs)
