"""Scaling out on a laptop: ``humekit.measure_distributed`` on a Dask LocalCluster against the v1 emulator.

Makes ``--rows`` short speech-like recordings, starts the v1 emulator in its own process (``humekit emulator
--api v1``: scores are synthetic) with ``--latency`` seconds before each answer, starts a LocalCluster of
``--workers`` worker processes (1 thread each), and measures the table in ``--partitions`` partitions with at
most ``--max-in-flight`` requests in flight across the cluster. Each worker reads the emulator's key from its
own ``HUME_API_KEY`` (the cluster's environment), sends its partitions through one shared SQLite ledger and
writes its results straight to a Parquet dataset. It prints the summary, the partitions, the dataset read
back with Dask, and a rerun, which sends nothing.

The same call runs on any Dask cluster; across machines give ``ledger="postgresql://..."`` (a SQLite file is
only safe when every worker is on one machine).

Usage::

    .venv/bin/python benchmarks/dask_local_cluster.py                     # 40 recordings, 2 workers, cap 4
    .venv/bin/python benchmarks/dask_local_cluster.py --rows 200 --workers 4 --max-in-flight 8 --out /tmp/study
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from distributed import Client, LocalCluster
from v1_requests import start_emulator

import humekit
from humekit.backends.v1.client import V1Client
from humekit.testing.media import make_audio


def recordings(folder: Path, n: int, seconds: float) -> pd.DataFrame:
    """``n`` WAVs of ``seconds`` of speech-like sound (one v1 request each), under IDs ``s0000``..."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [make_audio(folder / f"take-{i:04d}.wav", duration=seconds, segments=[(0.2, seconds - 0.2)], seed=i)
             for i in range(n)]
    return pd.DataFrame({"session": [f"s{i:04d}" for i in range(n)], "audio": [str(p) for p in paths]})


def runs(url: str, key: str) -> int:
    """How many runs (uploads measured) the emulator has recorded so far."""
    with V1Client(api_key=key, base_url=url) as client:
        count, cursor = 0, None
        while True:
            page = client.list_runs(page_size=200, cursor=cursor)
            count += len(page["runs"])
            cursor = page.get("next_cursor")
            if not cursor:
                return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--rows", type=int, default=40, help="recordings to measure (default 40)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each recording (default 4 s)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of the table (default 4)")
    parser.add_argument("--max-in-flight", type=int, default=4, help="requests in flight across the cluster")
    parser.add_argument("--latency", type=float, default=0.3, help="emulator seconds before each answer")
    parser.add_argument("--out", type=Path, help="folder for the media, ledger and dataset (default: a temp dir)")
    args = parser.parse_args(argv)
    folder = args.out or Path(tempfile.mkdtemp(prefix="humekit-dask-"))
    table = recordings(folder / "media", args.rows, args.seconds)
    key = "humekit-dask-example-key"
    emulator, url = start_emulator(key, args.latency)
    try:
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                          env={"HUME_API_KEY": key, "OMP_NUM_THREADS": "1"}) as cluster, Client(cluster) as client:
            print(f"cluster: {args.workers} workers, dashboard {client.dashboard_link}")
            options: dict[str, Any] = dict(id_col="session", source_col="audio", models=["audio"], ledger=folder / "ledger.sqlite",
                           out=folder / "dataset", base_url=url, npartitions=args.partitions,
                           max_in_flight=args.max_in_flight, api="v1")
            started = time.perf_counter()
            result = humekit.measure_distributed(table, **options)
            seconds = time.perf_counter() - started
            print(result)
            print(result.partitions.to_string(index=False))
            print(f"{result.cost['requests']} requests in {seconds:.1f} s ({result.cost['requests'] / seconds:.1f}/s) "
                  f"with at most {args.max_in_flight} in flight; billed {result.cost['billed_seconds']:g} s "
                  "(synthetic scores: the emulator)")
            scores = humekit.read_dask(result.out)
            print(f"dataset {result.out}: {scores.npartitions} Dask partitions, {len(scores):,} score rows, "
                  f"{len(scores['session'].value_counts(split_out=1).compute())} sessions scored")
            print(result.status().head().to_string(index=False))
            before = runs(url, key)
            rerun = humekit.measure_distributed(table, progress=False, **options)
            print(f"rerun: {rerun.counts()['ok']} ok, {runs(url, key) - before} uploads sent (the ledger had them all)")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
