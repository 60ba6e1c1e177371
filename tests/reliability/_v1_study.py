"""What the v1 reliability tests share: the study, the backend the runs use, and an emulator that logs each upload.

The child process (``_child_v1.py``, run as a script) imports this module as a sibling, so it imports
nothing from ``tests``. Small limits keep the media short while every path is taken: a window target of
5 s cuts the 16-second FLAC and the video's audio into several windows, and requests of about 160 kB
cut the video's 60 frames into three batches chained with ``face_state``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from humekit.backends.v1.backend import V1Backend
from humekit.backends.v1.client import V1Client
from humekit.backends.v1.limits import DEFAULT_V1_LIMITS, WAV_HEADER_BYTES
from humekit.emulator.multipart import boundary_of, parse_form
from humekit.emulator.v1 import V1Emulator
from humekit.emulator.wire import EmuRequest, EmuResponse

KEY = "v1-reliability-key"
MODELS = ["audio", "face"]
WINDOW_MS = 4_000
#: Windows of at most 5 s; a request of 5 s of audio (about 28 of the test video's frames) at most.
LIMITS = replace(DEFAULT_V1_LIMITS, window_target_ms=WINDOW_MS,
                 max_request_bytes=WINDOW_MS * DEFAULT_V1_LIMITS.bytes_per_ms + WAV_HEADER_BYTES
                 + DEFAULT_V1_LIMITS.multipart_margin_bytes, min_images_per_request=10)
ENDPOINT = "v1-emulator"  # one name for every emulator (each listens on its own port), so unit keys match
UPLOADS = ("/v1/expression/audio/file", "/v1/expression/video/file")


def make_study(folder: Path) -> pd.DataFrame:
    """Seven rows: WAV, MP3, a 16-second FLAC, an M4A, a 20-second MP4 with a face and speech, and a copy of the WAV."""
    from humekit.testing.media import make_audio, make_video

    folder.mkdir(parents=True, exist_ok=True)
    paths = {"s-wav": make_audio(folder / "a.wav", duration=4, seed=1),
             "s-mp3": make_audio(folder / "b.mp3", format="mp3", duration=5, seed=2),
             "s-long": make_audio(folder / "long.flac", format="flac", duration=16, seed=3),
             "s-m4a": make_audio(folder / "c.m4a", format="m4a", duration=6, seed=5),
             "s-video": make_video(folder / "v.mp4", duration=20, seed=4)}
    copy = folder / "copy" / "a.wav"  # the same recording under another ID: one request answers both rows
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(paths["s-wav"], copy)
    paths["s-copy"] = copy
    ids = ["s-video", "s-m4a", "s-wav", "s-long", "s-copy", "s-mp3"]  # in no particular order
    return pd.DataFrame({"id": ids, "source": [str(paths[i]) for i in ids]})


def backend(url: str, *, concurrency: int = 4, clock: Any = None, transport: Any = None) -> V1Backend:
    """The v1 backend every run of a study uses (short retry waits, the study's limits, a fixed endpoint name)."""
    client = V1Client(api_key=KEY, base_url=url, wait_initial=0.01, wait_max=0.05, clock=clock, transport=transport)
    return V1Backend(client, concurrency=concurrency, limits=LIMITS, endpoint=ENDPOINT)


@dataclass(frozen=True, slots=True)
class Upload:
    """One upload the emulator took in: what it carried (a digest of its file parts) and what became of it."""

    number: int
    digest: str
    request_id: str
    run_id: str | None
    status: int | None
    r"""The status sent, ``None`` for a dropped connection."""
    fault: str


class _Records(list):  # type: ignore[type-arg]
    """The emulator's request log, also remembering each thread's last record (to pair it with its upload)."""

    def __init__(self) -> None:
        super().__init__()
        self.mine = threading.local()

    def append(self, record: Any) -> None:
        super().append(record)
        self.mine.last = record


class LoggingV1Emulator(V1Emulator):
    """The v1 emulator, logging every upload's content digest, and able to wait until no request is in its hands."""

    def __init__(self, **options: Any) -> None:
        super().__init__(api_key=KEY, **options)
        self.uploads: list[Upload] = []
        self._records = self._app.requests = _Records()
        self._active = 0
        self._log_lock = threading.Lock()

    def handle(self, request: EmuRequest) -> EmuResponse:
        with self._log_lock:
            self._active += 1
        try:
            response = super().handle(request)
            if request.path in UPLOADS:
                record = self._records.mine.last  # this thread's: the request just answered
                with self._log_lock:
                    self.uploads.append(Upload(len(self.uploads), digest(request), record.request_id, record.run_id,
                                               record.status, record.fault))
            return response
        finally:
            with self._log_lock:
                self._active -= 1

    def settle(self, *, timeout: float = 10.0) -> None:
        """Wait until every request a dead client left behind has been answered (or dropped) and logged."""
        time.sleep(0.05)  # a request fully sent but not yet picked up by a server thread
        deadline = time.monotonic() + timeout
        while self._active and time.monotonic() < deadline:
            time.sleep(0.01)

    def billed(self) -> dict[str, float]:
        """Each run's billed seconds, by run id."""
        return {run.run_id: run.metered_seconds for run in self.runs}


def digest(request: EmuRequest) -> str:
    """What an upload carried, whatever its config (a chained face_state differs between attempts): its files."""
    parts = parse_form(request.body, boundary_of(request.header("content-type")) or b"")
    sha = hashlib.sha256()
    for part in parts:
        if part.name == "file":
            sha.update(len(part.data).to_bytes(8, "big") + part.data)
    return sha.hexdigest()[:16]


def billed_seconds(request: dict[str, Any]) -> float:
    """What v1 bills for a unit's recorded request (a window's seconds or 1/3 s per frame, at least 10 s)."""
    return float(backend("http://billing.invalid").billed_seconds(request) or 0.0)


def resent_after_stored(uploads: Iterable[Upload], stored: Iterable[str]) -> list[Upload]:
    """Uploads of content whose answer the ledger holds, made after the upload that answer came from (must be none).

    ``stored``: the request ids of the answers in the ledger.
    """
    uploads = list(uploads)
    by_request = {u.request_id: u for u in uploads}
    answered = {by_request[r].digest: by_request[r].number for r in stored if r in by_request}
    return [u for u in uploads if u.digest in answered and u.number > answered[u.digest]]


def ledger_view(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a (possibly crashed) ledger holds, read through a fresh connection: by unit, its answer's request
    id, its sends and its recorded request."""
    import sqlite3
    import zlib

    import orjson

    db = sqlite3.connect(path, timeout=30)
    try:
        answers = {key: orjson.loads(zlib.decompress(body)).get("request_id")
                   for key, body in db.execute("SELECT job_key, body FROM answers")}
        sends = dict(db.execute("SELECT job_key, COUNT(*) FROM sends GROUP BY job_key"))
        requests = {key: orjson.loads(request) for key, request in db.execute("SELECT job_key, request FROM jobs")}
    finally:
        db.close()
    return {"answers": answers, "sends": sends, "requests": requests}
