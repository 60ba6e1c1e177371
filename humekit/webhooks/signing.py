"""Sign and verify Hume webhooks (EVI ``chat_started``/``chat_ended``/``tool_call``).

Hume signs each delivery with two headers (reference §5, from Hume's official examples):

- ``X-Hume-AI-Webhook-Timestamp``: Unix seconds, a decimal string;
- ``X-Hume-AI-Webhook-Signature``: lowercase hex ``HMAC-SHA256(key, raw_body + "." + timestamp)``.

The key is the dedicated webhook signing key (``HUME_WEBHOOK_SIGNING_KEY``) or, for older
set-ups, the API key. Pass the **raw** body exactly as received: re-serialized JSON will not verify.

Usage::

    from humekit.webhooks.signing import construct_event

    event = construct_event(raw_body, request.headers, secret=os.environ["HUME_WEBHOOK_SIGNING_KEY"])
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from humekit.errors import (
    ConfigurationError,
    FutureTimestampError,
    InvalidSignatureError,
    MalformedPayloadError,
    MissingHeaderError,
    StaleTimestampError,
)

if TYPE_CHECKING:  # parse_event (and the events module) is loaded only when construct_event runs
    from humekit.webhooks.events import Event

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "compute_signature",
    "construct_event",
    "get_header",
    "sign",
    "signing_keys",
    "verify",
]

SIGNATURE_HEADER = "X-Hume-AI-Webhook-Signature"
TIMESTAMP_HEADER = "X-Hume-AI-Webhook-Timestamp"
#: Seconds a timestamp may be away from now, either way (Hume's examples use 180 into the past).
DEFAULT_TOLERANCE = 180

_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HINT = (
    "check that the key is HUME_WEBHOOK_SIGNING_KEY from the Hume portal (or the API key, if the "
    "webhook is signed with it) and that the body is passed exactly as received, not re-encoded"
)

Secret = str | bytes | Sequence[str | bytes]
Headers = Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[Any, Any]]


def _as_bytes(payload: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, bytes | bytearray | memoryview):
        return bytes(payload)
    raise TypeError(f"a webhook body must be bytes or str, not {type(payload).__name__}")


def signing_keys(secret: Secret) -> list[bytes]:
    """The candidate keys as bytes; refuses empty ones (an HMAC with no key proves nothing)."""
    candidates = [secret] if isinstance(secret, str | bytes) else list(secret)
    keys = [c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in candidates]
    if not keys or not all(keys):
        raise ConfigurationError(
            "no webhook signing key: pass secret=<HUME_WEBHOOK_SIGNING_KEY> (a non-empty string, "
            "or a list of candidate keys such as [signing_key, api_key])"
        )
    return keys


def compute_signature(payload: bytes | str, timestamp: str | int, *, secret: str | bytes) -> str:
    """The lowercase hex HMAC-SHA256 of ``payload + b"." + timestamp`` under ``secret``.

    Args:
        payload: the raw body.
        timestamp: the timestamp header value (Unix seconds).
        secret: the signing key.

    Returns:
        64 lowercase hex digits.
    """
    key = signing_keys(secret)[0]
    message = _as_bytes(payload) + b"." + str(timestamp).encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(payload: bytes | str, *, secret: str | bytes, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Hume would send with ``payload``.

    Args:
        payload: the exact body to be sent.
        secret: the signing key.
        timestamp: Unix seconds; defaults to now.

    Returns:
        ``{"X-Hume-AI-Webhook-Signature": ..., "X-Hume-AI-Webhook-Timestamp": ...}``.
    """
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    return {SIGNATURE_HEADER: compute_signature(payload, ts, secret=secret), TIMESTAMP_HEADER: ts}


def get_header(headers: Headers, name: str) -> str | None:
    """A header's first value by case-insensitive name, from any mapping or list of pairs.

    Args:
        headers: a dict, ``starlette``/``httpx`` ``Headers``, ASGI raw ``(bytes, bytes)`` pairs…
        name: the header name, any case.

    Returns:
        The value, or ``None`` when absent.
    """
    wanted = name.lower()
    if isinstance(headers, Mapping):
        for candidate in (name, wanted):
            try:
                # a str key on a Mapping[bytes, bytes] is allowed at runtime (TypeError or None is handled)
                value = headers.get(candidate)  # type: ignore[call-overload]
            except TypeError:  # a mapping keyed by bytes
                value = None
            if value is not None:
                return _text(value)
        items: Iterable[tuple[Any, Any]] = headers.items()
    else:
        items = headers
    for key, value in items:
        if _text(key).lower() == wanted:
            return _text(value)
    return None


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes | bytearray) else str(value)


def verify(
    payload: bytes | str,
    headers: Headers,
    *,
    secret: Secret,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check a webhook's signature and timestamp; return quietly or raise why it is not trusted.

    Args:
        payload: the raw body, exactly as received (bytes, or str that encodes back to them in UTF-8).
        headers: the request headers; names are matched case-insensitively.
        secret: the signing key, or a sequence of candidate keys (e.g. signing key and API key).
        tolerance: seconds the timestamp may be older (replay window) or newer (clock skew) than now.
        now: Unix seconds to check against; defaults to the current time.

    Raises:
        MissingHeaderError: a signature or timestamp header is absent.
        MalformedPayloadError: the timestamp is not Unix seconds.
        InvalidSignatureError: no key produces the given signature for this body and timestamp.
        StaleTimestampError: the timestamp is older than ``tolerance`` (a delayed delivery or a replay).
        FutureTimestampError: the timestamp is newer than ``now + tolerance`` (a clock is off).
        ConfigurationError: ``secret`` is empty.
    """
    keys = signing_keys(secret)
    body = _as_bytes(payload)
    signature = get_header(headers, SIGNATURE_HEADER)
    timestamp = get_header(headers, TIMESTAMP_HEADER)
    missing = [h for h, v in ((SIGNATURE_HEADER, signature), (TIMESTAMP_HEADER, timestamp)) if v is None]
    if missing:
        raise MissingHeaderError(
            f"the webhook request has no {' and no '.join(missing)} header: it was not signed by Hume, "
            "or a proxy stripped the headers; reject it"
        )
    assert signature is not None and timestamp is not None
    if not _TIMESTAMP.fullmatch(timestamp):
        raise MalformedPayloadError(
            f"the {TIMESTAMP_HEADER} header is not Unix seconds (got {timestamp[:40]!r}); reject the request"
        )
    given = signature.encode("utf-8", "surrogateescape")
    message = body + b"." + timestamp.encode("ascii")
    matched = False
    for key in keys:  # no early exit: every candidate costs the same
        expected = hmac.new(key, message, hashlib.sha256).hexdigest().encode("ascii")
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise InvalidSignatureError(f"the webhook signature does not match the body and timestamp: {_HINT}")
    current = time.time() if now is None else float(now)
    age = current - int(timestamp)
    if age > tolerance:
        raise StaleTimestampError(
            f"the webhook timestamp is {age:.0f} s old, over the {tolerance:g} s tolerance: this may be "
            "a replay of an old request (or a delivery delayed that long, or a receiver clock running fast)"
        )
    if -age > tolerance:
        raise FutureTimestampError(
            f"the webhook timestamp is {-age:.0f} s in the future, over the {tolerance:g} s tolerance: "
            "check that this machine's clock is synchronised (NTP)"
        )


def construct_event(
    payload: bytes | str,
    headers: Headers,
    *,
    secret: Secret,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Event:
    """Verify a webhook (see :func:`verify`), then parse it into a typed event.

    Args:
        payload: the raw body, exactly as received.
        headers: the request headers.
        secret: the signing key, or candidate keys.
        tolerance: the timestamp window in seconds, both ways.
        now: Unix seconds to check against; defaults to the current time.

    Returns:
        A :mod:`humekit.webhooks.events` event (``ChatStarted``, ``ChatEnded``, ``ToolCall``, ``JobCallback``…).

    Raises:
        WebhookVerificationError: any subclass raised by :func:`verify`, or
            ``MalformedPayloadError`` when the verified body is not a known event.
    """
    from humekit.webhooks.events import parse_event

    verify(payload, headers, secret=secret, tolerance=tolerance, now=now)
    return parse_event(payload)
