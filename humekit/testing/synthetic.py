"""Make small, real media files for tests, demos and benchmarks, deterministically per seed.

Every ``make_*`` function returns the file's bytes and also writes them when given a path.

- :func:`make_wav` draws speech-like voiced bursts (a gliding harmonic tone, amplitude-modulated
  at a syllable rate, with breath noise) at the segments you give, near-silence elsewhere.
  Energy-based segmenters, such as the emulator's, find those segments again.
- :func:`make_image` draws a simple cartoon face with Pillow.
- :func:`make_mp3`, :func:`make_mp4` and :func:`make_webm` write valid *containers* with the
  requested duration (and tracks), for probing and for the emulator. The MP3 holds silent frames
  that decoders accept; the MP4 and WebM hold no media frames at all.
- :func:`make_zip` and :func:`make_tar` pack members into the archives Hume accepts.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import struct
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = [
    "draw_face",
    "make_image",
    "make_mp3",
    "make_mp4",
    "make_tar",
    "make_wav",
    "make_webm",
    "make_zip",
    "random_segments",
    "voiced_burst",
]

PathLike = str | os.PathLike[str] | None


def _emit(path: PathLike, data: bytes) -> bytes:
    if path is not None:
        with open(path, "wb") as f:
            f.write(data)
    return data


def random_segments(duration: float, *, seed: int = 0, min_len: float = 0.6, max_len: float = 3.0,
                    min_gap: float = 0.5, max_gap: float = 1.5) -> list[tuple[float, float]]:
    """Speech-like (begin, end) segments inside ``[0, duration]``, separated by clear gaps.

    Args:
        duration: Length of the recording in seconds.
        seed: Seed; the same seed gives the same segments.
        min_len: Shortest segment.
        max_len: Longest segment.
        min_gap: Shortest pause (keep it above 0.3 s so segmenters do not merge neighbours).
        max_gap: Longest pause.

    Returns:
        Sorted, non-overlapping segments rounded to milliseconds.
    """
    rng = np.random.default_rng(seed)
    out: list[tuple[float, float]] = []
    t = float(rng.uniform(0.2, max_gap))
    while True:
        end = t + float(rng.uniform(min_len, max_len))
        if end > duration - 0.1:
            break
        out.append((round(t, 3), round(end, 3)))
        t = end + float(rng.uniform(min_gap, max_gap))
    return out


def make_wav(path: PathLike = None, *, segments: Sequence[tuple[float, float]] | None = None,
             duration: float | None = None, sample_rate: int = 16000, seed: int = 0,
             channels: int = 1, encoding: str = "pcm16") -> bytes:
    """Write a WAV with voiced, speech-like bursts at ``segments`` and near-silence elsewhere.

    Args:
        path: Where to write the file, or ``None`` to only return the bytes.
        segments: (begin, end) seconds of each burst; ``None`` draws :func:`random_segments`.
        duration: Length in seconds; defaults to 0.5 s after the last segment (or 5 s).
        sample_rate: Samples per second.
        seed: Seed for pitch, modulation and noise.
        channels: 1 (mono, the default) or more; every channel carries the same signal.
        encoding: ``"pcm16"`` (plain PCM) or ``"float32"`` (WAVE_FORMAT_EXTENSIBLE with an
            IEEE-float subformat, which Python 3.11's ``wave`` cannot read).

    Returns:
        The WAV file's bytes.
    """
    if segments is None:
        segments = random_segments(duration or 10.0, seed=seed)
    if duration is None:
        duration = max((end for _, end in segments), default=4.5) + 0.5
    rng = np.random.default_rng(seed)
    n = int(round(duration * sample_rate))
    # A noise floor ~70 dB under the bursts: "silence" that is not digital zero, like a room.
    signal = rng.normal(0.0, 3e-4, n)
    for begin, end in segments:
        i, j = max(0, int(begin * sample_rate)), min(n, int(end * sample_rate))
        if j > i:
            signal[i:j] += voiced_burst(j - i, sample_rate, rng)
    return _emit(path, _wav_bytes(signal, sample_rate, channels, encoding))


def voiced_burst(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One voiced burst: gliding f0 with 8 harmonics, ~4 Hz syllable envelope, breath noise."""
    t = np.arange(n) / sr
    f0 = rng.uniform(100, 220) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    tone = sum(np.sin(k * phase) / k for k in range(1, 9))
    syllables = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(3, 5) * t + rng.uniform(0, np.pi)) ** 2
    ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.015)  # 15 ms fades: no clicks
    voiced = 0.12 * tone * syllables * ramp
    return voiced + rng.normal(0.0, 0.01, n) * ramp


def _wav_bytes(signal: np.ndarray, sr: int, channels: int, encoding: str) -> bytes:
    frames = np.repeat(np.clip(signal, -1.0, 1.0)[:, None], channels, axis=1)
    if encoding == "pcm16":
        data = (frames * 32767).astype("<i2").tobytes()
        fmt = struct.pack("<HHIIHH", 1, channels, sr, sr * 2 * channels, 2 * channels, 16)
    elif encoding == "float32":
        data = frames.astype("<f4").tobytes()
        float_guid = b"\x03\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, sr, sr * 4 * channels, 4 * channels, 32,
                          22, 32, (1 << channels) - 1) + float_guid
    else:
        raise ValueError(f"encoding must be 'pcm16' or 'float32', not {encoding!r}")
    chunks = _chunk(b"fmt ", fmt) + _chunk(b"data", data)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def make_image(path: PathLike = None, *, width: int = 320, height: int = 400, seed: int = 0,
               format: str = "PNG") -> bytes:
    """Draw a simple cartoon face (head, eyes, brows, mouth) on a plain background (:func:`draw_face`).

    Args:
        path: Where to write the file, or ``None`` to only return the bytes.
        width: Image width in pixels.
        height: Image height in pixels.
        seed: Seed for colours, placement and expression.
        format: Any Pillow format name: ``"PNG"``, ``"JPEG"``, ``"WEBP"``…

    Returns:
        The encoded image.
    """
    buf = io.BytesIO()
    draw_face(width=width, height=height, seed=seed).save(buf, format=format)
    return _emit(path, buf.getvalue())


def draw_face(*, width: int = 320, height: int = 400, seed: int = 0) -> PILImage:
    """The cartoon face of :func:`make_image` as an RGB Pillow image (for makers that go on drawing)."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    bg = tuple(int(c) for c in rng.integers(150, 256, 3))
    img = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(img)
    fw = width * rng.uniform(0.45, 0.6)
    fh = min(height * 0.85, fw * 1.3)
    cx = width / 2 + rng.uniform(-0.05, 0.05) * width
    cy = height / 2 + rng.uniform(-0.05, 0.05) * height
    skin = tuple(int(c) for c in rng.choice([(241, 194, 125), (224, 172, 105), (141, 85, 36), (255, 219, 172)]))
    draw.ellipse([cx - fw / 2, cy - fh / 2, cx + fw / 2, cy + fh / 2], fill=skin, outline=(60, 40, 30), width=2)
    eye_y, eye_dx, eye_r = cy - fh * 0.12, fw * 0.2, max(2.0, fw * 0.06)
    for side in (-1, 1):
        ex = cx + side * eye_dx
        draw.ellipse([ex - eye_r, eye_y - eye_r, ex + eye_r, eye_y + eye_r], fill=(255, 255, 255), outline=(0, 0, 0))
        draw.ellipse([ex - eye_r / 2, eye_y - eye_r / 2, ex + eye_r / 2, eye_y + eye_r / 2], fill=(40, 30, 20))
        tilt = rng.uniform(-0.05, 0.05) * fh * side
        draw.line([ex - eye_r * 1.5, eye_y - eye_r * 2 + tilt, ex + eye_r * 1.5, eye_y - eye_r * 2 - tilt],
                  fill=(50, 30, 20), width=max(1, int(eye_r / 2)))
    mouth_w, mouth_y = fw * 0.35, cy + fh * 0.22
    smile = rng.uniform(-1, 1)  # >0 smiles, <0 frowns
    box = [cx - mouth_w / 2, mouth_y - fh * 0.08, cx + mouth_w / 2, mouth_y + fh * 0.08]
    draw.arc(box, *((20, 160) if smile > 0 else (200, 340)), fill=(120, 20, 30), width=max(1, int(fw * 0.02)))
    return img


def make_mp3(path: PathLike = None, *, duration: float = 5.0) -> bytes:
    """Write an MP3 of silent MPEG-1 Layer III frames (48 kHz, 128 kbit/s CBR, mono).

    All-zero side information decodes to silence, so real decoders accept the file.
    """
    header = bytes([0xFF, 0xFB, 0x94, 0xC0])  # MPEG-1 L3, no CRC, 128 kbit/s, 48 kHz, mono
    frame = header + bytes(384 - 4)  # 144 * 128000 / 48000 = 384 bytes per 1152-sample frame
    return _emit(path, frame * max(1, round(duration * 48000 / 1152)))


def make_mp4(path: PathLike = None, *, duration: float = 5.0, width: int = 640, height: int = 480,
             audio: bool = True, video: bool = True, fps: float | None = None) -> bytes:
    """Write an ISO-BMFF (MP4) container whose headers state ``duration``, size and tracks.

    The tracks carry no samples: enough for probing and the emulator, not for playback.
    ``video=False`` makes an audio-only ``M4A``-style file; ``audio=False`` a silent video.
    ``fps`` gives the video track a sample table (``stts``) of ``duration * fps`` frames at that
    rate, in the track's own time scale (``30000 / 1001`` is NTSC's 29.97 fps).
    """
    scale = 1000
    ticks = int(round(duration * scale))
    mvhd = _full_box(b"mvhd", struct.pack(">IIII", 0, 0, scale, ticks) + struct.pack(">IH", 0x10000, 0x100)
                     + bytes(10) + _MATRIX + bytes(24) + struct.pack(">I", 3))
    traks = b""
    if video:
        traks += _trak(1, b"vide", ticks, scale, width, height, fps=fps, duration=duration)
    if audio:
        traks += _trak(2, b"soun", ticks, scale, 0, 0)
    brand = b"isom" if video else b"M4A "
    ftyp = _box(b"ftyp", brand + struct.pack(">I", 512) + b"isomiso2mp41")
    return _emit(path, ftyp + _box(b"moov", mvhd + traks) + _box(b"mdat", b""))


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _box(btype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + btype + body


def _full_box(btype: bytes, body: bytes, flags: int = 0) -> bytes:
    return _box(btype, struct.pack(">I", flags) + body)


def _trak(track_id: int, handler: bytes, ticks: int, scale: int, width: int, height: int, *,
          fps: float | None = None, duration: float = 0.0) -> bytes:
    volume = 0x100 if handler == b"soun" else 0
    stts = b""
    if fps:
        rate = Fraction(fps).limit_denominator(1001)  # 29.97... -> 30000/1001
        frames = int(round(duration * fps))
        media_scale, media_ticks = rate.numerator, frames * rate.denominator
        stts = _full_box(b"stts", struct.pack(">III", 1, frames, rate.denominator))
    else:
        media_scale, media_ticks = scale, ticks
    tkhd = _full_box(b"tkhd", struct.pack(">IIIII", 0, 0, track_id, 0, ticks) + bytes(8)
                     + struct.pack(">HHHH", 0, 0, volume, 0) + _MATRIX
                     + struct.pack(">II", width << 16, height << 16), flags=3)
    mdhd = _full_box(b"mdhd", struct.pack(">IIIIHH", 0, 0, media_scale, media_ticks, 0x55C4, 0))
    hdlr = _full_box(b"hdlr", bytes(4) + handler + bytes(12) + b"humekit\0")
    minf = _box(b"minf", _box(b"stbl", stts))
    return _box(b"trak", tkhd + _box(b"mdia", mdhd + hdlr + minf))


def make_webm(path: PathLike = None, *, duration: float = 5.0, width: int = 640, height: int = 480,
              audio: bool = True, fps: float | None = None) -> bytes:
    """Write a WebM (Matroska) header: EBML, segment info with duration, and track entries.

    Like :func:`make_mp4`, it holds no media clusters. ``fps`` sets the video track's
    ``DefaultDuration`` (nanoseconds per frame); the audio track always has one (20 ms Opus frames).
    """
    header = _ebml(0x1A45DFA3, _ebml(0x4286, b"\x01") + _ebml(0x42F7, b"\x01") + _ebml(0x4282, b"webm")
                   + _ebml(0x4287, b"\x04") + _ebml(0x4285, b"\x02"))
    info = _ebml(0x1549A966, _ebml(0x2AD7B1, (1_000_000).to_bytes(3, "big"))
                 + _ebml(0x4489, struct.pack(">d", duration * 1000.0)))
    frame = _ebml(0x23E383, int(round(1e9 / fps)).to_bytes(4, "big")) if fps else b""
    video = _ebml(0xAE, _ebml(0xD7, b"\x01") + _ebml(0x83, b"\x01") + _ebml(0x86, b"V_VP8") + frame
                  + _ebml(0xE0, _ebml(0xB0, width.to_bytes(2, "big")) + _ebml(0xBA, height.to_bytes(2, "big"))))
    sound = _ebml(0xAE, _ebml(0xD7, b"\x02") + _ebml(0x83, b"\x02") + _ebml(0x86, b"A_OPUS")
                  + _ebml(0x23E383, (20_000_000).to_bytes(4, "big")))
    tracks = (sound + video) if audio else video  # the audio track first: its frame length is not the video's
    return _emit(path, header + _ebml(0x18538067, info + _ebml(0x1654AE6B, tracks)))


def _ebml(eid: int, payload: bytes) -> bytes:
    # IDs keep their length marker; sizes are written as 8-byte vints (marker 0x01) for simplicity.
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big") + (0x01 << 56 | len(payload)).to_bytes(8, "big") + payload


def make_zip(path: PathLike = None, members: Mapping[str, bytes] | None = None) -> bytes:
    """Pack ``members`` (archive path → bytes) into a ZIP with fixed timestamps."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in (members or {}).items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return _emit(path, buf.getvalue())


def make_tar(path: PathLike = None, members: Mapping[str, bytes] | None = None, *,
             compression: str = "gz") -> bytes:
    """Pack ``members`` into a tar archive, compressed with ``"gz"``, ``"bz2"``, ``"xz"`` or ``""``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in (members or {}).items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1704067200, 0o644
            tf.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    # Compress separately: tarfile's gzip stamps the current time, which breaks determinism.
    packers = {"": lambda b: b, "gz": lambda b: gzip.compress(b, mtime=0), "bz2": bz2.compress, "xz": lzma.compress}
    if compression not in packers:
        raise ValueError(f"compression must be one of {sorted(packers)}, not {compression!r}")
    return _emit(path, packers[compression](raw))
