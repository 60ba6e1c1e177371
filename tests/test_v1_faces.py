"""Tests for faces under v1 (humekit.backends.v1.faces, V1Backend) against the v1 emulator: images, video frames, face_state."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest

import humekit
from humekit.backends.v1.backend import V1Backend
from humekit.backends.v1.client import V1Client
from humekit.backends.v1.limits import DEFAULT_V1_LIMITS
from humekit.emulator.multipart import boundary_of, parse_form
from humekit.emulator.v1 import V1Emulator, V1Limits
from humekit.emulator.wire import EmuRequest, EmuResponse
from humekit.testing.media import make_audio, make_photo, make_video

VIDEO_SECONDS = 40  # 120 frames at 3 fps
#: A request holds about 45 of the test video's frames (~4.5 kB each): three batches of one video.
SMALL_REQUESTS = replace(DEFAULT_V1_LIMITS, max_request_bytes=DEFAULT_V1_LIMITS.multipart_margin_bytes + 45 * 4_800)
VIDEO_PATH = "/v1/expression/video/file"


@dataclass(frozen=True)
class Upload:
    """One image upload the emulator answered: how many images, its size, the face_state sent and returned."""

    images: int
    size: int
    sent_state: str | None
    answer: dict[str, object]


class RecordingEmulator(V1Emulator):
    """The v1 emulator, keeping each image upload's config and answer (to check the face_state chain)."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.uploads: list[Upload] = []

    def handle(self, request: EmuRequest) -> EmuResponse:
        response = super().handle(request)
        if request.path == VIDEO_PATH and response.status == 200 and not response.drop:
            parts = parse_form(request.body, boundary_of(request.header("content-type")) or b"")
            config = next((json.loads(p.data) for p in parts if p.name == "config"), {})
            self.uploads.append(Upload(sum(p.name == "file" for p in parts), len(request.body),
                                       config.get("face_state"), json.loads(response.body)))
        return response


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A PNG, a JPEG, a WebP, a 40-second MP4 with speech and a WAV."""
    folder = tmp_path_factory.mktemp("faces")
    make_photo(folder / "a.png", format="PNG", alpha=True, seed=1)
    make_photo(folder / "b.jpg", seed=2)
    make_photo(folder / "c.webp", format="WEBP", seed=3)
    return {"png": folder / "a.png", "jpeg": folder / "b.jpg", "webp": folder / "c.webp",
            "video": make_video(folder / "v.mp4", duration=VIDEO_SECONDS, seed=4),
            "wav": make_audio(folder / "s.wav", duration=12, seed=5)}


def backend(emu: V1Emulator, **options: object) -> V1Backend:
    return V1Backend(V1Client(api_key=emu.api_key, base_url=emu.url, transport=emu.transport(), max_retries=3,
                              wait_initial=0.01, wait_max=0.02), **options)  # type: ignore[arg-type]


def table(media: dict[str, Path], *names: str) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"r-{n}" for n in names], "src": [str(media[n]) for n in names]})


def measure(rows: pd.DataFrame, emu: V1Emulator, ledger: Path, *, models: list[str] | None = None,
            **options: object) -> humekit.MeasureResult:
    return humekit.measure(rows, id_col="id", source_col="src", models=models or ["face"],
                           backend=backend(emu, **options), ledger=ledger, progress=False, errors="mark")


def test_images_of_any_format_are_measured_together_in_one_request(media: dict[str, Path], tmp_path: Path) -> None:
    """A PNG, a JPEG and a WebP are sent as JPEGs in one request and each row gets its own faces."""
    emu = RecordingEmulator()
    result = measure(table(media, "png", "jpeg", "webp"), emu, tmp_path / "l.sqlite")
    assert set(result.status["status"]) == {"ok"}
    assert [u.images for u in emu.uploads] == [3]
    faces = result.predictions
    assert set(faces["model"]) == {"face"} and set(faces["id"]) == {"r-png", "r-jpeg", "r-webp"}
    assert faces["begin"].isna().all()  # an image has no time
    assert set(result.descriptors["kind"]) <= {"description"}


def test_a_videos_frames_go_in_batches_on_its_clock_with_face_state_chained(media: dict[str, Path],
                                                                            tmp_path: Path) -> None:
    """Three batches of >= 30 frames within the request bound; times rise within the video; face_state chains."""
    emu = RecordingEmulator()
    result = measure(table(media, "video"), emu, tmp_path / "l.sqlite", limits=SMALL_REQUESTS)
    assert result.counts()["ok"] == 1
    assert len(emu.uploads) == 3
    assert all(u.images >= 30 and u.size <= SMALL_REQUESTS.max_request_bytes for u in emu.uploads)
    assert sum(u.images for u in emu.uploads) == VIDEO_SECONDS * 3
    assert emu.uploads[0].sent_state is None
    for before, after in zip(emu.uploads, emu.uploads[1:], strict=False):
        assert after.sent_state == before.answer["face_state"]  # each request carries the previous answer's state
    frames = result.predictions[["frame", "begin"]].drop_duplicates().sort_values("frame")
    assert frames["begin"].is_monotonic_increasing and frames["begin"].between(0, VIDEO_SECONDS).all()
    requests = result.ledger.requests(result.ledger.jobs()["job_key"]).values()
    stamps = sorted(t for r in requests for _, t in r["frames"])
    assert stamps == sorted(set(stamps)) and stamps[-1] < VIDEO_SECONDS * 1000
    groups = result.predictions.groupby("frame")["group"].first()
    assert set(groups) == {"face_0"}  # the one face keeps its id across the three requests


def test_a_short_video_is_one_request_within_25_mb(media: dict[str, Path], tmp_path: Path) -> None:
    """With v1's own limits the whole 40-second video is one request of 120 frames, under 25,000,000 bytes."""
    emu = RecordingEmulator()
    result = measure(table(media, "video"), emu, tmp_path / "l.sqlite")
    assert result.counts()["ok"] == 1
    assert [u.images for u in emu.uploads] == [VIDEO_SECONDS * 3]
    assert emu.uploads[0].size <= 25_000_000


def test_frame_rate_is_configurable(media: dict[str, Path], tmp_path: Path) -> None:
    """frame_rate=1 samples one frame a second."""
    emu = RecordingEmulator()
    measure(table(media, "video"), emu, tmp_path / "l.sqlite", frame_rate=1)
    assert sum(u.images for u in emu.uploads) == VIDEO_SECONDS


def test_a_video_row_gets_audio_and_face_and_an_audio_row_face_only_is_invalid(media: dict[str, Path],
                                                                              tmp_path: Path) -> None:
    """models=['audio', 'face']: the video has both, the image faces, the WAV audio; models=['face'] on a WAV is invalid."""
    emu = RecordingEmulator()
    both = measure(table(media, "video", "jpeg", "wav"), emu, tmp_path / "l.sqlite", models=["audio", "face"])
    assert set(both.status["status"]) == {"ok"}
    models = both.predictions.groupby("id")["model"].agg(set).to_dict()
    assert models == {"r-video": {"audio", "face"}, "r-jpeg": {"face"}, "r-wav": {"audio"}}
    for frame in (both.predictions, both.descriptors):  # v1's face is not v0's: every row says which API
        assert set(frame["api"]) == {"v1"} and list(frame["api"].cat.categories) == ["v0", "v1"]
    face_only = measure(table(media, "wav"), emu, tmp_path / "other.sqlite")
    row = face_only.status.iloc[0]
    assert row["status"] == "invalid" and "face" in row["error"]


def test_a_rerun_sends_nothing(media: dict[str, Path], tmp_path: Path) -> None:
    """Every batch's answer is in the ledger: the same call again makes no request and gives the same tables."""
    emu = RecordingEmulator()
    rows = table(media, "png", "video")
    first = measure(rows, emu, tmp_path / "l.sqlite", limits=SMALL_REQUESTS)
    sent = len(emu.requests)
    again = measure(rows, emu, tmp_path / "l.sqlite", limits=SMALL_REQUESTS)
    assert len(emu.requests) == sent
    pd.testing.assert_frame_equal(again.predictions, first.predictions)


def test_a_refused_image_fails_its_row_with_v1s_code_and_is_never_resent(media: dict[str, Path],
                                                                         tmp_path: Path) -> None:
    """An image over the emulator's (lowered) size limit fails its row with image_too_large; the others are ok."""
    big = tmp_path / "big.png"
    make_photo(big, width=1600, height=1200, format="PNG", noise=60, seed=9)
    rows = pd.concat([table(media, "png", "jpeg"), pd.DataFrame({"id": ["r-big"], "src": [str(big)]})])
    emu = RecordingEmulator(limits=V1Limits(max_image_bytes=150_000))
    result = measure(rows, emu, tmp_path / "l.sqlite")
    status = result.status.set_index("id")
    assert status.loc["r-big", "status"] == "failed" and "image_too_large" in status.loc["r-big", "error"]
    assert (status.drop("r-big")["status"] == "ok").all()
    sent = len(emu.requests)
    humekit.retry_failed(measure(rows, emu, tmp_path / "l.sqlite"), backend=backend(emu))
    assert len(emu.requests) == sent


_CHILD = """
import os, signal
from dataclasses import replace
import pandas as pd
import humekit
from humekit.backends.v1.backend import V1Backend
from humekit.backends.v1.client import V1Client
from humekit.backends.v1.limits import DEFAULT_V1_LIMITS

class Dying(V1Backend):
    sent = 0
    def send(self, unit, **kw):
        if Dying.sent == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        Dying.sent += 1
        return super().send(unit, **kw)

limits = replace(DEFAULT_V1_LIMITS, max_request_bytes={max_bytes})
table = pd.read_json({table!r})
client = V1Client(api_key={key!r}, base_url={url!r})
humekit.measure(table, id_col="id", source_col="src", models=["face"], backend=Dying(client, concurrency=1,
                limits=limits), ledger={ledger!r}, progress=False, errors="mark")
"""


def test_a_sigkill_mid_video_resumes_the_chain_from_the_stored_answer(media: dict[str, Path], tmp_path: Path) -> None:
    """Killed after the first of three batches: the rerun sends the other two, chaining from the stored answer."""
    table_path = tmp_path / "table.json"
    rows = table(media, "video")
    rows.to_json(table_path)
    with RecordingEmulator() as emu:
        child = textwrap.dedent(_CHILD).format(max_bytes=SMALL_REQUESTS.max_request_bytes, table=str(table_path),
                                               key=emu.api_key, url=emu.url, ledger=str(tmp_path / "l.sqlite"))
        done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300)
        assert done.returncode == -9, done.stderr
        assert len(emu.uploads) == 1
        result = measure(rows, emu, tmp_path / "l.sqlite", limits=SMALL_REQUESTS)
        assert result.counts()["ok"] == 1
        assert len(emu.uploads) == 3  # the stored batch was not sent again
        assert emu.uploads[1].sent_state == emu.uploads[0].answer["face_state"]
        assert emu.uploads[2].sent_state == emu.uploads[1].answer["face_state"]
        stamps = [t for r in result.ledger.requests(result.ledger.jobs()["job_key"]).values() for _, t in r["frames"]]
        assert len(stamps) == len(set(stamps)) == VIDEO_SECONDS * 3  # every frame planned once, across the kill


def test_a_silent_video_asked_for_audio_is_invalid_and_says_to_ask_for_faces(tmp_path: Path) -> None:
    """A video with no audio track under ['audio', 'face'] is refused before sending, naming models=['face']."""
    emu = RecordingEmulator()
    silent = make_video(tmp_path / "silent.mp4", duration=4, audio=False, seed=6)
    result = measure(pd.DataFrame({"id": ["quiet"], "src": [str(silent)]}), emu, tmp_path / "l.sqlite",
                     models=["audio", "face"])
    row = result.status.iloc[0]
    assert row["status"] == "invalid" and "no audio track" in row["error"] and "models=['face']" in row["error"]
    assert emu.uploads == []
    faces = measure(pd.DataFrame({"id": ["quiet"], "src": [str(silent)]}), emu, tmp_path / "l.sqlite")
    assert faces.status.iloc[0]["status"] == "ok" and set(faces.predictions["model"]) == {"face"}
