"""The units of work in a ledger: claims (before anything is sent), their states, refusals and takeovers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from humekit.pipeline.ledger.records import STALE_CLAIM_S, Claim, LedgerInput, owner_gone, owner_token
from humekit.pipeline.ledger.store import LedgerStore

__all__ = ["UnitsMixin"]


class UnitsMixin(LedgerStore):
    """Claims on units and their states (tables ``jobs``, ``inputs`` and ``refused_payloads``)."""

    def claim(
        self, job_key: str, *, backend: str, kind: str, request: dict[str, Any], inputs: Sequence[LedgerInput]
    ) -> Claim:
        """Record the intent to submit a job with its input→row mapping, or return the existing claim (a
        claim abandoned before it was sent is made afresh: its rows are wanted again)."""
        now = self._now_ms()
        owner = owner_token()
        while True:
            with self._write() as db:
                # a claim abandoned before it was ever sent, and wanted again, is claimed afresh
                db.execute("DELETE FROM inputs WHERE job_key IN (SELECT job_key FROM jobs WHERE job_key=?"
                           " AND state='abandoned' AND job_id IS NULL)", (job_key,))
                db.execute("DELETE FROM jobs WHERE job_key=? AND state='abandoned' AND job_id IS NULL", (job_key,))
                # the unit's key is the claim: a second claimant's INSERT waits for the first to commit, then
                # inserts nothing (SQLite: BEGIN IMMEDIATE has it wait before it starts)
                created = db.execute(
                    "INSERT INTO jobs (job_key, backend, kind, state, owner, request, claimed_ms, updated_ms,"
                    " num_inputs, num_rows) VALUES (?, ?, ?, 'submitting', ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (job_key) DO NOTHING",
                    (job_key, backend, kind, owner, json.dumps(request, sort_keys=True), now, now,
                     len({i.input_key for i in inputs}), len(inputs)),
                ).rowcount == 1
                if created:
                    db.executemany(
                        "INSERT INTO inputs (job_key, input_key, fingerprint, id_token, content, md5)"
                        " VALUES (?,?,?,?,?,?)",
                        [(job_key, i.input_key, i.fingerprint, i.id_token, i.content, i.md5) for i in inputs],
                    )
                    return Claim(job_key, "submitting", None, owner, now, ours=True)
            found = self.state(job_key)
            if found is not None:  # None: the claim was released between the two statements; claim again
                return found

    def take_over_if_gone(self, job_key: str, *, stale_after_s: float = STALE_CLAIM_S) -> bool:
        """Make this process the owner of a ``submitting`` claim whose owner can no longer be sending it
        (:func:`~humekit.pipeline.ledger.records.owner_gone`: this process, an exited one, or one silent for
        ``stale_after_s``); False while its owner may still send it, or if another process took it first."""
        row = self._db().execute("SELECT owner, updated_ms FROM jobs WHERE job_key=? AND state='submitting'",
                                 (job_key,)).fetchone()
        if row is None or not owner_gone(row[0], idle_s=(self._now_ms() - int(row[1])) / 1000,
                                         stale_after_s=stale_after_s):
            return False
        same_owner, values = ("owner IS NULL", ()) if row[0] is None else ("owner=?", (row[0],))
        with self._write() as db:  # compare and swap on the owner and its last sign of life: a send since loses
            cursor = db.execute(f"UPDATE jobs SET owner=?, updated_ms=? WHERE job_key=? AND state='submitting'"
                                f" AND updated_ms=? AND {same_owner}",
                                (owner_token(), self._now_ms(), job_key, int(row[1]), *values))
            return cursor.rowcount == 1

    def take_over(self, job_key: str, *, expected_owner: str | None) -> bool:
        """Make this process the owner of a stale ``submitting`` claim; False if someone else did first."""
        same_owner, values = ("owner IS NULL", ()) if expected_owner is None else ("owner=?", (expected_owner,))
        with self._write() as db:  # compare and swap: of two takers, the second finds the owner changed
            cursor = db.execute(
                f"UPDATE jobs SET owner=?, updated_ms=? WHERE job_key=? AND state='submitting' AND {same_owner}",
                (owner_token(), self._now_ms(), job_key, *values),
            )
            return cursor.rowcount == 1

    def record_submitted(self, job_key: str, job_id: str) -> None:
        """Commit the job id the API returned (call it before anything else happens)."""
        now = self._now_ms()
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET job_id=?, state='submitted', status=COALESCE(status, 'QUEUED'), submitted_ms=?,"
                " updated_ms=? WHERE job_key=?",
                (job_id, now, now, job_key),
            )

    def record_rejected(self, job_key: str, message: str, *, payload: str) -> None:
        """The API refused this exact payload for a limit: it must never be sent again, under any job key
        (``payload`` is its :func:`payload_key`; :meth:`refusal` answers for it from now on)."""
        now = self._now_ms()
        with self._write() as db:
            db.execute("UPDATE jobs SET state='rejected', message=?, updated_ms=? WHERE job_key=?", (message, now, job_key))
            db.execute("UPDATE inputs SET superseded=1 WHERE job_key=?", (job_key,))
            db.execute("INSERT INTO refused_payloads (payload, job_key, message, refused_ms) VALUES (?,?,?,?)"
                       " ON CONFLICT (payload) DO NOTHING", (payload, job_key, message, now))

    def refusal(self, payload: str) -> str | None:
        """The API's reason if it ever refused this payload (a :func:`payload_key`), else ``None``."""
        row = self._db().execute("SELECT message FROM refused_payloads WHERE payload=?", (payload,)).fetchone()
        return None if row is None else str(row[0])

    def release(self, job_key: str) -> None:
        """Forget a claim whose POST the API refused outright (nothing was created), so that the next
        run claims it afresh instead of reconciling it against the job list."""
        with self._write() as db:  # compare and delete: a unit submitted meanwhile (it has a job id) stays
            deleted = db.execute("DELETE FROM jobs WHERE job_key=? AND state='submitting' AND job_id IS NULL",
                                 (job_key,)).rowcount
            if deleted:  # PostgreSQL's foreign key already took its inputs along; SQLite does not enforce it
                db.execute("DELETE FROM inputs WHERE job_key=?", (job_key,))

    def record_abandoned(self, job_key: str, message: str) -> None:
        """A claim that was never submitted (e.g. its rows are no longer wanted)."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE jobs SET state='abandoned', message=?, updated_ms=? WHERE job_key=? AND job_id IS NULL",
                (message, self._now_ms(), job_key),
            )
            # A job another process submitted meanwhile keeps its rows: detaching them would pay twice.
            if cursor.rowcount:
                db.execute("UPDATE inputs SET superseded=1 WHERE job_key=?", (job_key,))

    def record_status(self, job_id: str, status: str, message: str | None = None) -> None:
        """Remember the API's latest status for a job."""
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET status=?, message=COALESCE(?, message), updated_ms=? WHERE job_id=?",
                (status, message, self._now_ms(), job_id),
            )

    def attach(self, inputs: Mapping[str, Sequence[LedgerInput]]) -> set[str]:
        """Record more rows that units answer (rows holding an input identical to one each sends: unit key ->
        those rows), all of it or nothing: only while every one of the units is live (claimed or sent, not
        failed, refused or abandoned). The fingerprints recorded (a row already recorded with a unit, even
        superseded, is not recorded again, and then none of the rest is)."""
        attached: set[str] = set()
        try:
            with self._write() as db:
                for job_key in sorted(inputs):  # one order: two processes' overlapping writes never deadlock
                    live = db.execute("SELECT 1 FROM jobs WHERE job_key=? AND state IN ('submitting', 'submitted')"
                                      " AND (status IS NULL OR status <> 'FAILED')", (job_key,)).fetchone()
                    if live is None:
                        raise _NotAttached
                for job_key in sorted(inputs):
                    for i in inputs[job_key]:
                        if db.execute("INSERT INTO inputs (job_key, input_key, fingerprint, id_token, content, md5)"
                                      " VALUES (?,?,?,?,?,?) ON CONFLICT (job_key, fingerprint) DO NOTHING",
                                      (job_key, i.input_key, i.fingerprint, i.id_token, i.content,
                                       i.md5)).rowcount != 1:
                            raise _NotAttached
                        attached.add(i.fingerprint)
                    db.execute("UPDATE jobs SET num_rows = num_rows + ? WHERE job_key=?",
                               (len(inputs[job_key]), job_key))
        except _NotAttached:
            return set()  # rolled back: nothing of it recorded
        return attached

    def supersede(self, fingerprints: Iterable[str]) -> None:
        """Detach rows from their current jobs so they can be submitted again (retrying failures)."""
        rows = [(f,) for f in sorted(set(fingerprints))]  # one order: two processes' overlapping updates never deadlock
        with self._write() as db:
            db.executemany("UPDATE inputs SET superseded=1 WHERE fingerprint=?", rows)

    def state(self, job_key: str) -> Claim | None:
        """The current claim of a job key, if any."""
        row = self._db().execute("SELECT state, job_id, owner, claimed_ms FROM jobs WHERE job_key=?",
                                 (job_key,)).fetchone()
        return None if row is None else Claim(job_key, row[0], row[1], row[2], row[3], ours=False)


class _NotAttached(Exception):
    """Raised inside :meth:`UnitsMixin.attach`'s transaction to roll all of it back."""
