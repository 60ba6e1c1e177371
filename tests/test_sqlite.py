"""Tests for humekit._internal.sqlite: the one connection helper of the job ledger and the webhook store."""

from __future__ import annotations

import sqlite3

import pytest

from humekit._internal import sqlite as _sqlite
from humekit.pipeline.ledger import Ledger
from humekit.webhooks.store import open_store


def _pragmas(db: sqlite3.Connection) -> tuple[str, int, int]:
    return (db.execute("PRAGMA journal_mode").fetchone()[0], db.execute("PRAGMA synchronous").fetchone()[0],
            db.execute("PRAGMA busy_timeout").fetchone()[0])


def test_connect_is_durable_and_waits(tmp_path):
    """connect creates the folder and opens in WAL, synchronous=FULL (2), the busy timeout from timeout=."""
    db = _sqlite.connect(tmp_path / "a" / "b.sqlite", timeout=2.5)
    assert _pragmas(db) == ("wal", 2, 2500)
    assert db.isolation_level is None  # autocommit: the caller owns transactions


def test_the_wal_switch_is_retried_while_the_file_is_locked():
    """A 'database is locked' answer to the journal-mode change is retried; any other error is raised."""
    class Flaky:
        def __init__(self, errors):
            self.errors, self.calls = list(errors), 0

        def execute(self, sql):
            self.calls += 1
            if self.errors:
                raise self.errors.pop(0)

    db = Flaky([sqlite3.OperationalError("database is locked")] * 2)
    _sqlite._enable_wal(db, patience=5.0)
    assert db.calls == 3
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _sqlite._enable_wal(Flaky([sqlite3.OperationalError("disk I/O error")]), patience=5.0)


def test_ledger_and_webhook_store_use_the_same_settings(tmp_path):
    """The job ledger and the receiver's store are opened the same way (busy timeouts aside)."""
    ledger, store = Ledger(tmp_path / "jobs.sqlite"), open_store(tmp_path / "hooks.sqlite")
    assert _pragmas(ledger._db())[:2] == _pragmas(store)[:2] == ("wal", 2)
    assert _pragmas(ledger._db())[2] == 30000 and _pragmas(store)[2] == 10000
