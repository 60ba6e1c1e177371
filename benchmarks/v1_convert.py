"""Benchmark: converting audio for Hume's v1 API (16 kHz mono s16 PCM) against PyAV's own bare decode.

Generates a recording in a temp folder (``--minutes``, default 120; ``--format``, default FLAC at
44.1 kHz stereo, a common archive format, made by :func:`humekit.testing.media.make_audio`), then, each in
a fresh subprocess so that memory is honest, measures:

- ``floor``: PyAV demuxes and decodes every frame and does nothing with it (the lower bound);
- ``convert``: :func:`humekit.backends.v1.audio.pcm_chunks` over the whole file: decode, downmix,
  resample to 16 kHz, s16 bytes;
- ``backend``: what the v1 backend does per recording: :func:`~humekit.backends.v1.windows.plan_file_windows`
  (one pass for the energy profile) then :func:`~humekit.backends.v1.audio.read_windows` (a second pass,
  one window's WAV in memory at a time, as it is sent).

For each: audio seconds converted per CPU second (user + system time of the child), its ratio to the
floor, and the extra peak RSS: the rise of ``VmHWM`` (reset after imports) over the RSS before the run.
The extra RSS must stay well under 200 MB for a 2-hour file, however long the file.

Usage::

    .venv/bin/python benchmarks/v1_convert.py               # 2-hour FLAC
    .venv/bin/python benchmarks/v1_convert.py --minutes 10  # quick check
    .venv/bin/python benchmarks/v1_convert.py --format mp3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

METHODS = ("floor", "convert", "backend")


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def run(method: str, path: Path) -> int:
    """Run one method over the file; returns the bytes of 16 kHz PCM it produced (0 for the floor)."""
    if method == "floor":
        import av

        with av.open(str(path)) as container:
            for _ in container.decode(container.streams.audio[0]):
                pass
        return 0
    if method == "convert":
        from humekit.backends.v1.audio import pcm_chunks

        return sum(len(chunk) for chunk in pcm_chunks(path))
    if method == "backend":
        from humekit.backends.v1.audio import read_windows
        from humekit.backends.v1.windows import plan_file_windows

        _, windows = plan_file_windows(path)
        produced = 0
        for wav in read_windows(path, windows, wav=True):  # as a sender does: one request body at a time
            produced += len(wav) - 44
            del wav
        return produced
    raise ValueError(method)


def worker(method: str, path: Path, seconds: float) -> dict[str, Any]:
    """Measure one method in this process: CPU time, wall time, extra peak RSS."""
    import av  # noqa: F401  (imports are not part of the measurement)
    import numpy  # noqa: F401

    import humekit.backends.v1.windows  # noqa: F401

    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        pass
    before = _status("VmRSS")
    cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    produced = run(method, path)
    wall = time.perf_counter() - wall0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"method": method, "cpu": cpu, "wall": wall, "extra_rss_mb": (_status("VmHWM") - before) / 1e6,
            "pcm_seconds": produced / 32_000, "audio_per_cpu": seconds / cpu if cpu else float("inf")}


def convert_figures(*, minutes: float = 120.0, format: str = "flac",
                    methods: tuple[str, ...] = METHODS) -> list[dict[str, Any]]:
    """Make the recording and run every method in its own subprocess; one dict per method that ran."""
    from humekit.testing.media import AUDIO_FORMATS, make_audio

    seconds = minutes * 60
    results = []
    with tempfile.TemporaryDirectory(prefix="humekit-bench-v1-") as tmp:
        spec = AUDIO_FORMATS[format]
        path = Path(tmp) / f"recording{spec.suffix}"
        start = time.perf_counter()
        channels = 1 if format == "opus" else 2
        make_audio(path, format=format, duration=seconds, channels=channels, seed=1)
        print(f"recording: {minutes:g} min {format} {spec.sample_rate} Hz x{channels}, "
              f"{path.stat().st_size / 1e6:.1f} MB, made in {time.perf_counter() - start:.1f} s", flush=True)
        for method in methods:
            proc = subprocess.run([sys.executable, __file__, "--worker", method, "--file", str(path),
                                   "--seconds", str(seconds)], capture_output=True, text=True, check=False,
                                  env={**os.environ, "OMP_NUM_THREADS": "1"})
            if proc.returncode:
                print(f"{method}: failed\n{proc.stderr[-2000:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"  {method}: {r['cpu']:.1f} CPU s", flush=True)
            results.append(r)
    return results


def extra_rss_mb(results: list[dict[str, Any]]) -> float:
    """The largest extra peak RSS of the conversion methods (the floor is not conversion)."""
    return max((r["extra_rss_mb"] for r in results if r["method"] != "floor"), default=0.0)


def print_report(results: list[dict[str, Any]], *, minutes: float) -> None:
    """The table of every method against the floor, and the extra peak RSS against the 200 MB budget."""
    floor = next((r["audio_per_cpu"] for r in results if r["method"] == "floor"), None)
    print(f"\n{'method':<10}{'CPU s':>8}{'wall s':>8}{'audio s/CPU s':>15}{'x floor':>9}{'extra RSS MB':>14}")
    for r in results:
        ratio = f"{r['audio_per_cpu'] / floor:.2f}" if floor else "-"
        print(f"{r['method']:<10}{r['cpu']:>8.1f}{r['wall']:>8.1f}{r['audio_per_cpu']:>15.0f}{ratio:>9}"
              f"{r['extra_rss_mb']:>14.1f}")
    worst = extra_rss_mb(results)
    print(f"\nconversion's extra peak RSS: {worst:.1f} MB for {minutes:g} min "
          f"({'well under' if worst < 100 else 'OVER' if worst >= 200 else 'under'} the 200 MB budget)")


def main(argv: list[str] | None = None) -> int:
    """Parse the options (or run as a worker), measure and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--minutes", type=float, default=120.0, help="length of the recording (default 120)")
    parser.add_argument("--format", default="flac", help="humekit.testing.media.AUDIO_FORMATS name (default flac)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.file, args.seconds)))
        return 0
    results = convert_figures(minutes=args.minutes, format=args.format, methods=tuple(args.methods.split(",")))
    print_report(results, minutes=args.minutes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
