"""Running your handlers on recorded webhooks: one worker thread, each event claimed and handled once.

The endpoint hands the worker each new event's id after recording it; the worker claims the event in the
:class:`~humekit.webhooks.store.WebhookStore` (so a duplicate in its queue, or another process, cannot run it
twice), runs the handlers registered for its ``event_name`` and for ``*``, and records ``handled`` or
``failed`` with the error. A handler that raises never stops the worker.
"""

from __future__ import annotations

import logging
import queue
import threading
import traceback
from collections.abc import Callable
from typing import Any

from humekit.webhooks.events import Event, parse_event
from humekit.webhooks.store import WebhookStore

__all__ = ["Handler", "HandlerWorker"]

logger = logging.getLogger("humekit.webhooks.receiver")  # the receiver's log: its handlers are part of it

#: What :meth:`humekit.webhooks.receiver.WebhookReceiver.on` registers: called with each parsed event.
Handler = Callable[[Event], Any]


class HandlerWorker:
    """The handlers registered per event name, and the thread that runs them on recorded events.

    Args:
        store: where events are recorded and claimed.
    """

    def __init__(self, store: WebhookStore):
        self._store = store
        self._lock = threading.Lock()
        self._handlers: dict[str, list[Handler]] = {}
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def register(self, event_name: str, handler: Handler) -> Handler:
        """Run ``handler`` on every event named ``event_name`` (``*``: every event); returns ``handler``."""
        with self._lock:
            self._handlers.setdefault(event_name, []).append(handler)
        return handler

    def start(self) -> None:
        """Start the thread, first queueing the events recorded before a stop or crash and not handled yet."""
        if self._thread is not None:
            return
        for event_id in self._store.pending():
            self._queue.put(event_id)
        self._thread = threading.Thread(target=self._work, name="humekit-webhook-handlers", daemon=True)
        self._thread.start()

    def enqueue(self, event_id: str) -> None:
        """Queue a recorded event for handling (it runs once the thread is started)."""
        self._queue.put(event_id)

    def stop(self) -> None:
        """Stop the thread once it has handled the events already queued (waiting at most 10 s)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _work(self) -> None:
        while (event_id := self._queue.get()) is not None:
            try:
                self._handle(event_id)
            except Exception:  # the worker must survive anything, even a broken ledger
                logger.exception("webhook event %s could not be handled", event_id)

    def _handle(self, event_id: str) -> None:
        body = self._store.claim(event_id)
        if body is None:  # already claimed (a duplicate in the queue, or another process)
            return
        event = parse_event(body)
        with self._lock:
            handlers = self._handlers.get(event.event_name, []) + self._handlers.get("*", [])
        state, error = "handled", None
        for handler in handlers:
            try:
                handler(event)
            except Exception as exc:
                state, error = "failed", "".join(traceback.format_exception_only(exc)).strip()
                logger.exception("a %s handler failed for %s", event.event_name, event.subject_id)
        self._store.finish(event_id, state, error)
