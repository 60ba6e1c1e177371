"""Old import paths of the modules that moved into subpackages, kept working for this release.

``import humekit.measure`` (or ``from humekit.ledger import Ledger``) imports the module at its new path
(:mod:`humekit.pipeline.measure`) and registers it under the old name too, with a
:class:`DeprecationWarning` naming the new path. Nothing is imported until an old path is used.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

__all__ = ["MOVED", "install"]

#: Old module (under ``humekit.``) -> its new path (under ``humekit.``).
MOVED: dict[str, str] = {
    "validation": "pipeline.validation", "planning": "pipeline.planning", "coverage": "pipeline.coverage",
    "ledger": "pipeline.ledger", "joining": "pipeline.joining", "measure": "pipeline.measure",
    "outputs": "pipeline.outputs", "progress": "pipeline.progress", "media": "pipeline.media",
    "columns": "pipeline.columns",
    "backend": "backends.v0.backend", "client": "backends.v0.client", "jobs": "backends.v0.jobs",
    "submitting": "backends.v0.submitting", "waiting": "backends.v0.waiting", "limits": "backends.v0.limits",
    "_schema": "predictions._schema", "_tables": "predictions._tables", "archives": "predictions.archives",
    "rejoin": "predictions.rejoin", "export": "predictions.export", "vocabulary": "predictions.vocabulary",
    "analysis": "predictions.analysis",
    "events": "webhooks.events", "receiver": "webhooks.receiver", "evi": "webhooks.evi",
    "run": "cli.run", "demo": "cli.demo",
    "synthetic": "testing.synthetic", "study": "testing.study",
}  # fmt: skip


class _Alias(importlib.abc.Loader):
    """Loads an old path as the module at its new path (the same module object, not a copy)."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(f"{spec.name} moved to {self.new}; import it from there (the old path goes in the next "
                      "release)", DeprecationWarning, stacklevel=2)
        module = importlib.import_module(self.new)
        sys.modules[spec.name] = module
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was executed at its new path."""


class _OldPaths(importlib.abc.MetaPathFinder):
    """Finds ``humekit.<old>`` for every moved module."""

    def find_spec(self, fullname: str, path: object = None, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        prefix, _, name = fullname.partition(".")
        if prefix != "humekit" or name not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(f"humekit.{MOVED[name]}"))


def install() -> None:
    """Make the old paths importable (once; ``humekit/__init__`` calls it, after its own imports).

    An old path named like one of the package's attributes (``humekit.measure``, the module, beside
    ``humekit.measure``, the function) is registered at once, without a warning: importing it later
    would make the import system set the attribute ``humekit.measure`` to the module.
    """
    package = sys.modules["humekit"]
    for old, new in MOVED.items():
        if hasattr(package, old) and f"humekit.{old}" not in sys.modules:
            sys.modules[f"humekit.{old}"] = importlib.import_module(f"humekit.{new}")
    if not any(isinstance(finder, _OldPaths) for finder in sys.meta_path):
        sys.meta_path.append(_OldPaths())
