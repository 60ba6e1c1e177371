"""Tests for humekit.pipeline.media.audio: compressed audio typed by signature, its length from mutagen."""

from __future__ import annotations

import pytest

from humekit.testing import synthetic
from humekit.pipeline.media import probe


def test_mp3_duration():
    """An MP3's duration comes from mutagen, within one frame."""
    info = probe(synthetic.make_mp3(duration=7.3))
    assert info.media_type == "audio/mpeg" and info.duration == pytest.approx(7.3, abs=0.03)
