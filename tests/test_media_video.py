"""Tests for humekit.pipeline.media.video: MP4, WebM and AVI durations, sizes, tracks and frame rates."""

from __future__ import annotations

import struct

import pytest

from humekit.testing import synthetic
from humekit.pipeline.media import MediaInfo, probe


@pytest.mark.parametrize("audio", [True, False])
def test_mp4_tracks_size_and_duration(audio):
    """An MP4 states duration, frame size and whether it has an audio track."""
    info = probe(synthetic.make_mp4(duration=12.5, width=800, height=600, audio=audio))
    assert info == MediaInfo("video", "video/mp4", 12.5, 800, 600, has_audio=audio)


def test_audio_only_mp4_is_audio():
    """An ISO-BMFF file with only a sound track is audio/mp4 (an .m4a)."""
    info = probe(synthetic.make_mp4(duration=3.0, video=False), filename="song.mp4")
    assert (info.kind, info.media_type, info.duration) == ("audio", "audio/mp4", 3.0)


@pytest.mark.parametrize("audio", [True, False])
def test_webm_duration_and_tracks(audio):
    """A WebM's duration and tracks are read from its EBML header."""
    info = probe(synthetic.make_webm(duration=4.25, width=320, height=240, audio=audio))
    assert info == MediaInfo("video", "video/webm", 4.25, 320, 240, has_audio=audio)


@pytest.mark.parametrize("fps", [30000 / 1001, 25.0, 24.0, 60.0])
def test_mp4_frame_rate_from_the_sample_table(fps):
    """An MP4's video frame rate comes from its sample table and media time scale (29.97 fps exactly)."""
    info = probe(synthetic.make_mp4(duration=4.0, fps=fps))
    assert info.frame_rate == pytest.approx(fps, rel=1e-12) and info.duration == pytest.approx(4.0)
    assert probe(synthetic.make_mp4(duration=4.0)).frame_rate is None  # no sample table: unknown, not 25


@pytest.mark.parametrize("audio", [True, False])
def test_webm_frame_rate_is_the_video_tracks(audio):
    """A WebM's frame rate is the video track's DefaultDuration, not the (first) audio track's 20 ms."""
    assert probe(synthetic.make_webm(fps=24.0, audio=audio)).frame_rate == pytest.approx(24.0)
    assert probe(synthetic.make_webm(audio=audio)).frame_rate is None


def test_avi_main_header_frame_rate_duration_and_size():
    """An AVI's avih states microseconds per frame, the frame count and the size."""
    avih = struct.pack("<10I", 33367, 0, 0, 0, 300, 0, 1, 0, 720, 480) + bytes(16)
    hdrl = b"hdrl" + b"avih" + struct.pack("<I", len(avih)) + avih
    riff = b"AVI " + b"LIST" + struct.pack("<I", len(hdrl)) + hdrl
    info = probe(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    assert (info.kind, info.media_type, info.width, info.height) == ("video", "video/x-msvideo", 720, 480)
    assert info.frame_rate == pytest.approx(29.97, abs=0.001) and info.duration == pytest.approx(300 * 0.033367)
