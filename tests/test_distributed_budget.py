"""Tests for humekit.distributed.budget: the cluster-wide cap on requests in flight, a distributed.Semaphore."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _dask import WatchedEmulator, recordings

import humekit
from humekit.distributed import RequestBudget

LATENCY = 0.4  # each upload stays on the server this long, so uploads from 2 workers x 4 threads overlap


def measure(tmp_path: Path, name: str, emu: WatchedEmulator, client: Any, max_in_flight: Any) -> Any:
    """16 one-request recordings in 2 partitions, each worker sending up to 4 uploads at once (V1Backend)."""
    return humekit.measure_distributed(recordings(tmp_path / "media", 16), id_col="id", source_col="path",
                                       models=["audio"], ledger=tmp_path / f"{name}.sqlite", out=tmp_path / name,
                                       client=client, base_url=emu.url, concurrency=4, npartitions=2,
                                       max_in_flight=max_in_flight, progress=False)


def test_the_cap_holds_across_workers_and_threads(tmp_path: Path, dask_client: Any) -> None:
    """Uncapped, 2 workers x concurrency 4 put more than 2 uploads on the server at once; max_in_flight=2 never."""
    with WatchedEmulator(latency=LATENCY) as free:
        assert measure(tmp_path, "free", free, dask_client, None).counts()["ok"] == 16
    assert free.most_in_flight > 2  # the overlap the cap must prevent does happen
    with WatchedEmulator(latency=LATENCY) as capped:
        assert measure(tmp_path, "capped", capped, dask_client, 2).counts()["ok"] == 16
    assert capped.most_in_flight == 2 and capped.uploads == 16


def test_a_semaphore_of_your_own_is_shared_and_left_open(tmp_path: Path, dask_client: Any) -> None:
    """max_in_flight=distributed.Semaphore(...) caps the call with it and leaves it to its owner afterwards."""
    from distributed import Semaphore

    semaphore = Semaphore(max_leases=1, name="humekit-test-shared-budget")
    with WatchedEmulator(latency=0.1) as emu:
        assert measure(tmp_path, "shared", emu, dask_client, semaphore).counts()["ok"] == 16
    assert emu.most_in_flight == 1
    assert semaphore.get_value() == 0  # still registered: no lease held, and not closed by the call
    semaphore.close()


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_max_in_flight_must_be_a_whole_number(bad: Any) -> None:
    """max_in_flight below 1 or not a whole number is refused with what to give instead."""
    with pytest.raises(humekit.ConfigurationError, match="whole number >= 1 \\(or None for no cap\\)"):
        RequestBudget.for_call(bad)
