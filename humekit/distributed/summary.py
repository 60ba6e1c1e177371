"""What :func:`humekit.measure_distributed` returns: counts and cost over every partition, and where the results are.

The rows themselves stay in the Parquet dataset the workers wrote (nothing is gathered to the client);
:class:`DistributedResult` reads them on request: :meth:`~DistributedResult.status` with pandas,
:meth:`~DistributedResult.scores` / :meth:`~DistributedResult.descriptors` lazily with Dask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from humekit.distributed.parts import read_status

__all__ = ["DistributedResult", "PartSummary"]

STATUSES = ("ok", "failed", "invalid", "pending")


@dataclass(frozen=True)
class PartSummary:
    """What one partition's task sends back to the client: its rows by status and their cost (a few numbers)."""

    partition: int
    rows: int
    counts: Mapping[str, int]
    requests: int
    billed_seconds: float | None
    lost_answers: int
    lost_billed: int
    worker: str

    def as_row(self) -> dict[str, Any]:
        """One row of :attr:`DistributedResult.partitions`."""
        return {"partition": self.partition, "rows": self.rows, **{s: int(self.counts.get(s, 0)) for s in STATUSES},
                "requests": self.requests, "billed_seconds": self.billed_seconds, "lost_answers": self.lost_answers,
                "lost_billed": self.lost_billed, "worker": self.worker}


@dataclass(frozen=True)
class DistributedResult:
    """Every partition measured, and where the dataset is.

    Attributes:
        out: the dataset folder: ``status/``, ``scores/model=.../``, ``descriptors/model=.../``, readable with
            :func:`humekit.read_dask` (``read_dask(out)``: the scores; ``table="descriptors"``) or pandas
            (``pd.read_parquet(out / "scores")``).
        partitions: one row per partition: ``partition``, ``rows``, ``ok``, ``failed``, ``invalid``,
            ``pending``, ``requests``, ``billed_seconds``, ``lost_answers``, ``lost_billed`` and the
            ``worker`` that wrote it (the last attempt's, when Dask ran it again).
        id_col: the ID column.
    """

    out: Path
    partitions: pd.DataFrame = field(repr=False)
    id_col: str

    @classmethod
    def of(cls, out: Path, parts: Sequence[PartSummary], *, id_col: str) -> DistributedResult:
        """The result of the parts that finished, in partition order."""
        columns = ["partition", "rows", *STATUSES, "requests", "billed_seconds", "lost_answers", "lost_billed",
                   "worker"]
        rows = [p.as_row() for p in sorted(parts, key=lambda p: p.partition)]
        frame = pd.DataFrame(rows, columns=columns)
        frame["billed_seconds"] = frame["billed_seconds"].astype("Float64")
        return cls(out=out, partitions=frame, id_col=id_col)

    @property
    def rows(self) -> int:
        """Input rows measured (every one has a row in ``status/``)."""
        return int(self.partitions["rows"].sum())

    def counts(self) -> dict[str, int]:
        """How many rows are ok, failed, invalid and pending, over every partition."""
        return {s: int(self.partitions[s].sum()) for s in STATUSES}

    @property
    def cost(self) -> dict[str, float | int | None]:
        """Totals over every row: ``requests`` sent (every send counts, resends after a lost answer too),
        ``billed_seconds`` (``None`` for an API humekit does not price, such as v0), ``lost_answers`` and,
        of those, ``lost_billed`` (what the API's runs show billed). Read from the shared ledger, so a
        partition Dask ran twice counts each request once."""
        billed = self.partitions["billed_seconds"]
        return {"requests": int(self.partitions["requests"].sum()),
                "billed_seconds": None if len(billed) and billed.isna().all() else float(billed.sum()),
                "lost_answers": int(self.partitions["lost_answers"].sum()),
                "lost_billed": int(self.partitions["lost_billed"].sum())}

    def status(self, **kwargs: Any) -> pd.DataFrame:
        """Every input row with its ``status``, ``job_id``, ``error``, ``note``, cost, what validation learned about
        its source (``source_kind``, ``source_path``, ``source_problem``...) and ``partition``
        (pandas; ``columns=[...]`` or ``filters=[...]`` are passed to ``pandas.read_parquet``)."""
        return read_status(self.out, **kwargs)

    def scores(self, **kwargs: Any) -> Any:
        """The scores as a lazy ``dask.dataframe.DataFrame`` (:func:`humekit.read_dask`)."""
        from humekit.predictions.parquet_dataset import read_dask

        return read_dask(self.out, **kwargs)

    def descriptors(self, **kwargs: Any) -> Any:
        """The descriptors (voice attributes, FACS...) as a lazy ``dask.dataframe.DataFrame``."""
        from humekit.predictions.parquet_dataset import read_dask

        return read_dask(self.out, table="descriptors", **kwargs)

    def __repr__(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in self.counts().items() if v)
        cost = self.cost
        billed = "" if cost["billed_seconds"] is None else f", {cost['billed_seconds']:g} s billed"
        return (f"<DistributedResult {self.rows} rows in {len(self.partitions)} partitions ({counts or 'none'}); "
                f"{cost['requests']} requests{billed}; dataset {self.out}>")
