"""What the v1 emulator hears in an audio upload: the strict format checks, utterances, windows.

- **Format** (hume-v1-backend.md §2.5, §7.2): compressed containers and non-WAVE RIFF files are
  ``unsupported_media_type``; a WAV must be plain PCM (format tag 1, not ``WAVE_FORMAT_EXTENSIBLE``),
  16 kHz, mono, 16-bit, with a whole ``data`` chunk, else ``audio_decode_failed``; anything else is
  read as headerless s16le samples (empty or odd-length: ``audio_decode_failed``).
- **Utterances** come from the samples' own energy (the v0 emulator's energy VAD, its noise floor
  taken at the 1st percentile so a file that is mostly speech still shows its pauses), in whole ms.
- **Measurements** follow the SDK's schedule: every ``measurement_timer_ms`` of speech an
  ``interval`` measurement over the utterance's last <= 10 s; when speech stops a ``speech_ended``
  one unless the previous ended < 1 s earlier; at least one per utterance. The timer restarts in
  each utterance (**UNCONFIRMED**; the SDK's worked example is consistent with it).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

import numpy as np

from humekit.emulator.timeline import speech_segments
from humekit.emulator.v1.errors import V1Error

__all__ = ["SAMPLE_RATE", "Measurement", "Utterance", "decode_upload", "measurements", "utterances"]

SAMPLE_RATE = 16_000
WINDOW_MS = 10_000
SPEECH_ENDED_GAP_MS = 1_000

# Magic numbers of the compressed formats the server names (MP3, FLAC, Ogg, MP4/M4A).
_COMPRESSED: tuple[tuple[int, bytes, str], ...] = (
    (0, b"ID3", "MP3"),
    (0, b"fLaC", "FLAC"),
    (0, b"OggS", "Ogg"),
    (4, b"ftyp", "MP4/M4A"),
)


def decode_upload(data: bytes) -> np.ndarray:
    """The upload's samples as int16, or :class:`V1Error` as v1 would refuse it."""
    kind = _compressed_kind(data)
    if kind is not None:
        raise V1Error(
            "unsupported_media_type",
            f"the file is {kind}; the audio endpoint takes 16 kHz mono 16-bit PCM, as a WAV file or headerless "
            "samples: convert it first",
        )
    if data[:4] == b"RIFF":
        if data[8:12] != b"WAVE":
            raise V1Error("unsupported_media_type", "the file is a RIFF file but not a WAV file")
        data = _wav_data(data)
    elif not data or len(data) % 2:
        raise V1Error(
            "audio_decode_failed",
            "the audio is empty" if not data else
            f"headerless audio must be 16-bit samples, an even number of bytes; got {len(data):,}",
        )
    return np.frombuffer(data, dtype="<i2")


def _compressed_kind(data: bytes) -> str | None:
    if _mpeg_frames_at_start(data):
        return "MP3"
    for offset, magic, kind in _COMPRESSED:
        if data[offset : offset + len(magic)] == magic:
            return kind
    return None


_MPEG1_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MPEG2_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_frames_at_start(data: bytes) -> bool:
    """Whether ``data`` opens with two consecutive MPEG Layer III frame headers (an MP3 without ID3).

    One sync word is not enough: headerless samples often start with ``FF FF`` (sample -1).
    """
    first = _layer3_frame_length(data, 0)
    return first is not None and _layer3_frame_length(data, first) is not None


def _layer3_frame_length(data: bytes, at: int) -> int | None:
    if len(data) < at + 4 or data[at] != 0xFF or data[at + 1] & 0xE0 != 0xE0:
        return None
    version, layer = (data[at + 1] >> 3) & 3, (data[at + 1] >> 1) & 3
    bitrate, rate, padding = data[at + 2] >> 4, (data[at + 2] >> 2) & 3, (data[at + 2] >> 1) & 1
    if version == 1 or layer != 1 or bitrate in (0, 15) or rate == 3:
        return None
    kbps = (_MPEG1_KBPS if version == 3 else _MPEG2_KBPS)[bitrate]
    samples_per_byte = 144 if version == 3 else 72
    return samples_per_byte * kbps * 1000 // _RATES[version][rate] + padding


def _wav_data(data: bytes) -> bytes:
    fmt: tuple[int, int, int, int] | None = None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = struct.unpack_from("<4sI", data, pos)
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            if len(body) < 16:
                raise V1Error("audio_decode_failed", "the WAV file's fmt chunk is truncated")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            if fmt is None:
                raise V1Error("audio_decode_failed", "the WAV file has its data chunk before its fmt chunk")
            _check_format(*fmt)
            if len(body) < size:
                raise V1Error(
                    "audio_decode_failed",
                    f"the WAV file is truncated: its data chunk declares {size:,} bytes, {len(body):,} are present",
                )
            if not body or len(body) % 2:
                raise V1Error("audio_decode_failed", "the WAV file's data chunk is empty or holds a partial sample")
            return body
        pos += 8 + size + (size & 1)
    raise V1Error("audio_decode_failed", "the WAV file is malformed: no fmt and data chunks were found")


def _check_format(tag: int, channels: int, rate: int, bits: int) -> None:
    if tag == 0xFFFE:
        raise V1Error(
            "audio_decode_failed",
            "the WAV file uses the extensible header (WAVE_FORMAT_EXTENSIBLE); write a plain PCM header (format 1)",
        )
    if (tag, channels, rate, bits) != (1, 1, SAMPLE_RATE, 16):
        raise V1Error(
            "audio_decode_failed",
            f"the WAV file is format {tag}, {channels} channel(s), {rate} Hz, {bits}-bit; the server does not "
            "convert audio: send 16-bit PCM (format 1), 1 channel, 16000 Hz",
        )


@dataclass(frozen=True, slots=True)
class Utterance:
    """One stretch of speech, in ms from the start of the upload."""

    utterance_id: int
    audio_start_ms: int
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measurement window of an utterance."""

    measurement_id: int
    utterance_id: int
    audio_start_ms: int
    audio_end_ms: int
    trigger: Literal["interval", "speech_ended"]


def utterances(samples: np.ndarray) -> list[Utterance]:
    """The speech the energy VAD finds in ``samples`` (int16 at 16 kHz), numbered from 0."""
    spans = speech_segments(samples.astype(np.float32) / 32768.0, SAMPLE_RATE, floor_percentile=1.0)
    found = [(round(begin * 1000), round(end * 1000)) for begin, end in spans]
    return [Utterance(i, begin, end) for i, (begin, end) in enumerate((b, e) for b, e in found if e > b)]


def measurements(found: list[Utterance], *, timer_ms: int) -> list[Measurement]:
    """Every measurement of ``found`` at ``measurement_timer_ms=timer_ms``, numbered from 0 across the run."""
    out: list[Measurement] = []

    def take(utterance: Utterance, end: int, trigger: Literal["interval", "speech_ended"]) -> None:
        start = max(utterance.audio_start_ms, end - WINDOW_MS)
        out.append(Measurement(len(out), utterance.utterance_id, start, end, trigger))

    for utterance in found:
        last_end: int | None = None
        at = utterance.audio_start_ms + timer_ms
        while at <= utterance.audio_end_ms:
            take(utterance, at, "interval")
            last_end, at = at, at + timer_ms
        if last_end is None or utterance.audio_end_ms - last_end >= SPEECH_ENDED_GAP_MS:
            take(utterance, utterance.audio_end_ms, "speech_ended")
    return out
