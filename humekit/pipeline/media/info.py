"""What a media file is, as far as its headers tell: the record every prober returns."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MediaInfo"]


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What a media file is, as far as its headers tell."""

    kind: str
    r"""One of ``"audio"``, ``"video"``, ``"image"``, ``"text"``, ``"archive"``, ``"unknown"``."""
    media_type: str | None
    r"""MIME type, e.g. ``"audio/wav"``, ``"video/mp4"``, ``"image/png"``."""
    duration: float | None
    r"""Seconds of audio/video when the header tells it, else ``None``."""
    width: int | None = None
    r"""Pixels, for images (and video when the container states it)."""
    height: int | None = None
    r"""Pixels, for images (and video when the container states it)."""
    has_audio: bool | None = None
    r"""For video: whether it has an audio track (``None`` when unknown)."""
    frame_rate: float | None = None
    r"""For video: frames per second as the container states it (MP4 sample table, WebM track
    default duration, AVI main header), e.g. ``30000 / 1001``; ``None`` when unknown."""
