"""The v1 emulator's fault knobs: scripted (the n-th request gets this fault) or seeded rates.

``V1Faults(script=("server_busy", "none", "drop"))`` answers the first request it applies to with
503, the second normally, drops the third's connection, then answers normally; rates
(``V1Faults(rates={"internal_error": 0.2}, seed=7)``) draw one seeded decision per request after
the script, so a test sees the same faults on every run with the same sequence of requests.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, get_args

__all__ = ["FAULTS", "FAULT_MEANINGS", "Fault", "FaultInjector", "V1Faults"]

Fault = Literal[
    "none",
    "server_busy",
    "server_busy_retry_after",
    "gateway_rate_limit",
    "internal_error",
    "malformed",
    "truncated",
    "drop",
    "lost_response",
]
#: Every fault name, in the order rates are drawn.
FAULTS: tuple[Fault, ...] = get_args(Fault)

FAULT_MEANINGS: dict[Fault, str] = {
    "none": "answer normally",
    "server_busy": "503 server_busy without Retry-After; nothing measured, no run",
    "server_busy_retry_after": "503 server_busy with Retry-After: retry_after; nothing measured, no run",
    "gateway_rate_limit": "429 from the gateway, body {message} only (no code), Retry-After: retry_after; no run",
    "internal_error": "500 internal_error; nothing measured, no run",
    "malformed": "measured and billed (the run is recorded), then 200 with JSON missing the response's fields",
    "truncated": "measured and billed (the run is recorded), then 200 with the JSON cut off (not parseable)",
    "drop": "the connection closes before the request is processed; no run",
    "lost_response": "measured and billed (the run is recorded), then the connection closes: the answer is lost",
}


@dataclass(frozen=True, slots=True)
class V1Faults:
    """What goes wrong, for which requests, and how often."""

    script: tuple[Fault, ...] = ()
    r"""Faults for the first ``len(script)`` requests they apply to, in order (``"none"``: answer normally)."""
    rates: Mapping[Fault, float] = field(default_factory=dict)
    r"""After the script: each fault's share of requests (one seeded draw per request; shares sum to <= 1)."""
    retry_after: int = 1
    r"""Whole seconds sent in ``Retry-After`` (HTTP's delay-seconds) by ``server_busy_retry_after`` and
    ``gateway_rate_limit``."""
    latency: float = 0.0
    r"""Seconds of real delay before every request is answered (all routes)."""
    applies_to: Literal["uploads", "all"] = "uploads"
    r"""``uploads``: only the two POST routes get faults (the runs routes answer normally); ``all``: every route."""
    seed: int = 0
    r"""Seed of the generator behind :attr:`rates`."""

    def __post_init__(self) -> None:
        for name in (*self.script, *self.rates):
            if name not in FAULTS:
                raise ValueError(f"unknown v1 fault {name!r}; expected one of {FAULTS}")
        if any(not 0.0 <= rate <= 1.0 for rate in self.rates.values()) or sum(self.rates.values()) > 1.0 + 1e-9:
            raise ValueError(f"V1Faults.rates must be shares between 0 and 1 summing to at most 1, got {self.rates}")
        if self.applies_to not in ("uploads", "all"):
            raise ValueError(f"V1Faults.applies_to must be 'uploads' or 'all', got {self.applies_to!r}")
        if not isinstance(self.retry_after, int) or self.retry_after < 0 or self.latency < 0:
            raise ValueError("V1Faults.retry_after must be whole seconds >= 0 and latency >= 0 seconds")
        object.__setattr__(self, "script", tuple(self.script))
        object.__setattr__(self, "rates", MappingProxyType(dict(self.rates)))


class FaultInjector:
    """Decides each request's fault: the script first, then the seeded rates. Thread-safe."""

    def __init__(self, faults: V1Faults):
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._count = 0
        self._lock = threading.Lock()

    def next(self, *, upload: bool) -> Fault:
        """The fault for the next request (``upload``: one of the two POST routes)."""
        if not upload and self.faults.applies_to == "uploads":
            return "none"
        with self._lock:
            index, self._count = self._count, self._count + 1
            if index < len(self.faults.script):
                return self.faults.script[index]
            if not self.faults.rates:
                return "none"
            draw, total = self._rng.random(), 0.0
            for name in FAULTS:
                total += self.faults.rates.get(name, 0.0)
                if draw < total:
                    return name
            return "none"
