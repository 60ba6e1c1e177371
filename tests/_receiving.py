"""What the webhook receiver's tests share: a signing key, a chat_ended body, and a (signed) POST."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from humekit.webhooks.signing import sign

KEY = "receiver-test-key"
TIMEOUT = httpx.Timeout(10.0)


def chat_body(chat_id: str, name: str = "chat_ended") -> bytes:
    """A minimal EVI webhook body."""
    return orjson.dumps({"event_name": name, "chat_id": chat_id, "chat_group_id": "g", "config_id": None,
                         "end_time": 1_750_000_000_000, "duration_seconds": 12, "end_reason": "USER_ENDED"})


def post(url: str, body: bytes, *, secret: str | None = KEY, timestamp: int | None = None,
         headers: dict[str, str] | None = None, http: Any = httpx) -> httpx.Response:  # fmt: skip
    """POST a (signed) JSON body to the receiver (with ``http``: an httpx.Client, TestClient or the module)."""
    sent = {"content-type": "application/json", **(sign(body, secret=secret, timestamp=timestamp) if secret else {})}
    return http.post(url, content=body, headers={**sent, **(headers or {})}, timeout=TIMEOUT)
