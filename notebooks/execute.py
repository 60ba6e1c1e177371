"""Re-execute the notebooks in place, so the outputs stored in git (plots included) are current.

Run after editing a notebook, from the repository root::

    .venv/bin/python notebooks/execute.py                      # every notebook
    .venv/bin/python notebooks/execute.py notebooks/02-*.ipynb # some

Each notebook runs in a fresh kernel in this folder, against the emulators (unset HUME_API_KEY and
HUME_BASE_URL first, or the stored outputs would come from a live endpoint). Then check that the
stored outputs are reproducible: ``make test`` (or, stricter, every output compared:
``pytest notebooks --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def main(paths: list[str]) -> int:
    if os.environ.get("HUME_API_KEY"):  # with the key alone, 06-v1.ipynb runs (and is billed) on the live v1 API
        print("HUME_API_KEY is set: unset it (and HUME_BASE_URL) so the stored outputs come from the emulators")
        return 2
    for path in [Path(p) for p in paths] or sorted(HERE.glob("[0-9][0-9]-*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        notebook.metadata.pop("widgets", None)  # widget state is not stored: progress displays end as text
        started = time.perf_counter()
        NotebookClient(notebook, timeout=600, kernel_name="python3", store_widget_state=False,
                       resources={"metadata": {"path": str(path.resolve().parent)}}).execute()
        nbformat.write(notebook, path)
        print(f"{path.name}: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
