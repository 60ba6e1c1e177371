"""Tests for humekit.webhooks.evi: chat events as DataFrames, transcripts and audio polling."""

from __future__ import annotations

import math
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest
from _paths import SDK_EXAMPLES

from humekit.clock import VirtualClock
from humekit.emulator.evi import EviEmulator
from humekit.emulator.wire import EmuRequest
from humekit.errors import ChatAudioError, ChatEventsFormatError, NotFoundError, WaitTimeoutError
from humekit.webhooks.evi import EVENT_COLUMNS, ChatAudio, chat_audio, chat_events, chat_metadata, read_chat_events, transcript
from humekit.predictions.vocabulary import EMOTIONS


def to_emu(request: httpx.Request) -> EmuRequest:
    """An httpx request as the emulator's EmuRequest."""
    return EmuRequest(request.method, request.url.path, request.url.query.decode(),
                      {k.lower(): v for k, v in request.headers.items()}, request.read())  # fmt: skip


class StandIn:
    """The two public members of humekit.Client that humekit.webhooks.evi uses, over an EviEmulator."""

    def __init__(self, evi: EviEmulator, clock: VirtualClock):
        self.clock = clock
        self.calls: list[tuple[str, dict[str, Any] | None, float]] = []
        self.evi = evi

        def respond(request: httpx.Request) -> httpx.Response:
            answer = evi.handle(to_emu(request))
            assert answer is not None, request.url
            return httpx.Response(answer.status, content=answer.body, headers=answer.headers)

        self._http = httpx.Client(base_url="http://emulator.test", transport=httpx.MockTransport(respond))

    def get_json(self, path: str, *, params: Any = None) -> Any:
        self.calls.append((path, params, self.clock.time()))
        response = self._http.get(path, params=params)
        if response.status_code == 404:
            raise NotFoundError("not found", status_code=404, body=response.json())
        response.raise_for_status()
        return response.json()


@pytest.fixture
def evi(clock: VirtualClock) -> EviEmulator:
    """An EVI emulator with three finished chats."""
    return EviEmulator(clock=clock, seed=7)


@pytest.fixture
def client(evi: EviEmulator, clock: VirtualClock) -> StandIn:
    """A stand-in client talking to the EVI emulator."""
    return StandIn(evi, clock)


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


CHAT = "470a49f6-1dec-4afe-8b61-035d3b2d63b0"


def _pages_of(evi: EviEmulator, client: StandIn, chat_id: str, size: int) -> list[dict[str, Any]]:
    """The pages GET /v0/evi/chats/{id} returns at ``size`` events per page, until an empty one."""
    pages = []
    while True:
        page = client.get_json(f"/v0/evi/chats/{chat_id}",
                               params={"page_number": len(pages), "page_size": size, "ascending_order": "true"})
        if not page["events_page"]:
            return pages
        pages.append(page)


def test_read_chat_events_equals_chat_events_for_the_real_sample(samples: Any, tmp_path: Any) -> None:
    """The SDK's example page, read from its file, gives the frame (and attrs) chat_events gives for it."""
    page = orjson.loads((samples / "sdk_example_evi_list_chat_events.json").read_bytes())

    class Pages:
        clock = VirtualClock(0)

        def get_json(self, path: str, *, params: Any = None) -> Any:
            return page if params["page_number"] == 0 else {**page, "events_page": []}

    live = chat_events(Pages(), CHAT)
    saved = read_chat_events(samples / "sdk_example_evi_list_chat_events.json")
    pd.testing.assert_frame_equal(saved, live)
    assert saved.attrs["chat"] == live.attrs["chat"] and list(saved.attrs["chats"]) == [CHAT]
    (tmp_path / "events.json").write_bytes(orjson.dumps(page["events_page"]))  # the events alone, as the pager yields
    pd.testing.assert_frame_equal(read_chat_events(tmp_path / "events.json"), live)


def test_read_chat_events_reads_a_folder_of_pages(evi: EviEmulator, client: StandIn, tmp_path: Any) -> None:
    """Pages of two chats saved one per file (shuffled, one saved twice, one as a list) read back as chat_events."""
    first, second = evi.chat_ids()[:2]
    pages = _pages_of(evi, client, first, 3)
    assert len(pages) > 2
    (tmp_path / "a" / "b").mkdir(parents=True)
    for i, page in enumerate(reversed(pages)):
        (tmp_path / "a" / f"page-{i}.json").write_bytes(orjson.dumps(page))
    (tmp_path / "a" / "b" / "again.json").write_bytes(orjson.dumps(pages[1]))
    (tmp_path / "other.json").write_bytes(orjson.dumps(_pages_of(evi, client, second, 100)))
    (tmp_path / "notes.txt").write_text("not read")
    events = read_chat_events(tmp_path)
    expected = pd.concat([chat_events(client, first), chat_events(client, second)], ignore_index=True)
    pd.testing.assert_frame_equal(events, expected)
    assert set(events.attrs["chats"]) == {first, second} and "chat" not in events.attrs
    meta = {**chat_metadata(client, first), "total_pages": len(pages)}  # pages of 3 events were saved
    assert events.attrs["chats"][first] == meta
    only = read_chat_events(tmp_path / "a")
    pd.testing.assert_frame_equal(only, chat_events(client, first))
    assert only.attrs["chat"] == meta


def test_read_chat_events_names_what_is_wrong(samples: Any, tmp_path: Any) -> None:
    """Not JSON, batch predictions, a missing path or an empty folder each get an error naming the file."""
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ChatEventsFormatError, match=r"bad\.json is not JSON"):
        read_chat_events(tmp_path / "bad.json")
    with pytest.raises(ChatEventsFormatError, match="not exported EVI chat events.*batch predictions"):
        read_chat_events(samples / "real_predictions_text_language_conversational_turn.json")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_chat_events(tmp_path / "nowhere.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no .json file"):
        read_chat_events(tmp_path / "empty")


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
