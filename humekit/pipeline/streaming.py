"""``measure(out=...)``: every stage run a chunk of rows at a time, each chunk's results written as they are joined.

Without ``out`` the whole table goes through each stage at once: its validated copy, every row's inputs and
fingerprints, the plan, and the long table of predictions (48 scores a text, thousands of rows a recording)
are all in memory together. With ``out``, the table is cut into chunks of ``chunk_rows`` rows and only one
chunk's state is in memory at a time, in three passes:

1. **validate**: every chunk is checked (the table as a whole first: its columns and unique IDs) and its
   validated rows put aside on disk (a temporary folder, removed at the end). Nothing is sent before the whole
   table is checked, so ``errors="raise"`` still refuses a table before anything is sent, naming its rows.
2. **send**: chunk by chunk, what the ledger lacks is planned and sent (:func:`humekit.pipeline.stages.send`,
   the same stage as in memory). An asynchronous API's jobs are all submitted, then waited for together
   (one wait and one ``timeout``, as in memory; only their keys are held, one per job).
3. **join**: chunk by chunk, the answers are joined to the chunk's rows and written
   as part ``i`` of the dataset in ``out`` (:mod:`humekit.pipeline.parts`: ``write_dataset``'s layout,
   ``scores/model=.../part-00000i-0.parquet``): its status (with each row's cost and what validation learned),
   scores and descriptors. The chunk is dropped before the next is read.

Peak memory is bounded by one chunk, not the table. The result keeps only the caller's table (a copy-on-write
view: no row copied), a few totals and the ids of the jobs; ``result.status``, ``.predictions`` and the rest are
read from ``out``. A rerun with the same ``out`` writes every part again under the same names (each file
replaced whole) and removes parts an earlier run with more chunks left, so the dataset never holds a row twice.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from humekit.backends.base import COMPLETED, FAILED, Backend, Run
from humekit.errors import WaitTimeoutError
from humekit.pipeline.cost import spent_cost
from humekit.pipeline.coverage import cover
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.input_limits import InputLimits
from humekit.pipeline.joining import join_results
from humekit.pipeline.parts import finish, prepare, status_table, write_tables
from humekit.pipeline.stages import backend_identity, send, table_rows
from humekit.pipeline.validation import ADDED_COLUMNS, check_table, describe_sources, raise_problems

__all__ = ["DEFAULT_CHUNK_ROWS", "Streamed", "ValidatedChunks", "measure_in_chunks"]

#: Rows validated, sent, joined and written at a time by ``measure(out=...)``.
DEFAULT_CHUNK_ROWS = 10_000


class ValidatedChunks:
    """A table validated chunk by chunk, each chunk's validated rows kept on disk until :meth:`close`.

    Built by :meth:`validate`; iterating gives ``(number, checked)`` for each chunk, read back from disk:
    its ID and source columns and the ``source_...`` columns validation adds (the stages read nothing else).
    """

    def __init__(self, folder: tempfile.TemporaryDirectory[str], *, rows: int, chunk_rows: int,
                 empty: pd.DataFrame) -> None:
        self._folder = folder
        self.rows, self.chunk_rows = rows, chunk_rows
        self.empty = empty
        r"""The validated table's columns and dtypes, with no row."""

    @classmethod
    def validate(cls, table: pd.DataFrame, *, id_col: str, source_col: str,
                 kind: Literal["auto", "file", "url", "text"], models: Mapping[str, Any], root: str | None,
                 limits: InputLimits, errors: Literal["raise", "mark"], api: Literal["v0", "v1"],
                 chunk_rows: int) -> ValidatedChunks:
        """Check ``table`` as :func:`humekit.validate` does, ``chunk_rows`` rows at a time; with ``errors="raise"``,
        refuse it (naming its first invalid rows, by their position in the whole table) once every chunk is read."""
        check_table(table, id_col=id_col, source_col=source_col, errors=errors)
        base = Path(root) if root is not None else Path.cwd()
        folder = tempfile.TemporaryDirectory(prefix="humekit-chunks-")
        chunks = cls(folder, rows=len(table), chunk_rows=chunk_rows, empty=table.iloc[0:0])
        problems: list[pd.DataFrame] = []
        positions: list[np.ndarray] = []
        try:
            for number, start in enumerate(range(0, len(table), chunk_rows)):
                checked = describe_sources(table.iloc[start:start + chunk_rows], source_col=source_col, kind=kind,
                                           models=models, base=base, limits=limits, api=api)
                bad = np.flatnonzero(checked["source_problem"].notna().to_numpy())
                if len(bad):
                    problems.append(checked.iloc[bad][[id_col, "source_problem"]])
                    positions.append(bad + start)
                checked = checked[[id_col, source_col, *ADDED_COLUMNS]]  # what the stages read (and picklable)
                with open(chunks._path(number), "wb") as file:
                    pickle.dump(checked, file, protocol=pickle.HIGHEST_PROTOCOL)
                if number == 0:
                    chunks.empty = checked.iloc[0:0].copy()
            if errors == "raise" and problems:
                raise_problems(pd.concat(problems), positions=np.concatenate(positions), rows=len(table),
                               id_col=id_col, guessed=kind == "auto", base=base)
        except BaseException:
            chunks.close()
            raise
        return chunks

    def __len__(self) -> int:
        return max(1, -(-self.rows // self.chunk_rows))

    def __iter__(self) -> Iterator[tuple[int, pd.DataFrame]]:
        for number in range(len(self)):
            with open(self._path(number), "rb") as file:
                checked = pickle.load(file)  # noqa: S301 - written by this process, in its own temporary folder
            yield number, checked

    def _path(self, number: int) -> Path:
        return Path(self._folder.name) / f"chunk-{number:06d}.pickle"

    def close(self) -> None:
        """Remove the validated chunks from disk."""
        self._folder.cleanup()


@dataclass
class Streamed:
    """What :func:`measure_in_chunks` did, summed over the chunks (every row's own results are in ``out``)."""

    submitted: list[str] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    r"""The jobs whose answers were used, in the order of the rows."""
    failed: list[str] = field(default_factory=list)
    r"""The fingerprints of the (row, job) answers that failed (what a retry resends)."""
    cost_totals: dict[str, Any] = field(default_factory=dict)
    empty_status: pd.DataFrame | None = None
    r"""The status table's columns and dtypes, with no row (and so for the predictions and descriptors)."""
    empty_predictions: pd.DataFrame | None = None
    empty_descriptors: pd.DataFrame | None = None


@dataclass
class _Sent:
    """What pass 2 needs of a chunk's send: the rows refused even alone and the rows no unit can carry."""

    rejected: dict[Any, str] = field(default_factory=dict)
    unplannable: dict[Any, str] = field(default_factory=dict)


def measure_in_chunks(chunks: ValidatedChunks, *, id_col: str, source_col: str, config: str, backend: Backend,
                      run: Run, limits: InputLimits, out: Path, on_timeout: Callable[[Streamed], Any]) -> Streamed:
    """Send what the ledger lacks for every chunk, then collect, join and write each chunk as part of ``out``.

    When the wait runs out, the rest of the chunks are joined as they are (what finished ``ok``, the others
    ``pending``) and written, and the :class:`~humekit.WaitTimeoutError` carries ``on_timeout`` of the whole.
    """
    store = run.ledger
    run.progress.stage("submitting")
    streamed = Streamed()
    sent: list[_Sent] = []
    waiting: set[str] = set()  # the units still to answer once sent (an asynchronous API's jobs): one per job
    for _, checked in chunks:
        rows = table_rows(checked, id_col=id_col, source_col=source_col, config=config, ledger=store)
        coverage, plan, executed = send(rows, checked, backend=backend, run=run, limits=limits, more=True)
        streamed.submitted += executed.submitted
        sent.append(_Sent(dict(executed.rejected), dict(plan.unplannable)))
        waiting.update(_unanswered(coverage.job_keys, store))
        del rows, coverage, plan, executed, checked
    timed_out: WaitTimeoutError | None = None
    try:
        backend.collect(sorted(waiting), run)  # one wait for every chunk's jobs, as in memory
    except WaitTimeoutError as exc:
        timed_out = exc  # every chunk is joined as it is: what finished is not lost
    del waiting

    prepare(out, id_col=id_col, partitions=len(chunks))
    identity = backend_identity(backend, run)
    counted: set[str] = set()
    for number, checked in chunks:
        rows = table_rows(checked, id_col=id_col, source_col=source_col, config=config, ledger=store)
        coverage = cover(rows, store, models=dict(run.models), **identity)
        cost = spent_cost(checked, id_col=id_col, coverage=coverage, ledger=store, backend=backend, counted=counted)
        joined = join_results(checked, id_col=id_col, coverage=coverage, ledger=store, decode=backend.decode,
                              rejected=sent[number].rejected, unplannable=sent[number].unplannable, api=backend.api)
        write_tables({"status": status_table(joined.status, cost, id_col=id_col, index=number, checked=checked),
                      "scores": joined.predictions, "descriptors": joined.descriptors}, out, number)
        streamed.job_ids += joined.job_ids
        streamed.failed += joined.failed
        for name, value in cost.attrs.items():
            streamed.cost_totals[str(name)] = streamed.cost_totals.get(str(name), 0) + value
        if streamed.empty_status is None:  # copies: a view of no row would keep the chunk's arrays alive
            streamed.empty_status = joined.status.iloc[0:0].copy()
            streamed.empty_predictions = joined.predictions.iloc[0:0].copy()
            streamed.empty_descriptors = joined.descriptors.iloc[0:0].copy()
        del joined, cost, coverage, rows, checked  # on disk now: not held while the next chunk is joined
    finish(out)
    streamed.job_ids = list(dict.fromkeys(streamed.job_ids))
    if timed_out is not None:
        timed_out.result = on_timeout(streamed)
        raise timed_out
    run.progress.finish()  # every unit is answered, failed or refused: every row is done
    return streamed



def _unanswered(unit_keys: Sequence[str], ledger: Ledger) -> list[str]:
    """Of these units, those sent whose answer is still to come or to fetch (none, for an API that answers as it is
    sent): what the wait is given."""
    if not unit_keys:
        return []
    jobs = ledger.jobs(unit_keys)
    sent = jobs[jobs["state"].eq("submitted") & jobs["status"].ne(FAILED)]
    completed = sent.loc[sent["status"].eq(COMPLETED), "job_key"]
    fetched = ledger.answered(completed) if len(completed) else set()
    return [key for key, status in zip(sent["job_key"], sent["status"], strict=True)
            if status != COMPLETED or key not in fetched]
