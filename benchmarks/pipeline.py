"""Benchmark the pipeline: requests per job and client CPU per row for a large run.

Starts the emulator in a separate process (so its synthesis work is not counted as client CPU),
builds a synthetic study (audio files, images, texts, URLs with duplicates), then runs in the
same session:

- **baseline**: what a researcher writes with the official SDK ``hume==0.13.13``: chunks of 100,
  one job per chunk, each job polled every second until done (the TypeScript SDK's
  ``awaitCompletion`` rhythm), predictions parsed by the SDK's models and flattened by a loop;
- **humekit**: ``humekit.measure`` on the same table.

Prints requests per job, client CPU per row and wall time for both, and humekit's ratios to the
baseline. Usage: ``.venv/bin/python benchmarks/pipeline.py --rows 2000``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd

import humekit
from humekit.testing.study import make_recordings

MODELS = ["prosody", "face", "language"]


def start_emulator(media: Path, api_key: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "humekit.emulator", "--port", "0", "--api-key", api_key, "--queued", "1",
         "--running", "4", "--media-dir", str(media)],
        stdout=subprocess.PIPE, text=True,
    )
    line = process.stdout.readline()
    url = re.search(r"at (http://\S+)", line).group(1)
    return process, url


class CountingTransport(httpx.HTTPTransport):
    """Counts requests by kind (what the benchmark reports)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts = {"POST": 0, "status": 0, "predictions": 0}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.counts["POST"] += 1
        elif request.url.path.endswith("/predictions"):
            self.counts["predictions"] += 1
        else:
            self.counts["status"] += 1
        return super().handle_request(request)


def run_humekit(table: pd.DataFrame, url: str, api_key: str, ledger: Path) -> dict:
    transport = CountingTransport()
    client = humekit.Client(api_key=api_key, base_url=url, transport=transport)
    cpu, wall = time.process_time(), time.perf_counter()
    result = humekit.measure(table, id_col="id", source_col="source", models=MODELS, client=client, ledger=ledger,
                             progress=False)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert (result.status["status"] == "ok").all(), result.counts()
    return {"jobs": len(result.submitted), "cpu": cpu, "wall": wall, **transport.counts,
            "prediction_rows": len(result.predictions)}


def run_baseline(table: pd.DataFrame, url: str, api_key: str) -> dict:
    from hume import HumeClient
    from hume.expression_measurement.batch.types import Face, InferenceBaseRequest, Language, Models, Prosody

    transport = CountingTransport()
    sdk = HumeClient(api_key=api_key, base_url=url, httpx_client=httpx.Client(transport=transport, timeout=60))
    batch = sdk.expression_measurement.batch
    models = Models(prosody=Prosody(), face=Face(), language=Language())
    cpu, wall = time.process_time(), time.perf_counter()
    jobs = []
    for kind in ("audio", "image", "url", "text"):
        part = table[table["kind"] == kind]
        for start in range(0, len(part), 100):
            chunk = part.iloc[start : start + 100]
            if kind in ("audio", "image"):
                files = [open(p, "rb") for p in chunk["source"]]
                jobs.append(batch.start_inference_job_from_local_file(file=files, json=InferenceBaseRequest(models=models)))
                for f in files:
                    f.close()
            elif kind == "url":
                jobs.append(batch.start_inference_job(urls=list(chunk["source"]), models=models))
            else:
                jobs.append(batch.start_inference_job(text=list(chunk["source"]), models=models))
    rows = []
    for job_id in jobs:
        while batch.get_job_details(id=job_id).state.status not in ("COMPLETED", "FAILED"):
            time.sleep(1.0)
        for source in batch.get_job_predictions(id=job_id):
            name = getattr(source.source, "filename", None) or getattr(source.source, "url", None) or "text"
            for prediction in source.results.predictions:
                for model_name in ("prosody", "face", "language"):
                    model = getattr(prediction.models, model_name)
                    if model is None:
                        continue
                    for group in model.grouped_predictions:
                        for item in group.predictions:
                            for emotion in item.emotions:
                                rows.append({"source": name, "file": prediction.file, "model": model_name,
                                             "emotion": emotion.name, "score": emotion.score})
    frame = pd.DataFrame(rows)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    # Note: the baseline still cannot join by ID (basenames collide, duplicate URLs share a source).
    return {"jobs": len(jobs), "cpu": cpu, "wall": wall, **transport.counts, "prediction_rows": len(frame)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    api_key = "bench-" + os.urandom(6).hex()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "media").mkdir()
        process, url = start_emulator(folder / "media", api_key)
        try:
            table = make_recordings(folder, n=args.rows, seed=11, media_url=f"{url}/media")
            print(f"{len(table)} rows: {table['kind'].value_counts().to_dict()}; emulator at {url} (separate process)")
            results = {"humekit": run_humekit(table, url, api_key, folder / "ledger.sqlite")}
            if not args.skip_baseline:
                results["baseline (official SDK loop)"] = run_baseline(table, url, api_key)
        finally:
            process.terminate()
            process.wait(timeout=10)
    print(f"{'':30} {'jobs':>5} {'POST':>5} {'status':>7} {'fetch':>6} {'req/job':>8} {'CPU s':>7} "
          f"{'CPU ms/row':>11} {'wall s':>7}")
    for name, r in results.items():
        total = r["POST"] + r["status"] + r["predictions"]
        r["per_job"] = total / r["jobs"]
        r["per_row"] = 1000 * r["cpu"] / args.rows
        print(f"{name:30} {r['jobs']:>5} {r['POST']:>5} {r['status']:>7} {r['predictions']:>6} {r['per_job']:>8.2f} "
              f"{r['cpu']:>7.2f} {r['per_row']:>11.3f} {r['wall']:>7.1f}")
    if len(results) == 2:
        h, b = results["humekit"], results["baseline (official SDK loop)"]
        print(f"ratios humekit/baseline: requests per job {h['per_job'] / b['per_job']:.2f}, "
              f"client CPU per row {h['per_row'] / b['per_row']:.2f}, wall {h['wall'] / b['wall']:.2f}")


if __name__ == "__main__":
    main()
