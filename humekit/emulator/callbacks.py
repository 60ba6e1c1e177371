"""Deliver ``callback_url`` POSTs when emulated jobs finish, as the batch API does.

The body is ``{"job_id", "status", "predictions"}`` on completion (the documented shape) and
``{"job_id", "status", "message"}`` on failure (the field name is UNCONFIRMED; humekit's receiver
accepts several). The callback URL's query string is kept. With a signing key, each delivery is
signed with the EVI-style ``X-Hume-AI-Webhook-Signature``/``-Timestamp`` headers.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from humekit.clock import Clock, VirtualClock
from humekit.webhooks.signing import sign

__all__ = ["CallbackDispatcher", "Delivery"]

logger = logging.getLogger("humekit.emulator")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to deliver a job's callback."""

    job_id: str
    url: str
    attempt: int
    status: int | None
    error: str | None = None
    lost: bool = False
    r"""The emulator dropped this callback on purpose (``Faults.callback_loss_rate``)."""


class CallbackDispatcher:
    """A daemon thread that POSTs each job's callback once the job's end time has passed."""

    def __init__(
        self,
        *,
        clock: Clock,
        body: Callable[[str], dict[str, Any] | None],
        lose: Callable[[], bool],
        signing_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
        attempts: int = 3,
    ):
        self._clock = clock
        self._body = body
        self._lose = lose
        self._signing_key = signing_key
        self._http = httpx.Client(transport=transport, timeout=10.0)
        self._attempts = attempts
        self._due: list[tuple[float, str, str]] = []
        self._cond = threading.Condition()
        self._stopped = False
        self.deliveries: list[Delivery] = []
        self._thread = threading.Thread(target=self._run, name="humekit-emulator-callbacks", daemon=True)
        self._thread.start()
        if isinstance(clock, VirtualClock):
            clock.on_advance(lambda now: self._wake())

    def schedule(self, job_id: str, url: str, at: float) -> None:
        """Deliver ``job_id``'s callback to ``url`` at clock time ``at`` (seconds)."""
        with self._cond:
            heapq.heappush(self._due, (at, job_id, url))
            self._cond.notify()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)
        self._http.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if self._due and self._due[0][0] <= self._clock.time():
                        break
                    timeout = self._due[0][0] - self._clock.time() if self._due else None
                    # A virtual clock wakes us on advance; the short wait is only a safety net.
                    virtual = isinstance(self._clock, VirtualClock)
                    self._cond.wait(timeout=0.25 if virtual else timeout)
                if self._stopped:
                    return
                _, job_id, url = heapq.heappop(self._due)
            self._deliver(job_id, url)

    def _deliver(self, job_id: str, url: str) -> None:
        if self._lose():
            self.deliveries.append(Delivery(job_id, url, 0, None, lost=True))
            return
        body = self._body(job_id)
        if body is None:
            return
        payload = orjson.dumps(body)
        for attempt in range(1, self._attempts + 1):
            headers = {"content-type": "application/json"}
            if self._signing_key:
                headers.update(sign(payload, secret=self._signing_key, timestamp=int(self._clock.time())))
            try:
                status = self._http.post(url, content=payload, headers=headers).status_code
            except httpx.HTTPError as exc:
                self.deliveries.append(Delivery(job_id, url, attempt, None, error=type(exc).__name__))
            else:
                self.deliveries.append(Delivery(job_id, url, attempt, status))
                if status < 500 and status != 429:
                    return
            time.sleep(0.2 * 2**attempt)
        logger.warning("callback for job %s to %s failed after %d attempts", job_id, url, self._attempts)
