"""Faces for v1: images as JPEGs within its limits, videos sampled as timestamped JPEG frames, frames batched.

v1's video endpoint takes JPEG images only (each <= 2 MB and <= 8,294,400 px, hume-v1-api.md §3), answers
per image with no time field, and bills 1/3 s per image with a 10 s minimum per request. So humekit:

- converts any image Pillow reads (:func:`image_jpeg`), EXIF orientation applied, since v1's boxes are in
  the pixels as stored; a JPEG already within the limits and upright is sent as it is;
- samples a video at <= 3 frames per second (:func:`video_frames`), keeping each frame's timestamp
  (from the stream's timestamps, on the clock of :mod:`~humekit.backends.v1.container`) itself;
- packs frames into requests of at least 30 images where possible and at most 25,000,000 bytes
  (:func:`batch_frames`, :func:`iter_batches`), in order, so one video's requests can chain ``face_state``.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import av
from PIL import Image, ImageOps, UnidentifiedImageError

from humekit.backends.v1.container import clock_origin, open_media, undecodable
from humekit.backends.v1.limits import DEFAULT_V1_LIMITS, V1Limits
from humekit.errors import MediaDecodeError

__all__ = ["Frame", "batch_body_bound", "batch_frames", "image_jpeg", "iter_batches", "to_jpeg", "video_frames"]

_EXIF_ORIENTATION = 0x0112
_LOWEST_QUALITY = 60  # below this JPEG artefacts hurt face detection more than a smaller image does
_TIMESTAMP_SLACK = Fraction(1, 1000)  # a frame up to 1 ms early still takes its slot (timestamps round)


@dataclass(frozen=True, slots=True)
class Frame:
    """One image to send: the ``index``-th frame sampled from a video (or an image), with its time."""

    index: int
    r"""Position among the frames sampled from this video, from 0."""
    timestamp_ms: int
    r"""When the frame is shown, ms on the recording's clock (v1's answer has no time: humekit keeps it)."""
    jpeg: bytes
    r"""The JPEG sent (<= 2 MB, <= 8,294,400 px)."""
    width: int
    r"""Pixels of :attr:`jpeg` (v1's bounding boxes are in these pixels)."""
    height: int
    r"""Pixels of :attr:`jpeg`."""


def image_jpeg(path: str | os.PathLike[str], *, limits: V1Limits = DEFAULT_V1_LIMITS, quality: int = 90) -> bytes:
    """Any image Pillow reads (PNG, JPEG, WebP, TIFF, BMP, GIF's first frame...) as a JPEG v1 accepts.

    EXIF orientation is applied, transparency is composited on white, an image over ``max_image_pixels`` is
    scaled down (aspect kept), and the quality (then the size) is lowered until the JPEG is within
    ``max_image_bytes``. An upright RGB or greyscale JPEG already within both limits is returned unchanged.

    Raises:
        OSError: the file cannot be opened.
        MediaDecodeError: the file is empty, not an image, truncated, or too large for Pillow to open safely.
    """
    name = os.fspath(path)
    data = _read_nonempty(name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # big photos are fine: we downscale
            img = Image.open(io.BytesIO(data))
            orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
            pixels = img.width * img.height
            if (img.format == "JPEG" and img.mode in ("RGB", "L") and orientation == 1
                    and pixels <= limits.max_image_pixels and len(data) <= limits.max_image_bytes):
                img.load()  # a truncated JPEG must not be sent as it is
                return data
            if img.format == "JPEG" and pixels > limits.max_image_pixels:
                scale = math.sqrt(limits.max_image_pixels / pixels)
                img.draft("RGB", (max(1, int(img.width * scale)), max(1, int(img.height * scale))))
            img.load()
            upright = ImageOps.exif_transpose(img)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as e:
        raise MediaDecodeError(
            f"{name} cannot be read as an image ({e}). Check that it is a complete PNG, JPEG, WebP... file, "
            "re-export it, or drop its row.", path=name, reason="undecodable") from e
    return to_jpeg(upright, limits=limits, quality=quality)


def to_jpeg(img: Image.Image, *, limits: V1Limits = DEFAULT_V1_LIMITS, quality: int = 90) -> bytes:
    """Encode ``img`` as a JPEG within v1's pixel and byte limits (scaling down, then lowering quality)."""
    img = _flatten(img)
    img = _fit_pixels(img, limits.max_image_pixels)
    while True:
        data = _encode(img, quality)
        if len(data) <= limits.max_image_bytes:
            return data
        if quality > _LOWEST_QUALITY:
            quality = max(_LOWEST_QUALITY, quality - 10)
        else:  # already at the lowest quality we accept: fewer pixels
            img = img.resize((max(1, int(img.width * 0.8)), max(1, int(img.height * 0.8))), Image.Resampling.LANCZOS)


def video_frames(path: str | os.PathLike[str], *, fps: float = DEFAULT_V1_LIMITS.max_frame_rate,
                 max_width: int = DEFAULT_V1_LIMITS.max_frame_width, quality: int = 85,
                 limits: V1Limits = DEFAULT_V1_LIMITS, start: tuple[int, int] = (0, 0)) -> Iterator[Frame]:
    """A video's frames sampled at most ``fps`` per second, as JPEGs with their timestamps, one at a time.

    The first frame shown at or after each ``k / fps`` s is taken (k = 0, 1, ...), so timestamps rise and
    the rate averages at most ``fps``; a video slower than ``fps`` gives every frame. Timestamps come
    from the stream's own timestamps (``pts``), so variable frame rates keep their true times. Frames
    are scaled to at most ``max_width`` pixels wide (as displayed) and turned upright when the stream
    says they are rotated (PyAV, unlike ffmpeg's command line, does not rotate them).

    ``start=(index, timestamp_ms)`` resumes the sampling at a frame an earlier pass gave (a batch sent
    later): the stream is sought to the keyframe before it, frames shown earlier are skipped, and the
    frames from there on are the ones the full pass gives (the sampling depends only on the frame
    taken before), numbered from ``index``.

    Raises:
        OSError: the file cannot be opened.
        MediaDecodeError: the file is empty, undecodable or has no video stream.
        ValueError: ``fps`` or ``max_width`` is not positive.
    """
    if not fps > 0 or max_width <= 0:
        raise ValueError(f"fps and max_width must be positive, not fps={fps}, max_width={max_width}")
    name = os.fspath(path)
    rate = Fraction(fps).limit_denominator(1_000_000)
    with open_media(name) as container:
        if not container.streams.video:
            raise MediaDecodeError(f"{name} has no video stream: there are no faces to measure. Measure its "
                                   "speech instead (models=['prosody']), or drop its row.",
                                   path=name, reason="no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        origin = clock_origin(container)
        fallback_rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        next_slot = Fraction(0)
        index, start_ms = start
        try:
            if start_ms > 0 and stream.time_base is not None:
                container.seek(int((Fraction(start_ms, 1000) + origin) / stream.time_base), stream=stream,
                               backward=True, any_frame=False)
            for decoded, frame in enumerate(container.decode(stream)):
                if frame.pts is not None and frame.time_base is not None:
                    t = frame.pts * frame.time_base - origin
                else:  # no timestamps: the decode order at the stream's nominal rate
                    t = Fraction(decoded) / Fraction(fallback_rate)
                if t + _TIMESTAMP_SLACK < next_slot or round(t * 1000) < start_ms:
                    continue
                next_slot = Fraction(math.floor((t + _TIMESTAMP_SLACK) * rate) + 1) / rate
                img = _upright_rgb(frame, max_width)
                yield Frame(index, round(t * 1000), to_jpeg(img, limits=limits, quality=quality), *img.size)
                index += 1
        except av.FFmpegError as e:
            raise undecodable(name, e) from e
        if index == 0 == start[0]:
            raise MediaDecodeError(f"{name} has a video stream with no decodable frames: it is empty or damaged. "
                                   "Re-export it, or drop its row.", path=name, reason="empty")


def batch_body_bound(frames: Sequence[Frame], *, limits: V1Limits = DEFAULT_V1_LIMITS) -> int:
    """The most bytes a request of ``frames`` takes: the JPEGs, each part's headers and the config margin."""
    return limits.multipart_margin_bytes + sum(len(f.jpeg) + limits.image_part_margin_bytes for f in frames)


def iter_batches(frames: Iterable[Frame], *, min_images: int = DEFAULT_V1_LIMITS.min_images_per_request,
                 max_bytes: int = DEFAULT_V1_LIMITS.max_request_bytes,
                 limits: V1Limits = DEFAULT_V1_LIMITS) -> Iterator[list[Frame]]:
    """Frames packed, in order, into requests of at most ``max_bytes`` and at least ``min_images`` where possible.

    Each request is filled up to ``max_bytes`` (:func:`batch_body_bound`); the last is then topped up from
    the one before so it too has ``min_images`` (the billing minimum), or merged into it when both fit.
    A request holds fewer only when the frames are too large for more (or there are fewer in all). At
    most two requests' frames are held at a time, however long the video.

    Raises:
        ValueError: a single frame does not fit in a request.
    """
    room = max_bytes - limits.multipart_margin_bytes
    full: list[Frame] | None = None  # the last filled request, held back in case the final one needs its frames
    current: list[Frame] = []
    size = 0
    for frame in frames:
        cost = len(frame.jpeg) + limits.image_part_margin_bytes
        if cost > room:
            raise ValueError(f"frame {frame.index} ({len(frame.jpeg):,} bytes) does not fit in a "
                             f"{max_bytes:,}-byte request")
        if current and size + cost > room:
            if full is not None:
                yield full
            full, current, size = current, [], 0
        current.append(frame)
        size += cost
    if full is None:
        if current:
            yield current
        return
    if batch_body_bound(full + current, limits=limits) <= max_bytes:
        yield full + current
        return
    while len(current) < min_images and len(full) > min_images:
        cost = len(full[-1].jpeg) + limits.image_part_margin_bytes
        if size + cost > room:
            break
        current.insert(0, full.pop())
        size += cost
    yield full
    yield current


def batch_frames(frames: Iterable[Frame], *, min_images: int = DEFAULT_V1_LIMITS.min_images_per_request,
                 max_bytes: int = DEFAULT_V1_LIMITS.max_request_bytes,
                 limits: V1Limits = DEFAULT_V1_LIMITS) -> list[list[Frame]]:
    """:func:`iter_batches` as a list (every frame in memory: for short videos and image sets)."""
    return list(iter_batches(frames, min_images=min_images, max_bytes=max_bytes, limits=limits))


# ---------------------------------------------------------------- pixels


def _read_nonempty(name: str) -> bytes:
    with open(name, "rb") as f:
        data = f.read()
    if not data:
        raise MediaDecodeError(f"{name} is empty (0 bytes): there is no image to measure. Replace it with the "
                               "image, or drop its row.", path=name, reason="empty")
    return data


def _flatten(img: Image.Image) -> Image.Image:
    """RGB (or greyscale L) with no alpha: transparency composited on white, palettes and CMYK converted."""
    if img.mode in ("RGB", "L"):
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode in ("I;16", "I", "F"):
        return img.convert("L")
    return img.convert("RGB")


def _fit_pixels(img: Image.Image, max_pixels: int) -> Image.Image:
    pixels = img.width * img.height
    if pixels <= max_pixels:
        return img
    scale = math.sqrt(max_pixels / pixels)
    width, height = max(1, int(img.width * scale)), max(1, int(img.height * scale))
    while width * height > max_pixels:  # floating point may round one pixel over
        width, height = max(1, width - 1), max(1, int(height * (width - 1) / width))
    return img.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def _upright_rgb(frame: av.VideoFrame, max_width: int) -> Image.Image:
    """The frame as RGB, scaled so its displayed width is at most ``max_width``, rotated as the stream says."""
    rotation = frame.rotation % 360
    sideways = rotation in (90, 270)
    shown_width = frame.height if sideways else frame.width
    scale = min(1.0, max_width / shown_width)
    width = max(2, int(round(frame.width * scale / 2)) * 2) if scale < 1 else frame.width
    height = max(2, int(round(frame.height * scale / 2)) * 2) if scale < 1 else frame.height
    rgb = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
    img = Image.fromarray(rgb.to_ndarray())
    return img.rotate(rotation, expand=True) if rotation else img  # counter-clockwise, as PyAV's rotation is
