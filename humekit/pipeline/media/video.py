"""Video container headers: MP4/QuickTime boxes, Matroska/WebM elements and AVI's main header.

Each prober reads only headers: the MP4 ``moov`` box (seeking past a huge ``mdat``), the EBML elements
before the first Matroska cluster, the AVI ``avih`` chunk. A container holding only sound comes back as
audio (``audio/mp4``, ``audio/webm``); damage after a good start keeps the kind with fewer details.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

from humekit.pipeline.media.audio import mutagen_length
from humekit.pipeline.media.image import probe_image
from humekit.pipeline.media.info import MediaInfo

__all__ = ["probe_avi", "probe_matroska", "probe_mp4"]

_MAX_MOOV = 64 * 1024 * 1024  # an MP4 'moov' box beyond this is not read (durations then None)


# --- ISO-BMFF (MP4, QuickTime, 3GP; HEIF images share the box format) -------------------------
def probe_mp4(f: BinaryIO, head: bytes) -> MediaInfo:
    """ISO-BMFF: tracks decide audio vs video (an .mp4 with only sound is audio/mp4)."""
    brand = head[8:12]
    try:
        tracks, duration, width, height, rate = _mp4_tracks(f)
    except (struct.error, IndexError, ValueError):  # truncated boxes: still an MP4, size unknown
        tracks, duration, width, height, rate = [], None, None, None, None
    if brand in (b"heic", b"heix", b"mif1", b"avif"):
        return probe_image(f) or MediaInfo("image", "image/heic", None)
    mutagen_duration = mutagen_length(f, "mp4")
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


def probe_matroska(head: bytes) -> MediaInfo:
    """Matroska/WebM: Info and Tracks (read from the file's first bytes) give duration, size, tracks, frame rate."""
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


# --- AVI ------------------------------------------------------------------------------------
def probe_avi(head: bytes) -> MediaInfo:
    """AVI: the main header (``avih``) states the microseconds per frame, frame count and size."""
    at = head.find(b"avih", 12)
    if at < 0 or len(head) < at + 8 + 40:
        return MediaInfo("video", "video/x-msvideo", None)
    usec, _, _, _, frames, _, _, _, width, height = struct.unpack("<10I", head[at + 8 : at + 48])
    rate = 1e6 / usec if usec else None
    duration = frames * usec / 1e6 if usec and frames else None
    return MediaInfo("video", "video/x-msvideo", duration, width or None, height or None, None, rate)
