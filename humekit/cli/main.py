"""The ``humekit`` command: ``humekit run`` (a recordings table in, tables and a plot out), ``humekit emulator``
(serve the emulator) and ``humekit demo``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``humekit`` console script."""
    # allow_abbrev=False everywhere: otherwise argparse reads "--api" as "--api-key" and silently guesses.
    parser = argparse.ArgumentParser(prog="humekit", description=__doc__, allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run_command(commands)
    _add_emulator_command(commands)
    demo = commands.add_parser("demo", help="run a small batch end to end against the embedded emulator",
                               allow_abbrev=False)
    demo.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)
    if args.command == "emulator":
        return _serve_emulator(args, commands.choices["emulator"])
    if args.command == "run":
        return _run(args)
    from humekit.cli.demo import run_demo

    return run_demo(quiet=args.quiet)


def _add_run_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="measure every row of a CSV/Parquet recordings table; write predictions, summaries, status, a plot",
        description="Measure every row of a recordings table with Hume's live v1 API (--api v0: the batch API, "
        "sunset 2026-06-14, at a compatible endpoint; --emulator: an embedded emulator, whose scores are "
        "synthetic) and write predictions, per-row summaries, status and a plot to --out. Resumable: run it "
        "again with the same --out/--ledger and nothing is sent twice. "
        "Exit code 0 when every row is ok, 1 when some are not, 2 when nothing could be run.",
        allow_abbrev=False,
    )
    run.add_argument("table", type=Path,
                     help="the recordings table, one row per recording: .csv (separator detected), .tsv or .parquet")
    run.add_argument("--id-col", required=True, help="column of stable, unique row IDs (the join key)")
    run.add_argument("--source-col", required=True, help="column of file paths (relative to --root), URLs or texts")
    run.add_argument("--models", required=True, nargs="+", metavar="MODEL",
                     help="v1: audio face; v0: e.g. prosody face language (or comma-separated, or a JSON object "
                     "of model options)")
    run.add_argument("--out", required=True, type=Path, help="folder for the outputs (created)")
    run.add_argument("--api", choices=["v0", "v1"], default=None,
                     help="v1: Hume's live API (the default, or HUME_API); v0: the batch API at a compatible endpoint")
    run.add_argument("--dry-run", action="store_true",
                     help="send nothing: write the plan and what it would cost (requests and billed seconds per row)")
    run.add_argument("--base-url", help="a Hume-compatible API (default: HUME_BASE_URL)")
    run.add_argument("--ledger", help="the job ledger: a SQLite file (default: OUT/ledger.sqlite) or a PostgreSQL URL, "
                     "postgresql://user@host/db, that several machines share")
    run.add_argument("--callback", action="store_true",
                     help="start a webhook receiver on loopback and have jobs call it back when done")
    run.add_argument("--kind", choices=["auto", "file", "url", "text"], default="auto",
                     help="what --source-col holds (default: decided per row)")
    run.add_argument("--root", type=Path, help="folder relative paths are resolved against (default: the table's)")
    run.add_argument("--emulator", action="store_true",
                     help="run against an embedded emulator on loopback (no key needed; scores are synthetic)")
    run.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for jobs (resumable)")
    run.add_argument("--max-download-mb", type=float, default=1000.0,
                     help="v1: the largest file downloaded from a URL row, in MB (default 1000)")
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
                         api=args.api, dry_run=args.dry_run, max_download_mb=args.max_download_mb,
                         progress=not args.no_progress and sys.stderr.isatty())
    return run_table(options)


# Flags of one emulator only: (flag, dest, the API it belongs to).
_V0_ONLY = ("queued", "running", "media_dir", "webhook_signing_key", "job_failure_rate", "file_error_rate",
            "callback_loss_rate", "list_lag")
_V1_ONLY = ("server_busy_rate", "retry_after", "malformed_rate")


def _add_emulator_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    emu = commands.add_parser(
        "emulator",
        help="serve an emulator of Hume's v0 batch API or (--api v1) the v1 API on loopback (synthetic scores)",
        description="Serve a faithful emulator of Hume's v0 batch API, or with --api v1 of the v1 Expression "
        "Measurement API. Its scores are synthetic.",
        allow_abbrev=False,
    )
    emu.add_argument("--api", choices=["v0", "v1"], default="v0",
                     help="which API to emulate: v0 (batch jobs, sunset 2026-06-14; the default) or v1 (synchronous "
                     "uploads, the live API)")
    emu.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    emu.add_argument("--port", type=int, default=8000, help="port (0 = a free one; default 8000)")
    emu.add_argument("--api-key", help="the key clients must send (default: a random one, printed)")
    emu.add_argument("--queued", type=float, default=1.0, help="v0: seconds a job stays QUEUED")
    emu.add_argument("--running", type=float, default=2.0, help="v0: seconds a job stays IN_PROGRESS")
    emu.add_argument("--media-dir", help="v0: folder served under /media/ for URL jobs")
    emu.add_argument("--seed", type=int, default=0, help="seed for faults, ids and synthetic chats")
    emu.add_argument("--webhook-signing-key", help="v0: sign callback_url deliveries with this key")
    for name, text in (
        ("rate-limit-rate", "share of requests answered 429 (v1: the gateway's, with no code)"),
        ("server-error-rate", "share of requests answered 5xx (v1: 500 internal_error)"),
        ("drop-rate", "share of connections dropped before the request is processed"),
        ("lost-response-rate", "share of uploads (v0: job submissions) processed whose response is then lost"),
        ("job-failure-rate", "v0: share of jobs that FAIL"),
        ("file-error-rate", "v0: share of files with a per-file error"),
        ("callback-loss-rate", "v0: share of callbacks never sent"),
        ("server-busy-rate", "v1: share of uploads answered 503 server_busy with Retry-After"),
        ("malformed-rate", "v1: share of uploads measured and billed, then answered with malformed JSON"),
    ):
        emu.add_argument(f"--{name}", type=float, default=0.0, help=text)
    emu.add_argument("--retry-after", type=int, default=1, help="v1: whole seconds sent in Retry-After (503 and 429)")
    emu.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    emu.add_argument("--list-lag", type=float, default=0.0, help="v0: seconds a new job stays out of the job list")


def _serve_emulator(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    other = _V0_ONLY if args.api == "v1" else _V1_ONLY
    given = [name for name in other if getattr(args, name) != parser.get_default(name)]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        print(f"humekit emulator: error: {flags} only appl{'y' if len(given) > 1 else 'ies'} to the "
              f"{'v0' if args.api == 'v1' else 'v1'} emulator; drop {'them' if len(given) > 1 else 'it'} or "
              f"pass --api {'v0' if args.api == 'v1' else 'v1'}", file=sys.stderr)
        return 2
    try:
        emulator, banner = _v1_emulator(args) if args.api == "v1" else _v0_emulator(args)
    except ValueError as exc:  # a fault rate out of range
        print(f"humekit emulator: error: {exc}", file=sys.stderr)
        return 2
    url = emulator.start()
    key = "(the one you passed with --api-key)" if args.api_key else emulator.api_key
    print(banner.format(url=url))
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


def _v0_emulator(args: argparse.Namespace) -> tuple[Any, str]:
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
    return emulator, "humekit emulator of Hume's v0 batch API at {url}  (scores are SYNTHETIC)"


def _v1_emulator(args: argparse.Namespace) -> tuple[Any, str]:
    from humekit.emulator.v1 import Fault, V1Emulator, V1Faults

    rates: dict[Fault, float] = {
        "gateway_rate_limit": args.rate_limit_rate,
        "internal_error": args.server_error_rate,
        "drop": args.drop_rate,
        "lost_response": args.lost_response_rate,
        "server_busy_retry_after": args.server_busy_rate,
        "malformed": args.malformed_rate,
    }
    faults = V1Faults(rates={name: rate for name, rate in rates.items() if rate},
                      retry_after=args.retry_after, latency=args.latency, seed=args.seed)
    emulator = V1Emulator(api_key=args.api_key, faults=faults, seed=args.seed, host=args.host, port=args.port)
    return emulator, "humekit emulator of Hume's v1 Expression Measurement API at {url}  (scores are SYNTHETIC)"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
