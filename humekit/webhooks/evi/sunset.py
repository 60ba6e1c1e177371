"""EVI's sunset: Hume ended EVI on 2026-11-13 and deleted its data, so a call to Hume's own API is refused here."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from humekit.errors import EVISunsetError

__all__ = ["EVI_SUNSET", "refuse_hume", "sunset_message"]

#: The day Hume ended EVI and deleted its account data.
EVI_SUNSET = "2026-11-13"


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


def refuse_hume(client: Any, what: str) -> None:
    """Raise :class:`EVISunsetError` for a client pointed at Hume's own API (nothing is sent)."""
    if _is_hume(getattr(client, "base_url", None)):
        raise EVISunsetError(sunset_message(what))
