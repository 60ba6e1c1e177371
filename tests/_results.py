"""What the tests of saved and exported results share: a small measured result, and a row-for-row comparison.

Test modules import the fixture as ``measured_result``; pytest knows it as ``measured``.
"""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="module", name="measured")
def measured_result(tmp_path_factory: pytest.TempPathFactory):
    """A measured result with string IDs, a user column and an invalid row (status with None and text errors)."""
    from humekit import measure
    from humekit.clock import VirtualClock
    from humekit.emulator import Emulator, Schedule

    folder = tmp_path_factory.mktemp("measured")
    table = pd.DataFrame({"id": ["t-1", "t-2", "gone"], "src": ["One two.", "Three four five.", "gone.wav"],
                          "group": pd.array([1, 2, None], dtype="Int64")})
    emu = Emulator(api_key="k", clock=VirtualClock(start=1_750_000_000.0), schedule=Schedule(queued=1, running=1))
    try:
        return measure(table, id_col="id", source_col="src", models=["language"], client=emu.client(),
                       root=str(folder), ledger=folder / "l.sqlite", progress=False, errors="mark")
    finally:
        emu.stop()


def same_rows(back: pd.DataFrame, written: pd.DataFrame) -> None:
    """Assert two tables hold the same rows, columns and dtypes, whatever their index."""
    pd.testing.assert_frame_equal(back.reset_index(drop=True), written.reset_index(drop=True))
