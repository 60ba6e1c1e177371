"""EVI chats as DataFrames: every event of a chat with its 48 prosody scores, transcripts, audio.

**Hume ended EVI on 2026-11-13 and deleted its account data.** Hume's own API no longer has any
chat to return: a call to it raises :class:`~humekit.errors.EVISunsetError` before anything is
sent. What you still have is what you exported before the sunset: :func:`read_chat_events`
reads the JSON pages ``chats.list_chat_events`` returned (one file, or a folder of them) into the
same DataFrame :func:`chat_events` gives.

:func:`chat_events`, :func:`chat_metadata` and :func:`chat_audio` still speak the EVI contract to a
compatible service (``base_url=``) and to humekit's EVI emulator, as the webhook receiver does.
``client`` is a :class:`humekit.Client` (anything with ``get_json(path, *, params=None)`` and a
``clock`` works).

Usage::

    events = read_chat_events("exports/chats/")   # what you saved before the sunset
    events = chat_events(client, event.chat_id)   # a compatible service: one row per event, 48 emotions
    transcript(events)[["timestamp", "role", "text", "Joy"]]
"""

from __future__ import annotations

import logging
import math
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import orjson
import pandas as pd

from humekit.clock import Clock
from humekit.errors import ChatAudioError, ChatEventsFormatError, EVISunsetError, WaitTimeoutError
from humekit.webhooks.events import ms_to_datetime
from humekit.predictions.vocabulary import EMOTIONS
from humekit._internal.backoff import Backoff

__all__ = [
    "EVI_SUNSET", "ChatAudio", "chat_audio", "chat_events", "chat_metadata", "read_chat_events", "sunset_message",
    "transcript",
]  # fmt: skip

#: The day Hume ended EVI and deleted its account data.
EVI_SUNSET = "2026-11-13"

logger = logging.getLogger("humekit.webhooks.evi")

#: The columns of :func:`chat_events` before the 48 emotions.
EVENT_COLUMNS: tuple[str, ...] = ("timestamp", "role", "type", "text", "event_id", "related_event_id", "chat_id")
_PENDING = {"QUEUED", "IN_PROGRESS"}
_MAX_PAGES = 100_000


class _Client(Protocol):
    clock: Clock

    def get_json(self, path: str, *, params: Any = None) -> Any: ...


def _chat_path(chat_id: str) -> str:
    return f"/v0/evi/chats/{quote(chat_id, safe='')}"


def _is_hume(base_url: Any) -> bool:
    """Whether ``base_url`` is Hume's own API (``api.hume.ai`` or another ``*.hume.ai`` host)."""
    host = (urlsplit(str(base_url)).hostname or "").lower() if base_url else ""
    return host == "hume.ai" or host.endswith(".hume.ai")


def sunset_message(what: str) -> str:
    """Why a live EVI call cannot succeed, and what to do instead."""
    return (f"{what}: Hume ended EVI on {EVI_SUNSET} and deleted its account data, so Hume's API has no chat "
            "to return. Read the chat events you exported before the sunset with "
            "humekit.read_chat_events(path) (the JSON pages chats.list_chat_events returned: a file or a folder); "
            "chat_events and chat_audio still work against a compatible service (base_url=) or humekit's EVI "
            "emulator.")


def _refuse_hume(client: Any, what: str) -> None:
    """Raise :class:`EVISunsetError` for a client pointed at Hume's own API (nothing is sent)."""
    if _is_hume(getattr(client, "base_url", None)):
        raise EVISunsetError(sunset_message(what))


def chat_metadata(client: _Client, chat_id: str) -> dict[str, Any]:
    """A chat's metadata: ids, status, start/end (ms and UTC datetimes), config, metadata.

    From a compatible service or the emulator: Hume's own EVI ended on 2026-11-13 (see the module).

    Args:
        client: a :class:`humekit.Client`.
        chat_id: the chat.

    Returns:
        ``{"id", "chat_group_id", "status", "start_timestamp", "end_timestamp", "start_time",
        "end_time", "config", "metadata", "total_pages"}`` (``total_pages`` at page size 100).

    Raises:
        NotFoundError: there is no such chat.
        EVISunsetError: ``client`` points at Hume's own API, which has no EVI since 2026-11-13.
    """
    _refuse_hume(client, f"chat_metadata({chat_id!r})")
    page = client.get_json(_chat_path(chat_id), params={"page_number": 0, "page_size": 100, "ascending_order": "true"})
    return _metadata(page, chat_id)


def _metadata(page: dict[str, Any], chat_id: str) -> dict[str, Any]:
    start, end = page.get("start_timestamp"), page.get("end_timestamp")
    return {
        "id": page.get("id", chat_id),
        "chat_group_id": page.get("chat_group_id"),
        "status": page.get("status"),
        "start_timestamp": start,
        "end_timestamp": end,
        "start_time": ms_to_datetime(start),
        "end_time": ms_to_datetime(end),
        "config": page.get("config"),
        "metadata": page.get("metadata"),
        "total_pages": page.get("total_pages"),
    }


def chat_events(client: _Client, chat_id: str, *, page_size: int = 100) -> pd.DataFrame:
    """Every event of a chat, oldest first, one row each, with one float column per emotion.

    Pages ``GET /v0/evi/chats/{chat_id}`` from page 0 until a page comes back empty, as the
    official SDK's pager does. Hume's own EVI ended on 2026-11-13 and its data is deleted: this
    works against a compatible service or the emulator; for chats you exported before the
    sunset use :func:`read_chat_events`, which gives the same DataFrame.

    Args:
        client: a :class:`humekit.Client`.
        chat_id: the chat (e.g. ``event.chat_id`` of a ``chat_ended`` webhook).
        page_size: events per request, 1–100.

    Returns:
        Columns ``timestamp`` (UTC), ``role``, ``type``, ``text``, ``event_id``, ``related_event_id``,
        ``chat_id``, then the 48 :data:`~humekit.predictions.vocabulary.EMOTIONS` (NaN when an event has no
        ``emotion_features``). ``df.attrs["chat"]`` holds :func:`chat_metadata`'s dict.

    Raises:
        ValueError: ``page_size`` is outside 1–100.
        NotFoundError: there is no such chat.
        EVISunsetError: ``client`` points at Hume's own API, which has no EVI since 2026-11-13.
    """
    if not 1 <= page_size <= 100:
        raise ValueError(f"page_size must be between 1 and 100, got {page_size}")
    _refuse_hume(client, f"chat_events({chat_id!r})")
    events: list[dict[str, Any]] = []
    seen: set[str] = set()
    meta: dict[str, Any] | None = None
    for number in range(_MAX_PAGES):
        params = {"page_number": number, "page_size": page_size, "ascending_order": "true"}
        page = client.get_json(_chat_path(chat_id), params=params)
        if meta is None:
            meta = _metadata(page, chat_id)
        batch = page.get("events_page") or []
        fresh = [e for e in batch if e.get("id") not in seen]
        if not fresh:  # empty page: the end (a page of repeats would mean a server looping)
            break
        seen.update(e.get("id") for e in fresh)
        events.extend(fresh)
    df = _frame(events)
    df.attrs["chat"] = meta or {"id": chat_id}
    return df


def _frame(events: list[dict[str, Any]]) -> pd.DataFrame:
    scores = [_emotions(e.get("emotion_features"), e.get("id")) for e in events]
    df = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(pd.Series([e.get("timestamp") for e in events], dtype="float64"),
                                        unit="ms", utc=True),  # fmt: skip
            "role": [e.get("role") for e in events],
            "type": [e.get("type") for e in events],
            "text": [e.get("message_text") for e in events],
            "event_id": [e.get("id") for e in events],
            "related_event_id": [e.get("related_event_id") or None for e in events],
            "chat_id": [e.get("chat_id") for e in events],
        }
    )
    emotions = pd.DataFrame(scores, columns=list(EMOTIONS), dtype="float64", index=df.index)
    return pd.concat([df, emotions], axis=1)


def _emotions(raw: Any, event_id: Any) -> list[float]:
    if not raw:
        return [math.nan] * len(EMOTIONS)
    try:
        values = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    except orjson.JSONDecodeError:
        logger.warning("event %s has emotion_features that are not JSON; its scores are NaN", event_id)
        return [math.nan] * len(EMOTIONS)
    if not isinstance(values, dict):
        return [math.nan] * len(EMOTIONS)
    out = []
    for name in EMOTIONS:
        value = values.get(name)
        out.append(float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan)
    return out


def read_chat_events(path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> pd.DataFrame:
    """Chat events you exported before EVI's sunset, as the same DataFrame :func:`chat_events` gives.

    Reads the JSON that ``client.empathic_voice.chats.list_chat_events(id)`` returned, saved as it
    came: one page (``{"id", "events_page": [...], ...}``, what ``GET /v0/evi/chats/{id}``
    returns), a list of pages, or a list of the events themselves. ``path`` is one such file, a
    folder of them (every ``*.json`` below it) or several paths. Pages may overlap or come in any
    order: each event appears once, oldest first within its chat.

    Args:
        path: A ``.json`` file, a folder, or an iterable of them.

    Returns:
        Columns ``timestamp`` (UTC), ``role``, ``type``, ``text``, ``event_id``, ``related_event_id``,
        ``chat_id``, then the 48 emotions, as :func:`chat_events`. ``df.attrs["chat"]`` holds the
        chat's metadata (as :func:`chat_metadata` gives it) when the files hold one chat;
        ``df.attrs["chats"]`` maps each chat id to its metadata.

    Raises:
        FileNotFoundError: ``path`` does not exist, or a folder holds no ``.json`` file.
        ChatEventsFormatError: a file is not JSON, or not chat events (the message names it).
    """
    files = _event_files(path)
    events: list[dict[str, Any]] = []
    chats: dict[str, dict[str, Any]] = {}
    for file in files:
        for page in _pages(file):
            chat_id = page.get("id") or next((e.get("chat_id") for e in page["events_page"] if e.get("chat_id")), None)
            if chat_id is not None and "start_timestamp" in page:  # a whole page: the chat's metadata
                chats.setdefault(chat_id, _metadata(page, chat_id))
            for event in page["events_page"]:
                events.append(event if event.get("chat_id") or chat_id is None else {**event, "chat_id": chat_id})
    seen: set[Any] = set()
    unique = []
    for event in events:
        key = (event.get("chat_id"), event.get("id"))
        if event.get("id") is None or key not in seen:
            seen.add(key)
            unique.append(event)
    order = {chat: i for i, chat in enumerate(dict.fromkeys(e.get("chat_id") for e in unique))}
    unique.sort(key=lambda e: (order[e.get("chat_id")], _number(e.get("timestamp"))))
    df = _frame(unique)
    for chat_id in order:
        if chat_id is not None and chat_id not in chats:
            chats[chat_id] = {"id": chat_id}
    df.attrs["chats"] = chats
    if len(chats) == 1:
        df.attrs["chat"] = next(iter(chats.values()))
    return df


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.inf


def _event_files(path: Any) -> list[Path]:
    """The JSON files named by ``path``: a file, every ``*.json`` under a folder, or several of those."""
    if isinstance(path, str | os.PathLike):
        paths = [Path(path)]
    else:
        paths = [Path(p) for p in path]
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.rglob("*.json") if f.is_file() and not f.name.startswith("."))
            if not found:
                raise FileNotFoundError(f"{p} holds no .json file; pass the folder where you saved the pages "
                                        "chats.list_chat_events returned")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p} does not exist; pass a .json file of exported chat events or a folder "
                                    "of them")
    return files


def _pages(file: Path) -> list[dict[str, Any]]:
    """The pages in one exported file (a lone event list becomes one page without metadata)."""
    try:
        data = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ChatEventsFormatError(f"{file} is not JSON ({exc}); pass the JSON chats.list_chat_events "
                                    "returned") from None
    items = data if isinstance(data, list) else [data]
    if items and all(isinstance(i, dict) and "events_page" in i for i in items):
        for i, page in enumerate(items):
            if not isinstance(page["events_page"], list) or not all(_is_event(e) for e in page["events_page"]):
                raise ChatEventsFormatError(f"{file}: page {i} has an events_page that is not a list of chat "
                                            "events (objects with id, type and timestamp)")
        return items
    if all(_is_event(e) for e in items):
        return [{"events_page": items}]
    first = items[0] if items else None
    keys = sorted(map(str, first))[:8] if isinstance(first, dict) else []
    found = (f"an object with keys {keys}" if isinstance(data, dict) else
             f"a list of objects with keys {keys}" if keys else f"a {type(data).__name__}")  # fmt: skip
    hint = " (this looks like batch predictions: use humekit.read_predictions)" if "source" in keys else ""
    raise ChatEventsFormatError(
        f"{file} is not exported EVI chat events: expected a page {{id, events_page: [...]}} as "
        f"chats.list_chat_events returns, a list of pages or a list of events; found {found}{hint}"
    )


def _is_event(value: Any) -> bool:
    return isinstance(value, dict) and "type" in value and "timestamp" in value


def transcript(events: pd.DataFrame) -> pd.DataFrame:
    """The spoken turns only: ``USER_MESSAGE`` and ``AGENT_MESSAGE`` rows of :func:`chat_events`.

    Args:
        events: a :func:`chat_events` DataFrame.

    Returns:
        The same columns, those rows, re-indexed from 0 (``attrs`` kept).
    """
    out = events[events["type"].isin(["USER_MESSAGE", "AGENT_MESSAGE"])].reset_index(drop=True)
    out.attrs = dict(events.attrs)
    return out


@dataclass(frozen=True, slots=True)
class ChatAudio:
    """A finished audio reconstruction of a chat."""

    chat_id: str
    status: str
    signed_audio_url: str | None
    filename: str | None
    user_id: str | None
    modified_at: int | None
    r"""Unix ms."""
    expires_at_ms: int | None
    r"""When :attr:`signed_audio_url` stops working, Unix ms."""
    polls: int
    r"""How many GETs it took."""

    @property
    def expires_at(self) -> datetime | None:
        """:attr:`expires_at_ms` as a UTC datetime."""
        return ms_to_datetime(self.expires_at_ms)


def chat_audio(
    client: _Client,
    chat_id: str,
    *,
    timeout: float = 600.0,
    clock: Clock | None = None,
    wait_initial: float = 1.0,
    wait_max: float = 30.0,
    rng: random.Random | None = None,
) -> ChatAudio:
    """Ask for a chat's audio reconstruction and poll until it is ready.

    From a compatible service or the emulator: Hume's own EVI ended on 2026-11-13 (see the module).

    Polls ``GET /v0/evi/chats/{id}/audio`` while it is ``QUEUED``/``IN_PROGRESS`` with the same
    schedule as batch jobs (:class:`humekit.backends.v0.waiting.Backoff`): ``wait_initial`` seconds, then
    doubling up to ``wait_max``, ±20 % jitter, never less than 1 s nor more than ``wait_max`` between
    polls.

    Args:
        client: a :class:`humekit.Client`.
        chat_id: the chat.
        timeout: seconds (on ``clock``) to keep polling.
        clock: where to sleep; defaults to ``client.clock``.
        wait_initial: the first wait in seconds (at least 1).
        wait_max: the longest wait in seconds.
        rng: jitter source (seed it for reproducible waits).

    Returns:
        The :class:`ChatAudio` with its ``signed_audio_url``.

    Raises:
        ChatAudioError: the reconstruction ended ``ERROR`` or ``CANCELLED``.
        WaitTimeoutError: still pending after ``timeout`` seconds.
        EVISunsetError: ``client`` points at Hume's own API, which has no EVI since 2026-11-13.
    """
    _refuse_hume(client, f"chat_audio({chat_id!r})")
    backoff = Backoff(wait_initial=wait_initial, wait_max=wait_max)  # ConfigurationError if polling < 1 s
    clock = clock or client.clock
    rng = rng or random.Random()
    deadline = clock.time() + timeout
    polls = 0
    path = _chat_path(chat_id) + "/audio"
    while True:
        body = client.get_json(path)
        polls += 1
        status = str(body.get("status", "")).upper()
        if status == "COMPLETE":
            return ChatAudio(chat_id=chat_id, status=status, signed_audio_url=body.get("signed_audio_url"),
                             filename=body.get("filename"), user_id=body.get("user_id"),
                             modified_at=body.get("modified_at"),
                             expires_at_ms=body.get("signed_url_expiration_timestamp_millis"), polls=polls)  # fmt: skip
        if status in ("ERROR", "CANCELLED"):
            raise ChatAudioError(
                f"the audio reconstruction of chat {chat_id} ended {status}; request it again later, "
                "or check that audio reconstruction is enabled for your account",
                chat_id=chat_id, status=status,
            )  # fmt: skip
        if status not in _PENDING:
            logger.warning("chat %s audio has an unknown status %r; still polling", chat_id, status)
        remaining = deadline - clock.time()
        if remaining < wait_initial:
            raise WaitTimeoutError(
                f"the audio of chat {chat_id} was still {status} after {timeout:g} s and {polls} polls; "
                "call chat_audio again later (the reconstruction keeps going)",
                pending=[chat_id],
            )
        clock.sleep(min(backoff.delay(polls - 1, rng), remaining))
