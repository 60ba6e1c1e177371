"""Tests for humekit.webhooks.evi.audio: a chat's audio reconstruction, polled with backoff."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from _evi import StandIn, evi_emulator, stand_in_client  # noqa: F401 (the `evi` and `client` fixtures)

from humekit.clock import VirtualClock
from humekit.emulator.evi import EviEmulator
from humekit.errors import ChatAudioError, WaitTimeoutError
from humekit.webhooks.evi import ChatAudio, chat_audio


def test_chat_audio_backs_off_on_the_virtual_clock(evi: EviEmulator, client: StandIn, clock: VirtualClock) -> None:
    """Polls go QUEUED -> IN_PROGRESS -> COMPLETE with waits >= 1 s, doubling, and return a signed URL."""
    evi.audio_seconds = (5.0, 40.0)
    chat_id = evi.chat_ids()[0]
    start = clock.time()
    audio = chat_audio(client, chat_id, timeout=300)
    assert isinstance(audio, ChatAudio) and audio.status == "COMPLETE"
    times = [t for path, _, t in client.calls if path.endswith("/audio")]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert audio.polls == len(times) and 4 <= len(times) <= 8
    assert all(gap >= 1.0 for gap in gaps) and all(gap <= 30.0 for gap in gaps)
    assert gaps[1] > gaps[0] and clock.time() - start >= 40
    assert audio.signed_audio_url is not None and audio.signed_audio_url.startswith("http://emulator.test/media/evi/")
    assert audio.filename is not None and audio.filename.endswith(f"{chat_id}/reconstructed_audio.wav")
    assert audio.expires_at is not None and audio.expires_at.timestamp() > clock.time()
    wav = client._http.get(audio.signed_audio_url)
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"


def test_chat_audio_timeout(evi: EviEmulator, client: StandIn, clock: VirtualClock) -> None:
    """A reconstruction that does not finish within the timeout raises WaitTimeoutError, bounded in polls."""
    evi.audio_seconds = (1000.0, 2000.0)
    start = clock.time()
    with pytest.raises(WaitTimeoutError) as info:
        chat_audio(client, evi.chat_ids()[0], timeout=60)
    assert info.value.pending == [evi.chat_ids()[0]]
    assert clock.time() - start <= 60 and len(client.calls) <= 8


@pytest.mark.parametrize("outcome", ["ERROR", "CANCELLED"])
def test_chat_audio_failure(evi: EviEmulator, client: StandIn, outcome: str) -> None:
    """A reconstruction ending ERROR or CANCELLED raises ChatAudioError with the status."""
    chat_id = evi.create_chat(duration_seconds=20, audio_outcome=outcome)
    with pytest.raises(ChatAudioError, match=outcome) as info:
        chat_audio(client, chat_id, timeout=120)
    assert (info.value.chat_id, info.value.status) == (chat_id, outcome)


def test_chat_audio_handed_to_measure(emulator: Any, tmp_path: Any) -> None:
    """A finished chat's reconstructed audio, awaited with backoff, is measured by humekit.measure."""
    from humekit.pipeline.measure import measure

    client = emulator.client()
    chat_id = emulator.evi.chat_ids()[0]
    audio = chat_audio(client, chat_id, timeout=120)
    table = pd.DataFrame({"chat_id": [chat_id], "audio": [audio.signed_audio_url]})
    result = measure(table, id_col="chat_id", source_col="audio", models=["prosody"], client=client,
                     ledger=tmp_path / "l.sqlite", progress=False)
    assert result.status.loc[0, "status"] == "ok"
    assert (result.predictions["chat_id"] == chat_id).all() and len(result.predictions) > 0
