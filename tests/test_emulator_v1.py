"""The v1 emulator: every route, auth, every error code, runs and their billing, paging, faces, scores."""

from __future__ import annotations

import re
import struct
import uuid

import pytest
from _v1 import AUDIO, RUNS, VIDEO, http, jpeg, post_audio, post_images, speech

from humekit.clock import VirtualClock
from humekit.emulator.v1 import CODE_STATUS, SYNTHETIC_HEADER, V1Emulator, V1Limits
from humekit.emulator.v1.faces import CheckedImage, FaceIds, FaceStateSigner, detected_faces
from humekit.emulator.v1.scoring import VOICE_ATTRIBUTE_CUTOFF, expression_threshold
from humekit.emulator.v1.speech import Utterance, measurements
from humekit.emulator.v1.vocabulary import VOCABULARY_NAMES, vocabulary
from humekit.testing.synthetic import make_mp3, make_mp4, make_wav

HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def emu() -> V1Emulator:
    """An in-process v1 emulator on a virtual clock."""
    return V1Emulator(clock=VirtualClock(start=1_796_000_000.0))


def assert_error(response, code: str) -> None:
    """An ErrorBody with ``code`` at the status the code is answered with."""
    assert response.status_code == CODE_STATUS[code], response.text
    body = response.json()
    assert set(body) == {"type", "code", "message", "request_id"} and body["type"] == "error"
    assert body["code"] == code and body["message"] and HEX32.match(body["request_id"])


# -- audio -------------------------------------------------------------------------------------
def test_audio_upload_finds_the_utterances_in_the_audio(emu):
    """A WAV's utterances are where its speech-like bursts are, and measurements follow the schedule."""
    body = post_audio(http(emu), speech(10.0)).json()
    assert body["received"] == {"audio_duration_ms": 10000}
    spans = [(u["audio_start_ms"], u["audio_end_ms"]) for u in body["utterances"]]
    assert len(spans) == 2
    for (start, end), (want_start, want_end) in zip(spans, [(500, 2000), (3000, 9500)], strict=True):
        assert abs(start - want_start) <= 60 and abs(end - want_end) <= 60
    by_id = {u["utterance_id"]: u for u in body["utterances"]}
    assert [m["measurement_id"] for m in body["measurements"]] == list(range(len(body["measurements"])))
    for m in body["measurements"]:
        u = by_id[m["utterance_id"]]
        assert u["audio_start_ms"] <= m["audio_start_ms"] < m["audio_end_ms"] <= u["audio_end_ms"]
        assert m["audio_end_ms"] - m["audio_start_ms"] <= 10000
    assert {m["utterance_id"] for m in body["measurements"]} == set(by_id)


def test_raw_pcm_is_measured_like_the_same_wav(emu):
    """Headerless samples (any part Content-Type) give the same utterances and scores as the WAV they came from."""
    wav = speech(8.0)
    client = http(emu)
    as_wav = post_audio(client, wav).json()
    as_raw = post_audio(client, wav[44:], content_type="application/octet-stream").json()
    as_raw_labelled_wav = post_audio(client, wav[44:]).json()
    for other in (as_raw, as_raw_labelled_wav):
        assert other["utterances"] == as_wav["utterances"] and other["measurements"] == as_wav["measurements"]


def test_schedule_reproduces_the_sdk_worked_example():
    """Speech from 98 ms to 26000 ms at the default timer: 8 interval windows and one speech_ended (SDK docstring)."""
    got = [(m.audio_start_ms, m.audio_end_ms, m.trigger) for m in measurements([Utterance(0, 98, 26000)], timer_ms=3000)]
    intervals = [(98, 3098), (98, 6098), (98, 9098)] + [(s - 10000, s) for s in range(12098, 24099, 3000)]
    assert got == [(a, b, "interval") for a, b in intervals] + [(16000, 26000, "speech_ended")]


def test_speech_ended_is_skipped_within_a_second_of_the_last_window():
    """An utterance ending 500 ms after an interval window gets no speech_ended; a short one gets only that."""
    assert [m.trigger for m in measurements([Utterance(0, 0, 6500)], timer_ms=3000)] == ["interval", "interval"]
    short = measurements([Utterance(0, 100, 1200), Utterance(1, 2000, 2600)], timer_ms=3000)
    assert [(m.measurement_id, m.utterance_id, m.trigger) for m in short] == [(0, 0, "speech_ended"),
                                                                              (1, 1, "speech_ended")]


def test_timer_of_10000_makes_interval_windows_meet_end_to_end():
    """At measurement_timer_ms=10000 each interval window starts where the previous one ended."""
    got = [m for m in measurements([Utterance(0, 0, 35000)], timer_ms=10000) if m.trigger == "interval"]
    assert [(m.audio_start_ms, m.audio_end_ms) for m in got] == [(0, 10000), (10000, 20000), (20000, 30000)]


def test_measurement_timer_config_changes_the_schedule(emu):
    """A config part with measurement_timer_ms=5000 spaces the interval windows 5 s apart."""
    body = post_audio(http(emu), make_wav(segments=[(0.2, 19.8)], duration=20.0),
                      config={"measurement_timer_ms": 5000}).json()
    ends = [m["audio_end_ms"] for m in body["measurements"] if m["trigger"] == "interval"]
    assert len(ends) >= 3 and {b - a for a, b in zip(ends, ends[1:], strict=False)} == {5000}


def test_silence_has_no_utterances_and_is_billed_ten_seconds(emu):
    """Audio without speech answers empty utterances and measurements; its run bills the 10 s minimum."""
    body = post_audio(http(emu), make_wav(segments=[], duration=4.0)).json()
    assert body["utterances"] == [] and body["measurements"] == []
    assert emu.runs[0].metered_seconds == 10.0


def test_scores_are_sparse_sorted_rounded_and_cut(emu):
    """Expressions above their per-name cutoff, voice attributes >= 0.725, 4 decimals, descending."""
    body = post_audio(http(emu), speech(30.0)).json()
    names = {key: set(vocabulary(key).names) for key in VOCABULARY_NAMES}
    assert body["measurements"]
    for m in body["measurements"]:
        for key, scores in (("audio_expressions", m["expressions"]), ("voice_attributes", m["voice_attributes"])):
            probabilities = [s["probability"] for s in scores]
            assert probabilities == sorted(probabilities, reverse=True)
            assert all(round(p, 4) == p for p in probabilities) and {s["name"] for s in scores} <= names[key]
        assert all(s["probability"] >= round(expression_threshold(s["name"]), 4) for s in m["expressions"])
        assert all(s["probability"] >= VOICE_ATTRIBUTE_CUTOFF for s in m["voice_attributes"])
    assert 0 < sum(len(m["expressions"]) for m in body["measurements"]) < len(names["audio_expressions"]) * len(
        body["measurements"]) / 2


def test_scores_are_deterministic_per_content(emu):
    """The same audio scores the same in another emulator; different audio scores differently."""
    first = post_audio(http(emu), speech(12.0)).json()["measurements"]
    other = V1Emulator()
    assert post_audio(http(other), speech(12.0)).json()["measurements"] == first
    assert post_audio(http(other), speech(12.0, seed=5)).json()["measurements"] != first


def test_every_answer_says_the_scores_are_synthetic(emu):
    """The X-Humekit-Emulator header on every answer, and the emulator field in upload bodies."""
    client = http(emu)
    ok = post_audio(client, speech(4.0))
    assert "synthetic" in ok.headers[SYNTHETIC_HEADER] and "synthetic" in ok.json()["emulator"]
    assert "synthetic" in post_images(client, [jpeg()]).json()["emulator"]
    for response in (client.get(RUNS), client.get("/nowhere"), http(emu, key="wrong").get(RUNS)):
        assert "synthetic" in response.headers[SYNTHETIC_HEADER]


def test_request_and_run_ids_have_the_documented_formats(emu):
    """request_id is 32 hex digits; run_id a UUIDv7 whose timestamp is the run's start in ms."""
    body = post_audio(http(emu), speech(4.0)).json()
    assert HEX32.match(body["request_id"])
    run_id = uuid.UUID(body["run_id"])
    assert run_id.version == 7 and str(run_id) == body["run_id"]
    assert run_id.int >> 80 == round(emu.runs[0].started_at * 1000)


# -- auth --------------------------------------------------------------------------------------
def test_missing_credentials_are_401_with_only_a_message(emu):
    """No credential: 401 {message}, with no type, code or request_id (the gateway answers)."""
    response = httpx_client(emu).get(RUNS)
    assert response.status_code == 401 and set(response.json()) == {"message"}


def test_a_rejected_api_key_is_401_with_a_request_id(emu):
    """A wrong API key: 401 {message, request_id}."""
    response = http(emu, key="not-the-key").get(RUNS)
    assert response.status_code == 401 and set(response.json()) == {"message", "request_id"}
    assert HEX32.match(response.json()["request_id"])


def test_bearer_token_is_accepted_and_a_wrong_one_is_401_without_request_id(emu):
    """Authorization: Bearer <access_token> works; a wrong token is 401 {message} only."""
    client = httpx_client(emu)
    assert client.get(RUNS, headers={"Authorization": f"Bearer {emu.access_token}"}).status_code == 200
    wrong = client.get(RUNS, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and set(wrong.json()) == {"message"}


def test_both_credentials_at_once_are_401(emu):
    """Exactly one credential per request: a key and a token together are refused."""
    response = http(emu).get(RUNS, headers={"Authorization": f"Bearer {emu.access_token}"})
    assert response.status_code == 401 and "exactly one" in response.json()["message"]


def test_auth_comes_before_routing(emu):
    """An unknown path without a key is 401; with the key it is the gateway's 404 {message}."""
    assert httpx_client(emu).get("/v2/whatever").status_code == 401
    response = http(emu).get("/v2/whatever")
    assert response.status_code == 404 and set(response.json()) == {"message"}


def httpx_client(emu: V1Emulator):
    """A client sending no credential."""
    import httpx

    return httpx.Client(transport=emu.transport(), base_url=emu.url)


# -- error codes -------------------------------------------------------------------------------
def test_audio_too_long(emu):
    """A body over the request limit is 413 audio_too_long, and makes no run."""
    small = V1Emulator(limits=V1Limits(max_request_bytes=50_000))
    assert_error(post_audio(http(small), speech(3.0)), "audio_too_long")
    assert small.runs == []


@pytest.mark.parametrize("limits, images", [
    (V1Limits(max_request_bytes=5_000), [jpeg(), jpeg(1)]),
    (V1Limits(max_image_bytes=1_000), [jpeg()]),
    (V1Limits(max_image_pixels=320 * 399), [jpeg()]),
], ids=["request", "image-bytes", "image-pixels"])  # fmt: skip
def test_image_too_large(limits, images):
    """Over the request size, an image's byte limit or its pixel limit: 413 image_too_large."""
    assert_error(post_images(http(V1Emulator(limits=limits)), images), "image_too_large")


@pytest.mark.parametrize("data", [
    make_mp3(duration=1.0),
    make_mp3(duration=1.0)[make_mp3(duration=1.0).index(b"\xff\xfb"):],
    b"fLaC" + bytes(100),
    b"OggS" + bytes(100),
    make_mp4(duration=1.0),
    b"RIFF" + struct.pack("<I", 100) + b"AVI " + bytes(100),
], ids=["mp3-id3", "mp3-frames", "flac", "ogg", "mp4", "riff-avi"])  # fmt: skip
def test_unsupported_audio_media_type(emu, data):
    """MP3 (with or without ID3), FLAC, Ogg, MP4 and non-WAVE RIFF files are 415 unsupported_media_type."""
    assert_error(post_audio(http(emu), data), "unsupported_media_type")


def test_a_non_jpeg_image_is_unsupported_and_leaves_an_errored_run(emu):
    """A PNG among JPEGs fails the whole request with 415; the run it became is errored and billed 0."""
    from humekit.testing.synthetic import make_image

    assert_error(post_images(http(emu), [jpeg(), make_image()]), "unsupported_media_type")
    assert [(r.status, r.metered_seconds) for r in emu.runs] == [("errored", 0.0)]


@pytest.mark.parametrize("data", [
    make_wav(segments=[(0.1, 0.5)], duration=1.0, sample_rate=44100),
    make_wav(segments=[(0.1, 0.5)], duration=1.0, channels=2),
    make_wav(segments=[(0.1, 0.5)], duration=1.0, encoding="float32"),
    make_wav(segments=[(0.1, 0.5)], duration=1.0)[:-1000],
    make_wav(segments=[(0.1, 0.5)], duration=1.0)[:30],
    b"\x01\x02\x03",
    b"",
], ids=["44k", "stereo", "extensible", "truncated", "no-data-chunk", "odd-raw", "empty"])  # fmt: skip
def test_audio_decode_failed(emu, data):
    """Wrong rate, channels, extensible header, truncated WAV, odd or empty raw data: 400 audio_decode_failed."""
    assert_error(post_audio(http(emu), data), "audio_decode_failed")
    assert emu.runs == []


def test_image_decode_failed(emu):
    """A JPEG cut short fails to decode: 400 image_decode_failed."""
    image = jpeg()
    assert_error(post_images(http(emu), [jpeg(1), image[: len(image) // 2]]), "image_decode_failed")


def test_message_invalid(emu):
    """A body that is not multipart, or a multipart body cut short: 400 message_invalid."""
    client = http(emu)
    assert_error(client.post(AUDIO, content=b"{}", headers={"Content-Type": "application/json"}), "message_invalid")
    request = client.build_request("POST", AUDIO, files={"file": (None, speech(2.0), "audio/wav")})
    body = request.read()
    cut = client.post(AUDIO, content=body[:-60], headers={"Content-Type": request.headers["content-type"]})
    assert_error(cut, "message_invalid")


def test_config_invalid_unknown_field_has_the_documented_message(emu):
    """An unknown config key is 400 config_invalid with serde's wording, as Hume's docs show it."""
    response = post_audio(http(emu), speech(2.0), config={"timer_ms": 5000})
    assert_error(response, "config_invalid")
    assert response.json()["message"] == ("the config part is not valid: unknown field `timer_ms`, expected "
                                          "`measurement_timer_ms` at line 1 column 11")


@pytest.mark.parametrize("config", [{"measurement_timer_ms": 2999}, {"measurement_timer_ms": "3000"}, []])
def test_config_invalid_values(emu, config):
    """A timer outside 3000-10000, of the wrong type, or a config that is not an object: config_invalid."""
    assert_error(post_audio(http(emu), speech(2.0), config=config), "config_invalid")  # type: ignore[arg-type]


@pytest.mark.parametrize("config", [{"face": {"threshold": 1.5}}, {"face": {"min_size": 0}}, {"face": {"x": 1}},
                                    {"face_state": 3}])
def test_video_config_invalid(emu, config):
    """A threshold outside 0-1, min_size < 1, an unknown face key or a non-string face_state: config_invalid."""
    assert_error(post_images(http(emu), [jpeg()], config=config), "config_invalid")


def test_config_part_that_is_not_json(emu):
    """A config part that does not parse is config_invalid."""
    client = http(emu)
    files = [("config", (None, b"{not json", "application/json")), ("file", (None, speech(2.0), "audio/wav"))]
    assert_error(client.post(AUDIO, files=files), "config_invalid")


def test_invalid_request_for_the_wrong_parts(emu):
    """Two audio files, no file at all, or an unexpected part: 400 invalid_request."""
    client = http(emu)
    two = [("file", (None, speech(2.0), "audio/wav")), ("file", (None, speech(2.0), "audio/wav"))]
    assert_error(client.post(AUDIO, files=two), "invalid_request")
    only_config = [("config", (None, b"{}", "application/json"))]
    assert_error(client.post(VIDEO, files=only_config), "invalid_request")
    extra = [("file", (None, speech(2.0), "audio/wav")), ("json", (None, b"{}", "application/json"))]
    assert_error(client.post(AUDIO, files=extra), "invalid_request")


@pytest.mark.parametrize("query", ["page_size=0", "page_size=201", "page_size=x", "cursor=garbage", "status=done",
                                   "mode=batch", "endpoint=text", "started_after=yesterday",
                                   "started_before=2026-12-01T00:00:00", "sort=asc", "page_size=2&page_size=3"])
def test_invalid_request_for_bad_list_queries(emu, query):
    """page_size outside 1-200, a foreign cursor, unknown values or parameters: 400 invalid_request."""
    assert_error(http(emu).get(f"{RUNS}?{query}"), "invalid_request")


def test_forbidden_for_a_key_without_the_measure_permission(emu):
    """The read-only key lists runs but is refused uploads with 403 forbidden."""
    client = http(emu, key=emu.read_only_api_key)
    assert client.get(RUNS).status_code == 200
    assert_error(post_audio(client, speech(2.0)), "forbidden")
    assert_error(post_images(client, [jpeg()]), "forbidden")


def test_not_found_for_an_unknown_run(emu):
    """GET of a run that does not exist, and its events: 404 not_found."""
    missing = str(uuid.uuid4())
    assert_error(http(emu).get(f"{RUNS}/{missing}"), "not_found")
    assert_error(http(emu).get(f"{RUNS}/{missing}/events"), "not_found")


def test_method_not_allowed(emu):
    """Another method on a known path: 405 method_not_allowed, with Allow."""
    client = http(emu)
    for method, path in (("GET", AUDIO), ("DELETE", RUNS), ("POST", f"{RUNS}/{uuid.uuid4()}")):
        response = client.request(method, path)
        assert_error(response, "method_not_allowed")
        assert response.headers["allow"] in ("GET", "POST")


def test_events_of_a_malformed_run_id_is_invalid_request(emu):
    """run_id has format uuid on the events route: anything else is 400 invalid_request."""
    assert_error(http(emu).get(f"{RUNS}/not-a-uuid/events"), "invalid_request")


# -- runs --------------------------------------------------------------------------------------
def test_runs_bill_audio_seconds_images_thirds_and_a_ten_second_minimum(emu):
    """13 s of audio bills 13 s, 4 s bills 10 s, 33 images bill 11 s, 3 images bill 10 s."""
    client = http(emu)
    post_audio(client, speech(13.0))
    post_audio(client, speech(4.0))
    post_images(client, [jpeg(i) for i in range(33)])
    post_images(client, [jpeg(i) for i in range(3)])
    assert sorted(r.metered_seconds for r in emu.runs) == [10.0, 10.0, 11.0, 13.0]
    assert emu.metered_seconds == 44.0


def test_get_run_shows_the_effective_config(emu):
    """GET /run/{id}: the run's summary plus close fields and the config with its defaults."""
    client = http(emu)
    audio = post_audio(client, speech(4.0), config={"measurement_timer_ms": 5000}).json()
    video = post_images(client, [jpeg()], config={"face": {"threshold": 0.8}}).json()
    run = client.get(f"{RUNS}/{audio['run_id']}").json()
    assert run["config"] == {"schema": "v4", "measurement_timer_ms": 5000,
                             "audio": {"type": "audio/pcm", "encoding": "s16le", "sample_rate": 16000, "channels": 1}}
    assert run["status"] == "ended" and run["mode"] == "file" and run["endpoint"] == "audio"
    assert run["close_code"] is None and run["bytes_received"] == len(speech(4.0))
    assert client.get(f"{RUNS}/{video['run_id']}").json()["config"] == {
        "schema": "v4", "image": {"type": "image/jpeg"}, "face": {"threshold": 0.8, "min_size": 60}}


def test_events_of_a_file_run_are_an_empty_page(emu):
    """File runs log no events: an empty page with no cursor."""
    run_id = post_audio(http(emu), speech(3.0)).json()["run_id"]
    assert http(emu).get(f"{RUNS}/{run_id}/events?page_size=10").json() == {
        "events": [], "at_cap": False, "capped_kinds": [], "gaps": False}


def paged(client, query: str = "") -> list[list[str]]:
    """Every page of the runs list, following next_cursor."""
    pages, cursor = [], None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        body = client.get(f"{RUNS}?{query}{suffix}").json()
        pages.append([r["run_id"] for r in body["runs"]])
        cursor = body.get("next_cursor")
        if cursor is None:
            return pages


def test_runs_page_newest_first_with_a_cursor(emu):
    """page_size=3 over 7 runs: pages of 3, 3, 1, newest first, none repeated, no cursor on the last."""
    client = http(emu)
    made = []
    for i in range(7):
        made.append(post_audio(client, speech(3.0, seed=i)).json()["run_id"])
        emu.clock.sleep(1.0)
    pages = paged(client, "page_size=3")
    assert [len(p) for p in pages] == [3, 3, 1] and sum(pages, []) == made[::-1]
    assert len(client.get(RUNS).json()["runs"]) == 7


def test_runs_filters_combine_and_time_ranges_partition(emu):
    """endpoint/status filters AND together; started_after is inclusive and started_before exclusive."""
    client = http(emu)
    from humekit.testing.synthetic import make_image

    starts = []
    for i in range(4):
        starts.append(emu.clock.time())
        post_audio(client, speech(3.0, seed=i))
        post_images(client, [jpeg(i)] if i != 2 else [make_image()])  # the third image upload errors
        emu.clock.sleep(10.0)
    video = sum(paged(client, "endpoint=video&page_size=2"), [])
    assert len(video) == 4
    assert len(sum(paged(client, "endpoint=video&status=errored"), [])) == 1
    assert len(sum(paged(client, "endpoint=audio&status=errored"), [])) == 0
    from humekit.emulator.v1.runs import iso

    cut = iso(starts[2])
    before = sum(paged(client, f"started_before={cut}"), [])
    after = sum(paged(client, f"started_after={cut}"), [])
    assert len(before) == 4 and len(after) == 4 and not set(before) & set(after)
    assert sum(paged(client, "user_id=someone-else"), []) == []


def test_a_cursor_from_other_filters_is_refused(emu):
    """A next_cursor is only valid with the filters of the page that issued it."""
    client = http(emu)
    for i in range(3):
        post_audio(client, speech(3.0, seed=i))
    cursor = client.get(f"{RUNS}?page_size=1&endpoint=audio").json()["next_cursor"]
    assert_error(client.get(f"{RUNS}?page_size=1&cursor={cursor}"), "invalid_request")
    assert client.get(f"{RUNS}?page_size=1&endpoint=audio&cursor={cursor}").status_code == 200


# -- video -------------------------------------------------------------------------------------
def many_faces_image() -> bytes:
    """A JPEG the emulator sees three faces in."""
    for seed in range(200):
        image = jpeg(seed, width=640, height=480)
        from hashlib import md5

        if len(detected_faces(CheckedImage(md5(image).hexdigest(), 640, 480))) == 3:
            return image
    raise AssertionError("no seed gives three faces")


def test_video_frames_are_part_indexes_and_faces_are_ordered(emu):
    """frame_id = part index; at most 2 measured faces first, largest first; the rest with null ids and scores."""
    images = [jpeg(1), many_faces_image(), jpeg(2)]
    body = post_images(http(emu), images, config={"face": {"threshold": 0.0, "min_size": 1}}).json()
    assert body["received"] == {"frames": 3} and [m["frame_id"] for m in body["measurements"]] == [0, 1, 2]
    faces = body["measurements"][1]["faces"]
    assert len(faces) == 3
    measured = [f for f in faces if f["face_id"] is not None]
    assert len(measured) == 2 and faces[:2] == measured
    area = [(f["bbox"][2] - f["bbox"][0]) * (f["bbox"][3] - f["bbox"][1]) for f in measured]
    assert area == sorted(area, reverse=True)
    assert faces[2]["expressions"] is None and faces[2]["descriptions"] is None
    for face in measured:
        for key in ("expressions", "descriptions"):
            probabilities = [s["probability"] for s in face[key]]
            assert probabilities == sorted(probabilities, reverse=True) and all(p > 0.1 for p in probabilities)
        x0, y0, x1, y1 = face["bbox"]
        assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 480


def test_faces_below_threshold_or_min_size_are_left_out(emu):
    """threshold=1 or a min_size larger than the image leaves every face out (an empty, normal result)."""
    client = http(emu)
    for face in ({"threshold": 1.0}, {"min_size": 10_000}):
        body = post_images(client, [many_faces_image()], config={"face": face}).json()
        assert body["measurements"] == [{"frame_id": 0, "faces": []}]


def test_face_state_is_returned_only_when_asked_and_continues_numbering(emu):
    """return_face_state gives a token; passed back, the next request keeps the ids it numbered."""
    client = http(emu)
    image = many_faces_image()
    assert "face_state" not in post_images(client, [image]).json()
    first = post_images(client, [image], config={"face": {"return_face_state": True, "threshold": 0.0}}).json()
    again = post_images(client, [image], config={"face": {"return_face_state": True, "threshold": 0.0},
                                                 "face_state": first["face_state"]}).json()
    ids = [[f["face_id"] for f in m["faces"]] for m in again["measurements"]]
    assert ids == [[f["face_id"] for f in m["faces"]] for m in first["measurements"]]
    assert again["face_state"] == first["face_state"]  # same faces, same clock: the same state


def test_face_state_tokens_are_signed_and_expire():
    """A token reads back; altered, foreign or over 24 h old it is ignored and numbering restarts."""
    signer = FaceStateSigner(b"secret", "org-a")
    ids = FaceIds(ids={0: 0, 2: 1}, next_id=2)
    token = signer.issue(ids, now=1000.0)
    assert signer.read(token, now=2000.0) == ids
    body, mac = token.split(".")
    assert signer.read(body[:-2] + "AA." + mac, now=2000.0) == FaceIds()
    assert FaceStateSigner(b"other", "org-a").read(token, now=2000.0) == FaceIds()
    assert FaceStateSigner(b"secret", "org-b").read(token, now=2000.0) == FaceIds()
    assert signer.read(token, now=1000.0 + 24 * 3600 + 1) == FaceIds()
    assert signer.read("garbage", now=2000.0) == FaceIds()


def test_a_bad_face_state_is_ignored_silently(emu):
    """An altered face_state is accepted (200) and ignored, as documented."""
    body = post_images(http(emu), [jpeg()], config={"face_state": "tampered.token"})
    assert body.status_code == 200


def test_labels_mark_every_unpublished_name():
    """labels.json names Hume's published counts; confirmed and UNCONFIRMED names never overlap."""
    for key in VOCABULARY_NAMES:
        vocab = vocabulary(key)
        assert vocab.confirmed and not set(vocab.confirmed) & set(vocab.unconfirmed)
        assert len(vocab.names) <= vocab.published_count
    assert "neutral" in vocabulary("audio_expressions").confirmed

