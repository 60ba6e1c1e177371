"""Benchmark: flattening Hume predictions JSON into a long DataFrame (humekit vs. the usual ways).

Builds a corpus of ``--size-mb`` of predictions files in a temp folder by replicating the real
samples (``$HUMEKIT_SAMPLES``, else ``../shared/samples`` beside the repository; they are not in the
repository, which holds only Hume's SDK example, in ``tests/data/hume_sdk``) (each file is one job of four sources: uploaded video with face,
prosody and language; raw text; URL video; URL archive) with new ids and perturbed score digits.
Then, each in a fresh subprocess so that peak memory is honest, it times:

- ``floor``: ``orjson.loads`` of every file, nothing else (the lower bound);
- ``humekit``: ``humekit.predictions.archives.read_predictions(folder).scores`` (one table for the corpus);
- ``humekit_per_file``: ``humekit.predictions.decoding.to_frame(bytes)`` per file (one table per file);
- ``loop``: ``orjson.loads`` and the loop users write: a dict per emotion, then ``pd.DataFrame``;
- ``json_normalize``: ``pandas.json_normalize`` per model block, then ``pd.concat``;
- ``sdk``: ``hume==0.13.13``'s own parsing (stdlib ``json`` then pydantic
  ``List[UnionPredictResult]``, as ``get_job_predictions`` does) followed by the same loop.

Methods run in rounds (``--repeat``, default 3; methods slower than 30 s run once) and the best
time of each is kept, which damps noise from other processes on the machine. Peak memory is the rise of the process's peak RSS (``VmHWM``, reset after imports) over its RSS
before the run, so it counts numpy/pyarrow buffers that ``tracemalloc`` would miss.

Every method but the floor must write its output to fresh memory, so its time includes the
kernel's first-touch page faults. On a shared VM these vary a lot (here 0.1-1.2 s for the same
640 MB), which is why the ratios move between runs.

Usage::

    .venv/bin/python benchmarks/flatten.py              # 200 MB corpus
    .venv/bin/python benchmarks/flatten.py --size-mb 20 # quick check
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("HUMEKIT_SAMPLES") or REPO.parent / "shared" / "samples")
SDK_EXAMPLES = REPO / "tests" / "data" / "hume_sdk"
BASES = (
    "real_predictions_file_video_face_prosody_language.json",
    "real_predictions_text_language_conversational_turn.json",
    "real_predictions_url_video_face_TRIMMED.json",
    "sdk_example_get_job_predictions_face_url_archive.json",
)
METHODS = ("floor", "humekit", "humekit_per_file", "loop", "json_normalize", "sdk")
MODEL_NAMES = ("face", "burst", "prosody", "language", "ner", "facemesh")


# ---------------------------------------------------------------- corpus


def sample(name: str) -> Path:
    """A base file: Hume's SDK example from the repository, or a real sample from ``SAMPLES``."""
    return SDK_EXAMPLES / name if (SDK_EXAMPLES / name).exists() else SAMPLES / name


def missing_samples() -> list[str]:
    """The base files that cannot be found."""
    return [name for name in BASES if not sample(name).is_file()]


def build_corpus(folder: Path, size_mb: float, *, seed: int = 0) -> list[Path]:
    """Write replicas of the samples' sources, one job per file, until ``size_mb`` is reached."""
    elements = [orjson.loads(sample(name).read_bytes())[0] for name in BASES]
    base = orjson.dumps(elements)
    data = np.frombuffer(base, dtype=np.uint8)
    # positions of the 3rd-6th decimals of every "score":0.dddddd; rewritten per replica
    spans = [m.start(1) for m in re.finditer(rb'"score":\d\.\d\d(\d{4})', base)]
    positions = (np.array(spans)[:, None] + np.arange(4)).ravel()
    ids = {  # same-length replacements keep the positions valid
        b"871152ade0c760bc8a84bcb349ad6843": lambda i: f"{i:032x}".encode(),
        b"video1318490298.mp4": lambda i: f"video{i:010d}.mp4".encode(),
        b"feelings_lab": lambda i: f"rec{i:09d}".encode(),
        b"faces.zip": lambda i: f"f{i % 10_000:04d}.zip".encode(),
    }
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files, total, i = [], 0, 0
    while total < size_mb * 1e6:
        replica = data.copy()
        replica[positions] = rng.integers(ord("0"), ord("9") + 1, len(positions), dtype=np.uint8)
        out = replica.tobytes()
        for old, new in ids.items():
            out = out.replace(old, new(i))
        path = folder / f"job-{i:05d}.json"
        path.write_bytes(out)
        files.append(path)
        total += len(out)
        i += 1
    return files


# ---------------------------------------------------------------- methods


def _loop(doc: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """The flattening loop users typically write (one dict per emotion)."""
    for src in doc:
        source = src["source"].get("url") or src["source"].get("filename") or src["source"]["type"]
        for pred in (src.get("results") or {}).get("predictions", []):
            for model, block in pred["models"].items():
                if block is None:
                    continue
                for group in block["grouped_predictions"]:
                    for item in group["predictions"]:
                        t = item.get("time")
                        begin, end = (t, t) if not isinstance(t, dict) else (t["begin"], t["end"])
                        for e in item["emotions"]:
                            rows.append({"source": source, "file": pred["file"], "model": model,
                                         "group": group["id"], "begin": begin, "end": end,
                                         "emotion": e["name"], "score": e["score"]})  # fmt: skip


def _sdk_loop(doc: list[Any], rows: list[dict[str, Any]]) -> None:
    """The same loop over the SDK's pydantic objects."""
    for src in doc:
        s = src.source
        source = getattr(s, "url", None) or getattr(s, "filename", None) or s.type
        for pred in src.results.predictions if src.results else []:
            for model in MODEL_NAMES:
                block = getattr(pred.models, model)
                if block is None:
                    continue
                for group in block.grouped_predictions:
                    for item in group.predictions:
                        t = getattr(item, "time", None)
                        begin, end = (t, t) if not hasattr(t, "begin") else (t.begin, t.end)
                        for e in item.emotions:
                            rows.append({"source": source, "file": pred.file, "model": model,
                                         "group": group.id, "begin": begin, "end": end,
                                         "emotion": e.name, "score": e.score})  # fmt: skip


def run(method: str, files: list[Path], folder: Path) -> Any:
    """Run one method over the corpus and return its output (a DataFrame, a list, or None)."""
    import pandas as pd

    if method == "floor":
        for f in files:
            orjson.loads(f.read_bytes())
        return None
    if method == "humekit":
        from humekit.predictions.archives import read_predictions

        return read_predictions(folder).scores
    if method == "humekit_per_file":
        from humekit.predictions.decoding import to_frame

        return [to_frame(f.read_bytes()) for f in files]
    if method == "loop":
        rows: list[dict[str, Any]] = []
        for f in files:
            _loop(orjson.loads(f.read_bytes()), rows)
        return pd.DataFrame(rows)
    if method == "json_normalize":
        frames = []
        for f in files:
            for src in orjson.loads(f.read_bytes()):
                source = src["source"].get("url") or src["source"].get("filename") or src["source"]["type"]
                for pred in src["results"]["predictions"]:
                    for model, block in pred["models"].items():
                        df = pd.json_normalize(block["grouped_predictions"], record_path=["predictions", "emotions"],
                                               meta=["id", ["predictions", "time"]])  # fmt: skip
                        frames.append(df.assign(source=source, file=pred["file"], model=model))
        return pd.concat(frames, ignore_index=True)
    if method == "sdk":
        from typing import List

        from hume.core.pydantic_utilities import parse_obj_as
        from hume.expression_measurement.batch.types import UnionPredictResult

        rows = []
        for f in files:
            doc = parse_obj_as(List[UnionPredictResult], json.loads(f.read_bytes()))  # noqa: UP006
            _sdk_loop(doc, rows)
        return pd.DataFrame(rows)
    raise ValueError(method)


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def worker(method: str, folder: Path) -> dict[str, Any]:
    """Time one method in this process and measure its peak RSS rise and output size."""
    import pandas as pd  # noqa: F401  (imports are not part of the measurement)

    import humekit.predictions.archives  # noqa: F401

    if method == "sdk":
        import hume.expression_measurement.batch.types  # noqa: F401
    files = sorted(folder.glob("*.json"))
    # warm-up on the smallest sample (first-call costs: lazy imports, caches), for every method alike
    with tempfile.TemporaryDirectory() as warm:
        (Path(warm) / "w.json").write_bytes(sample(BASES[-1]).read_bytes())
        run(method, [Path(warm) / "w.json"], Path(warm))
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        pass
    before = _status("VmRSS")
    start = time.perf_counter()
    out = run(method, files, folder)
    seconds = time.perf_counter() - start
    peak = _status("VmHWM") - before
    frames = out if isinstance(out, list) else [out] if out is not None else []
    return {
        "method": method,
        "seconds": seconds,
        "peak_mb": peak / 1e6,
        "rows": sum(len(f) for f in frames),
        "df_mb": sum(int(f.memory_usage(deep=True).sum()) for f in frames) / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    """Build the corpus, run every method in its own subprocess and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--size-mb", type=float, default=200.0, help="corpus size (default 200)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best time per method is kept")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.corpus)))
        return 0
    missing = missing_samples()
    if missing:
        print(f"benchmarks/flatten.py replicates Hume's real predictions samples, and {', '.join(missing)} "
              f"{'is' if len(missing) == 1 else 'are'} not in {SAMPLES}. They are kept outside the repository "
              "(third-party transcripts): put the samples folder at ../shared/samples beside the repository, or "
              "set HUMEKIT_SAMPLES=/path/to/samples, and run it again.", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="humekit-bench-") as tmp:
        start = time.perf_counter()
        files = build_corpus(Path(tmp), args.size_mb)
        size = sum(f.stat().st_size for f in files) / 1e6
        print(f"corpus: {len(files)} files, {size:.1f} MB, built in {time.perf_counter() - start:.1f} s")
        results: dict[str, dict[str, Any]] = {}
        for round_ in range(args.repeat):
            for method in args.methods.split(","):
                if round_ and results.get(method, {}).get("seconds", 0) > 30:
                    continue  # slow baselines are not sensitive to noise: once is enough
                proc = subprocess.run([sys.executable, __file__, "--worker", method, "--corpus", tmp],
                                      capture_output=True, text=True, check=False)  # fmt: skip
                if proc.returncode:
                    print(f"{method}: failed\n{proc.stderr[-2000:]}")
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"  round {round_ + 1} {method}: {r['seconds']:.2f} s", flush=True)
                if method not in results or r["seconds"] < results[method]["seconds"]:
                    results[method] = r
    best = list(results.values())
    floor = next((r["seconds"] for r in best if r["method"] == "floor"), None)
    sdk = next((r["seconds"] for r in best if r["method"] == "sdk"), None)
    print(f"\n{'method':<18}{'seconds':>9}{'x floor':>9}{'sdk / x':>9}{'rows':>11}{'df MB':>9}{'peak MB':>9}{'peak/df':>9}")
    for r in best:
        ratio = f"{r['seconds'] / floor:.2f}" if floor else "-"
        vs_sdk = f"{sdk / r['seconds']:.1f}" if sdk else "-"
        per = f"{r['peak_mb'] / r['df_mb']:.2f}" if r["df_mb"] else "-"
        print(f"{r['method']:<18}{r['seconds']:>9.2f}{ratio:>9}{vs_sdk:>9}{r['rows']:>11,}"
              f"{r['df_mb']:>9.1f}{r['peak_mb']:>9.1f}{per:>9}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
