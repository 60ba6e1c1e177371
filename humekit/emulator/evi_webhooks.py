"""Simulated EVI chat webhooks: POSTed signed, retried like Hume retries, duplicated on purpose, each attempt kept."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from humekit.clock import Clock

__all__ = ["WebhookDelivery", "deliver_webhook"]


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One POST of a simulated chat webhook."""

    chat_id: str
    event_name: str
    attempt: int
    status: int | None
    r"""The receiver's status code (``None``: no response)."""
    simulated_failure: bool = False
    r"""The emulator treated this attempt as failed on purpose (``fail_first_attempts``)."""
    duplicate: bool = False
    errors: list[str] = field(default_factory=list)


def deliver_webhook(http: httpx.Client, url: str, body: dict[str, Any], deliveries: list[WebhookDelivery], *,
                    secret: str | None, clock: Clock, duplicates: int, fail_first: int, retries: int,
                    delay: float) -> None:  # fmt: skip
    """POST one webhook body until it is accepted, then its duplicates, appending each attempt to ``deliveries``.

    Args:
        http: the client to POST with.
        url: where to POST.
        body: the webhook's JSON body.
        deliveries: where each attempt is recorded the moment it ends.
        secret: the signing key; ``None`` sends it unsigned.
        clock: whose time signs it (each retry is re-signed with a fresh timestamp).
        duplicates: byte-identical extra deliveries (same body, timestamp and signature) after it succeeded.
        fail_first: attempts to treat as failed whatever the answer (a lost response).
        retries: further attempts after a failed one (5xx, 429, no response).
        delay: the first retry's wait in real seconds, doubling.
    """
    from humekit.webhooks.signing import sign

    payload = orjson.dumps(body)
    chat_id, name = body["chat_id"], body["event_name"]
    headers: dict[str, str] = {}
    for attempt in range(1, fail_first + retries + 2):
        headers = {"content-type": "application/json"}
        if secret is not None:
            headers.update(sign(payload, secret=secret, timestamp=int(clock.time())))
        status, errors = _post(http, url, payload, headers)
        forced = attempt <= fail_first
        deliveries.append(WebhookDelivery(chat_id, name, attempt, status, forced, errors=errors))
        if not forced and status is not None and status < 500 and status != 429:
            break
        time.sleep(delay * 2 ** min(attempt - 1, 6))
    for _ in range(duplicates):
        status, errors = _post(http, url, payload, headers)
        deliveries.append(WebhookDelivery(chat_id, name, 0, status, duplicate=True, errors=errors))


def _post(http: httpx.Client, url: str, payload: bytes, headers: dict[str, str]) -> tuple[int | None, list[str]]:
    try:
        return http.post(url, content=payload, headers=headers).status_code, []
    except httpx.HTTPError as exc:
        return None, [f"{type(exc).__name__}: {exc}"]
