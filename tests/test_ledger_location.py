"""Tests for humekit.pipeline.ledger.location: paths, PostgreSQL URLs, URLs refused, passwords masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from humekit.errors import LedgerError
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.ledger.location import DEFAULT_LEDGER, PostgresURL, masked, parse_location


@pytest.mark.parametrize("value", ["study.sqlite", Path("runs/a.sqlite"), "C:/data/l.sqlite", "notes:2024.sqlite"],
                         ids=["str", "Path", "drive-letter", "colon-in-name"])
def test_paths_are_sqlite_files_resolved_now(value, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A path (str or Path, even one with a colon) is a SQLite file, resolved against the working directory."""
    monkeypatch.chdir(tmp_path)
    assert parse_location(value) == (tmp_path / value).resolve()
    assert parse_location(None) == tmp_path / DEFAULT_LEDGER


@pytest.mark.parametrize("url", ["postgresql://alice@db.lab:5432/humekit", "postgres://db.lab/humekit",
                                 "postgresql:///humekit?host=/var/run/postgresql", "POSTGRESQL://h/db"])
def test_postgresql_urls_name_a_database(url: str):
    """postgresql:// and postgres:// URLs (libpq's forms, any case) name a PostgreSQL database."""
    location = parse_location(url)
    assert isinstance(location, PostgresURL) and location.url == url and location.display == url


@pytest.mark.parametrize("url,hint", [
    ("mysql://u:pw@h/db", "a PostgreSQL URL (postgresql://"),
    ("http://example.org/ledger", "a SQLite file's path"),
    ("sqlite:///study.sqlite", "give the file's path itself"),
    ("postgresql+psycopg://u:pw@h/db", "without the driver"),
    ("s3://bucket/ledger.sqlite", "a SQLite file's path"),
])
def test_other_urls_are_refused_and_nothing_is_created(url: str, hint: str, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path):
    """A URL humekit cannot keep a ledger in is a LedgerError saying what to give, and no folder appears."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LedgerError, match="which humekit cannot keep a ledger in") as info:
        Ledger(url)
    assert hint in str(info.value) and "pw" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_postgresql_url_collapsed_by_a_path_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Path('postgresql://...') (its '//' collapsed) is refused with the fix, not made into folders."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LedgerError, match="pass the URL as a str") as info:
        Ledger(Path("postgresql://alice:pw@db.lab/humekit"))
    assert "alice:***@db.lab" in str(info.value) and ":pw@" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url,shown", [
    ("postgresql://alice:s3cret@db.lab:5432/humekit", "postgresql://alice:***@db.lab:5432/humekit"),
    ("postgresql://alice:p%40ss@db.lab/humekit", "postgresql://alice:***@db.lab/humekit"),
    ("postgresql://alice:p@ss@db.lab/humekit", "postgresql://alice:***@db.lab/humekit"),
    ("postgresql://alice@db.lab/humekit?password=s3cret&sslmode=require",
     "postgresql://alice@db.lab/humekit?password=***&sslmode=require"),
    ("postgresql://alice@db.lab/humekit", "postgresql://alice@db.lab/humekit"),
    ("postgresql://db1:5432,db2:5433/humekit", "postgresql://db1:5432,db2:5433/humekit"),
])
def test_passwords_are_masked(url: str, shown: str):
    """The user info's password and a password= parameter are masked; the rest (user, hosts, ports) is shown."""
    assert masked(url) == shown
    location = parse_location(url)
    assert isinstance(location, PostgresURL) and location.display == shown
    assert repr(location) == f"PostgresURL({shown!r})"


def test_secrets_include_the_decoded_password():
    """What an error must never contain: the password as written and percent-decoded."""
    location = parse_location("postgresql://alice:p%40ss@db.lab/humekit?password=other")
    assert isinstance(location, PostgresURL) and set(location.secrets) == {"p%40ss", "p@ss", "other"}
