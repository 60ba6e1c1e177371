"""The :class:`Ledger`: units, their input→row mapping, answers and file digests, in SQLite or PostgreSQL."""

from __future__ import annotations

import os

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
    """A job ledger: a SQLite file on this machine, or a PostgreSQL database several machines share.

    Args:
        location: a SQLite file's path (created if missing; default ``humekit-ledger.sqlite`` in the working
            directory), or a PostgreSQL URL, ``postgresql://user@host:5432/database`` (libpq's form, also
            ``postgres://``; its tables are created on first use). The password is best kept out of the URL
            (``PGPASSWORD``, ``~/.pgpass``); one in it is masked in every repr and message. Any other URL
            (``mysql://``, ``sqlite:///``, ``http://``...) is refused.
        clock: where timestamps come from (the API client's clock, so they compare with the API's).
        path: the earlier name of ``location`` (still accepted).

    Raises:
        LedgerError: the location is a URL humekit cannot keep a ledger in, the file is not a ledger, or the
            PostgreSQL server cannot be reached or its tables created (the message names the host, never the
            password, and what to do).

    Both engines give the same guarantees: a unit is claimed before it is sent and only one process (on any
    machine) gets a claim, answers are committed the moment they arrive, and reruns and ``retry_failed``
    behave the same. Webhook receivers keep their events in their own SQLite file either way.
    """

    def __init__(self, location: str | os.PathLike[str] | None = None, *, clock: Clock | None = None,
                 path: str | os.PathLike[str] | None = None):
        if path is not None:  # the argument's name in earlier releases (a SQLite file's path)
            if location is not None:
                raise LedgerError("Ledger() got both location= and path=: give one (path= is the earlier name "
                                  "of location=)")
            location = path
        super().__init__(location, clock=clock)
        try:
            self._prepare()
        except LedgerError:
            raise
        except Exception as exc:
            error = self._engine.open_failed(exc)
            if error is None:
                raise
            raise error from exc
