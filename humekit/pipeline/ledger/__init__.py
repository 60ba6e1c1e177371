"""The ledger: a durable record of every unit of work, its inputs, the rows they belong to, and its answer.

It lives in a SQLite file (the embedded default: ``ledger="study.sqlite"``) or in a PostgreSQL database that
processes on several machines share (``ledger="postgresql://user@host/db"``); :mod:`.location` says which a
``ledger=`` value names and refuses any other URL, :mod:`.engines` holds what differs between the two.

A unit (a v0 job, a synchronous request) is written *before* it is sent (state ``submitting``) together
with its input→row mapping; an API's id for it (a v0 ``job_id``) is committed the moment the API returns
it, and its answer the moment it exists, so a rerun or a crash never loses a unit and never pays twice: a
rerun finds the unit, and a claim left ``submitting`` by a dead process is the backend's to reconcile (v0
looks in ``GET /v0/batch/jobs``) before anything is resent. Answers are kept here (compressed), so
re-joining never refetches. The tables keep their first names (``jobs``: the units). Files' md5 digests are cached by path
and reused only while the file's size, modification time, change time and inode are all
unchanged, so a file replaced in place (even by a copy that keeps its timestamps) is hashed and
measured again. (A webhook receiver keeps its events in a SQLite file of its own, whichever the ledger.)

Concurrency: every write is one short transaction (SQLite: ``BEGIN IMMEDIATE`` in WAL mode; PostgreSQL: READ
COMMITTED with unique keys, row locks and compare-and-swap updates), so processes and threads, and on
PostgreSQL machines, can share one ledger; a job key can be claimed by only one of them.
"""

from humekit.pipeline.ledger.core import Ledger
from humekit.pipeline.ledger.records import Claim, LedgerInput, owner_token, payload_key
from humekit.pipeline.ledger.store import DEFAULT_LEDGER

__all__ = ["DEFAULT_LEDGER", "Claim", "Ledger", "LedgerInput", "owner_token", "payload_key"]
