"""Chat events exported before EVI's sunset, read into the table that chat_events gives for a live chat."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from humekit.errors import ChatEventsFormatError
from humekit.webhooks.evi.chats import chat_record, events_frame

__all__ = ["read_chat_events"]


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
                chats.setdefault(chat_id, chat_record(page, chat_id))
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
    df = events_frame(unique)
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
