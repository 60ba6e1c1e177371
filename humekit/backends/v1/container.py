"""Opening media with PyAV for v1: FFmpeg's failures as humekit errors, and the recording's one clock.

Audio (:mod:`~humekit.backends.v1.audio`) and video frames (:mod:`~humekit.backends.v1.frames`) of one file
are placed on the same clock: 0 is the container's start (FFmpeg's ``start_time``, the earliest stream's
first timestamp), so a face at 12.3 s and an utterance at 12.3 s happened together.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction

import av
import av.container

from humekit.errors import MediaDecodeError

__all__ = ["clock_origin", "open_media", "undecodable"]


@contextmanager
def open_media(path: str | os.PathLike[str]) -> Iterator[av.container.InputContainer]:
    """Open ``path`` for reading with FFmpeg, turning its failures into a :class:`MediaDecodeError`.

    Raises:
        OSError: the file cannot be opened (missing, unreadable), as the caller's own ``open`` would.
        MediaDecodeError: the file is empty or is not media FFmpeg can read.
    """
    name = os.fspath(path)
    if os.stat(name).st_size == 0:
        raise MediaDecodeError(f"{name} is empty (0 bytes): there is nothing to measure. Replace it with the "
                               "recording, or drop its row.", path=name, reason="empty")
    try:
        container = av.open(name, mode="r")
    except av.FFmpegError as e:
        raise undecodable(name, e) from e
    try:
        yield container
    finally:
        container.close()


def undecodable(name: str, error: Exception) -> MediaDecodeError:
    """The error for a file FFmpeg cannot read (``error`` is FFmpeg's, quoted)."""
    detail = getattr(error, "strerror", None) or str(error)
    return MediaDecodeError(
        f"{name} cannot be decoded as audio or video ({detail}). Check that it is a complete media file "
        "(WAV, MP3, M4A/AAC, FLAC, OGG/Opus, MP4, MOV, WebM...), re-export it, or drop its row.",
        path=name, reason="undecodable")


def clock_origin(container: av.container.InputContainer) -> Fraction:
    """The clock's zero in seconds: the container's start time (0 when FFmpeg does not know it)."""
    start = container.start_time
    return Fraction(start, av.time_base) if start is not None else Fraction(0)
