"""Tests for humekit.testing.synthetic: real, deterministic media files for tests and demos."""

from __future__ import annotations

import io
import tarfile
import wave
import zipfile

import numpy as np
import pytest
from PIL import Image

from humekit.testing import synthetic
from humekit.pipeline.media import probe


def _samples(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float) / 32768, w.getframerate()


def test_make_wav_is_16bit_mono_pcm_of_the_duration():
    """make_wav writes 16-bit mono PCM that the stdlib reads, at the requested rate and length."""
    data = synthetic.make_wav(segments=[(0.5, 1.0)], duration=2.5, sample_rate=22050)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 22050, 55125)


def test_make_wav_writes_the_returned_bytes(tmp_path):
    """With a path, the file on disk holds exactly the returned bytes."""
    path = tmp_path / "a.wav"
    data = synthetic.make_wav(path, segments=[(0.1, 0.5)])
    assert path.read_bytes() == data


def test_make_wav_deterministic_per_seed():
    """The same seed gives the same bytes; another seed gives other bytes."""
    a = synthetic.make_wav(segments=[(0.2, 1.2)], seed=3)
    assert a == synthetic.make_wav(segments=[(0.2, 1.2)], seed=3)
    assert a != synthetic.make_wav(segments=[(0.2, 1.2)], seed=4)


def test_make_wav_voiced_inside_segments_quiet_outside():
    """Segments are loud and voiced; the rest is near-silence (>40 dB quieter)."""
    x, sr = _samples(synthetic.make_wav(segments=[(1.0, 2.0), (3.0, 3.5)], duration=4.0))
    inside = np.concatenate([x[int(1.05 * sr) : int(1.95 * sr)], x[int(3.05 * sr) : int(3.45 * sr)]])
    outside = np.concatenate([x[: int(0.95 * sr)], x[int(2.05 * sr) : int(2.95 * sr)], x[int(3.55 * sr) :]])
    rms = lambda v: float(np.sqrt(np.mean(v**2)))  # noqa: E731
    assert 20 * np.log10(rms(inside) / rms(outside)) > 40
    # Voiced: a clear fundamental between 80 and 300 Hz, not white noise.
    burst = x[int(1.2 * sr) : int(1.7 * sr)]
    spectrum = np.abs(np.fft.rfft(burst * np.hanning(len(burst))))
    peak_hz = np.argmax(spectrum[1:]) * sr / len(burst)
    assert 80 < peak_hz < 900


def test_make_wav_default_segments_and_duration():
    """Without segments, make_wav draws random_segments over a 10 s file."""
    assert probe(synthetic.make_wav(duration=10.0)).duration == pytest.approx(10.0)


def test_make_wav_rejects_unknown_encoding():
    """An unknown encoding is an error that names the valid ones."""
    with pytest.raises(ValueError, match="pcm16"):
        synthetic.make_wav(segments=[], encoding="mu-law")


@pytest.mark.parametrize("seed", range(5))
def test_random_segments_sorted_gapped_inside(seed):
    """random_segments are sorted, inside the file and separated by ≥ min_gap."""
    segments = synthetic.random_segments(60.0, seed=seed)
    assert segments and segments[0][0] >= 0 and segments[-1][1] <= 60.0
    for (b1, e1), (b2, _) in zip(segments, segments[1:], strict=False):
        assert b1 < e1 and b2 - e1 >= 0.5 - 1e-9


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_make_image_size_format_and_determinism(fmt):
    """make_image encodes the requested size and format, identically for one seed."""
    data = synthetic.make_image(width=200, height=260, seed=1, format=fmt)
    with Image.open(io.BytesIO(data)) as img:
        assert (img.format, img.size) == (fmt, (200, 260))
    assert data == synthetic.make_image(width=200, height=260, seed=1, format=fmt)
    assert data != synthetic.make_image(width=200, height=260, seed=2, format=fmt)


def test_make_image_draws_a_face():
    """The centre of the image differs from its background corner (a face is drawn)."""
    with Image.open(io.BytesIO(synthetic.make_image(seed=5))) as img:
        rgb = np.asarray(img.convert("RGB")).astype(int)
    assert np.abs(rgb[200, 160] - rgb[2, 2]).sum() > 30


@pytest.mark.parametrize(("make", "mime"), [
    (synthetic.make_mp3, "audio/mpeg"), (synthetic.make_mp4, "video/mp4"), (synthetic.make_webm, "video/webm"),
])
def test_containers_state_their_duration(make, mime):
    """The MP3, MP4 and WebM containers probe to the requested duration."""
    info = probe(make(duration=42.0))
    assert info.media_type == mime and info.duration == pytest.approx(42.0, abs=0.03)


def test_make_zip_and_tar_hold_members():
    """make_zip and make_tar pack exactly the given members, deterministically."""
    members = {"faces/1.png": b"png", "notes.txt": b"hello"}
    with zipfile.ZipFile(io.BytesIO(synthetic.make_zip(members=members))) as zf:
        assert {n: zf.read(n) for n in zf.namelist()} == members
    data = synthetic.make_tar(members=members, compression="xz")
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert {m.name: tf.extractfile(m).read() for m in tf.getmembers()} == members
    assert synthetic.make_zip(members=members) == synthetic.make_zip(members=members)
    assert synthetic.make_tar(members=members) == synthetic.make_tar(members=members)
