"""Cut a recording longer than one v1 request into windows, in its quietest stretches, at whole milliseconds.

:func:`plan_windows` is pure: a duration and, optionally, an energy profile in, windows out, so it is
tested without media. :func:`energy_profile` computes that profile from a file with the streaming decoder
(:mod:`humekit.backends.v1.audio`), RMS per 100 ms, in flat memory; :func:`plan_file_windows` does both.

The windows:

- tile ``[0, duration_ms)`` exactly: contiguous, no gap and **no overlap** (a cut is one instant; the
  utterance a cut may split ends with a ``speech_ended`` measurement in one window and starts again in the next);
- each lasts at most ``min(window_target_ms, max_window_ms)`` (12 min by default), so each request's whole
  body, PCM + 44-byte WAV header + multipart margin, is at most 25,000,000 bytes;
- cut at the quietest stretch (500 ms moving average of the RMS) within the last ``search_ms`` (60 s) before
  that bound, the latest of equally quiet points, so fewer requests are made;
- are never shorter than the 10 s billing minimum when a neighbour can take them (only a recording shorter
  than 10 s is one short window).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from humekit.backends.v1.audio import SAMPLES_PER_MS, sample_chunks
from humekit.backends.v1.limits import DEFAULT_V1_LIMITS, WAV_HEADER_BYTES, V1Limits

__all__ = ["EnergyProfile", "Window", "energy_profile", "plan_file_windows", "plan_windows", "request_body_bound"]

_SMOOTH_MS = 500  # a "stretch": the RMS averaged over this long, so one quiet frame inside speech is not chosen


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """One request's part of a recording: ``[start_ms, end_ms)`` on the recording's clock."""

    start_ms: int
    end_ms: int

    @property
    def duration_ms(self) -> int:
        """Milliseconds the window covers."""
        return self.end_ms - self.start_ms

    @property
    def offset_ms(self) -> int:
        """What to add to a response's ``audio_start_ms``/``audio_end_ms`` to put them on the recording's clock."""
        return self.start_ms


@dataclass(frozen=True, slots=True)
class EnergyProfile:
    """A recording's loudness over time: RMS of the 16 kHz mono s16 samples per ``frame_ms`` frame."""

    duration_ms: int
    r"""The converted audio's length, whole milliseconds (its exact sample count // 16)."""
    frame_ms: int
    r"""Milliseconds per frame (the last frame may be partial)."""
    rms: np.ndarray
    r"""One float32 per frame, in int16 units (0-32767)."""


def energy_profile(path: str | os.PathLike[str], *, frame_ms: int = 100) -> EnergyProfile:
    """The RMS per ``frame_ms`` of a file's converted audio, from one streaming decode (flat memory).

    Raises:
        OSError: the file cannot be opened.
        MediaDecodeError: the file is empty, undecodable or has no audio stream.
    """
    if frame_ms <= 0:
        raise ValueError(f"frame_ms must be positive, not {frame_ms}")
    size = frame_ms * SAMPLES_PER_MS
    parts: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.float32)
    total = 0
    for chunk in sample_chunks(path):
        total += len(chunk)
        data = np.concatenate([carry, chunk.astype(np.float32)])
        whole = len(data) // size * size
        if whole:
            parts.append(np.sqrt(np.mean(np.square(data[:whole].reshape(-1, size)), axis=1)))
        carry = data[whole:]
    if len(carry):
        parts.append(np.sqrt(np.mean(np.square(carry), keepdims=True)))
    rms = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, dtype=np.float32)
    return EnergyProfile(duration_ms=total // SAMPLES_PER_MS, frame_ms=frame_ms, rms=rms)


def request_body_bound(window: Window, *, limits: V1Limits = DEFAULT_V1_LIMITS) -> int:
    """The most bytes the window's request body takes: its PCM, the WAV header and the multipart margin."""
    return window.duration_ms * limits.bytes_per_ms + WAV_HEADER_BYTES + limits.multipart_margin_bytes


def plan_windows(duration_ms: int, *, energy: EnergyProfile | None = None, limits: V1Limits = DEFAULT_V1_LIMITS,
                 search_ms: int = 60_000) -> list[Window]:
    """Windows that tile ``[0, duration_ms)``, each one request, cut in quiet stretches (see the module doc).

    Args:
        duration_ms: The recording's length in whole milliseconds (:attr:`EnergyProfile.duration_ms`).
        energy: Its energy profile; without one, the recording is cut into equal windows.
        limits: The request bounds (``window_target_ms``, ``max_request_bytes``, ``billing_min_seconds``).
        search_ms: How far before a window's longest length a cut is looked for.

    Raises:
        ValueError: ``duration_ms`` is negative, or the limits leave no room for a window.
    """
    if duration_ms < 0:
        raise ValueError(f"duration_ms must be >= 0, not {duration_ms}")
    longest = min(limits.window_target_ms, limits.max_window_ms)
    if longest <= 0:
        raise ValueError(f"the limits leave no room for audio in a request ({limits!r})")
    if duration_ms <= longest:
        return [Window(0, duration_ms)] if duration_ms else []
    shortest = min(limits.min_window_ms, longest // 2)
    if energy is None:
        n = math.ceil(duration_ms / longest)
        cuts = [round(k * duration_ms / n) for k in range(n + 1)]
        return [Window(a, b) for a, b in zip(cuts, cuts[1:], strict=False)]
    quiet = _smoothed(energy)
    windows: list[Window] = []
    start = 0
    while duration_ms - start > longest:
        lo = start + max(shortest, longest - search_ms)
        hi = min(start + longest, duration_ms - shortest)  # the rest must still make a billable window
        cut = _quietest(quiet, energy.frame_ms, lo, max(lo, hi)) if hi > lo else hi
        windows.append(Window(start, cut))
        start = cut
    windows.append(Window(start, duration_ms))
    return _merge_short(windows, shortest=shortest, longest=longest)


def plan_file_windows(path: str | os.PathLike[str], *, limits: V1Limits = DEFAULT_V1_LIMITS,
                      frame_ms: int = 100) -> tuple[EnergyProfile, list[Window]]:
    """A file's energy profile and its windows (:func:`energy_profile`, then :func:`plan_windows`)."""
    profile = energy_profile(path, frame_ms=frame_ms)
    return profile, plan_windows(profile.duration_ms, energy=profile, limits=limits)


def _smoothed(energy: EnergyProfile) -> np.ndarray:
    width = max(1, _SMOOTH_MS // energy.frame_ms)
    if len(energy.rms) < width:
        return energy.rms.astype(np.float64)
    kernel = np.ones(width) / width
    return np.convolve(energy.rms.astype(np.float64), kernel, mode="same")


def _quietest(quiet: np.ndarray, frame_ms: int, lo: int, hi: int) -> int:
    """The ms in ``[lo, hi]`` at the centre of the quietest frame (the latest of equals), clamped to the range."""
    first, last = lo // frame_ms, min(hi // frame_ms, len(quiet) - 1)
    if last < first:  # the profile ends before the range (a duration longer than the audio): cut late
        return hi
    span = quiet[first:last + 1]
    best = first + int(len(span) - 1 - np.argmin(span[::-1]))  # argmin of the reversed span: the latest minimum
    return min(max(best * frame_ms + frame_ms // 2, lo), hi)


def _merge_short(windows: Sequence[Window], *, shortest: int, longest: int) -> list[Window]:
    """Merge any window under the billing minimum into a neighbour that can take it (a guard: the planner avoids them)."""
    out = list(windows)
    i = 0
    while i < len(out):
        w = out[i]
        if w.duration_ms < shortest and len(out) > 1:
            left = out[i - 1] if i > 0 else None
            right = out[i + 1] if i + 1 < len(out) else None
            if left is not None and left.duration_ms + w.duration_ms <= longest:
                out[i - 1:i + 1] = [Window(left.start_ms, w.end_ms)]
                continue
            if right is not None and right.duration_ms + w.duration_ms <= longest:
                out[i:i + 2] = [Window(w.start_ms, right.end_ms)]
                continue
        i += 1
    return out
