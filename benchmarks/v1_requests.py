"""Benchmark: v1 requests per second, humekit at its default concurrency against the official SDK in a plain loop.

Makes ``--requests`` short recordings (``--seconds`` each, default 11 s: one v1 request apiece) as
16 kHz mono s16 WAV, the format v1 takes as it is, so the SDK can send each file's bytes unchanged.
Then, for each emulator latency in ``--latency`` (default ``0.3,0``), starts the v1 emulator
(:class:`humekit.emulator.v1.V1Emulator`, served on loopback with ``V1Faults(latency=...)``: the same
fixed delay before every answer, for both clients) and measures in the same run:

- **humekit**: ``humekit.measure(table, api="v1", models=["audio"])`` with a fresh ledger at
  :class:`~humekit.backends.v1.backend.V1Backend`'s default concurrency;
- **SDK loop**: what a researcher writes with ``hume-expression-measurement==0.1.0``: one
  ``client.audio.measure(file=path.read_bytes())`` after another, each response kept in a list.

Each side makes one warm-up request first (imports, connection), not counted. The emulator runs in
its own process so that its work (decoding the upload, finding utterances, synthesising scores)
is not counted as client CPU and does not contend with the client for the GIL.

The two sides do not do the same work, and the figures should be read that way: humekit validates
the table, probes each file and plans its windows (a pass over the audio), decodes and converts
every file again with PyAV as it sends it, claims each request in a SQLite ledger before sending
and stores each answer (compressed) the moment it arrives, then joins the scores back to the table
by ID; the SDK loop sends bytes it was handed already converted and parses each answer into its
models. Requests per second is uploads answered 200 over the wall time of the whole call (humekit:
all of ``measure``, planning and joining included); client CPU is this process's user + system time
over the same span (all threads), per request.

Usage::

    .venv/bin/python benchmarks/v1_requests.py                       # 60 recordings, latency 0.3 s and 0
    .venv/bin/python benchmarks/v1_requests.py --requests 20 --latency 0.3
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

import humekit
from humekit.backends.v1.backend import V1Backend
from humekit.backends.v1.client import V1Client
from humekit.testing.media import make_audio

DEFAULT_CONCURRENCY: int = inspect.signature(V1Backend).parameters["concurrency"].default


class UploadCounter(httpx.HTTPTransport):
    """Counts a client's requests and its uploads (POSTs) by status, and when the first upload left and the last
    answer came back (thread-safe: humekit sends from several threads)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0
        self.uploads: dict[int, int] = {}
        self.first_sent, self.last_answered = math.inf, -math.inf
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = time.perf_counter()
        response = super().handle_request(request)
        answered = time.perf_counter()
        with self._lock:
            self.requests += 1
            if request.method == "POST":
                self.uploads[response.status_code] = self.uploads.get(response.status_code, 0) + 1
                self.first_sent, self.last_answered = min(self.first_sent, sent), max(self.last_answered, answered)
        return response


def start_emulator(api_key: str, latency: float) -> tuple[subprocess.Popen[str], str]:
    """``humekit emulator --api v1`` in a child process on a free loopback port; returns it and its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "humekit.emulator", "--api", "v1", "--port", "0", "--api-key", api_key,
         "--latency", str(latency)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"at (http://\S+)", line)
    if found is None:
        process.kill()
        raise SystemExit(f"the v1 emulator did not start: {line!r}")
    return process, found.group(1)


def make_recordings(folder: Path, *, n: int, seconds: float) -> pd.DataFrame:
    """``n`` speech-like 16 kHz mono WAVs of ``seconds`` each, under IDs in no particular order."""
    paths = [make_audio(folder / f"rec-{i:03d}.wav", duration=seconds, seed=100 + i) for i in range(n)]
    return pd.DataFrame({"id": [f"p{(i * 37) % n:03d}" for i in range(n)], "path": [str(p) for p in paths]})


def run_humekit(table: pd.DataFrame, url: str, api_key: str, ledger: Path) -> dict[str, Any]:
    """``humekit.measure`` on the table with a fresh ledger, at the backend's default concurrency."""
    counter = UploadCounter()
    client = V1Client(api_key=api_key, base_url=url, transport=counter)
    cpu, start = time.process_time(), time.perf_counter()
    result = humekit.measure(table, id_col="id", source_col="path", models=["audio"], api="v1", client=client,
                             ledger=ledger, progress=False)
    cpu, end = time.process_time() - cpu, time.perf_counter()
    client.close()
    if not (result.status["status"] == "ok").all():
        raise SystemExit(f"humekit: not every row was measured: {result.counts()}")
    return _figures(counter, cpu=cpu, start=start, end=end, rows=len(result.predictions))


def run_sdk(paths: list[Path], url: str, api_key: str) -> dict[str, Any]:
    """The official v1 SDK, unmodified, uploading each file's bytes one after another."""
    from hume_expression_measurement import ExpressionMeasurementClient, ExpressionMeasurementClientEnvironment

    counter = UploadCounter()
    environment = ExpressionMeasurementClientEnvironment(base=url, production=url.replace("http", "ws", 1))
    http = httpx.Client(transport=counter, timeout=60)
    client = ExpressionMeasurementClient(api_key=api_key, environment=environment, httpx_client=http)
    cpu, start = time.process_time(), time.perf_counter()
    responses = []
    for path in paths:
        responses.append(client.audio.measure(file=path.read_bytes()))
    cpu, end = time.process_time() - cpu, time.perf_counter()
    http.close()
    return _figures(counter, cpu=cpu, start=start, end=end, rows=sum(len(r.measurements) for r in responses))


def _figures(counter: UploadCounter, *, cpu: float, start: float, end: float, rows: int) -> dict[str, Any]:
    """Requests per second over the whole call and while sending (first upload out to last answer in)."""
    answered = counter.uploads.get(200, 0)
    sending = counter.last_answered - counter.first_sent
    return {"requests": counter.requests, "uploads": answered, "wall": end - start, "cpu": cpu, "per_second": answered / (end - start),
            "sending_per_second": answered / sending, "before": counter.first_sent - start,
            "after": end - counter.last_answered, "cpu_ms": 1000 * cpu / max(answered, 1), "rows": rows}


def request_figures(*, requests: int = 60, seconds: float = 11.0,
                    latencies: tuple[float, ...] = (0.3, 0.0)) -> list[dict[str, Any]]:
    """Measure both clients at each latency; one dict per (latency, client), in that order."""
    api_key = "bench-v1-" + os.urandom(6).hex()
    figures = []
    with tempfile.TemporaryDirectory(prefix="humekit-bench-v1-requests-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        table = make_recordings(folder, n=requests, seconds=seconds)
        (folder / "warmup").mkdir()
        warmup = make_recordings(folder / "warmup", n=1, seconds=seconds)
        print(f"recordings: {requests} x {seconds:g} s 16 kHz mono WAV, made in {time.perf_counter() - start:.1f} s; "
              f"humekit at its default concurrency ({DEFAULT_CONCURRENCY})", flush=True)
        for latency in latencies:
            process, url = start_emulator(api_key, latency)
            try:
                run_humekit(warmup, url, api_key, folder / f"warmup-{latency}.sqlite")
                run_sdk([Path(warmup["path"].iloc[0])], url, api_key)
                sdk = run_sdk([Path(p) for p in table["path"]], url, api_key)
                ours = run_humekit(table, url, api_key, folder / f"ledger-{latency}.sqlite")
            finally:
                process.terminate()
                process.wait(timeout=10)
            for name, r in (("humekit", ours), ("SDK loop", sdk)):
                figures.append({"latency": latency, "client": name, **r})
                print(f"  latency {latency:g} s, {name}: {r['per_second']:.1f} requests/s", flush=True)
    return figures


def humekit_and_sdk(figures: list[dict[str, Any]], latency: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """The humekit and SDK-loop figures measured at one latency."""
    ours, sdk = (next(r for r in figures if r["latency"] == latency and r["client"] == name)
                 for name in ("humekit", "SDK loop"))
    return ours, sdk


def print_report(figures: list[dict[str, Any]]) -> None:
    """The table of both clients at each latency, and humekit's ratios to the SDK loop."""
    print(f"\n{'latency s':>9}  {'client':<9}{'uploads':>8}{'other':>6}{'wall s':>8}{'to 1st':>8}{'after':>7}"
          f"{'requests/s':>11}{'sending':>9}{'CPU s':>7}{'CPU ms/req':>11}")
    for r in figures:
        print(f"{r['latency']:>9g}  {r['client']:<9}{r['uploads']:>8}{r['requests'] - r['uploads']:>6}"
              f"{r['wall']:>8.2f}{r['before']:>8.2f}{r['after']:>7.2f}{r['per_second']:>11.1f}"
              f"{r['sending_per_second']:>9.1f}{r['cpu']:>7.2f}{r['cpu_ms']:>11.1f}")
    print("(uploads: answered 200; other: any other request or status; to 1st: seconds before the first upload left;"
          "\n after: seconds after the last answer came back; requests/s: uploads / wall; sending: uploads per second"
          "\n from the first upload out to the last answer in; CPU: this process, every thread)")
    for latency in dict.fromkeys(r["latency"] for r in figures):
        ours, sdk = humekit_and_sdk(figures, latency)
        print(f"latency {latency:g} s: humekit / SDK loop: requests/s {ours['per_second'] / sdk['per_second']:.2f}x "
              f"(while sending {ours['sending_per_second'] / sdk['sending_per_second']:.2f}x), "
              f"client CPU per request {ours['cpu_ms'] / sdk['cpu_ms']:.1f}x")


def main(argv: list[str] | None = None) -> int:
    """Parse the options, measure and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--requests", type=int, default=60, help="recordings, one request each (default 60)")
    parser.add_argument("--seconds", type=float, default=11.0, help="length of each recording (default 11)")
    parser.add_argument("--latency", default="0.3,0",
                        help="comma-separated seconds the emulator waits before every answer (default 0.3,0)")
    args = parser.parse_args(argv)
    print_report(request_figures(requests=args.requests, seconds=args.seconds,
                                 latencies=tuple(float(x) for x in args.latency.split(","))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
