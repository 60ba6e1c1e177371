"""v1's error answers: every ``code`` with its HTTP status, and the two body shapes.

Every status except 401 answers ``{"type": "error", "code", "message", "request_id"}``; a 401 is
answered "before the service" as ``{"message", "request_id"?}`` (``request_id`` only when an API
key was rejected). Only ``message_invalid``/``config_invalid`` -> 400 are documented pairings; the
others follow the SDK's per-status exception classes (**UNCONFIRMED**, hume-v1-backend.md §2.5).
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["CODE_STATUS", "ErrorCode", "V1Error", "error_body"]

ErrorCode = Literal[
    "message_invalid", "config_invalid", "audio_decode_failed", "image_decode_failed", "invalid_request",
    "forbidden", "not_found", "method_not_allowed", "audio_too_long", "image_too_large",
    "unsupported_media_type", "internal_error", "server_busy",
]  # fmt: skip

#: The HTTP status each code is answered with.
CODE_STATUS: dict[ErrorCode, int] = {
    "message_invalid": 400,
    "config_invalid": 400,
    "audio_decode_failed": 400,
    "image_decode_failed": 400,
    "invalid_request": 400,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "audio_too_long": 413,
    "image_too_large": 413,
    "unsupported_media_type": 415,
    "internal_error": 500,
    "server_busy": 503,
}


class V1Error(Exception):
    """A request v1 refuses: its ``code`` (which fixes the status) and a message for a person."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.run_id: str | None = None
        r"""The run the refused request was recorded as, if it got that far (an image upload's checks)."""

    @property
    def status(self) -> int:
        """The HTTP status of this code."""
        return CODE_STATUS[self.code]


def error_body(code: ErrorCode, message: str, request_id: str) -> dict[str, Any]:
    """The ``ErrorBody`` of every non-401 error."""
    return {"type": "error", "code": code, "message": message, "request_id": request_id}
