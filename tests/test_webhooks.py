"""Tests for humekit.webhooks.signing: signing and verifying Hume's EVI webhook signatures."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from humekit.errors import (
    ConfigurationError,
    FutureTimestampError,
    InvalidSignatureError,
    MalformedPayloadError,
    MissingHeaderError,
    StaleTimestampError,
    TimestampOutsideToleranceError,
    WebhookVerificationError,
)
from humekit.webhooks.events import ChatEnded
from humekit.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, compute_signature, construct_event, sign, verify

KEY = "test-signing-key"
TS = 1716244960
BODY = (
    '{"chat_group_id":"9fc18597-3567-42d5-94d6-935bde84bf2f","chat_id":"470a49f6-1dec-4afe-8b61-035d3b2d63b0",'
    '"duration_seconds":180,"end_reason":"USER_ENDED","end_time":1716244958546,'
    '"config_id":"1b60e1a0-cc59-424a-8d2c-189d354db3f3","event_name":"chat_ended"}'
)
SIG = "1ecd76cc30a1d1a195d3efdd1db9ee6cfafbddf7d63af15105bdd261cfa1a028"
HEADERS = {SIGNATURE_HEADER: SIG, TIMESTAMP_HEADER: str(TS)}


def test_reference_vector_signs_and_verifies() -> None:
    """The reference's derived test vector: sign() reproduces it and verify() accepts it."""
    assert sign(BODY, secret=KEY, timestamp=TS) == HEADERS
    assert compute_signature(BODY.encode(), TS, secret=KEY) == SIG
    verify(BODY, HEADERS, secret=KEY, now=TS)
    verify(BODY.encode(), HEADERS, secret=KEY, now=TS + 180)


def test_bytes_and_str_bodies_are_equivalent() -> None:
    """A non-ASCII body verifies whether passed as bytes or as its UTF-8 str."""
    body = '{"event_name":"chat_started","chat_id":"c","note":"héllo ✓"}'
    headers = sign(body.encode(), secret=KEY, timestamp=TS)
    verify(body, headers, secret=KEY, now=TS)
    verify(body.encode(), headers, secret=KEY, now=TS)
    verify(bytearray(body.encode()), headers, secret=KEY, now=TS)


@pytest.mark.parametrize(
    "headers",
    [
        {k.lower(): v for k, v in HEADERS.items()},
        {k.upper(): v for k, v in HEADERS.items()},
        Headers(HEADERS),
        httpx.Headers(HEADERS),
        [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()],
    ],
    ids=["lower", "upper", "starlette", "httpx", "asgi-raw"],
)
def test_header_lookup_is_case_insensitive(headers: object) -> None:
    """Header names match in any case and from dicts, starlette/httpx Headers or raw ASGI pairs."""
    verify(BODY, headers, secret=KEY, now=TS)  # type: ignore[arg-type]


def test_tampered_body_is_rejected() -> None:
    """Changing one character of the body fails with InvalidSignatureError."""
    with pytest.raises(InvalidSignatureError, match="HUME_WEBHOOK_SIGNING_KEY"):
        verify(BODY.replace("180", "181"), HEADERS, secret=KEY, now=TS)


def test_reserialized_json_is_rejected() -> None:
    """Re-encoding the JSON (spaces after separators) breaks the signature, as it must."""
    import json

    with pytest.raises(InvalidSignatureError):
        verify(json.dumps(json.loads(BODY)), HEADERS, secret=KEY, now=TS)


@pytest.mark.parametrize(
    "signature",
    ["0" * 64, SIG[:-1], SIG[:32], SIG.upper(), SIG + "0", "", f"sha256={SIG}", "é" * 64],
    ids=["forged", "truncated-1", "half", "uppercase", "extended", "empty", "prefixed", "non-ascii"],
)
def test_bad_signatures_are_rejected(signature: str) -> None:
    """Forged, truncated, upper-cased, extended, empty or prefixed signatures do not verify."""
    with pytest.raises(InvalidSignatureError):
        verify(BODY, {**HEADERS, SIGNATURE_HEADER: signature}, secret=KEY, now=TS)


def test_wrong_key_is_rejected() -> None:
    """A signature made with another key does not verify."""
    with pytest.raises(InvalidSignatureError):
        verify(BODY, HEADERS, secret="another-key", now=TS)


def test_candidate_secrets() -> None:
    """A sequence of candidate keys (signing key, API key) verifies if any one matches."""
    verify(BODY, HEADERS, secret=["api-key", KEY], now=TS)
    verify(BODY, HEADERS, secret=(KEY.encode(),), now=TS)
    with pytest.raises(InvalidSignatureError):
        verify(BODY, HEADERS, secret=["a", "b"], now=TS)


def test_tampered_timestamp_is_rejected() -> None:
    """Changing the timestamp header (even within the window) breaks the signature."""
    with pytest.raises(InvalidSignatureError):
        verify(BODY, {**HEADERS, TIMESTAMP_HEADER: str(TS + 1)}, secret=KEY, now=TS)


def test_stale_timestamp_is_a_possible_replay() -> None:
    """A correctly signed request older than the tolerance raises StaleTimestampError."""
    with pytest.raises(StaleTimestampError, match="replay") as info:
        verify(BODY, HEADERS, secret=KEY, now=TS + 181)
    assert isinstance(info.value, TimestampOutsideToleranceError)
    verify(BODY, HEADERS, secret=KEY, now=TS + 1000, tolerance=1000)


def test_future_timestamp_is_rejected() -> None:
    """A timestamp more than the tolerance ahead of now raises FutureTimestampError."""
    with pytest.raises(FutureTimestampError, match="clock"):
        verify(BODY, HEADERS, secret=KEY, now=TS - 181)
    verify(BODY, HEADERS, secret=KEY, now=TS - 180)


@pytest.mark.parametrize("missing", [SIGNATURE_HEADER, TIMESTAMP_HEADER])
def test_missing_headers(missing: str) -> None:
    """Each absent header raises MissingHeaderError naming it."""
    headers = {k: v for k, v in HEADERS.items() if k != missing}
    with pytest.raises(MissingHeaderError, match=missing):
        verify(BODY, headers, secret=KEY, now=TS)
    with pytest.raises(MissingHeaderError):
        verify(BODY, {}, secret=KEY, now=TS)


@pytest.mark.parametrize("timestamp", ["", "abc", "1716244960.5", "-1716244960", "1e9", " 1716244960", "9" * 40])
def test_unparseable_timestamp(timestamp: str) -> None:
    """A timestamp header that is not Unix seconds raises MalformedPayloadError."""
    with pytest.raises(MalformedPayloadError, match="Unix seconds"):
        verify(BODY, {**HEADERS, TIMESTAMP_HEADER: timestamp}, secret=KEY, now=TS)


def test_empty_secret_is_a_configuration_error() -> None:
    """An empty key (or no candidates) is refused rather than accepting unkeyed HMACs."""
    for secret in ("", [], [KEY, ""]):
        with pytest.raises(ConfigurationError):
            verify(BODY, HEADERS, secret=secret, now=TS)  # type: ignore[arg-type]


def test_secret_never_appears_in_errors() -> None:
    """No error message or repr includes the key."""
    secret = "super-secret-value-123"
    attempts = [
        ({**HEADERS}, TS),
        ({SIGNATURE_HEADER: SIG}, TS),
        ({**HEADERS, TIMESTAMP_HEADER: "x"}, TS),
        (sign(BODY, secret=secret, timestamp=TS), TS + 999),
        (sign(BODY, secret=secret, timestamp=TS), TS - 999),
    ]
    for headers, now in attempts:
        with pytest.raises(WebhookVerificationError) as info:
            verify(BODY, headers, secret=secret, now=now)
        assert secret not in str(info.value) and secret not in repr(info.value)


def test_construct_event_verifies_then_parses() -> None:
    """construct_event returns a typed ChatEnded for the reference vector, and refuses tampering."""
    event = construct_event(BODY, HEADERS, secret=KEY, now=TS)
    assert isinstance(event, ChatEnded)
    assert event.chat_id == "470a49f6-1dec-4afe-8b61-035d3b2d63b0" and event.duration_seconds == 180
    with pytest.raises(InvalidSignatureError):
        construct_event(BODY + " ", HEADERS, secret=KEY, now=TS)


def test_sign_defaults_to_now() -> None:
    """sign() without a timestamp uses the current time, which verify() accepts."""
    verify(BODY, sign(BODY, secret=KEY), secret=KEY)


_FIELD = st.sampled_from(["body", "timestamp", "signature"])


@settings(max_examples=300, deadline=None)
@given(field=_FIELD, position=st.integers(min_value=0, max_value=10_000), byte=st.integers(0, 255))
def test_no_single_byte_change_verifies(field: str, position: int, byte: int) -> None:
    """Property: replacing any one byte of the body, timestamp or signature never verifies."""
    parts = {"body": BODY.encode(), "timestamp": str(TS).encode(), "signature": SIG.encode()}
    original = parts[field]
    i = position % len(original)
    if original[i] == byte:
        byte = (byte + 1) % 256
    parts[field] = original[:i] + bytes([byte]) + original[i + 1 :]
    headers = {
        SIGNATURE_HEADER: parts["signature"].decode("latin-1"),
        TIMESTAMP_HEADER: parts["timestamp"].decode("latin-1"),
    }
    with pytest.raises(WebhookVerificationError):
        verify(parts["body"], headers, secret=KEY, now=TS, tolerance=10**12)
