"""The cluster-wide cap on requests in flight: one ``distributed.Semaphore`` whose leases every request holds.

:class:`RequestBudget` names the semaphore and its size; it is what the task graph carries (a name and a
number, nothing that holds a connection). On the client, :meth:`RequestBudget.open` registers the semaphore
with the scheduler; on a worker, :meth:`RequestBudget.limiter` is what the API clients are given
(``V1Client(limiter=...)``, ``Client(limiter=...)``): :func:`humekit.backends._http.send` holds one lease for
exactly the time a request is on the wire, never while a retry waits, so however many workers and threads
send, at most ``max_in_flight`` requests reach Hume at once.

A lease whose worker dies is given back by the scheduler after ``distributed.scheduler.locks.lease-timeout``
(30 s by default), so a killed worker slows the others for that long at most.
"""

from __future__ import annotations

import secrets
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from humekit.errors import ConfigurationError

if TYPE_CHECKING:
    from distributed import Client, Semaphore

__all__ = ["RequestBudget", "forget"]

#: One semaphore object per (name, size) in each worker process: it keeps its leases refreshed on the worker's
#: event loop, so it is made once (in a task, where the worker is known) and shared by the tasks after it.
_SEMAPHORES: dict[tuple[str, int], Semaphore] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class RequestBudget:
    """At most ``max_in_flight`` requests in flight across the cluster, under the semaphore ``name``.

    Build one with :meth:`for_call` (a new semaphore for one call) or :meth:`shared` (an existing
    ``distributed.Semaphore``, so several calls share one budget).
    """

    name: str
    max_in_flight: int
    owned: bool = True
    r"""Whether this call made the semaphore (and so forgets it when done: :func:`forget`)."""

    @classmethod
    def for_call(cls, max_in_flight: int) -> RequestBudget:
        """A semaphore of its own for one call, closed when the call ends."""
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
            raise ConfigurationError(f"max_in_flight={max_in_flight!r}: give the most requests to Hume in flight at "
                                     "once across the cluster, a whole number >= 1 (or None for no cap)")
        return cls(f"humekit-requests-{secrets.token_hex(6)}", max_in_flight)

    @classmethod
    def shared(cls, semaphore: Semaphore) -> RequestBudget:
        """The budget of a ``distributed.Semaphore`` the caller made (and closes): calls given the same one share it."""
        return cls(str(semaphore.name), int(semaphore.max_leases), owned=False)

    def open(self, client: Client) -> Semaphore:
        """On the client: the semaphore, registered with ``client``'s scheduler before any task asks for a lease."""
        from distributed import Semaphore

        semaphore = Semaphore(max_leases=self.max_in_flight, name=self.name, scheduler_rpc=client.scheduler,
                              loop=client.loop)
        semaphore.register()
        return semaphore

    def limiter(self) -> _Lease:
        """On a worker, inside a task: what an API client holds around each request (a lease of the semaphore)."""
        return _Lease(self._semaphore())

    def _semaphore(self) -> Semaphore:
        from distributed import Semaphore

        with _LOCK:
            found = _SEMAPHORES.get((self.name, self.max_in_flight))
            if found is None:
                found = _SEMAPHORES[(self.name, self.max_in_flight)] = Semaphore(max_leases=self.max_in_flight,
                                                                                 name=self.name)
            return found


def forget(semaphore: Semaphore) -> None:
    """On the client, once every task is done: forget the call's semaphore on the scheduler. Leases still held
    then are a dead worker's; they expire after the lease timeout, so the semaphore is left to them (a few bytes on
    the scheduler) rather than closed under them."""
    if semaphore.get_value() == 0:
        semaphore.close()
    elif (refreshing := getattr(semaphore, "refresh_callback", None)) is not None:
        refreshing.stop()  # it holds no lease of its own


class _Lease:
    """A :data:`humekit.backends._http.Limiter`: each call is one lease, acquired on enter, released on exit."""

    def __init__(self, semaphore: Semaphore):
        self.semaphore = semaphore

    def __call__(self) -> AbstractContextManager[Any]:
        return self.semaphore

    def __repr__(self) -> str:
        return f"<lease of {self.semaphore.name!r}, at most {self.semaphore.max_leases} in flight>"

