"""Tests for humekit.webhooks.store: every delivery recorded durably, once, across concurrency and restarts."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from _receiving import KEY, chat_body, post

from humekit.webhooks.events import Event
from humekit.webhooks.receiver import WebhookReceiver
from humekit.webhooks.signing import sign


def test_duplicate_delivery_is_handled_once(receiver: WebhookReceiver) -> None:
    """The same event delivered three times (re-signed) is recorded once, counted, handled once."""
    calls = Counter[str]()
    receiver.on("*", lambda e: calls.update([e.subject_id]))  # type: ignore[union-attr]
    statuses = [post(receiver.url, chat_body("dup")).json()["status"] for _ in range(3)]  # type: ignore[arg-type]
    assert statuses == ["success", "duplicate", "duplicate"]
    receiver.wait_for("dup", timeout=10, handled=True)
    time.sleep(0.2)
    assert calls == {"dup": 1}
    assert receiver.events().loc[0, "deliveries"] == 3


def test_200_concurrent_deliveries(receiver: WebhookReceiver) -> None:
    """200 concurrent POSTs (150 events, 50 of them twice) lose nothing and handle each event once."""
    calls = Counter[str]()
    lock = threading.Lock()

    def handler(event: Event) -> None:
        with lock:
            calls.update([event.subject_id])  # type: ignore[union-attr, list-item]

    receiver.on("chat_ended", handler)
    ids = [f"chat-{i}" for i in range(150)] + [f"chat-{i}" for i in range(50)]
    barrier = threading.Barrier(40, timeout=10)

    def deliver(chat_id: str) -> int:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        return post(receiver.url, chat_body(chat_id), http=http).status_code  # type: ignore[arg-type]

    with httpx.Client(limits=httpx.Limits(max_connections=40)) as http, ThreadPoolExecutor(max_workers=40) as pool:
        codes = list(pool.map(deliver, ids))
    assert codes == [200] * 200
    receiver.wait_for(sorted(set(ids)), timeout=30, handled=True)
    assert calls == Counter({f"chat-{i}": 1 for i in range(150)})
    df = receiver.events()
    assert len(df) == 150 and set(df["state"]) == {"handled"} and df["deliveries"].sum() == 200


def test_events_survive_a_restart_and_pending_ones_are_handled(ledger: Path) -> None:
    """Events recorded by one receiver are in the ledger for the next; unhandled ones run after restart."""
    first = WebhookReceiver(secret=KEY, ledger=ledger)  # mounted in an app whose process dies before
    body = chat_body("kept")                             # its worker ever runs (start_worker not called)

    async def deliver() -> int:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=first.app), base_url="http://rx") as app:
            response = await app.post("/", content=body, headers={"content-type": "application/json",
                                                                  **sign(body, secret=KEY)})  # fmt: skip
            return response.status_code

    assert asyncio.run(deliver()) == 200
    first.close()

    handled: list[str] = []
    with WebhookReceiver(secret=KEY, ledger=ledger) as second:
        second.on("chat_ended", lambda e: handled.append(e.chat_id))  # type: ignore[union-attr]
        assert list(second.events()["state"]) == ["pending"]
        second.start()
        second.wait_for("kept", timeout=10, handled=True)
        assert handled == ["kept"]
        assert post(second.url, chat_body("kept")).json()["status"] == "duplicate"  # type: ignore[arg-type]
    with WebhookReceiver(secret=KEY, ledger=ledger) as third:
        df = third.events()
        assert list(df["subject_id"]) == ["kept"] and df.loc[0, "deliveries"] == 2 and df.loc[0, "state"] == "handled"
