"""Thousands of prediction files to a Parquet dataset partitioned by model, and Dask to analyse it.

:func:`write_dataset` converts one input file at a time (memory stays about one file's tables);
:func:`read_dask` opens the result lazily (``pip install 'humekit[dask]'``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from humekit.predictions._tables import TABLE_NAMES
from humekit.predictions.archives import iter_prediction_files, read_predictions
from humekit.predictions.file_dtypes import arrow_table

__all__ = ["read_dask", "write_dataset"]


def write_dataset(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
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
    existing = [p for name in TABLE_NAMES if (out / name).is_dir() for p in (out / name).rglob("*.parquet")]
    if existing and not append:
        raise FileExistsError(f"{out} already holds a Parquet dataset; pass append=True to add to it")
    out.mkdir(parents=True, exist_ok=True)
    start = 1 + max((int(p.name.split("-")[1]) for p in existing if p.name.startswith("part-")), default=-1)
    for i, file in enumerate(iter_prediction_files(paths), start=start):
        tables = read_predictions(file, models=models, on_invalid=on_invalid)
        for name in TABLE_NAMES:
            frame = getattr(tables, name)
            if frame.empty:
                continue
            pq.write_to_dataset(
                arrow_table(frame),
                out / name,
                partition_cols=[c for c in partition_cols if c in frame.columns] or None,
                basename_template=f"part-{i:06d}-{{i}}.parquet",
                existing_data_behavior="overwrite_or_ignore",
            )
    return out


def read_dask(out_dir: str | os.PathLike[str], *, table: str = "scores", **kwargs: Any) -> Any:
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
    if table not in TABLE_NAMES:
        raise ValueError(f"unknown table {table!r}; choose from {list(TABLE_NAMES)}")
    root = Path(out_dir) / table
    first = next(root.rglob("*.parquet"), None)
    if first is None:
        raise FileNotFoundError(f"no Parquet files under {root}; write it with humekit.predictions.export.write_dataset")
    if "categories" not in kwargs:  # dask would otherwise also treat the partition column as stored
        schema = pq.read_schema(first)
        kwargs["categories"] = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    return dd.read_parquet(str(root), **kwargs)
