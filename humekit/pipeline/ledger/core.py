"""The :class:`Ledger`: one SQLite file holding units, their input→row mapping, answers and file digests."""

from __future__ import annotations

import os
import sqlite3

from humekit.clock import Clock
from humekit.errors import LedgerError
from humekit.pipeline.ledger.answers import AnswersMixin
from humekit.pipeline.ledger.digests import DigestsMixin
from humekit.pipeline.ledger.lookups import LookupsMixin
from humekit.pipeline.ledger.schema import SchemaMixin
from humekit.pipeline.ledger.sends import SendsMixin
from humekit.pipeline.ledger.units import UnitsMixin

__all__ = ["Ledger"]


class Ledger(UnitsMixin, LookupsMixin, AnswersMixin, SendsMixin, DigestsMixin, SchemaMixin):
    """A job ledger in one SQLite file.

    Args:
        path: the file (created if missing). Default: ``humekit-ledger.sqlite`` in the working directory.
        clock: where timestamps come from (the API client's clock, so they compare with the API's).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, clock: Clock | None = None):
        super().__init__(path, clock=clock)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._prepare()
        except sqlite3.Error as exc:
            raise LedgerError(f"Cannot open the ledger at {self.path}: {exc}. Check the path and its "
                              "permissions, or pass ledger= another file.") from exc
