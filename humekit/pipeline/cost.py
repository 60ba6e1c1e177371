"""What a table costs: billed seconds per row, before anything is sent (a dry run) and after (``result.cost``).

The backend says what one unit is billed (``Backend.billed_seconds``: under v1, a window's audio seconds or
1/3 s per image, at least 10 s per request; ``None`` for an API humekit does not price, such as v0). A
unit that answers for several rows (identical files) is shared between them equally, so the rows add
up to what was billed. Before a run, the units still to send are priced from their plan; after, the
units that answered the rows are priced from the requests the ledger recorded (no answer is read again), and a unit sent more than once (a
request whose answer a crash lost, then sent again) counts every time it was sent: without asking the
API's runs which attempts were billed, humekit assumes each was (it never hides a possible charge).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from humekit.backends.base import Backend
from humekit.pipeline.coverage import Coverage
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.planning import Unit

__all__ = ["COST_COLUMNS", "planned_cost", "spent_cost"]

#: The cost table's columns after the ID: the requests that answer the row (a request shared with other rows
#: counts for each) and its share of their billed seconds (missing when the API is not priced).
COST_COLUMNS = ("requests", "billed_seconds")


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
               backend: Backend) -> pd.DataFrame:
    """Per row, the requests that answered it and what they were billed, from the ledger."""
    keys = coverage.job_keys
    if not keys:
        return _table(checked, id_col, {}, 0)
    units = ledger.jobs(keys).set_index("job_key")
    requests = ledger.requests(keys)
    attempts = ledger.attempts(keys)
    rows_of: dict[str, set[int]] = {}
    for assignment in coverage.assignments:
        rows_of.setdefault(assignment.job_key, set()).add(assignment.index)
    shares: dict[int, list[float | None]] = {}
    sent = 0
    for key, rows in rows_of.items():
        if key not in units.index or units.loc[key, "state"] != "submitted" or units.loc[key, "status"] != "COMPLETED":
            continue  # never answered (refused, failed, or still to send): not billed
        seconds = backend.billed_seconds(requests.get(key, {}))
        sends = max(1, attempts.get(key, 1))
        sent += sends
        for index in rows:
            shares.setdefault(index, []).extend([None if seconds is None else seconds / len(rows)] * sends)
    return _table(checked, id_col, shares, sent)


def _table(checked: pd.DataFrame, id_col: str, shares: Mapping[int, list[float | None]], sent: int) -> pd.DataFrame:
    """One row per table row: the ID, the requests and the billed seconds (missing when not priced)."""
    requests = [len(shares.get(i, ())) for i in range(len(checked))]
    billed = [None if any(s is None for s in shares.get(i, ())) else float(sum(s for s in shares.get(i, ()) if s))
              for i in range(len(checked))]
    table = pd.DataFrame({id_col: checked[id_col].to_numpy(), "requests": requests,
                          "billed_seconds": pd.array(billed, dtype="Float64")}, index=checked.index)
    table.attrs["total_billed_seconds"] = float(table["billed_seconds"].sum()) if len(table) else 0.0
    table.attrs["total_requests"] = sent  # a request shared by several rows counts once
    return table
