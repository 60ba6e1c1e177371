"""Tests for humekit.backends.v1.windows (and v1's limits): windows that tile, fit a request, cut in silence."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from humekit.backends.v1.audio import read_windows
from humekit.backends.v1.limits import DEFAULT_V1_LIMITS, V1_LIMIT_SOURCES, V1Limits
from humekit.backends.v1.windows import (
    EnergyProfile,
    Window,
    energy_profile,
    plan_file_windows,
    plan_windows,
    request_body_bound,
)
from humekit.testing.media import make_audio

LIMITS = DEFAULT_V1_LIMITS
LONGEST = min(LIMITS.window_target_ms, LIMITS.max_window_ms)


def _check_tiling(windows: list[Window], duration_ms: int, limits: V1Limits = LIMITS) -> None:
    assert windows[0].start_ms == 0 and windows[-1].end_ms == duration_ms
    for a, b in zip(windows, windows[1:], strict=False):
        assert a.end_ms == b.start_ms  # contiguous: no gap, no overlap
    for w in windows:
        assert isinstance(w.start_ms, int) and isinstance(w.end_ms, int) and w.duration_ms > 0
        assert w.duration_ms <= min(limits.window_target_ms, limits.max_window_ms)
        assert request_body_bound(w, limits=limits) <= limits.max_request_bytes
        if len(windows) > 1:
            assert w.duration_ms >= limits.min_window_ms


def _profile(duration_ms: int, quiet: list[tuple[int, int]], frame_ms: int = 100) -> EnergyProfile:
    """Speech-level energy everywhere except the quiet (begin, end) ms stretches."""
    n = -(-duration_ms // frame_ms)
    rng = np.random.default_rng(0)
    rms = rng.uniform(2000, 4000, n).astype(np.float32)
    for a, b in quiet:
        rms[a // frame_ms:b // frame_ms] = 10.0
    return EnergyProfile(duration_ms=duration_ms, frame_ms=frame_ms, rms=rms)


def test_limits_have_sources_and_derive_the_hard_bound():
    """Every limit names its source; the hard window bound is what 25,000,000 bytes hold (about 781 s)."""
    assert set(V1_LIMIT_SOURCES) == {f.name for f in dataclasses.fields(V1Limits)}
    assert LIMITS.max_request_bytes == 25_000_000 and LIMITS.bytes_per_ms == 32
    assert 780_000 <= LIMITS.max_window_ms <= 781_250 and LIMITS.window_target_ms == 720_000
    assert LIMITS.min_window_ms == 10_000 and LIMITS.max_media_seconds >= 24 * 3600
    assert repr(dataclasses.replace(LIMITS, window_target_ms=5)) == "V1Limits(window_target_ms=5)"


def test_the_longest_window_fits_a_real_multipart_body():
    """The longest window, as a WAV with a config part and a filename, encodes under 25,000,000 bytes."""
    w = Window(0, LIMITS.max_window_ms)
    wav = b"\0" * (44 + w.duration_ms * 32)
    request = httpx.Request("POST", "http://127.0.0.1/v1/expression/audio/file",
                            files={"config": (None, b'{"measurement_timer_ms": 10000}', "application/json"),
                                   "file": ("recording-with-a-long-name-0001.wav", wav, "audio/wav")})
    body = request.read()
    assert len(body) <= LIMITS.max_request_bytes <= len(body) + LIMITS.multipart_margin_bytes


def test_thirty_minutes_cut_in_the_known_silences():
    """A 30-minute recording is cut inside the silences placed before each 12-minute bound."""
    duration = 30 * 60 * 1000
    silences = [(690_000, 694_000), (1_380_000, 1_382_000)]
    windows = plan_windows(duration, energy=_profile(duration, silences))
    _check_tiling(windows, duration)
    assert len(windows) == 3
    for w, (a, b) in zip(windows, silences, strict=False):
        assert a <= w.end_ms <= b


def test_without_energy_windows_are_equal():
    """With no energy profile, the recording is cut into equal windows at whole ms."""
    windows = plan_windows(1_800_001)
    _check_tiling(windows, 1_800_001)
    assert max(w.duration_ms for w in windows) - min(w.duration_ms for w in windows) <= 1


@pytest.mark.parametrize("duration", [0, 4_000, 10_000, LONGEST, LONGEST + 1, LONGEST + 5_000, 2 * LONGEST + 3_000])
def test_edges_make_no_short_window_when_it_can_merge(duration: int):
    """Around the bounds: one window when it fits, never a window under 10 s beside another."""
    windows = plan_windows(duration, energy=_profile(duration, []))
    if duration == 0:
        assert windows == []
        return
    _check_tiling(windows, duration)
    assert len(windows) == (1 if duration <= LONGEST else -(-duration // LONGEST))


def test_a_quiet_end_does_not_leave_a_short_tail():
    """Silence just before the end would be the quietest cut, but it would leave a tail under 10 s."""
    duration = LONGEST + 6_000
    windows = plan_windows(duration, energy=_profile(duration, [(duration - 3_000, duration)]))
    _check_tiling(windows, duration)


@settings(max_examples=60, deadline=None)
@given(duration=st.integers(1, 4 * 3600 * 1000), seed=st.integers(0, 2**16),
       target=st.sampled_from([60_000, 300_000, 720_000, 900_000]))
def test_any_recording_tiles_within_the_limits(duration: int, seed: int, target: int):
    """For any duration, energy and target: contiguous, monotone, within the body limit, none short."""
    limits = dataclasses.replace(LIMITS, window_target_ms=target)
    n = -(-duration // 100)
    energy = EnergyProfile(duration, 100, np.random.default_rng(seed).uniform(0, 5000, n).astype(np.float32))
    windows = plan_windows(duration, energy=energy, limits=limits)
    _check_tiling(windows, duration, limits)


def test_energy_profile_and_windows_from_a_long_file(tmp_path: Path):
    """A 30-minute file's profile finds its silences; its windows are read back with exact sample counts."""
    duration_s = 30 * 60
    silences = [(700.0, 703.0), (1390.0, 1393.0)]
    speech, t = [], 0.2
    while t < duration_s - 1:  # near-continuous speech: 2.5 s bursts, 0.2 s breaths, except the silences
        end = min(t + 2.5, duration_s - 0.5)
        if not any(a - 0.3 < e and s < b + 0.3 for s, e in [(t, end)] for a, b in silences):
            speech.append((t, end))
        t = end + 0.2
    path = make_audio(tmp_path / "long.flac", format="flac", duration=duration_s, segments=speech, sample_rate=16_000)
    profile, windows = plan_file_windows(path)
    assert profile.duration_ms == duration_s * 1000 and len(profile.rms) == duration_s * 10
    _check_tiling(windows, profile.duration_ms)
    assert len(windows) == 3
    for w, (a, b) in zip(windows, silences, strict=False):
        assert a * 1000 <= w.end_ms <= b * 1000
    sizes = [len(pcm) for pcm in read_windows(path, windows)]
    assert sizes == [w.duration_ms * 32 for w in windows]


def test_energy_profile_frames_and_partial_tail(tmp_path: Path):
    """RMS per 100 ms with a partial last frame; loud where the speech is."""
    path = make_audio(tmp_path / "a.wav", duration=1.05, segments=[(0.0, 0.5)])
    profile = energy_profile(path)
    assert profile.duration_ms == 1050 and len(profile.rms) == 11
    assert profile.rms[1:4].min() > 50 * profile.rms[6:].max()
