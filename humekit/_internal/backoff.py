"""The one exponential backoff formula: every wait humekit takes between two tries of the same thing.

Used by the HTTP client's retries (``Client``), the job poller (``waiting.Backoff``, which ``evi.chat_audio`` reuses)
and the resubmission of a POST whose answer was lost (``submitting``). Callers keep their own policy around it
(a ``Retry-After`` header wins in the client; polls never come faster than once a second).
"""

from __future__ import annotations

import random
from typing import Protocol

__all__ = ["exponential"]


class _Uniform(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


def exponential(attempt: int, *, initial: float, maximum: float, jitter: float = 0.0, floor: float = 0.0,
                rng: _Uniform | None = None) -> float:
    """The wait before retry ``attempt`` (0-based): ``initial * 2**attempt`` capped at ``maximum``, times a
    uniform factor in ``[1 - jitter, 1 + jitter]``, then held within ``[floor, maximum]``.

    Jitter never takes a wait past ``maximum`` (nor under ``floor``). ``rng`` is the jitter source (the
    ``random`` module when None); with ``jitter=0`` it is not consulted.
    """
    base = min(maximum, initial * 2.0 ** min(attempt, 64))  # 2**64 seconds is past any maximum
    if jitter:
        base *= (rng or random).uniform(1 - jitter, 1 + jitter)
    return max(floor, min(maximum, base))
