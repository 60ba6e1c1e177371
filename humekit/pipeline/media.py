"""Sniff and measure media files from their headers, without decoding them.

:func:`probe` tells what a file *is* from its content (magic bytes) first and from its name
second, so a WAV saved as ``clip.mp3`` is reported as ``audio/wav``. It reads headers only:
RIFF chunks for WAV, MP4 boxes, EBML elements for WebM/Matroska, mutagen for the other audio
containers and Pillow (lazily, never decoding pixels) for images. Bad content never raises:
a corrupt or truncated file keeps its kind with ``duration=None``, or comes back as
``"unknown"``. Only an ``OSError`` from opening or reading a path propagates, so callers can
report the missing file themselves.
"""

from __future__ import annotations

import bz2
import importlib
import io
import lzma
import mimetypes
import os
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["MediaInfo", "WavFormat", "parse_wav", "probe"]

_HEAD = 64 * 1024  # bytes read for sniffing; every format below is decided within them
_MAX_MOOV = 64 * 1024 * 1024  # an MP4 'moov' box beyond this is not read (durations then None)

# Extension fallbacks mimetypes lacks or spells in a way Hume's docs do not.
_EXTRA_TYPES = {".wav": "audio/wav", ".m4a": "audio/mp4", ".opus": "audio/ogg", ".mkv": "video/x-matroska"}


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


@dataclass(frozen=True, slots=True)
class WavFormat:
    """The parts of a WAV header needed to read its samples."""

    format_tag: int  # 1 = PCM, 3 = IEEE float (WAVE_FORMAT_EXTENSIBLE resolved to its subformat)
    channels: int
    sample_rate: int
    bits: int
    block_align: int
    data_offset: int
    data_size: int  # bytes actually present (a truncated file's header may claim more)

    @property
    def duration(self) -> float:
        """Seconds of audio in the data chunk."""
        return (self.data_size // self.block_align) / self.sample_rate


def probe(source: str | os.PathLike[str] | bytes, *, filename: str | None = None) -> MediaInfo:
    """Tell a media file's kind, MIME type, duration and size from its headers.

    Args:
        source: A path or the file's bytes.
        filename: The name to fall back on when the content is not recognised (defaults to
            the path's name). Content always wins over the name.

    Returns:
        A :class:`MediaInfo`; ``kind="unknown"`` when neither content nor name is recognised.

    Raises:
        OSError: ``source`` is a path that cannot be opened or read.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return _probe_stream(io.BytesIO(bytes(source)), filename)
    name = filename if filename is not None else os.fspath(source)
    with open(source, "rb") as f:
        return _probe_stream(f, name)


def parse_wav(f: BinaryIO) -> WavFormat | None:
    """Read a RIFF/WAVE header, including WAVE_FORMAT_EXTENSIBLE and float formats.

    The stdlib ``wave`` module of Python 3.11 rejects both (``unknown format: 65534``/``3``),
    so the chunks are walked here; only the fields ``wave`` itself reads are used.

    Args:
        f: A seekable binary file positioned anywhere.

    Returns:
        The format, or ``None`` when the header is not a readable WAV.
    """
    f.seek(0, io.SEEK_END)
    size = f.tell()
    f.seek(0)
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    fmt: tuple[int, int, int, int, int] | None = None
    pos = 12
    while pos + 8 <= size:
        f.seek(pos)
        cid, csize = struct.unpack("<4sI", f.read(8))
        if cid == b"fmt " and csize >= 16:
            raw = f.read(min(csize, 40))
            if len(raw) < 16:
                return None
            tag, channels, rate, _, align, bits = struct.unpack("<HHIIHH", raw[:16])
            if tag == 0xFFFE and len(raw) >= 26:  # EXTENSIBLE: the real tag opens the SubFormat GUID
                tag = struct.unpack("<H", raw[24:26])[0]
            fmt = (tag, channels, rate, align, bits)
        elif cid == b"data" and fmt is not None:
            tag, channels, rate, align, bits = fmt
            if channels < 1 or rate < 1 or align < 1:
                return None
            available = min(csize, size - pos - 8)
            return WavFormat(tag, channels, rate, bits, align, pos + 8, max(available, 0))
        pos += 8 + csize + (csize & 1)  # chunks are word-aligned
    return None


def _probe_stream(f: BinaryIO, name: str | None) -> MediaInfo:
    head = f.read(_HEAD)
    try:
        info = _sniff(f, head)
    except (ValueError, KeyError, IndexError, struct.error, EOFError, zlib.error, lzma.LZMAError):
        info = None  # a header that starts right but breaks later: fall back to the name
    if info is not None:
        return info
    if _looks_like_text(head):
        guessed = _guess_type(name)
        text_type = guessed if guessed and (guessed.startswith("text/") or guessed.endswith("json")) else None
        return MediaInfo("text", text_type or "text/plain", None)
    return _from_name(name)


def _sniff(f: BinaryIO, head: bytes) -> MediaInfo | None:
    """Decide the type from magic bytes; ``None`` when no signature matches."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        wav = parse_wav(f)
        return MediaInfo("audio", "audio/wav", wav.duration if wav else None)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return _probe_avi(head)
    if head[4:8] == b"ftyp":
        return _probe_mp4(f, head)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _probe_ebml(head)
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
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return MediaInfo("archive", "application/zip", None)
    for magic, mime, opener in _COMPRESSED:
        if head.startswith(magic):
            inner = opener(head)
            return MediaInfo("archive" if _is_tar(inner) else "unknown", mime, None)
    if _is_tar(head):
        return MediaInfo("archive", "application/x-tar", None)
    if head[:5] == b"%PDF-":
        return MediaInfo("unknown", "application/pdf", None)
    return _probe_image(f)


def _probe_mp4(f: BinaryIO, head: bytes) -> MediaInfo:
    """ISO-BMFF: tracks decide audio vs video (an .mp4 with only sound is audio/mp4)."""
    brand = head[8:12]
    try:
        tracks, duration, width, height, rate = _mp4_tracks(f)
    except (struct.error, IndexError, ValueError):  # truncated boxes: still an MP4, size unknown
        tracks, duration, width, height, rate = [], None, None, None, None
    if brand in (b"heic", b"heix", b"mif1", b"avif"):
        return _probe_image(f) or MediaInfo("image", "image/heic", None)
    mutagen_duration = _mutagen_length(f, "mp4")
    duration = mutagen_duration if mutagen_duration is not None else duration
    has_video, has_audio = b"vide" in tracks, b"soun" in tracks
    if brand.startswith(b"M4A") or brand.startswith(b"M4B") or (has_audio and not has_video):
        return MediaInfo("audio", "audio/mp4", duration, has_audio=True)
    mime = "video/quicktime" if brand == b"qt  " else "video/3gpp" if brand.startswith(b"3g") else "video/mp4"
    return MediaInfo("video", mime, duration, width, height, has_audio if tracks else None, rate)


def _mp4_tracks(f: BinaryIO) -> tuple[list[bytes], float | None, int | None, int | None, float | None]:
    """Handler types of each track, the movie duration (mvhd), the video track size (tkhd) and
    frame rate (its samples per second: stts sample count over the summed sample deltas)."""
    moov = _find_top_box(f, b"moov")
    if moov is None:
        return [], None, None, None, None
    tracks: list[bytes] = []
    duration = width = height = rate = None
    for btype, body in _boxes(moov):
        if btype == b"mvhd":
            if body[0] == 1:
                scale, length = struct.unpack(">IQ", body[20:32])
            else:
                scale, length = struct.unpack(">II", body[12:20])
            duration = length / scale if scale else None
        elif btype == b"trak":
            kids = dict(_boxes(body))
            mdia = dict(_boxes(kids.get(b"mdia", b"")))
            handler = mdia.get(b"hdlr", b"")[8:12]
            tracks.append(handler)
            tkhd = kids.get(b"tkhd", b"")
            if handler == b"vide" and len(tkhd) >= 8:
                w, h = struct.unpack(">II", tkhd[-8:])
                width, height = (w >> 16) or None, (h >> 16) or None
            if handler == b"vide" and rate is None:
                rate = _mp4_frame_rate(mdia)
    return tracks, duration, width, height, rate


def _mp4_frame_rate(mdia: dict[bytes, bytes]) -> float | None:
    """Frames per second of a video track: samples (frames) per second of media time (mdhd scale)."""
    mdhd = mdia.get(b"mdhd", b"")
    if len(mdhd) < 20:
        return None
    scale = struct.unpack(">I", mdhd[20:24] if mdhd[0] == 1 else mdhd[12:16])[0]
    stbl = dict(_boxes(dict(_boxes(mdia.get(b"minf", b""))).get(b"stbl", b"")))
    stts = stbl.get(b"stts", b"")
    if len(stts) < 8 or not scale:
        return None
    count = struct.unpack(">I", stts[4:8])[0]
    entries = [struct.unpack(">II", stts[8 + 8 * i : 16 + 8 * i]) for i in range(min(count, (len(stts) - 8) // 8))]
    frames, ticks = sum(n for n, _ in entries), sum(n * d for n, d in entries)
    return frames * scale / ticks if frames and ticks else None


def _find_top_box(f: BinaryIO, wanted: bytes) -> bytes | None:
    """Seek box by box through the file (moov may sit after a huge mdat) and read one box."""
    f.seek(0, io.SEEK_END)
    end = f.tell()
    pos = 0
    while pos + 8 <= end:
        f.seek(pos)
        size, btype = struct.unpack(">I4s", f.read(8))
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", f.read(8))[0], 16
        elif size == 0:
            size = end - pos
        if size < header:
            return None
        if btype == wanted:
            return f.read(min(size - header, _MAX_MOOV)) if size - header <= _MAX_MOOV else None
        pos += size
    return None


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """The child boxes of an in-memory box body, as (type, body) pairs."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        size, btype = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
        elif size == 0:
            size = len(data) - pos
        if size < header:
            break
        out.append((btype, data[pos + header : pos + size]))
        pos += size
    return out


# --- Matroska / WebM: just enough EBML to read the Info and Tracks at the file's start ------
_EBML_MASTERS = {0x18538067, 0x1549A966, 0x1654AE6B, 0xE0, 0x1A45DFA3}
_CLUSTER = 0x1F43B675
_TRACK_ENTRY, _TRACK_TYPE, _DEFAULT_DURATION = 0xAE, 0x83, 0x23E383
_VIDEO_FRAME_NS = -1  # key in ``found``: the video track's DefaultDuration (ns per frame)


def _probe_ebml(head: bytes) -> MediaInfo:
    found: dict[int, bytes] = {}
    track_types: list[int] = []
    try:
        _ebml_walk(head, 0, len(head), found, track_types)
    except (IndexError, ValueError):
        pass  # truncated or damaged: keep whatever elements were read before the damage
    doctype = found.get(0x4282, b"").rstrip(b"\0")
    mime = "video/webm" if doctype == b"webm" else "video/x-matroska"
    duration = None
    if 0x4489 in found:
        raw = found[0x4489]
        value = struct.unpack(">f" if len(raw) == 4 else ">d", raw)[0]
        scale = int.from_bytes(found.get(0x2AD7B1, b"\x0f\x42\x40"), "big")  # default 1 ms
        duration = value * scale / 1e9
    width = int.from_bytes(found[0xB0], "big") if 0xB0 in found else None
    height = int.from_bytes(found[0xBA], "big") if 0xBA in found else None
    frame_ns = int.from_bytes(found[_VIDEO_FRAME_NS], "big") if _VIDEO_FRAME_NS in found else 0
    if track_types and 1 not in track_types:
        return MediaInfo("audio", "audio/webm" if doctype == b"webm" else "audio/x-matroska", duration)
    has_audio = (2 in track_types) if track_types else None
    return MediaInfo("video", mime, duration, width, height, has_audio, 1e9 / frame_ns if frame_ns else None)


def _ebml_walk(buf: bytes, pos: int, end: int, found: dict[int, bytes], track_types: list[int]) -> None:
    while pos < end:
        eid, n = _vint(buf, pos, keep_marker=True)
        size, m = _vint(buf, pos + n, keep_marker=False)
        start = pos + n + m
        if eid == _CLUSTER:
            return  # media data from here on; everything we need precedes it
        stop = min(end, start + size) if size >= 0 else end
        if eid == _TRACK_ENTRY:  # one track: its DefaultDuration is a frame's length if it is video
            entry: dict[int, bytes] = {}
            kinds: list[int] = []
            _ebml_walk(buf, start, stop, entry, kinds)
            track_types.extend(kinds)
            if 1 in kinds and _DEFAULT_DURATION in entry:
                found.setdefault(_VIDEO_FRAME_NS, entry[_DEFAULT_DURATION])
            for key, value in entry.items():
                if key != _DEFAULT_DURATION:
                    found.setdefault(key, value)
        elif eid in _EBML_MASTERS:
            _ebml_walk(buf, start, stop, found, track_types)
        elif eid == 0x83:
            track_types.append(int.from_bytes(buf[start:stop], "big"))
        else:
            found.setdefault(eid, buf[start:stop])
        if size < 0:
            return
        pos = start + size


def _vint(buf: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer: (value, length). Unknown sizes come back as -1."""
    first = buf[pos]
    length = 8 - first.bit_length() + 1
    if first == 0 or length > 8:
        raise ValueError("bad EBML vint")
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for b in buf[pos + 1 : pos + length]:
        value = (value << 8) | b
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return -1, length
    return value, length


def _probe_avi(head: bytes) -> MediaInfo:
    """AVI: the main header (``avih``) states the microseconds per frame, frame count and size."""
    at = head.find(b"avih", 12)
    if at < 0 or len(head) < at + 8 + 40:
        return MediaInfo("video", "video/x-msvideo", None)
    usec, _, _, _, frames, _, _, _, width, height = struct.unpack("<10I", head[at + 8 : at + 48])
    rate = 1e6 / usec if usec else None
    duration = frames * usec / 1e6 if usec and frames else None
    return MediaInfo("video", "video/x-msvideo", duration, width or None, height or None, None, rate)


# --- everything else ------------------------------------------------------------------------
_MUTAGEN_CLASSES = {
    "mp3": ("mutagen.mp3", "MP3"),
    "mp4": ("mutagen.mp4", "MP4"),
    "flac": ("mutagen.flac", "FLAC"),
    "aac": ("mutagen.aac", "AAC"),
}


def _probe_mutagen(f: BinaryIO, kind: str, mime: str, fmt: str) -> MediaInfo:
    return MediaInfo(kind, mime, _mutagen_length(f, fmt))


def _mutagen_length(f: BinaryIO, fmt: str) -> float | None:
    """Stream length from mutagen's header parsers; ``None`` if they cannot read it."""
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


def _probe_image(f: BinaryIO) -> MediaInfo | None:
    from PIL import Image  # lazy: Pillow's import is slow and only images need it

    f.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning: we never decode, only read the size
        try:
            with Image.open(f) as img:
                mime = Image.MIME.get(img.format or "", f"image/{(img.format or 'unknown').lower()}")
                return MediaInfo("image", mime, None, img.width, img.height)
        except Image.DecompressionBombError:
            return MediaInfo("image", None, None)
        except Exception:  # Pillow signals "not an image" with several exception types
            return None


def _is_mpeg_audio_frame(head: bytes) -> bool:
    if len(head) < 3 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return False
    layer = (head[1] >> 1) & 0x3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0x3
    return layer != 0 and bitrate not in (0, 0xF) and rate != 3


def _inflate(opener: Callable[[], object]) -> Callable[[bytes], bytes]:
    def run(head: bytes) -> bytes:
        try:
            return opener().decompress(head)[:1024]  # type: ignore[attr-defined]  # a zlib/bz2/lzma decompressor
        except Exception:  # a truncated or corrupt stream: no tar header to be seen
            return b""

    return run


_COMPRESSED: tuple[tuple[bytes, str, Callable[[bytes], bytes]], ...] = (
    (b"\x1f\x8b", "application/gzip", _inflate(lambda: zlib.decompressobj(16 + zlib.MAX_WBITS))),
    (b"BZh", "application/x-bzip2", _inflate(bz2.BZ2Decompressor)),
    (b"\xfd7zXZ\x00", "application/x-xz", _inflate(lzma.LZMADecompressor)),
)


def _is_tar(block: bytes) -> bool:
    return len(block) >= 263 and block[257:262] == b"ustar"


def _syncsafe(raw: bytes) -> int:
    return (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]


def _looks_like_text(head: bytes) -> bool:
    """UTF-8 with almost no control characters; a multibyte char cut at the end is fine."""
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    if not text:
        return False
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r\f")
    return controls <= len(text) // 100


def _guess_type(name: str | None) -> str | None:
    if not name:
        return None
    base = os.path.basename(name).lower()
    ext = os.path.splitext(base)[1]
    return _EXTRA_TYPES.get(ext) or mimetypes.guess_type(base, strict=False)[0]


def _from_name(name: str | None) -> MediaInfo:
    """The last resort: the extension. The content was not recognised, so no duration."""
    mime = _guess_type(name)
    if mime is None:
        return MediaInfo("unknown", None, None)
    base = (name or "").lower()
    if base.endswith((".zip", ".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz")):
        return MediaInfo("archive", mime, None)
    major = mime.split("/")[0]
    kind = major if major in ("audio", "video", "image", "text") else "unknown"
    return MediaInfo(kind, mime, None)
