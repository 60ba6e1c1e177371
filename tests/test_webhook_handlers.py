"""Tests for humekit.webhooks.handlers: failures recorded with their error, failed events handed out again."""

from __future__ import annotations

import time
from collections import Counter

from _receiving import chat_body, post

from humekit.webhooks.events import Event
from humekit.webhooks.receiver import WebhookReceiver


def test_handler_errors_are_recorded_not_lost(receiver: WebhookReceiver) -> None:
    """A handler that raises marks the event failed with the error; other events still get handled."""

    @receiver.on("chat_ended")
    def explode(event: Event) -> None:
        if event.subject_id == "bad":  # type: ignore[union-attr]
            raise RuntimeError("handler blew up")

    assert post(receiver.url, chat_body("bad")).status_code == 200  # type: ignore[arg-type]
    assert post(receiver.url, chat_body("good")).status_code == 200  # type: ignore[arg-type]
    receiver.wait_for(["bad", "good"], timeout=10, handled=True)
    df = receiver.events().set_index("subject_id")
    assert df.loc["bad", "state"] == "failed" and "handler blew up" in df.loc["bad", "error"]
    assert df.loc["good", "state"] == "handled"


def test_retry_reruns_failed_handlers(receiver: WebhookReceiver) -> None:
    """retry() hands failed events to the (fixed) handlers again; they end handled."""
    attempts = Counter[str]()

    @receiver.on("chat_ended")
    def flaky(event: Event) -> None:
        attempts.update([event.subject_id])  # type: ignore[list-item, union-attr]
        if attempts[event.subject_id] == 1:  # type: ignore[union-attr]
            raise ConnectionError("database down")

    post(receiver.url, chat_body("flaky"))  # type: ignore[arg-type]
    receiver.wait_for("flaky", timeout=10, handled=True)
    assert receiver.events().loc[0, "state"] == "failed"
    assert receiver.retry() == 1
    deadline = time.monotonic() + 10
    while receiver.events().loc[0, "state"] != "handled" and time.monotonic() < deadline:
        time.sleep(0.02)
    df = receiver.events()
    assert df.loc[0, "state"] == "handled" and df.loc[0, "attempts"] == 2 and attempts["flaky"] == 2
    assert receiver.retry() == 0
