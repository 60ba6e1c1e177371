"""Benchmark how ``humekit.measure``'s client cost grows with the table: CPU and peak memory per row.

Each size runs in a fresh subprocess: a synthetic table of ``N`` raw texts is measured by
``humekit.measure`` against an in-memory synchronous API defined here (answers in the response, no HTTP,
so the network is not measured) with a fresh SQLite ledger. Everything the client does is timed: validation,
planning, the ledger's claim/commit path (every unit claimed before it is sent, every answer committed as it
arrives), decoding and the join, and (with ``--out``, the default) streaming the predictions to a Parquet
dataset in bounded chunks. Each text is answered with ``--emotions`` scores (48 by default: Hume's language
emotions), ``--per-unit`` texts to a request (100, like a v0 batch job). The scores are synthetic.

Prints, per size, client CPU per row, peak RSS (absolute, and above what the process held before ``measure``,
which already held the table), the largest table's CPU per row over the smallest's, and the ratio of the
largest table's peak above the start to that of the smallest table filling a chunk (flat memory: about 1,
however many rows).

Usage::

    .venv/bin/python benchmarks/scale.py                       # 10^3, 10^4, 10^5 and 10^6 rows
    .venv/bin/python benchmarks/scale.py --sizes 1000 10000    # a quick run on a laptop
    .venv/bin/python benchmarks/scale.py --sizes 10000 --profile 25   # the top 25 functions by own CPU
    .venv/bin/python benchmarks/scale.py --in-memory           # the default path (no out=): the whole table in memory
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SIZES = (1_000, 10_000, 100_000, 1_000_000)


def memory_backend(*, emotions: int, per_unit: int) -> Any:
    """The in-memory synchronous API: ``per_unit`` texts a request, ``emotions`` synthetic scores a text."""
    from humekit.backends.base import Decoded
    from humekit.backends.sync import SyncBackend
    from humekit.pipeline.columns import DESCRIPTOR_COLUMNS, PREDICTION_COLUMNS
    from humekit.pipeline.input_limits import InputLimits
    from humekit.pipeline.planning import Plan, RowInput, distinct_inputs, unit
    from humekit.predictions.vocabulary import LANGUAGE_EMOTIONS

    names = [*LANGUAGE_EMOTIONS, *(f"Emotion{i}" for i in range(max(0, emotions - len(LANGUAGE_EMOTIONS))))]
    names = names[:emotions]

    class MemoryAPI(SyncBackend):
        """Answers every request at once; a text's scores are a cheap function of its position in the unit."""

        name = "memory-scale"

        def __init__(self) -> None:
            super().__init__("memory://scale", concurrency=2, attempts=1)

        def pack(self, rows: Sequence[RowInput], *, config: str, models: Sequence[str], salt: str,
                 limits: InputLimits) -> Plan:
            texts = distinct_inputs(rows)["text"]
            units = [replace(unit("text", texts[i:i + per_unit], f"{config}{salt}"), models=tuple(models))
                     for i in range(0, len(texts), per_unit)]
            return Plan(jobs=units, unplannable={}, config_key=f"{config}{salt}")

        def send(self, unit: Any, *, models: Mapping[str, Any], transcription: Any) -> bytes:
            keys = [unit.input_key(i) for i in range(len(unit.inputs))]
            rng = np.random.default_rng(len(unit.inputs))
            return json.dumps({"inputs": keys, "scores": rng.random((len(keys), len(names))).round(6).tolist()}
                              ).encode()

        def decode(self, kind: str, answer: bytes, *, request: Mapping[str, Any]) -> Decoded:
            body = json.loads(answer)
            keys, scores = body["inputs"], np.asarray(body["scores"], dtype=float)
            n = len(keys)
            frame = pd.DataFrame({"input_key": np.repeat(np.asarray(keys, dtype=object), len(names)),
                                  "model": "language", "emotion": np.tile(np.asarray(names, dtype=object), n),
                                  "score": scores.reshape(-1)})
            frame = frame.reindex(columns=["input_key", *PREDICTION_COLUMNS])
            answered = {key: ([("", "text")], {("", "language")}) for key in keys}
            return Decoded(scores=frame, descriptors=pd.DataFrame(columns=["input_key", *DESCRIPTOR_COLUMNS]),
                           errors={}, answered=answered)

    return MemoryAPI()


def rss_kib() -> int:
    """This process's resident memory now (KiB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def child(rows: int, *, emotions: int, per_unit: int, stream: bool, chunk_rows: int, profile: int) -> dict[str, Any]:
    """Measure ``rows`` synthetic texts in this process; what it cost."""
    import humekit

    table = pd.DataFrame({"id": [f"r{i:07d}" for i in range(rows)],
                          "text": [f"synthetic text number {i} about a day at work" for i in range(rows)]})
    backend = memory_backend(emotions=emotions, per_unit=per_unit)
    with tempfile.TemporaryDirectory() as folder:
        options: dict[str, Any] = dict(id_col="id", source_col="text", models=["language"], kind="text",
                                       backend=backend, ledger=Path(folder) / "ledger.sqlite", progress=False)
        if stream:
            options.update(out=Path(folder) / "out", chunk_rows=chunk_rows)
        before = rss_kib()
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        cpu, wall = time.process_time(), time.perf_counter()
        result = humekit.measure(table, **options)
        counts = result.counts()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(profile)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        predictions = len(result.predictions) if not stream else result.dataset().count_rows()
    if counts.get("ok") != rows:
        raise SystemExit(f"expected {rows} ok rows, got {counts}")
    return {"rows": rows, "cpu_s": cpu, "wall_s": wall, "peak_kib": peak, "before_kib": before,
            "prediction_rows": predictions}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="table sizes (rows)")
    parser.add_argument("--emotions", type=int, default=48, help="scores per text (default 48)")
    parser.add_argument("--per-unit", type=int, default=100, help="texts per request (default 100)")
    parser.add_argument("--chunk-rows", type=int, default=10_000, help="rows joined and written at a time")
    parser.add_argument("--in-memory", action="store_true", help="measure without out= (everything in memory)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the top N functions (cProfile)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        found = child(args.child, emotions=args.emotions, per_unit=args.per_unit, stream=not args.in_memory,
                      chunk_rows=args.chunk_rows, profile=args.profile)
        print(json.dumps(found))
        return
    mode = "in memory (no out=)" if args.in_memory else f"out= (streamed, {args.chunk_rows:,} rows a chunk)"
    print(f"humekit.measure, {args.emotions} emotions a text, {args.per_unit} texts a request, {mode}")
    print(f"{'rows':>10} {'predictions':>12} {'CPU s':>8} {'CPU ms/row':>11} {'peak RSS MB':>12} "
          f"{'above start MB':>15} {'wall s':>8}")
    results = []
    for size in args.sizes:
        command = [sys.executable, __file__, "--child", str(size), "--emotions", str(args.emotions), "--per-unit",
                   str(args.per_unit), "--chunk-rows", str(args.chunk_rows), "--profile", str(args.profile),
                   *(["--in-memory"] if args.in_memory else [])]
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        found = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(found)
        per_row = 1000 * found["cpu_s"] / size
        grown = max(0, found["peak_kib"] - found["before_kib"]) / 1024
        print(f"{size:>10,} {found['prediction_rows']:>12,} {found['cpu_s']:>8.1f} {per_row:>11.3f} "
              f"{found['peak_kib'] / 1024:>12.0f} {grown:>15.1f} {found['wall_s']:>8.1f}", flush=True)
    per_rows = [r["cpu_s"] / r["rows"] for r in results]
    if len(per_rows) > 1:
        ordered = sorted(results, key=lambda r: r["rows"])
        # baselines: the smallest table, and the smallest that fills a chunk (a smaller one holds less than a
        # chunk, and its per-row CPU carries the call's fixed costs: no fair baseline for growth)
        full = [r for r in ordered if r["rows"] >= args.chunk_rows or args.in_memory] or ordered
        small, chunk, large = ordered[0], full[0], ordered[-1]

        def cpu(r: dict[str, Any]) -> float:
            return float(r["cpu_s"]) / float(r["rows"])

        def grown(r: dict[str, Any]) -> float:
            return float(max(1, r["peak_kib"] - r["before_kib"]))

        print(f"largest/smallest CPU per row: {cpu(large) / cpu(small):.2f} ({large['rows']:,} rows / "
              f"{small['rows']:,}); against the smallest full chunk: {cpu(large) / cpu(chunk):.2f} "
              f"(/ {chunk['rows']:,}); max/min over all sizes: {max(per_rows) / min(per_rows):.2f}")
        print(f"peak memory above the start, largest table / smallest full chunk: {grown(large) / grown(chunk):.2f} "
              f"({large['rows']:,} rows / {chunk['rows']:,})")


if __name__ == "__main__":
    main()
