"""Who may deliver to a webhook receiver: an HMAC signature, its callback token (batch callbacks only), or neither.

- **Batch job callbacks** (a body with ``job_id`` + ``status``; Hume documents no signature for them) are
  accepted with the receiver's unguessable ``?token=`` or with a valid HMAC.
- **EVI events** (``chat_started``, ``chat_ended``, ``tool_call`` and any unknown ``event_name``) trigger
  work, and a token that travels in a URL (echoed in job details, logged by proxies) is not secret enough
  for them: they need a valid ``X-Hume-AI-Webhook-*`` HMAC with a fresh timestamp, unless the receiver has
  no secret and was built to accept them unsigned.
- HMAC headers, when present and a secret is known, must verify; a ``?token=``, when present, must match.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from humekit.clock import Clock
from humekit.errors import (
    FutureTimestampError,
    InvalidSignatureError,
    MalformedPayloadError,
    MissingHeaderError,
    StaleTimestampError,
    WebhookVerificationError,
)
from humekit.webhooks.events import Event, JobCallback
from humekit.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, Secret, verify

__all__ = ["authorize", "proven_credentials", "rejection_reason"]


class _TokenError(WebhookVerificationError):
    """The callback's token is missing or wrong."""


class _NoSecretError(WebhookVerificationError):
    """An EVI event reached a receiver that has no secret to verify it with."""


#: The ``reason`` of a 401 answer, per verification error.
_REASONS: dict[type[Exception], str] = {
    MissingHeaderError: "missing_signature_header",
    InvalidSignatureError: "invalid_signature",
    StaleTimestampError: "stale_timestamp",
    FutureTimestampError: "future_timestamp",
    MalformedPayloadError: "malformed_timestamp",
    _TokenError: "invalid_token",
    _NoSecretError: "no_signing_secret",
}


def proven_credentials(body: bytes, headers: Mapping[str, str], token: str | None, *, secret: Secret | None,
                       callback_token: str, tolerance: float, clock: Clock) -> set[str]:  # fmt: skip
    """What a request proves: ``{"hmac"}``, ``{"token"}``, both, or nothing.

    Args:
        body: the raw body.
        headers: the request's headers (looked up in lower case, as Starlette's are).
        token: the request's ``?token=`` query parameter, if any.
        secret: the receiver's HMAC key(s); without one, HMAC headers are not checked.
        callback_token: the token the receiver puts in its callback URLs.
        tolerance: the HMAC timestamp window in seconds, both ways.
        clock: where "now" comes from for that window.

    Raises:
        WebhookVerificationError: HMAC headers that do not verify, or a token that does not match.
    """
    proven: set[str] = set()
    signed = SIGNATURE_HEADER.lower() in headers or TIMESTAMP_HEADER.lower() in headers
    if signed and secret:
        verify(body, headers, secret=secret, tolerance=tolerance, now=clock.time())
        proven.add("hmac")
    if token is not None:
        if not hmac.compare_digest(token.encode(), callback_token.encode()):
            raise _TokenError("the ?token= of this callback does not match: it is not from this run's jobs")
        proven.add("token")
    return proven


def authorize(event: Event | None, credentials: set[str], *, secret: Secret | None,
              accept_unsigned_events: bool) -> str:  # fmt: skip
    """The ``auth`` to record for this event (``hmac``, ``token``, ``unsigned``), or why it is refused.

    Args:
        event: the parsed event; ``None`` for a body that did not parse.
        credentials: what :func:`proven_credentials` found.
        secret: the receiver's HMAC key(s), if any.
        accept_unsigned_events: accept EVI events nobody can authenticate when there is no ``secret``.

    Raises:
        WebhookVerificationError: the event may not be accepted with these credentials (the message says
            what to configure).
    """
    if "hmac" in credentials:
        return "hmac"
    if isinstance(event, JobCallback) and "token" in credentials:
        return "token"
    if isinstance(event, JobCallback) or event is None:
        if secret:
            raise MissingHeaderError(
                f"this request carries neither {SIGNATURE_HEADER}/{TIMESTAMP_HEADER} nor this receiver's "
                "?token=: give Hume the URL from receiver.callback_url() for batch jobs")
        raise _TokenError("this receiver accepts only callbacks carrying its ?token= (see callback_url())")
    if secret:
        via_token = " (the callback token authenticates only batch job callbacks)" if credentials else ""
        raise MissingHeaderError(
            f"a {event.event_name} event must be signed with {SIGNATURE_HEADER} and {TIMESTAMP_HEADER}"
            f"{via_token}: configure Hume's webhook with the signing key this receiver was given")
    if accept_unsigned_events:
        return "unsigned"
    raise _NoSecretError(
        f"this receiver has no signing secret, so it cannot authenticate a {event.event_name} event: pass "
        "secret= (or set HUME_WEBHOOK_SIGNING_KEY), or accept_unsigned_events=True for a receiver no one "
        "else can reach")


def rejection_reason(exc: Exception) -> str:
    """The short ``reason`` a 401 answer gives for a verification error (``unverified`` for any other)."""
    return _REASONS.get(type(exc), "unverified")
