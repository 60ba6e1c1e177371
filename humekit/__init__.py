"""humekit: measure expressions in many recordings with Hume's batch API, DataFrame in, DataFrame out."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from humekit.errors import *  # noqa: F403
from humekit.errors import __all__ as _errors_all
from humekit.limits import DEFAULT_LIMITS, Limits

try:
    __version__ = version("humekit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = sorted([*_errors_all, "DEFAULT_LIMITS", "Limits"], key=str.casefold)
