"""EVI chats from a compatible service (or the emulator) as DataFrames: metadata, every event, the spoken turns.

Hume's own EVI ended on 2026-11-13 (:mod:`~humekit.webhooks.evi.sunset`): these speak the EVI contract to a
compatible service (``base_url=``) and to humekit's EVI emulator. ``client`` is a :class:`humekit.Client`
(anything with ``get_json(path, *, params=None)`` and a ``clock`` works). The events table they build is
the one :func:`~humekit.webhooks.evi.exports.read_chat_events` gives for exported chats.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Protocol
from urllib.parse import quote

import orjson
import pandas as pd

from humekit.clock import Clock
from humekit.predictions.vocabulary import EMOTIONS
from humekit.webhooks.events import ms_to_datetime
from humekit.webhooks.evi.sunset import refuse_hume

__all__ = ["EVENT_COLUMNS", "EviClient", "chat_events", "chat_metadata", "chat_path", "chat_record", "events_frame",
           "transcript"]

logger = logging.getLogger("humekit.webhooks.evi")

#: The columns of :func:`chat_events` before the 48 emotions.
EVENT_COLUMNS: tuple[str, ...] = ("timestamp", "role", "type", "text", "event_id", "related_event_id", "chat_id")
_MAX_PAGES = 100_000


class EviClient(Protocol):
    """What the EVI readers need of a client: ``get_json`` and a ``clock`` (a :class:`humekit.Client` has both)."""

    clock: Clock

    def get_json(self, path: str, *, params: Any = None) -> Any: ...


def chat_path(chat_id: str) -> str:
    """The API path of a chat's events (``/v0/evi/chats/{id}``), the id quoted."""
    return f"/v0/evi/chats/{quote(chat_id, safe='')}"


def chat_metadata(client: EviClient, chat_id: str) -> dict[str, Any]:
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
    refuse_hume(client, f"chat_metadata({chat_id!r})")
    page = client.get_json(chat_path(chat_id), params={"page_number": 0, "page_size": 100, "ascending_order": "true"})
    return chat_record(page, chat_id)


def chat_record(page: dict[str, Any], chat_id: str) -> dict[str, Any]:
    """A chat's metadata, as :func:`chat_metadata` gives it, from one page of its events."""
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


def chat_events(client: EviClient, chat_id: str, *, page_size: int = 100) -> pd.DataFrame:
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
    refuse_hume(client, f"chat_events({chat_id!r})")
    events: list[dict[str, Any]] = []
    seen: set[str] = set()
    meta: dict[str, Any] | None = None
    for number in range(_MAX_PAGES):
        params = {"page_number": number, "page_size": page_size, "ascending_order": "true"}
        page = client.get_json(chat_path(chat_id), params=params)
        if meta is None:
            meta = chat_record(page, chat_id)
        batch = page.get("events_page") or []
        fresh = [e for e in batch if e.get("id") not in seen]
        if not fresh:  # empty page: the end (a page of repeats would mean a server looping)
            break
        seen.update(e.get("id") for e in fresh)
        events.extend(fresh)
    df = events_frame(events)
    df.attrs["chat"] = meta or {"id": chat_id}
    return df


def events_frame(events: list[dict[str, Any]]) -> pd.DataFrame:
    """Chat events as the :func:`chat_events` table: :data:`EVENT_COLUMNS`, then the 48 emotions (NaN when absent)."""
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
