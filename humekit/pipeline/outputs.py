"""The tables a measured result offers, each with one meaning, and the saved form of a result.

- :meth:`ResultTables.wide`: one row per input row **and segment**, one column per emotion;
- :meth:`ResultTables.per_row`: one row per input row **and model** (of one ``api``: v0 and v1 scores are
  never averaged together): ``status``, ``segments`` and the mean score of each emotion over the segments
  (what ``humekit run`` writes as ``per_row.csv``);
- :meth:`ResultTables.save`: the whole result to a folder, Parquet and CSV
  (:func:`humekit.predictions.export.write_result`); :func:`humekit.predictions.export.read_result` reads it back as a
  :class:`SavedResult`, which offers the same tables.

Both tables keep every input row (rows without predictions have empty scores) and carry your
table's columns on request: ``columns=True`` for all of them, or a list of names. A carried column
named like a column of the table it is carried into (``status``, ``model``, ``segments``, an
emotion...) is carried as ``table_<name>``, so neither is lost or overwritten.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from humekit.errors import MissingColumnError

__all__ = ["ResultTables", "SavedResult", "per_row", "wide_rows"]

Columns = bool | str | Sequence[str] | None
#: Columns that identify a segment in ``predictions`` (besides the ID and ``model``).
_SEGMENT_KEYS = ("group", "frame", "begin", "end", "text", "file", "position_begin", "position_end")


def _carried(table: pd.DataFrame, id_col: str, columns: Columns) -> list[str]:
    """The user's columns to carry, in their order (the ID column first when named explicitly)."""
    if columns is None or columns is False:
        return [id_col]
    if columns is True:
        names = list(table.columns)
        return names if id_col in names else [id_col, *names]
    wanted = [columns] if isinstance(columns, str) else list(columns)
    if missing := [c for c in wanted if c not in table.columns]:
        raise MissingColumnError(f"columns={missing!r}: not in your table; it has {list(table.columns)} "
                                 "(columns=True carries them all)", column=missing[0])
    return [id_col, *[c for c in wanted if c != id_col]]


def _carried_name(name: str, taken: set[str]) -> str:
    """``name``, or ``table_<name>`` (prefixed again while that too is taken)."""
    renamed = name
    while renamed in taken:
        renamed = f"table_{renamed}"
    return renamed


def _base(status: pd.DataFrame, table: pd.DataFrame, id_col: str, columns: Columns,
          beside: Iterable[str] = ()) -> pd.DataFrame:
    """One row per input row: the carried columns, then ``status``; in the input's order. A carried
    column named ``status`` or like one of ``beside`` (the columns joined to it) becomes ``table_<name>``."""
    out = pd.DataFrame(index=pd.RangeIndex(len(status)))
    carried = _carried(table, id_col, columns)
    for name in carried:
        column = table[name] if name in table.columns else status[name]  # the table keeps the ID's dtype
        taken = {"status", *map(str, beside), *(c for c in carried if c != name)} - {id_col}
        out[name if name == id_col else _carried_name(name, taken)] = column.reset_index(drop=True)
    out["status"] = status["status"].reset_index(drop=True)
    return out


def wide_rows(status: pd.DataFrame, predictions: pd.DataFrame, *, id_col: str, table: pd.DataFrame,
              columns: Columns = None) -> pd.DataFrame:
    """One row per input row and segment, one ``Float64`` column per emotion (see :meth:`ResultTables.wide`)."""
    from humekit.predictions.analysis import wide

    if predictions.empty:
        return _base(status, table, id_col, columns)
    scores = wide(predictions)
    return _base(status, table, id_col, columns, beside=scores.columns).merge(scores, on=id_col, how="left",
                                                                              sort=False)


def per_row(status: pd.DataFrame, predictions: pd.DataFrame, *, id_col: str, table: pd.DataFrame,
            columns: Columns = None) -> pd.DataFrame:
    """One row per input row and model: segments and mean scores (see :meth:`ResultTables.per_row`)."""
    by = [id_col, *(["api"] if "api" in predictions.columns else []), "model"]  # v0 and v1 never averaged together
    if predictions.empty:
        base = _base(status, table, id_col, columns, beside=(*by[1:], "segments"))
        empty = {name: pd.Categorical([None] * len(base)) for name in by[1:]}
        return base.assign(**empty, segments=pd.array([0] * len(base), "Int64"))
    keys = [c for c in _SEGMENT_KEYS if c in predictions.columns]
    segments = (predictions.drop_duplicates([*by, *keys])
                .groupby(by, observed=True, sort=False).size().rename("segments"))  # fmt: skip
    means = predictions.pivot_table(index=by, columns="emotion", values="score", aggfunc="mean",
                                    observed=True, sort=False)
    means.columns = [str(c) for c in means.columns]
    summary = pd.concat([segments, means.astype("Float64")], axis=1).reset_index()
    base = _base(status, table, id_col, columns, beside=summary.columns)
    out = base.merge(summary, on=id_col, how="left", sort=False)
    out["segments"] = out["segments"].fillna(0).astype("Int64")
    return out


class ResultTables:
    """The tables of a measured result: needs ``status``, ``predictions``, ``id_col`` and ``_user_table()``."""

    id_col: str

    if TYPE_CHECKING:  # fields of SavedResult, properties of MeasureResult (read from its dataset when streamed)
        @property
        def status(self) -> pd.DataFrame: ...

        @property
        def predictions(self) -> pd.DataFrame: ...

    def _user_table(self) -> pd.DataFrame:  # pragma: no cover - defined by each result class
        raise NotImplementedError

    def wide(self, *, columns: Columns = None) -> pd.DataFrame:
        """One row per input row and segment, one column per emotion (rows without predictions kept, empty).

        Args:
            columns: Your table's columns to carry: ``True`` for all, or a list of names
                (default: only the ID column).

        Returns:
            The ID (and ``columns``), ``status``, the segment columns (``api``, ``model``, ``group``,
            ``frame``, ``begin``, ``end``, ``text``...), then one ``Float64`` column per emotion.
        """
        return wide_rows(self.status, self.predictions, id_col=self.id_col, table=self._user_table(),
                         columns=columns)

    def per_row(self, *, columns: Columns = None) -> pd.DataFrame:
        """One row per input row, API and model: ``status``, ``segments`` and each emotion's mean score.

        The table ``humekit run`` writes as ``per_row.csv``. A row without predictions appears once,
        with ``model`` empty and ``segments`` 0.

        Args:
            columns: Your table's columns to carry: ``True`` for all, or a list of names
                (default: only the ID column).

        Returns:
            The ID (and ``columns``), ``status``, ``api``, ``model``, ``segments`` (``Int64``), then one
            ``Float64`` column per emotion: the mean over the row's segments for that model (of that
            API: v0 and v1 scores are never averaged together).
        """
        return per_row(self.status, self.predictions, id_col=self.id_col, table=self._user_table(), columns=columns)

    def save(self, folder: str | os.PathLike[str], *, formats: Sequence[str] = ("parquet", "csv")) -> Path:
        """Write the whole result to ``folder``: see :func:`humekit.predictions.export.write_result`."""
        from humekit.predictions.export import write_result

        return write_result(self, folder, formats=formats)


@dataclass(frozen=True)
class SavedResult(ResultTables):
    """A result read back from a folder by :func:`humekit.predictions.export.read_result`.

    It offers the same tables as the :class:`~humekit.MeasureResult` it was saved from
    (``status``, ``predictions``, ``descriptors``, :meth:`wide`, :meth:`per_row`), so the analysis
    helpers take it too (``summarize(saved)``).
    """

    id_col: str
    status: pd.DataFrame
    predictions: pd.DataFrame
    descriptors: pd.DataFrame = field(repr=False)
    table: pd.DataFrame = field(repr=False)
    r"""Your table's columns, one row per input row, as measured."""

    def _user_table(self) -> pd.DataFrame:
        return self.table

    def counts(self) -> dict[str, int]:
        """How many rows are ok, failed, invalid and pending."""
        return {str(k): int(v) for k, v in self.status["status"].value_counts(sort=False).items()}
