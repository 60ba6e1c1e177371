"""Hume's v0 batch API (sunset 2026-06-14; any compatible base URL): jobs, polling, callbacks.

``from humekit.backends.v0 import BatchBackend`` works; the backend and its sending code are imported
only when asked for, so ``humekit.Client`` (which lives here) loads none of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from humekit.backends.v0.backend import BatchBackend

__all__ = ["BatchBackend"]


def __getattr__(name: str) -> object:
    """``BatchBackend``, imported on first use."""
    if name == "BatchBackend":
        from humekit.backends.v0.backend import BatchBackend

        return BatchBackend
    raise AttributeError(f"module 'humekit.backends.v0' has no attribute {name!r}")
