"""The ledger's tables, created when missing, and the migrations that bring an older ledger file up to date."""

from __future__ import annotations

import json

from humekit.pipeline.ledger.records import payload_key
from humekit.pipeline.ledger.store import LedgerStore

__all__ = ["SchemaMixin"]

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
CREATE TABLE IF NOT EXISTS sends (
    job_key    TEXT NOT NULL,            -- a unit of a synchronous API, sent once more for each row here (a crash
    seq        INTEGER NOT NULL,         -- or a dropped connection between sending and storing its answer makes
    sent_ms    INTEGER,                  -- a resend, and each may have been billed); NULL: counted by an older ledger
    bytes      INTEGER,                  -- the media bytes it carried (its files' parts), once known
    run_id     TEXT,                     -- the API's id of what this send became: from its answer, or found in the
    checked_ms INTEGER,                  -- API's runs for a send whose answer was lost (checked_ms: when looked up)
    PRIMARY KEY (job_key, seq)
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


class SchemaMixin(LedgerStore):
    """Creates the tables of a new ledger and upgrades an older one (every step idempotent)."""

    def _prepare(self) -> None:
        """Create what is missing and migrate what an older ledger kept elsewhere."""
        self._db().executescript(_SCHEMA)  # idempotent; executescript manages its own transaction
        self._remember_old_refusals()
        self._move_answers_by_job_id()
        self._count_old_attempts_as_sends()

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

    def _count_old_attempts_as_sends(self) -> None:
        """Ledgers that only counted a unit's sends (table ``attempts``): each counted send becomes a row of
        ``sends`` with no time (it cannot be looked up in the API's runs), and the count is dropped."""
        db = self._db()
        if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='attempts'").fetchone() is None:
            return
        with self._write() as tx:
            for job_key, sent in tx.execute("SELECT job_key, sent FROM attempts").fetchall():
                tx.executemany("INSERT OR IGNORE INTO sends (job_key, seq) VALUES (?, ?)",
                               [(job_key, seq) for seq in range(1, int(sent) + 1)])
            tx.execute("DROP TABLE attempts")
