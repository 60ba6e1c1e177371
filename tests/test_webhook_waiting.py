"""Tests for humekit.webhooks.waiting: waiting for the webhooks of given ids."""

from __future__ import annotations

import pytest
from _receiving import chat_body, post

from humekit.errors import WaitTimeoutError
from humekit.webhooks.receiver import WebhookReceiver


def test_wait_for_times_out(receiver: WebhookReceiver) -> None:
    """wait_for raises WaitTimeoutError listing the ids that never arrived."""
    post(receiver.url, chat_body("here"))  # type: ignore[arg-type]
    with pytest.raises(WaitTimeoutError) as info:
        receiver.wait_for(["here", "missing"], timeout=0.5)
    assert info.value.pending == ["missing"]
