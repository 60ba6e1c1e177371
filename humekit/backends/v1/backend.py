"""Hume's v1 Expression Measurement API as a backend: a recording's audio in windows, each one synchronous upload.

Every audio or video row with ``audio`` requested becomes one unit per window (:mod:`~humekit.backends.v1.windows`:
at most 12 minutes, cut where the recording is quiet, never shorter than the 10 s a run is billed for when it
can be merged), each converted on the fly to 16 kHz mono s16 WAV (:mod:`~humekit.backends.v1.audio`, PyAV,
no system ffmpeg) and sent through :class:`~humekit.backends.v1.client.V1Client`. A window's answer is
stored in the ledger the moment it arrives (:class:`~humekit.backends.sync.SyncBackend`); the decoder puts
its times back on the recording's clock. Raw texts have no unit here: v1 measures no text.

URL rows are downloaded by humekit at pack time (:mod:`~humekit.backends.v1.url_rows`: streamed, size-capped,
retried, each URL once into ``download_dir``) and then measured exactly as local files.

Faces (``face``) come from images and from frames sampled from videos (:mod:`~humekit.backends.v1.faces`):
images many to a request, a video's frames in batches of at least 30 (where it has that many) and at most
25 MB, each batch one unit. The batches of one video form a *lane*: they are sent in order, each with the
``face_state`` of the answer before it (read from the ledger, so a resumed run continues the chain from
the last stored answer), so face ids stay the same across the video; different videos go in parallel.
A video row with ``["audio", "face"]`` gets both its audio windows and its frame batches.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson

from humekit.backends.base import Decoded, Executed, Run
from humekit.backends.sync import SyncBackend
from humekit.backends.v1 import decoding
from humekit.backends.v1.audio import read_window, wav_bytes
from humekit.backends.v1.client import V1Client
from humekit.backends.v1.downloads import DEFAULT_MAX_DOWNLOAD_BYTES, Downloads
from humekit.backends.v1.faces import IMAGES_PART, FrameBatch, batch_jpegs, frame_batches, image_batches
from humekit.backends.v1.frames import image_jpeg
from humekit.backends.v1.limits import DEFAULT_V1_LIMITS, V1Limits
from humekit.backends.v1.reconciling import reconcile_lost_sends
from humekit.backends.v1.url_rows import downloaded_inputs, downloaded_rows
from humekit.backends.v1.windows import Window, plan_file_windows
from humekit.errors import ConfigurationError, HumekitError
from humekit.pipeline.input_limits import InputLimits
from humekit.pipeline.media import probe
from humekit.pipeline.planning import KINDS, PlannedInput, Plan, RowInput, Unit, distinct_inputs, unit

__all__ = ["V1Backend"]


class V1Backend(SyncBackend):
    """Hume's v1 API (``https://api.cloud.hume.ai``, or the v1 emulator).

    Args:
        client: a :class:`V1Client` (default: one from ``HUME_API_KEY``/``HUME_BASE_URL``).
        concurrency: uploads in flight at once.
        limits: v1's limits (:class:`V1Limits`).
        measurement_timer_ms: v1's ``measurement_timer_ms`` (3000-10000 ms of speech between measurements;
            the server's default when not given).
        frame_rate: frames per second sampled from a video for ``face`` (at most; 3 by default, the SDK's).
        endpoint: the endpoint's identity in the ledger (default: the client's base URL); give one name to
            endpoints that answer alike (an emulator started on another port each run).
        download_dir: where URL rows are downloaded (default ``humekit-downloads`` in the working directory,
            beside the default ledger), one file per URL, kept so that no URL is fetched twice. Downloads
            happen when the rows are planned, before anything is sent to Hume, and so on a dry run too.
        max_download_bytes: the largest file downloaded from a URL (1 GB by default); a larger one makes its
            rows ``invalid``.
    """

    name = "hume-v1"
    api = "v1"

    def __init__(self, client: V1Client | None = None, *, concurrency: int = 4, limits: V1Limits = DEFAULT_V1_LIMITS,
                 measurement_timer_ms: int | None = None, frame_rate: float = DEFAULT_V1_LIMITS.max_frame_rate,
                 endpoint: str | None = None, download_dir: str | os.PathLike[str] | None = None,
                 max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES):
        if not frame_rate > 0:
            raise ConfigurationError(f"frame_rate={frame_rate!r}: give the frames per second to sample from a video "
                                     "for faces, a positive number such as 1 or 3")
        self.client = client if client is not None else V1Client()
        super().__init__(endpoint or self.client.base_url, concurrency=concurrency, attempts=1, clock=self.client.clock)
        self.limits = limits
        self.measurement_timer_ms = measurement_timer_ms
        self.frame_rate = frame_rate
        self.downloads = Downloads(download_dir, max_bytes=max_download_bytes, clock=self.client.clock)
        self._frames: dict[str, list[list[int]]] = {}  # a frame batch's unit key -> its (index, timestamp_ms)
        self._previous: dict[str, str] = {}  # a frame batch's unit key -> the batch before it in its video

    def __repr__(self) -> str:
        return f"V1Backend({self.client!r}, concurrency={self.concurrency}, frame_rate={self.frame_rate})"

    # -- packing -----------------------------------------------------------------------------
    def pack(self, rows: Sequence[RowInput], *, config: str, models: Sequence[str], salt: str,
             limits: InputLimits) -> Plan:
        """Audio windows of every recording (``audio``), frame batches of every video and image batches
        (``face``), URLs downloaded first and measured as their files; rows v1 cannot take are reported."""
        units: list[Unit] = []
        images: list[PlannedInput] = []
        groups = distinct_inputs(rows)
        downloaded, unplannable = downloaded_inputs(groups["url"], self.downloads, models=models, limits=limits,
                                                    concurrency=self.concurrency)
        groups = {**groups, "file": [*groups["file"], *downloaded], "url": []}
        for kind in KINDS:
            for item in groups[kind]:
                if kind != "file":
                    for row in item.rows:
                        unplannable[row.index] = _NOT_A_FILE[kind]
                    continue
                try:
                    media = probe(item.value).kind
                    if media == "image":
                        images.append(item)
                        continue
                    found = [*self._windows(item, f"{config}{salt}", models),
                             *self._batches(item, f"{config}{salt}", models, media)]
                except (HumekitError, OSError, ValueError) as exc:
                    for row in item.rows:
                        unplannable[row.index] = f"it cannot be read for v1: {exc}"
                    continue
                units += found
        if images and "face" in models:
            batches, unreadable = image_batches(images, limits=self.limits)
            units += [replace(unit("file", batch, f"{config}{salt}", part=IMAGES_PART), models=("face",))
                      for batch in batches]
            unplannable.update({row.index: why for item in images if (why := unreadable.get(item.content))
                                for row in item.rows})
        for item in downloaded:  # a downloaded file's reason names its URL (the item's content)
            unplannable.update((row.index, f"{item.content} (downloaded to {item.value}): {unplannable[row.index]}")
                               for row in item.rows if row.index in unplannable)
        return Plan(jobs=units, unplannable=unplannable, config_key=f"{config}{salt}")

    def _windows(self, item: PlannedInput, config: str, models: Sequence[str]) -> list[Unit]:
        if "audio" not in models:
            return []
        _, windows = plan_file_windows(item.value, limits=self.limits)
        return [replace(unit("file", [item], config, part=_part(n, window)), models=("audio",))
                for n, window in enumerate(windows)]

    def _batches(self, item: PlannedInput, config: str, models: Sequence[str], media: str) -> list[Unit]:
        """A video's frame batches, each remembering its frames and the batch before it (the face_state chain)."""
        if "face" not in models or media != "video":
            return []
        found: list[Unit] = []
        for batch in frame_batches(item.value, fps=self.frame_rate, limits=self.limits):
            found.append(replace(unit("file", [item], config, part=batch.part), models=("face",)))
            self._remember(found[-1].key, batch, found[-2].key if len(found) > 1 else None)
        return found

    def _remember(self, key: str, batch: FrameBatch, previous: str | None) -> None:
        self._frames[key] = [list(frame) for frame in batch.frames]
        if previous is not None:
            self._previous[key] = previous

    def request(self, unit: Unit) -> dict[str, Any]:
        """The unit's inputs and v1's config, and what decoding needs: a window's index and span on the
        recording's clock, or each image's (frame index, timestamp_ms) and input."""
        if unit.part == IMAGES_PART:
            return {**super().request(unit), "frames": [[0, None] for _ in unit.inputs],
                    "frame_inputs": [unit.input_key(n) for n in range(len(unit.inputs))], "config": {}}
        if unit.part.startswith("frames:"):
            return {**super().request(unit), "frames": self._frames[unit.key], "config": _FACE_STATE_CONFIG}
        index, start_ms, end_ms = _window(unit.part)
        return {**super().request(unit), "window": {"index": index, "start_ms": start_ms, "end_ms": end_ms},
                "config": self._config()}

    def lane(self, unit: Unit) -> str | None:
        """A video's frame batches are one lane (sent in order, chaining ``face_state``)."""
        return f"faces:{unit.inputs[0].content}" if unit.part.startswith("frames:") else None

    def context(self, unit: Unit, run: Run) -> dict[str, Any]:
        """For a frame batch: the ``face_state`` of the stored answer of the batch before it (none if it
        has no stored answer, or the answer none: v1 then numbers faces from 0)."""
        previous = self._previous.get(unit.key)
        if not unit.part.startswith("frames:") or previous is None:
            return {}
        answer = run.ledger.answer(previous)
        state = orjson.loads(answer).get("face_state") if answer else None
        return {"face_state": state} if isinstance(state, str) else {}

    def resume(self, unit_keys: Sequence[str], rows: Mapping[str, RowInput], run: Run) -> Executed:
        """Send again what an earlier run claimed and holds no answer for (a URL row's download fetched
        again if it was deleted); a video's frame batches continue the ``face_state`` chain from the last
        answer the ledger holds. First, look up the lost sends of units an earlier call answered but stopped
        or was killed before looking up."""
        self.reconcile(unit_keys, run)
        unit_keys, rows = downloaded_rows(unit_keys, rows, run.ledger, self.downloads, concurrency=self.concurrency)
        requests = run.ledger.requests(unit_keys)
        chains: dict[tuple[str, str], dict[int, str]] = {}
        for key, recorded in requests.items():
            part = str(recorded.get("part") or "")
            if part.startswith("frames:"):
                self._frames[key] = [list(frame) for frame in recorded["frames"]]
                chain = (str(recorded["files"][0].get("md5sum")), orjson.dumps(recorded.get("models")).decode())
                chains.setdefault(chain, {})[int(part.split(":")[1])] = key
        for batches in chains.values():
            self._previous.update({key: batches[n - 1] for n, key in batches.items() if n - 1 in batches})
        return super().resume(unit_keys, rows, run)

    # -- sending and reading -------------------------------------------------------------------
    def send(self, unit: Unit, *, models: Mapping[str, Any], transcription: Any, face_state: str | None = None) -> bytes:
        """Upload the unit: its window as 16 kHz mono s16 WAV, or its images (frames) as JPEGs."""
        if unit.part == IMAGES_PART:
            images = [image_jpeg(item.value, limits=self.limits) for item in unit.inputs]
            self.sending_bytes(sum(map(len, images)))
            return self.client.measure_images(images, on_lost=self.resent)
        if unit.part.startswith("frames:"):
            jpegs = batch_jpegs(unit.inputs[0].value, self._frames[unit.key], fps=self.frame_rate, limits=self.limits)
            config = {**_FACE_STATE_CONFIG, **({"face_state": face_state} if face_state else {})}
            self.sending_bytes(sum(map(len, jpegs)))
            return self.client.measure_images(jpegs, config=config, on_lost=self.resent)
        _, start_ms, end_ms = _window(unit.part)
        audio = wav_bytes(read_window(unit.inputs[0].value, start_ms, end_ms))
        self.sending_bytes(len(audio))
        return self.client.measure_audio(audio, config=self._config() or None, on_lost=self.resent)

    def decode(self, kind: str, answer: bytes, *, request: Mapping[str, Any]) -> Decoded:
        """A window's ``AudioFileResponse`` on the recording's clock, or a batch's ``VideoFileResponse`` on
        its video's clock (an image batch's rows keyed by each image's input)."""
        files = request.get("files") or [{}]
        return decoding.decode(kind, answer, request=request, input_key=str(files[0].get("filename") or ""))

    def reconcile(self, unit_keys: Sequence[str], run: Run) -> None:
        """Look up in v1's runs what the sends whose answer was lost became (:mod:`~humekit.backends.v1.reconciling`):
        the cost then shows which lost answers were billed."""
        reconcile_lost_sends(unit_keys, ledger=run.ledger, client=self.client, billed_seconds=self.billed_seconds,
                             now=self.clock.time())

    def remote_id(self, answer: bytes) -> str | None:
        """The ``run_id`` the request became (find it with the runs endpoint: ``V1Client.get_run``)."""
        try:
            run_id = orjson.loads(answer).get("run_id")
        except (orjson.JSONDecodeError, AttributeError):
            return None
        return run_id if isinstance(run_id, str) and run_id else None

    def billed_seconds(self, request: Mapping[str, Any]) -> float | None:
        """A window's audio seconds (exactly what is sent: whole milliseconds of 16 kHz audio) or 1/3 s per
        image, at least the 10 s every run is billed."""
        seconds: float
        if "window" in request:
            window = request["window"]
            seconds = (window["end_ms"] - window["start_ms"]) / 1000
        elif "frames" in request:
            seconds = len(request["frames"]) * self.limits.seconds_per_image
        else:
            return None
        return max(seconds, self.limits.billing_min_seconds)

    def _config(self) -> dict[str, Any]:
        return {} if self.measurement_timer_ms is None else {"measurement_timer_ms": self.measurement_timer_ms}


_FACE_STATE_CONFIG: dict[str, Any] = {"face": {"return_face_state": True}}

_NOT_A_FILE = {
    "text": "Hume's v1 API has no language model, so it cannot measure a raw text; read archived v0 language "
            "results (humekit.read_predictions) or measure with api='v0' at a compatible endpoint",
}


def _part(index: int, window: Window) -> str:
    """A window as a unit's part: ``audio:<index>:<start_ms>-<end_ms>``."""
    return f"audio:{index}:{window.start_ms}-{window.end_ms}"


def _window(part: str) -> tuple[int, int, int]:
    """The (index, start_ms, end_ms) a unit's part names."""
    _, index, span = part.split(":")
    start, end = span.split("-")
    return int(index), int(start), int(end)
