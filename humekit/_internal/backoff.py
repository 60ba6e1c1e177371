"""The one exponential backoff formula: every wait humekit takes between two tries of the same thing.

Used by the HTTP client's retries (``Client``), every poll loop (:class:`Backoff`: v0's job poller and
``evi.chat_audio``)
and the resubmission of a POST whose answer was lost (``submitting``). Callers keep their own policy around it
(a ``Retry-After`` header wins in the client; polls never come faster than once a second).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

from humekit.errors import ConfigurationError

__all__ = ["Backoff", "exponential"]


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


@dataclass(frozen=True, slots=True)
class Backoff:
    """How often to poll a job."""

    wait_initial: float = 1.0
    r"""Seconds before a job's first poll (at least 1)."""
    wait_max: float = 60.0
    r"""The longest wait between two polls of one job."""
    wait_jitter: float = 0.2
    r"""Relative jitter of every wait (0.2 = ±20 %)."""

    def __post_init__(self) -> None:
        if self.wait_initial < 1.0:
            raise ConfigurationError(
                f"wait_initial={self.wait_initial} s would poll faster than once a second; Hume asks clients not "
                "to hammer the API. Use wait_initial >= 1 (or callbacks)."
            )
        if self.wait_max < self.wait_initial:
            raise ConfigurationError(f"wait_max={self.wait_max} is shorter than wait_initial={self.wait_initial}")
        if not 0 <= self.wait_jitter < 1:
            raise ConfigurationError(f"wait_jitter={self.wait_jitter} must be in [0, 1)")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The wait before poll number ``attempt`` (0-based), jittered but never under 1 s nor over ``wait_max``."""
        return exponential(attempt, initial=self.wait_initial, maximum=self.wait_max, jitter=self.wait_jitter,
                           floor=1.0, rng=rng)
