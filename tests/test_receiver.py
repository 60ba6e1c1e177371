"""Tests for humekit.webhooks.receiver: a verified, durable, exactly-once webhook receiver on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from _paths import SAMPLES

from humekit.clock import VirtualClock
from humekit.emulator.evi import EviEmulator
from humekit.emulator.wire import EmuRequest
from humekit.errors import WaitTimeoutError
from humekit.webhooks.events import ChatEnded, Event, JobCallback
from humekit.webhooks.evi import EMOTIONS, chat_events
from humekit.webhooks.receiver import WebhookReceiver
from humekit.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

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


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """A fresh SQLite ledger path."""
    return tmp_path / "webhooks.sqlite"


@pytest.fixture
def receiver(ledger: Path) -> Iterator[WebhookReceiver]:
    """A running receiver with an HMAC secret and a callback token."""
    with WebhookReceiver(secret=KEY, ledger=ledger, callback_token="run-token", max_body_bytes=10_000) as rx:
        rx.start()
        yield rx


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


def test_wait_for_times_out(receiver: WebhookReceiver) -> None:
    """wait_for raises WaitTimeoutError listing the ids that never arrived."""
    post(receiver.url, chat_body("here"))  # type: ignore[arg-type]
    with pytest.raises(WaitTimeoutError) as info:
        receiver.wait_for(["here", "missing"], timeout=0.5)
    assert info.value.pending == ["missing"]


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
