"""Tests for humekit.backends.v0.limits: every limit has a source, and the per-input ones are InputLimits'."""

from __future__ import annotations

from dataclasses import fields

import humekit
from humekit.backends.v0.limits import LIMIT_SOURCES
from humekit.pipeline.input_limits import InputLimits


def test_every_limit_says_where_it_comes_from() -> None:
    """LIMIT_SOURCES names exactly the fields of humekit.Limits (the notebooks list them in its order)."""
    assert set(LIMIT_SOURCES) == {f.name for f in fields(humekit.Limits)}


def test_the_per_input_limits_are_defined_once() -> None:
    """humekit.Limits extends InputLimits: validation's defaults are the v0 batch API's documented numbers."""
    assert isinstance(humekit.DEFAULT_LIMITS, InputLimits)
    for f in fields(InputLimits):
        assert getattr(humekit.DEFAULT_LIMITS, f.name) == getattr(InputLimits(), f.name)
    assert repr(humekit.Limits(max_files_per_job=10)) == "Limits(max_files_per_job=10)"
