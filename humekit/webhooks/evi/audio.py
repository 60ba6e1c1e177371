"""A chat's audio reconstruction: ask for it and poll, with the batch jobs' backoff, until its URL is ready."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime

from humekit._internal.backoff import Backoff
from humekit.clock import Clock
from humekit.errors import ChatAudioError, WaitTimeoutError
from humekit.webhooks.events import ms_to_datetime
from humekit.webhooks.evi.chats import EviClient, chat_path
from humekit.webhooks.evi.sunset import refuse_hume

__all__ = ["ChatAudio", "chat_audio"]

logger = logging.getLogger("humekit.webhooks.evi")
_PENDING = {"QUEUED", "IN_PROGRESS"}


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
    client: EviClient,
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
    refuse_hume(client, f"chat_audio({chat_id!r})")
    backoff = Backoff(wait_initial=wait_initial, wait_max=wait_max)  # ConfigurationError if polling < 1 s
    clock = clock or client.clock
    rng = rng or random.Random()
    deadline = clock.time() + timeout
    polls = 0
    path = chat_path(chat_id) + "/audio"
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
