"""The v1 emulator's synthetic scores: the v0 emulator's seeded noise, cut and listed as v1 lists them.

Scores come from :func:`humekit.emulator.scores.score_matrix`, seeded by the content (the audio's
PCM samples, so a WAV and the same samples sent raw score alike; each image's bytes), then:

- **cut**: audio ``expressions`` keep a name at or above its own threshold (v1 has one per name; the
  emulator's thresholds, 0.30-0.60 derived from each name, are **UNCONFIRMED**), ``voice_attributes``
  keep >= 0.725, video ``expressions`` and ``descriptions`` keep > 0.1, as documented;
- **rounded** to 4 decimals and **sorted** by probability, ties by the unrounded score, then by name.

There is no model behind them: only the structure is real.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from humekit.emulator.scores import score_matrix
from humekit.emulator.v1.vocabulary import vocabulary

__all__ = ["VOICE_ATTRIBUTE_CUTOFF", "VIDEO_CUTOFF", "expression_threshold", "scored_rows"]

VOICE_ATTRIBUTE_CUTOFF = 0.725
VIDEO_CUTOFF = 0.1


def expression_threshold(name: str) -> float:
    """The emulator's per-name cutoff for an audio expression (UNCONFIRMED: Hume's are not published)."""
    digest = hashlib.sha256(f"v1-threshold:{name}".encode()).digest()
    return 0.30 + 0.30 * int.from_bytes(digest[:4], "big") / 2**32


def scored_rows(seed: str, stream: str, key: str, times: Sequence[float]) -> list[list[dict[str, Any]]]:
    """One sparse, sorted score list per item (a measurement window or a face) of vocabulary ``key``.

    Args:
        seed: the content's digest.
        stream: what is scored within that content (e.g. ``"face:0"``), also part of the seed.
        key: a vocabulary of :mod:`humekit.emulator.v1.vocabulary`.
        times: each item's time in seconds (scores drift slowly over time).
    """
    names = vocabulary(key).names
    if not times:
        return []
    matrix = score_matrix(seed, stream, f"v1_{key}", len(times), len(names), np.asarray(times, dtype=np.float64))
    keep = _cutoff(key)
    rows: list[list[dict[str, Any]]] = []
    for row in matrix:
        kept = [(float(score), name) for name, score in zip(names, row, strict=True) if keep(name, float(score))]
        kept.sort(key=lambda pair: (-round(pair[0], 4), -pair[0], pair[1]))
        rows.append([{"name": name, "probability": round(score, 4)} for score, name in kept])
    return rows


def _cutoff(key: str) -> Callable[[str, float], bool]:
    if key == "audio_expressions":
        return lambda name, score: score >= expression_threshold(name)
    if key == "voice_attributes":
        return lambda name, score: score >= VOICE_ATTRIBUTE_CUTOFF
    return lambda name, score: score > VIDEO_CUTOFF
