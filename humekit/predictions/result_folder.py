"""A whole measure result written to a folder (Parquet and/or CSV, and ``result.json``) and read back.

:func:`write_result` (what ``result.save(folder)`` calls) writes ``status``, ``predictions``, ``descriptors``,
``per_row`` and your ``table``; ``result.json`` records the ID column and every column's dtype, so
:func:`read_result` gives back the dtypes that were written, from Parquet or from CSV, as a
:class:`~humekit.pipeline.outputs.SavedResult`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from humekit.errors import ConfigurationError
from humekit.pipeline.outputs import ResultTables, SavedResult
from humekit.predictions._tables import category_dtype
from humekit.predictions.file_dtypes import as_objects, read_parquet_table, write_parquet

__all__ = ["MANIFEST", "RESULT_TABLES", "read_result", "write_result"]

logger = logging.getLogger("humekit")
#: The tables :func:`write_result` writes, in this order, and the manifest beside them.
RESULT_TABLES = ("status", "predictions", "descriptors", "per_row", "table")
MANIFEST = "result.json"


def write_result(result: ResultTables, folder: str | os.PathLike[str], *,
                 formats: Sequence[str] = ("parquet", "csv")) -> Path:
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
            write_parquet(frame, out / f"{name}.parquet")
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
            column = as_objects(column)
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


def read_result(folder: str | os.PathLike[str]) -> SavedResult:
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
            frames[name] = read_parquet_table(folder / f"{name}.parquet")
        elif (folder / f"{name}.csv").is_file():
            raw = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])
            frames[name] = _restore(raw, manifest["tables"].get(name, {}))
        else:
            raise FileNotFoundError(f"{folder} lacks {name}.parquet and {name}.csv; write the result again "
                                    "with result.save(folder)")
    return SavedResult(id_col=manifest["id_col"], status=frames["status"], predictions=frames["predictions"],
                       descriptors=frames["descriptors"], table=frames["table"])
