"""The limits the v1 emulator enforces: Hume's documented ones by default (hume-v1-backend.md §2.6).

"25 MB" and "2 MB" are read as decimal bytes (25,000,000 and 2,000,000), as the SDK encodes 2 MB
and Hume's sibling Audio Decisions API states for 25 MB (**UNCONFIRMED** for this API). Lower them
in tests to reach a limit without building a 25 MB body.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["V1Limits"]


@dataclass(frozen=True, slots=True)
class V1Limits:
    """What one request may hold."""

    max_request_bytes: int = 25_000_000
    r"""The whole multipart body (audio: ``audio_too_long``; images: ``image_too_large``)."""
    max_image_bytes: int = 2_000_000
    max_image_pixels: int = 8_294_400
    r"""3840 x 2160."""
    max_faces_measured: int = 2
    max_faces_listed: int = 32
