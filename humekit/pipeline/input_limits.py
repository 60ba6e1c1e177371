"""What one input may be (bytes of an upload, seconds of media, bytes of a text): checked before anything is sent.

A backend's limits extend :class:`InputLimits` with its own packing rules (:class:`humekit.Limits` adds the
v0 batch API's per-job counts). The defaults are the limits Hume documents for its batch API, the API
:func:`humekit.measure` uses unless it is given another ``backend=``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GB", "MB", "InputLimits"]

MB = 1_000_000
GB = 1_000_000_000


@dataclass(frozen=True, slots=True)
class InputLimits:
    """Per-input limits: what :func:`humekit.validate` refuses a row for."""

    max_upload_bytes: int = 100 * MB
    r"""Size of each uploaded local file (DOCS-REST; older docs said 1 GB)."""
    max_media_seconds: float = 3 * 3600.0
    r"""Duration of each audio or video file (current DOCS-REST; older docs said 1 hour)."""
    max_text_bytes: int = 255 * MB
    r"""Size of each raw text string (DOCS-REST)."""
