"""Units' answers kept in the ledger (compressed) the moment they exist, by unit or by a v0 job's id."""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from humekit.pipeline.ledger.store import LedgerStore

__all__ = ["AnswersMixin"]


class AnswersMixin(LedgerStore):
    """A unit's answer or failure (tables ``answers`` and, for v0 answers known only by job id, ``predictions``)."""

    def record_answer(self, job_key: str, body: bytes, *, remote_id: str | None = None) -> None:
        """A unit's answer, stored compressed the moment it arrives (a synchronous API answers the request
        itself), and the unit marked ``COMPLETED`` in the same transaction: nothing answered is ever lost
        or sent again. ``remote_id``: the API's id of the request, if it gives one."""
        now = self._now_ms()
        with self._write() as db:
            db.execute("INSERT INTO answers (job_key, body, stored_ms) VALUES (?, ?, ?) ON CONFLICT(job_key) DO NOTHING",
                       (job_key, zlib.compress(body, 6), now))
            db.execute("UPDATE jobs SET state='submitted', status='COMPLETED', job_id=COALESCE(job_id, ?),"
                       " submitted_ms=COALESCE(submitted_ms, ?), updated_ms=? WHERE job_key=?",
                       (remote_id, now, now, job_key))
            if remote_id is not None:  # the send that brought it (the unit's last) became this run
                db.execute("UPDATE sends SET run_id=? WHERE job_key=? AND seq=(SELECT MAX(seq) FROM sends"
                           " WHERE job_key=?)", (remote_id, job_key, job_key))

    def record_failed(self, job_key: str, message: str) -> None:
        """A unit the API answered with an error that is not about a limit (it is ``FAILED``, with why);
        ``retry_failed`` may send its rows again."""
        now = self._now_ms()
        with self._write() as db:
            db.execute("UPDATE jobs SET state='submitted', status='FAILED', message=?, submitted_ms=COALESCE("
                       "submitted_ms, ?), updated_ms=? WHERE job_key=?", (message, now, now, job_key))

    def answer(self, job_key: str) -> bytes | None:
        """A unit's stored answer, or ``None`` if it has none yet."""
        row = self._db().execute("SELECT body FROM answers WHERE job_key=?", (job_key,)).fetchone()
        if row is None:  # a v0 answer stored by job id before its unit was known
            row = self._db().execute("SELECT p.body FROM predictions p JOIN jobs j ON j.job_id = p.job_id"
                                     " WHERE j.job_key=?", (job_key,)).fetchone()
        return None if row is None else zlib.decompress(row[0])

    def answered(self, job_keys: Iterable[str]) -> set[str]:
        """Which of these units have a stored answer."""
        keys = list(job_keys)
        found = set(self._select_in("SELECT job_key FROM answers WHERE job_key IN ({marks})", keys)["job_key"])
        return found | set(self._select_in("SELECT j.job_key FROM predictions p JOIN jobs j ON j.job_id = p.job_id"
                                           " WHERE j.job_key IN ({marks})", keys)["job_key"])

    # v0's view of answers: by job id (a callback names the job by its id)
    def store_predictions(self, job_id: str, body: bytes) -> None:
        """Keep a v0 job's predictions JSON (as sent by the API), compressed, as its unit's answer."""
        with self._write() as db:
            row = db.execute("SELECT job_key FROM jobs WHERE job_id=?", (job_id,)).fetchone()
            if row is None:  # not recorded yet (a callback faster than the POST's answer): kept by job id
                db.execute("INSERT INTO predictions (job_id, body, fetched_ms) VALUES (?, ?, ?)"
                           " ON CONFLICT(job_id) DO NOTHING", (job_id, zlib.compress(body, 6), self._now_ms()))
            else:
                db.execute("INSERT INTO answers (job_key, body, stored_ms) VALUES (?, ?, ?)"
                           " ON CONFLICT(job_key) DO NOTHING", (row[0], zlib.compress(body, 6), self._now_ms()))

    def predictions(self, job_id: str) -> bytes | None:
        """A v0 job's stored predictions JSON, or ``None`` if not fetched yet."""
        row = self._db().execute("SELECT a.body FROM answers a JOIN jobs j ON j.job_key = a.job_key"
                                 " WHERE j.job_id=?", (job_id,)).fetchone()
        if row is None:
            row = self._db().execute("SELECT body FROM predictions WHERE job_id=?", (job_id,)).fetchone()
        return None if row is None else zlib.decompress(row[0])

    def has_predictions(self, job_ids: Iterable[str]) -> set[str]:
        """Which of these v0 jobs already have stored predictions."""
        ids = list(job_ids)
        found = set(self._select_in("SELECT j.job_id FROM answers a JOIN jobs j ON j.job_key = a.job_key"
                                    " WHERE j.job_id IN ({marks})", ids)["job_id"])
        return found | set(self._select_in("SELECT job_id FROM predictions WHERE job_id IN ({marks})", ids)["job_id"])
