"""Clocks: the real one, and a virtual one that tests, notebooks and the emulator can share.

Waiting code takes its time and its sleep from a clock, so a job that "takes a minute" on the
emulator's virtual clock is awaited instantly while every backoff decision stays the same.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "SystemClock", "VirtualClock"]


class Clock(Protocol):
    """Where time comes from: seconds since the epoch, and a way to wait."""

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The wall clock: ``time.time`` and ``time.sleep``."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


class VirtualClock:
    """A clock that only moves when someone sleeps on it or advances it. Thread-safe.

    Args:
        start: the initial time, in seconds since the epoch (defaults to now).
    """

    def __init__(self, start: float | None = None):
        self._now = time.time() if start is None else float(start)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[float], None]] = []

    def time(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and tell listeners (such as the emulator's callbacks)."""
        if seconds < 0:
            raise ValueError(f"cannot move a clock backwards (got {seconds} s)")
        with self._lock:
            self._now += seconds
            now, listeners = self._now, list(self._listeners)
        for listener in listeners:
            listener(now)

    def on_advance(self, listener: Callable[[float], None]) -> None:
        """Call ``listener(now)`` after every advance."""
        with self._lock:
            self._listeners.append(listener)

    def __repr__(self) -> str:
        return f"VirtualClock(time={self.time():.3f})"
