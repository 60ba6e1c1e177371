"""Real, decodable media encoded with PyAV (MP3, M4A/AAC, FLAC, Ogg/Opus, WAV variants, MP4/MOV/WebM, photos).

:mod:`humekit.testing.synthetic` writes containers whose headers are enough for probing; the files here
hold real encoded audio and video, for the v1 conversion (:mod:`humekit.backends.v1.audio`,
:mod:`~humekit.backends.v1.frames`), its tests and its benchmark. Speech-like bursts are
:func:`~humekit.testing.synthetic.voiced_burst` at the ``segments`` given, over a faint noise floor, so an
energy profile finds the speech and the silences where they were put.

Audio is generated and encoded ten seconds at a time: a two-hour file is written in flat memory.
Every maker writes ``path`` and returns it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.container
import numpy as np
from av.audio.stream import AudioStream
from av.video.stream import VideoStream
from PIL import Image

from humekit.testing.synthetic import draw_face, random_segments, voiced_burst

__all__ = ["AUDIO_FORMATS", "VIDEO_FORMATS", "make_audio", "make_photo", "make_video", "speech_chunks"]

Segments = Sequence[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class _Format:
    container: str
    codec: str
    sample_rate: int
    suffix: str


#: Audio formats :func:`make_audio` writes: name -> FFmpeg muxer, encoder, default rate and file suffix.
AUDIO_FORMATS: dict[str, _Format] = {
    "wav": _Format("wav", "pcm_s16le", 16_000, ".wav"),
    "wav-u8": _Format("wav", "pcm_u8", 8_000, ".wav"),
    "wav-s24": _Format("wav", "pcm_s24le", 48_000, ".wav"),
    "wav-f32": _Format("wav", "pcm_f32le", 22_050, ".wav"),
    "mp3": _Format("mp3", "libmp3lame", 44_100, ".mp3"),
    "m4a": _Format("ipod", "aac", 44_100, ".m4a"),
    "flac": _Format("flac", "flac", 44_100, ".flac"),
    "opus": _Format("ogg", "libopus", 48_000, ".ogg"),
}

#: Video formats :func:`make_video` writes: name -> (muxer, video encoder, audio encoder, suffix).
VIDEO_FORMATS: dict[str, tuple[str, str, str, str]] = {
    "mp4": ("mp4", "libx264", "aac", ".mp4"),
    "mov": ("mov", "libx264", "aac", ".mov"),
    "webm": ("webm", "libvpx", "libopus", ".webm"),
}


def speech_chunks(duration: float, *, segments: Segments | None = None, sample_rate: int = 16_000,
                  seed: int = 0, chunk_seconds: float = 10.0) -> Iterator[np.ndarray]:
    """A speech-like signal (float64 in [-1, 1]) ``chunk_seconds`` at a time: bursts at ``segments``.

    Each burst is drawn from its own seed, so the signal does not depend on the chunk size.
    ``segments=None`` draws :func:`~humekit.testing.synthetic.random_segments`.
    """
    spans = list(random_segments(duration, seed=seed) if segments is None else segments)
    total = int(round(duration * sample_rate))
    step = max(1, int(chunk_seconds * sample_rate))
    noise = np.random.default_rng([seed, 1])
    bursts: dict[int, tuple[int, np.ndarray]] = {}  # segment index -> (first sample, samples): only live ones
    k = 0  # the next segment not yet drawn
    for a in range(0, total, step):
        b = min(total, a + step)
        chunk = noise.normal(0.0, 3e-4, b - a)
        while k < len(spans) and int(spans[k][0] * sample_rate) < b:
            i, j = max(0, int(spans[k][0] * sample_rate)), min(total, int(spans[k][1] * sample_rate))
            if j > i:
                bursts[k] = (i, voiced_burst(j - i, sample_rate, np.random.default_rng([seed, 2, k])))
            k += 1
        for index, (i, burst) in list(bursts.items()):
            lo, hi = max(i, a), min(i + len(burst), b)
            if hi > lo:
                chunk[lo - a:hi - a] += burst[lo - i:hi - i]
            if i + len(burst) <= b:
                del bursts[index]
        yield np.clip(chunk, -1.0, 1.0)


def make_audio(path: str | os.PathLike[str], *, format: str = "wav", duration: float = 3.0,
               segments: Segments | None = None, sample_rate: int | None = None, channels: int = 1,
               seed: int = 0) -> Path:
    """Encode speech-like audio with PyAV in one of :data:`AUDIO_FORMATS` and write it to ``path``.

    Args:
        path: The file to write.
        format: ``"wav"`` (s16), ``"wav-u8"``, ``"wav-s24"``, ``"wav-f32"``, ``"mp3"``, ``"m4a"`` (AAC),
            ``"flac"`` or ``"opus"`` (Ogg).
        duration: Seconds.
        segments: (begin, end) seconds of each burst; ``None`` draws random ones.
        sample_rate: Hz; the format's usual rate by default (Opus is always 48 kHz).
        channels: 1 or 2 (every channel carries the same signal).
        seed: Seed for the signal.
    """
    spec = AUDIO_FORMATS[format]
    rate = sample_rate or spec.sample_rate
    out = Path(path)
    with av.open(str(out), mode="w", format=spec.container) as container:
        stream = _audio_stream(container, spec.codec, rate, channels)
        _encode_audio(container, stream, speech_chunks(duration, segments=segments, sample_rate=rate, seed=seed),
                      rate, channels)
        _flush(container, stream)
    return out


def make_video(path: str | os.PathLike[str], *, format: str = "mp4", duration: float = 3.0, fps: float = 30.0,
               width: int = 320, height: int = 240, audio: bool = True, segments: Segments | None = None,
               sample_rate: int = 48_000, seed: int = 0) -> Path:
    """Encode a video of a moving cartoon face (and, with ``audio=True``, speech-like audio) with PyAV.

    Args:
        path: The file to write.
        format: ``"mp4"`` or ``"mov"`` (H.264 + AAC) or ``"webm"`` (VP8 + Opus).
        duration: Seconds.
        fps: Frames per second of the stored video (``30000 / 1001`` for NTSC's 29.97).
        width: Frame width (even).
        height: Frame height (even).
        audio: Whether to add an audio track.
        segments: The audio's speech bursts; ``None`` draws random ones.
        sample_rate: The audio track's rate (Opus is always 48 kHz).
        seed: Seed for the face and the audio.
    """
    muxer, video_codec, audio_codec, _ = VIDEO_FORMATS[format]
    out = Path(path)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(out), mode="w", format=muxer) as container:
        video = container.add_stream(video_codec, rate=rate)
        assert isinstance(video, VideoStream)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = _audio_stream(container, audio_codec, sample_rate, 1) if audio else None
        face = draw_face(width=width // 2, height=height * 3 // 4, seed=seed)
        n_frames = int(round(duration * fps))
        chunks = speech_chunks(duration, segments=segments, sample_rate=sample_rate, seed=seed, chunk_seconds=0.5)
        audio_pts = 0
        for i in range(n_frames):
            frame = av.VideoFrame.from_image(_face_frame(face, width, height, i / fps))
            frame.pts = i
            frame.time_base = 1 / rate
            container.mux(video.encode(frame))
            while sound is not None and audio_pts < (i + 1) / fps * sample_rate:  # keep the tracks interleaved
                block = next(chunks, None)
                if block is None:
                    break
                audio_pts = _encode_audio(container, sound, iter([block]), sample_rate, 1, start=audio_pts)
        if sound is not None:
            _encode_audio(container, sound, chunks, sample_rate, 1, start=audio_pts)
            _flush(container, sound)
        _flush(container, video)
    return out


def make_photo(path: str | os.PathLike[str] | None = None, *, width: int = 640, height: int = 480,
               format: str = "JPEG", noise: float = 0.0, orientation: int | None = None, alpha: bool = False,
               quality: int = 95, seed: int = 0) -> bytes:
    """A photo-like image of the cartoon face: any size, optional grain, EXIF orientation and alpha.

    Args:
        path: Where to write it, or ``None`` to only return the bytes.
        width: Pixels, as stored.
        height: Pixels, as stored.
        format: A Pillow format name (``"JPEG"``, ``"PNG"``, ``"WEBP"``...).
        noise: Standard deviation of Gaussian grain in 0-255 units: high values make large files.
        orientation: An EXIF orientation tag (1-8) to store; 6 means "rotate 90 degrees clockwise to view".
        alpha: Store an alpha channel (RGBA; PNG and WebP).
        quality: Encoder quality for lossy formats.
        seed: Seed for the face and the grain.
    """
    img = draw_face(width=width, height=height, seed=seed)
    if noise:
        grain = np.random.default_rng(seed).normal(0.0, noise, (height, width, 1))
        img = Image.fromarray(np.clip(np.asarray(img, dtype=np.float64) + grain, 0, 255).astype(np.uint8))
    if alpha:
        img.putalpha(Image.linear_gradient("L").resize(img.size))
    options: dict[str, object] = {"quality": quality} if format.upper() in ("JPEG", "WEBP") else {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    buf = io.BytesIO()
    img.save(buf, format=format, **options)
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


# ---------------------------------------------------------------- encoding


def _audio_stream(container: av.container.OutputContainer, codec: str, rate: int, channels: int) -> AudioStream:
    stream = container.add_stream(codec, rate=rate, layout=_layout(channels))
    assert isinstance(stream, AudioStream)
    return stream


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}[channels]


def _encode_audio(container: av.container.OutputContainer, stream: AudioStream, chunks: Iterator[np.ndarray],
                  rate: int, channels: int, *, start: int = 0) -> int:
    """Encode float chunks (PyAV converts them to the codec's format and frame size); returns the next pts."""
    pts = start
    for chunk in chunks:
        planes = np.ascontiguousarray(np.repeat(chunk[None, :].astype(np.float32), channels, axis=0))
        frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout=_layout(channels))
        frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
        pts += len(chunk)
        container.mux(stream.encode(frame))
    return pts


def _flush(container: av.container.OutputContainer, stream: AudioStream | VideoStream) -> None:
    container.mux(stream.encode(None))


def _face_frame(face: Image.Image, width: int, height: int, t: float) -> Image.Image:
    """One video frame: the face drifting left and right and bobbing on a plain background."""
    canvas = Image.new("RGB", (width, height), (200, 210, 220))
    x = int((width - face.width) * (0.5 + 0.4 * np.sin(2 * np.pi * 0.25 * t)))
    y = int((height - face.height) * (0.5 + 0.3 * np.cos(2 * np.pi * 0.4 * t)))
    canvas.paste(face, (x, y))
    return canvas
