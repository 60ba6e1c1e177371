"""Each time a unit of a synchronous API was sent, and what became of the sends whose answer was lost.

A synchronous API keeps nothing: a request whose answer a crash or a dropped connection lost can only be
sent again, and the lost one may still have been measured and billed. Every send is therefore written
*before* the request goes out (:meth:`SendsMixin.record_send`), so the cost counts it whatever happens
next. The answered send takes the API's id from its answer; a lost one may later be matched to a run the
API recorded (:meth:`SendsMixin.record_lost_send`), so the cost can say which lost answers were billed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from humekit.pipeline.ledger.store import LedgerStore

__all__ = ["LostSend", "SendsMixin"]


@dataclass(frozen=True, slots=True)
class LostSend:
    """A send of an answered unit that is not the one that brought its answer.

    ``sent_ms``/``until_ms``: when it was sent and when the next send of the unit went out (the run it
    became started in between); ``None`` when an older ledger did not record it. ``size``: the media
    bytes it carried (``None``: not known). ``checked``: whether the
    API's runs were searched for it, and ``run_id`` the run found (``None``: none was, or not looked up).
    """

    job_key: str
    seq: int
    sent_ms: int | None
    until_ms: int | None
    size: int | None
    checked: bool
    run_id: str | None


class SendsMixin(LedgerStore):
    """Table ``sends``: one row per request sent for a unit, before it is sent."""

    def record_send(self, job_key: str, *, owner: str | None = None) -> int | None:
        """A unit is about to be sent (once more): recorded before the request, so a crash that loses its
        answer still leaves the send counted. A resend carries the bytes of the send before it. Returns
        its number (1 for the first send).

        With ``owner`` (this process's :func:`owner_token`), the send is recorded only while that process
        still holds the unit's claim, and the claim's last sign of life is refreshed in the same transaction;
        ``None`` when another process has taken the claim over (then it sends the unit, not this one).
        """
        now = self._now_ms()
        with self._write() as db:
            if owner is not None and not db.execute(
                    "UPDATE jobs SET updated_ms=? WHERE job_key=? AND owner=? AND state='submitting'",
                    (now, job_key, owner)).rowcount:
                return None
            while True:  # the next number, unless another process took it first (then it is the one after)
                seq = int(db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM sends WHERE job_key = ?",
                                     (job_key,)).fetchone()[0])
                if db.execute("INSERT INTO sends (job_key, seq, sent_ms, bytes) VALUES (?, ?, ?, (SELECT p.bytes"
                              " FROM sends p WHERE p.job_key = ? ORDER BY p.seq DESC LIMIT 1))"
                              " ON CONFLICT (job_key, seq) DO NOTHING", (job_key, seq, now, job_key)).rowcount:
                    return seq

    def record_send_bytes(self, job_key: str, seq: int, size: int) -> None:
        """The media bytes a send carries, once the request is built (used to find its run if it is lost)."""
        with self._write() as db:
            db.execute("UPDATE sends SET bytes = ? WHERE job_key = ? AND seq = ?", (size, job_key, seq))

    def sends(self, job_keys: Iterable[str]) -> dict[str, int]:
        """How many times each of these units was sent (units never sent are left out)."""
        found = self._select_in("SELECT job_key, COUNT(*) AS n FROM sends WHERE job_key IN ({marks})"
                                " GROUP BY job_key", list(job_keys))
        return {str(k): int(n) for k, n in zip(found["job_key"], found["n"], strict=True)}

    def lost_sends(self, job_keys: Iterable[str]) -> list[LostSend]:
        """The sends of these units, once answered, other than the last (the one that brought the answer)."""
        found = self._select_in(
            "SELECT s.job_key, s.seq AS send_no, s.sent_ms, s.bytes, s.checked_ms, s.run_id,"
            " (SELECT n.sent_ms FROM sends n WHERE n.job_key = s.job_key AND n.seq = s.seq + 1) AS until_ms"
            " FROM sends s JOIN answers a ON a.job_key = s.job_key"
            " WHERE s.job_key IN ({marks})"
            " AND s.seq < (SELECT MAX(m.seq) FROM sends m WHERE m.job_key = s.job_key)", list(job_keys))
        if found.empty:
            return []
        columns = ["job_key", "send_no", "sent_ms", "until_ms", "bytes", "checked_ms", "run_id"]
        return [LostSend(str(key), int(seq), _ms(sent), _ms(until), _ms(size), _ms(checked) is not None,
                         run_id if isinstance(run_id, str) else None)
                for key, seq, sent, until, size, checked, run_id in found[columns].itertuples(index=False)]

    def record_lost_send(self, job_key: str, seq: int, *, run_id: str | None) -> None:
        """What the API's runs showed for a lost send: the run it became, or ``None`` (no run found)."""
        with self._write() as db:
            db.execute("UPDATE sends SET run_id = ?, checked_ms = ? WHERE job_key = ? AND seq = ?",
                       (run_id, self._now_ms(), job_key, seq))

    def known_run_ids(self, run_ids: Iterable[str]) -> set[str]:
        """Which of these API run ids the ledger already holds (an answer's, or a lost send's found before)."""
        ids = list(run_ids)
        return (set(self._select_in("SELECT job_id FROM jobs WHERE job_id IN ({marks})", ids)["job_id"])
                | set(self._select_in("SELECT run_id FROM sends WHERE run_id IN ({marks})", ids)["run_id"]))


def _ms(value: object) -> int | None:
    """An integer column read through pandas (NaN for NULL)."""
    return None if value is None or pd.isna(value) else int(value)  # type: ignore[call-overload]
