"""The files inside one submitted source, loaded and measured for the emulator's synthesis.

A source is one upload, one URL or all of a job's raw texts. It holds one file, an archive of
files (one prediction per member; hidden files and ``__MACOSX/`` skipped) or N strings (files
``"1"``..``"N"``, listed in a deterministic scrambled order, like the real text sample). Each
file is typed by content (:func:`humekit.pipeline.media.probe`) and its speech timeline measured
(:mod:`humekit.emulator.timeline`); files that cannot be measured raise :class:`FileError`,
which the caller reports under ``results.errors``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import posixpath
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote, urlsplit

from humekit.emulator.scores import rng_for
from humekit.emulator.timeline import (
    Transcript,
    even_segments,
    speech_segments,
    synthetic_transcript,
    wav_samples,
)
from humekit.backends.v0.limits import Limits
from humekit.pipeline.media import MediaInfo, probe

__all__ = ["FileError", "Media", "Source", "source_files"]

_HIDDEN = re.compile(r"(^|/)(\.|__MACOSX/)")


@dataclass(frozen=True, slots=True)
class Source:
    """One submitted source, as the emulator received (and, for URLs, fetched) it."""

    type: str
    r"""``"file"``, ``"url"`` or ``"text"``."""
    filename: str | None = None
    r"""file: the uploaded filename."""
    content_type: str | None = None
    r"""file: the part's Content-Type, if any."""
    md5sum: str | None = None
    r"""file: md5 hex digest of the bytes."""
    url: str | None = None
    r"""url: the submitted URL."""
    data: bytes | None = None
    r"""file bytes, or bytes fetched from the URL."""
    fetch_error: str | None = None
    r"""url: why it could not be fetched (then ``data`` is ``None``)."""
    texts: tuple[str, ...] = ()
    r"""text: all raw strings of the job (they share one text source)."""


class FileError(Exception):
    """A file that yields an entry in ``results.errors`` instead of a prediction."""


@dataclass(frozen=True, slots=True)
class Media:
    """One file to predict on, with everything the model builders need."""

    file: str
    md5: str
    file_type: str
    info: MediaInfo
    text: str | None = None  # text files and strings
    segments: tuple[tuple[float, float], ...] = ()  # speech, for audio and video with audio
    transcript: Transcript | None = None
    blank: bool = False  # an image of one plain colour: nothing in it, so no face


def source_files(source: Source, limits: Limits) -> Iterator[tuple[str, Callable[[], Media]]]:
    """(file name, loader) pairs; loaders raise ``FileError`` for files that fail."""
    if source.type == "text":
        # All strings share one source; the real sample lists them as "1".."25", scrambled.
        order = rng_for(*(hashlib.md5(t.encode()).hexdigest() for t in source.texts), "order")
        for index in order.permutation(len(source.texts)).tolist():
            file = str(index + 1)
            yield file, functools.partial(_text_media, file, source.texts[index], limits)
        return
    data = source.data or b""
    name = source.filename if source.type == "file" else _url_name(source.url or "")
    name = name or "file"
    info = probe(data, filename=name)
    if info.kind != "archive":
        yield name, lambda: _load(name, data, info, limits)
        return
    try:
        members = _archive_members(data, info)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as exc:
        message = f"Could not open archive {name}: {exc}"  # bound now: `exc` is gone after the block
        yield name, lambda: _raise(message)
        return
    for path, blob in members:
        yield path, functools.partial(_load_member, path, blob, limits)


def _raise(message: str) -> Media:
    raise FileError(message)


def _url_name(url: str) -> str:
    parts = urlsplit(url)
    return posixpath.basename(unquote(parts.path)) or parts.netloc


def _archive_members(data: bytes, info: MediaInfo) -> list[tuple[str, bytes]]:
    if info.media_type == "application/zip":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return [(i.filename, zf.read(i)) for i in zf.infolist()
                    if not i.is_dir() and not _HIDDEN.search(i.filename)]
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        # extractfile is None only for members that are not regular files, which m.isfile() filters out
        return [(m.name, tf.extractfile(m).read()) for m in tf.getmembers()  # type: ignore[union-attr]
                if m.isfile() and not _HIDDEN.search(m.name)]


def _one_colour(data: bytes) -> bool:
    """Whether an image's pixels are all one colour (decoded at 64 px: a face could not hide in it)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.draft("RGB", (64, 64))  # JPEG decodes at a fraction of its size
            small = img.convert("RGB").resize((64, 64))
            bands = cast(tuple[tuple[int, int], ...], small.getextrema())  # RGB: one (min, max) per band
            return all(low == high for low, high in bands)
    except Exception:  # Pillow signals undecodable images with several exception types
        return False


def _load_member(path: str, blob: bytes, limits: Limits) -> Media:
    return _load(path, blob, probe(blob, filename=path), limits)


def _text_media(file: str, text: str, limits: Limits) -> Media:
    size = len(text.encode("utf-8"))
    if size > limits.max_text_bytes:
        raise FileError(f"Text {file} is {size:,} bytes, over the {limits.max_text_bytes:,}-byte limit "
                         "per text string (max_text_bytes)")
    md5 = hashlib.md5(text.encode("utf-8")).hexdigest()
    return Media(file, md5, "text", MediaInfo("text", "text/plain", None), text=text)


def _load(file: str, data: bytes, info: MediaInfo, limits: Limits) -> Media:
    """Classify one file and measure its timeline, or fail it with Hume-style messages."""
    md5 = hashlib.md5(data).hexdigest()
    if info.kind == "text":
        return _text_media(file, data.decode("utf-8", "replace"), limits)
    if info.kind == "image":
        return Media(file, md5, "image", info, blank=_one_colour(data))
    if info.kind not in ("audio", "video"):
        what = "an archive inside an archive" if info.kind == "archive" else (info.media_type or "unknown content")
        raise FileError(f"Unsupported file type for {file} ({what}): send audio, video, images, text, "
                         "or .zip/.tar.gz/.tar.bz2/.tar.xz archives of them")
    decoded = wav_samples(data) if info.media_type == "audio/wav" else None
    duration = len(decoded[0]) / decoded[1] if decoded else info.duration
    if not duration:
        raise FileError(f"Could not decode {file} ({info.media_type}): the file is corrupt, truncated or empty")
    if duration > limits.max_media_seconds:
        raise FileError(f"{file} is {duration:,.1f} s long, over the {limits.max_media_seconds:,.0f}-second "
                         "limit per media file (max_media_seconds)")
    info = MediaInfo(info.kind, info.media_type, duration, info.width, info.height, info.has_audio, info.frame_rate)
    if info.kind == "video" and info.has_audio is False:
        return Media(file, md5, "video_no_audio", info)
    if decoded is not None:
        segments = speech_segments(*decoded)
    else:
        segments = even_segments(duration, rng_for(md5, "segments"))
    transcript = synthetic_transcript(segments, rng_for(md5, "words"), identify_speakers=True)
    return Media(file, md5, info.kind, info, segments=tuple(segments), transcript=transcript)
