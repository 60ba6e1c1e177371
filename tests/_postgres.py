"""A throwaway PostgreSQL server for the tests: Debian's binaries, ``initdb`` and ``pg_ctl``, a socket in a temp dir.

The binaries come from ``$HUMEKIT_PG_BINDIR`` (only there, when set), ``pg_config --bindir`` or
``/usr/lib/postgresql/*/bin`` (Debian's ``postgresql`` package; ``.ci/run`` installs it when missing). ``initdb`` and ``postgres`` refuse to run as root,
and sessions and CI run as root: the server then runs as the unprivileged ``postgres`` user the package creates,
in a folder it owns; the tests connect as that role (trust authentication on the socket, which listens on no
TCP port, so several test sessions on one machine never collide). Each ledger test gets a schema of its own in
one database (``CREATE SCHEMA`` takes a millisecond, ``CREATE DATABASE`` a quarter of a second here): its URL
sets ``search_path`` through libpq's ``options``; :meth:`PostgresServer.create_database` gives a whole database.

Without the binaries the PostgreSQL tests skip with one line; under ``CI=true`` they fail.
"""

from __future__ import annotations

import functools
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

_ROLE = "postgres"
_TESTS_DATABASE = "humekit_tests"
_SETTINGS = """
listen_addresses = ''
unix_socket_directories = '{socket}'
max_connections = 200
fsync = off                 # a throwaway server: speed over crash safety (the ledger's own tests are about logic)
synchronous_commit = off
full_page_writes = off
"""


def bindir() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres`` (``None``: not installed)."""
    if os.environ.get("HUMEKIT_PG_BINDIR"):  # given: that folder only
        return _server_bindir([os.environ["HUMEKIT_PG_BINDIR"]])
    candidates = []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(found.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    return _server_bindir(candidates)


def _server_bindir(candidates: list[str]) -> Path | None:
    for folder in filter(None, candidates):
        if all((Path(folder) / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    return None


@functools.cache
def postgres_missing() -> str | None:
    """Why no throwaway server can be started (``None``: it can); asked once per session."""
    if bindir() is None:
        where = f"in HUMEKIT_PG_BINDIR={os.environ['HUMEKIT_PG_BINDIR']}" if os.environ.get("HUMEKIT_PG_BINDIR") else \
            "installed"
        return (f"PostgreSQL's server binaries (initdb, pg_ctl, postgres) are not {where}: apt-get install postgresql "
                "(or set HUMEKIT_PG_BINDIR to their folder) to run the ledger tests on PostgreSQL too")
    if os.geteuid() == 0 and not _has_role_user():
        return f"running as root, and there is no unprivileged {_ROLE!r} user to run the PostgreSQL server as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed: pip install 'humekit[postgresql]' to run the ledger tests on PostgreSQL too"
    return None


def _has_role_user() -> bool:
    try:
        pwd.getpwnam(_ROLE)
    except KeyError:
        return False
    return True


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


class PostgresServer:
    """A server started from the binaries in a fresh folder; :meth:`stop` removes it all."""

    def __init__(self) -> None:
        self.bin = bindir()
        assert self.bin is not None, postgres_missing()
        self.folder = Path(tempfile.mkdtemp(prefix="humekit-pg-"))  # in /tmp: the server's user can reach it
        self.data, self.socket, self.log = self.folder / "data", self.folder, self.folder / "server.log"
        self.user = _ROLE if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self._names = itertools.count(1)
        if os.geteuid() == 0:
            account = pwd.getpwnam(_ROLE)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        try:
            self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8", "--no-sync")
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.write(_SETTINGS.format(socket=self.socket))
            self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-s", "start")
            self._admin(f"CREATE DATABASE {_TESTS_DATABASE}")
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        """A URL of a database on this server (``password``: any; trust authentication ignores it)."""
        secret = f":{password}" if password is not None else ""
        return f"postgresql://{self.user}{secret}@/{database}?host={self.socket}"

    def create_database(self) -> str:
        """A new, empty database's URL (its tables go in its ``public`` schema)."""
        name = f"ledger_{next(self._names)}"
        self._admin(f"CREATE DATABASE {name}")
        return self.url(name)

    def create_schema(self) -> str:
        """The URL of a new, empty schema in the tests' database (``search_path`` set by the URL)."""
        name = f"ledger_{next(self._names)}"
        self._admin(f"CREATE SCHEMA {name}", database=_TESTS_DATABASE)
        return f"{self.url(_TESTS_DATABASE)}&options=-csearch_path%3D{name}"

    def _admin(self, statement: str, *, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as admin:
            admin.execute(statement)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-s", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        assert self.bin is not None
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", _ROLE, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]}\n{log}")


def start_postgres() -> PostgresServer:
    """A running throwaway server; or skip (one line), or fail under ``CI=true``, when none can be started."""
    missing = postgres_missing()
    if missing is not None:
        if in_ci():
            pytest.fail(f"CI=true: {missing}")
        pytest.skip(missing)
    return PostgresServer()
