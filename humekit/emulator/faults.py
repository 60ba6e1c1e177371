"""Faults on demand: the emulator's seeded knobs for rate limits, server errors and failures.

Every rate is a probability in [0, 1] drawn from one seeded generator, so a test that sets
``Faults(server_error_rate=0.1, seed=7)`` sees the same faults on every run with the same
sequence of requests.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, fields

__all__ = ["FaultInjector", "Faults"]


@dataclass(frozen=True, slots=True)
class Faults:
    """What should go wrong, and how often."""

    rate_limit_rate: float = 0.0
    r"""Share of requests answered 429 with ``Retry-After`` (nothing is created)."""
    retry_after: float = 1.0
    r"""Seconds sent in ``Retry-After`` with injected 429s."""
    server_error_rate: float = 0.0
    r"""Share of requests answered 500/502/503 before they are processed (nothing is created)."""
    drop_rate: float = 0.0
    r"""Share of requests whose connection is dropped before they are processed."""
    lost_response_rate: float = 0.0
    r"""Share of job submissions that create the job, then drop the connection (the response is lost)."""
    latency: float = 0.0
    r"""Seconds of real delay added to every request."""
    list_lag: float = 0.0
    r"""Seconds (on the emulator's clock) a new job stays out of ``GET /v0/batch/jobs``: an eventually
    consistent list, as when a submission is still being processed after its answer was lost."""
    job_failure_rate: float = 0.0
    r"""Share of jobs that end FAILED with ``job_failure_message``."""
    job_failure_message: str = "Job failed: the emulator injected a failure (Faults.job_failure_rate)"
    file_error_rate: float = 0.0
    r"""Share of files (or text strings) that get a per-file error inside a COMPLETED job."""
    file_error_message: str = "Failed to process file: the emulator injected an error (Faults.file_error_rate)"
    callback_loss_rate: float = 0.0
    r"""Share of ``callback_url`` deliveries that are never sent (a lost webhook)."""
    seed: int = 0
    r"""Seed of the generator behind every rate."""

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name.endswith("_rate"):
                value = getattr(self, f.name)
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"Faults.{f.name} must be between 0 and 1, got {value!r}")

    @property
    def any(self) -> bool:
        """Whether any fault is switched on."""
        return any(getattr(self, f.name) for f in fields(self) if f.name.endswith("_rate")) or bool(
            self.latency or self.list_lag
        )


class FaultInjector:
    """Draws fault decisions from a seeded generator; thread-safe."""

    def __init__(self, faults: Faults):
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._lock = threading.Lock()

    def happens(self, rate: float) -> bool:
        """Whether a fault with this rate fires now."""
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def choice(self, options: tuple[int, ...]) -> int:
        """A seeded choice, e.g. which 5xx status to send."""
        with self._lock:
            return self._rng.choice(options)
