"""Tests for humekit.backends.v1.audio: every format to 16 kHz mono s16, exact windows, clear errors."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from humekit.backends.v1.audio import (
    SAMPLES_PER_MS,
    pcm_chunks,
    probe_audio,
    read_window,
    read_windows,
    sample_chunks,
    wav_bytes,
)
from humekit.backends.v1.windows import Window
from humekit.errors import HumekitError, MediaDecodeError
from humekit.testing.media import make_audio, make_video
from humekit.testing.synthetic import make_wav

SEGMENTS = [(0.5, 1.3), (2.0, 2.7)]  # speech; silence elsewhere
DURATION = 3.0

# name -> how to make it
AUDIO_CASES = {
    "wav-16k-mono-s16": dict(format="wav"),
    "wav-44k1-stereo-s16": dict(format="wav", sample_rate=44_100, channels=2),
    "wav-8k-u8": dict(format="wav-u8"),
    "wav-48k-stereo-s24": dict(format="wav-s24", channels=2),
    "wav-22k-f32": dict(format="wav-f32"),
    "mp3-stereo": dict(format="mp3", channels=2),
    "m4a-aac": dict(format="m4a"),
    "flac": dict(format="flac", channels=2),
    "ogg-opus": dict(format="opus"),
}
VIDEO_CASES = ("mp4", "mov", "webm")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every format, made by the project's own PyAV makers (plus an extensible float WAV from synthetic)."""
    folder = tmp_path_factory.mktemp("v1-audio")
    files = {name: make_audio(folder / f"{name}.bin", duration=DURATION, segments=SEGMENTS, **kw)
             for name, kw in AUDIO_CASES.items()}
    for fmt in VIDEO_CASES:
        files[fmt] = make_video(folder / f"clip.{fmt}", format=fmt, duration=DURATION, fps=10, segments=SEGMENTS)
    files["wav-extensible-f32"] = folder / "ext.wav"
    make_wav(files["wav-extensible-f32"], segments=SEGMENTS, duration=DURATION, sample_rate=48_000, channels=2,
             encoding="float32")
    return files


def _samples(path: Path, **kw: int) -> np.ndarray:
    return np.frombuffer(b"".join(pcm_chunks(path, **kw)), dtype="<i2")


def _rms(x: np.ndarray, begin: float, end: float) -> float:
    return float(np.sqrt(np.mean(x[int(begin * 16000):int(end * 16000)].astype(np.float64) ** 2)))


@pytest.mark.parametrize("name", [*AUDIO_CASES, *VIDEO_CASES, "wav-extensible-f32"])
def test_every_format_converts_to_16k_mono_s16(media: dict[str, Path], name: str):
    """Each format decodes to 16 kHz mono s16 of the right length, speech where it was put, silence elsewhere."""
    info = probe_audio(media[name])
    assert info.has_audio and info.duration is not None and abs(info.duration - DURATION) < 0.05
    assert info.sample_rate and info.channels and info.codec
    x = _samples(media[name])
    assert abs(len(x) / 16000 - DURATION) < 0.05  # AAC's last frame adds up to ~20 ms
    speech, quiet = _rms(x, 0.6, 1.2), _rms(x, 1.5, 1.9)
    assert speech > 1000 and quiet < 50, (speech, quiet)
    with wave.open(io.BytesIO(wav_bytes(x.tobytes()))) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (16000, 1, 2, len(x))


def test_video_probe_reports_both_streams(media: dict[str, Path]):
    """A video's audio track is probed, and the video stream is noted."""
    info = probe_audio(media["mp4"])
    assert info.has_video and info.has_audio and info.codec == "aac"


@pytest.mark.parametrize("name", ["wav-16k-mono-s16", "mp3-stereo", "m4a-aac", "flac", "ogg-opus", "webm"])
def test_windows_have_exact_sample_counts(media: dict[str, Path], name: str):
    """A window [a, b) is exactly (b - a) * 16 samples, read alone (seeking) or in one pass."""
    spans = [Window(0, 1000), Window(1000, 1999), Window(1999, 3000)]
    for w in spans:
        assert len(read_window(media[name], w.start_ms, w.end_ms)) == w.duration_ms * SAMPLES_PER_MS * 2
    assert [len(b) for b in read_windows(media[name], spans)] == [w.duration_ms * 32 for w in spans]


@pytest.mark.parametrize("name", ["wav-16k-mono-s16", "wav-44k1-stereo-s16", "mp3-stereo", "m4a-aac", "flac"])
def test_one_pass_windows_are_the_whole_recording(media: dict[str, Path], name: str):
    """read_windows' windows, concatenated, are the whole conversion: sample-exact, no gap, no overlap; also as WAVs."""
    whole = b"".join(pcm_chunks(media[name], end_ms=3000))
    spans = [Window(0, 700), Window(700, 2100), Window(2100, 3000)]
    assert b"".join(read_windows(media[name], spans)) == whole
    assert list(read_windows(media[name], spans, wav=True)) == [wav_bytes(pcm) for pcm in read_windows(media[name], spans)]


@pytest.mark.parametrize("name", ["wav-16k-mono-s16", "wav-48k-stereo-s24", "mp3-stereo", "m4a-aac", "flac"])
def test_seeking_lands_on_the_same_samples(media: dict[str, Path], name: str):
    """A window read alone (after a seek) lines up with the same stretch of a full decode."""
    whole = _samples(media[name]).astype(np.float64)
    part = np.frombuffer(read_window(media[name], 1500, 2900), dtype="<i2").astype(np.float64)
    ref = whole[1500 * 16:2900 * 16]
    lags = range(-16, 17)
    best = max(lags, key=lambda lag: float(np.dot(part[400:-400], whole[1500 * 16 + 400 + lag:2900 * 16 - 400 + lag])))
    assert best == 0
    assert np.corrcoef(part, ref)[0, 1] > 0.99
    if name == "wav-16k-mono-s16":  # no resampling: bit-exact
        assert np.array_equal(part, ref)


def test_chunks_stream_rather_than_hold_the_recording(tmp_path: Path):
    """A minute of audio comes out in many small pieces: the decoder never hands back the whole recording."""
    path = make_audio(tmp_path / "long.flac", format="flac", duration=60.0)
    sizes = [len(c) for c in sample_chunks(path)]
    assert sum(sizes) == 60 * 16000 and max(sizes) < 16000  # no piece is over a second


def test_end_past_the_audio_is_padded_a_little_and_refused_a_lot(media: dict[str, Path]):
    """A window ending up to 1 s past the audio is padded with silence; further is a clear error."""
    tail = np.frombuffer(read_window(media["wav-16k-mono-s16"], 2500, 3400), dtype="<i2")
    assert len(tail) == 900 * 16 and not tail[-400 * 16:].any()
    with pytest.raises(MediaDecodeError, match="before the window's end"):
        read_window(media["wav-16k-mono-s16"], 2500, 5000)


def test_bad_window_bounds_are_value_errors(media: dict[str, Path]):
    """Negative, reversed, empty or overlapping windows are refused before any decoding."""
    with pytest.raises(ValueError):
        read_window(media["flac"], 500, 100)
    with pytest.raises(ValueError):
        list(read_windows(media["flac"], [Window(0, 1000), Window(900, 2000)]))
    with pytest.raises(ValueError):
        list(read_windows(media["flac"], [Window(100, 100)]))


def test_undecodable_empty_and_audioless_files_raise_clear_errors(tmp_path: Path):
    """Garbage, a 0-byte file and a silent video each raise a MediaDecodeError that names the file and what to do."""
    garbage = tmp_path / "noise.mp3"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    silent = make_video(tmp_path / "silent.mp4", duration=1.0, audio=False)
    for path, reason in [(garbage, "undecodable"), (empty, "empty"), (silent, "no audio stream")]:
        with pytest.raises(MediaDecodeError) as caught:
            b"".join(pcm_chunks(path))
        assert caught.value.reason == reason and str(path) in str(caught.value)
        assert "drop its row" in str(caught.value)
        assert isinstance(caught.value, HumekitError)
    assert probe_audio(silent).has_audio is False  # probing tells; only conversion refuses
    with pytest.raises(MediaDecodeError):
        probe_audio(garbage)
    with pytest.raises(FileNotFoundError):
        probe_audio(tmp_path / "missing.wav")


def test_wav_bytes_writes_a_plain_44_byte_header():
    """wav_bytes puts a format-tag-1 (never extensible) 16 kHz mono 16-bit header before the PCM."""
    data = wav_bytes(b"\x01\x00" * 10)
    assert len(data) == 44 + 20 and data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    assert int.from_bytes(data[20:22], "little") == 1
    with pytest.raises(ValueError):
        wav_bytes(b"\x00")
