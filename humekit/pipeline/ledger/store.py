"""The ledger's database, SQLite or PostgreSQL: one connection per thread, short write transactions, bulk reads.

The mixins (units, lookups, answers, sends, digests, schema) write their SQL once, with ``?`` placeholders, and
run it through :meth:`LedgerStore._db` and :meth:`LedgerStore._write`; the engine
(:mod:`humekit.pipeline.ledger.engines`) supplies what differs between the two databases.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from humekit.clock import Clock, SystemClock
from humekit.pipeline.ledger.engines import Connection, Cursor, Engine, engine_for
from humekit.pipeline.ledger.location import DEFAULT_LEDGER, parse_location

__all__ = ["DEFAULT_LEDGER", "LedgerStore"]


class LedgerStore:
    """The database the ledger's parts (units, lookups, answers, digests) read and write: what they share.

    Every write is one short transaction (:meth:`_write`: SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's READ
    COMMITTED) on this thread's connection.

    Attributes:
        location: where the ledger is, as every message shows it: the SQLite file's path, or the PostgreSQL
            URL with its password masked.
        path: the SQLite file (``None`` for a PostgreSQL ledger).
    """

    def __init__(self, location: str | os.PathLike[str] | None = None, *, clock: Clock | None = None):
        self._engine: Engine = engine_for(parse_location(location))
        self.location: str = self._engine.location
        self.path: Path | None = self._engine.path
        self.clock: Clock = clock or SystemClock()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"Ledger({self.location!r})"

    @property
    def engine(self) -> str:
        """The database the ledger lives in: ``"sqlite"`` or ``"postgresql"``."""
        return self._engine.name

    def _now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def _db(self) -> Connection:
        db: Connection | None = getattr(self._local, "db", None)
        if db is None or not self._engine.usable(db):
            db = self._local.db = self._engine.connect()
        return db

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        db = self._db()
        self._engine.begin(db)
        try:
            yield db
        except BaseException:
            self._engine.rollback(db)
            raise
        else:
            db.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection (the next use opens another)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def _select(self, sql: str, parameters: Sequence[Any] = ()) -> pd.DataFrame:
        """A query's rows as a DataFrame with its columns (even when there are no rows)."""
        return _frame(self._db().execute(sql, parameters))

    def _select_in(self, sql: str, values: Iterable[str], *, order: Sequence[str] = ()) -> pd.DataFrame:
        """Run ``sql`` with ``{marks}`` standing for an IN list over ``values``, in chunks the engine accepts;
        rows sorted by the ``order`` columns across all chunks (``seq``, a selected rowid, is then dropped)."""
        keys = list(dict.fromkeys(values))
        db = self._db()
        rows: list[Any] = []
        columns: list[str] = []
        for start in range(0, max(len(keys), 1), self._engine.in_chunk):
            marks, parameters = self._engine.in_list(keys[start : start + self._engine.in_chunk])
            cursor = db.execute(sql.format(marks=marks), parameters)
            columns = _columns(cursor)
            rows += cursor.fetchall()
        frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
        if order:
            frame = frame.sort_values(list(order), kind="stable", ignore_index=True)
        return frame.drop(columns="seq") if "seq" in frame else frame


def _columns(cursor: Cursor) -> list[str]:
    return [column[0] for column in cursor.description]


def _frame(cursor: Cursor) -> pd.DataFrame:
    return pd.DataFrame.from_records(cursor.fetchall(), columns=_columns(cursor), coerce_float=True)
