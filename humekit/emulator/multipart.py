"""multipart/form-data parsed from the raw request bytes, for both emulators (v0 and v1).

python-multipart's streaming :class:`MultipartParser` keeps every part's bytes exactly as sent,
including a ``file`` part that has no filename (how Hume's v1 SDK sends bare bytes). Starlette's
``request.form()`` would turn such a part into a ``str`` (decoded as UTF-8, latin-1 fallback) and
refuse non-file parts over 1 MiB, so the original bytes could not be recovered.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header

__all__ = ["FormPart", "MalformedMultipart", "PartTooLarge", "boundary_of", "parse_form"]


class MalformedMultipart(ValueError):
    """The body is not readable multipart/form-data (bad framing, or cut short)."""


class PartTooLarge(ValueError):
    """One part grew over ``max_part_bytes`` while it was being read."""


@dataclass(slots=True)
class FormPart:
    """One part of a multipart body: its headers (names in lower case) and its exact bytes."""

    headers: dict[str, str] = field(default_factory=dict)
    _data: io.BytesIO = field(default_factory=io.BytesIO)
    _md5: Any = field(default_factory=hashlib.md5)
    size: int = 0

    @property
    def name(self) -> str:
        """The ``name`` of its Content-Disposition (``""`` when absent)."""
        return self._disposition().get(b"name", b"").decode("utf-8", "replace")

    @property
    def filename(self) -> str | None:
        """The ``filename`` of its Content-Disposition, or ``None`` when it has none."""
        raw = self._disposition().get(b"filename")
        return None if raw is None else raw.decode("utf-8", "replace")

    @property
    def content_type(self) -> str | None:
        """The part's own Content-Type header, if it has one."""
        return self.headers.get("content-type")

    @property
    def data(self) -> bytes:
        """The part's bytes, exactly as sent."""
        return self._data.getvalue()

    @property
    def md5(self) -> str:
        """The hex md5 of :attr:`data`."""
        return str(self._md5.hexdigest())

    def _disposition(self) -> dict[bytes, bytes]:
        return parse_options_header(self.headers.get("content-disposition", ""))[1]

    def _write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._data.write(chunk)
        self._md5.update(chunk)


def boundary_of(content_type: str | None) -> bytes | None:
    """The boundary of a ``multipart/form-data`` Content-Type, or ``None`` if it is not one."""
    mime, params = parse_options_header(content_type or "")
    if mime != b"multipart/form-data":
        return None
    return params.get(b"boundary") or None


def parse_form(body: bytes, boundary: bytes, *, max_part_bytes: int | None = None) -> list[FormPart]:
    """Every part of ``body`` in order.

    Raises:
        PartTooLarge: a part is over ``max_part_bytes`` (checked while reading, before it is kept whole).
        MalformedMultipart: the body cannot be read, or it ends before its closing boundary.
    """
    parts: list[FormPart] = []
    header: list[bytes] = [b"", b""]

    def on_part_begin() -> None:
        parts.append(FormPart())

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = parts[-1]
        part._write(data[start:end])
        if max_part_bytes is not None and part.size > max_part_bytes:
            raise PartTooLarge(f"a part is over {max_part_bytes:,} bytes")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        parts[-1].headers[header[0].decode("latin-1").lower()] = header[1].decode("utf-8", "replace")
        header[0], header[1] = b"", b""

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except PartTooLarge:
        raise
    except Exception as exc:  # python-multipart raises several error types for bad bodies
        raise MalformedMultipart(str(exc)) from None
    if b"--" + boundary + b"--" not in body:  # the parser accepts a body cut short: a truncated upload
        raise MalformedMultipart("it ends before the closing boundary (a truncated upload)")
    return parts
