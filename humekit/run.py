"""``humekit run``: the whole pipeline from a shell, a recordings table in and tables, a plot and a summary out.

``run_table`` reads a CSV or Parquet table, runs :func:`humekit.measure` through a ledger in the
output folder (so running it again makes no new job), and writes:

- ``predictions.parquet`` / ``.csv``: the long table (one row per row, segment and emotion);
- ``wide.parquet`` / ``.csv``: one row per input row and model: your columns, ``status``,
  ``segments`` and the mean score of each emotion over the segments (rows without predictions
  are kept, with their status);
- ``status.parquet`` / ``.csv``: one row per input row: ``status``, ``job_id``, ``error``;
- ``top_emotions.png``: the mean score of the strongest emotions per row and model.

It returns 0 when every row is ``ok``, 1 when some are not (``--timeout`` running out leaves its
rows ``pending``: the outputs are written, and the same command again collects them), 2 when
nothing could be run, 130 when interrupted (Ctrl-C: the jobs keep running, the same command resumes).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from humekit.errors import ConfigurationError, HumekitError, MeasureInterrupted, TableError, WaitTimeoutError

__all__ = ["EMULATOR_JOBS", "OUTPUTS", "RunOptions", "parse_models", "read_table", "run_table", "summarize_rows"]

#: The files ``run_table`` writes into the output folder.
OUTPUTS = ("predictions.parquet", "predictions.csv", "wide.parquet", "wide.csv", "status.parquet", "status.csv",
           "top_emotions.png")  # fmt: skip
#: Where ``--emulator`` keeps the embedded emulator's jobs between runs (in the output folder).
EMULATOR_JOBS = "emulator-jobs.json"
_SEGMENT_KEYS = ("model", "group", "frame", "begin", "end", "text", "file", "position_begin", "position_end")


@dataclass(frozen=True)
class RunOptions:
    """What ``humekit run`` was asked to do (the command-line options)."""

    table: Path
    id_col: str
    source_col: str
    models: Any
    out: Path
    base_url: str | None = None
    ledger: Path | None = None
    callback: bool = False
    kind: str = "auto"
    root: Path | None = None
    emulator: bool = False
    timeout: float = 3600.0
    progress: bool = True
    top: int = 8


def parse_models(values: Sequence[str]) -> Any:
    """``["prosody", "face,language"]`` to a list of names, or a JSON object (``'{"prosody": {...}}'``) as is."""
    joined = " ".join(values).strip()
    if joined.startswith("{"):
        try:
            return json.loads(joined)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"--models looks like JSON but is not valid JSON ({exc}); "
                                     "e.g. --models '{\"prosody\": {\"granularity\": \"utterance\"}}'") from None
    names = [name for value in values for name in value.replace(",", " ").split()]
    if not names:
        raise ConfigurationError("--models needs at least one model, e.g. --models prosody face language")
    return names


def read_table(path: Path) -> pd.DataFrame:
    """Read a recordings table from CSV (any other suffix) or Parquet (``.parquet``/``.pq``)."""
    if not path.exists():
        raise TableError(f"table not found: {path}; pass the path of a CSV or Parquet file")
    if path.is_dir():
        raise TableError(f"{path} is a folder; pass the path of a CSV or Parquet file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            table = pd.read_parquet(path)
        else:
            table = pd.read_csv(path, sep=None, engine="python") if path.suffix.lower() == ".tsv" else pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any parser failure becomes one clear message
        raise TableError(f"cannot read {path} as a {'Parquet' if path.suffix.lower() in ('.parquet', '.pq') else 'CSV'}"
                         f" table: {exc}") from None
    if table.empty:
        raise TableError(f"{path} has no rows; nothing to measure")
    return table


def summarize_rows(result: Any, table: pd.DataFrame) -> pd.DataFrame:
    """One row per input row and model: the table's columns, status, segments and each emotion's mean score."""
    id_col = result.id_col
    preds = result.predictions
    status = result.status[[id_col, "status"]]
    base = table.merge(status, on=id_col, how="left", sort=False) if id_col in table.columns else status
    if preds.empty:
        return base.assign(model=pd.NA, segments=0)
    keys = [c for c in _SEGMENT_KEYS if c in preds.columns]
    segments = (preds.drop_duplicates([id_col, *keys]).groupby([id_col, "model"], observed=True, sort=False)
                .size().rename("segments"))  # fmt: skip
    means = preds.pivot_table(index=[id_col, "model"], columns="emotion", values="score", aggfunc="mean",
                              observed=True, sort=False)
    means.columns = [str(c) for c in means.columns]
    summary = pd.concat([segments, means], axis=1).reset_index()
    return base.merge(summary, on=id_col, how="left", sort=False)


def run_table(options: RunOptions, *, say: Callable[[str], None] = print) -> int:
    """Run ``humekit run`` with ``options``; returns the process exit code (0 all ok, 1 some not, 2 failure,
    130 interrupted)."""
    try:
        return _run(options, say)
    except MeasureInterrupted as exc:
        say(MeasureInterrupted.describe(len(exc.running), exc.endpoint, exc.ledger, again="the same humekit run command"))
        return 130
    except KeyboardInterrupt:
        say("Interrupted: nothing is lost (every job submitted is in the ledger). Run the same humekit run command "
            "again to resume.")
        return 130
    except HumekitError as exc:
        say(f"humekit run: error: {exc}")
        return 2


def _run(options: RunOptions, say: Callable[[str], None]) -> int:
    import humekit

    models = options.models
    table = read_table(options.table)
    out = options.out
    ledger = options.ledger or out / "ledger.sqlite"
    root = options.root or options.table.resolve().parent
    with ExitStack() as stack:
        backend, where = _backend(options, stack)
        callback = _receiver(out, stack) if options.callback else None
        out.mkdir(parents=True, exist_ok=True)
        try:
            result = humekit.measure(table, id_col=options.id_col, source_col=options.source_col, models=models,
                                     backend=backend, ledger=str(ledger), kind=options.kind, root=str(root),
                                     errors="mark", timeout=options.timeout, progress=options.progress,
                                     callback=callback)  # fmt: skip
            timed_out: list[str] = []
        except WaitTimeoutError as exc:  # the outputs are still written, with the unfinished rows pending
            if exc.result is None:
                raise
            result, timed_out = exc.result, exc.pending
        stack.callback(result.ledger.close)  # checkpoints the WAL: only ledger.sqlite stays in the folder
        callbacks = 0 if callback is None else len(callback.events(event_name="job"))
    wide = summarize_rows(result, table)
    written = _write(result, wide, out, synthetic=options.emulator, top=options.top)
    _report(result, options, written, where=where, ledger=ledger, callbacks=callbacks, say=say)
    if timed_out:
        say(f"  --timeout {options.timeout:g} s ran out with {len(timed_out)} job(s) still queued or running at "
            f"{where}: their rows are pending. They keep running; run the same humekit run command again to "
            "collect them (nothing is resubmitted).")
    return 0 if (result.status["status"] == "ok").all() else 1


def _backend(options: RunOptions, stack: ExitStack) -> tuple[Any, str]:
    from humekit.backend import BatchBackend
    from humekit.client import Client
    from humekit.config import resolve_api_key

    if not options.emulator:
        try:
            resolve_api_key()
        except ConfigurationError:
            raise ConfigurationError(
                "HUME_API_KEY is not set: set it (and HUME_BASE_URL, or --base-url, for a compatible endpoint; "
                "Hume's own v0 batch API was sunset on 2026-06-14), or pass --emulator to run against the "
                "embedded emulator (synthetic scores)."
            ) from None
        client = Client(base_url=options.base_url)
        return BatchBackend(client), client.base_url
    from humekit.emulator import Emulator, Schedule

    options.out.mkdir(parents=True, exist_ok=True)
    # Its jobs are kept in the out folder, so a run interrupted or timed out resumes when run again.
    emu = stack.enter_context(Emulator(schedule=Schedule(queued=0.2, running=0.6),
                                       jobs_file=options.out / EMULATOR_JOBS))
    # a new port each run, the same (deterministic) results: one endpoint for the ledger
    backend = BatchBackend(Client(api_key=emu.api_key, base_url=emu.url), endpoint="humekit-embedded-emulator")
    return backend, f"the embedded emulator at {emu.url}"


def _receiver(out: Path, stack: ExitStack) -> Any:
    from humekit.receiver import WebhookReceiver

    out.mkdir(parents=True, exist_ok=True)
    receiver = stack.enter_context(WebhookReceiver(ledger=out / "webhooks.sqlite"))
    receiver.start()
    return receiver


def _write(result: Any, wide: pd.DataFrame, out: Path, *, synthetic: bool, top: int) -> list[Path]:
    frames = {"predictions": result.predictions, "wide": wide, "status": result.status}
    written = []
    for name, frame in frames.items():
        frame = _parquet_safe(frame)
        frame.to_parquet(out / f"{name}.parquet", index=False)
        frame.to_csv(out / f"{name}.csv", index=False)
        written += [out / f"{name}.parquet", out / f"{name}.csv"]
    written.append(plot_top_emotions(wide, out / "top_emotions.png", id_col=result.id_col, top=top,
                                     synthetic=synthetic))
    return written


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns mixing types (e.g. an error column of None and str) become strings, as Parquet needs."""
    out = frame.copy()
    for name in out.columns:
        if out[name].dtype == object:
            out[name] = out[name].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    return out


def plot_top_emotions(wide: pd.DataFrame, path: Path, *, id_col: str, top: int = 8, synthetic: bool = False,
                      max_rows: int = 40) -> Path:
    """A heatmap of the ``top`` emotions with the highest mean score, one row per input row and model.

    Beyond ``max_rows`` (row, model) pairs only the first ``max_rows`` are drawn (the title says so).
    """
    with _agg() as plt:
        scored = wide[wide["segments"].notna() & (wide["segments"] > 0)]
        emotions = list(wide.columns[wide.columns.get_loc("segments") + 1 :]) if len(scored) else []
        shown = scored.head(max_rows)
        fig, ax = plt.subplots(figsize=(10, max(2.5, 0.32 * len(shown) + 1.5)))
        if not emotions:
            ax.text(0.5, 0.5, "no predictions", ha="center", va="center")
            ax.set_axis_off()
        else:
            chosen = scored[emotions].astype("float64").mean().nlargest(top).index.tolist()
            image = ax.imshow(shown[chosen].astype("float64").to_numpy(), aspect="auto", cmap="viridis")
            ax.set_xticks(range(len(chosen)), chosen, rotation=35, ha="right")
            labels = [f"{i} ({m})" for i, m in zip(shown[id_col], shown["model"], strict=True)]
            ax.set_yticks(range(len(labels)), labels, fontsize="small")
            fig.colorbar(image, ax=ax, label="mean score")
        more = f" (first {len(shown)} of {len(scored)})" if len(shown) < len(scored) else ""
        note = "\nSYNTHETIC scores (emulator)" if synthetic else ""
        shown_top = len(chosen) if emotions else top
        ax.set_title(f"Top {shown_top} emotions by mean score, per recording and model{more}{note}")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return path


@contextmanager
def _agg() -> Iterator[Any]:
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigurationError("humekit run draws a plot with matplotlib: pip install 'humekit[plot]'") from None
    if "matplotlib.pyplot" not in sys.modules:  # a shell has no display; a notebook keeps its own backend
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt


def _report(result: Any, options: RunOptions, written: list[Path], *, where: str, ledger: Path, callbacks: int,
            say: Callable[[str], None]) -> None:
    counts = ", ".join(f"{n} {s}" for s, n in result.counts().items() if n)
    say(f"humekit run: {len(result.status)} rows from {options.table} against {where}")
    say(f"  status: {counts}")
    say(f"  jobs: {len(result.submitted)} submitted now, {len(result.reused)} reused from the ledger {ledger}"
        + (f"; {callbacks} completed by callback" if options.callback else ""))
    problems = result.status[result.status["status"] != "ok"]
    for _, row in problems.head(5).iterrows():
        say(f"  - {row[result.id_col]!r}: {row['status']}: {row['error']}")
    if len(problems) > 5:
        say(f"  … and {len(problems) - 5} more (see status.csv)")
    preds = result.predictions
    by_model = preds.drop_duplicates([result.id_col, "model"])["model"].astype("str").value_counts(sort=False) \
        if len(preds) else pd.Series(dtype="int64")
    measured = ", ".join(f"{model} {n}" for model, n in by_model.items())
    say(f"  wrote {len(preds):,} prediction rows (rows measured per model: {measured or 'none'}); "
        f"files in {options.out}/:")
    say("    " + ", ".join(p.name for p in written))
    if options.emulator:
        say("  scores are SYNTHETIC: the embedded emulator has no model behind it (only the structure is real)")
