"""One partition's results as its own part of the Parquet dataset, written by the worker that measured it.

The layout and the writing are :mod:`humekit.pipeline.parts`' (shared with ``humekit.measure(out=...)``): a
part is named by its partition's number, so a partition that Dask runs again (its worker died) replaces its
own files instead of adding a second copy.
"""

from __future__ import annotations

from pathlib import Path

from humekit.pipeline.parts import MARKER, TABLES, finish, prepare, read_status, status_table, write_tables
from humekit.pipeline.result import MeasureResult

__all__ = ["MARKER", "TABLES", "finish", "prepare", "read_status", "write_part"]


def write_part(result: MeasureResult | None, out: Path, index: int) -> None:
    """Write partition ``index``'s status, scores and descriptors as its part of the dataset in ``out``,
    replacing whatever an earlier attempt at the same partition wrote (``None``: an empty partition, no files)."""
    if result is None:
        write_tables({}, out, index)
        return
    write_tables({"status": status_table(result.status, result.cost, id_col=result.id_col, index=index,
                                         checked=result.checked),
                  "scores": result.predictions, "descriptors": result.descriptors}, out, index)
