"""Tell what a media file is from its content first and its name second, reading headers only.

:func:`probe` looks at the magic bytes before the name, so a WAV saved as ``clip.mp3`` is
reported as ``audio/wav``. It reads headers only: RIFF chunks for WAV (:mod:`~humekit.pipeline.media.wav`), MP4 boxes, EBML elements for WebM/Matroska
and AVI's main header (:mod:`~humekit.pipeline.media.video`), mutagen for the other audio containers
(:mod:`~humekit.pipeline.media.audio`) and Pillow, never decoding pixels, for images
(:mod:`~humekit.pipeline.media.image`); archives, PDFs and text are told here. Bad content never raises:
a corrupt or truncated file keeps its kind with ``duration=None``, or comes back as
``"unknown"``. Only an ``OSError`` from opening or reading a path propagates, so callers can
report the missing file themselves.
"""

from __future__ import annotations

import bz2
import io
import lzma
import mimetypes
import os
import struct
import zlib
from collections.abc import Callable
from typing import BinaryIO

from humekit.pipeline.media.audio import probe_audio
from humekit.pipeline.media.image import probe_image
from humekit.pipeline.media.info import MediaInfo
from humekit.pipeline.media.video import probe_avi, probe_matroska, probe_mp4
from humekit.pipeline.media.wav import probe_wav

__all__ = ["probe"]

_HEAD = 64 * 1024  # bytes read for sniffing; every format below is decided within them

# Extension fallbacks mimetypes lacks or spells in a way Hume's docs do not.
_EXTRA_TYPES = {".wav": "audio/wav", ".m4a": "audio/mp4", ".opus": "audio/ogg", ".mkv": "video/x-matroska"}


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
        return probe_wav(f)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return probe_avi(head)
    if head[4:8] == b"ftyp":
        return probe_mp4(f, head)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return probe_matroska(head)
    audio = probe_audio(f, head)
    if audio is not None:
        return audio
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
    return probe_image(f)


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
