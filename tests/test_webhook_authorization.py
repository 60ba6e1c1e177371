"""Tests for humekit.webhooks.authorization: HMAC for EVI events, the callback token for batch callbacks, 401s."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from _paths import SAMPLES
from _receiving import KEY, TIMEOUT, chat_body, post

from humekit.webhooks.events import JobCallback
from humekit.webhooks.receiver import WebhookReceiver
from humekit.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b, h: (b, {k: v for k, v in h.items() if k != SIGNATURE_HEADER}), "missing_signature_header"),
        (lambda b, h: (b, {k: v for k, v in h.items() if k != TIMESTAMP_HEADER}), "missing_signature_header"),
        (lambda b, h: (b + b" ", h), "invalid_signature"),
        (lambda b, h: (b, {**h, SIGNATURE_HEADER: "0" * 64}), "invalid_signature"),
        (lambda b, h: (b, sign(b, secret=KEY, timestamp=int(time.time()) - 600)), "stale_timestamp"),
        (lambda b, h: (b, sign(b, secret=KEY, timestamp=int(time.time()) + 600)), "future_timestamp"),
        (lambda b, h: (b, {**h, TIMESTAMP_HEADER: "soon"}), "malformed_timestamp"),
        (lambda b, h: (b, sign(b, secret="wrong-key")), "invalid_signature"),
    ],
    ids=["no-signature", "no-timestamp", "tampered-body", "forged", "stale", "future", "bad-timestamp", "wrong-key"],
)
def test_unverified_requests_get_401_with_reason(receiver: WebhookReceiver, mutate: Any, reason: str) -> None:
    """Each verification failure is a 401 with its own reason, and nothing is recorded."""
    body, headers = mutate(chat_body("c"), sign(chat_body("c"), secret=KEY))
    response = httpx.post(receiver.url, content=body, timeout=TIMEOUT,  # type: ignore[arg-type]
                          headers={"content-type": "application/json", **headers})  # fmt: skip
    assert response.status_code == 401 and response.json()["reason"] == reason
    assert KEY not in response.text
    assert receiver.events().empty


def test_token_auth_for_batch_callbacks(receiver: WebhookReceiver) -> None:
    """A batch callback carrying the run token (no HMAC headers) is accepted; a wrong token is 401."""
    url = receiver.callback_url(run="r1")
    assert "token=run-token" in url and "run=r1" in url
    body = orjson.dumps({"job_id": "j1", "status": "COMPLETED", "predictions": []})
    assert httpx.post(url, content=body, timeout=TIMEOUT).status_code == 200
    bad = httpx.post(receiver.url + "/?token=guess", content=body, timeout=TIMEOUT)  # type: ignore[operator]
    assert bad.status_code == 401 and bad.json()["reason"] == "invalid_token"
    event = receiver.wait_for(["j1"], timeout=10)["j1"]
    assert isinstance(event, JobCallback) and event.ok
    assert list(receiver.events()["auth"]) == ["token"]


def test_hmac_headers_with_token_must_still_verify(receiver: WebhookReceiver) -> None:
    """With a secret known, forged HMAC headers are rejected even when the token is right."""
    body = orjson.dumps({"job_id": "j2", "status": "FAILED", "message": "bad"})
    response = httpx.post(receiver.callback_url(), content=body, timeout=TIMEOUT,
                          headers={SIGNATURE_HEADER: "f" * 64, TIMESTAMP_HEADER: str(int(time.time()))})  # fmt: skip
    assert response.status_code == 401 and response.json()["reason"] == "invalid_signature"


def test_no_secret_means_token_only(ledger: Path) -> None:
    """Without a secret or token a random token is generated; unsigned, tokenless requests are 401."""
    with WebhookReceiver(ledger=ledger) as rx:
        rx.start()
        assert rx.callback_token and len(rx.callback_token) >= 24
        body = orjson.dumps({"job_id": "j", "status": "COMPLETED"})
        assert post(rx.url, body, secret=None).status_code == 401  # type: ignore[arg-type]
        assert post(rx.url, body, secret=KEY).status_code == 401  # type: ignore[arg-type]
        assert httpx.post(rx.callback_url(), content=body, timeout=TIMEOUT).status_code == 200


@pytest.mark.samples
def test_a_secret_still_leaves_unsigned_batch_callbacks_their_token(ledger: Path) -> None:
    """With only a secret (for EVI), callback_url() carries a generated token, and a real-sized
    unsigned callback (two files' predictions, 1.8 MB) arriving there is accepted."""
    predictions = orjson.loads((SAMPLES / "real_predictions_file_video_face_prosody_language.json").read_bytes())
    body = orjson.dumps({"job_id": "j9", "status": "COMPLETED", "predictions": predictions * 2})
    assert len(body) > 1_500_000
    with WebhookReceiver(secret=KEY, ledger=ledger) as rx:
        rx.start()
        assert "token=" in rx.callback_url()
        assert httpx.post(rx.callback_url(), content=body, timeout=TIMEOUT).status_code == 200
        assert post(rx.url, chat_body("c1")).status_code == 200  # type: ignore[arg-type]  (EVI: HMAC)
        assert list(rx.events()["auth"]) == ["token", "hmac"]
