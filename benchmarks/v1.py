"""Benchmark: Hume's v1 API in one run: conversion speed against PyAV's bare decode, peak RSS, requests per second.

Runs, one after the other, and prints each one's table and then a summary of the three figures:

1. :mod:`v1_convert`: audio seconds converted to v1's 16 kHz mono s16 PCM per CPU second, against
   PyAV's own bare decode of the same file (the floor), each method in a fresh subprocess;
2. the same run's extra peak RSS converting the recording (a 2-hour FLAC by default);
3. :mod:`v1_requests`: requests per second at humekit's default concurrency against the v1 emulator,
   compared with the official SDK ``hume-expression-measurement==0.1.0`` called in a plain loop, with
   the same emulator latency for both.

Usage::

    make bench-v1                                            # 2-hour FLAC; 60 requests at 0.3 s and 0 latency
    .venv/bin/python benchmarks/v1.py --minutes 10 --requests 20 --latency 0.3   # quick check
"""

from __future__ import annotations

import argparse
import sys

import v1_convert
import v1_requests


def main(argv: list[str] | None = None) -> int:
    """Run both benchmarks and print their tables and the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--minutes", type=float, default=120.0, help="length of the recording converted (default 120)")
    parser.add_argument("--format", default="flac", help="its humekit.testing.media.AUDIO_FORMATS name (default flac)")
    parser.add_argument("--requests", type=int, default=60, help="recordings sent, one request each (default 60)")
    parser.add_argument("--seconds", type=float, default=11.0, help="length of each recording sent (default 11)")
    parser.add_argument("--latency", default="0.3,0",
                        help="comma-separated seconds the emulator waits before every answer (default 0.3,0)")
    args = parser.parse_args(argv)
    latencies = tuple(float(x) for x in args.latency.split(","))

    print("== v1 conversion: audio seconds per CPU second against PyAV's bare decode, extra peak RSS ==", flush=True)
    converted = v1_convert.convert_figures(minutes=args.minutes, format=args.format)
    v1_convert.print_report(converted, minutes=args.minutes)
    print(f"\n== v1 requests per second: humekit at its default concurrency ({v1_requests.DEFAULT_CONCURRENCY}) "
          "against the official SDK in a plain loop, on the v1 emulator ==", flush=True)
    sent = v1_requests.request_figures(requests=args.requests, seconds=args.seconds, latencies=latencies)
    v1_requests.print_report(sent)

    print(f"\n== summary ({args.minutes:g} min {args.format}; {args.requests} x {args.seconds:g} s WAV) ==")
    by_method = {r["method"]: r for r in converted}
    floor = by_method.get("floor")
    for method in ("convert", "backend"):
        if method in by_method and floor:
            r = by_method[method]
            print(f"audio s converted per CPU s, {method}: {r['audio_per_cpu']:.0f} "
                  f"({r['audio_per_cpu'] / floor['audio_per_cpu']:.2f}x the floor, {floor['audio_per_cpu']:.0f})")
    print(f"extra peak RSS converting the {args.minutes:g}-min file: {v1_convert.extra_rss_mb(converted):.1f} MB "
          "(budget 200 MB)")
    for latency in latencies:
        ours, sdk = v1_requests.humekit_and_sdk(sent, latency)
        print(f"requests/s at latency {latency:g} s: humekit {ours['per_second']:.1f}, SDK loop {sdk['per_second']:.1f} "
              f"({ours['per_second'] / sdk['per_second']:.2f}x); humekit client CPU {ours['cpu_ms']:.0f} ms/request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
