"""Tests for humekit.webhooks.evi.sunset: calls to Hume's own EVI are refused, naming the sunset."""

from __future__ import annotations

import httpx
import pytest
from _evi import CHAT

from humekit.webhooks.evi import chat_audio, chat_events, chat_metadata


def test_live_evi_calls_say_evi_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    """Against Hume's own API every EVI call raises EVISunsetError naming the sunset and the reader; nothing is sent."""
    import humekit
    from humekit.backends.v0.client import Client

    sent: list[httpx.Request] = []
    client = Client(api_key="k", base_url="https://api.hume.ai",
                    transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200, json={})))
    for call in (lambda: chat_events(client, CHAT), lambda: chat_metadata(client, CHAT),
                 lambda: chat_audio(client, CHAT)):
        with pytest.raises(humekit.EVISunsetError, match=r"ended EVI on 2026-11-13.*read_chat_events"):
            call()
    assert sent == []
