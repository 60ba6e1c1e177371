"""Tests for humekit.emulator.evi: EVI chat history endpoints, audio states and simulated webhooks."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from _paths import SDK_EXAMPLES

from humekit.clock import VirtualClock
from humekit.emulator.evi import EviEmulator
from humekit.emulator.wire import EmuRequest, EmuResponse, json_response
from humekit.predictions.vocabulary import EMOTIONS


def to_emu(request: httpx.Request) -> EmuRequest:
    """An httpx request as the emulator's EmuRequest."""
    return EmuRequest(request.method, request.url.path, request.url.query.decode(),
                      {k.lower(): v for k, v in request.headers.items()}, request.read())  # fmt: skip


def transport(evi: EviEmulator) -> httpx.MockTransport:
    """An httpx transport answering from the EVI emulator (404 for paths it does not serve)."""

    def respond(request: httpx.Request) -> httpx.Response:
        answer = evi.handle(to_emu(request)) or json_response(404, {"message": "not an EVI path"})
        return httpx.Response(answer.status, content=answer.body, headers=answer.headers)

    return httpx.MockTransport(respond)


def check_key(request: EmuRequest) -> EmuResponse | None:
    """The emulator's API-key check: 401 unless X-Hume-Api-Key is right."""
    if request.header("x-hume-api-key") != "test-key":
        return json_response(401, {"fault": {"faultstring": "Invalid ApiKey"}})
    return None


@pytest.fixture
def evi(clock: VirtualClock) -> EviEmulator:
    """An EVI emulator with the API-key check."""
    return EviEmulator(clock=clock, seed=3, api_key_check=check_key)


@pytest.fixture
def http(evi: EviEmulator) -> httpx.Client:
    """An httpx client with the right key, served by the EVI emulator."""
    return httpx.Client(base_url="http://emulator.test", transport=transport(evi), headers={"x-hume-api-key": "test-key"})


@pytest.mark.sdk
def test_official_sdk_lists_chats_and_pages_all_events(evi: EviEmulator) -> None:
    """hume 0.13.13's HumeClient lists chats and iterates list_chat_events over every page."""
    from hume import HumeClient

    for _ in range(9):
        evi.create_chat(duration_seconds=30)
    sdk = HumeClient(api_key="test-key", base_url="http://emulator.test",
                     httpx_client=httpx.Client(transport=transport(evi)))  # fmt: skip
    chats = list(sdk.empathic_voice.chats.list_chats(page_size=5))
    assert [c.id for c in chats] == evi.chat_ids() and len(chats) == 12
    assert chats[0].config is not None and chats[0].event_count == len(evi.events(chats[0].id))
    for chat_id in evi.chat_ids()[:3]:
        events = list(sdk.empathic_voice.chats.list_chat_events(id=chat_id))  # default page_size 10
        assert [e.id for e in events] == [e["id"] for e in evi.events(chat_id)]
        assert len(events) > 10
        user = next(e for e in events if e.type == "USER_MESSAGE")
        assert list(orjson.loads(user.emotion_features or "{}")) == list(EMOTIONS)
    pager = sdk.empathic_voice.chats.list_chat_events(id=evi.chat_ids()[0], page_size=100, ascending_order=False)
    assert [e.id for e in pager.items or []] == [e["id"] for e in evi.events(evi.chat_ids()[0])][::-1]


@pytest.mark.sdk
def test_official_sdk_sees_auth_and_errors(evi: EviEmulator) -> None:
    """The SDK gets 401 for a bad key and a BadRequestError for page_size 101."""
    from hume import HumeClient
    from hume.core.api_error import ApiError

    bad = HumeClient(api_key="nope", base_url="http://emulator.test", httpx_client=httpx.Client(transport=transport(evi)))
    with pytest.raises(ApiError) as info:
        list(bad.empathic_voice.chats.list_chats())
    assert info.value.status_code == 401
    good = HumeClient(api_key="test-key", base_url="http://emulator.test",
                      httpx_client=httpx.Client(transport=transport(evi)))  # fmt: skip
    with pytest.raises(ApiError) as info:
        good.empathic_voice.chats.list_chat_events(id=evi.chat_ids()[0], page_size=101)
    assert info.value.status_code == 400


def test_events_page_shape_matches_the_sample(evi: EviEmulator, http: httpx.Client) -> None:
    """GET /v0/evi/chats/{id} has the sample's keys; events have the sample's keys and ms timestamps."""
    sample = orjson.loads((SDK_EXAMPLES / "sdk_example_evi_list_chat_events.json").read_bytes())
    body = http.get(f"/v0/evi/chats/{evi.chat_ids()[0]}", params={"page_size": 5}).json()
    assert set(body) == set(sample)
    assert body["page_size"] == 5 and body["page_number"] == 0 and len(body["events_page"]) == 5
    for event in body["events_page"]:
        assert set(sample["events_page"][0]) <= set(event)
        assert event["timestamp"] > 10**12  # milliseconds
    assert body["events_page"][0]["type"] == "CHAT_START_MESSAGE"


def test_list_chats_shape_and_filters(evi: EviEmulator, http: httpx.Client) -> None:
    """GET /v0/evi/chats pages like the sample and filters by status."""
    sample = orjson.loads((SDK_EXAMPLES / "sdk_example_evi_list_chats.json").read_bytes())
    evi.create_chat(end_reason="INACTIVITY_TIMEOUT")
    body = http.get("/v0/evi/chats", params={"page_size": 2, "page_number": 1}).json()
    assert set(body) == set(sample) and set(body["chats_page"][0]) == set(sample["chats_page"][0])
    assert body["total_pages"] == 2 and len(body["chats_page"]) == 2
    filtered = http.get("/v0/evi/chats", params={"status": "INACTIVITY_TIMEOUT"}).json()["chats_page"]
    assert [c["status"] for c in filtered] == ["INACTIVITY_TIMEOUT"]


def test_past_the_end_page_is_empty_200(evi: EviEmulator, http: httpx.Client) -> None:
    """A page past the end is 200 with events_page [] (how the SDK pager stops)."""
    response = http.get(f"/v0/evi/chats/{evi.chat_ids()[0]}", params={"page_number": 99})
    assert response.status_code == 200 and response.json()["events_page"] == []


@pytest.mark.parametrize("params", [{"page_size": 0}, {"page_size": 101}, {"page_size": "x"}, {"page_number": -1}])
def test_bad_paging_is_400(evi: EviEmulator, http: httpx.Client, params: dict[str, Any]) -> None:
    """page_size outside 1-100 (or a bad page_number) is 400 with {code, error, message}."""
    response = http.get(f"/v0/evi/chats/{evi.chat_ids()[0]}", params=params)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "error", "message"}


def test_unknown_chat_and_auth(http: httpx.Client, evi: EviEmulator) -> None:
    """Unknown chats are 404; a missing key is 401; other methods are 405; foreign paths are not served."""
    assert http.get("/v0/evi/chats/nope").status_code == 404
    assert http.get("/v0/evi/chats/nope/audio").status_code == 404
    assert http.get("/v0/evi/chats", headers={"x-hume-api-key": "bad"}).status_code == 401
    assert http.post(f"/v0/evi/chats/{evi.chat_ids()[0]}").status_code == 405
    assert evi.handle(EmuRequest("GET", "/v0/evi/configs")) is None
    assert evi.handle(EmuRequest("GET", "/v0/batch/jobs")) is None


def test_chat_group_events(evi: EviEmulator, http: httpx.Client) -> None:
    """GET /v0/evi/chat_groups/{id}/events pages the events of every chat in the group, in time order."""
    first = evi.chat_ids()[0]
    group = http.get(f"/v0/evi/chats/{first}").json()["chat_group_id"]
    second = evi.create_chat(chat_group_id=group, duration_seconds=20)
    body = http.get(f"/v0/evi/chat_groups/{group}/events", params={"page_size": 100}).json()
    ids = [e["id"] for e in body["events_page"]]
    assert ids == [e["id"] for e in evi.events(first) + evi.events(second)]
    assert http.get("/v0/evi/chat_groups/nope/events").status_code == 404


def test_deterministic_per_seed() -> None:
    """The same seed and clock give the same chats, texts and scores; another seed differs."""
    a = EviEmulator(clock=VirtualClock(1_750_000_000), seed=1)
    b = EviEmulator(clock=VirtualClock(1_750_000_000), seed=1)
    c = EviEmulator(clock=VirtualClock(1_750_000_000), seed=2)
    assert a.chat_ids() == b.chat_ids() != c.chat_ids()
    assert a.events(a.chat_ids()[0]) == b.events(b.chat_ids()[0])


def test_audio_goes_queued_in_progress_complete(evi: EviEmulator, http: httpx.Client, clock: VirtualClock) -> None:
    """Audio reconstruction moves QUEUED -> IN_PROGRESS -> COMPLETE with the clock; the URL serves a WAV."""
    chat_id = evi.chat_ids()[0]
    statuses = []
    for _ in range(3):
        statuses.append(http.get(f"/v0/evi/chats/{chat_id}/audio").json())
        clock.advance(2.5)
    assert [s["status"] for s in statuses] == ["QUEUED", "IN_PROGRESS", "COMPLETE"]
    assert statuses[0]["signed_audio_url"] is None
    done = statuses[-1]
    assert set(done) == {"id", "user_id", "status", "filename", "modified_at", "signed_audio_url",
                         "signed_url_expiration_timestamp_millis"}  # fmt: skip
    wav = http.get(done["signed_audio_url"])
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
    assert wav.content == evi.audio_bytes(chat_id) and wav.content[8:12] == b"WAVE"


def test_audio_is_published_to_media(clock: VirtualClock) -> None:
    """With media= and base_url=, a COMPLETE reconstruction puts the WAV in the media store at the URL's name."""
    store: dict[str, bytes] = {}

    class Sink:
        def put(self, name: str, data: bytes) -> None:
            store[name] = data

    evi = EviEmulator(clock=clock, media=Sink(), base_url="http://127.0.0.1:9999", audio_seconds=(0, 0))
    chat_id = evi.chat_ids()[0]
    response = evi.handle(EmuRequest("GET", f"/v0/evi/chats/{chat_id}/audio"))
    assert response is not None
    url = orjson.loads(response.body)["signed_audio_url"]
    assert url.startswith(f"http://127.0.0.1:9999/media/{evi.audio_media_name(chat_id)}")
    assert store == {evi.audio_media_name(chat_id): evi.audio_bytes(chat_id)}


@pytest.mark.sdk
def test_official_sdk_through_the_main_emulator(emulator: Any) -> None:
    """The main Emulator routes /v0/evi/* to its EviEmulator, behind its API-key check."""
    from hume import HumeClient
    from hume.core.api_error import ApiError

    sdk = HumeClient(api_key="test-key", base_url="http://emulator.test",
                     httpx_client=httpx.Client(transport=emulator.transport()))  # fmt: skip
    chats = list(sdk.empathic_voice.chats.list_chats())
    assert [c.id for c in chats] == emulator.evi.chat_ids()
    events = list(sdk.empathic_voice.chats.list_chat_events(id=chats[0].id, page_size=4))
    assert len(events) == len(emulator.evi.events(chats[0].id))
    intruder = HumeClient(api_key="wrong", base_url="http://emulator.test",
                          httpx_client=httpx.Client(transport=emulator.transport()))  # fmt: skip
    with pytest.raises(ApiError) as info:
        list(intruder.empathic_voice.chats.list_chats())
    assert info.value.status_code == 401
