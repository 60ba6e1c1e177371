"""Tests for humekit's public surface: __all__ is complete, sorted, and every name is importable."""

from __future__ import annotations

import types

import humekit
from humekit import errors


def test_all_is_sorted_and_complete():
    """__all__ lists every public name exactly once (the lazily imported ones too), sorted case-insensitively."""
    public = sorted(
        {name for name, value in vars(humekit).items()
         if not name.startswith("_") and name != "annotations" and not isinstance(value, types.ModuleType)}
        | set(humekit._LAZY),
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


def test_importing_humekit_imports_no_dask():
    """import humekit loads neither Dask nor humekit.distributed; humekit.measure_distributed loads the latter."""
    import subprocess
    import sys

    probe = ("import sys, humekit; assert not {'dask', 'distributed', 'humekit.distributed'} & set(sys.modules); "
             "f = humekit.measure_distributed; assert 'humekit.distributed' in sys.modules; "
             "assert f.__name__ == 'measure_distributed' and 'dask' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
