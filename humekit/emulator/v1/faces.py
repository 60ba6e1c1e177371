"""What the v1 emulator sees in an image upload: the JPEG checks, synthetic faces, ``face_state``.

- **Checks** (SDK ``video/raw_client.py``): every image before any is measured; one bad image fails
  the request. Not a JPEG: ``unsupported_media_type``; over the byte or pixel limit:
  ``image_too_large``; a JPEG that does not decode (e.g. truncated): ``image_decode_failed``.
- **Faces are synthetic**: there is no detector. Each image gets 0-3 faces drawn from a generator
  seeded by its bytes, at stable places per *slot* (face 0 is the largest, centre-left, and so on),
  so the frames of one video show "the same" faces and keep their ``face_id``. A face under
  ``face.threshold`` or ``face.min_size`` is left out; the largest ``max_faces_measured`` are
  measured and listed first, largest first; the others follow by confidence, with null ids and
  scores; at most 32 are listed.
- **face_state** is an opaque token: the faces a request numbered, HMAC-signed by the emulator and
  valid for 24 h on its clock. One that has expired, was altered or comes from another emulator is
  ignored silently, and numbering restarts at 0, as documented.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from humekit.emulator.scores import rng_for
from humekit.emulator.v1.errors import V1Error
from humekit.emulator.v1.limits import V1Limits
from humekit.emulator.v1.scoring import scored_rows

__all__ = [
    "FACE_STATE_TTL", "CheckedImage", "FaceIds", "FaceStateSigner", "SyntheticFace", "check_images",
    "detected_faces", "faces_in",
]

FACE_STATE_TTL = 24 * 3600.0
_SLOT_SIZES = (0.42, 0.30, 0.22)  # each slot's face side, as a share of the image's shorter side


@dataclass(frozen=True, slots=True)
class CheckedImage:
    """An image that passed the checks: its digest and size."""

    md5: str
    width: int
    height: int


def check_images(images: list[bytes], limits: V1Limits) -> list[CheckedImage]:
    """Check every image (format and size first, then decoding), or raise the first :class:`V1Error`."""
    sizes: list[tuple[int, int]] = []
    for index, data in enumerate(images):
        where = f"image {index} (file part {index})"
        if data[:3] != b"\xff\xd8\xff":
            raise V1Error("unsupported_media_type", f"{where} is not a JPEG; the video endpoint takes JPEG images only")
        if len(data) > limits.max_image_bytes:
            raise V1Error(
                "image_too_large", f"{where} is {len(data):,} bytes, over the {limits.max_image_bytes:,}-byte limit"
            )
        try:
            with Image.open(io.BytesIO(data)) as header:
                width, height = header.size
        except Exception:  # Pillow raises several types for an unreadable header
            raise V1Error("image_decode_failed", f"{where} could not be decoded as a JPEG") from None
        if width * height > limits.max_image_pixels:
            raise V1Error(
                "image_too_large",
                f"{where} is {width}x{height} = {width * height:,} pixels, over the {limits.max_image_pixels:,}-pixel "
                "limit (3840x2160)",
            )
        sizes.append((width, height))
    for index, data in enumerate(images):
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
        except Exception:  # truncated or corrupt scan data
            raise V1Error("image_decode_failed", f"image {index} (file part {index}) could not be decoded") from None
    return [CheckedImage(hashlib.md5(data).hexdigest(), w, h) for data, (w, h) in zip(images, sizes, strict=True)]


@dataclass(frozen=True, slots=True)
class SyntheticFace:
    """One face the emulator pretends to detect."""

    slot: int
    bbox: tuple[float, float, float, float]
    confidence: float

    @property
    def area(self) -> float:
        return (self.bbox[2] - self.bbox[0]) * (self.bbox[3] - self.bbox[1])

    @property
    def shorter_side(self) -> float:
        return min(self.bbox[2] - self.bbox[0], self.bbox[3] - self.bbox[1])


@dataclass(slots=True)
class FaceIds:
    """``face_id`` numbering within a request (and across requests through ``face_state``)."""

    ids: dict[int, int] = field(default_factory=dict)
    r"""Face slot -> its id."""
    next_id: int = 0

    def id_of(self, slot: int) -> int:
        if slot not in self.ids:
            self.ids[slot], self.next_id = self.next_id, self.next_id + 1
        return self.ids[slot]


def detected_faces(image: CheckedImage) -> list[SyntheticFace]:
    """The synthetic faces of an image, before the threshold and size filters."""
    rng = rng_for(image.md5, "v1-faces")
    count = int(rng.choice([0, 1, 1, 1, 1, 1, 2, 3]))
    short = min(image.width, image.height)
    faces: list[SyntheticFace] = []
    for slot in range(count):
        side = _SLOT_SIZES[slot] * short * float(rng.uniform(0.85, 1.15))
        cx = image.width * (slot + 1) / (count + 1) + float(rng.uniform(-0.03, 0.03)) * image.width
        cy = image.height * float(rng.uniform(0.38, 0.5))
        x0, y0 = max(0.0, cx - side / 2), max(0.0, cy - side * 0.6)
        x1, y1 = min(float(image.width), cx + side / 2), min(float(image.height), cy + side * 0.6)
        confidence = float(rng.uniform(0.95, 0.999) if slot == 0 else rng.uniform(0.85, 0.995))
        faces.append(SyntheticFace(slot, (round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1)), round(confidence, 4)))
    return faces


def faces_in(image: CheckedImage, frame_id: int, *, threshold: float, min_size: int, ids: FaceIds,
             limits: V1Limits) -> list[dict[str, Any]]:
    """The ``faces`` array of one image, numbering measured faces through ``ids``."""
    kept = [f for f in detected_faces(image) if f.confidence >= threshold and f.shorter_side >= min_size]
    measured = sorted(kept, key=lambda f: -f.area)[: limits.max_faces_measured]
    others = sorted((f for f in kept if f not in measured), key=lambda f: -f.confidence)
    out: list[dict[str, Any]] = []
    for face in measured:
        time = [frame_id / 3.0]
        out.append({
            "face_id": ids.id_of(face.slot),
            "bbox": list(face.bbox),
            "confidence": face.confidence,
            "expressions": scored_rows(image.md5, f"face:{face.slot}", "video_expressions", time)[0],
            "descriptions": scored_rows(image.md5, f"face:{face.slot}", "video_descriptions", time)[0],
        })
    for face in others:
        out.append({"face_id": None, "bbox": list(face.bbox), "confidence": face.confidence,
                    "expressions": None, "descriptions": None})
    return out[: limits.max_faces_listed]


class FaceStateSigner:
    """Issues and reads ``face_state`` tokens: base64url(JSON) + "." + base64url(HMAC-SHA256)."""

    def __init__(self, secret: bytes, organization: str):
        self._secret = secret
        self._organization = organization

    def issue(self, ids: FaceIds, *, now: float) -> str:
        payload = json.dumps(
            {"v": 1, "org": self._organization, "iat": round(now, 3), "ids": sorted(ids.ids.items()),
             "next": ids.next_id},
            separators=(",", ":"),
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def read(self, token: str | None, *, now: float) -> FaceIds:
        """The numbering a token carries, or a fresh one if it is absent, altered, foreign or expired."""
        if not token or token.count(".") != 1:
            return FaceIds()
        body, mac = token.split(".")
        try:
            payload = _unb64(body)
            valid = hmac.compare_digest(_unb64(mac), self._mac(payload))
            state = json.loads(payload) if valid else None
        except (ValueError, UnicodeDecodeError):
            return FaceIds()
        if not isinstance(state, dict) or state.get("org") != self._organization:
            return FaceIds()
        if not 0 <= now - float(state["iat"]) <= FACE_STATE_TTL:
            return FaceIds()
        return FaceIds(ids={int(slot): int(face_id) for slot, face_id in state["ids"]}, next_id=int(state["next"]))

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


