"""The ``humekit`` command line: ``humekit run`` (a table measured end to end), ``humekit emulator``.

Run it as ``humekit ...`` or ``python -m humekit.cli ...``; :func:`main` is the entry point.
"""

from humekit.cli.main import main

__all__ = ["main"]
