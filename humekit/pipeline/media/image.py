"""Images told and measured by Pillow, which reads only their headers here (pixels are never decoded)."""

from __future__ import annotations

import warnings
from typing import BinaryIO

from humekit.pipeline.media.info import MediaInfo

__all__ = ["probe_image"]


def probe_image(f: BinaryIO) -> MediaInfo | None:
    """The image's MIME type and size; ``None`` when Pillow does not recognise it as an image."""
    from PIL import Image  # lazy: Pillow's import is slow and only images need it

    f.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning: we never decode, only read the size
        try:
            with Image.open(f) as img:
                mime = Image.MIME.get(img.format or "", f"image/{(img.format or 'unknown').lower()}")
                return MediaInfo("image", mime, None, img.width, img.height)
        except Image.DecompressionBombError:
            return MediaInfo("image", None, None)
        except Exception:  # Pillow signals "not an image" with several exception types
            return None
