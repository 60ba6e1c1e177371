"""The one way humekit opens a SQLite store: the job ledger and the webhook receiver's store both use it.

Durable by construction: WAL (the switch retried while another process holds the file), ``synchronous=FULL``
(a commit is on disk before it returns) and a busy timeout so concurrent writers wait instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

__all__ = ["connect"]


def connect(path: str | os.PathLike[str], *, timeout: float = 30.0) -> sqlite3.Connection:
    """Open (creating its folder) the SQLite file at ``path`` in autocommit mode, usable from any thread.

    The caller owns transactions (``BEGIN IMMEDIATE`` ... ``COMMIT``, or sets ``isolation_level``) and, for a
    connection shared between threads, the lock around it. ``timeout`` (seconds) is both how long a write waits
    for another writer and how long the WAL switch is retried.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        _enable_wal(db, patience=timeout)
        db.execute("PRAGMA synchronous=FULL")
        db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    except BaseException:
        db.close()
        raise
    return db


def _enable_wal(db: sqlite3.Connection, *, patience: float) -> None:
    """Switch to WAL, retrying while another process holds the file: SQLite can answer "database is
    locked" to a journal-mode change at once, without waiting for the busy timeout."""
    deadline = time.monotonic() + patience
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
