"""The v1 API's documented limits, in one overridable object read by conversion, windowing and batching.

Each number carries its source in ``../shared/reference/hume-v1-api.md`` (§2 audio, §3 images) and
``hume-v1-backend.md`` (§2.2 multipart overhead, §2.6 limits, §5 duties). Override any of them with
``dataclasses.replace(DEFAULT_V1_LIMITS, window_target_ms=300_000)`` or ``V1Limits(...)``.

What validation refuses is not what one request holds. v1 takes one synchronous upload of at most
25,000,000 bytes (about 13 minutes of 16 kHz audio), and humekit cuts a longer recording into windows
(:mod:`humekit.backends.v1.windows`) instead of refusing it. So the two :class:`InputLimits` fields are
humekit's own guards, not Hume limits: a local file up to 20 GB and 24 hours of media is accepted and
windowed; beyond that a row is refused as almost certainly a mistake (a wrong file or a header that lies).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from humekit.pipeline.input_limits import GB, MB, InputLimits

__all__ = ["DEFAULT_V1_LIMITS", "V1_LIMIT_SOURCES", "V1Limits", "WAV_HEADER_BYTES"]

WAV_HEADER_BYTES = 44
r"""A plain-PCM (format tag 1) WAV header: RIFF, ``fmt `` (16 bytes) and ``data`` chunk headers."""


@dataclass(frozen=True, slots=True)
class V1Limits(InputLimits):
    """Per-request and per-input limits of the v1 API (the per-file guards are :class:`InputLimits`')."""

    max_upload_bytes: int = 20 * GB
    r"""humekit's guard on one local file (not a Hume limit: v1 is sent converted windows, never the file)."""
    max_media_seconds: float = 24 * 3600.0
    r"""humekit's guard on one recording's duration (not a Hume limit: a long recording is windowed)."""
    max_request_bytes: int = 25 * MB
    r"""The whole multipart body of one upload, audio or images: 25,000,000 bytes (v1-api §2, §3;
    decimal per v1-backend §2.6 and §8, UNCONFIRMED for this API)."""
    sample_rate: int = 16_000
    r"""Audio sample rate the server reads; it does not resample (v1-api §2 "conversion: none")."""
    channels: int = 1
    r"""Audio channels: mono (v1-api §2)."""
    sample_bytes: int = 2
    r"""Bytes per sample: signed 16-bit little-endian PCM, ``s16le`` (v1-api §2)."""
    window_target_ms: int = 12 * 60 * 1000
    r"""The longest window humekit plans: 12 minutes, 23.04 MB of PCM (v1-backend §5.1.3, a humekit choice
    under the hard bound :attr:`max_window_ms`, about 781 s)."""
    multipart_margin_bytes: int = 4096
    r"""Room kept in every request for the multipart framing and the ``config`` part: measured 148 B bare and
    330 B with a config and a filename (v1-backend §2.2); 4 KiB leaves room for longer names and configs."""
    billing_min_seconds: float = 10.0
    r"""Every run that took in any media is billed at least 10 s (v1-api §4 ``metered_seconds``)."""
    seconds_per_image: float = 1 / 3
    r"""Each image is billed as 1/3 s (v1-api §3, §4)."""
    max_image_bytes: int = 2 * MB
    r"""Each JPEG: 2 MB, encoded by the SDK as 2,000,000 bytes (v1-api §3)."""
    max_image_pixels: int = 8_294_400
    r"""Each JPEG: at most 3840 x 2160 pixels' worth (v1-api §3)."""
    min_images_per_request: int = 30
    r"""Images per request humekit aims for: 30 x 1/3 s = the 10 s billing minimum (v1-backend §5.1.4);
    v1 itself states no count limit (UNCONFIRMED)."""
    max_frame_rate: float = 3.0
    r"""Frames per second sampled from a video by default: the SDK's default and realtime cap (v1-backend §3.5)."""
    max_frame_width: int = 1280
    r"""Width a sampled video frame is scaled down to, at most: the SDK's ``iter_video_frames`` default
    (v1-backend §3.5)."""
    image_part_margin_bytes: int = 256
    r"""Room kept per image part for its multipart headers (148 B measured for a bare part, v1-backend §2.2)."""

    @property
    def bytes_per_ms(self) -> int:
        """Bytes of converted audio per millisecond: 16 samples x 2 bytes = 32."""
        return self.sample_rate * self.channels * self.sample_bytes // 1000

    @property
    def max_window_ms(self) -> int:
        """The longest window whose whole body (PCM + WAV header + margin) fits in one request: 781,120 ms by default."""
        room = self.max_request_bytes - WAV_HEADER_BYTES - self.multipart_margin_bytes
        return room // self.bytes_per_ms

    @property
    def min_window_ms(self) -> int:
        """The billing minimum in ms: a shorter window costs as much as a 10 s one."""
        return round(self.billing_min_seconds * 1000)

    def __repr__(self) -> str:
        changed = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if getattr(self, f.name) != f.default]
        return f"V1Limits({', '.join(changed)})"


#: Where each default comes from, for reports and notebooks.
V1_LIMIT_SOURCES: dict[str, str] = {
    "max_upload_bytes": "humekit guard (not a Hume limit): v1 is sent converted windows, so a local file is not "
                        "refused for its size below 20 GB",
    "max_media_seconds": "humekit guard (not a Hume limit): a recording up to 24 hours is cut into windows",
    "max_text_bytes": "not used by v1, which has no language model: text rows are invalid under v1",
    "max_request_bytes": "Hume v1 docs 'Limits' and SDK audio/video measure(): 25 MB for the whole multipart body "
                         "(decimal 25,000,000 B assumed, as Hume's sibling Audio Decisions API states)",
    "sample_rate": "Hume v1 docs 'Audio upload': 16,000 Hz; the server does not resample",
    "channels": "Hume v1 docs 'Audio upload': mono",
    "sample_bytes": "Hume v1 docs 'Audio upload': signed 16-bit little-endian PCM",
    "window_target_ms": "humekit setting: windows of at most 12 min, under the ~781 s that 25,000,000 B holds",
    "multipart_margin_bytes": "humekit setting: room for multipart framing and config (148-330 B measured with "
                              "the v1 SDK)",
    "billing_min_seconds": "Hume v1 SDK types/run.py metered_seconds: every run with media bills at least 10 s",
    "seconds_per_image": "Hume v1 SDK types/run.py metered_seconds: 1/3 s per image",
    "max_image_bytes": "Hume v1 docs 'Limits' and SDK video_helpers/sender.py: 2 MB (2,000,000 B) per image",
    "max_image_pixels": "Hume v1 docs 'Limits': 8,294,400 pixels (3840x2160) per image",
    "min_images_per_request": "humekit setting: 30 images x 1/3 s = the 10 s billing minimum per run",
    "max_frame_rate": "Hume v1 SDK iter_video_frames default and realtime limit: 3 frames per second",
    "max_frame_width": "Hume v1 SDK iter_video_frames default: frames at most 1280 px wide",
    "image_part_margin_bytes": "humekit setting: room for each image part's multipart headers (148 B measured)",
}

DEFAULT_V1_LIMITS = V1Limits()
