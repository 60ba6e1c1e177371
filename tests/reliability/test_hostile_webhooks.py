"""Hostile webhooks against a running WebhookReceiver: forged, stale, replayed, malformed, oversized and flooded."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humekit.webhooks.events import Event
from humekit.webhooks.receiver import WebhookReceiver
from humekit.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, compute_signature, sign

from ._support import integrity, record

KEY = "hostile-webhook-signing-key"
TOKEN = "run-token-8f1c"
MAX_BODY = 10_000
TIMEOUT = httpx.Timeout(10.0)
JSON = {"content-type": "application/json"}


def chat(chat_id: str, name: str = "chat_ended") -> bytes:
    return orjson.dumps({"event_name": name, "chat_id": chat_id, "chat_group_id": "g", "config_id": None,
                         "end_time": 1_750_000_000_000, "duration_seconds": 12, "end_reason": "USER_ENDED"})


def signed(body: bytes, *, ts: int | None = None, key: str = KEY) -> dict[str, str]:
    return {**JSON, **sign(body, secret=key, timestamp=int(time.time()) if ts is None else ts)}


def stored(receiver: WebhookReceiver) -> list[tuple[str, int]]:
    db = sqlite3.connect(receiver.ledger)
    try:
        return db.execute("SELECT subject_id, deliveries FROM webhook_events ORDER BY subject_id").fetchall()
    finally:
        db.close()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[WebhookReceiver]:
    """A serving receiver with an HMAC secret, a callback token and a 10 kB body limit."""
    with WebhookReceiver(secret=KEY, ledger=tmp_path / "hooks.sqlite", callback_token=TOKEN,
                         max_body_bytes=MAX_BODY) as rx:
        rx.start()
        yield rx


def hostile_cases(now: int) -> list[tuple[str, bytes, dict[str, str], str, int, str]]:
    """(name, body, headers, query, expected status, expected reason) for every hostile delivery."""
    body = chat("victim")
    good = sign(body, secret=KEY, timestamp=now)
    sig, ts = good[SIGNATURE_HEADER], good[TIMESTAMP_HEADER]

    def h(signature: str | None = sig, timestamp: str | None = ts, kind: str = "application/json") -> dict[str, str]:
        out = {"content-type": kind}
        if signature is not None:
            out[SIGNATURE_HEADER] = signature
        if timestamp is not None:
            out[TIMESTAMP_HEADER] = timestamp
        return out

    deep = b"[" * 5000 + b"]" * 5000
    return [
        ("forged-signature", body, h("ab" * 32), "", 401, "invalid_signature"),
        ("signature-of-another-body", body, h(sign(chat("other"), secret=KEY, timestamp=now)[SIGNATURE_HEADER]), "",
         401, "invalid_signature"),
        ("truncated-signature-63", body, h(sig[:63]), "", 401, "invalid_signature"),
        ("truncated-signature-32", body, h(sig[:32]), "", 401, "invalid_signature"),
        ("empty-signature", body, h(""), "", 401, "invalid_signature"),
        ("uppercase-signature", body, h(sig.upper()), "", 401, "invalid_signature"),
        ("prefixed-signature", body, h("sha256=" + sig), "", 401, "invalid_signature"),
        ("signature-twice-concatenated", body, h(sig + sig), "", 401, "invalid_signature"),
        ("wrong-key", body, h(compute_signature(body, ts, secret="not-the-key")), "", 401, "invalid_signature"),
        ("tampered-body", body + b" ", h(), "", 401, "invalid_signature"),
        ("tampered-timestamp", body, h(timestamp=str(now + 1)), "", 401, "invalid_signature"),
        ("zero-padded-timestamp", body, h(timestamp="0" + ts), "", 401, "invalid_signature"),
        ("missing-signature", body, h(signature=None), "", 401, "missing_signature_header"),
        ("missing-timestamp", body, h(timestamp=None), "", 401, "missing_signature_header"),
        ("unsigned-no-token", body, h(None, None), "", 401, "missing_signature_header"),
        ("stale-timestamp", body, signed(body, ts=now - 240), "", 401, "stale_timestamp"),
        ("replay-from-yesterday", body, signed(body, ts=now - 86_400), "", 401, "stale_timestamp"),
        ("replay-from-epoch", body, signed(body, ts=0), "", 401, "stale_timestamp"),
        ("future-timestamp", body, signed(body, ts=now + 240), "", 401, "future_timestamp"),
        ("far-future-timestamp", body, signed(body, ts=now + 10**9), "", 401, "future_timestamp"),
        ("decimal-timestamp", body, h(timestamp=f"{now}.5"), "", 401, "malformed_timestamp"),
        ("negative-timestamp", body, h(timestamp=f"-{now}"), "", 401, "malformed_timestamp"),
        ("exponent-timestamp", body, h(timestamp="1.75e9"), "", 401, "malformed_timestamp"),
        ("huge-timestamp", body, h(timestamp="9" * 40), "", 401, "malformed_timestamp"),
        ("wrong-token", body, {"content-type": "application/json"}, "?token=guess", 401, "invalid_token"),
        ("empty-token", body, {"content-type": "application/json"}, "?token=", 401, "invalid_token"),
        ("right-token-forged-hmac", body, h("00" * 32), f"?token={TOKEN}", 401, "invalid_signature"),
        ("malformed-json", b'{"event_name": "chat_ended", ', signed(b'{"event_name": "chat_ended", ', ts=now), "",
         400, "malformed_payload"),
        ("json-array", b"[1, 2, 3]", signed(b"[1, 2, 3]", ts=now), "", 400, "malformed_payload"),
        ("json-null", b"null", signed(b"null", ts=now), "", 400, "malformed_payload"),
        ("empty-body", b"", signed(b"", ts=now), "", 400, "malformed_payload"),
        ("not-utf8", b"\xff\xfe{\x00}", signed(b"\xff\xfe{\x00}", ts=now), "", 400, "malformed_payload"),
        ("deeply-nested", deep[:MAX_BODY], signed(deep[:MAX_BODY], ts=now), "", 400, "malformed_payload"),
        ("wrong-field-types", b'{"event_name": 5}', signed(b'{"event_name": 5}', ts=now), "", 400,
         "malformed_payload"),
        ("oversized-json", b'{"pad": "' + b"x" * (MAX_BODY + 10) + b'"}', h(), "", 413, "body_too_large"),
        ("text-plain", body, h(kind="text/plain"), "", 400, "unsupported_content_type"),
        ("form-urlencoded", body, h(kind="application/x-www-form-urlencoded"), "", 400, "unsupported_content_type"),
        ("multipart", body, h(kind="multipart/form-data; boundary=x"), "", 400, "unsupported_content_type"),
        ("xml", body, h(kind="application/xml"), "", 400, "unsupported_content_type"),
    ]


def test_hostile_deliveries_are_rejected_and_the_receiver_keeps_serving(receiver: WebhookReceiver) -> None:
    """Forged, truncated, stale, future, malformed, oversized and mistyped deliveries: each rejected, none recorded."""
    now = int(time.time())
    cases = hostile_cases(now)
    reasons: Counter[str] = Counter()
    with httpx.Client(timeout=TIMEOUT) as http:
        for name, body, headers, query, status, reason in cases:
            response = http.post(receiver.url + "/" + query, content=body, headers=headers)
            assert (response.status_code, response.json().get("reason")) == (status, reason), (name, response.text)
            assert http.get(receiver.url).status_code == 200  # still serving
            reasons[reason] += 1
        # Bodies that lie about their size or never end, over a raw socket.
        raw = raw_requests(receiver)
        # And the legitimate delivery still goes through afterwards.
        assert http.post(receiver.url, content=chat("victim"), headers=signed(chat("victim"))).json()["status"] == \
            "success"
    assert stored(receiver) == [("victim", 1)]
    assert integrity(receiver.ledger) == "ok"
    record("webhooks-hostile", rejected=len(cases) + len(raw), by_reason=dict(reasons), raw=raw,
           names=[c[0] for c in cases])


def raw_requests(receiver: WebhookReceiver) -> dict[str, int]:
    """Send malformed HTTP by hand: a negative and a non-numeric Content-Length, a chunked body over the limit."""
    parts = urlsplit(receiver.url)
    body = chat("raw")
    statuses = {}
    for name, head, payload in (
        ("negative-content-length", b"Content-Length: -1\r\n", body),
        ("text-content-length", b"Content-Length: abc\r\n", body),
        ("chunked-oversized", b"Transfer-Encoding: chunked\r\n",
         b"".join(b"%x\r\n%s\r\n" % (1000, b"x" * 1000) for _ in range(12)) + b"0\r\n\r\n"),
    ):
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + head + b"\r\n" + payload)
            reply = b""
            while b"\r\n" not in reply:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
        status = int(reply.split(b" ")[1]) if reply.startswith(b"HTTP/") else 0
        assert status in (400, 413, 422), (name, reply[:200])
        statuses[name] = status
    return statuses


def test_replays_and_duplicate_deliveries_are_recorded_once(receiver: WebhookReceiver) -> None:
    """An exact replay inside the window, re-signed redeliveries and repeated job callbacks: one event each."""
    calls: Counter[str] = Counter()
    receiver.on("*", lambda event: calls.update([event.dedupe_key]))
    body = chat("replayed")
    headers = signed(body)
    job = orjson.dumps({"job_id": "5d6b9c1e-0000-4000-8000-000000000001", "status": "COMPLETED", "predictions": []})
    with httpx.Client(timeout=TIMEOUT) as http:
        exact = [http.post(receiver.url, content=body, headers=headers).json()["status"] for _ in range(5)]
        resigned = [http.post(receiver.url, content=body, headers=signed(body, ts=int(time.time()) - k)).json()["status"]
                    for k in range(3)]
        callbacks = [http.post(f"{receiver.url}/?token={TOKEN}", content=job, headers=JSON).json()["status"]
                     for _ in range(4)]
    assert exact == ["success"] + ["duplicate"] * 4
    assert resigned == ["duplicate"] * 3
    assert callbacks == ["success"] + ["duplicate"] * 3
    receiver.wait_for(["replayed"], event_name="chat_ended", timeout=10, handled=True)
    receiver.wait_for(["5d6b9c1e-0000-4000-8000-000000000001"], timeout=10, handled=True)
    time.sleep(0.2)
    assert sorted(calls.values()) == [1, 1]
    assert dict(stored(receiver)) == {"5d6b9c1e-0000-4000-8000-000000000001": 4, "replayed": 8}
    record("webhooks-duplicates", deliveries=12, recorded=2, deduplicated=10, handler_calls=sum(calls.values()))


def test_flood_of_concurrent_deliveries_mixed_with_attacks(receiver: WebhookReceiver) -> None:
    """600 concurrent POSTs (300 valid incl. 100 duplicates, 300 hostile): nothing lost, nothing twice, still serving."""
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def handler(event: Event) -> None:
        with lock:
            calls.update([event.subject_id])

    receiver.on("chat_ended", handler)
    now = int(time.time())
    valid = [f"flood-{i}" for i in range(200)] + [f"flood-{i}" for i in range(100)]
    hostile_kinds = ["forged", "stale", "malformed", "oversized", "wrong-type", "wrong-token"]
    jobs: list[tuple[str, str]] = [("valid", v) for v in valid] + [
        (hostile_kinds[i % len(hostile_kinds)], f"evil-{i}") for i in range(300)]
    order = sorted(range(len(jobs)), key=lambda i: (i * 7919) % len(jobs))  # interleave deterministically
    jobs = [jobs[i] for i in order]
    barrier = threading.Barrier(40, timeout=10)

    def deliver(job: tuple[str, str]) -> tuple[str, int]:
        kind, ident = job
        body = chat(ident)
        url, headers = receiver.url, signed(body, ts=now)
        if kind == "forged":
            headers[SIGNATURE_HEADER] = "0" * 64
        elif kind == "stale":
            headers = signed(body, ts=now - 3600)
        elif kind == "malformed":
            body = body[:-3]
            headers = signed(body, ts=now)
        elif kind == "oversized":
            body = b'{"x": "' + b"y" * (MAX_BODY * 2) + b'"}'
        elif kind == "wrong-type":
            headers["content-type"] = "text/html"
        elif kind == "wrong-token":
            url, headers = f"{receiver.url}/?token=nope", dict(JSON)
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        return kind, http.post(url, content=body, headers=headers).status_code

    with httpx.Client(timeout=TIMEOUT, limits=httpx.Limits(max_connections=40)) as http, \
            ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(deliver, jobs))
        assert http.get(receiver.url).status_code == 200
    by_kind: dict[str, Counter[int]] = {}
    for kind, status in results:
        by_kind.setdefault(kind, Counter())[status] += 1
    assert by_kind["valid"] == Counter({200: 300})
    for kind in hostile_kinds:
        assert all(400 <= status < 500 for status in by_kind[kind]), (kind, by_kind[kind])
    receiver.wait_for(sorted(set(valid)), timeout=30, handled=True)
    time.sleep(0.2)
    assert calls == Counter({f"flood-{i}": 1 for i in range(200)})
    rows = stored(receiver)
    assert len(rows) == 200 and sum(d for _, d in rows) == 300
    assert integrity(receiver.ledger) == "ok"
    record("webhooks-flood", posts=len(jobs), valid=300, unique=200, deduplicated=100, rejected=300,
           by_kind={k: dict(v) for k, v in by_kind.items()})


# -- property: no modification of a signed delivery verifies at the receiver ---------------------------------

@pytest.fixture(scope="module")
def shared_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebhookReceiver, httpx.Client]]:
    """One receiver and one keep-alive client for all hypothesis examples."""
    folder = tmp_path_factory.mktemp("hypothesis-hooks")
    with WebhookReceiver(secret=KEY, ledger=folder / "hooks.sqlite", max_body_bytes=MAX_BODY) as rx, \
            httpx.Client(timeout=TIMEOUT) as http:
        rx.start()
        yield rx, http


_PRINTABLE = st.integers(min_value=0x21, max_value=0x7E)  # header bytes that survive HTTP (no spaces, no controls)
_EDIT = st.tuples(st.sampled_from(["replace", "insert", "delete", "truncate", "swapcase"]),
                  st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=255))


def _edit(value: bytes, op: str, position: int, byte: int, *, header: bool) -> bytes:
    """Apply one edit; header values only ever get printable, non-space ASCII (what HTTP carries unchanged)."""
    if header:
        byte = 0x21 + byte % 94
    if op == "insert":
        i = position % (len(value) + 1)
        return value[:i] + bytes([byte]) + value[i:]
    if not value:
        return value
    i = position % len(value)
    if op == "replace":
        if value[i] == byte:
            byte = 0x21 + (byte - 0x21 + 1) % 94 if header else (byte + 1) % 256
        return value[:i] + bytes([byte]) + value[i + 1:]
    if op == "delete":
        return value[:i] + value[i + 1:]
    if op == "truncate":
        return value[:i]
    return value.swapcase()


_EXAMPLES = Counter[str]()


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["body", "timestamp", "signature"]), edits=st.lists(_EDIT, min_size=1, max_size=3),
       skew=st.integers(min_value=-170, max_value=170))
def test_no_modified_delivery_is_accepted(shared_receiver: tuple[WebhookReceiver, httpx.Client], field: str,
                                          edits: list[tuple[str, int, int]], skew: int) -> None:
    """Property: any edit of a signed delivery's body, timestamp or signature gets 401 and records nothing."""
    receiver, http = shared_receiver
    ident = f"prop-{time.perf_counter_ns()}"
    body = chat(ident)
    ts = str(int(time.time()) + skew)
    parts = {"body": body, "timestamp": ts.encode(), "signature": compute_signature(body, ts, secret=KEY).encode()}
    original = parts[field]
    for op, position, byte in edits:
        parts[field] = _edit(parts[field], op, position, byte, header=field != "body")
    if parts[field] == original:
        return  # an edit that changed nothing (e.g. swapcase of digits) is not a modification
    headers = {"content-type": "application/json", SIGNATURE_HEADER: parts["signature"].decode("ascii"),
               TIMESTAMP_HEADER: parts["timestamp"].decode("ascii")}
    if not headers[SIGNATURE_HEADER] or not headers[TIMESTAMP_HEADER]:
        headers = {k: v for k, v in headers.items() if v}
    response = http.post(receiver.url, content=parts["body"], headers=headers)
    assert response.status_code == 401, (field, edits, response.text)
    assert receiver.received(ident, event_name="chat_ended") == {}
    _EXAMPLES[field] += 1
    record("webhooks-property", examples=sum(_EXAMPLES.values()), by_field=dict(_EXAMPLES))


# -- who may deliver what: every event kind x every credential x every receiver set-up ---------------------------

MATRIX_KINDS = ("job", "chat_started", "chat_ended", "tool_call", "future_event")
MATRIX_CREDENTIALS = ("token", "hmac", "both", "neither", "wrong-token", "stale")
_OK_TOKEN, _OK_HMAC, _OK_UNSIGNED = (200, "token"), (200, "hmac"), (200, "unsigned")
_MISSING, _BAD_TOKEN = (401, "missing_signature_header"), (401, "invalid_token")
_STALE, _NO_SECRET = (401, "stale_timestamp"), (401, "no_signing_secret")
#: (receiver set-up, job callbacks or EVI events) -> credential -> (status, auth recorded or reason refused)
EXPECTED_AUTH: dict[tuple[str, str], dict[str, tuple[int, str]]] = {
    ("secret", "job"): {"token": _OK_TOKEN, "hmac": _OK_HMAC, "both": _OK_HMAC, "neither": _MISSING,
                        "wrong-token": _BAD_TOKEN, "stale": _STALE},
    ("secret", "evi"): {"token": _MISSING, "hmac": _OK_HMAC, "both": _OK_HMAC, "neither": _MISSING,
                        "wrong-token": _BAD_TOKEN, "stale": _STALE},
    ("no-secret", "job"): {"token": _OK_TOKEN, "hmac": _BAD_TOKEN, "both": _OK_TOKEN, "neither": _BAD_TOKEN,
                           "wrong-token": _BAD_TOKEN, "stale": _BAD_TOKEN},
    ("no-secret", "evi"): {"token": _NO_SECRET, "hmac": _NO_SECRET, "both": _NO_SECRET, "neither": _NO_SECRET,
                           "wrong-token": _BAD_TOKEN, "stale": _NO_SECRET},
    ("no-secret-opt-in", "job"): {"token": _OK_TOKEN, "hmac": _BAD_TOKEN, "both": _OK_TOKEN, "neither": _BAD_TOKEN,
                                  "wrong-token": _BAD_TOKEN, "stale": _BAD_TOKEN},
    ("no-secret-opt-in", "evi"): {"token": _OK_UNSIGNED, "hmac": _OK_UNSIGNED, "both": _OK_UNSIGNED,
                                  "neither": _OK_UNSIGNED, "wrong-token": _BAD_TOKEN, "stale": _OK_UNSIGNED},
}
_MATRIX = Counter[str]()


def matrix_body(kind: str, subject: str) -> bytes:
    """A well-formed body of this kind whose job or chat id is ``subject``."""
    if kind == "job":
        return orjson.dumps({"job_id": subject, "status": "COMPLETED", "predictions": []})
    body: dict[str, object] = {"event_name": kind, "chat_id": subject, "chat_group_id": "g"}
    if kind == "chat_started":
        body.update(start_time=1_750_000_000_000, chat_start_type="new_chat_group")
    elif kind == "chat_ended":
        body.update(end_time=1_750_000_000_000, duration_seconds=12, end_reason="USER_ENDED")
    elif kind == "tool_call":
        body.update(timestamp=1_750_000_000_000, tool_call_message={
            "tool_call_id": f"call-{subject}", "name": "lookup", "parameters": "{}", "response_required": True})
    else:
        body.update(anything="a future event humekit does not know")
    return orjson.dumps(body)


@pytest.mark.parametrize("setup", ["secret", "no-secret", "no-secret-opt-in"])
def test_each_event_kind_needs_its_own_credentials(tmp_path: Path, setup: str) -> None:
    """The callback token authenticates only batch job callbacks; every EVI event needs a fresh HMAC (or, with no
    secret, an explicit opt-in): status, what is recorded and which handlers ran, for every combination."""
    ran: Counter[str] = Counter()
    with WebhookReceiver(secret=KEY if setup == "secret" else None, ledger=tmp_path / "hooks.sqlite",
                         callback_token=TOKEN, accept_unsigned_events=setup.endswith("opt-in")) as rx, \
            httpx.Client(timeout=TIMEOUT) as http:
        rx.on("*", lambda event: ran.update([event.subject_id]))
        base = rx.start()
        accepted: dict[str, tuple[str, str]] = {}
        for kind in MATRIX_KINDS:
            for credential in MATRIX_CREDENTIALS:
                subject = f"{setup}-{kind}-{credential}"
                body = matrix_body(kind, subject)
                headers = dict(JSON)
                if credential in ("hmac", "both"):
                    headers = signed(body)
                elif credential == "stale":
                    headers = signed(body, ts=int(time.time()) - 3600)
                query = {"token": f"?token={TOKEN}", "both": f"?token={TOKEN}", "wrong-token": "?token=guess"}
                response = http.post(base + "/" + query.get(credential, ""), content=body, headers=headers)
                expected = EXPECTED_AUTH[(setup, "job" if kind == "job" else "evi")][credential]
                if expected[0] == 200:
                    assert response.status_code == 200, (subject, response.text)
                    accepted[subject] = (kind, expected[1])
                else:
                    assert (response.status_code, response.json()["reason"]) == expected, (subject, response.text)
                _MATRIX[f"{expected[0]} {expected[1]}"] += 1
        names = sorted({kind for kind, _ in accepted.values()})
        if accepted:
            rx.wait_for(sorted(accepted), event_name=names, timeout=10, handled=True)
        recorded = rx.events()
    assert dict(zip(recorded["subject_id"], recorded["auth"], strict=True)) == {s: a for s, (_, a) in accepted.items()}
    assert ran == Counter(accepted.keys())  # a refused delivery never reaches a handler; an accepted one once
    record("webhooks-auth-matrix", deliveries=sum(_MATRIX.values()), by_outcome=dict(_MATRIX),
           kinds=list(MATRIX_KINDS), credentials=list(MATRIX_CREDENTIALS), setups=3)
