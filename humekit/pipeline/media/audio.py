"""Compressed audio (MP3, AAC, FLAC, Ogg) told by its signature, its length read by mutagen's header parsers."""

from __future__ import annotations

import importlib
from typing import BinaryIO

from humekit.pipeline.media.info import MediaInfo

__all__ = ["mutagen_length", "probe_audio"]

_MUTAGEN_CLASSES = {
    "mp3": ("mutagen.mp3", "MP3"),
    "mp4": ("mutagen.mp4", "MP4"),
    "flac": ("mutagen.flac", "FLAC"),
    "aac": ("mutagen.aac", "AAC"),
}


def probe_audio(f: BinaryIO, head: bytes) -> MediaInfo | None:
    """MP3 (with or without ID3), FLAC, Ogg (video when it carries Theora) or ADTS AAC; ``None`` for none of them."""
    if head[:3] == b"ID3":  # an ID3v2 tag may front MP3 (usual) or FLAC (rare)
        skip = 10 + _syncsafe(head[6:10]) + (10 if head[5] & 0x10 else 0)
        f.seek(skip)
        after = f.read(4)
        if after[:4] == b"fLaC":
            return _probe_mutagen(f, "audio", "audio/flac", "flac")
        return _probe_mutagen(f, "audio", "audio/mpeg", "mp3")
    if head[:4] == b"fLaC":
        return _probe_mutagen(f, "audio", "audio/flac", "flac")
    if head[:4] == b"OggS":
        kind, mime = ("video", "video/ogg") if b"\x80theora" in head[:512] else ("audio", "audio/ogg")
        return _probe_mutagen(f, kind, mime, "ogg")
    if _is_mpeg_audio_frame(head):
        return _probe_mutagen(f, "audio", "audio/mpeg", "mp3")
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return _probe_mutagen(f, "audio", "audio/aac", "aac")
    return None


def mutagen_length(f: BinaryIO, fmt: str) -> float | None:
    """Stream length from mutagen's header parsers (``fmt``: mp3, mp4, flac, aac, ogg); ``None`` if unreadable."""
    import mutagen  # imported here: probing images and WAVs should not pay for it

    f.seek(0)
    try:
        if fmt == "ogg":  # Vorbis, Opus, Speex, Theora…: let mutagen pick the codec
            parsed = mutagen.File(f)
        else:
            module_name, class_name = _MUTAGEN_CLASSES[fmt]
            parsed = getattr(importlib.import_module(module_name), class_name)(f)
        length = parsed.info.length if parsed is not None else None
    except Exception:  # mutagen raises many error types for bad content; none must escape
        return None
    return float(length) if length and length > 0 else None


def _probe_mutagen(f: BinaryIO, kind: str, mime: str, fmt: str) -> MediaInfo:
    return MediaInfo(kind, mime, mutagen_length(f, fmt))


def _is_mpeg_audio_frame(head: bytes) -> bool:
    if len(head) < 3 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return False
    layer = (head[1] >> 1) & 0x3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0x3
    return layer != 0 and bitrate not in (0, 0xF) and rate != 3


def _syncsafe(raw: bytes) -> int:
    return (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]
