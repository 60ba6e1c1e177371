"""WAV headers: the RIFF/WAVE format and data chunks, including the float and EXTENSIBLE formats."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import BinaryIO

from humekit.pipeline.media.info import MediaInfo

__all__ = ["WavFormat", "parse_wav", "probe_wav"]


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


def probe_wav(f: BinaryIO) -> MediaInfo:
    """A file that opens with RIFF/WAVE: ``audio/wav``, with its duration when the header is readable."""
    wav = parse_wav(f)
    return MediaInfo("audio", "audio/wav", wav.duration if wav else None)
