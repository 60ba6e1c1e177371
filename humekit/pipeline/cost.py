"""What a table costs: billed seconds per row, before anything is sent (a dry run) and after (``result.cost``).

The backend says what one unit is billed (``Backend.billed_seconds``: under v1, a window's audio seconds or
1/3 s per image, at least 10 s per request; ``None`` for an API humekit does not price, such as v0). A
unit that answers for several rows (identical files) is shared between them equally, so the rows add
up to what was billed. Before a run, the units still to send are priced from their plan; after, the
units that answered the rows are priced from the requests the ledger recorded (no answer is read again).

A unit sent more than once (a request whose answer a crash or a dropped connection lost, then sent again)
counts every time it was sent, since the lost request may have been measured and billed: ``lost_answers``
says how many sends lost their answer, and ``lost_billed`` how many of those the API's own record of
billed requests confirms (under v1, its runs: :mod:`humekit.backends.v1.reconciling`). A lost send the
API shows no run for is still counted in ``billed_seconds``: recording runs is best effort at Hume, so
humekit never hides a possible charge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from humekit.backends.base import Backend
from humekit.pipeline.coverage import Coverage
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.planning import Unit

__all__ = ["COST_COLUMNS", "empty_cost", "planned_cost", "spent_cost"]

#: The cost table's columns after the ID: the requests sent for the row (a request shared with other rows
#: counts for each), its share of their billed seconds (missing when the API is not priced), and of those
#: requests, how many lost their answer (and were sent again) and how many of these the API shows billed.
COST_COLUMNS = ("requests", "billed_seconds", "lost_answers", "lost_billed")


def planned_cost(checked: pd.DataFrame, *, id_col: str, units: Iterable[Unit], backend: Backend,
                 requests: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Per row, the requests still to send and what they will be billed (``requests``: each unit's request)."""
    shares: dict[int, list[float | None]] = {}
    sent = 0
    for unit, request in zip(units, requests, strict=True):
        seconds = backend.billed_seconds(request)
        rows = [row.index for row in unit.rows]
        sent += 1
        for index in rows:
            shares.setdefault(index, []).append(None if seconds is None else seconds / len(rows))
    return _table(checked, id_col, shares, sent)


def spent_cost(checked: pd.DataFrame, *, id_col: str, coverage: Coverage, ledger: Ledger,
               backend: Backend, counted: set[str] | None = None) -> pd.DataFrame:
    """Per row, the requests that answered it and what they were billed, from the ledger.

    ``counted``: ``checked`` is one chunk of a table (``measure(out=...)``), and these are the units with rows in
    several chunks that the chunks before already counted: such a unit is counted once in the totals (``attrs``),
    and its billed seconds are shared among all the rows it answers (the ledger's count), not only this chunk's;
    the units of that kind counted now are added to it."""
    keys = coverage.job_keys
    if not keys:
        return _table(checked, id_col, {}, 0)
    units = ledger.jobs(keys).set_index("job_key")
    requests = ledger.requests(keys)
    sends = ledger.sends(keys)
    lost: dict[str, list[bool]] = {}
    for send in ledger.lost_sends(keys):
        lost.setdefault(send.job_key, []).append(send.run_id is not None)
    rows_of: dict[str, set[int]] = {}
    for assignment in coverage.assignments:
        rows_of.setdefault(assignment.job_key, set()).add(assignment.index)
    shares: dict[int, list[float | None]] = {}
    losses: dict[int, list[bool]] = {}
    spanning: set[str] = set()
    sent = 0
    for key, rows in rows_of.items():
        if key not in units.index or units.loc[key, "state"] != "submitted" or units.loc[key, "status"] != "COMPLETED":
            continue  # never answered (refused, failed, or still to send): not billed
        seconds = backend.billed_seconds(requests.get(key, {}))
        times = max(1, sends.get(key, 1))
        sharing = len(rows) if counted is None else max(len(rows), int(units.at[key, "num_rows"]))  # type: ignore[arg-type]
        if counted is None or key not in counted:
            sent += times
        if counted is not None and sharing > len(rows):
            spanning.add(key)  # it answers rows of other chunks too: counted once, here
        for index in rows:
            shares.setdefault(index, []).extend([None if seconds is None else seconds / sharing] * times)
            losses.setdefault(index, []).extend(lost.get(key, []))
    table = _table(checked, id_col, shares, sent, losses)
    answered = [found for key in rows_of if key in units.index and (counted is None or key not in counted)
                for found in lost.get(key, [])]
    if counted is not None:
        counted.update(spanning)  # only units with rows in other chunks can come up again: the set stays small
    table.attrs["total_lost_answers"], table.attrs["total_lost_billed"] = len(answered), sum(answered)
    return table


def _table(checked: pd.DataFrame, id_col: str, shares: Mapping[int, list[float | None]], sent: int,
           losses: Mapping[int, list[bool]] | None = None) -> pd.DataFrame:
    """One row per table row: the ID, the requests, the billed seconds (missing when not priced) and the
    requests whose answer was lost (``losses``: per row, whether each lost one was found billed)."""
    losses = losses or {}
    requests = [len(shares.get(i, ())) for i in range(len(checked))]
    billed = [None if any(s is None for s in shares.get(i, ())) else float(sum(s for s in shares.get(i, ()) if s))
              for i in range(len(checked))]
    table = pd.DataFrame({id_col: checked[id_col].to_numpy(), "requests": requests,
                          "billed_seconds": pd.array(billed, dtype="Float64"),
                          "lost_answers": [len(losses.get(i, ())) for i in range(len(checked))],
                          "lost_billed": [sum(losses.get(i, ())) for i in range(len(checked))]}, index=checked.index)
    table.attrs["total_billed_seconds"] = float(table["billed_seconds"].sum()) if len(table) else 0.0
    table.attrs["total_requests"] = sent  # a request shared by several rows counts once
    table.attrs["total_lost_answers"] = table.attrs["total_lost_billed"] = 0
    return table


def empty_cost(id_col: str) -> pd.DataFrame:
    """The cost table of no row: its columns and dtypes."""
    return _table(pd.DataFrame({id_col: pd.Series([], dtype=object)}), id_col, {}, 0)
