"""The label sets the v1 emulator scores, loaded from ``labels.json`` beside this module.

Hume publishes each vocabulary's size (audio 415 expressions and 190 voice attributes, video 48
expressions and 27 descriptions) but the full lists could not be read. ``labels.json`` keeps the
names seen in Hume's sources apart from the stand-ins humekit chose, which are **UNCONFIRMED**;
:attr:`Vocabulary.unconfirmed` lists them, so a test or a notebook can say which is which.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["VOCABULARY_NAMES", "Vocabulary", "vocabulary"]

#: The four score arrays of v1's responses, as ``labels.json`` names them.
VOCABULARY_NAMES: tuple[str, ...] = ("audio_expressions", "voice_attributes", "video_expressions", "video_descriptions")


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """One score array's names: those Hume confirmed and humekit's UNCONFIRMED stand-ins."""

    key: str
    published_count: int
    r"""How many names Hume says the array has (the emulator's list is shorter)."""
    confirmed: tuple[str, ...]
    unconfirmed: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the emulator may emit, sorted."""
        return tuple(sorted(self.confirmed + self.unconfirmed))


@cache
def vocabulary(key: str) -> Vocabulary:
    """The vocabulary ``key`` (one of :data:`VOCABULARY_NAMES`)."""
    if key not in VOCABULARY_NAMES:
        raise KeyError(f"no v1 vocabulary {key!r}; expected one of {VOCABULARY_NAMES}")
    entry = _labels()[key]
    return Vocabulary(
        key=key,
        published_count=int(entry["published_count"]),
        confirmed=tuple(entry["confirmed"]),
        unconfirmed=tuple(entry["unconfirmed"]),
    )


@cache
def _labels() -> dict[str, dict[str, Any]]:
    text = resources.files("humekit.emulator.v1").joinpath("labels.json").read_text(encoding="utf-8")
    loaded: dict[str, dict[str, Any]] = json.loads(text)
    return loaded
