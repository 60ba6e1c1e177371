"""Helpers for the v1 emulator tests: an httpx client on the in-process transport, uploads, media."""

from __future__ import annotations

import json
from typing import Any

import httpx

from humekit.emulator.v1 import V1Emulator
from humekit.testing.synthetic import make_image, make_wav

AUDIO = "/v1/expression/audio/file"
VIDEO = "/v1/expression/video/file"
RUNS = "/v1/expression/run"


def http(emu: V1Emulator, *, key: str | None = None) -> httpx.Client:
    """An httpx client on the emulator's in-process transport, sending ``key`` (its API key by default)."""
    return httpx.Client(transport=emu.transport(), base_url=emu.url,
                        headers={"X-Hume-Api-Key": key or emu.api_key})


def post_audio(client: httpx.Client, data: bytes, *, config: dict[str, Any] | None = None,
               content_type: str = "audio/wav") -> httpx.Response:
    """POST one audio file part (no filename, as the SDK sends bare bytes) and an optional config part."""
    files: list[tuple[str, tuple[str | None, bytes, str]]] = [("file", (None, data, content_type))]
    if config is not None:
        files.insert(0, ("config", (None, json.dumps(config).encode(), "application/json")))
    return client.post(AUDIO, files=files)


def post_images(client: httpx.Client, images: list[bytes], *, config: dict[str, Any] | None = None) -> httpx.Response:
    """POST one ``file`` part per image and an optional config part."""
    files: list[tuple[str, tuple[str | None, bytes, str]]] = [("file", (None, img, "image/jpeg")) for img in images]
    if config is not None:
        files.insert(0, ("config", (None, json.dumps(config).encode(), "application/json")))
    return client.post(VIDEO, files=files)


def speech(seconds: float = 10.0, *, seed: int = 0) -> bytes:
    """A 16 kHz mono 16-bit WAV with two bursts of speech-like sound."""
    return make_wav(segments=[(0.5, 2.0), (3.0, seconds - 0.5)], duration=seconds, seed=seed)


def jpeg(seed: int = 0, **kwargs: Any) -> bytes:
    """A cartoon face as a JPEG."""
    return make_image(format="JPEG", seed=seed, **kwargs)
