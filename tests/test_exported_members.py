"""Tests for humekit's public surface: __all__ is complete, sorted, and every name is importable."""

from __future__ import annotations

import types

import humekit
from humekit import errors


def test_all_is_sorted_and_complete():
    """__all__ lists every public name exactly once, sorted case-insensitively."""
    public = sorted(
        (name for name, value in vars(humekit).items()
         if not name.startswith("_") and name != "annotations" and not isinstance(value, types.ModuleType)),
        key=str.casefold,
    )
    assert humekit.__all__ == sorted(humekit.__all__, key=str.casefold)
    assert humekit.__all__ == public


def test_every_error_is_exported_and_rooted():
    """Every exception class is exported from humekit and derives from HumekitError (the interrupt is no error)."""
    for name in errors.__all__:
        cls = getattr(humekit, name)
        assert issubclass(cls, humekit.HumekitError) != issubclass(cls, KeyboardInterrupt), name


def test_reprs_read_humekit_not_submodules():
    """Re-exported names present themselves as humekit.X."""
    assert humekit.Client.__module__ == "humekit"
    assert humekit.measure.__module__ == "humekit"
