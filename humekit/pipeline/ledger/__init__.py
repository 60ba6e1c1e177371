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

from humekit.pipeline.ledger.core import Ledger
from humekit.pipeline.ledger.records import Claim, LedgerInput, owner_token, payload_key
from humekit.pipeline.ledger.store import DEFAULT_LEDGER

__all__ = ["DEFAULT_LEDGER", "Claim", "Ledger", "LedgerInput", "owner_token", "payload_key"]
