"""The v1 emulator's runs: one per measured upload, listed newest first with an opaque cursor.

A run holds metadata only, never measurements (as at Hume). ``metered_seconds`` is the audio's
duration, or 1/3 s per image, at least 10 s; a request that failed after its run was recorded
reports 0. The cursor is base64url JSON of the last run's (start, id) and the filters it was
issued under; a cursor from other filters, or one that does not parse, is 400 ``invalid_request``.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from humekit.emulator.v1.errors import V1Error

__all__ = ["MIN_BILLED_SECONDS", "Run", "RunStore", "iso"]

MIN_BILLED_SECONDS = 10.0
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
_FILTERS = ("user_id", "status", "mode", "endpoint", "started_before", "started_after")
_CHOICES = {"status": ("live", "ended", "errored"), "mode": ("realtime", "file"), "endpoint": ("audio", "video")}


def iso(seconds: float) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. ``2026-12-01T10:00:00.123Z``."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Run:
    """One recorded run."""

    run_id: str
    user_id: str
    endpoint: Literal["audio", "video"]
    started_at: float
    ended_at: float | None
    status: Literal["live", "ended", "errored"]
    config: dict[str, Any]
    bytes_received: int | None = None
    metered_seconds: float = 0.0
    mode: Literal["file"] = "file"

    def summary(self) -> dict[str, Any]:
        """The ``RunSummary`` the list returns."""
        return {
            "run_id": self.run_id,
            "user_id": self.user_id,
            "status": self.status,
            "endpoint": self.endpoint,
            "mode": self.mode,
            "started_at": iso(self.started_at),
            "ended_at": None if self.ended_at is None else iso(self.ended_at),
            "bytes_received": self.bytes_received,
            "bytes_recorded": None,
            "metered_seconds": self.metered_seconds,
        }

    def details(self) -> dict[str, Any]:
        """The full ``Run``."""
        return {**self.summary(), "close_code": None, "close_reason": None, "config": self.config}

    def ended(self, *, at: float, media_seconds: float, bytes_received: int) -> Run:
        """This run, ended normally and billed ``media_seconds`` (at least 10 s)."""
        billed = max(MIN_BILLED_SECONDS, round(media_seconds, 3))
        return replace(self, status="ended", ended_at=at, metered_seconds=billed, bytes_received=bytes_received)

    def errored(self, *, at: float, bytes_received: int) -> Run:
        """This run, failed: not billed."""
        return replace(self, status="errored", ended_at=at, metered_seconds=0.0, bytes_received=bytes_received)


class RunStore:
    """Every run, thread-safe."""

    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}
        self._lock = threading.Lock()

    def put(self, run: Run) -> None:
        with self._lock:
            self._runs[run.run_id] = run

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._runs.get(run_id)

    def all(self) -> list[Run]:
        """Every run, newest first."""
        with self._lock:
            runs = list(self._runs.values())
        return sorted(runs, key=lambda r: (r.started_at, r.run_id), reverse=True)

    def page(self, query: list[tuple[str, str]]) -> dict[str, Any]:
        """The ``RunsPage`` answering ``GET /v1/expression/run?...``."""
        params = _single_params(query, allowed=("page_size", "cursor", *_FILTERS))
        size = page_size(params.get("page_size"))
        filters = {key: params[key] for key in _FILTERS if key in params}
        for key, choices in _CHOICES.items():
            if key in filters and filters[key] not in choices:
                raise V1Error("invalid_request", f"{key} must be one of {', '.join(choices)}; got {filters[key]!r}")
        before = _instant(filters, "started_before")
        after = _instant(filters, "started_after")
        runs = [
            r for r in self.all()
            if all(getattr(r, key) == filters[key] for key in ("user_id", "status", "mode", "endpoint") if key in filters)
            and (before is None or r.started_at < before)
            and (after is None or r.started_at >= after)
        ]  # fmt: skip
        cursor = params.get("cursor")
        if cursor is not None:
            start, last_id = decode_cursor(cursor, filters)
            runs = [r for r in runs if (r.started_at, r.run_id) < (start, last_id)]
        page = runs[:size]
        body: dict[str, Any] = {"runs": [r.summary() for r in page]}
        if len(runs) > size:
            body["next_cursor"] = encode_cursor(page[-1].started_at, page[-1].run_id, filters)
        return body


def page_size(raw: str | None) -> int:
    """``page_size`` (1-200, default 50), or 400 ``invalid_request``."""
    if raw is None:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise V1Error("invalid_request", f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}; got {raw!r}")
    return size


def encode_cursor(start: float, run_id: str, filters: dict[str, str]) -> str:
    payload = json.dumps({"s": start, "r": run_id, "f": filters}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, filters: dict[str, str]) -> tuple[float, str]:
    """The position a cursor carries, or 400 if it is not one this list issued under these filters."""
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = (float(state["s"]), str(state["r"]))
        same_filters = state["f"] == filters
    except (ValueError, binascii.Error, KeyError, TypeError):
        raise V1Error(
            "invalid_request", "cursor is not a next_cursor this endpoint returned; pass it back unchanged"
        ) from None
    if not same_filters:
        raise V1Error("invalid_request", "cursor was issued for other filters; repeat the filters of the first page")
    return position


def _single_params(query: list[tuple[str, str]], *, allowed: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in query:
        if key not in allowed:
            raise V1Error("invalid_request", f"unknown query parameter {key!r}; expected some of {', '.join(allowed)}")
        if key in params:
            raise V1Error("invalid_request", f"query parameter {key!r} is given more than once")
        params[key] = value
    return params


def _instant(filters: dict[str, str], key: str) -> float | None:
    raw = filters.get(key)
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise V1Error("invalid_request", f"{key} must be an RFC 3339 time with a zone, e.g. 2026-12-01T00:00:00Z")
    return when.timestamp()
