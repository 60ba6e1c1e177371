"""Kill points for the crash tests' child processes: count named events, SIGKILL the process at the chosen one.

The children (``_child.py`` for v0, ``_child_v1.py`` for v1) run as scripts and import this module as a
sibling. A kill spec is ``{"point": ..., "n": N, "delay": seconds}``: the process kills itself at the N-th
occurrence of ``point``; :meth:`KillSwitch.ledger` names the points of the ledger's methods and of the write
transactions inside them.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Iterable
from contextlib import contextmanager
from typing import Any


def die() -> None:
    """SIGKILL this process (no cleanup, no flush: as a crash)."""
    os.kill(os.getpid(), signal.SIGKILL)


class KillSwitch:
    """Counts the events a child passes through and kills it at the chosen one."""

    def __init__(self, kill: dict[str, Any] | None):
        kill = kill or {}
        self.point: str | None = kill.get("point")
        self.target = int(kill.get("n", 1))
        self.delay = float(kill.get("delay", 0.01))
        self.seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._running = threading.local()  # the ledger methods this thread is inside (to name a transaction)

    def hit(self, name: str) -> None:
        """One more ``name``; at the chosen occurrence of the chosen point, die."""
        with self._lock:
            self.seen[name] += 1
            now = self.seen[name]
        if name == self.point and now == self.target:
            die()

    def arm_timer(self, point: str, counted: str) -> None:
        """For a timed ``point`` (e.g. ``post:inflight``): die ``delay`` seconds after the chosen ``counted``."""
        if self.point == point and self.seen[counted] == self.target:
            threading.Timer(self.delay, die).start()

    def start(self) -> None:
        """For the point ``delay``: die ``delay`` seconds from now (wherever the child then is)."""
        if self.point == "delay":
            threading.Timer(self.delay, die).start()

    def ledger(self, ledger_class: Any, methods: Iterable[str]) -> None:
        """Count ``ledger.<method>:before``/``:after`` around these methods and ``txn.<method>`` inside each
        write transaction, after its body and before its COMMIT (``txn.other`` outside them)."""
        running = self._running

        def stack() -> list[str]:
            if not hasattr(running, "names"):
                running.names = []
            return running.names  # type: ignore[no-any-return]

        for method_name in methods:
            original = getattr(ledger_class, method_name)

            def wrapped(this: Any, *args: Any, _orig: Any = original, _nm: str = method_name, **kwargs: Any) -> Any:
                self.hit(f"ledger.{_nm}:before")
                stack().append(_nm)
                try:
                    result = _orig(this, *args, **kwargs)
                finally:
                    stack().pop()
                self.hit(f"ledger.{_nm}:after")
                return result

            setattr(ledger_class, method_name, wrapped)

        original_write = ledger_class._write

        @contextmanager
        def write(this: Any) -> Any:
            with original_write(this) as db:
                yield db
                self.hit(f"txn.{stack()[-1] if stack() else 'other'}")  # the body ran; COMMIT has not

        ledger_class._write = write
