"""What :func:`humekit.measure` returns: every input row's status, its predictions and descriptors, the ledger."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from humekit.errors import ConfigurationError
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.outputs import ResultTables
from humekit.pipeline.planning import Plan
from humekit.pipeline.validation import ADDED_COLUMNS

if TYPE_CHECKING:
    import pyarrow.dataset

    from humekit.pipeline.measure import MeasureOptions

__all__ = ["MeasureResult"]


@dataclass(frozen=True)
class MeasureResult(ResultTables):
    """What :func:`measure` returns.

    Attributes:
        status: one row per input row, indexed like the input: ``status`` (``ok``, ``failed``,
            ``invalid``, ``pending``), ``job_id`` (the job that measured the row; several, separated
            by ``", "``, when its models were measured by different calls), ``error`` (why, for
            anything but ``ok``) and ``note`` (for an ``ok`` row, why a requested model found
            nothing: "prosody: no speech found", "face: no face found"; empty when every model
            found something).
        predictions: long table: the ID column, ``model``, ``group``, ``frame``, ``begin``,
            ``end`` (seconds; a video face's frame time in both, empty for images and raw text),
            ``text``, ``emotion``, ``score``…
        descriptors: face FACS and descriptions, burst descriptions, sentiment and toxicity.
        checked: the validated table (what :func:`humekit.validate` learned about each row).
        out: with ``measure(out=...)``, the folder the predictions were streamed to: ``predictions`` and
            ``descriptors`` are then read from it on each use (all of it at once: fine for a small study);
            :meth:`dataset` opens it lazily (pyarrow: ``.to_batches()``, ``.to_table(filter=...)``), as does
            ``humekit.read_dask(out)``. ``status``, ``checked`` and ``cost`` are read from it too: the result
            keeps only your table (not copied) and a few totals, so memory does not grow with the table.

    Tables built from them (see :mod:`humekit.pipeline.outputs`): :meth:`wide` (one row per input row and
    segment), :meth:`per_row` (one row per input row and model, mean scores), both with your
    columns on request (``columns=True``); :meth:`save` writes everything to a folder.
    """

    stored_status: pd.DataFrame = field(repr=False)
    r"""Each row's status held in memory (with ``out``, an empty table of its columns): read :attr:`status`."""
    stored_predictions: pd.DataFrame = field(repr=False)
    r"""The predictions held in memory (empty when they were streamed to ``out``): read :attr:`predictions`."""
    stored_descriptors: pd.DataFrame = field(repr=False)
    r"""The descriptors held in memory (empty when they were streamed to ``out``): read :attr:`descriptors`."""
    stored_checked: pd.DataFrame = field(repr=False)
    r"""The validated table held in memory (with ``out``, an empty table of its columns): read :attr:`checked`."""
    ledger: Ledger
    id_col: str
    plan: Plan | None = field(default=None, repr=False)
    r"""What this call planned to send (with ``out``, ``None``: each chunk's plan is dropped once it is sent)."""
    submitted: tuple[str, ...] = ()
    r"""Jobs created by this call."""
    reused: tuple[str, ...] = ()
    r"""Jobs this call found already submitted (nothing paid again)."""
    options: MeasureOptions | None = field(default=None, repr=False)
    r"""The options of the call that made this result (what :func:`retry_failed` starts from)."""
    stored_cost: pd.DataFrame | None = field(default=None, repr=False)
    r"""Each row's cost held in memory (with ``out``, ``None``): read :attr:`cost`."""
    retryable: tuple[str, ...] = field(default=(), repr=False)
    r"""The fingerprints of the (row, job) answers that failed: what :func:`retry_failed` resends."""
    out: Path | None = None
    r"""Where ``measure(out=...)`` streamed the results (``None``: they are in memory)."""
    given: pd.DataFrame | None = field(default=None, repr=False)
    r"""With ``out``, the table as the caller gave it (a copy-on-write view of it: no row is copied)."""
    cost_totals: Mapping[str, Any] = field(default_factory=dict, repr=False)
    r"""With ``out``, the cost's ``attrs`` (its totals over every chunk)."""

    @property
    def status(self) -> pd.DataFrame:
        """One row per input row, indexed like the input: ``status``, ``job_id``, ``error``, ``note`` (see the
        class docstring); with ``out``, read from the dataset's ``status`` table on each use."""
        if self.out is None:
            return self.stored_status
        from humekit.pipeline.parts import read_rows

        return read_rows(self.out, self.stored_status, index=self._given().index)

    @property
    def checked(self) -> pd.DataFrame:
        """The validated table: your columns and what :func:`humekit.validate` learned about each row's source;
        with ``out``, your table beside the ``source_...`` columns read from the dataset."""
        if self.out is None:
            return self.stored_checked
        from humekit.pipeline.parts import read_rows

        given = self._given()
        added = read_rows(self.out, self.stored_checked[[self.id_col, *ADDED_COLUMNS]], index=given.index, infer=False)
        return pd.concat([given, added.drop(columns=[self.id_col])], axis=1)

    @property
    def cost(self) -> pd.DataFrame | None:
        r"""Per row: ``requests`` and ``billed_seconds`` (missing for an API humekit does not price, such as v0),
        ``lost_answers`` (requests whose answer was lost, so they were sent again) and ``lost_billed`` (of those,
        how many the API's runs show billed); ``cost.attrs``: ``total_billed_seconds``, ``total_requests``,
        ``total_lost_answers``, ``total_lost_billed``. After a run, what the requests that answered each row
        were billed (every send of a request sent twice counts, found billed or not: :mod:`humekit.pipeline.cost`);
        after a dry run, what the requests still to send will be. With ``out``, read from the dataset."""
        if self.out is None:
            return self.stored_cost
        from humekit.pipeline.cost import empty_cost
        from humekit.pipeline.parts import read_rows

        cost = read_rows(self.out, empty_cost(self.id_col), index=self._given().index)
        cost.attrs.update(self.cost_totals)
        return cost

    def _given(self) -> pd.DataFrame:
        assert self.given is not None, "a streamed result keeps the table it was given"
        return self.given

    @property
    def predictions(self) -> pd.DataFrame:
        """The long table of scores (see the class docstring); with ``out``, read whole from the dataset."""
        return self.stored_predictions if self.out is None else self._read("scores", self.stored_predictions)

    @property
    def descriptors(self) -> pd.DataFrame:
        """Face FACS and descriptions, burst descriptions, sentiment and toxicity; with ``out``, read whole."""
        return self.stored_descriptors if self.out is None else self._read("descriptors", self.stored_descriptors)

    def dataset(self, table: Literal["scores", "descriptors", "status"] = "scores") -> pyarrow.dataset.Dataset:
        """One table of the streamed results as a lazy ``pyarrow.dataset.Dataset`` (only with ``measure(out=...)``):
        read it a batch at a time (``.to_batches()``), filtered (``.to_table(filter=...)``) or counted
        (``.count_rows()``) without loading it all."""
        from humekit.pipeline.parts import open_table

        if self.out is None:
            raise ConfigurationError("this result is in memory (measure was called without out=): use "
                                     ".predictions and .descriptors; pass out=folder to stream them to a dataset")
        return open_table(self.out, table)

    def _read(self, table: str, empty: pd.DataFrame) -> pd.DataFrame:
        """The whole streamed ``table``, in the rows' order and with the columns and dtypes of the in-memory one."""
        from humekit.pipeline.parts import read_long

        assert self.out is not None
        return read_long(self.out, table, id_col=self.id_col, order=self.status[self.id_col], empty=empty)

    def counts(self) -> dict[str, int]:
        """How many rows are ok, failed, invalid and pending (with ``out``, counted from the dataset: only the
        ``status`` column is read)."""
        if self.out is None:
            column = self.stored_status["status"]
        else:
            from humekit.pipeline.parts import read_rows

            column = read_rows(self.out, self.stored_status[["status"]], index=None)["status"]
        return {str(k): int(v) for k, v in column.value_counts(sort=False).items()}

    @property
    def jobs(self) -> pd.DataFrame:
        """The ledger's record of the jobs these rows used, with the ``config`` each was submitted with:
        ``endpoint``, ``models`` and ``transcription`` as sent (Hume applies its defaults to options
        not given; the job details' ``request`` echoes them)."""
        ids = {job_id for joined in self.status["job_id"].dropna() for job_id in str(joined).split(", ")}
        jobs = self.ledger.jobs()
        jobs = jobs[jobs["job_id"].isin(ids)].reset_index(drop=True)
        requests = self.ledger.requests(jobs["job_key"])  # one query, not one per job
        jobs["config"] = pd.Series([{k: requests[key].get(k) for k in ("endpoint", "models", "transcription")}
                                    for key in jobs["job_key"]], index=jobs.index, dtype=object)
        return jobs

    def _user_table(self) -> pd.DataFrame:
        """The table as the user gave it (without the columns validation adds)."""
        if self.given is not None:
            return self.given
        return self.checked.drop(columns=[c for c in ADDED_COLUMNS if c in self.checked.columns])

    def _prediction_rows(self) -> int:
        """How many prediction rows there are (counted in the dataset's metadata when streamed: none is read)."""
        return len(self.stored_predictions) if self.out is None else self.dataset().count_rows()

    def __repr__(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in self.counts().items() if v)
        return (f"<MeasureResult {len(self.status)} rows ({counts}); {self._prediction_rows()} prediction rows; "
                f"{len(self.submitted)} jobs submitted, {len(self.reused)} reused; ledger {self.ledger.location}>")

    def _repr_html_(self) -> str:
        counts = "".join(f"<li><b>{v}</b> {html.escape(k)}</li>" for k, v in self.counts().items())
        status = self.status
        failed = status[status["status"].isin(["failed", "invalid", "pending"])]
        with pd.option_context("display.max_colwidth", 80):  # to_html() has no max_colwidth argument
            problems = failed.head(10).to_html() if len(failed) else "<p>No problems.</p>"
        return (f"<div><b>humekit.measure</b>: {len(self.status)} rows<ul>{counts}</ul>"
                f"<p>{self._prediction_rows():,} prediction rows; {len(self.submitted)} jobs submitted now, "
                f"{len(self.reused)} reused from the ledger <code>{html.escape(self.ledger.location)}</code>.</p>"
                f"{problems}</div>")
