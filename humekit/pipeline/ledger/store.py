"""The ledger's SQLite file: one connection per thread, short write transactions, and chunked ``IN`` lookups."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from humekit._internal.sqlite import connect
from humekit.clock import Clock, SystemClock
from humekit.errors import LedgerError

__all__ = ["DEFAULT_LEDGER", "LedgerStore"]

_IN_CHUNK = 500  # values per IN (...) list, well under SQLite's bound-parameter limit

#: The ledger used when none is given: a file in the working directory, next to the notebook.
DEFAULT_LEDGER = "humekit-ledger.sqlite"


class LedgerStore:
    """The file the ledger's parts (units, lookups, answers, digests) read and write: what they share.

    Every write is one short ``BEGIN IMMEDIATE`` transaction (:meth:`_write`) on this thread's connection.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, clock: Clock | None = None):
        self.path = Path(path if path is not None else DEFAULT_LEDGER).resolve()
        self.clock: Clock = clock or SystemClock()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def _now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self.path)
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise LedgerError(f"The ledger at {self.path} is locked or unreadable ({exc}); is another "
                              "process holding it for long? Try again.") from exc
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def _select_in(self, sql: str, values: Iterable[str], *, order: Sequence[str] = ()) -> pd.DataFrame:
        """Run ``sql`` with ``{marks}`` standing for an IN list over ``values``, in chunks SQLite accepts;
        rows sorted by the ``order`` columns across all chunks (``seq``, a selected rowid, is then dropped)."""
        keys = list(dict.fromkeys(values))
        db = self._db()
        rows: list[Any] = []
        columns: list[str] = []
        for start in range(0, max(len(keys), 1), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            cursor = db.execute(sql.format(marks=",".join("?" * len(chunk)) or "NULL"), chunk)
            columns = [c[0] for c in cursor.description]
            rows += cursor.fetchall()
        frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
        if order:
            frame = frame.sort_values(list(order), kind="stable", ignore_index=True)
        return frame.drop(columns="seq") if "seq" in frame else frame

    def integrity_check(self) -> str:
        """SQLite's own integrity check: ``"ok"`` when the file is sound."""
        return self._db().execute("PRAGMA integrity_check").fetchone()[0]
