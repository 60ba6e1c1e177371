"""The webhook receiver's durable record: one SQLite row per event, written before the 200, handled once.

Every accepted event is a row of the ``webhook_events`` table under its dedupe key (the same for every
redelivery, see ``dedupe_key`` in :mod:`humekit.webhooks.events`); a redelivery only counts itself.
A row is claimed for handling atomically (``pending`` → ``handling``), so it is handled once even when
two workers or two processes see it, and ends ``handled`` or ``failed``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import orjson
import pandas as pd

from humekit._internal.sqlite import connect
from humekit.errors import LedgerError
from humekit.webhooks.events import Event, parse_event

__all__ = ["WebhookStore", "open_store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_events (
    event_id    TEXT PRIMARY KEY,           -- dedupe key, identical for every redelivery
    event_name  TEXT NOT NULL,              -- chat_started | chat_ended | tool_call | job | ...
    subject_id  TEXT,                       -- chat_id or job_id
    status      TEXT,                       -- job status or chat end_reason
    received_at REAL NOT NULL,              -- first delivery, Unix seconds
    deliveries  INTEGER NOT NULL DEFAULT 1, -- how many times it arrived
    auth        TEXT NOT NULL,              -- hmac | token | unsigned (accept_unsigned_events=True)
    body        TEXT NOT NULL,              -- the first delivery's raw body
    state       TEXT NOT NULL DEFAULT 'pending',  -- pending | handling | handled | failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    handled_at  REAL
);
CREATE INDEX IF NOT EXISTS webhook_events_subject ON webhook_events (subject_id);
"""


class WebhookStore:
    """The ``webhook_events`` table of one SQLite file, shared by the endpoint, the handler worker and readers.

    Every method holds the store's lock; :attr:`changed` (a condition on that lock) is notified
    whenever an event is recorded or finishes handling, which is what waiting for webhooks waits on.

    Args:
        path: the SQLite file (created, with its folder, if needed).

    Raises:
        LedgerError: the file cannot be opened as a webhook store.
    """

    def __init__(self, path: Path):
        self.path = path
        self._db = open_store(path)
        self._lock = threading.RLock()
        self.changed = threading.Condition(self._lock)

    def record(self, event: Event, body: bytes, auth: str) -> tuple[bool, int]:
        """Record a delivery: ``(True, 1)`` for a new event, ``(False, n)`` for its n-th delivery."""
        status = getattr(event, "status", None) or getattr(event, "end_reason", None)
        try:
            with self._lock, self._db:
                (deliveries,) = self._db.execute(
                    "INSERT INTO webhook_events (event_id, event_name, subject_id, status, received_at, auth, body)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO UPDATE SET deliveries = deliveries + 1"
                    " RETURNING deliveries",
                    (event.dedupe_key, event.event_name, event.subject_id, status, time.time(), auth,
                     body.decode("utf-8", "replace")),
                ).fetchall()[0]  # fmt: skip
                self.changed.notify_all()
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot record a webhook in {self.path}: {exc}") from exc
        return deliveries == 1, deliveries

    def pending(self) -> list[str]:
        """The ids of the events recorded but not handled yet, oldest first."""
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT event_id FROM webhook_events WHERE state = 'pending' ORDER BY received_at")]  # fmt: skip

    def claim(self, event_id: str) -> str | None:
        """Mark a pending event ``handling`` and return its body; ``None`` when it is not pending (claimed)."""
        with self._lock, self._db:
            row = self._db.execute(
                "UPDATE webhook_events SET state = 'handling', attempts = attempts + 1"
                " WHERE event_id = ? AND state = 'pending' RETURNING body", (event_id,)).fetchall()  # fmt: skip
        return row[0][0] if row else None

    def finish(self, event_id: str, state: str, error: str | None) -> None:
        """Record how a claimed event's handling ended: ``handled``, or ``failed`` with the error."""
        with self._lock, self._db:
            self._db.execute("UPDATE webhook_events SET state = ?, error = ?, handled_at = ? WHERE event_id = ?",
                             (state, error, time.time(), event_id))  # fmt: skip
            self.changed.notify_all()

    def requeue(self, event_ids: Iterable[str] | None, states: Sequence[str]) -> list[str]:
        """Make the events in ``states`` (only ``event_ids``, if given) pending again; return their ids."""
        sql = f"UPDATE webhook_events SET state = 'pending' WHERE state IN ({','.join('?' * len(states))})"
        args = list(states)
        if event_ids is not None:
            ids = list(event_ids)
            sql, args = sql + f" AND event_id IN ({','.join('?' * len(ids)) or 'NULL'})", [*args, *ids]
        with self._lock, self._db:
            return [r[0] for r in self._db.execute(sql + " RETURNING event_id", args).fetchall()]

    def events(self, event_name: str | None = None, *, state: str | None = None) -> pd.DataFrame:
        """Every recorded event (of ``event_name``, in ``state``), oldest first, with its parsed ``event``."""
        sql, args = "SELECT * FROM webhook_events WHERE 1=1", list[object]()
        if event_name is not None:
            sql, args = sql + " AND event_name = ?", [*args, event_name]
        if state is not None:
            sql, args = sql + " AND state = ?", [*args, state]
        with self._lock:
            cursor = self._db.execute(sql + " ORDER BY received_at, rowid", args)
            columns = [c[0] for c in cursor.description]
            rows = cursor.fetchall()
        df = pd.DataFrame(rows, columns=columns)
        for column in ("received_at", "handled_at"):
            df[column] = pd.to_datetime(df[column].astype("float64"), unit="s", utc=True)
        df["payload"] = [orjson.loads(b) for b in df["body"]]
        df["event"] = pd.Series([parse_event(p) for p in df["payload"]], index=df.index, dtype=object)
        return df.drop(columns="body")

    def find(self, ids: list[str], names: list[str], *, handled: bool) -> dict[str, Event]:
        """``{subject_id: event}`` of the events recorded for these ids and names (``handled``: handling done)."""
        marks = ",".join("?" * len(ids)) or "NULL"
        kinds = ",".join("?" * len(names)) or "NULL"
        sql = (f"SELECT subject_id, body FROM webhook_events WHERE subject_id IN ({marks})"
               f" AND event_name IN ({kinds})" + (" AND state IN ('handled', 'failed')" if handled else "")
               + " ORDER BY received_at")  # fmt: skip
        with self._lock:
            return {subject: parse_event(body) for subject, body in self._db.execute(sql, [*ids, *names])}

    def close(self) -> None:
        """Close the SQLite connection."""
        with self._lock:
            self._db.close()


def open_store(path: Path) -> sqlite3.Connection:
    """A connection to the webhook store at ``path``, its table created, each ``with db:`` one transaction.

    Raises:
        LedgerError: the file cannot be opened or is not an SQLite database.
    """
    try:
        db = connect(path, timeout=10.0)  # synchronous=FULL: the 200 is sent only once the event is on disk
        db.executescript(_SCHEMA)
        db.isolation_level = "DEFERRED"  # `with db:` now wraps each write in a transaction
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot open the webhook ledger {path}: {exc}") from exc
    return db
