"""Make ``ledger-before-per-model.sqlite``: a ledger written by humekit before planning was per model.

It was made with humekit at commit 0a36422 (the last commit whose planning sent every model of a
call in one job), so tests can prove that such ledgers are still read with nothing resent::

    git archive 0a36422 | tar -x -C /tmp/humekit-0a36422
    PYTHONPATH=/tmp/humekit-0a36422 python tests/data/make_ledger_before_per_model.py tests/data/

The recordings are synthetic and deterministic (:func:`recordings` remakes them byte for byte),
on the in-process emulator with a virtual clock.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd

MODELS = ["prosody", "language"]


def recordings(folder: Path, media_url: str) -> pd.DataFrame:
    """Two WAVs, two texts and a URL, with IDs that say what they are."""
    from humekit.testing.synthetic import make_wav

    for n in (1, 2):
        make_wav(folder / f"take{n}.wav", segments=[(0.2, 1.0), (1.3, 2.0)], duration=2.5, seed=n)
    return pd.DataFrame({
        "id": ["wav-1", "wav-2", "text-1", "text-2", "url-1"],
        "source": [str(folder / "take1.wav"), str(folder / "take2.wav"), "I am so glad you came.",
                   "This is taking far too long.", f"{media_url}/take3.wav"],
    })


def url_media() -> bytes:
    """The bytes the emulator serves as ``/media/take3.wav``."""
    from humekit.testing.synthetic import make_wav

    return make_wav(None, segments=[(0.1, 0.9)], duration=1.2, seed=3)


def main(out: Path) -> None:
    from humekit import measure
    from humekit.clock import VirtualClock
    from humekit.emulator import Emulator, Schedule

    clock = VirtualClock(start=1_750_000_000.0)
    emu = Emulator(api_key="k", clock=clock, schedule=Schedule(queued=1.0, running=2.0))
    emu.add_media("take3.wav", url_media())
    with tempfile.TemporaryDirectory() as folder:
        table = recordings(Path(folder), f"{emu.url}/media")
        result = measure(table, id_col="id", source_col="source", models=MODELS, client=emu.client(),
                         ledger=out / "ledger-before-per-model.sqlite", progress=False)
        result.ledger.close()
    assert (result.status["status"] == "ok").all(), result.status


if __name__ == "__main__":
    main(Path(sys.argv[1]))
