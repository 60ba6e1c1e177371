"""Tests for humekit.pipeline.media.image: images typed and sized by Pillow from their headers."""

from __future__ import annotations

import pytest

from humekit.testing import synthetic
from humekit.pipeline.media import MediaInfo, probe


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_image_type_and_size(fmt, mime):
    """Images report their MIME type and pixel size."""
    info = probe(synthetic.make_image(width=123, height=77, format=fmt))
    assert info == MediaInfo("image", mime, None, 123, 77)
