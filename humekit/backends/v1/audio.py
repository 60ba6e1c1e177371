"""Any audio a researcher has, as the 16 kHz mono s16le PCM v1 reads, decoded and resampled in a stream by PyAV.

PyAV's wheels bundle FFmpeg's libraries, so WAV (any rate, width, channels), MP3, M4A/AAC, FLAC, Ogg/Opus
and the audio track of MP4/MOV/WebM all decode with no system ffmpeg. Nothing here holds a whole decoded
recording: :func:`pcm_chunks` yields a few kilobytes at a time and :func:`read_window` holds one window
(at most one request's worth, 25 MB).

**The recording's clock.** Sample ``i`` of the PCM is at ``i / 16`` ms from the container's start
(FFmpeg's ``start_time``, the earliest stream's first timestamp), so a video's audio and its frames
(:mod:`humekit.backends.v1.frames`) share one clock (:mod:`humekit.backends.v1.container`). Audio that starts after the container does is
preceded by silence; an encoder's priming (MP3's 1105 samples, AAC's 1024) is removed by FFmpeg.
A window ``[start_ms, end_ms)`` is exactly ``(end_ms - start_ms) * 16`` samples.

The v1 server takes a 44-byte plain-PCM WAV (``audio/wav``) or headerless samples
(``application/octet-stream``); humekit sends the WAV (:func:`wav_bytes`), which labels itself
(hume-v1-backend.md §5.1.2). It never writes ``WAVE_FORMAT_EXTENSIBLE``, which v1 refuses.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import av
import av.container
import numpy as np
from av.audio.stream import AudioStream

from humekit.backends.v1.container import clock_origin, open_media, undecodable
from humekit.backends.v1.limits import DEFAULT_V1_LIMITS, WAV_HEADER_BYTES
from humekit.errors import MediaDecodeError

__all__ = [
    "SAMPLES_PER_MS",
    "AudioInfo",
    "pcm_chunks",
    "probe_audio",
    "read_window",
    "read_windows",
    "sample_chunks",
    "wav_bytes",
]

SAMPLE_RATE = DEFAULT_V1_LIMITS.sample_rate
SAMPLES_PER_MS = SAMPLE_RATE // 1000
r"""16 samples of 16 kHz audio per millisecond: windows cut at whole ms cut at multiples of 16 samples."""

_SEEK_PREROLL_MS = 1000  # decoded (and discarded) before a window's start: decoders and the resampler settle
_MAX_SHORTFALL_MS = 1000  # a window's end may overrun the decoded audio by this much (padded with silence)

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What a file's audio is, read from its headers (and its packets' timestamps when they say no duration)."""

    path: str
    r"""The file, as given."""
    container: str
    r"""FFmpeg's name for the container, e.g. ``"wav"``, ``"mp3"``, ``"mov,mp4,m4a,3gp,3g2,mj2"``."""
    has_audio: bool
    r"""Whether the file has an audio stream (a silent video has none)."""
    duration: float | None = None
    r"""Seconds of audio; ``None`` when neither the headers nor the packets tell."""
    sample_rate: int | None = None
    r"""The stored audio's rate (Hz), before conversion."""
    channels: int | None = None
    r"""The stored audio's channel count, before conversion."""
    codec: str | None = None
    r"""FFmpeg's decoder name, e.g. ``"pcm_s24le"``, ``"mp3float"``, ``"aac"``, ``"opus"``."""
    has_video: bool = False
    r"""Whether the file also has a video stream (its audio track is what :func:`pcm_chunks` converts)."""

    @property
    def duration_ms(self) -> int | None:
        """:attr:`duration` in whole milliseconds (rounded down), or ``None``."""
        return None if self.duration is None else int(self.duration * 1000)


def probe_audio(path: PathLike) -> AudioInfo:
    """Tell a file's audio stream (duration, rate, channels, codec) without decoding it.

    Reads the container's headers; only when they state no duration does it read the audio packets'
    timestamps (still without decoding). A video's audio track is described the same way.

    Raises:
        OSError: the file cannot be opened (missing, unreadable).
        MediaDecodeError: the file is empty or not media FFmpeg can read.
    """
    with open_media(path) as container:
        stream = _audio_stream(container)
        has_video = bool(container.streams.video)
        if stream is None:
            return AudioInfo(os.fspath(path), container.format.name, False, has_video=has_video)
        return AudioInfo(
            path=os.fspath(path),
            container=container.format.name,
            has_audio=True,
            duration=_duration(container, stream),
            sample_rate=stream.codec_context.sample_rate or None,
            channels=stream.codec_context.channels or None,
            codec=stream.codec_context.name,
            has_video=has_video,
        )


def sample_chunks(path: PathLike, *, start_ms: int = 0, end_ms: int | None = None) -> Iterator[np.ndarray]:
    """The converted audio of ``[start_ms, end_ms)`` as int16 arrays (16 kHz mono), a decoded frame at a time.

    ``end_ms=None`` runs to the end of the audio. When ``end_ms`` is given, exactly
    ``(end_ms - start_ms) * 16`` samples come out: a shortfall of up to 1 s past the decoded end (a header
    that overstates the duration) is padded with silence.

    Raises:
        OSError: the file cannot be opened.
        MediaDecodeError: the file is empty, undecodable, or has no audio stream, or ``end_ms`` lies
            more than 1 s past its audio.
        ValueError: ``start_ms`` is negative or ``end_ms`` is before it.
    """
    if start_ms < 0 or (end_ms is not None and end_ms < start_ms):
        raise ValueError(f"a window must have 0 <= start_ms <= end_ms, not start_ms={start_ms}, end_ms={end_ms}")
    first = start_ms * SAMPLES_PER_MS
    last = None if end_ms is None else end_ms * SAMPLES_PER_MS
    if last == first:
        return
    position = first  # the next sample index to emit
    for at, samples in _decoded(path, seek_ms=start_ms):
        if last is not None and at >= last:
            break
        if at > position:  # audio that starts after the clock does (or a gap in the stream): silence
            gap_end = at if last is None else min(at, last)
            yield from _silence(gap_end - position)
            position = gap_end
        lo, hi = position - at, len(samples) if last is None else min(len(samples), last - at)
        if hi > lo:
            yield samples[lo:hi]
            position = at + hi
        if last is not None and position >= last:
            return
    if last is not None and position < last:
        if last - position > _MAX_SHORTFALL_MS * SAMPLES_PER_MS:
            raise MediaDecodeError(
                f"{os.fspath(path)}: its audio ends at {position // SAMPLES_PER_MS} ms, before the window's end at "
                f"{end_ms} ms; the file may have changed since it was planned or be truncated. Plan its windows "
                "again (a rerun does), or re-export the file.", path=os.fspath(path), reason="shorter than planned")
        yield from _silence(last - position)


def pcm_chunks(path: PathLike, *, start_ms: int = 0, end_ms: int | None = None) -> Iterator[bytes]:
    """The converted audio of ``[start_ms, end_ms)`` as s16le bytes (16 kHz mono), a decoded frame at a time.

    The bytes form of :func:`sample_chunks` (same arguments, same errors); concatenated they are the
    window's PCM, ``(end_ms - start_ms) * 32`` bytes when ``end_ms`` is given.
    """
    for chunk in sample_chunks(path, start_ms=start_ms, end_ms=end_ms):
        yield chunk.astype("<i2", copy=False).tobytes()


def read_window(path: PathLike, start_ms: int, end_ms: int) -> bytes:
    """One window's PCM: exactly ``(end_ms - start_ms) * 32`` bytes of 16 kHz mono s16le.

    Seeks near ``start_ms`` (decoding a second before it, discarded) rather than decoding from the start,
    so a window of a long file costs about its own decode. The seek places the window by the frame
    timestamps the container stores: sample-exact for WAV, FLAC, MP3, MP4/M4A and Ogg as tested, within
    1 ms for Matroska/WebM (whose timestamps are whole milliseconds). :func:`read_windows` reads several
    in one pass, sample-exact for every container.
    """
    return b"".join(pcm_chunks(path, start_ms=start_ms, end_ms=end_ms))


class Span(Protocol):
    """Anything with whole-millisecond ``start_ms`` and ``end_ms`` (a :class:`~humekit.backends.v1.windows.Window`)."""

    @property
    def start_ms(self) -> int: ...
    @property
    def end_ms(self) -> int: ...


def read_windows(path: PathLike, windows: Sequence[Span], *, wav: bool = False) -> Iterator[bytes]:
    """Each window's PCM (as :func:`read_window`), in order, from one sequential decode of the file.

    The windows must be non-empty, in order and must not overlap; gaps between them are decoded and
    skipped. Consecutive windows are sample-exact continuations. ``wav=True`` yields each window as the
    WAV v1 is sent (:func:`wav_bytes`), built in the same buffer. Only the window being filled is held:
    its buffer and the bytes yielded, twice the window's size (46 MB for a 12-minute window).

    Raises:
        ValueError: a window is empty, or the windows are out of order or overlap.
        MediaDecodeError: as :func:`sample_chunks`.
    """
    spans = [(w.start_ms * SAMPLES_PER_MS, w.end_ms * SAMPLES_PER_MS) for w in windows]
    if any(b <= a or a < 0 for a, b in spans):
        raise ValueError(f"every window must have 0 <= start_ms < end_ms; got {[(w.start_ms, w.end_ms) for w in windows]}")
    for (a, b), (c, _) in zip(spans, spans[1:], strict=False):
        if c < b:
            raise ValueError(f"windows must be in order and must not overlap: {a // SAMPLES_PER_MS}-"
                             f"{b // SAMPLES_PER_MS} ms is followed by one starting at {c // SAMPLES_PER_MS} ms")
    if not spans:
        return
    header = WAV_HEADER_BYTES if wav else 0
    position, k = spans[0][0], 0
    buffer, samples, filled = None, None, 0
    for chunk in sample_chunks(path, start_ms=windows[0].start_ms, end_ms=windows[-1].end_ms):
        while k < len(spans) and (len(chunk) or position == spans[k][1]):
            a, b = spans[k]
            if position < a:  # a gap between windows
                skip = min(a - position, len(chunk))
                chunk, position = chunk[skip:], position + skip
                continue
            if buffer is None or samples is None:  # the window starts: one buffer of its exact size
                buffer = np.empty(header + (b - a) * 2, dtype=np.uint8)
                buffer[:header] = np.frombuffer(_wav_header((b - a) * 2)[:header], dtype=np.uint8)
                samples, filled = buffer[header:].view("<i2"), 0
            take = min(b - position, len(chunk))
            samples[filled:filled + take] = chunk[:take]
            filled += take
            chunk, position = chunk[take:], position + take
            if position == b:
                yield buffer.tobytes()
                buffer, samples, k = None, None, k + 1


def wav_bytes(pcm: bytes) -> bytes:
    """``pcm`` (16 kHz mono s16le) behind a 44-byte plain-PCM WAV header (format tag 1): what v1 is sent.

    Raises:
        ValueError: ``pcm`` has an odd length (not whole 16-bit samples).
    """
    if len(pcm) % 2:
        raise ValueError(f"PCM must be whole 16-bit samples; got {len(pcm)} bytes (an odd count)")
    return _wav_header(len(pcm)) + pcm


def _wav_header(data_bytes: int) -> bytes:
    rate, channels, width = SAMPLE_RATE, 1, 2
    header = (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
              + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * width, channels * width, 16)
              + b"data" + struct.pack("<I", data_bytes))
    assert len(header) == WAV_HEADER_BYTES
    return header


# ---------------------------------------------------------------- decoding


def _audio_stream(container: av.container.InputContainer) -> AudioStream | None:
    streams = container.streams.audio
    return streams[0] if streams else None  # FFmpeg's first audio stream: the main one in every common container


def _require_audio(container: av.container.InputContainer, name: str) -> AudioStream:
    stream = _audio_stream(container)
    if stream is None:
        what = "a video with no audio track" if container.streams.video else "a file with no audio stream"
        raise MediaDecodeError(f"{name} is {what}: there is no speech to measure. Measure its faces instead "
                               "(models=['face']), or drop its row.", path=name, reason="no audio stream")
    return stream


def _duration(container: av.container.InputContainer, stream: AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    end = None  # no header says: the last packet's end, from the packets' timestamps (no decoding)
    for packet in container.demux(stream):
        if packet.pts is not None and packet.time_base is not None:
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
    if end is None:
        return None
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0.0
    return max(end - start, 0.0)


def _decoded(path: PathLike, *, seek_ms: int = 0) -> Iterator[tuple[int, np.ndarray]]:
    """(clock sample index, int16 samples) of the 16 kHz mono audio, from about ``seek_ms - 1 s`` onwards.

    The first decoded frame's timestamp places the stream on the clock; from there samples are counted,
    so consecutive pieces are contiguous. A stream whose frames carry no timestamps is decoded from the start.
    """
    name = os.fspath(path)
    with open_media(name) as container:
        stream = _require_audio(container, name)
        origin = clock_origin(container)
        time_base = stream.time_base
        seeking = seek_ms > _SEEK_PREROLL_MS and time_base is not None
        if seeking and time_base is not None:
            target = origin + Fraction(seek_ms - _SEEK_PREROLL_MS, 1000)
            try:
                container.seek(int(target / time_base), stream=stream, backward=True)
            except av.FFmpegError:
                container.seek(0, stream=stream, backward=True)  # not seekable by time: decode from the start
                seeking = False
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        position: int | None = None
        produced = False
        try:
            for frame in container.decode(stream):
                if position is None:
                    if frame.pts is None or frame.time_base is None:
                        if seeking:  # cannot tell where the seek landed: count from the very start
                            yield from _decoded_from_start(name)
                            return
                        position = 0
                    else:
                        position = round((frame.pts * frame.time_base - origin) * SAMPLE_RATE)
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1)
                    if len(samples):
                        produced = True
                        yield position, samples
                        position += len(samples)
            for out in resampler.resample(None):
                samples = out.to_ndarray().reshape(-1)
                if len(samples) and position is not None:
                    produced = True
                    yield position, samples
                    position += len(samples)
        except (av.FFmpegError, ValueError) as e:  # ValueError: PyAV's resampler on a mid-stream format change
            raise undecodable(name, e) from e
        if not produced and not seeking:
            raise MediaDecodeError(f"{name} has an audio stream with no decodable samples: it is empty or "
                                   "damaged. Re-export it, or drop its row.", path=name, reason="empty")


def _decoded_from_start(name: str) -> Iterator[tuple[int, np.ndarray]]:
    return _decoded(name, seek_ms=0)


def _silence(n: int) -> Iterator[np.ndarray]:
    step = 10 * SAMPLE_RATE  # at most 10 s of zeros at a time: flat memory for any gap
    while n > 0:
        yield np.zeros(min(n, step), dtype=np.int16)
        n -= step
