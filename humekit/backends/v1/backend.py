"""Hume's v1 Expression Measurement API as a backend: a recording's audio in windows, each one synchronous upload.

Every audio or video row with ``audio`` requested becomes one unit per window (:mod:`~humekit.backends.v1.windows`:
at most 12 minutes, cut where the recording is quiet, never shorter than the 10 s a run is billed for when it
can be merged), each converted on the fly to 16 kHz mono s16 WAV (:mod:`~humekit.backends.v1.audio`, PyAV,
no system ffmpeg) and sent through :class:`~humekit.backends.v1.client.V1Client`. A window's answer is
stored in the ledger the moment it arrives (:class:`~humekit.backends.sync.SyncBackend`); the decoder puts
its times back on the recording's clock. Raw texts and URLs have no unit here: v1 measures no text, and a
URL row is reported with what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson

from humekit.backends.base import Decoded
from humekit.backends.sync import SyncBackend
from humekit.backends.v1 import decoding
from humekit.backends.v1.audio import read_window, wav_bytes
from humekit.backends.v1.client import V1Client
from humekit.backends.v1.limits import DEFAULT_V1_LIMITS, V1Limits
from humekit.backends.v1.windows import Window, plan_file_windows
from humekit.errors import HumekitError
from humekit.pipeline.input_limits import InputLimits
from humekit.pipeline.planning import KINDS, Plan, RowInput, Unit, distinct_inputs, unit

__all__ = ["V1Backend"]


class V1Backend(SyncBackend):
    """Hume's v1 API (``https://api.cloud.hume.ai``, or the v1 emulator).

    Args:
        client: a :class:`V1Client` (default: one from ``HUME_API_KEY``/``HUME_BASE_URL``).
        concurrency: uploads in flight at once.
        limits: v1's limits (:class:`V1Limits`).
        measurement_timer_ms: v1's ``measurement_timer_ms`` (3000-10000 ms of speech between measurements;
            the server's default when not given).
        endpoint: the endpoint's identity in the ledger (default: the client's base URL); give one name to
            endpoints that answer alike (an emulator started on another port each run).
    """

    name = "hume-v1"
    api = "v1"

    def __init__(self, client: V1Client | None = None, *, concurrency: int = 4, limits: V1Limits = DEFAULT_V1_LIMITS,
                 measurement_timer_ms: int | None = None, endpoint: str | None = None):
        self.client = client if client is not None else V1Client()
        super().__init__(endpoint or self.client.base_url, concurrency=concurrency, attempts=1, clock=self.client.clock)
        self.limits = limits
        self.measurement_timer_ms = measurement_timer_ms

    def __repr__(self) -> str:
        return f"V1Backend({self.client!r}, concurrency={self.concurrency})"

    # -- packing -----------------------------------------------------------------------------
    def pack(self, rows: Sequence[RowInput], *, config: str, models: Sequence[str], salt: str,
             limits: InputLimits) -> Plan:
        """One unit per window of every recording (``audio``); rows v1 cannot take are reported."""
        units: list[Unit] = []
        unplannable: dict[Any, str] = {}
        groups = distinct_inputs(rows)
        for kind in KINDS:
            for item in groups[kind]:
                if kind != "file":
                    for row in item.rows:
                        unplannable[row.index] = _NOT_A_FILE[kind]
                    continue
                if "audio" not in models:
                    for row in item.rows:
                        unplannable[row.index] = "v1 measures faces from images and video frames: not in this release"
                    continue
                try:
                    _, windows = plan_file_windows(item.value, limits=self.limits)
                except (HumekitError, OSError) as exc:
                    for row in item.rows:
                        unplannable[row.index] = f"its audio cannot be read for v1: {exc}"
                    continue
                units += [replace(unit(kind, [item], f"{config}{salt}", part=_part(n, window)), models=("audio",))
                          for n, window in enumerate(windows)]
        return Plan(jobs=units, unplannable=unplannable, config_key=f"{config}{salt}")

    def request(self, unit: Unit) -> dict[str, Any]:
        """The unit's inputs, its window (index and span on the recording's clock) and v1's config."""
        index, start_ms, end_ms = _window(unit.part)
        return {**super().request(unit), "window": {"index": index, "start_ms": start_ms, "end_ms": end_ms},
                "config": self._config()}

    # -- sending and reading -------------------------------------------------------------------
    def send(self, unit: Unit, *, models: Mapping[str, Any], transcription: Any) -> bytes:
        """Convert the unit's window to 16 kHz mono s16 WAV and upload it."""
        _, start_ms, end_ms = _window(unit.part)
        audio = wav_bytes(read_window(unit.inputs[0].value, start_ms, end_ms))
        return self.client.measure_audio(audio, config=self._config() or None, on_lost=self.resent)

    def decode(self, kind: str, answer: bytes, *, request: Mapping[str, Any]) -> Decoded:
        """A window's ``AudioFileResponse`` on the recording's clock."""
        files = request.get("files") or [{}]
        return decoding.decode(kind, answer, request=request, input_key=str(files[0].get("filename") or ""))

    def remote_id(self, answer: bytes) -> str | None:
        """The ``run_id`` the request became (find it with the runs endpoint: ``V1Client.get_run``)."""
        try:
            run_id = orjson.loads(answer).get("run_id")
        except (orjson.JSONDecodeError, AttributeError):
            return None
        return run_id if isinstance(run_id, str) and run_id else None

    def billed_seconds(self, request: Mapping[str, Any], answer: bytes | None) -> float | None:
        """A window's audio seconds (as the answer received them, else as planned) or 1/3 s per image, at
        least the 10 s every run is billed."""
        seconds: float
        if "window" in request:
            window = request["window"]
            seconds = (window["end_ms"] - window["start_ms"]) / 1000
            if answer is not None:
                received = orjson.loads(answer).get("received") or {}
                seconds = received.get("audio_duration_ms", seconds * 1000) / 1000
        elif "frames" in request:
            seconds = len(request["frames"]) * self.limits.seconds_per_image
        else:
            return None
        return max(seconds, self.limits.billing_min_seconds)

    def _config(self) -> dict[str, Any]:
        return {} if self.measurement_timer_ms is None else {"measurement_timer_ms": self.measurement_timer_ms}


_NOT_A_FILE = {
    "text": "Hume's v1 API has no language model, so it cannot measure a raw text; read archived v0 language "
            "results (humekit.read_predictions) or measure with api='v0' at a compatible endpoint",
    "url": "v1 takes uploads only: download the file and give its local path (humekit does not fetch URLs for v1 "
           "in this release)",
}


def _part(index: int, window: Window) -> str:
    """A window as a unit's part: ``audio:<index>:<start_ms>-<end_ms>``."""
    return f"audio:{index}:{window.start_ms}-{window.end_ms}"


def _window(part: str) -> tuple[int, int, int]:
    """The (index, start_ms, end_ms) a unit's part names."""
    _, index, span = part.split(":")
    start, end = span.split("-")
    return int(index), int(start), int(end)
