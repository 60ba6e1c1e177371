"""``measure(out=...)``: the join done chunk by chunk of rows, each chunk's predictions written as it is joined.

Without ``out`` the join builds the whole long table in memory (48 scores a text, thousands of rows a
recording: millions of rows for a large study). With ``out``, the table is cut into chunks of
``chunk_rows`` rows; each chunk is joined on its own (:func:`~humekit.pipeline.joining.join_results` on the
chunk's rows, with the assignments, refusals and unplannable rows of those rows only), its scores and
descriptors written as part ``i`` of the dataset in ``out`` (:mod:`humekit.pipeline.parts`: the
``write_dataset`` layout, ``scores/model=.../part-00000i-0.parquet``), and dropped before the next chunk is
decoded. Only each row's status (and cost) is kept in memory, and written beside them
(``status/part-00000i-0.parquet``). Peak memory is bounded by one chunk's predictions, not the table's.

A rerun with the same ``out`` writes every part again under the same names (each file replaced whole) and
removes parts an earlier run with more chunks left, so the dataset never holds a row twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from humekit.pipeline.coverage import Assignment, Coverage
from humekit.pipeline.joining import Decoder, Joined, join_results
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.parts import finish, prepare, status_table, write_tables

__all__ = ["DEFAULT_CHUNK_ROWS", "join_to_dataset"]

#: Rows joined (and their predictions held) at a time by ``measure(out=...)``.
DEFAULT_CHUNK_ROWS = 10_000


@dataclass(slots=True)
class _Chunk:
    """What one chunk of rows is joined from, its positions counted from the chunk's first row."""

    assignments: list[Assignment] = field(default_factory=list)
    missing: dict[int, tuple[str, ...]] = field(default_factory=dict)
    rejected: dict[Any, str] = field(default_factory=dict)
    unplannable: dict[Any, str] = field(default_factory=dict)


def join_to_dataset(checked: pd.DataFrame, *, id_col: str, coverage: Coverage, ledger: Ledger, decode: Decoder,
                    out: Path, chunk_rows: int, cost: pd.DataFrame | None = None,
                    rejected: Mapping[Any, str] | None = None, unplannable: Mapping[Any, str] | None = None,
                    api: str = "v0") -> Joined:
    """Join ``checked`` ``chunk_rows`` rows at a time, writing each chunk's status (with its ``cost``), scores and
    descriptors as its part of the dataset in ``out``; every row's status comes back, the predictions stay on
    disk (the returned tables are empty)."""
    count = max(1, -(-len(checked) // chunk_rows))
    chunks = [_Chunk() for _ in range(count)]
    for assignment in coverage.assignments:  # one pass over each: no chunk scans the whole table
        number, offset = divmod(assignment.index, chunk_rows)
        chunks[number].assignments.append(replace(assignment, index=offset))
    for position, models in coverage.missing.items():
        chunks[position // chunk_rows].missing[position % chunk_rows] = models
    for given, into in (((rejected or {}), "rejected"), ((unplannable or {}), "unplannable")):
        for position, reason in given.items():
            getattr(chunks[position // chunk_rows], into)[position % chunk_rows] = reason
    prepare(out, id_col=id_col, partitions=count)
    statuses: list[pd.DataFrame] = []
    job_ids: list[str] = []
    failed: list[str] = []
    empty: Joined | None = None
    for number, chunk in enumerate(chunks):
        start, stop = number * chunk_rows, (number + 1) * chunk_rows
        part = Coverage(assignments=tuple(chunk.assignments), missing=chunk.missing, rows=coverage.rows)
        joined = join_results(checked.iloc[start:stop], id_col=id_col, coverage=part, ledger=ledger, decode=decode,
                              rejected=chunk.rejected, unplannable=chunk.unplannable, api=api)
        frames = {"status": status_table(joined.status, None if cost is None else cost.iloc[start:stop],
                                         id_col=id_col, index=number),
                  "scores": joined.predictions, "descriptors": joined.descriptors}
        write_tables(frames, out, number)
        statuses.append(joined.status)
        job_ids += joined.job_ids
        failed += joined.failed
        empty = replace(joined, predictions=joined.predictions.iloc[0:0], descriptors=joined.descriptors.iloc[0:0])
        del joined, frames  # the chunk's predictions are on disk: not held while the next chunk is joined
    finish(out)
    assert empty is not None  # there is always one chunk, even for an empty table
    status = pd.concat(statuses) if len(statuses) > 1 else statuses[0]
    # each column's dtype inferred from all the rows, as the join of the whole table does (a chunk with no error
    # has an ``object`` error column, the others ``str``: together ``str``, as in memory)
    status = pd.DataFrame({name: column if isinstance(column.dtype, pd.CategoricalDtype) else column.to_numpy()
                           for name, column in status.items()}, index=status.index)
    return replace(empty, status=status, job_ids=tuple(dict.fromkeys(job_ids)), failed=tuple(failed))
