"""The ledger: a durable SQLite record of every unit of work, its inputs, the rows they belong to, and its answer.

A unit (a v0 job, a synchronous request) is written *before* it is sent (state ``submitting``) together
with its input→row mapping; an API's id for it (a v0 ``job_id``) is committed the moment the API returns
it, and its answer the moment it exists, so a rerun or a crash never loses a unit and never pays twice: a
rerun finds the unit, and a claim left ``submitting`` by a dead process is the backend's to reconcile (v0
looks in ``GET /v0/batch/jobs``) before anything is resent. Answers are kept here (compressed), so
re-joining never refetches. The tables keep their first names (``jobs``: the units). Files' md5 digests are cached by path
and reused only while the file's size, modification time, change time and inode are all
unchanged, so a file replaced in place (even by a copy that keeps its timestamps) is hashed and
measured again. Webhook events share the same file.

Concurrency: every write is one short ``BEGIN IMMEDIATE`` transaction in WAL mode, so two
processes (or threads) can use one ledger; a job key can be claimed by only one of them.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from humekit._internal.sqlite import connect
from humekit.clock import Clock, SystemClock
from humekit.errors import LedgerError

__all__ = ["DEFAULT_LEDGER", "Claim", "Ledger", "LedgerInput", "payload_key"]

_IN_CHUNK = 500  # values per IN (...) list, well under SQLite's bound-parameter limit

#: The ledger used when none is given: a file in the working directory, next to the notebook.
DEFAULT_LEDGER = "humekit-ledger.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_key      TEXT PRIMARY KEY,
    job_id       TEXT UNIQUE,
    backend      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    state        TEXT NOT NULL,          -- submitting | submitted | rejected | abandoned
    status       TEXT,                   -- the API's: QUEUED | IN_PROGRESS | COMPLETED | FAILED
    message      TEXT,
    owner        TEXT,
    request      TEXT NOT NULL,          -- the request sent (without file bytes), JSON
    claimed_ms   INTEGER NOT NULL,
    submitted_ms INTEGER,
    updated_ms   INTEGER NOT NULL,
    num_inputs   INTEGER NOT NULL,
    num_rows     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS inputs (
    job_key     TEXT NOT NULL REFERENCES jobs(job_key),
    input_key   TEXT NOT NULL,           -- the URL, the upload filename, or the 1-based text index
    fingerprint TEXT NOT NULL,           -- row identity: ID + content + model configuration
    id_token    TEXT NOT NULL,
    content     TEXT NOT NULL,           -- md5 of a file, the URL, or sha256 of a text
    md5         TEXT,
    superseded  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_key, fingerprint)
);
CREATE INDEX IF NOT EXISTS inputs_by_fingerprint ON inputs(fingerprint, superseded);
CREATE INDEX IF NOT EXISTS inputs_by_row ON inputs(id_token, superseded);
CREATE TABLE IF NOT EXISTS file_digests (
    path     TEXT PRIMARY KEY,           -- a digest is reused only while the file's whole stamp is unchanged:
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,           -- changes on any write or replacement, even one that restores mtime
    inode    INTEGER NOT NULL,           -- a file replaced by another (copy, move, re-export) has a new inode
    md5      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refused_payloads (
    payload    TEXT PRIMARY KEY,         -- payload_key(request): what was sent, whatever the job key
    job_key    TEXT NOT NULL,            -- the job whose POST the API refused
    message    TEXT NOT NULL,            -- the API's reason
    refused_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
    job_key   TEXT PRIMARY KEY,          -- the unit
    body      BLOB NOT NULL,             -- zlib-compressed answer, as the API sent it
    stored_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS predictions (
    job_id   TEXT PRIMARY KEY,           -- v0 answers stored by job id before the unit was known (or by
    body     BLOB NOT NULL,              -- ledgers written before answers had their own table): moved to
    fetched_ms INTEGER NOT NULL          -- answers when the job id's unit is known
);
"""


@dataclass(frozen=True, slots=True)
class LedgerInput:
    """One input of a job and one row it answers for (an input may answer for several rows)."""

    input_key: str
    fingerprint: str
    id_token: str
    content: str
    md5: str | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """What the ledger knows about a job key after trying to claim it."""

    job_key: str
    state: str
    job_id: str | None
    owner: str | None
    claimed_ms: int
    ours: bool
    r"""Whether this call created the claim (so this process must submit the job)."""


def payload_key(request: Mapping[str, Any]) -> str:
    """What identifies a payload the API may refuse: the endpoint, the models and transcription, the
    kind and the content of every input in order (file md5s, URLs, text digests). It leaves out the
    job key (a retry's keys are new), upload names and paths, which do not change what is sent for a limit."""
    contents = (request.get("urls") or request.get("text_sha256")
                or [f.get("md5sum") for f in request.get("files") or []])
    kind = "url" if "urls" in request else "text" if "text_sha256" in request else "file"
    canonical = {"endpoint": request.get("endpoint"), "models": request.get("models"),
                 "transcription": request.get("transcription"), "kind": kind, "contents": list(contents)}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def _stamp(path: str) -> tuple[int, int, int, int] | None:
    """What must be unchanged for a remembered digest to be reused: size, mtime, ctime and inode.

    mtime alone is not enough: a copy that keeps its timestamps (``cp -p``, ``os.utime``, a sync
    tool) restores it, but the change time (set by the kernel on every write, rename or chmod,
    and not settable by users) and the inode of a replaced file do change.
    """
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino


def owner_token() -> str:
    """Who holds a claim: host and process, so a dead owner's claim can be recognised."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Ledger:
    """A job ledger in one SQLite file.

    Args:
        path: the file (created if missing). Default: ``humekit-ledger.sqlite`` in the working directory.
        clock: where timestamps come from (the API client's clock, so they compare with the API's).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, clock: Clock | None = None):
        self.path = Path(path if path is not None else DEFAULT_LEDGER).resolve()
        self.clock: Clock = clock or SystemClock()
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db().executescript(_SCHEMA)  # idempotent; executescript manages its own transaction
            self._remember_old_refusals()
            self._move_answers_by_job_id()
        except sqlite3.Error as exc:
            raise LedgerError(f"Cannot open the ledger at {self.path}: {exc}. Check the path and its "
                              "permissions, or pass ledger= another file.") from exc

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def _now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    # -- connections -------------------------------------------------------------------------
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

    # -- jobs --------------------------------------------------------------------------------
    def claim(
        self, job_key: str, *, backend: str, kind: str, request: dict[str, Any], inputs: Sequence[LedgerInput]
    ) -> Claim:
        """Record the intent to submit a job with its input→row mapping, or return the existing claim."""
        now = self._now_ms()
        with self._write() as db:
            row = db.execute("SELECT state, job_id, owner, claimed_ms FROM jobs WHERE job_key=?", (job_key,)).fetchone()
            if row is not None:
                return Claim(job_key, row[0], row[1], row[2], row[3], ours=False)
            owner = owner_token()
            db.execute(
                "INSERT INTO jobs (job_key, backend, kind, state, owner, request, claimed_ms, updated_ms, num_inputs,"
                " num_rows) VALUES (?, ?, ?, 'submitting', ?, ?, ?, ?, ?, ?)",
                (job_key, backend, kind, owner, json.dumps(request, sort_keys=True), now, now,
                 len({i.input_key for i in inputs}), len(inputs)),
            )
            db.executemany(
                "INSERT INTO inputs (job_key, input_key, fingerprint, id_token, content, md5) VALUES (?,?,?,?,?,?)",
                [(job_key, i.input_key, i.fingerprint, i.id_token, i.content, i.md5) for i in inputs],
            )
        return Claim(job_key, "submitting", None, owner, now, ours=True)

    def take_over(self, job_key: str, *, expected_owner: str | None) -> bool:
        """Make this process the owner of a stale ``submitting`` claim; False if someone else did first."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE jobs SET owner=?, updated_ms=? WHERE job_key=? AND state='submitting' AND owner IS ?",
                (owner_token(), self._now_ms(), job_key, expected_owner),
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
            db.execute("INSERT OR IGNORE INTO refused_payloads (payload, job_key, message, refused_ms) VALUES (?,?,?,?)",
                       (payload, job_key, message, now))

    def refusal(self, payload: str) -> str | None:
        """The API's reason if it ever refused this payload (a :func:`payload_key`), else ``None``."""
        row = self._db().execute("SELECT message FROM refused_payloads WHERE payload=?", (payload,)).fetchone()
        return None if row is None else str(row[0])

    def _remember_old_refusals(self) -> None:
        """Ledgers written before refused payloads had their own table: derive them from the rejected jobs."""
        missing = self._db().execute(
            "SELECT job_key, request, message, updated_ms FROM jobs WHERE state='rejected'"
            " AND job_key NOT IN (SELECT job_key FROM refused_payloads)").fetchall()
        if missing:
            with self._write() as db:
                db.executemany(
                    "INSERT OR IGNORE INTO refused_payloads (payload, job_key, message, refused_ms) VALUES (?,?,?,?)",
                    [(payload_key(json.loads(request)), key, message or "refused for a limit", ms)
                     for key, request, message, ms in missing])

    def _move_answers_by_job_id(self) -> None:
        """Answers kept by v0 job id (older ledgers, or stored before the job's unit was known) move to
        ``answers``, keyed by their unit."""
        if self._db().execute("SELECT 1 FROM predictions p JOIN jobs j ON j.job_id = p.job_id LIMIT 1").fetchone():
            with self._write() as db:
                db.execute("INSERT OR IGNORE INTO answers (job_key, body, stored_ms) SELECT j.job_key, p.body,"
                           " p.fetched_ms FROM predictions p JOIN jobs j ON j.job_id = p.job_id")
                db.execute("DELETE FROM predictions WHERE job_id IN (SELECT job_id FROM jobs WHERE job_id IS NOT NULL)")

    def release(self, job_key: str) -> None:
        """Forget a claim whose POST the API refused outright (nothing was created), so that the next
        run claims it afresh instead of reconciling it against the job list."""
        with self._write() as db:
            row = db.execute("SELECT 1 FROM jobs WHERE job_key=? AND state='submitting' AND job_id IS NULL",
                             (job_key,)).fetchone()
            if row is not None:
                db.execute("DELETE FROM inputs WHERE job_key=?", (job_key,))
                db.execute("DELETE FROM jobs WHERE job_key=?", (job_key,))

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

    def supersede(self, fingerprints: Iterable[str]) -> None:
        """Detach rows from their current jobs so they can be submitted again (retrying failures)."""
        with self._write() as db:
            db.executemany("UPDATE inputs SET superseded=1 WHERE fingerprint=?", [(f,) for f in fingerprints])

    def state(self, job_key: str) -> Claim | None:
        """The current claim of a job key, if any."""
        row = self._db().execute("SELECT state, job_id, owner, claimed_ms FROM jobs WHERE job_key=?",
                                 (job_key,)).fetchone()
        return None if row is None else Claim(job_key, row[0], row[1], row[2], row[3], ours=False)

    # -- lookups -----------------------------------------------------------------------------
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

    def assigned(self, fingerprints: Sequence[str]) -> dict[str, str]:
        """For each fingerprint with a live (not superseded) assignment: its job key."""
        found = self._select_in(
            "SELECT fingerprint, job_key FROM inputs WHERE superseded=0 AND fingerprint IN ({marks})", fingerprints
        )
        return dict(zip(found["fingerprint"], found["job_key"], strict=True))

    def live_inputs(self, id_tokens: Sequence[str]) -> pd.DataFrame:
        """Every live (not superseded) input recorded for the rows with these ID tokens, in the order
        recorded: ``job_key``, ``fingerprint``, ``id_token``, ``content``."""
        return self._select_in(
            "SELECT rowid AS seq, job_key, fingerprint, id_token, content FROM inputs"
            " WHERE superseded=0 AND id_token IN ({marks})",
            id_tokens,
            order=("seq",),
        )

    def jobs(self, job_keys: Iterable[str] | None = None) -> pd.DataFrame:
        """Jobs as a DataFrame (all, or those with the given keys), in the order they were claimed."""
        query = ("SELECT job_key, job_id, backend, kind, state, status, message, owner, claimed_ms, submitted_ms,"
                 " updated_ms, num_inputs, num_rows FROM jobs")
        if job_keys is None:
            return pd.read_sql_query(query + " ORDER BY claimed_ms, rowid", self._db())
        return self._select_in(query.replace("SELECT ", "SELECT rowid AS seq, ", 1) + " WHERE job_key IN ({marks})",
                               job_keys, order=("claimed_ms", "seq"))

    def inputs(self, job_keys: Iterable[str]) -> pd.DataFrame:
        """The input→row mapping of the given jobs, in the order it was recorded."""
        return self._select_in(
            "SELECT rowid AS seq, job_key, input_key, fingerprint, id_token, content, md5, superseded FROM inputs"
            " WHERE job_key IN ({marks})",
            job_keys,
            order=("seq",),
        )

    def requests(self, job_keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The requests recorded for these jobs, in one query (keys not in the ledger are left out)."""
        found = self._select_in("SELECT job_key, request FROM jobs WHERE job_key IN ({marks})", job_keys)
        return {key: json.loads(text) for key, text in zip(found["job_key"], found["request"], strict=True)}

    def request(self, job_key: str) -> dict[str, Any]:
        """The request recorded for a job."""
        row = self._db().execute("SELECT request FROM jobs WHERE job_key=?", (job_key,)).fetchone()
        if row is None:
            raise LedgerError(f"No job {job_key!r} in the ledger at {self.path}")
        return json.loads(row[0])

    # -- file digests ------------------------------------------------------------------------
    def known_md5s(self, paths: Iterable[str]) -> dict[str, str]:
        """The md5 of each file hashed before whose size, mtime, ctime and inode are all unchanged
        (any difference, such as a file replaced in place by a copy that kept its timestamps,
        means it is read and hashed again)."""
        stamps = {path: stamp for path in dict.fromkeys(paths) if (stamp := _stamp(path)) is not None}
        found = self._select_in("SELECT path, size, mtime_ns, ctime_ns, inode, md5 FROM file_digests"
                                " WHERE path IN ({marks})", stamps)
        return {path: md5 for path, *stamp, md5 in found.itertuples(index=False, name=None)
                if stamps.get(path) == tuple(int(v) for v in stamp)}

    def remember_md5s(self, digests: Mapping[str, str]) -> None:
        """Keep files' md5 digests with their stamp (size, mtime, ctime, inode)."""
        rows = [(path, *stamp, md5) for path, md5 in digests.items() if (stamp := _stamp(path)) is not None]
        if not rows:
            return
        with self._write() as db:
            db.executemany("INSERT OR REPLACE INTO file_digests (path, size, mtime_ns, ctime_ns, inode, md5)"
                           " VALUES (?, ?, ?, ?, ?, ?)", rows)

    # -- answers -----------------------------------------------------------------------------
    def record_answer(self, job_key: str, body: bytes, *, remote_id: str | None = None) -> None:
        """A unit's answer, stored compressed the moment it arrives (a synchronous API answers the request
        itself), and the unit marked ``COMPLETED`` in the same transaction: nothing answered is ever lost
        or sent again. ``remote_id``: the API's id of the request, if it gives one."""
        now = self._now_ms()
        with self._write() as db:
            db.execute("INSERT INTO answers (job_key, body, stored_ms) VALUES (?, ?, ?) ON CONFLICT(job_key) DO NOTHING",
                       (job_key, zlib.compress(body, 6), now))
            db.execute("UPDATE jobs SET state='submitted', status='COMPLETED', job_id=COALESCE(job_id, ?),"
                       " submitted_ms=COALESCE(submitted_ms, ?), updated_ms=? WHERE job_key=?",
                       (remote_id, now, now, job_key))

    def record_failed(self, job_key: str, message: str) -> None:
        """A unit the API answered with an error that is not about a limit (it is ``FAILED``, with why);
        ``retry_failed`` may send its rows again."""
        now = self._now_ms()
        with self._write() as db:
            db.execute("UPDATE jobs SET state='submitted', status='FAILED', message=?, submitted_ms=COALESCE("
                       "submitted_ms, ?), updated_ms=? WHERE job_key=?", (message, now, now, job_key))

    def answer(self, job_key: str) -> bytes | None:
        """A unit's stored answer, or ``None`` if it has none yet."""
        row = self._db().execute("SELECT body FROM answers WHERE job_key=?", (job_key,)).fetchone()
        if row is None:  # a v0 answer stored by job id before its unit was known
            row = self._db().execute("SELECT p.body FROM predictions p JOIN jobs j ON j.job_id = p.job_id"
                                     " WHERE j.job_key=?", (job_key,)).fetchone()
        return None if row is None else zlib.decompress(row[0])

    def answered(self, job_keys: Iterable[str]) -> set[str]:
        """Which of these units have a stored answer."""
        keys = list(job_keys)
        found = set(self._select_in("SELECT job_key FROM answers WHERE job_key IN ({marks})", keys)["job_key"])
        return found | set(self._select_in("SELECT j.job_key FROM predictions p JOIN jobs j ON j.job_id = p.job_id"
                                           " WHERE j.job_key IN ({marks})", keys)["job_key"])

    # v0's view of answers: by job id (a callback names the job by its id)
    def store_predictions(self, job_id: str, body: bytes) -> None:
        """Keep a v0 job's predictions JSON (as sent by the API), compressed, as its unit's answer."""
        with self._write() as db:
            row = db.execute("SELECT job_key FROM jobs WHERE job_id=?", (job_id,)).fetchone()
            if row is None:  # not recorded yet (a callback faster than the POST's answer): kept by job id
                db.execute("INSERT INTO predictions (job_id, body, fetched_ms) VALUES (?, ?, ?)"
                           " ON CONFLICT(job_id) DO NOTHING", (job_id, zlib.compress(body, 6), self._now_ms()))
            else:
                db.execute("INSERT INTO answers (job_key, body, stored_ms) VALUES (?, ?, ?)"
                           " ON CONFLICT(job_key) DO NOTHING", (row[0], zlib.compress(body, 6), self._now_ms()))

    def predictions(self, job_id: str) -> bytes | None:
        """A v0 job's stored predictions JSON, or ``None`` if not fetched yet."""
        row = self._db().execute("SELECT a.body FROM answers a JOIN jobs j ON j.job_key = a.job_key"
                                 " WHERE j.job_id=?", (job_id,)).fetchone()
        if row is None:
            row = self._db().execute("SELECT body FROM predictions WHERE job_id=?", (job_id,)).fetchone()
        return None if row is None else zlib.decompress(row[0])

    def has_predictions(self, job_ids: Iterable[str]) -> set[str]:
        """Which of these v0 jobs already have stored predictions."""
        ids = list(job_ids)
        found = set(self._select_in("SELECT j.job_id FROM answers a JOIN jobs j ON j.job_key = a.job_key"
                                    " WHERE j.job_id IN ({marks})", ids)["job_id"])
        return found | set(self._select_in("SELECT job_id FROM predictions WHERE job_id IN ({marks})", ids)["job_id"])

    def integrity_check(self) -> str:
        """SQLite's own integrity check: ``"ok"`` when the file is sound."""
        return self._db().execute("PRAGMA integrity_check").fetchone()[0]
