"""Tests for humekit.backends.v1.frames: JPEGs within v1's limits, frames at <= fps with times, batches."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from humekit.backends.v1.frames import Frame, batch_body_bound, batch_frames, image_jpeg, iter_batches, video_frames
from humekit.backends.v1.limits import DEFAULT_V1_LIMITS as LIMITS
from humekit.errors import MediaDecodeError
from humekit.testing.media import make_audio, make_photo, make_video


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _within_limits(data: bytes) -> Image.Image:
    img = _open(data)
    assert img.format == "JPEG" and len(data) <= LIMITS.max_image_bytes
    assert img.width * img.height <= LIMITS.max_image_pixels
    return img


@pytest.mark.parametrize("kw", [
    dict(format="PNG", alpha=True),
    dict(format="PNG"),
    dict(format="WEBP"),
    dict(format="WEBP", alpha=True),
    dict(format="BMP"),
    dict(format="TIFF"),
], ids=["png-alpha", "png", "webp", "webp-alpha", "bmp", "tiff"])
def test_images_become_jpegs_of_the_same_picture(tmp_path: Path, kw: dict[str, object]):
    """PNG, WebP, BMP and TIFF (with or without alpha) become JPEGs of the same size within the limits."""
    path = tmp_path / "face"
    make_photo(path, width=400, height=300, **kw)  # type: ignore[arg-type]  # kw: the parametrized options
    img = _within_limits(image_jpeg(path))
    assert img.size == (400, 300) and img.mode == "RGB"


def test_an_upright_jpeg_within_limits_is_sent_as_it_is(tmp_path: Path):
    """A JPEG already within the limits is not re-encoded (no generation loss)."""
    data = make_photo(tmp_path / "a.jpg", width=640, height=480)
    assert image_jpeg(tmp_path / "a.jpg") == data


def test_a_large_photo_is_scaled_and_recompressed(tmp_path: Path):
    """A 20-megapixel grainy JPEG of 10+ MB comes out under 8,294,400 px and 2 MB, aspect kept."""
    data = make_photo(tmp_path / "big.jpg", width=5000, height=4000, noise=40)
    assert len(data) > 5 * LIMITS.max_image_bytes
    img = _within_limits(image_jpeg(tmp_path / "big.jpg"))
    assert abs(img.width / img.height - 1.25) < 0.01 and img.width * img.height > 0.9 * LIMITS.max_image_pixels


def test_a_small_but_heavy_image_is_recompressed(tmp_path: Path):
    """An image within the pixel limit but over 2 MB (grain at quality 100) is brought under 2 MB."""
    make_photo(tmp_path / "grain.png", width=1800, height=1400, noise=60, format="PNG")
    assert (tmp_path / "grain.png").stat().st_size > LIMITS.max_image_bytes
    _within_limits(image_jpeg(tmp_path / "grain.png"))


def test_exif_orientation_is_applied(tmp_path: Path):
    """Orientation 6 (rotate 90 degrees to view) turns a stored 400x300 image into an upright 300x400 JPEG."""
    make_photo(tmp_path / "turned.jpg", width=400, height=300, orientation=6)
    assert _within_limits(image_jpeg(tmp_path / "turned.jpg")).size == (300, 400)


def test_unreadable_images_raise_clear_errors(tmp_path: Path):
    """Text, a truncated JPEG and an empty file each raise a MediaDecodeError naming the file."""
    (tmp_path / "notes.png").write_text("not an image")
    data = make_photo(width=640, height=480)
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.jpg").write_bytes(b"")
    for name in ("notes.png", "cut.jpg", "empty.jpg"):
        with pytest.raises(MediaDecodeError, match="drop its row") as caught:
            image_jpeg(tmp_path / name)
        assert name in str(caught.value)


@pytest.mark.parametrize("fmt,fps", [("mp4", 30000 / 1001), ("mov", 25.0), ("webm", 30.0)])
def test_video_frames_are_sampled_at_most_fps_with_rising_times(tmp_path: Path, fmt: str, fps: float):
    """Frames at <= 3 fps by default: timestamps from the stream, rising, about 1/3 s apart, JPEGs within limits."""
    path = make_video(tmp_path / f"clip.{fmt}", format=fmt, duration=5.0, fps=fps, width=320, height=240)
    frames = list(video_frames(path))
    times = [f.timestamp_ms for f in frames]
    assert [f.index for f in frames] == list(range(len(frames)))
    assert times[0] == 0 and all(b > a for a, b in zip(times, times[1:], strict=False))
    assert 14 <= len(frames) <= 5 * 3 + 1  # <= fps on average over the clip
    assert all(b - a >= 1000 / 3 - 1000 / fps - 1 for a, b in zip(times, times[1:], strict=False))
    for f in frames[:3]:
        assert _within_limits(f.jpeg).size == (f.width, f.height) == (320, 240)


def test_video_frames_options(tmp_path: Path):
    """fps=1 takes a frame a second; max_width scales frames down with their aspect kept."""
    path = make_video(tmp_path / "clip.mp4", duration=4.0, fps=30.0, width=640, height=360)
    frames = list(video_frames(path, fps=1.0, max_width=320))
    assert [f.timestamp_ms for f in frames] == [0, 1000, 2000, 3000]
    assert (frames[0].width, frames[0].height) == (320, 180)
    with pytest.raises(ValueError):
        next(video_frames(path, fps=0))


def test_video_frames_refuse_media_without_video(tmp_path: Path):
    """Audio-only media has no faces: a MediaDecodeError that says to measure speech instead."""
    path = make_audio(tmp_path / "speech.m4a", format="m4a", duration=1.0)
    with pytest.raises(MediaDecodeError, match="no video stream"):
        next(video_frames(path))


def _frames(n: int, size: int) -> list[Frame]:
    return [Frame(i, i * 333, bytes([i % 256]) * size, 8, 8) for i in range(n)]


def _check_batches(batches: list[list[Frame]], frames: list[Frame]) -> None:
    assert [f for batch in batches for f in batch] == frames  # every frame once, in order
    for batch in batches:
        assert batch and batch_body_bound(batch) <= LIMITS.max_request_bytes


@pytest.mark.parametrize("n,size", [(10, 50_000), (100, 100_000), (250, 200_000), (2_000, 150_000), (123, 199_000)])
def test_batches_hold_at_least_30_and_at_most_25_mb(n: int, size: int):
    """Small frames: requests of >= 30 images (the billing minimum) and <= 25 MB, in order."""
    frames = _frames(n, size)
    batches = batch_frames(frames)
    _check_batches(batches, frames)
    assert all(len(b) >= min(30, n) for b in batches)


def test_large_frames_are_batched_by_bytes():
    """Frames near 2 MB cannot make 30 to a request: each request is as full as 25 MB allows."""
    frames = _frames(40, 1_900_000)
    batches = batch_frames(frames)
    _check_batches(batches, frames)
    assert [len(b) for b in batches] == [13, 13, 13, 1]


def test_batches_stream_with_bounded_lookahead():
    """iter_batches yields a request before the whole video is read (it holds at most two requests)."""
    seen: list[int] = []

    def frames():
        for f in _frames(1_000, 200_000):
            seen.append(f.index)
            yield f

    first = next(iter_batches(frames()))
    assert len(first) >= 30 and len(seen) < 400


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_sampling_from_a_later_frame_gives_the_full_passs_frames(tmp_path: Path, fmt: str) -> None:
    """video_frames(start=(index, ms)) seeks and gives the same frames, indices and JPEGs as a full pass from there."""
    path = make_video(tmp_path / f"clip.{fmt}", format=fmt, duration=12.0, fps=30.0, width=320, height=240)
    full = list(video_frames(path))
    later = list(video_frames(path, start=(full[20].index, full[20].timestamp_ms)))
    assert [(f.index, f.timestamp_ms, f.jpeg) for f in later] == [(f.index, f.timestamp_ms, f.jpeg) for f in full[20:]]
