"""An emulator of EVI's chat history endpoints and chat webhooks, deterministic per seed.

Serves ``GET /v0/evi/chats`` (paged list), ``GET /v0/evi/chats/{id}`` (paged events; past-the-end
pages are ``200`` with ``events_page: []``, which is how the official SDK's pager stops),
``GET /v0/evi/chats/{id}/audio`` (``QUEUED`` → ``IN_PROGRESS`` → ``COMPLETE`` over a few seconds
of the clock, then a ``signed_audio_url`` to a WAV under ``/media/evi/``) and
``GET /v0/evi/chat_groups/{id}/events``. Shapes follow ``sdk_example_evi_*.json``.

:meth:`EviEmulator.simulate_chat` creates a chat and POSTs signed ``chat_started`` and
``chat_ended`` webhooks to a URL, with duplicate deliveries and retried failures as fault knobs
(:mod:`~humekit.emulator.evi_webhooks`); what each chat says is :mod:`~humekit.emulator.evi_script`'s.
"""

from __future__ import annotations

import math
from http import HTTPStatus
import random
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from humekit.clock import Clock
from humekit.emulator.evi_script import script_events
from humekit.emulator.evi_webhooks import WebhookDelivery, deliver_webhook
from humekit.emulator.wire import EmuRequest, EmuResponse, json_response

__all__ = ["EviEmulator", "WebhookDelivery"]

_ROUTES = (
    ("list", re.compile(r"/v0/evi/chats/?")),
    ("audio", re.compile(r"/v0/evi/chats/([^/]+)/audio/?")),
    ("events", re.compile(r"/v0/evi/chats/([^/]+)/?")),
    ("group", re.compile(r"/v0/evi/chat_groups/([^/]+)/events/?")),
    ("media", re.compile(r"/media/evi/([^/]+)/reconstructed_audio\.wav")),
)


class _MediaSink(Protocol):
    def put(self, name: str, data: bytes) -> None: ...


@dataclass
class _Chat:
    id: str
    chat_group_id: str
    config_id: str
    user_id: str
    status: str
    start_ms: int
    end_ms: int
    events: list[dict[str, Any]]
    seed: int
    audio_requested_at: float | None = None
    audio_outcome: str = "COMPLETE"


class EviEmulator:
    """EVI chat history, audio reconstruction and chat webhooks, on a shared clock.

    Args:
        clock: the emulator's clock (virtual in tests).
        seed: chats, texts, ids and scores are deterministic given the seed and the clock.
        api_key_check: called on each request served; a response it returns (e.g. 401) is sent instead.
        initial_chats: how many finished chats exist from the start.
        media: where to publish reconstructed WAVs (``put(name, bytes)``, e.g. the emulator's MediaStore).
        base_url: the emulator's URL for ``signed_audio_url``; defaults to the request's Host.
        audio_seconds: clock seconds after the first audio request at which it turns
            ``IN_PROGRESS`` and then ``COMPLETE``.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        seed: int = 0,
        api_key_check: Callable[[EmuRequest], EmuResponse | None] | None = None,
        initial_chats: int = 3,
        media: _MediaSink | None = None,
        base_url: str | None = None,
        audio_seconds: tuple[float, float] = (1.0, 4.0),
    ):
        self.clock = clock
        self.seed = seed
        self.api_key_check = api_key_check
        self.media = media
        self.base_url = base_url
        self.audio_seconds = audio_seconds
        self.deliveries: list[WebhookDelivery] = []
        self._chats: dict[str, _Chat] = {}
        self._audio: dict[str, bytes] = {}
        self._count = 0
        self._lock = threading.Lock()
        now_ms = int(clock.time() * 1000)
        for i in range(initial_chats):
            rng = random.Random(f"{seed}:initial:{i}")
            self.create_chat(duration_seconds=rng.uniform(40, 240), end_ms=now_ms - (initial_chats - i) * 3_600_000)

    # -- chats -------------------------------------------------------------------------------
    def create_chat(
        self,
        *,
        duration_seconds: float = 60.0,
        end_reason: str = "USER_ENDED",
        chat_group_id: str | None = None,
        config_id: str | None = None,
        end_ms: int | None = None,
        audio_outcome: str = "COMPLETE",
    ) -> str:
        """Add a finished chat ending at ``end_ms`` (default: now) and return its id.

        Args:
            duration_seconds: how long the chat lasted (one user/agent exchange per ~8 s).
            end_reason: its ChatStatus (USER_ENDED, INACTIVITY_TIMEOUT, ERROR…).
            chat_group_id: join an existing group (a resumed chat); default a new group.
            config_id: the EVI config id; default deterministic.
            end_ms: Unix ms of the end; defaults to the clock's now.
            audio_outcome: what its audio reconstruction ends as: COMPLETE, ERROR or CANCELLED.
        """
        with self._lock:
            index = self._count
            self._count += 1
        rng = random.Random(f"humekit-evi:{self.seed}:{index}")
        chat_seed = rng.getrandbits(32)
        new_id = lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))  # noqa: E731
        end = int(self.clock.time() * 1000) if end_ms is None else end_ms
        start = end - int(duration_seconds * 1000)
        chat = _Chat(id=new_id(), chat_group_id=chat_group_id or new_id(), config_id=config_id or new_id(),
                     user_id=str(uuid.UUID(int=random.Random(self.seed).getrandbits(128), version=4)),
                     status=end_reason, start_ms=start, end_ms=end, events=[], seed=chat_seed,
                     audio_outcome=audio_outcome)  # fmt: skip
        chat.events = script_events(chat.id, start, end, rng, new_id)
        with self._lock:
            self._chats[chat.id] = chat
        return chat.id

    def chat_ids(self) -> list[str]:
        """Every chat's id, oldest first."""
        with self._lock:
            return [c.id for c in sorted(self._chats.values(), key=lambda c: c.start_ms)]

    def events(self, chat_id: str) -> list[dict[str, Any]]:
        """A chat's events exactly as the API returns them, oldest first."""
        with self._lock:
            return [dict(e) for e in self._chats[chat_id].events]

    def audio_media_name(self, chat_id: str) -> str:
        """The ``/media/`` name of the chat's reconstructed WAV."""
        return f"evi/{chat_id}/reconstructed_audio.wav"

    def audio_bytes(self, chat_id: str) -> bytes:
        """The chat's reconstructed audio: a WAV with voiced bursts where messages were spoken."""
        from humekit.testing.synthetic import make_wav

        with self._lock:
            chat = self._chats[chat_id]
            cached = self._audio.get(chat_id)
        if cached is not None:
            return cached
        segments = []
        for e in chat.events:
            if e["type"] in ("USER_MESSAGE", "AGENT_MESSAGE"):
                begin = (e["timestamp"] - chat.start_ms) / 1000
                segments.append((begin, begin + min(6.0, 0.3 + 0.06 * len(e["message_text"]))))
        data = make_wav(segments=segments, duration=(chat.end_ms - chat.start_ms) / 1000, sample_rate=8000,
                        seed=chat.seed)  # fmt: skip
        with self._lock:
            self._audio[chat_id] = data
        return data

    # -- HTTP --------------------------------------------------------------------------------
    def handle(self, request: EmuRequest) -> EmuResponse | None:
        """Answer an EVI request, or ``None`` when the path is not one this emulator serves."""
        for kind, pattern in _ROUTES:  # noqa: B007 (kind is read after the loop breaks)
            match = pattern.fullmatch(request.path)
            if match:
                break
        else:
            return None
        if kind == "media":
            return self._media(request, match.group(1))
        if self.api_key_check is not None and (denied := self.api_key_check(request)) is not None:
            return denied
        if request.method != "GET":
            return _error(405, "method_not_allowed", f"{request.method} is not supported on {request.path}")
        query = dict(request.query)
        try:
            number, size = _int(query, "page_number", 0, 0, None), _int(query, "page_size", 10, 1, 100)
        except ValueError as exc:
            return _error(400, "bad_request", str(exc))
        ascending = query.get("ascending_order", "true").lower() != "false"
        if kind == "list":
            return self._list(query, number, size, ascending)
        if kind == "group":
            with self._lock:
                chats = [c for c in self._chats.values() if c.chat_group_id == match.group(1)]
            if not chats:
                return _error(404, "not_found", f"Chat group {match.group(1)} not found")
            events = sorted((e for c in chats for e in c.events), key=lambda e: e["timestamp"])
            page, total = _page(events, number, size, ascending)
            return json_response(200, {"id": match.group(1), "page_number": number, "page_size": size,
                                       "total_pages": total, "pagination_direction": "ASC" if ascending else "DESC",
                                       "events_page": page})  # fmt: skip
        with self._lock:
            chat = self._chats.get(match.group(1))
        if chat is None:
            return _error(404, "not_found", f"Chat {match.group(1)} not found")
        if kind == "audio":
            return json_response(200, self._audio_status(chat, request))
        page, total = _page(chat.events, number, size, ascending)
        return json_response(200, {
            "id": chat.id, "chat_group_id": chat.chat_group_id, "status": chat.status,
            "start_timestamp": chat.start_ms, "pagination_direction": "ASC" if ascending else "DESC",
            "events_page": page, "page_number": number, "page_size": size, "total_pages": total,
            "end_timestamp": chat.end_ms, "metadata": "", "config": {"id": chat.config_id, "version": 0},
        })  # fmt: skip

    def _list(self, query: dict[str, str], number: int, size: int, ascending: bool) -> EmuResponse:
        with self._lock:
            chats = sorted(self._chats.values(), key=lambda c: c.start_ms)
        chats = [c for c in chats if query.get("config_id") in (None, c.config_id)]
        chats = [c for c in chats if query.get("status") in (None, c.status)]
        items = [{"id": c.id, "chat_group_id": c.chat_group_id, "status": c.status, "start_timestamp": c.start_ms,
                  "end_timestamp": c.end_ms, "event_count": len(c.events), "metadata": "",
                  "config": {"id": c.config_id, "version": 0}} for c in chats]  # fmt: skip
        page, total = _page(items, number, size, ascending)
        return json_response(200, {"page_number": number, "page_size": size, "total_pages": total,
                                   "pagination_direction": "ASC" if ascending else "DESC", "chats_page": page})

    def _audio_status(self, chat: _Chat, request: EmuRequest) -> dict[str, Any]:
        now = self.clock.time()
        with self._lock:
            if chat.audio_requested_at is None:
                chat.audio_requested_at = now
            elapsed = now - chat.audio_requested_at
        queued, done = self.audio_seconds
        status = "QUEUED" if elapsed < queued else "IN_PROGRESS" if elapsed < done else chat.audio_outcome
        body: dict[str, Any] = {"id": chat.id, "user_id": chat.user_id, "status": status, "filename": None,
                                "modified_at": int(now * 1000), "signed_audio_url": None,
                                "signed_url_expiration_timestamp_millis": None}  # fmt: skip
        if status == "COMPLETE":
            name = self.audio_media_name(chat.id)
            if self.media is not None:
                self.media.put(name, self.audio_bytes(chat.id))
            base = self.base_url or f"http://{request.header('host') or '127.0.0.1'}"
            expires = int((now + 3600) * 1000)
            body.update(filename=f"{chat.user_id}/{chat.id}/reconstructed_audio.wav",
                        modified_at=int((chat.audio_requested_at + done) * 1000),
                        signed_audio_url=f"{base.rstrip('/')}/media/{name}?expires={expires}",
                        signed_url_expiration_timestamp_millis=expires)  # fmt: skip
        return body

    def _media(self, request: EmuRequest, chat_id: str) -> EmuResponse:
        with self._lock:
            known = chat_id in self._chats
        if not known or request.method not in ("GET", "HEAD"):
            return _error(404, "not_found", f"No media at {request.path}")
        data = self.audio_bytes(chat_id)
        return EmuResponse(200, b"" if request.method == "HEAD" else data, {"content-type": "audio/wav"})

    # -- webhooks ----------------------------------------------------------------------------
    def webhook_payloads(self, chat_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The ``chat_started`` and ``chat_ended`` bodies of a chat (optional keys present as null)."""
        with self._lock:
            c = self._chats[chat_id]
        common = {"chat_group_id": c.chat_group_id, "chat_id": c.id, "config_id": c.config_id,
                  "caller_number": None, "custom_session_id": None}  # fmt: skip
        started = {**common, "chat_start_type": "new_chat_group", "event_name": "chat_started",
                   "start_time": c.start_ms, "twilio_metadata": None}  # fmt: skip
        ended = {**common, "duration_seconds": round((c.end_ms - c.start_ms) / 1000), "end_reason": c.status,
                 "end_time": c.end_ms, "event_name": "chat_ended", "twilio_metadata": None}  # fmt: skip
        return started, ended

    def simulate_chat(
        self,
        *,
        webhook_url: str,
        secret: str | None,
        duration_seconds: float = 60.0,
        end_reason: str = "USER_ENDED",
        duplicate_deliveries: int = 0,
        fail_first_attempts: int = 0,
        transport: httpx.BaseTransport | None = None,
        retries: int = 3,
        retry_delay: float = 0.05,
        timeout: float = 10.0,
    ) -> str:
        """Create a chat that ends now and POST its signed ``chat_started`` then ``chat_ended`` webhooks.

        Args:
            webhook_url: where to POST (e.g. a running :class:`humekit.webhooks.receiver.WebhookReceiver`).
            secret: the signing key; ``None`` sends unsigned requests.
            duration_seconds: the chat's length.
            end_reason: the chat's ChatStatus in ``chat_ended``.
            duplicate_deliveries: send each webhook this many extra times, byte-identical
                (same body, timestamp and signature), after it succeeded.
            fail_first_attempts: treat the first N attempts of each webhook as failed whatever the
                receiver answered (a lost response) and retry, re-signed with a fresh timestamp.
            transport: an ``httpx`` transport (default: real HTTP).
            retries: further attempts after a failed one (5xx, 429, no response).
            retry_delay: the first retry's wait in real seconds, doubling.
            timeout: seconds per POST.

        Returns:
            The new chat's id; every attempt is appended to :attr:`deliveries`.
        """
        chat_id = self.create_chat(duration_seconds=duration_seconds, end_reason=end_reason)
        with httpx.Client(transport=transport, timeout=timeout) as http:
            for body in self.webhook_payloads(chat_id):
                deliver_webhook(http, webhook_url, body, self.deliveries, secret=secret, clock=self.clock,
                                duplicates=duplicate_deliveries, fail_first=fail_first_attempts, retries=retries,
                                delay=retry_delay)  # fmt: skip
        return chat_id

def _page(items: list[Any], number: int, size: int, ascending: bool) -> tuple[list[Any], int]:
    ordered = items if ascending else items[::-1]
    return ordered[number * size : (number + 1) * size], math.ceil(len(items) / size)


def _int(query: dict[str, str], key: str, default: int, low: int, high: int | None) -> int:
    raw = query.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{key} must be an integer, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{key} must be {bounds}, got {value}")
    return value


def _error(status: int, code: str, message: str) -> EmuResponse:
    return json_response(status, {"code": code, "error": HTTPStatus(status).phrase, "message": message})
