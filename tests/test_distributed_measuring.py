"""Tests for humekit.distributed.measuring: a table measured on a LocalCluster, results written by the workers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _dask import KEY, WatchedEmulator, recordings

import humekit
from humekit.backends.v1.backend import V1Backend
from humekit.backends.v1.client import V1Client


@pytest.fixture
def emu() -> Iterator[WatchedEmulator]:
    """The v1 emulator served on loopback, outside the workers."""
    with WatchedEmulator(latency=0.0) as emulator:
        yield emulator


def measure(table: Any, tmp_path: Path, emu: WatchedEmulator, client: Any, **options: Any) -> humekit.DistributedResult:
    """measure_distributed with the audio model, a ledger and an out folder in ``tmp_path``."""
    options.setdefault("base_url", emu.url)
    return humekit.measure_distributed(table, id_col="id", source_col="path", models=["audio"],
                                       ledger=tmp_path / "ledger.sqlite", out=tmp_path / "out", client=client,
                                       progress=False, **options)


def scores_by_row(frame: pd.DataFrame) -> list[tuple[str, str, float, str, float]]:
    """The scores as plain (id, group, begin, emotion, score) tuples, sorted: comparable across dtypes."""
    return sorted(zip(frame["id"].astype(str), frame["group"].astype(str), frame["begin"].astype(float),
                      frame["emotion"].astype(str), frame["score"].astype(float), strict=True))


def test_a_table_is_measured_by_the_workers_and_written_as_one_part_per_partition(
        tmp_path: Path, emu: WatchedEmulator, dask_client: Any) -> None:
    """Every row comes out (an unreadable one invalid, with why); the dataset holds the scores measure finds."""
    table = recordings(tmp_path / "media", 9)
    table.loc[9] = ["gone", str(tmp_path / "missing.wav")]
    result = measure(table, tmp_path, emu, dask_client, npartitions=3)
    assert result.counts() == {"ok": 9, "failed": 0, "invalid": 1, "pending": 0}
    assert result.cost == {"requests": 9, "billed_seconds": 90.0, "lost_answers": 0, "lost_billed": 0}
    assert emu.uploads == 9 and list(result.partitions["partition"]) == [0, 1, 2]
    status = result.status()
    assert sorted(status["id"]) == sorted(table["id"])
    gone = status.set_index("id").loc["gone"]
    assert gone["status"] == "invalid" and "missing.wav" in gone["error"]
    assert sorted(p.name for p in (result.out / "status").iterdir()) == [f"part-00000{i}-0.parquet" for i in range(3)]
    scores = humekit.read_dask(result.out).compute()
    alone = humekit.measure(table, id_col="id", source_col="path", models=["audio"], errors="mark", progress=False,
                            client=V1Client(api_key=KEY, base_url=emu.url), ledger=tmp_path / "alone.sqlite")
    assert len(scores) > 0 and scores_by_row(scores) == scores_by_row(alone.predictions)
    assert len(result.descriptors().compute()) == len(alone.descriptors)


def test_a_rerun_sends_nothing_and_rewrites_the_same_parts(tmp_path: Path, emu: WatchedEmulator,
                                                           dask_client: Any) -> None:
    """The same call again finds every answer in the shared ledger: no upload, the same files and rows."""
    table = recordings(tmp_path / "media", 6)
    first = measure(table, tmp_path, emu, dask_client, partition_rows=2)
    files = sorted(p.relative_to(first.out) for p in first.out.rglob("*.parquet"))
    uploads = emu.uploads
    again = measure(table, tmp_path, emu, dask_client, partition_rows=2)
    assert emu.uploads == uploads == 6 and again.counts()["ok"] == 6
    assert sorted(p.relative_to(again.out) for p in again.out.rglob("*.parquet")) == files
    pd.testing.assert_frame_equal(again.status(), first.status())


def test_a_dask_table_in_fewer_partitions_leaves_no_stale_part(tmp_path: Path, emu: WatchedEmulator,
                                                                dask_client: Any) -> None:
    """A Dask DataFrame is measured in its own partitions; parts an earlier, finer cut left are removed."""
    import dask.dataframe as dd

    table = recordings(tmp_path / "media", 6)
    measure(table, tmp_path, emu, dask_client, npartitions=3)
    result = measure(dd.from_pandas(table, npartitions=2, sort=False), tmp_path, emu, dask_client)
    status = result.status()
    assert len(result.partitions) == 2 and sorted(status["id"]) == sorted(table["id"])  # each row once
    assert set(status["partition"]) == {0, 1} and emu.uploads == 6


def test_ids_repeated_across_partitions_are_refused_before_anything_is_sent(tmp_path: Path, emu: WatchedEmulator,
                                                                             dask_client: Any) -> None:
    """Two rows with one ID in different partitions raise DuplicateIdError naming it; nothing is sent."""
    table = recordings(tmp_path / "media", 4)
    table.loc[3, "id"] = "r000"
    with pytest.raises(humekit.DuplicateIdError, match="'r000' \\(2 rows\\)"):
        measure(table, tmp_path, emu, dask_client, npartitions=2)
    assert emu.uploads == 0 and not (tmp_path / "out").exists()


def test_a_partition_that_fails_is_named_and_the_others_are_written(tmp_path: Path, emu: WatchedEmulator,
                                                                     dask_client: Any) -> None:
    """With errors='raise', the partition holding an invalid row fails (PartitionFailedError); the rest is kept."""
    table = recordings(tmp_path / "media", 4)
    table.loc[3, "path"] = str(tmp_path / "missing.wav")
    with pytest.raises(humekit.PartitionFailedError, match="1 of 2 partitions failed.*partition 1: InvalidRowsError"
                       ) as caught:
        measure(table, tmp_path, emu, dask_client, npartitions=2, errors="raise", retries=0)
    assert list(caught.value.failed) == [1]
    assert caught.value.result.counts()["ok"] == 2 and sorted(caught.value.result.status()["id"]) == ["r000", "r001"]


def test_workers_build_their_backend_and_read_their_own_key(tmp_path: Path, emu: WatchedEmulator, dask_client: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The task graph never holds the key (even when this process has it); workers lacking one are refused."""
    monkeypatch.setenv("HUME_API_KEY", KEY)
    shipped: list[bytes] = []
    compute = dask_client.compute

    def spy(tasks: Any, **kwargs: Any) -> Any:
        import cloudpickle

        shipped.append(cloudpickle.dumps(tasks))
        return compute(tasks, **kwargs)

    monkeypatch.setattr(dask_client, "compute", spy)
    assert measure(recordings(tmp_path / "media", 2), tmp_path, emu, dask_client).counts()["ok"] == 2
    assert shipped and all(KEY.encode() not in graph for graph in shipped)
    dask_client.run(lambda: __import__("os").environ.pop("HUME_API_KEY", None))
    try:
        with pytest.raises(humekit.ConfigurationError, match="HUME_API_KEY is not set on 2 worker"):
            measure(recordings(tmp_path / "media", 2), tmp_path, emu, dask_client)
    finally:
        dask_client.run(lambda: __import__("os").environ.update(HUME_API_KEY=KEY))


def test_a_backend_factory_is_run_on_each_worker(tmp_path: Path, emu: WatchedEmulator, dask_client: Any) -> None:
    """backend_factory(limiter=...) builds each worker's backend (here V1Backend at concurrency 1)."""
    url = emu.url

    def factory(*, limiter: Any) -> V1Backend:
        return V1Backend(V1Client(base_url=url, limiter=limiter), concurrency=1)

    result = measure(recordings(tmp_path / "media", 4), tmp_path, emu, dask_client, base_url=None,
                     backend_factory=factory, npartitions=2)
    assert result.counts()["ok"] == 4 and emu.uploads == 4


def test_a_ledger_object_is_refused_for_a_path_or_url(tmp_path: Path, emu: WatchedEmulator, dask_client: Any) -> None:
    """ledger= must be what every worker can open (a path or URL), not a Ledger open in this process."""
    with pytest.raises(humekit.ConfigurationError, match="not a Ledger object"):
        humekit.measure_distributed(recordings(tmp_path / "media", 1), id_col="id", source_col="path",
                                    models=["audio"], ledger=humekit.Ledger(tmp_path / "l.sqlite"),
                                    out=tmp_path / "out", client=dask_client, base_url=emu.url)


def test_the_v0_batch_api_is_measured_on_the_cluster_too(tmp_path: Path, dask_client: Any) -> None:
    """api='v0': each worker submits its partition's jobs to the v0 emulator and waits for them; a rerun sends none."""
    from humekit.emulator import Emulator, Schedule

    texts = pd.DataFrame({"id": [f"t{i}" for i in range(4)], "path": [f"A sentence about day {i}." for i in range(4)]})
    with Emulator(api_key=KEY, schedule=Schedule(queued=0.0, running=0.0)) as v0:
        options: dict[str, Any] = dict(id_col="id", source_col="path", models=["language"], api="v0", kind="text",
                                       base_url=v0.url, ledger=tmp_path / "v0.sqlite", out=tmp_path / "out",
                                       client=dask_client, npartitions=2, progress=False, wait_initial=1.0)
        result = humekit.measure_distributed(texts, **options)
        jobs = len(v0.jobs)
        again = humekit.measure_distributed(texts, **options)
        assert len(v0.jobs) == jobs == 2  # one job per partition, none made again
    assert result.counts()["ok"] == again.counts()["ok"] == 4 and result.cost["billed_seconds"] is None
    assert set(humekit.read_dask(result.out).compute()["id"].astype(str)) == set(texts["id"])
