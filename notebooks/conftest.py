"""nbval settings for the notebooks: compare text only (not stderr, HTML, widgets), skip all without matplotlib.

``make test`` runs them with ``pytest tests notebooks --nbval-lax``: every cell must run, and cells
marked ``# NBVAL_CHECK_OUTPUT`` must print what is stored (after ``nbval_sanitize.cfg``).
"""

from __future__ import annotations

import importlib.util

import pytest

# Every notebook draws a plot; without the plot extra, skip them rather than fail.
collect_ignore_glob = [] if importlib.util.find_spec("matplotlib") else ["*.ipynb"]

_NOT_COMPARED = ("stderr", "text/html", "application/javascript", "application/vnd.jupyter.widget-view+json")


def pytest_collectstart(collector: pytest.Collector) -> None:
    """tqdm and logging write to stderr, and DataFrames also render as HTML: compare text/plain only."""
    if hasattr(collector, "skip_compare"):
        collector.skip_compare += _NOT_COMPARED
