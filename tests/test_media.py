"""Tests for humekit.pipeline.media: types from content, durations from headers, never raising on bad content."""

from __future__ import annotations

import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from humekit.testing import synthetic
from humekit.pipeline.media import MediaInfo, parse_wav, probe


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


def test_mislabelled_bytes_detected_by_content():
    """A WAV named .mp3 and a PNG named .wav are reported as what they are."""
    assert probe(synthetic.make_wav(segments=[(0, 1)]), filename="clip.mp3").media_type == "audio/wav"
    image = probe(synthetic.make_image(), filename="voice.wav")
    assert (image.kind, image.media_type) == ("image", "image/png")


def test_mislabelled_path_detected_by_content(tmp_path):
    """A file on disk is typed by content too, and path and bytes give the same answer."""
    path = tmp_path / "really_a_video.wav"
    data = synthetic.make_mp4(path, duration=4.0)
    assert probe(path) == probe(data) and probe(path).media_type == "video/mp4"


def test_mp3_duration():
    """An MP3's duration comes from mutagen, within one frame."""
    info = probe(synthetic.make_mp3(duration=7.3))
    assert info.media_type == "audio/mpeg" and info.duration == pytest.approx(7.3, abs=0.03)


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


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_image_type_and_size(fmt, mime):
    """Images report their MIME type and pixel size."""
    info = probe(synthetic.make_image(width=123, height=77, format=fmt))
    assert info == MediaInfo("image", mime, None, 123, 77)


@pytest.mark.parametrize(("compression", "mime"), [
    ("gz", "application/gzip"), ("bz2", "application/x-bzip2"), ("xz", "application/x-xz"), ("", "application/x-tar"),
])
def test_tar_archives(compression, mime):
    """Compressed and plain tars are archives, whatever their name."""
    info = probe(synthetic.make_tar(members={"a.txt": b"hello"}, compression=compression), filename="x.bin")
    assert (info.kind, info.media_type) == ("archive", mime)


def test_zip_archive():
    """A ZIP is an archive."""
    assert probe(synthetic.make_zip(members={"faces/1.png": synthetic.make_image()})).kind == "archive"


def test_gzip_of_non_tar_is_not_an_archive():
    """A gzip stream that holds no tar is not an archive Hume accepts."""
    import gzip

    assert probe(gzip.compress(b"just text" * 100)) == MediaInfo("unknown", "application/gzip", None)


def test_text_detected_with_extension_type():
    """UTF-8 text is text; a text-ish extension refines its MIME type."""
    assert probe("héllo wörld\n".encode()) == MediaInfo("text", "text/plain", None)
    assert probe(b"a,b\n1,2\n", filename="t.csv").media_type == "text/csv"


def test_pdf_is_unknown():
    """A PDF is reported with its type but as an unknown (unsupported) kind."""
    assert probe(b"%PDF-1.7\n%...", filename="paper.pdf") == MediaInfo("unknown", "application/pdf", None)


@pytest.mark.parametrize(("make", "kind", "mime"), [
    (lambda: synthetic.make_wav(segments=[(0, 1)])[:30], "audio", "audio/wav"),
    (lambda: synthetic.make_mp4()[:20], "video", "video/mp4"),
    (lambda: synthetic.make_webm()[:60], "video", "video/webm"),
    (lambda: synthetic.make_mp3()[:3], "audio", "audio/mpeg"),
])
def test_truncated_keeps_kind_without_duration(make, kind, mime):
    """A truncated file keeps its kind (from content or name) and has no duration."""
    info = probe(make(), filename="x" + {"audio/mpeg": ".mp3"}.get(mime, ""))
    assert (info.kind, info.media_type, info.duration) == (kind, mime, None)


def test_unrecognised_content_falls_back_to_extension():
    """Bytes with no signature are typed by extension, without a duration."""
    assert probe(bytes(range(256)) * 4, filename="clip.mp4") == MediaInfo("video", "video/mp4", None)
    assert probe(bytes(range(256)) * 4) == MediaInfo("unknown", None, None)


def test_missing_path_raises_oserror(tmp_path):
    """Only an unreadable path raises, with an OSError the caller can report."""
    with pytest.raises(OSError):
        probe(tmp_path / "nope.wav")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=4096), name=st.sampled_from([None, "a.wav", "a.mp4", "a.png", "a.zip", "a.txt"]))
def test_random_bytes_never_raise(data, name):
    """Arbitrary bytes never make probe raise."""
    assert isinstance(probe(data, filename=name), MediaInfo)


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=0, max_value=400), which=st.sampled_from(["wav", "mp4", "webm", "png", "tgz"]))
def test_truncations_never_raise(cut, which):
    """Every prefix of a valid file probes without raising."""
    makers = {"wav": lambda: synthetic.make_wav(segments=[(0, 0.5)], duration=1), "mp4": synthetic.make_mp4,
              "webm": synthetic.make_webm, "png": synthetic.make_image,
              "tgz": lambda: synthetic.make_tar(members={"a": b"b"})}
    assert isinstance(probe(makers[which]()[:cut]), MediaInfo)


def test_reads_headers_only(tmp_path):
    """A 2 GB (sparse) WAV is probed in milliseconds: only headers are read."""
    path = tmp_path / "huge.wav"
    size = 2_000_000_000
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    header = b"RIFF" + struct.pack("<I", size - 8) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    header += b"data" + struct.pack("<I", size - 44)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(size)
    start = time.perf_counter()
    info = probe(path)
    assert time.perf_counter() - start < 0.5
    assert info.duration == pytest.approx((size - 44) / 32000)


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
