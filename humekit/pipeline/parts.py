"""Results as numbered parts of a Parquet dataset: ``measure(out=...)``'s chunks, ``measure_distributed``'s partitions.

The layout is :func:`humekit.predictions.parquet_dataset.write_dataset`'s: one folder per table, the long
tables partitioned by model (``scores/model=audio/part-000003-0.parquet``, ``descriptors/...``), plus
``status/part-000003-0.parquet``: every input row of the part with its status, the reason when it is
not ``ok``, and what its requests cost (``partition``: the part's number). A part is named by its number
(a chunk of rows of :func:`humekit.measure`, a partition of :func:`humekit.measure_distributed`), so a part
written again (a rerun, or a partition Dask runs again after its worker died) replaces its own files instead
of adding a second copy; each file is written beside the dataset and moved into place whole, so a reader
never sees half a file.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from humekit.errors import ConfigurationError
from humekit.pipeline.validation import ADDED_COLUMNS
from humekit.predictions.file_dtypes import arrow_table

__all__ = ["MARKER", "TABLES", "check_folder", "finish", "part_name", "prepare", "read_rows", "read_status", "status_table",
           "write_tables"]

#: The tables a part writes, and the columns each is partitioned by.
TABLES: dict[str, tuple[str, ...]] = {"status": (), "scores": ("model",), "descriptors": ("model",)}
#: The file that says a folder holds a dataset of :func:`humekit.measure` or :func:`humekit.measure_distributed`
#: (and of which table).
MARKER = "_humekit_measure.json"
_STAGING = "_staging"
_PART = re.compile(r"^part-(\d{6,})-\d+\.parquet$")


def part_name(index: int) -> str:
    """The name every file of partition ``index`` starts with."""
    return f"part-{index:06d}"


def check_folder(out: Path, *, id_col: str) -> None:
    """Refuse ``out`` if it holds Parquet files humekit did not write, or results keyed by another ID column."""
    marker = out / MARKER
    if not marker.exists() and out.is_dir() and any(out.rglob("*.parquet")):
        raise ConfigurationError(f"out={str(out)!r} already holds Parquet files that humekit did not write; give a "
                                 "new folder (or the out= of an earlier measure or measure_distributed, to rewrite)")
    if marker.exists():
        before = json.loads(marker.read_text())
        if before.get("id_col") != id_col:
            raise ConfigurationError(f"out={str(out)!r} holds results keyed by {before.get('id_col')!r}, not "
                                     f"{id_col!r}; give another folder for this table")


def prepare(out: Path, *, id_col: str, partitions: int) -> None:
    """Make ``out`` ready for ``partitions`` parts: refuse a folder holding another kind of dataset, remove
    parts an earlier run with more partitions left (a rerun rewrites the others), record the marker."""
    check_folder(out, id_col=id_col)
    marker = out / MARKER
    out.mkdir(parents=True, exist_ok=True)
    for path in _parts(out):
        found = _PART.match(path.name)
        if found and int(found.group(1)) >= partitions:
            path.unlink()
    finish(out)
    marker.write_text(json.dumps({"id_col": id_col, "partitions": partitions, "tables": list(TABLES)}))


def finish(out: Path) -> None:
    """Remove what attempts that died while writing left beside the dataset (when no task is running)."""
    shutil.rmtree(out / _STAGING, ignore_errors=True)


def _parts(out: Path, name: str = "part") -> list[Path]:
    """The files of every part (or of the part ``name``) in the dataset ``out``."""
    return [path for table in TABLES if (out / table).is_dir() for path in (out / table).rglob(f"{name}-*.parquet")]


def status_table(status: pd.DataFrame, cost: pd.DataFrame | None, *, id_col: str, index: int,
                 checked: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every row of a measured part: the ID, ``status``, ``job_id``, ``error``, ``note``, its cost
    (``requests``, ``billed_seconds``, ``lost_answers``, ``lost_billed``), what validation learned about its
    source (the ``source_...`` columns of ``checked``) and ``partition`` (the part's number)."""
    frames = [status.reset_index(drop=True)]
    if cost is not None:
        frames.append(cost.reset_index(drop=True).drop(columns=[id_col], errors="ignore"))
    if checked is not None:
        frames.append(checked[[c for c in ADDED_COLUMNS if c in checked.columns]].reset_index(drop=True))
    return (pd.concat(frames, axis=1) if len(frames) > 1 else frames[0]).assign(partition=index)


def write_tables(frames: Mapping[str, pd.DataFrame], out: Path, index: int) -> None:
    """Write part ``index`` of the dataset in ``out``: its ``status``, ``scores`` and ``descriptors`` (any of
    them; an empty or absent table writes no file), replacing whatever was written for the same part before."""
    name = part_name(index)
    staging = out / _STAGING / f"{name}-{secrets.token_hex(4)}"
    try:
        for table, partition_cols in TABLES.items():
            frame = frames.get(table)
            if frame is None or frame.empty:
                continue
            pq.write_to_dataset(_typed(frame), staging / table, basename_template=f"{name}-{{i}}.parquet",
                                partition_cols=[c for c in partition_cols if c in frame.columns] or None)
        written = {path.relative_to(staging) for path in staging.rglob("*.parquet")}
        for old in _parts(out, name):
            if old.relative_to(out) not in written:
                old.unlink()
        for relative in sorted(written):
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / relative, out / relative)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _typed(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as Arrow with the same types in every part: humekit's columns as :func:`arrow_table` types
    them, every other text column (``error`` with no error in this part, a user's ID) as ``string``."""
    table = arrow_table(frame)
    for i, column in enumerate(table.schema):
        if pa.types.is_null(column.type) or pa.types.is_large_string(column.type):
            table = table.set_column(i, pa.field(column.name, pa.string()), table.column(i).cast(pa.string()))
    return table


def read_status(out: Path, **kwargs: Any) -> pd.DataFrame:
    """Every row's status (and cost) from a dataset ``out``, in partition order."""
    folder = out / "status"
    if not any(folder.glob("*.parquet")):
        raise FileNotFoundError(f"no status parts under {folder}: has humekit.measure or measure_distributed "
                                f"written to {out}?")
    frame = pd.read_parquet(folder, **kwargs)
    return frame.sort_values("partition", kind="stable").reset_index(drop=True)


def read_rows(out: Path, like: pd.DataFrame, *, index: pd.Index | None, infer: bool = True) -> pd.DataFrame:
    """``like``'s columns of every row of the dataset ``out`` (its ``status`` table), in the rows' order, with
    the given ``index`` and the dtypes the in-memory table has: ``like``'s categories and nullable numbers; text
    columns inferred from their values as the join infers them (``infer``), else kept ``object`` as
    :func:`humekit.validate` makes them. Only those columns are read."""
    folder = out / "status"
    columns = list(like.columns)
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        return like.iloc[0:0].copy() if index is None else like.reindex(index=index)
    frame = pq.read_table(folder, columns=[*columns, "partition"]).to_pandas()
    frame = frame.sort_values("partition", kind="stable")
    if index is not None and len(index) != len(frame):
        raise ConfigurationError(f"{out} holds {len(frame):,} rows, not the {len(index):,} of the table measured: "
                                 "another measure has rewritten it since; read that call's result")
    rows = pd.RangeIndex(len(frame)) if index is None else index
    typed: dict[str, Any] = {}
    for name in columns:
        column, dtype = frame[name], like[name].dtype
        if isinstance(dtype, pd.api.extensions.ExtensionDtype) and not isinstance(dtype, pd.StringDtype):
            typed[name] = pd.Series(column.astype(dtype).array, index=rows)  # categories, Int64, Float64
        elif pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype):
            values = column.astype(object).where(column.notna(), None).to_numpy()
            typed[name] = values if infer else pd.Series(values, index=rows, dtype=object)
        else:
            typed[name] = column.to_numpy()
    return pd.DataFrame(typed, index=rows)


def open_table(out: Path, table: str) -> Any:
    """One table of the dataset ``out`` as a lazy ``pyarrow.dataset.Dataset`` (the model folders as a ``model``
    column); an empty one, with no column, when no part wrote any row of it."""
    import pyarrow.dataset as ds

    if table not in TABLES:
        raise ConfigurationError(f"table={table!r}: choose one of {list(TABLES)}")
    folder = out / table
    if not any(folder.rglob("*.parquet")) if folder.is_dir() else True:
        return ds.dataset(pa.table({}))
    return ds.dataset(folder, format="parquet", partitioning="hive")


def read_long(out: Path, table: str, *, id_col: str, order: pd.Series, empty: pd.DataFrame) -> pd.DataFrame:
    """The whole ``scores`` or ``descriptors`` table of ``out`` as :func:`humekit.measure` builds it in memory:
    the rows in the order of the IDs in ``order`` (then model and ``begin``, as joined), the columns of ``empty``
    first, with the dtypes they were written with."""
    from humekit.predictions.file_dtypes import read_parquet_table

    folder = out / table
    if not folder.is_dir() or not any(folder.rglob("*.parquet")):
        return empty
    frame = read_parquet_table(folder)
    for column in ("model", "emotion", "kind", "name"):  # the categories the join gives them in memory
        if column in frame.columns:
            values = frame[column].astype("str")
            joined = empty[column].dtype if column in empty.columns else None
            if isinstance(joined, pd.CategoricalDtype) and bool(values.isin(joined.categories).all()):
                frame[column] = values.astype(joined)
            else:
                frame[column] = values.astype("category")
    position = pd.Index(order).get_indexer(frame[id_col])
    sort = pd.DataFrame({"position": position, "model": frame["model"].astype("string"), "begin": frame["begin"]})
    frame = frame.iloc[sort.sort_values(["position", "model", "begin"], kind="stable").index].reset_index(drop=True)
    columns = [c for c in empty.columns if c in frame.columns]
    for column in columns:  # e.g. a text column Parquet kept as a dictionary: the join's dtype again
        if isinstance(frame[column].dtype, pd.CategoricalDtype) and not isinstance(empty[column].dtype,
                                                                                   pd.CategoricalDtype):
            frame[column] = frame[column].astype(empty[column].dtype)
    return frame[[*columns, *(c for c in frame.columns if c not in columns)]]
