"""Tests for humekit.emulator.evi_webhooks: simulated chat webhooks, signed, retried and duplicated on purpose."""

from __future__ import annotations

import httpx
import orjson

from humekit.clock import VirtualClock
from humekit.emulator.evi import EviEmulator
from humekit.webhooks.events import ChatEnded, ChatStarted, parse_event
from humekit.webhooks.signing import verify

KEY = "evi-test-key"


def test_simulate_chat_delivers_signed_webhooks(clock: VirtualClock) -> None:
    """simulate_chat POSTs chat_started then chat_ended, signed with the clock's time, nulls present."""
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200, json={"status": "success"})

    evi = EviEmulator(clock=clock, initial_chats=0)
    chat_id = evi.simulate_chat(webhook_url="http://hooks.test/hume", secret=KEY, duration_seconds=90,
                                end_reason="MAX_DURATION_TIMEOUT", transport=httpx.MockTransport(receiver))  # fmt: skip
    assert [r.url.path for r in received] == ["/hume", "/hume"]
    events = []
    for request in received:
        verify(request.content, request.headers, secret=KEY, now=clock.time())
        events.append(parse_event(request.content))
        assert "caller_number" in orjson.loads(request.content)
    started, ended = events
    assert isinstance(started, ChatStarted) and isinstance(ended, ChatEnded)
    assert started.chat_id == ended.chat_id == chat_id and ended.duration_seconds == 90
    assert ended.end_reason == "MAX_DURATION_TIMEOUT" and ended.end_time == int(clock.time() * 1000)
    assert evi.chat_ids() == [chat_id]


def test_simulate_chat_fault_knobs(clock: VirtualClock) -> None:
    """fail_first_attempts re-sends after "lost" answers; duplicates repeat the identical request; 5xx is retried."""
    seen: list[bytes] = []
    statuses = iter([503] + [200] * 20)

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request.content + b"|" + request.headers["x-hume-ai-webhook-signature"].encode())
        return httpx.Response(next(statuses))

    evi = EviEmulator(clock=clock, initial_chats=0)
    evi.simulate_chat(webhook_url="http://hooks.test/", secret=KEY, duplicate_deliveries=2, fail_first_attempts=1,
                      transport=httpx.MockTransport(receiver), retry_delay=0.001)  # fmt: skip
    started = [d for d in evi.deliveries if d.event_name == "chat_started"]
    assert [(d.attempt, d.status, d.simulated_failure, d.duplicate) for d in started] == [
        (1, 503, True, False), (2, 200, False, False), (0, 200, False, True), (0, 200, False, True)]  # fmt: skip
    assert len(seen) == 8 and seen[2] == seen[3] == seen[1]
