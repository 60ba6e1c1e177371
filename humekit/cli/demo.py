"""``humekit demo`` / ``make demo``: a small study, end to end, against the embedded emulator.

It writes a few real media files (spoken-like WAVs of different lengths in folders whose
basenames collide, face images, texts, a URL served by the emulator), starts the emulator on
loopback, and runs :func:`humekit.measure` over real HTTP: validation, the job plan, submission
through the ledger, waiting with backoff, and predictions joined back by ID. Then it runs the
same call again to show that nothing is resubmitted. The scores are synthetic.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pandas as pd

from humekit.backends.v0.client import Client
from humekit.emulator import Emulator, Schedule
from humekit.pipeline.measure import measure
from humekit.testing.study import make_recordings
from humekit.predictions.vocabulary import LANGUAGE_EMOTIONS

__all__ = ["run_demo"]

MODELS = {"prosody": {"granularity": "utterance"}, "face": {}, "language": {"sentiment": {}}}


def run_demo(*, quiet: bool = False) -> int:
    """Run the demo; returns a process exit code."""
    say = (lambda *a: None) if quiet else print
    with pd.option_context("display.width", 120), tempfile.TemporaryDirectory() as tmp, Emulator(
        schedule=Schedule(queued=0.5, running=1.5), media_dir=Path(tmp) / "media"
    ) as emu:
        folder = Path(tmp)
        table = make_recordings(folder, n=12, seed=3, media_url=f"{emu.url}/media")
        say(f"1. Emulator of Hume's v0 batch API at {emu.url}. Its scores are SYNTHETIC.")
        say(f"2. A study of {len(table)} recordings ({', '.join(f'{v} {k}' for k, v in table['kind'].value_counts().items())}):")
        say(_indent(table[["id", "kind", "source"]].assign(source=table["source"].map(_short)).to_string(index=False)))
        client = Client(api_key=emu.api_key, base_url=emu.url)
        started = time.perf_counter()
        result = measure(table, id_col="id", source_col="source", models=MODELS, client=client,
                         ledger=folder / "ledger.sqlite", progress=not quiet)
        elapsed = time.perf_counter() - started
        say(f"3. Planned and submitted {len(result.submitted)} jobs (files as multipart, URLs and texts as JSON):")
        say(_indent(result.plan.summary().to_string(index=False)) if result.plan is not None else "")
        say("4. Every row, joined back by ID:")
        say(_indent(result.status[["id", "status", "error"]].to_string(index=False)))
        wide = result.wide()
        emotions = [c for c in wide.columns if c in LANGUAGE_EMOTIONS]
        summary = (wide.assign(mean_score=wide[emotions].mean(axis=1)).groupby(["id", "model"], observed=True,
                                                                                 sort=False)
                   .agg(segments=("mean_score", "size"), mean_score=("mean_score", "mean")).reset_index())
        say("5. Predictions per row and model (segments, mean synthetic score):")
        say(_indent(summary.to_string(index=False, float_format="{:.3f}".format)))
        before = len(emu.requests)
        again = measure(table, id_col="id", source_col="source", models=MODELS, client=client,
                        ledger=folder / "ledger.sqlite", progress=False)
        say(f"6. Ran the same call again: {len(emu.requests) - before} new requests, {len(again.reused)} jobs reused "
            "from the ledger.")
        posts = sum(r.method == "POST" for r in emu.requests)
        polls = sum(r.method == "GET" and not r.path.endswith("/predictions") for r in emu.requests)
        counts = ", ".join(f"{v} {k}" for k, v in result.counts().items() if v)
        print(f"demo: {len(table)} rows -> {counts}; {len(result.predictions):,} prediction rows from "
              f"{posts} jobs ({polls} status polls) in {elapsed:.1f} s against the emulator; scores are synthetic.")
    return 0 if (result.status["status"] == "ok").all() else 1


def _short(source: str) -> str:
    return source if len(source) <= 60 else "…" + source[-59:]


def _indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())

