"""The ledger's tables, created when missing, and the migrations that bring an older ledger up to date.

One schema for both engines: ``{blob}`` is ``BLOB`` or ``BYTEA``, and ``{rowid}`` gives PostgreSQL the insertion
order SQLite keeps in its implicit ``rowid`` (the lookups read both as ``rowid``).
"""

from __future__ import annotations

import json

from humekit.pipeline.ledger.engines import Connection
from humekit.pipeline.ledger.records import payload_key
from humekit.pipeline.ledger.store import LedgerStore

__all__ = ["SchemaMixin"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    {rowid}
    job_key      TEXT PRIMARY KEY,
    job_id       TEXT UNIQUE,
    backend      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    state        TEXT NOT NULL,          -- submitting | submitted | rejected | abandoned
    status       TEXT,                   -- the API's: QUEUED | IN_PROGRESS | COMPLETED | FAILED
    message      TEXT,
    owner        TEXT,
    request      TEXT NOT NULL,          -- the request sent (without file bytes), JSON
    claimed_ms   BIGINT NOT NULL,        -- times: Unix milliseconds (BIGINT: PostgreSQL's INTEGER is 32 bits)
    submitted_ms BIGINT,
    updated_ms   BIGINT NOT NULL,
    num_inputs   INTEGER NOT NULL,
    num_rows     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS inputs (
    {rowid}
    job_key     TEXT NOT NULL REFERENCES jobs(job_key) ON DELETE CASCADE,
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
CREATE INDEX IF NOT EXISTS inputs_by_content ON inputs(content, superseded);
CREATE TABLE IF NOT EXISTS file_digests (
    path     TEXT PRIMARY KEY,           -- a digest is reused only while the file's whole stamp is unchanged:
    size     BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    ctime_ns BIGINT NOT NULL,            -- changes on any write or replacement, even one that restores mtime
    inode    BIGINT NOT NULL,            -- a file replaced by another (copy, move, re-export) has a new inode
    md5      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refused_payloads (
    payload    TEXT PRIMARY KEY,         -- payload_key(request): what was sent, whatever the job key
    job_key    TEXT NOT NULL,            -- the job whose POST the API refused
    message    TEXT NOT NULL,            -- the API's reason
    refused_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS sends (
    job_key    TEXT NOT NULL,            -- a unit of a synchronous API, sent once more for each row here (a crash
    seq        INTEGER NOT NULL,         -- or a dropped connection between sending and storing its answer makes
    sent_ms    BIGINT,                   -- a resend, and each may have been billed); NULL: counted by an older ledger
    bytes      BIGINT,                   -- the media bytes it carried (its files' parts), once known
    run_id     TEXT,                     -- the API's id of what this send became: from its answer, or found in the
    checked_ms BIGINT,                   -- API's runs for a send whose answer was lost (checked_ms: when looked up)
    PRIMARY KEY (job_key, seq)
);
CREATE TABLE IF NOT EXISTS answers (
    job_key   TEXT PRIMARY KEY,          -- the unit
    body      {blob} NOT NULL,           -- zlib-compressed answer, as the API sent it
    stored_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS predictions (
    job_id     TEXT PRIMARY KEY,         -- v0 answers stored by job id before the unit was known (or by
    body       {blob} NOT NULL,          -- ledgers written before answers had their own table): moved to
    fetched_ms BIGINT NOT NULL           -- answers when the job id's unit is known
);
"""

_TABLES = ("jobs", "inputs", "file_digests", "refused_payloads", "sends", "answers", "predictions")


class SchemaMixin(LedgerStore):
    """Creates the tables of a new ledger and upgrades an older one (every step idempotent)."""

    def _prepare(self) -> None:
        """Create what is missing and migrate what an older ledger kept elsewhere: one transaction, one process
        at a time (every step is idempotent, so the second opener of a new ledger finds it done)."""
        with self._write() as db:
            self._engine.lock_schema(db)
            for statement in self._engine.ddl(_SCHEMA):
                db.execute(statement)
            self._remember_old_refusals(db)
            self._move_answers_by_job_id(db)
            self._count_old_attempts_as_sends(db)

    @staticmethod
    def _remember_old_refusals(db: Connection) -> None:
        """Ledgers written before refused payloads had their own table: derive them from the rejected jobs."""
        missing = db.execute(
            "SELECT job_key, request, message, updated_ms FROM jobs WHERE state='rejected'"
            " AND job_key NOT IN (SELECT job_key FROM refused_payloads)").fetchall()
        if missing:
            db.executemany(
                "INSERT INTO refused_payloads (payload, job_key, message, refused_ms) VALUES (?,?,?,?)"
                " ON CONFLICT (payload) DO NOTHING",
                [(payload_key(json.loads(request)), key, message or "refused for a limit", ms)
                 for key, request, message, ms in missing])

    @staticmethod
    def _move_answers_by_job_id(db: Connection) -> None:
        """Answers kept by v0 job id (older ledgers, or stored before the job's unit was known) move to
        ``answers``, keyed by their unit."""
        if db.execute("SELECT 1 FROM predictions p JOIN jobs j ON j.job_id = p.job_id LIMIT 1").fetchone():
            db.execute("INSERT INTO answers (job_key, body, stored_ms) SELECT j.job_key, p.body, p.fetched_ms"
                       " FROM predictions p JOIN jobs j ON j.job_id = p.job_id"
                       " WHERE true ON CONFLICT (job_key) DO NOTHING")  # WHERE: SQLite's rule for an upsert's SELECT
            db.execute("DELETE FROM predictions WHERE job_id IN (SELECT job_id FROM jobs WHERE job_id IS NOT NULL)")

    def _count_old_attempts_as_sends(self, db: Connection) -> None:
        """Ledgers that only counted a unit's sends (table ``attempts``): each counted send becomes a row of
        ``sends`` with no time (it cannot be looked up in the API's runs), and the count is dropped."""
        if not self._engine.table_exists(db, "attempts"):
            return
        for job_key, sent in db.execute("SELECT job_key, sent FROM attempts").fetchall():
            db.executemany("INSERT INTO sends (job_key, seq) VALUES (?, ?) ON CONFLICT (job_key, seq) DO NOTHING",
                           [(job_key, seq) for seq in range(1, int(sent) + 1)])
        db.execute("DROP TABLE attempts")

    def integrity_check(self) -> str:
        """``"ok"`` when the ledger is sound: SQLite's own integrity check of the file; on PostgreSQL, every
        ledger table read through (the server keeps its pages consistent and fails a read of a damaged one)."""
        return self._engine.integrity_check(self._db(), _TABLES)
