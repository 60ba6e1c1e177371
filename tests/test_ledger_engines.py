"""Tests for humekit.pipeline.ledger.engines: what only PostgreSQL does (its errors, masking, reconnecting).

What both engines share (claims, answers, sends, digests, races) is tested on both by the ledger's own tests
(test_ledger.py, test_answers.py, test_sends.py, test_digests.py through the ``ledger_location`` fixture).
"""

from __future__ import annotations

import sys
import traceback

import pytest
from _postgres import PostgresServer

from humekit.errors import LedgerError
from humekit.pipeline.ledger import Ledger, LedgerInput
from humekit.pipeline.ledger.engines import _placeholders

pytestmark = pytest.mark.postgresql

PASSWORD = "s3cr3t-pw"


def _full_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def test_sql_is_written_once_with_question_marks():
    """The ledger's '?' placeholders become psycopg's '%s', and a literal '%' is escaped."""
    assert _placeholders("SELECT 1 WHERE a=? AND b LIKE 'x%'") == "SELECT 1 WHERE a=%s AND b LIKE 'x%%'"


def test_a_postgresql_ledger_shows_its_url_without_the_password(postgres_server: PostgresServer):
    """repr, location and messages show the URL with '***' for the password; path is None."""
    url = postgres_server.url("humekit_tests", password=PASSWORD)
    ledger = Ledger(url)
    try:
        assert ledger.engine == "postgresql" and ledger.path is None
        assert PASSWORD not in repr(ledger) and f"{postgres_server.user}:***@" in repr(ledger)
        assert ledger.location == url.replace(PASSWORD, "***")
        with pytest.raises(LedgerError) as info:
            ledger.request("missing")
        assert ledger.location in str(info.value) and PASSWORD not in str(info.value)
    finally:
        ledger.close()


def test_an_unreachable_server_names_the_host_and_what_to_do():
    """A server nobody answers at is a LedgerError naming host and port, never the password, and no traceback
    of the driver's carries it either."""
    with pytest.raises(LedgerError) as info:
        Ledger(f"postgresql://alice:{PASSWORD}@127.0.0.1:1/humekit")
    message = str(info.value)
    assert "Cannot open the PostgreSQL ledger at postgresql://alice:***@127.0.0.1:1/humekit" in message
    assert "host 127.0.0.1, port 1" in message and "refused" in message.lower()
    assert "server runs and is reachable" in message and "ledger= a SQLite file" in message
    assert PASSWORD not in _full_text(info.value)


def test_a_missing_socket_folder_names_it():
    """A Unix-socket host that does not exist is named in the error (the default port shown)."""
    with pytest.raises(LedgerError, match=r"host /nonexistent/socket-dir, port 5432"):
        Ledger("postgresql://alice@/humekit?host=/nonexistent/socket-dir")


def test_a_missing_database_says_to_create_it(postgres_server: PostgresServer):
    """A database that does not exist is a LedgerError quoting the server and pointing to createdb."""
    with pytest.raises(LedgerError) as info:
        Ledger(postgres_server.url("no_such_database", password=PASSWORD))
    message = str(info.value)
    assert 'database "no_such_database" does not exist' in message and "createdb" in message
    assert PASSWORD not in _full_text(info.value)


def test_a_url_libpq_cannot_read_is_refused_without_its_password():
    """A malformed URL (an unknown parameter) is a LedgerError giving the form, with the password masked."""
    with pytest.raises(LedgerError, match="not a PostgreSQL URL libpq can read") as info:
        Ledger(f"postgresql://alice:{PASSWORD}@db.lab/humekit?no_such_option=1")
    assert "alice:***@db.lab" in str(info.value) and PASSWORD not in _full_text(info.value)


def test_without_psycopg_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch):
    """With psycopg missing, a PostgreSQL URL names the extra to install (and the SQLite alternative)."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(LedgerError, match=r"needs psycopg 3: pip install 'humekit\[postgresql\]'"):
        Ledger("postgresql://alice@db.lab/humekit")


def test_a_lost_connection_fails_one_call_and_the_next_reconnects(postgres_server: PostgresServer):
    """When the server drops the connection, that call is a LedgerError (nothing half-written kept) and the
    ledger reconnects for the next one."""
    import psycopg

    url = postgres_server.create_schema()
    ledger = Ledger(url)
    try:
        ledger.claim("u1", backend="b", kind="text", request={}, inputs=[LedgerInput("1", "fp", "s:1", "c")])
        with psycopg.connect(postgres_server.url("humekit_tests"), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE application_name = 'humekit' AND pid <> pg_backend_pid()")
        with pytest.raises(LedgerError, match="failed: .*run the same call again"):
            ledger.record_submitted("u1", "job-1")
        assert ledger.state("u1").state == "submitting"  # reconnected; the failed write left nothing
        ledger.record_submitted("u1", "job-1")
        assert ledger.state("u1").job_id == "job-1"
    finally:
        ledger.close()


def test_a_new_database_gets_its_tables_in_public(postgres_server: PostgresServer):
    """A fresh database (no search_path in the URL) gets the ledger's tables in its public schema, once."""
    import psycopg

    url = postgres_server.create_database()
    Ledger(url).close()
    Ledger(url).close()  # a second opener finds them
    with psycopg.connect(url) as db:
        tables = {name for (name,) in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").fetchall()}
    assert tables == {"jobs", "inputs", "file_digests", "refused_payloads", "sends", "answers", "predictions"}
