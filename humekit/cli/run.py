"""``humekit run``: the whole pipeline from a shell, a recordings table in and tables, a plot and a summary out.

``run_table`` reads a CSV or Parquet table, runs :func:`humekit.measure` through a ledger in the
output folder (so running it again makes no new job), and writes the result as ``result.save``
does (:func:`humekit.predictions.export.write_result`; :func:`humekit.predictions.export.read_result` reads the folder back):

- ``predictions.parquet`` / ``.csv``: the long table (one row per row, segment and emotion);
- ``per_row.parquet`` / ``.csv``: one row per input row and model (``result.per_row(columns=True)``):
  your columns, ``status``, ``api``, ``model``, ``segments`` and the mean score of each emotion over the
  segments (rows without predictions are kept, with their status, ``segments`` 0). Earlier
  releases called this file ``wide.*``, a name that now means one row per segment
  (``result.wide()``) only; nothing is written under the old name, so a script reading it fails
  loudly instead of reading another table;
- ``status.parquet`` / ``.csv``: one row per input row: ``status``, ``job_id``, ``error``, ``note``;
- ``descriptors.*`` (FACS, descriptions, sentiment, toxicity), ``table.*`` (your table) and
  ``result.json`` (the ID column and every column's dtype);
- ``top_emotions.png``: the mean score of the strongest emotions per row and model.

It returns 0 when every row is ``ok``, 1 when some are not (``--timeout`` running out leaves its
rows ``pending``: the outputs are written, and the same command again collects them), 2 when
nothing could be run, 130 when interrupted (Ctrl-C: the jobs keep running, the same command resumes).
"""

from __future__ import annotations

import csv
import json
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from humekit.cli.endpoints import EMULATOR_JOBS, backend_for
from humekit.errors import ConfigurationError, HumekitError, MeasureInterrupted, TableError, WaitTimeoutError

__all__ = ["EMULATOR_JOBS", "OUTPUTS", "TABLE_FORMATS", "RunOptions", "in_cli_terms", "parse_models", "read_table",
           "run_table", "summarize_rows"]

#: The files ``run_table`` writes into the output folder: the result as ``result.save`` writes it
#: (each table named after the result's own), and a plot.
OUTPUTS = ("status.parquet", "status.csv", "predictions.parquet", "predictions.csv", "descriptors.parquet",
           "descriptors.csv", "per_row.parquet", "per_row.csv", "table.parquet", "table.csv", "result.json",
           "top_emotions.png")  # fmt: skip


@dataclass(frozen=True)
class RunOptions:
    """What ``humekit run`` was asked to do (the command-line options)."""

    table: Path
    id_col: str
    source_col: str
    models: Any
    out: Path
    base_url: str | None = None
    ledger: str | Path | None = None
    r"""A SQLite file or a PostgreSQL URL; ``None``: ``OUT/ledger.sqlite``."""
    callback: bool = False
    kind: Literal["auto", "file", "url", "text"] = "auto"
    root: Path | None = None
    emulator: bool = False
    timeout: float = 3600.0
    progress: bool = True
    top: int = 8
    api: Literal["v0", "v1"] | None = None
    r"""``None``: ``HUME_API``, else v1."""
    dry_run: bool = False
    max_download_mb: float = 1000.0
    r"""v1: the largest file downloaded from a URL row (MB)."""


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


#: Table formats ``humekit run`` reads, by file suffix (CSV and TSV also compressed, e.g. ``.csv.gz``).
TABLE_FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSIONS = (".gz", ".bz2", ".zip", ".xz", ".zst")
_SEPARATORS = (",", ";", "\t", "|")
_CONVERT = {".json": "pandas.read_json(path)", ".jsonl": "pandas.read_json(path, lines=True)",
            ".xlsx": "pandas.read_excel(path)", ".xls": "pandas.read_excel(path)",
            ".feather": "pandas.read_feather(path)", ".dta": "pandas.read_stata(path)",
            ".sav": "pandas.read_spss(path)"}


def read_table(path: Path) -> pd.DataFrame:
    """Read a recordings table: CSV (``.csv`` or ``.txt``, the separator detected from the header: ``,``, ``;``,
    tab or ``|``), TSV (``.tsv``, ``.tab``), either compressed (``.csv.gz``...), or Parquet
    (``.parquet``, ``.pq``). The separator used is in ``table.attrs["separator"]``."""
    if not path.exists():
        raise TableError(f"table not found: {path}; pass the path of a CSV, TSV or Parquet file")
    if path.is_dir():
        raise TableError(f"{path} is a folder; pass the path of a CSV, TSV or Parquet file")
    kind = _table_format(path)
    try:
        if kind == "parquet":
            table = pd.read_parquet(path)
        else:
            separator = _separator(path, default="," if kind == "csv" else "\t")
            table = pd.read_csv(path, sep=separator)
            table.attrs["separator"] = separator
    except Exception as exc:  # noqa: BLE001 - any parser failure becomes one clear message
        raise TableError(f"cannot read {path} as a {kind.upper() if kind != 'parquet' else 'Parquet'} table: {exc}") from None
    if kind != "parquet" and table.shape[1] == 1:
        header = str(table.columns[0])
        other = next((s for s in _SEPARATORS if s in header and s != table.attrs["separator"]), None)
        if other is not None:
            raise TableError(f"{path} was read as one column named {header!r}, which contains {other!r}: is "
                             f"that its separator? Save it with commas (or as .tsv for tabs)")
    if table.empty:
        raise TableError(f"{path} has no rows; nothing to measure")
    return table


def _table_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSIONS:
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in TABLE_FORMATS and not (TABLE_FORMATS[suffix] == "parquet" and len(suffixes) < len(path.suffixes)):
        return TABLE_FORMATS[suffix]
    convert = _CONVERT.get(suffix)
    hint = (f"; convert it first, e.g. {convert}.to_csv('recordings.csv', index=False)" if convert else
            "; save it as CSV or Parquet")
    raise TableError(f"unsupported table format {suffix or 'without a suffix'!r} for {path}: humekit run reads "
                     f"csv, tsv and parquet ({', '.join(TABLE_FORMATS)}, csv/tsv also compressed: "
                     f"{', '.join(_COMPRESSIONS)}){hint}")


def _separator(path: Path, *, default: str) -> str:
    """The separator that splits the header line into the most fields (``default`` on a tie, or when
    the file is compressed and its header is not at hand)."""
    if path.suffix.lower() in _COMPRESSIONS:
        return default
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        header = f.readline()
    counts = {s: len(next(csv.reader([header], delimiter=s), [])) for s in (default, *_SEPARATORS)}
    best = max(counts.values())
    return default if counts[default] == best else next(s for s, n in counts.items() if n == best)


def summarize_rows(result: Any, table: pd.DataFrame) -> pd.DataFrame:
    """Deprecated: use ``result.per_row(columns=True)`` (one row per input row and model, with your columns)."""
    warnings.warn("humekit.cli.run.summarize_rows is deprecated: use result.per_row(columns=True)",
                  DeprecationWarning, stacklevel=2)
    rows = result.per_row()
    if result.id_col not in table.columns:
        return rows
    return table.merge(rows, on=result.id_col, how="left", sort=False)


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
        say(f"humekit run: error: {in_cli_terms(str(exc))}")
        return 2


#: The options of measure/validate a message may name, and the flags ``humekit run`` spells them with.
_FLAGS = {"id_col": "--id-col", "source_col": "--source-col", "models": "--models", "root": "--root",
          "kind": "--kind", "ledger": "--ledger", "timeout": "--timeout", "api": "--api"}
# an option as a word of its own (never part of a path such as /tmp/pytest-of-root/...)
_OPTION = re.compile(r"(?<![\w/.-])(" + "|".join(_FLAGS) + r")(?![\w/-]|\.\w)(=(?:'([^']*)')?)?")
_BARE = frozenset({"id_col", "source_col"})  # names unlikely as plain words; the others only as option=...


def in_cli_terms(message: str) -> str:
    """A message written for Python callers in the words of ``humekit run``: ``id_col='x'`` becomes
    ``--id-col 'x'``, ``pass root=`` ``pass --root``, ``kind='text'`` ``--kind text``."""

    def flag(match: re.Match[str]) -> str:
        name, assigned, word = match.group(1), match.group(2), match.group(3)
        if assigned is None:
            return _FLAGS[name] if name in _BARE else name
        if word is not None and name in ("kind", "api"):
            return f"{_FLAGS[name]} {word}"
        return f"{_FLAGS[name]} '{word}'" if word is not None else f"{_FLAGS[name]} "

    spelled = re.sub(r"(--[a-z-]+) (?=[\s;,.)])", r"\1", _OPTION.sub(flag, message))
    return (spelled.replace("pass errors='mark' to measure", "humekit run measures")
            .replace("the root folder", "the --root folder")
            .replace("run measure without dry_run=True to send it", "run the same command without --dry-run to send it")
            .replace("(V1Backend(max_download_bytes=...))", "(--max-download-mb)")
            .replace("(V1Backend(download_dir=...))", "(another --out: downloads go in OUT/downloads)"))


def _run(options: RunOptions, say: Callable[[str], None]) -> int:
    import humekit

    models = options.models
    table = read_table(options.table)
    out = options.out
    ledger = str(options.ledger or out / "ledger.sqlite")
    root = options.root or options.table.resolve().parent
    if not root.is_dir():
        raise TableError(f"--root {root} is not a folder; pass the folder the paths in --source-col are relative to")
    with ExitStack() as stack:
        backend, where = backend_for(options, stack)
        callback = _receiver(out, stack) if options.callback else None
        out.mkdir(parents=True, exist_ok=True)
        try:
            result = humekit.measure(table, id_col=options.id_col, source_col=options.source_col, models=models,
                                     backend=backend, ledger=ledger, kind=options.kind, root=str(root),
                                     errors="mark", timeout=options.timeout, progress=options.progress,
                                     callback=callback, dry_run=options.dry_run)  # fmt: skip
            timed_out: list[str] = []
        except WaitTimeoutError as exc:  # the outputs are still written, with the unfinished rows pending
            if exc.result is None:
                raise
            result, timed_out = exc.result, exc.pending
        stack.callback(result.ledger.close)  # checkpoints the WAL: only ledger.sqlite stays in the folder
        callbacks = 0 if callback is None else len(callback.events(event_name="job"))
    written = _write(result, out, synthetic=options.emulator, top=options.top)
    _report(result, options, written, where=where, callbacks=callbacks, say=say, root=root,
            separator=table.attrs.get("separator"))
    if timed_out:
        say(f"  --timeout {options.timeout:g} s ran out with {len(timed_out)} job(s) still queued or running at "
            f"{where}: their rows are pending. They keep running; run the same humekit run command again to "
            "collect them (nothing is resubmitted).")
    return 0 if (result.status["status"] == "ok").all() else 1


def _receiver(out: Path, stack: ExitStack) -> Any:
    from humekit.webhooks.receiver import WebhookReceiver

    out.mkdir(parents=True, exist_ok=True)
    receiver = stack.enter_context(WebhookReceiver(ledger=out / "webhooks.sqlite"))
    receiver.start()
    return receiver


def _write(result: Any, out: Path, *, synthetic: bool, top: int) -> list[Path]:
    from humekit.predictions.result_folder import MANIFEST, RESULT_TABLES

    result.save(out)  # the whole result, as result.save writes it: humekit.predictions.export.read_result(out) reads it back
    written = [out / f"{name}.{suffix}" for name in RESULT_TABLES for suffix in ("parquet", "csv")] + [out / MANIFEST]
    if result.cost is not None and result.cost["billed_seconds"].notna().all():  # priced (v1), not v0
        result.cost.to_csv(out / "cost.csv", index=False)
        written.append(out / "cost.csv")
    per_row = result.per_row(columns=True)
    written.append(plot_top_emotions(per_row, out / "top_emotions.png", id_col=result.id_col, top=top,
                                     synthetic=synthetic))
    return written


def plot_top_emotions(per_row: pd.DataFrame, path: Path, *, id_col: str, top: int = 8, synthetic: bool = False,
                      max_rows: int = 40) -> Path:
    """A heatmap of the ``top`` emotions with the highest mean score, one row per input row and model
    (``per_row`` is ``result.per_row()``).

    Beyond ``max_rows`` (row, model) pairs only the first ``max_rows`` are drawn (the title says so).
    """
    with _agg() as plt:
        scored = per_row[per_row["segments"].notna() & (per_row["segments"] > 0)]
        emotions = list(per_row.columns[list(per_row.columns).index("segments") + 1 :]) if len(scored) else []
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


def _report(result: Any, options: RunOptions, written: list[Path], *, where: str, callbacks: int,
            say: Callable[[str], None], root: Path, separator: str | None) -> None:
    from humekit.config import resolve_api
    from humekit.pipeline.validation import describe_row

    counts = ", ".join(f"{n} {s}" for s, n in result.counts().items() if n)
    read = f" (separator {separator!r})" if separator not in (None, ",", "\t") else ""
    say(f"humekit run: {len(result.status)} rows from {options.table}{read} against {where}")
    say(f"  status: {counts}")
    sent = "requests: {} sent now" if resolve_api(options.api) == "v1" else "jobs: {} submitted now"
    say("  " + sent.format(len(result.submitted))
        + f", {len(result.reused)} reused from the ledger {result.ledger.location}"
        + (f"; {callbacks} completed by callback" if options.callback else ""))
    if result.cost is not None and result.cost["billed_seconds"].notna().all():
        total, sent = result.cost.attrs["total_billed_seconds"], result.cost.attrs["total_requests"]
        what = "would be billed (dry run: nothing was sent)" if options.dry_run else "billed"
        say(f"  cost: {sent} request(s), {total:,.1f} s {what}; per row in cost.csv")
    bad = (result.status["status"] != "ok").to_numpy()
    problems = result.status[bad]
    shown = problems.head(5)
    for position, row_id, state, error in zip(bad.nonzero()[0][:5], shown[result.id_col], shown["status"],
                                              shown["error"], strict=True):
        say(f"  - {describe_row(int(position), row_id)}: {state}: {in_cli_terms(str(error))}")
    if len(problems) > 5:
        say(f"  … and {len(problems) - 5} more (see status.csv)")
    if problems["error"].astype("string").str.contains("resolved against the root folder", regex=False).any():
        default = " (by default the table's folder)" if options.root is None else ""
        say(f"  relative paths in --source-col are resolved against --root{default}: {root}")
    noted = result.status[(result.status["status"] == "ok") & result.status["note"].notna()] \
        if "note" in result.status.columns else result.status.iloc[0:0]
    if len(noted):
        first = noted.iloc[0]
        say(f"  {len(noted)} ok row(s) where a model found nothing (the note column of status.csv), "
            f"e.g. {first[result.id_col]!r}: {first['note']}")
    preds = result.predictions
    by_model = preds.drop_duplicates([result.id_col, "model"])["model"].astype("str").value_counts(sort=False) \
        if len(preds) else pd.Series(dtype="int64")
    measured = ", ".join(f"{model} {n}" for model, n in by_model.items())
    say(f"  wrote {len(preds):,} prediction rows (rows measured per model: {measured or 'none'}); "
        f"files in {options.out}/:")
    say("    " + ", ".join(p.name for p in written))
    if options.emulator:
        say("  scores are SYNTHETIC: the embedded emulator has no model behind it (only the structure is real)")
