"""The ``config`` part of the v1 uploads: parsed strictly, defaults filled in, errors worded like the server's.

Unknown keys are 400 ``config_invalid`` with the serde-style message Hume's docs show
(``unknown field `timer_ms`, expected `measurement_timer_ms` at line 1 column 11``). Choices on
points the references leave open (**UNCONFIRMED**): a ``null`` value means "unset"; a value out of
range (``measurement_timer_ms`` outside 3000-10000, ``face.threshold`` outside 0-1,
``face.min_size`` < 1) is ``config_invalid``; a ``config`` part without ``Content-Type:
application/json`` is accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from humekit.emulator.v1.errors import V1Error

__all__ = ["AudioConfig", "VideoConfig", "parse_audio_config", "parse_video_config"]

_PREFIX = "the config part is not valid: "


@dataclass(frozen=True, slots=True)
class AudioConfig:
    """An audio request's effective settings."""

    measurement_timer_ms: int = 3000

    def run_config(self) -> dict[str, Any]:
        """The run's ``config`` (``AudioRunConfig``)."""
        return {
            "schema": "v4",
            "audio": {"type": "audio/pcm", "encoding": "s16le", "sample_rate": 16000, "channels": 1},
            "measurement_timer_ms": self.measurement_timer_ms,
        }


@dataclass(frozen=True, slots=True)
class VideoConfig:
    """A video request's effective settings."""

    threshold: float = 0.9
    min_size: int = 60
    return_face_state: bool = False
    face_state: str | None = None

    def run_config(self) -> dict[str, Any]:
        """The run's ``config`` (``VideoRunConfig``)."""
        return {"schema": "v4", "image": {"type": "image/jpeg"},
                "face": {"threshold": round(self.threshold, 4), "min_size": self.min_size}}


def parse_audio_config(raw: bytes | None) -> AudioConfig:
    """The audio config part (``None``: absent, the defaults)."""
    if raw is None:
        return AudioConfig()
    text, config = _object(raw)
    _known(text, config, ("measurement_timer_ms",))
    timer = config.get("measurement_timer_ms")
    if timer is None:
        return AudioConfig()
    if not _is_int(timer) or not 3000 <= timer <= 10000:
        raise V1Error("config_invalid", f"{_PREFIX}measurement_timer_ms must be an integer from 3000 to 10000 "
                      f"(ms of speech); got {timer!r}")
    return AudioConfig(measurement_timer_ms=timer)


def parse_video_config(raw: bytes | None) -> VideoConfig:
    """The video config part (``None``: absent, the defaults)."""
    if raw is None:
        return VideoConfig()
    text, config = _object(raw)
    _known(text, config, ("face", "face_state"))
    face = config.get("face") or {}
    if not isinstance(face, dict):
        raise V1Error("config_invalid", f"{_PREFIX}face must be an object; got {face!r}")
    _known(text, face, ("threshold", "min_size", "return_face_state"))
    threshold = face.get("threshold")
    threshold = 0.9 if threshold is None else threshold
    if not (isinstance(threshold, int | float) and not isinstance(threshold, bool) and 0.0 <= threshold <= 1.0):
        raise V1Error("config_invalid", f"{_PREFIX}face.threshold must be a number from 0 to 1; got {threshold!r}")
    min_size = face.get("min_size")
    min_size = 60 if min_size is None else min_size
    if not _is_int(min_size) or min_size < 1:
        raise V1Error("config_invalid", f"{_PREFIX}face.min_size must be an integer >= 1 (pixels); got {min_size!r}")
    flag = face.get("return_face_state")
    if flag is not None and not isinstance(flag, bool):
        raise V1Error("config_invalid", f"{_PREFIX}face.return_face_state must be true or false; got {flag!r}")
    state = config.get("face_state")
    if state is not None and not isinstance(state, str):
        raise V1Error("config_invalid", f"{_PREFIX}face_state must be the string an earlier response returned")
    return VideoConfig(threshold=float(threshold), min_size=min_size, return_face_state=bool(flag), face_state=state)


def _object(raw: bytes) -> tuple[str, dict[str, Any]]:
    try:
        text = raw.decode("utf-8")
        value = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise V1Error("config_invalid", f"{_PREFIX}it is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise V1Error("config_invalid", f"{_PREFIX}invalid type: expected a JSON object, got {type(value).__name__}")
    return text, value


def _known(text: str, config: dict[str, Any], fields: tuple[str, ...]) -> None:
    for key in config:
        if key not in fields:
            expected = f"`{fields[0]}`" if len(fields) == 1 else "one of " + ", ".join(f"`{f}`" for f in fields)
            raise V1Error("config_invalid", f"{_PREFIX}unknown field `{key}`, expected {expected}{_where(text, key)}")


def _where(text: str, key: str) -> str:
    """serde's position: the line and column of the end of the key's string."""
    quoted = json.dumps(key)
    at = text.find(quoted)
    if at < 0:
        return ""
    end = at + len(quoted)
    line = text.count("\n", 0, end) + 1
    column = end - (text.rfind("\n", 0, end) + 1)
    return f" at line {line} column {column}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
