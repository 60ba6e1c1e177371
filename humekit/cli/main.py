"""The ``humekit`` command: ``humekit run`` (a recordings table in, tables and a plot out), ``humekit emulator``
(serve the emulator) and ``humekit demo``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``humekit`` console script."""
    parser = argparse.ArgumentParser(prog="humekit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run_command(commands)
    _add_emulator_command(commands)
    demo = commands.add_parser("demo", help="run a small batch end to end against the embedded emulator")
    demo.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)
    if args.command == "emulator":
        return _serve_emulator(args)
    if args.command == "run":
        return _run(args)
    from humekit.cli.demo import run_demo

    return run_demo(quiet=args.quiet)


def _add_run_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="measure every row of a CSV/Parquet recordings table; write predictions, summaries, status, a plot",
        description="Measure every row of a recordings table with Hume's batch API (or, with --emulator, the "
        "embedded emulator, whose scores are synthetic) and write predictions, per-row summaries, status and a "
        "plot to --out. Resumable: run it again with the same --out/--ledger and no job is submitted twice. "
        "Exit code 0 when every row is ok, 1 when some are not, 2 when nothing could be run.",
    )
    run.add_argument("table", type=Path,
                     help="the recordings table, one row per recording: .csv (separator detected), .tsv or .parquet")
    run.add_argument("--id-col", required=True, help="column of stable, unique row IDs (the join key)")
    run.add_argument("--source-col", required=True, help="column of file paths (relative to --root), URLs or texts")
    run.add_argument("--models", required=True, nargs="+", metavar="MODEL",
                     help="e.g. prosody face language (or comma-separated, or a JSON object of model options)")
    run.add_argument("--out", required=True, type=Path, help="folder for the outputs (created)")
    run.add_argument("--base-url", help="a Hume-compatible API (default: HUME_BASE_URL)")
    run.add_argument("--ledger", type=Path, help="the SQLite job ledger (default: OUT/ledger.sqlite)")
    run.add_argument("--callback", action="store_true",
                     help="start a webhook receiver on loopback and have jobs call it back when done")
    run.add_argument("--kind", choices=["auto", "file", "url", "text"], default="auto",
                     help="what --source-col holds (default: decided per row)")
    run.add_argument("--root", type=Path, help="folder relative paths are resolved against (default: the table's)")
    run.add_argument("--emulator", action="store_true",
                     help="run against an embedded emulator on loopback (no key needed; scores are synthetic)")
    run.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for jobs (resumable)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run(args: argparse.Namespace) -> int:
    from humekit.errors import ConfigurationError
    from humekit.cli.run import RunOptions, parse_models, run_table

    try:
        models = parse_models(args.models)
    except ConfigurationError as exc:
        print(f"humekit run: error: {exc}", file=sys.stderr)
        return 2
    options = RunOptions(table=args.table, id_col=args.id_col, source_col=args.source_col, models=models,
                         out=args.out, base_url=args.base_url, ledger=args.ledger, callback=args.callback,
                         kind=args.kind, root=args.root, emulator=args.emulator, timeout=args.timeout,
                         progress=not args.no_progress and sys.stderr.isatty())
    return run_table(options)


def _add_emulator_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    emu = commands.add_parser(
        "emulator",
        help="serve the Hume v0 batch API emulator on loopback (synthetic scores)",
        description="Serve a faithful emulator of Hume's v0 batch API. Its scores are synthetic.",
    )
    emu.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    emu.add_argument("--port", type=int, default=8000, help="port (0 = a free one; default 8000)")
    emu.add_argument("--api-key", help="the key clients must send (default: a random one, printed)")
    emu.add_argument("--queued", type=float, default=1.0, help="seconds a job stays QUEUED")
    emu.add_argument("--running", type=float, default=2.0, help="seconds a job stays IN_PROGRESS")
    emu.add_argument("--media-dir", help="folder served under /media/ for URL jobs")
    emu.add_argument("--seed", type=int, default=0, help="seed for faults and synthetic chats")
    emu.add_argument("--webhook-signing-key", help="sign callback_url deliveries with this key")
    for name, text in (
        ("rate-limit-rate", "share of requests answered 429"),
        ("server-error-rate", "share of requests answered 5xx"),
        ("drop-rate", "share of connections dropped"),
        ("lost-response-rate", "share of job submissions whose response is lost"),
        ("job-failure-rate", "share of jobs that FAIL"),
        ("file-error-rate", "share of files with a per-file error"),
        ("callback-loss-rate", "share of callbacks never sent"),
    ):
        emu.add_argument(f"--{name}", type=float, default=0.0, help=text)
    emu.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    emu.add_argument("--list-lag", type=float, default=0.0, help="seconds a new job stays out of the job list")


def _serve_emulator(args: argparse.Namespace) -> int:
    from humekit.emulator import Emulator, Faults, Schedule

    faults = Faults(
        rate_limit_rate=args.rate_limit_rate,
        server_error_rate=args.server_error_rate,
        drop_rate=args.drop_rate,
        lost_response_rate=args.lost_response_rate,
        job_failure_rate=args.job_failure_rate,
        file_error_rate=args.file_error_rate,
        callback_loss_rate=args.callback_loss_rate,
        latency=args.latency,
        list_lag=args.list_lag,
        seed=args.seed,
    )
    emulator = Emulator(
        api_key=args.api_key,
        schedule=Schedule(queued=args.queued, running=args.running),
        faults=faults,
        media_dir=args.media_dir,
        webhook_signing_key=args.webhook_signing_key,
        seed=args.seed,
        host=args.host,
        port=args.port,
    )
    url = emulator.start()
    key = "(the one you passed with --api-key)" if args.api_key else emulator.api_key
    print(f"humekit emulator of Hume's v0 batch API at {url}  (scores are SYNTHETIC)")
    print(f"  HUME_BASE_URL={url}")
    print(f"  API key: {key}")
    if args.media_dir:
        print(f"  serving {args.media_dir} under {url}/media/")
    print("Press Ctrl+C to stop.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
