"""Tests for humekit.pipeline.media.wav: WAV durations and formats, float and EXTENSIBLE included."""

from __future__ import annotations

import pytest

from humekit.testing import synthetic
from humekit.pipeline.media import parse_wav, probe


def test_wav_type_and_duration():
    """A PCM WAV is audio/wav and its duration comes from the data chunk."""
    info = probe(synthetic.make_wav(segments=[(0.5, 1.5)], duration=3.25))
    assert (info.kind, info.media_type) == ("audio", "audio/wav")
    assert info.duration == pytest.approx(3.25, abs=1e-3)


@pytest.mark.parametrize("channels", [1, 2])
def test_float_extensible_wav_duration(channels):
    """WAVE_FORMAT_EXTENSIBLE with float samples (which 3.11's wave rejects) still gets a duration."""
    data = synthetic.make_wav(segments=[(0.2, 0.8)], duration=2.0, encoding="float32", channels=channels,
                              sample_rate=44100)
    assert data[20:22] == b"\xfe\xff"  # really EXTENSIBLE
    info = probe(data)
    assert info.media_type == "audio/wav" and info.duration == pytest.approx(2.0, abs=1e-3)


def test_parse_wav_resolves_extensible_subformat():
    """parse_wav reports the float subformat of an EXTENSIBLE header, not 0xFFFE."""
    import io

    fmt = parse_wav(io.BytesIO(synthetic.make_wav(segments=[], duration=1.0, encoding="float32")))
    assert fmt is not None and (fmt.format_tag, fmt.bits, fmt.sample_rate) == (3, 32, 16000)
