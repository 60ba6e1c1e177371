"""What a ledger holds, read in bulk: rows' assignments, live inputs, units, their inputs and their requests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from humekit.errors import LedgerError
from humekit.pipeline.ledger.store import LedgerStore

__all__ = ["LookupsMixin"]


class LookupsMixin(LedgerStore):
    """Reads of the units and the input→row mapping (``IN`` lists chunked, order as recorded)."""

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

    def identical_inputs(self, contents: Sequence[str]) -> pd.DataFrame:
        """The live inputs holding these contents (md5 of a file, a URL, sha256 of a text), in the order recorded:
        ``job_key``, ``input_key``, ``content`` and the ``fingerprint`` of the row they were recorded for; what a
        row holding an identical input can be answered by."""
        return self._select_in(
            "SELECT MIN(rowid) AS seq, job_key, input_key, content, fingerprint FROM inputs"
            " WHERE superseded=0 AND content IN ({marks}) GROUP BY job_key, input_key, content, fingerprint",
            contents,
            order=("seq",),
        )

    def jobs(self, job_keys: Iterable[str] | None = None) -> pd.DataFrame:
        """Jobs as a DataFrame (all, or those with the given keys), in the order they were claimed."""
        query = ("SELECT job_key, job_id, backend, kind, state, status, message, owner, claimed_ms, submitted_ms,"
                 " updated_ms, num_inputs, num_rows FROM jobs")
        if job_keys is None:
            return self._select(query + " ORDER BY claimed_ms, rowid")
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
            raise LedgerError(f"No job {job_key!r} in the ledger at {self.location}")
        return json.loads(row[0])
