"""Tests for humekit.webhooks.receiver: a verified, durable, exactly-once webhook receiver on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from _receiving import KEY, TIMEOUT, chat_body, post

import humekit
from humekit.clock import VirtualClock
from humekit.emulator.evi import EviEmulator
from humekit.emulator.wire import EmuRequest
from humekit.webhooks.events import ChatEnded, Event
from humekit.webhooks.evi import EMOTIONS, chat_events
from humekit.webhooks.receiver import WebhookReceiver


def test_start_serves_on_loopback(receiver: WebhookReceiver) -> None:
    """start() binds 127.0.0.1 on a free port; GET is a health check."""
    assert receiver.url is not None and receiver.url.startswith("http://127.0.0.1:")
    assert httpx.get(receiver.url, timeout=TIMEOUT).json()["status"] == "ok"
    assert KEY not in repr(receiver) and "run-token" not in repr(receiver)


def test_signed_event_is_recorded_and_handled(receiver: WebhookReceiver) -> None:
    """A signed chat_ended gets 200, is recorded, and its handler runs after the acknowledgement."""
    got: list[Event] = []
    receiver.on("chat_ended", got.append)
    response = post(receiver.url, chat_body("c1"))  # type: ignore[arg-type]
    assert response.status_code == 200 and response.json()["status"] == "success"
    event = receiver.wait_for("c1", timeout=10, handled=True)["c1"]
    assert isinstance(event, ChatEnded) and [e.chat_id for e in got] == ["c1"]  # type: ignore[union-attr]
    df = receiver.events()
    assert list(df["state"]) == ["handled"] and list(df["auth"]) == ["hmac"] and df.loc[0, "status"] == "USER_ENDED"
    assert df.loc[0, "payload"]["chat_id"] == "c1" and str(df["received_at"].dt.tz) == "UTC"


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"{not json", "application/json", "malformed_payload"),
        (b'{"hello": 1}', "application/json", "malformed_payload"),
        (b"[]", "application/json", "malformed_payload"),
        (b'{"event_name": "chat_ended", "chat_id": "c"}', "text/plain", "unsupported_content_type"),
        (b'{"event_name": "chat_ended", "chat_id": "c"}', "multipart/form-data; boundary=x", "unsupported_content_type"),
    ],
)
def test_bad_bodies_get_400(receiver: WebhookReceiver, body: bytes, content_type: str, reason: str) -> None:
    """Unparseable bodies and non-JSON content types are 400 with a reason."""
    response = post(receiver.url, body, headers={"content-type": content_type})  # type: ignore[arg-type]
    assert response.status_code == 400 and response.json()["reason"] == reason


def test_oversized_bodies_get_413(receiver: WebhookReceiver) -> None:
    """Bodies over max_body_bytes are 413, by Content-Length and when streamed without one."""
    big = b'{"event_name": "chat_ended", "chat_id": "c", "pad": "' + b"x" * 20_000 + b'"}'
    assert post(receiver.url, big).status_code == 413  # type: ignore[arg-type]

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    response = httpx.post(receiver.url, content=chunks(), headers={"content-type": "application/json"},  # type: ignore[arg-type]
                          timeout=TIMEOUT)  # fmt: skip
    assert response.status_code == 413 and response.json()["reason"] == "body_too_large"


def test_keeps_serving_after_hostile_input(receiver: WebhookReceiver) -> None:
    """Garbage HTTP, binary bodies, huge headers and aborted uploads do not stop the receiver."""
    host, port = receiver.url.removeprefix("http://").split(":")  # type: ignore[union-attr]
    for raw in (b"\x00\xff garbage\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n{",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{\"a\""):  # fmt: skip
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(raw)
            sock.settimeout(0.5)
            try:
                sock.recv(1024)
            except OSError:
                pass
    assert post(receiver.url, bytes(range(256))).status_code == 400  # type: ignore[arg-type]
    assert post(receiver.url, chat_body("c"), headers={"x-junk": "y" * 8000}).status_code in (200, 400, 431)  # type: ignore[arg-type]
    assert post(receiver.url, chat_body("after")).status_code == 200  # type: ignore[arg-type]
    receiver.wait_for("after", timeout=10)


def test_events_stay_in_a_sqlite_file_even_with_a_postgresql_ledger(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL for the receiver's ledger= is refused (its events stay in a file), password masked, no folder made."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(humekit.ConfigurationError, match="keeps its events in a SQLite file") as info:
        WebhookReceiver(secret=KEY, ledger="postgresql://alice:pw-42@db.lab/humekit")
    assert "alice:***@db.lab" in str(info.value) and "pw-42" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_receiver_restarts_on_a_new_port(ledger: Path) -> None:
    """stop() then start() serves again; stop() is idempotent."""
    with WebhookReceiver(secret=KEY, ledger=ledger) as rx:
        rx.start()
        rx.stop()
        rx.stop()
        assert rx.url is None
        url = rx.start()
        assert post(url, chat_body("again")).status_code == 200


def test_simulated_chat_reaches_the_receiver_and_becomes_a_dataframe(ledger: Path) -> None:
    """A simulated chat's signed chat_ended (duplicated, after a lost first attempt) reaches a running
    receiver once, and its handler turns the chat's events into a DataFrame with 48 emotion columns."""
    clock = VirtualClock()  # near real time: the receiver shares it for the timestamp window
    evi = EviEmulator(clock=clock, seed=11, initial_chats=0)

    class StandIn:
        """The public members of humekit.Client that humekit.webhooks.evi uses."""

        def __init__(self) -> None:
            self.clock = clock

        def get_json(self, path: str, *, params: Any = None) -> Any:
            query = str(httpx.QueryParams(params or {}))
            response = evi.handle(EmuRequest("GET", path, query))
            assert response is not None and response.status == 200
            return orjson.loads(response.body)

    frames: dict[str, Any] = {}
    with WebhookReceiver(secret=KEY, ledger=ledger, clock=clock) as rx:
        rx.on("chat_ended", lambda e: frames.update({e.chat_id: chat_events(StandIn(), e.chat_id)}))  # type: ignore[union-attr]
        rx.start()
        chat_id = evi.simulate_chat(webhook_url=rx.url + "/hume/webhooks", secret=KEY, duration_seconds=75,  # type: ignore[operator]
                                    duplicate_deliveries=1, fail_first_attempts=1, retry_delay=0.01)  # fmt: skip
        ended = rx.wait_for(chat_id, timeout=10, handled=True)[chat_id]
        df = rx.events()
    assert isinstance(ended, ChatEnded) and ended.duration_seconds == 75
    assert list(df["event_name"]) == ["chat_started", "chat_ended"] and list(df["deliveries"]) == [3, 3]
    assert all(d.status == 200 for d in evi.deliveries)
    events = frames[chat_id]
    assert list(events["event_id"]) == [e["id"] for e in evi.events(chat_id)]
    assert list(events.columns[-48:]) == list(EMOTIONS)
    assert events.loc[events["type"] == "USER_MESSAGE", list(EMOTIONS)].notna().all().all()
