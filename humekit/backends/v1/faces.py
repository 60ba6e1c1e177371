"""Faces for v1 as units: images packed into requests, a video's frames planned in batches and re-read to send.

v1 bills every request at least 10 s and each image 1/3 s, so images are packed many to a request:

- **images** (of any rows) go in table order into requests of at most ``max_request_bytes``
  (:func:`image_batches`). Each image is converted once while planning (:func:`~.frames.image_jpeg`)
  only to learn its JPEG's size, and again when its request is sent; no JPEG is kept in the plan.
  A request v1 refuses for one image is split in halves by :class:`~humekit.backends.sync.SyncBackend`
  down to that image alone, whose row fails with v1's code.
- **a video** is sampled (:func:`~.frames.video_frames`) and packed (:func:`~.frames.iter_batches`, at
  least 30 frames where possible, at most 25 MB) while planning, streaming: at most two requests' frames
  are held at once however long the video. A batch keeps only its frames' ``(index, timestamp_ms)``
  (:class:`FrameBatch`): that is recorded with its unit (what decoding puts on the video's clock) and is
  what sending needs to make the same JPEGs again (:func:`batch_jpegs`: the video is sought to the
  keyframe before the batch's first frame and sampled from there, so a 2-hour video's last batch does not
  decode the two hours before it). Memory stays flat at the cost of encoding each frame twice (once to
  learn its size, once to send it); the alternative, keeping every JPEG of a plan, grows with the video.
  A re-read batch whose frames differ from the plan (the file changed) is refused rather than sent.

The frames of one video are sent in order (one *lane* per video) so each request can carry the
``face_state`` of the answer before it and face ids stay the same across the whole video.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from humekit.backends.v1.frames import image_jpeg, iter_batches, video_frames
from humekit.backends.v1.limits import V1Limits
from humekit.errors import MediaDecodeError
from humekit.pipeline.planning import PlannedInput

__all__ = ["FrameBatch", "batch_jpegs", "frame_batches", "image_batches"]

IMAGES_PART = "images"
r"""The part of a unit that sends whole images (one per input)."""


@dataclass(frozen=True, slots=True)
class FrameBatch:
    """One request's worth of a video's frames: which frames, when each is shown, in sampling order."""

    number: int
    r"""The batch's position among the video's requests, from 0."""
    frames: tuple[tuple[int, int], ...]
    r"""``(frame index, timestamp_ms)`` of every frame, in order."""

    @property
    def part(self) -> str:
        """The batch as a unit's part: ``frames:<batch>:<first index>-<last index>``."""
        return f"frames:{self.number}:{self.frames[0][0]}-{self.frames[-1][0]}"


def frame_batches(path: str | os.PathLike[str], *, fps: float, limits: V1Limits) -> Iterator[FrameBatch]:
    """A video's frames in request-sized batches, planned by streaming (see the module docstring).

    Raises:
        OSError: the file cannot be opened.
        MediaDecodeError: it is empty, undecodable or has no video stream.
        ValueError: a single frame does not fit in a request.
    """
    batches = iter_batches(video_frames(path, fps=fps, limits=limits), min_images=limits.min_images_per_request,
                           max_bytes=limits.max_request_bytes, limits=limits)
    for number, batch in enumerate(batches):
        yield FrameBatch(number, tuple((f.index, f.timestamp_ms) for f in batch))


def batch_jpegs(path: str | os.PathLike[str], frames: Sequence[Sequence[int]], *, fps: float,
                limits: V1Limits) -> list[bytes]:
    """The JPEGs of a planned batch, made again from the video (sought to the batch; a full pass if seeking
    gives other frames).

    Raises:
        MediaDecodeError: the video no longer gives the planned frames (it changed since it was planned).
    """
    expected = [(int(f[0]), int(f[1])) for f in frames]
    first_index, first_ms = expected[0]
    for start in ((first_index, first_ms), (0, 0)):
        sampled = video_frames(path, fps=fps, limits=limits, start=start)
        got = list(islice(sampled, first_index - start[0], first_index - start[0] + len(expected)))
        if [(f.index, f.timestamp_ms) for f in got] == expected:
            return [f.jpeg for f in got]
    name = os.fspath(path)
    raise MediaDecodeError(f"{name} no longer gives the frames planned for it (frames {first_index}-"
                           f"{expected[-1][0]}): it changed since it was planned; measure it again",
                           path=name, reason="changed")


def image_batches(images: Sequence[PlannedInput], *, limits: V1Limits) -> tuple[list[list[PlannedInput]], dict[str, str]]:
    """Images packed in order into requests of at most ``max_request_bytes``; and, by content, why an image
    cannot be sent (it cannot be read as an image)."""
    room = limits.max_request_bytes - limits.multipart_margin_bytes
    batches: list[list[PlannedInput]] = []
    unreadable: dict[str, str] = {}
    current: list[PlannedInput] = []
    size = 0
    for item in images:
        try:
            cost = len(image_jpeg(item.value, limits=limits)) + limits.image_part_margin_bytes
        except (MediaDecodeError, OSError) as exc:
            unreadable[item.content] = f"it cannot be read as an image for v1: {exc}"
            continue
        if current and size + cost > room:
            batches.append(current)
            current, size = [], 0
        current.append(item)
        size += cost
    if current:
        batches.append(current)
    return batches, unreadable
