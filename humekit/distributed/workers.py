"""What each worker builds for itself: its API backend (HTTP clients and threads never cross the wire).

:class:`BackendSpec` is what the task graph carries: the API, the base URL, the uploads in flight per
worker, or a picklable factory. The API key is not in it: a worker reads ``HUME_API_KEY`` from its own
environment (or a ``.env`` file in its working directory) when it builds its client, so the key is never
pickled into the graph. :func:`missing_keys` asks every worker, before anything is sent, whether it has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from humekit.backends._http import Limiter
from humekit.backends.base import Backend

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["BackendFactory", "BackendSpec", "close_backend", "missing_keys"]


class BackendFactory(Protocol):
    """Builds a worker's backend; it must pass ``limiter`` to its API client (``V1Client(limiter=limiter)``) for
    the cluster-wide cap to hold, and be picklable (a module-level function or a ``functools.partial``)."""

    def __call__(self, *, limiter: Limiter | None) -> Backend: ...


@dataclass(frozen=True)
class BackendSpec:
    """How a worker builds its backend: Hume's ``api`` at ``base_url`` (``HUME_BASE_URL`` on the worker when
    not given), with ``concurrency`` v1 uploads in flight per worker; or ``factory(limiter=...)``."""

    api: Literal["v0", "v1"]
    base_url: str | None = None
    concurrency: int | None = None
    factory: BackendFactory | None = None

    def build(self, limiter: Limiter | None) -> Backend:
        """On a worker: the backend, its API client holding ``limiter`` around every request."""
        if self.factory is not None:
            return self.factory(limiter=limiter)
        if self.api == "v1":
            from humekit.backends.v1.backend import V1Backend
            from humekit.backends.v1.client import V1Client

            client = V1Client(base_url=self.base_url, limiter=limiter)
            return V1Backend(client) if self.concurrency is None else V1Backend(client, concurrency=self.concurrency)
        from humekit.backends.v0.backend import BatchBackend
        from humekit.backends.v0.client import Client as V0Client

        return BatchBackend(V0Client(base_url=self.base_url, limiter=limiter))


def close_backend(backend: Backend) -> None:
    """Close the HTTP client a backend holds (its connections), if it has one."""
    close = getattr(getattr(backend, "client", None), "close", None)
    if callable(close):
        close()


def _has_key() -> bool:
    """On a worker: whether an API key can be read there (the key itself never leaves the worker)."""
    from humekit.config import resolve_api_key
    from humekit.errors import ConfigurationError

    try:
        resolve_api_key()
    except ConfigurationError:
        return False
    return True


def missing_keys(client: Client) -> list[str]:
    """The workers (addresses) on which no ``HUME_API_KEY`` can be read."""
    found = client.run(_has_key)
    return sorted(address for address, ok in found.items() if not ok)
