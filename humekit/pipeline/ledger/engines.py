"""The two databases a ledger can live in, SQLite (the embedded default) and PostgreSQL, behind one small seam.

The ledger's queries are written once, in SQL both engines accept (``?`` placeholders, ``ON CONFLICT ... DO
NOTHING/UPDATE`` from SQLite 3.24, no ``RETURNING``), and an :class:`Engine` supplies the few differences:

============================  ===================================  =============================================
                              SQLite (:class:`SQLiteEngine`)        PostgreSQL (:class:`PostgresEngine`)
============================  ===================================  =============================================
connection                    ``_internal/sqlite.py`` (WAL, FULL)  psycopg 3, autocommit, ``?`` sent as ``%s``
a write transaction           ``BEGIN IMMEDIATE`` (one writer)     ``BEGIN ISOLATION LEVEL READ COMMITTED``: row
                                                                   locks, unique keys and compare-and-swap updates
``IN (...)`` lists            500 ``?`` per query                  one ``text[]`` parameter per 10,000 keys
bytes, insertion order        ``BLOB``, the implicit ``rowid``     ``BYTEA``, an identity column named ``rowid``
schema changes                under ``BEGIN IMMEDIATE``            under a transaction-scoped advisory lock
integrity check               ``PRAGMA integrity_check``           every ledger table read through
============================  ===================================  =============================================

Every message an engine writes names the ledger by its :attr:`Engine.location`: a file's path, or the URL
with its password masked.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from humekit._internal.sqlite import connect as connect_sqlite
from humekit.errors import LedgerError
from humekit.pipeline.ledger.location import PostgresURL

if TYPE_CHECKING:
    import psycopg

__all__ = ["Connection", "Cursor", "Engine", "PostgresEngine", "SQLiteEngine", "engine_for"]


class Cursor(Protocol):
    """What the ledger reads from a query's result (``sqlite3.Cursor`` and psycopg's ``Cursor`` both are)."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """A connection the ledger's SQL (``?`` placeholders) runs on: ``sqlite3.Connection``, or :class:`_Postgres`."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...

    def close(self) -> None: ...


class Engine:
    """What differs between the databases a ledger can live in (this base: what both share)."""

    name: ClassVar[str]
    #: What every message shows: the file's path, or the URL with its password masked.
    location: str
    #: The SQLite file (``None`` for a PostgreSQL ledger).
    path: Path | None = None
    #: Keys per ``IN`` list.
    in_chunk: ClassVar[int]

    def connect(self) -> Connection:
        """A new connection (one per thread: a connection runs one transaction at a time)."""
        raise NotImplementedError

    def usable(self, db: Connection) -> bool:
        """Whether a connection kept for this thread can still be used (a lost server connection cannot)."""
        return True

    def begin(self, db: Connection) -> None:
        """Open a write transaction on ``db``."""
        raise NotImplementedError

    def rollback(self, db: Connection) -> None:
        """Undo the open write transaction (after an error inside it)."""
        db.execute("ROLLBACK")

    def in_list(self, keys: Sequence[str]) -> tuple[str, list[Any]]:
        """What stands for ``{marks}`` in ``x IN ({marks})`` over ``keys``, and its parameters."""
        raise NotImplementedError

    def ddl(self, schema: str) -> list[str]:
        """The statements of ``schema`` with this engine's types and ``{rowid}`` column, one per statement."""
        raise NotImplementedError

    def lock_schema(self, db: Connection) -> None:
        """Inside a write transaction: wait until no other process is changing the schema."""

    def table_exists(self, db: Connection, name: str) -> bool:
        raise NotImplementedError

    def integrity_check(self, db: Connection, tables: Sequence[str]) -> str:
        """``"ok"`` when the ledger's tables are sound, else what is wrong."""
        raise NotImplementedError

    def open_failed(self, exc: BaseException) -> LedgerError | None:
        """The error to raise when preparing a ledger failed with ``exc`` (``None``: raise ``exc`` itself)."""
        return None

    @staticmethod
    def _statements(schema: str, **types: str) -> list[str]:
        return [s.strip() for s in schema.format(**types).split(";\n") if s.strip()]


class SQLiteEngine(Engine):
    """A ledger in one SQLite file on this machine (WAL, ``synchronous=FULL``, writers wait for each other)."""

    name = "sqlite"
    in_chunk = 500  # well under SQLite's bound-parameter limit

    def __init__(self, path: Path):
        self.path = self._file = path
        self.location = str(path)

    def connect(self) -> Connection:
        self._file.parent.mkdir(parents=True, exist_ok=True)
        return connect_sqlite(self._file)

    def begin(self, db: Connection) -> None:
        try:
            db.execute("BEGIN IMMEDIATE")  # the one writer until COMMIT: others wait (busy timeout)
        except sqlite3.Error as exc:
            raise LedgerError(f"The ledger at {self.location} is locked or unreadable ({exc}); is another "
                              "process holding it for long? Try again.") from exc

    def in_list(self, keys: Sequence[str]) -> tuple[str, list[Any]]:
        return ",".join("?" * len(keys)) or "NULL", list(keys)

    def ddl(self, schema: str) -> list[str]:
        return self._statements(schema, blob="BLOB", rowid="")

    def table_exists(self, db: Connection, name: str) -> bool:
        return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None

    def integrity_check(self, db: Connection, tables: Sequence[str]) -> str:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])

    def open_failed(self, exc: BaseException) -> LedgerError | None:
        if not isinstance(exc, (sqlite3.Error, OSError)):
            return None
        return LedgerError(f"Cannot open the ledger at {self.location}: {exc}. Check the path and its permissions, "
                           "or pass ledger= another file.")


class PostgresEngine(Engine):
    """A ledger in a PostgreSQL database that processes on several machines share (psycopg 3).

    Claims stay exclusive through the database's own guarantees: a unit is claimed by inserting its key
    (``ON CONFLICT DO NOTHING``: a second claimant waits for the first to commit, then sees its claim), a
    takeover or a release is a compare-and-swap ``UPDATE``/``DELETE`` on the unit's row, and each write is
    one short READ COMMITTED transaction, committed before the call returns.
    """

    name = "postgresql"
    in_chunk = 10_000
    connect_timeout = 10  # seconds, unless the URL says otherwise (connect_timeout=)
    _SCHEMA_LOCK = 0x68756D656B6974  # "humekit": the advisory lock held while the schema is created or changed

    def __init__(self, url: PostgresURL):
        self.url = url
        self.location = url.display

    def connect(self) -> Connection:
        try:
            import psycopg
        except ImportError:
            raise LedgerError(f"The ledger {self.location} is a PostgreSQL database, which needs psycopg 3: "
                              "pip install 'humekit[postgresql]' (or pass ledger= a SQLite file's path)") from None
        try:
            options = psycopg.conninfo.conninfo_to_dict(self.url.url)
        except psycopg.Error as exc:
            raise LedgerError(f"ledger={self.location!r} is not a PostgreSQL URL libpq can read: "
                              f"{self._scrub(exc)}. The form is postgresql://user@host:port/database") from None
        defaults: dict[str, Any] = {"connect_timeout": self.connect_timeout, "application_name": "humekit"}
        try:
            connection = psycopg.connect(self.url.url, autocommit=True,
                                         **{k: v for k, v in defaults.items() if k not in options})
        except psycopg.Error as exc:
            raise self._unreachable(exc, options) from None
        return _Postgres(connection, self)

    def usable(self, db: Connection) -> bool:
        return isinstance(db, _Postgres) and not (db.raw.closed or db.raw.broken)

    def begin(self, db: Connection) -> None:
        # explicit, whatever the server's default_transaction_isolation: the ledger's writes are designed
        # for READ COMMITTED (each statement sees what committed before it; conflicting rows wait)
        db.execute("BEGIN ISOLATION LEVEL READ COMMITTED")

    def rollback(self, db: Connection) -> None:
        if self.usable(db):  # a lost connection rolled back on the server already
            try:
                db.execute("ROLLBACK")
            except LedgerError:
                if self.usable(db):
                    raise

    def in_list(self, keys: Sequence[str]) -> tuple[str, list[Any]]:
        return "SELECT unnest(?::text[])", [list(keys)]

    def ddl(self, schema: str) -> list[str]:
        return self._statements(schema, blob="BYTEA", rowid="rowid BIGINT GENERATED ALWAYS AS IDENTITY,")

    def lock_schema(self, db: Connection) -> None:
        db.execute("SELECT pg_advisory_xact_lock(?)", (self._SCHEMA_LOCK,))

    def table_exists(self, db: Connection, name: str) -> bool:
        return db.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema()"
                          " AND table_name = ?", (name,)).fetchone() is not None

    def integrity_check(self, db: Connection, tables: Sequence[str]) -> str:
        """The server keeps its own pages consistent; this reads every row of every ledger table through
        (a damaged page fails the read, checksummed if the cluster has data checksums)."""
        for table in tables:
            db.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - the ledger's own table names
        return "ok"

    def open_failed(self, exc: BaseException) -> LedgerError | None:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            return None
        return LedgerError(f"Cannot prepare the ledger's tables in the PostgreSQL database {self.location}: "
                           f"{self._scrub(exc)}. The user needs CREATE on the database's schema (or have its owner "
                           "open the ledger once to create them), or pass ledger= a SQLite file's path.")

    def failed(self, exc: BaseException) -> LedgerError:
        """A query that failed because the server or the connection did (not because of the query)."""
        return LedgerError(f"The PostgreSQL ledger at {self.location} failed: {self._scrub(exc)}. What this call "
                           "was writing was rolled back; check that the server is up and reachable, then run the "
                           "same call again (nothing committed is lost).")

    def _unreachable(self, exc: BaseException, options: dict[str, Any]) -> LedgerError:
        host = options.get("host") or options.get("hostaddr") or "localhost (the default Unix socket)"
        port = options.get("port") or "5432"
        return LedgerError(
            f"Cannot open the PostgreSQL ledger at {self.location} (host {host}, port {port}): {self._scrub(exc)}. "
            "Check that the server runs and is reachable from here, that the database exists (createdb) and the "
            "user may log in (the password can come from PGPASSWORD or ~/.pgpass instead of the URL), or pass "
            "ledger= a SQLite file's path to keep the ledger on this machine.")

    def _scrub(self, exc: BaseException) -> str:
        """The driver's message on one line, without the URL's password."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        for secret in self.url.secrets:
            text = text.replace(secret, "***")
        return text.rstrip(".")


class _Postgres:
    """A psycopg connection that runs the ledger's SQL: ``?`` placeholders become ``%s`` (and a literal ``%``
    ``%%``), and a lost connection or an aborted transaction becomes a :class:`LedgerError`."""

    def __init__(self, raw: psycopg.Connection[Any], engine: PostgresEngine):
        self.raw = raw
        self._engine = engine

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        import psycopg

        try:
            return self.raw.execute(_placeholders(sql), tuple(parameters))
        except psycopg.OperationalError as exc:
            raise self._engine.failed(exc) from None

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        import psycopg

        cursor = self.raw.cursor()
        try:
            cursor.executemany(_placeholders(sql), [tuple(p) for p in parameters])
        except psycopg.OperationalError as exc:
            raise self._engine.failed(exc) from None
        return cursor

    def close(self) -> None:
        self.raw.close()

    def __del__(self) -> None:  # a worker thread's connection, dropped with its thread-local: closed, not leaked
        raw = getattr(self, "raw", None)
        if raw is not None and not raw.closed:
            raw.close()


@functools.lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    """The ledger's SQL (``?`` placeholders, never inside a literal) in psycopg's ``%s`` style."""
    return sql.replace("%", "%%").replace("?", "%s")


def engine_for(location: Path | PostgresURL) -> Engine:
    """The engine of a parsed ``ledger=`` location (:func:`humekit.pipeline.ledger.location.parse_location`)."""
    return PostgresEngine(location) if isinstance(location, PostgresURL) else SQLiteEngine(location)
