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

The parts: :mod:`~humekit.webhooks.evi.chats` (a service's chats as tables, :func:`transcript`),
:mod:`~humekit.webhooks.evi.exports` (:func:`read_chat_events`), :mod:`~humekit.webhooks.evi.audio`
(:func:`chat_audio`) and :mod:`~humekit.webhooks.evi.sunset`; every name is importable from here.
"""

from humekit.predictions.vocabulary import EMOTIONS  # noqa: F401 (importable here, as before)
from humekit.webhooks.evi.audio import ChatAudio, chat_audio
from humekit.webhooks.evi.chats import EVENT_COLUMNS  # noqa: F401 (importable here, as before)
from humekit.webhooks.evi.chats import chat_events, chat_metadata, transcript
from humekit.webhooks.evi.exports import read_chat_events
from humekit.webhooks.evi.sunset import EVI_SUNSET, sunset_message

__all__ = [
    "EVI_SUNSET", "ChatAudio", "chat_audio", "chat_events", "chat_metadata", "read_chat_events", "sunset_message",
    "transcript",
]  # fmt: skip
