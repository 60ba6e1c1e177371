"""Tests for humekit.pipeline.media (probe): types from content first, names second, never raising on bad content."""

from __future__ import annotations

import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from humekit.testing import synthetic
from humekit.pipeline.media import MediaInfo, probe


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
