"""Synthetic, deterministic scores for the emulator: seeded noise shaped like Hume's, no model.

Scores for one file and model come from one generator seeded by (content md5, model, stream):

- each label gets a per-file level, so a few expressions stand out in a recording while most
  stay low (real face scores have a median near 0.1, prosody 0.04, language 0.01);
- a slow sinusoidal drift over time, so neighbouring segments of one recording look alike and
  word-, sentence- and turn-level scores of the same moment agree;
- per-item noise. Values pass through a sigmoid (0..1) and float32, like the real payloads.

The same bytes always give the same scores, whatever job they arrive in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

__all__ = ["named", "rng_for", "score_matrix", "sentiment_matrix"]

# (mean level, spread of levels across labels, per-item noise), all in logits; read off the
# real samples' score distributions (see the module docstring).
_PROFILES: dict[str, tuple[float, float, float]] = {
    "face": (-2.2, 0.8, 0.45),
    "facemesh": (-2.4, 0.8, 0.45),
    "facs": (-2.6, 1.0, 0.6),
    "descriptions": (-3.4, 1.0, 0.6),
    "prosody": (-3.3, 0.6, 0.35),
    "burst": (-3.0, 0.8, 0.5),
    "burst_descriptions": (-3.6, 1.0, 0.6),
    "language": (-4.6, 1.5, 0.7),
    "ner": (-4.6, 1.5, 0.7),
    "toxicity": (-6.0, 1.0, 0.8),
    # v1 (sparse after their cutoffs; chosen so a measurement lists a few names, not all or none)
    "v1_audio_expressions": (-1.5, 0.9, 0.45),
    "v1_voice_attributes": (-0.6, 1.1, 0.4),
    "v1_video_expressions": (-2.6, 0.9, 0.45),
    "v1_video_descriptions": (-3.0, 1.0, 0.6),
}


def rng_for(*parts: object) -> np.random.Generator:
    """A generator seeded by the parts' text (e.g. content md5, model, stream name)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def score_matrix(md5: str, stream: str, profile: str, n: int, width: int,
                 times: np.ndarray | None = None) -> np.ndarray:
    """An ``(n, width)`` array of scores in (0, 1) for ``n`` items of one file.

    Args:
        md5: The content's md5 (the seed).
        stream: What is scored, e.g. ``"prosody"`` or ``"face:1"`` (part of the seed).
        profile: Which distribution to mimic (a key of ``_PROFILES``).
        n: Number of items (segments, words, frames…).
        width: Number of labels.
        times: Each item's time in seconds, for the slow drift; item index × 2 s if ``None``.
    """
    rng = rng_for(md5, stream, profile)
    mean, spread, noise = _PROFILES[profile]
    level = rng.normal(mean, spread, width)
    freq, phase = rng.uniform(0.02, 0.25, width), rng.uniform(0, 2 * np.pi, width)
    t = np.arange(n) * 2.0 if times is None else np.asarray(times, dtype=np.float64)
    drift = 0.6 * np.sin(2 * np.pi * freq * t[:, None] + phase)
    logits = level + drift + rng.normal(0.0, noise, (n, width))
    return _as_float32(1.0 / (1.0 + np.exp(-logits)))


def sentiment_matrix(md5: str, stream: str, n: int) -> np.ndarray:
    """``(n, 9)`` sentiment distributions peaked around the middle bins, summing to just under 1."""
    rng = rng_for(md5, stream, "sentiment")
    centre = np.clip(rng.normal(5.0, 1.2, (n, 1)), 1, 9)
    logits = -0.5 * ((np.arange(1, 10) - centre) / rng.uniform(0.6, 1.5, (n, 1))) ** 2
    logits += rng.normal(0, 0.4, (n, 9))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return _as_float32(probs * rng.uniform(0.95, 0.995, (n, 1)))


def named(labels: Sequence[str], row: Sequence[float]) -> list[dict[str, object]]:
    """``[{"name": label, "score": value}, …]`` in label order, as Hume lists scores."""
    return [{"name": name, "score": score} for name, score in zip(labels, row, strict=True)]


def _as_float32(values: np.ndarray) -> np.ndarray:
    # Hume's scores are float32 widened to JSON doubles (e.g. 0.19679194688796997).
    return values.astype(np.float32).astype(np.float64)
