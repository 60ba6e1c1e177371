"""The emulator's framework-free request and response types, shared by every way it is served.

One implementation answers both the in-process ``httpx`` transport and the real loopback HTTP
server; each adapter only converts to and from these two classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

__all__ = ["EmuRequest", "EmuResponse", "json_response"]


@dataclass(frozen=True, slots=True)
class EmuRequest:
    """An HTTP request as the emulator sees it."""

    method: str
    path: str
    query_string: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    r"""Header names in lower case."""
    body: bytes = b""

    @property
    def query(self) -> list[tuple[str, str]]:
        """Query parameters in order, repeated keys kept."""
        return parse_qsl(self.query_string, keep_blank_values=True)

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header's value by case-insensitive name."""
        return self.headers.get(name.lower(), default)


@dataclass(slots=True)
class EmuResponse:
    """An HTTP response, or an instruction to drop the connection without one."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    r"""Close the connection without answering (a fault: the client sees a dropped connection)."""


def json_response(status: int, payload: Any, *, headers: Mapping[str, str] | None = None) -> EmuResponse:
    """A JSON response with the right content type."""
    return EmuResponse(
        status,
        orjson.dumps(payload),
        {"content-type": "application/json", **(headers or {})},
    )
