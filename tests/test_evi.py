"""Tests for humekit.webhooks.evi.chats: a service's chat events as DataFrames, metadata and transcripts."""

from __future__ import annotations

import math
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest
from _evi import StandIn, evi_emulator, stand_in_client  # noqa: F401 (the `evi` and `client` fixtures)
from _paths import SDK_EXAMPLES

from humekit.clock import VirtualClock
from humekit.emulator.evi import EviEmulator
from humekit.errors import NotFoundError
from humekit.webhooks.evi import EVENT_COLUMNS, chat_audio, chat_events, chat_metadata, transcript
from humekit.predictions.vocabulary import EMOTIONS


@pytest.mark.parametrize("page_size", [1, 7, 10, 100])
def test_chat_events_pages_until_empty(evi: EviEmulator, client: StandIn, page_size: int) -> None:
    """Every event comes back once, in order, whatever the page size; paging stops at an empty page."""
    chat_id = evi.chat_ids()[1]
    expected = evi.events(chat_id)
    df = chat_events(client, chat_id, page_size=page_size)
    assert list(df["event_id"]) == [e["id"] for e in expected]
    assert len(client.calls) == math.ceil(len(expected) / page_size) + 1
    assert client.calls[-1][1]["page_number"] == len(client.calls) - 1  # type: ignore[index]
    assert all(c[1]["ascending_order"] == "true" for c in client.calls)  # type: ignore[index]


def test_chat_events_columns_and_scores(evi: EviEmulator, client: StandIn) -> None:
    """The frame has the event columns then 48 float emotion columns parsed from the stringified JSON."""
    chat_id = evi.chat_ids()[0]
    df = chat_events(client, chat_id)
    assert list(df.columns) == [*EVENT_COLUMNS, *EMOTIONS]
    assert str(df["timestamp"].dt.tz) == "UTC"
    assert all(df[name].dtype == "float64" for name in EMOTIONS)
    users = df[df["type"] == "USER_MESSAGE"]
    assert len(users) > 3 and users[list(EMOTIONS)].notna().all().all()
    first = next(e for e in evi.events(chat_id) if e["type"] == "USER_MESSAGE")
    assert users.iloc[0]["Joy"] == orjson.loads(first["emotion_features"])["Joy"]
    system = df[df["role"] == "SYSTEM"]
    assert system[list(EMOTIONS)].isna().all().all()
    prosody = df[df["type"] == "ASSISTANT_PROSODY"]
    assert prosody["related_event_id"].isin(df["event_id"]).all()


def test_chat_metadata_in_attrs(evi: EviEmulator, client: StandIn) -> None:
    """Chat metadata is in df.attrs['chat'] and from chat_metadata()."""
    chat_id = evi.chat_ids()[2]
    df = chat_events(client, chat_id)
    meta = chat_metadata(client, chat_id)
    assert df.attrs["chat"] == meta
    assert meta["id"] == chat_id and meta["status"] == "USER_ENDED" and meta["config"]["version"] == 0
    assert meta["start_time"] < meta["end_time"] and meta["start_time"].tzinfo is not None


def test_real_sample_events_parse() -> None:
    """The SDK's example page (real-looking scores) parses: the user message's 48 scores, NaN for the prompt."""
    page = orjson.loads((SDK_EXAMPLES / "sdk_example_evi_list_chat_events.json").read_bytes())

    class Pages:
        clock = VirtualClock(0)

        def get_json(self, path: str, *, params: Any = None) -> Any:
            return page if params["page_number"] == 0 else {**page, "events_page": []}

    df = chat_events(Pages(), "470a49f6-1dec-4afe-8b61-035d3b2d63b0")
    assert list(df["type"]) == ["SYSTEM_PROMPT", "USER_MESSAGE", "AGENT_MESSAGE"]
    assert df.loc[1, "Joy"] == pytest.approx(0.29638671875) and math.isnan(df.loc[0, "Joy"])
    assert df.loc[1, "timestamp"] == pd.Timestamp(1716244956278, unit="ms", tz="UTC")


def test_bad_emotion_features_become_nan() -> None:
    """Empty, null, non-JSON or partial emotion_features give NaN rather than errors."""
    events = [
        {"id": "a", "type": "USER_MESSAGE", "timestamp": 1, "emotion_features": None},
        {"id": "b", "type": "USER_MESSAGE", "timestamp": 2, "emotion_features": "{oops"},
        {"id": "c", "type": "USER_MESSAGE", "timestamp": 3, "emotion_features": '{"Joy": 0.5}'},
    ]

    class Pages:
        clock = VirtualClock(0)

        def get_json(self, path: str, *, params: Any = None) -> Any:
            return {"id": "x", "events_page": events if params["page_number"] == 0 else []}

    df = chat_events(Pages(), "x")
    assert df["Joy"].isna().tolist() == [True, True, False] and math.isnan(df.loc[2, "Anger"])


def test_transcript_keeps_spoken_turns(evi: EviEmulator, client: StandIn) -> None:
    """transcript() keeps USER_MESSAGE and AGENT_MESSAGE rows, alternating, starting with the user."""
    df = transcript(chat_events(client, evi.chat_ids()[0]))
    assert set(df["type"]) == {"USER_MESSAGE", "AGENT_MESSAGE"}
    assert list(df["role"][:4]) == ["USER", "AGENT", "USER", "AGENT"]
    assert df.index[0] == 0 and df["text"].str.len().gt(0).all()


def test_unknown_chat_raises_not_found(client: StandIn) -> None:
    """A chat id the API does not know raises NotFoundError."""
    with pytest.raises(NotFoundError):
        chat_events(client, "no-such-chat")


def test_page_size_is_validated(client: StandIn) -> None:
    """page_size outside 1-100 is refused before any request."""
    with pytest.raises(ValueError, match="between 1 and 100"):
        chat_events(client, "x", page_size=101)
    assert client.calls == []


def test_with_the_real_client_and_emulator(emulator: Any, clock: VirtualClock) -> None:
    """humekit.Client against the main Emulator: chat events page fully and the audio URL downloads."""
    from humekit.backends.v0.client import Client

    emulator.evi.media = emulator.media  # publish reconstructed WAVs where the emulator serves /media/
    with Client(api_key="test-key", base_url="http://emulator.test", transport=emulator.transport(),
                clock=clock) as client:  # fmt: skip
        chat_id = emulator.evi.chat_ids()[0]
        df = chat_events(client, chat_id, page_size=7)
        assert list(df["event_id"]) == [e["id"] for e in emulator.evi.events(chat_id)]
        audio = chat_audio(client, chat_id, timeout=120)
        assert client.get_bytes(audio.signed_audio_url)[:4] == b"RIFF"  # type: ignore[arg-type]
        with pytest.raises(NotFoundError):
            chat_metadata(client, "no-such-chat")


def test_evi_gone_and_not_found_mention_the_sunset() -> None:
    """A compatible service answering 410 on an EVI route gives EVISunsetError; a 404 hints at the reader."""
    import humekit
    from humekit.backends.v0.client import Client

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(410 if "gone" in request.url.path else 404, json={"message": "no"})

    client = Client(api_key="k", base_url="https://evi.example.org", transport=httpx.MockTransport(answer))
    with pytest.raises(humekit.EVISunsetError, match="2026-11-13"):
        chat_events(client, "gone")
    with pytest.raises(NotFoundError, match="read_chat_events"):
        chat_events(client, "missing")
