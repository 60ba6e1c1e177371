"""Waiting for webhooks: block until every job or chat id has its event recorded, or say which never came."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from humekit.errors import WaitTimeoutError
from humekit.webhooks.events import Event
from humekit.webhooks.store import WebhookStore

__all__ = ["received_events", "wait_for_events"]


def wait_for_events(
    store: WebhookStore,
    ids: str | Iterable[str],
    *,
    timeout: float,
    event_name: str | Sequence[str],
    handled: bool,
) -> dict[str, Event]:
    """Block until ``store`` holds an event of ``event_name`` for every id (``handled``: and it was handled).

    Returns:
        ``{id: event}`` for every id.

    Raises:
        WaitTimeoutError: some ids got no event within ``timeout`` real seconds (``.pending`` lists them).
    """
    wanted, names = _as_list(ids), _as_list(event_name)
    deadline = time.monotonic() + timeout
    found: dict[str, Event] = {}
    with store.changed:
        while True:
            found = store.find(wanted, names, handled=handled)
            remaining = deadline - time.monotonic()
            if len(found) == len(set(wanted)) or remaining <= 0:
                break
            store.changed.wait(min(remaining, 0.5))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise WaitTimeoutError(
            f"no webhook arrived within {timeout:g} s for {len(missing)} of {len(wanted)} ids "
            f"(first: {missing[0]}); check that the callback URL reaches this receiver", pending=missing)
    return found


def received_events(store: WebhookStore, ids: str | Iterable[str], *, event_name: str | Sequence[str]
                    ) -> dict[str, Event]:  # fmt: skip
    """The events of ``event_name`` already in ``store`` for these ids, without waiting."""
    return store.find(_as_list(ids), _as_list(event_name), handled=False)


def _as_list(value: str | Iterable[str]) -> list[str]:
    """One id or name as a one-item list, several as a list."""
    return [value] if isinstance(value, str) else list(value)
