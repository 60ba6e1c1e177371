"""Run the reliability suite and rewrite RELIABILITY.md from the figures its tests record.

    .venv/bin/python -m tests.reliability.report            # run tests/reliability, then write RELIABILITY.md
    .venv/bin/python -m tests.reliability.report --figures DIR   # only re-render from figures already in DIR

The tests write one JSON file of figures each into ``$HUMEKIT_RELIABILITY_FIGURES`` (set here to a
temporary folder); pytest's JUnit XML gives each test's outcome and duration. Exit status is pytest's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "RELIABILITY.md"
COMMAND = ".venv/bin/python -m tests.reliability.report"

GUARANTEES = [
    ("crash", "Crash and resume: a `measure` process SIGKILLed at any point is finished by a rerun with the same "
              "ledger: every row ok, no job created twice, the same predictions as a clean run, a sound ledger.",
     "test_crash_resume.py::test_sigkill_then_resume"),
    ("v1-crash", "Crash and resume under v1: a `measure(..., api=\"v1\")` process SIGKILLed at any point is "
                 "finished by a rerun in a fresh process: every row ok with the clean run's predictions, no window "
                 "or frame batch answered twice or uploaded after its answer was stored, only the answers in flight "
                 "at the kill sent again, each resend counted in `result.cost` and confirmed among v1's runs.",
     "test_v1_crash_resume.py::test_v1_sigkill_then_resume"),
    ("truncated", "A client killed mid-upload never becomes a job: the emulator (like any HTTP server) drops a "
                  "request whose body ends early, and rejects a multipart body without its closing boundary.",
     "test_truncated_upload.py"),
    ("chaos", "Chaos: under injected 5xx, 429 + Retry-After, dropped connections, lost responses, FAILED jobs and "
              "per-file errors, every row ends `ok` or `failed` with the reason, no job is created twice, and the "
              "request count stays within a small factor of a fault-free run.",
     "test_chaos.py::test_chaos_run_ends_every_row_ok_or_failed_without_duplicates"),
    ("v1-chaos", "Chaos under v1: under injected 503s (with and without Retry-After), gateway 429s, 500s, dropped "
                 "connections, lost answers, malformed and truncated 200s and latency, every row ends `ok` with the "
                 "fault-free predictions (a call that stops is rerun), nothing is answered twice, the uploads stay "
                 "within a small factor of a fault-free run, and `result.cost` covers all the emulator billed.",
     "test_v1_chaos.py::test_v1_chaos_ends_every_row_ok_with_the_clean_predictions"),
    ("bad", "Bad input: malformed tables and files raise a `humekit.HumekitError` naming the row (or column or "
            "argument) and the fix, before any request is sent or any ledger is written.",
     "test_bad_inputs.py::test_bad_input_is_refused_before_any_request"),
    ("webhooks", "Hostile webhooks: forged/truncated signatures, stale/future timestamps, replays, duplicates, "
                 "malformed/oversized JSON, wrong content types and floods are rejected or de-duplicated; the "
                 "receiver keeps serving and records nothing twice; no edit of a signed delivery verifies; the "
                 "callback token authenticates only batch job callbacks, never an EVI event.",
     "test_hostile_webhooks.py"),
    ("secrets", "Secrets: a canary API key used for real runs (argument and environment), 401s both ways, the CLI, "
                "DEBUG logs of humekit/httpx/httpcore, every public repr, ledgers, exports and notebooks never "
                "shows up, nor does a key carrying a stray newline, CRLF, spaces or a tab from any source.",
     "test_secrets.py"),
    ("concurrency", "Concurrency: processes running `measure` on one table with one ledger at once keep the ledger "
                    "sound and create exactly the jobs of a single run.",
     "test_concurrency.py::test_processes_share_one_ledger"),
    ("concurrency-pg", "The same on a shared PostgreSQL ledger (a throwaway server): processes started together, "
                       "racing to create the tables too, create exactly one single run's jobs.",
     "test_concurrency_postgresql.py::test_processes_share_one_postgresql_ledger"),
    ("dask-kill", "A Dask worker SIGKILLed mid-partition (a LocalCluster of worker processes, SQLite and PostgreSQL "
                  "ledgers): Dask runs the partition elsewhere; every row is in the Parquet dataset and ok, no unit is "
                  "answered twice, only uploads in flight at the kill are sent again, and a rerun sends nothing.",
     "test_dask_kill.py::test_a_worker_killed_mid_partition_loses_no_row_and_pays_twice_only_for_what_was_in_flight"),
    ("dask-kill-v0", "The same under the v0 batch API: a worker SIGKILLed right after its job POST was answered (the "
                     "job created, its id in no ledger) or while it polls: the retried partition finds the job (the "
                     "ledger's claim, then the job list), so no job is created twice, every row is ok, and a rerun "
                     "creates none.",
     "test_dask_kill_v0.py::test_a_worker_killed_mid_partition_under_v0_creates_no_job_twice"),
]


def run_suite(figures: Path, junit: Path, extra: list[str]) -> tuple[int, float]:
    env = {**os.environ, "HUMEKIT_RELIABILITY_FIGURES": str(figures)}
    started = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", "pytest", "tests/reliability", "-q", "-p", "no:cacheprovider",
                            f"--junitxml={junit}", *extra], cwd=ROOT, env=env)
    return code, time.perf_counter() - started


def load(figures: Path) -> dict[str, Any]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(figures.glob("*.json"))}


def outcomes(junit: Path) -> list[dict[str, Any]]:
    if not junit.exists():
        return []
    cases = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        state = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                state = "failed"
            elif child.tag == "skipped":
                state = "skipped"
        file = (case.get("file") or case.get("classname", "").replace(".", "/") + ".py").split("/")[-1]
        cases.append({"id": f"{file}::{case.get('name')}", "time": float(case.get("time") or 0), "state": state})
    return cases


def tally(cases: list[dict[str, Any]], prefix: str) -> str:
    mine = [c for c in cases if c["id"].startswith(prefix) or c["id"].split("[")[0] == prefix]
    if not mine:
        return "not run"
    counts = Counter(c["state"] for c in mine)
    seconds = sum(c["time"] for c in mine)
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + f" in {seconds:.1f} s"


def render(figures: dict[str, Any], cases: list[dict[str, Any]], code: int | None, seconds: float | None) -> str:
    crash = [v for k, v in figures.items() if k.startswith("crash-")]
    kills = [k for trial in crash for k in trial["kills"]]
    chaos = figures.get("chaos", {})
    v1_crash = [v for k, v in figures.items() if k.startswith("v1-crash-")]
    v1_chaos = figures.get("v1-chaos", {})
    bad = figures.get("bad-inputs", {})
    hostile, dupes = figures.get("webhooks-hostile", {}), figures.get("webhooks-duplicates", {})
    flood, prop = figures.get("webhooks-flood", {}), figures.get("webhooks-property", {})
    matrix = figures.get("webhooks-auth-matrix", {})
    secrets, stray = figures.get("secrets", {}), figures.get("secrets-whitespace", {})
    conc = [v for k, v in figures.items() if k.startswith("concurrency-")]
    dask_kills = [v for k, v in sorted(figures.items()) if k.startswith("dask-kill-")]
    total = len(cases)
    failed = sum(c["state"] == "failed" for c in cases)
    lines = [
        "# Reliability and security, measured",
        "",
        f"Regenerate with `{COMMAND}` (`make reliability`): it runs `tests/reliability` and rewrites this file "
        "from the figures the tests record. Every guarantee below is a test; the numbers are from the last run.",
        "",
        f"- Last run: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.system()}"
        + (f"; {total} tests, {failed} failed, pytest exit {code}, {seconds:.0f} s wall" if seconds is not None
           else f"; {total} tests, {failed} failed (re-rendered from saved figures)"),
        "- All traffic is loopback (or in-process); the emulators stand in for Hume's sunset v0 batch API and "
        "its live v1 API (scores synthetic).",
        "",
        "| Guarantee | Proved by (`tests/reliability/`) | Result |",
        "|---|---|---|",
    ]
    for _, text, test in GUARANTEES:
        lines.append(f"| {text} | `{test}` | {tally(cases, test)} |")
    lines += ["", "## Figures", "", "### Crash and resume (SIGKILL)"]
    if crash:
        points = Counter(k["point"] for k in kills)
        lines += [
            f"- {len(crash)} seeded trials, {len(kills)} SIGKILLs ({sum(k['killed'] for k in kills)} landed), "
            f"{len(points)} distinct kill points: " + ", ".join(f"`{p}` ×{n}" for p, n in sorted(points.items())) + ".",
            "- Phases hit (jobs created at the moment of the kill, out of "
            f"{crash[0]['clean_jobs']}): " + ", ".join(str(k["jobs_at_kill"]) for k in kills) + ".",
            f"- {crash[0]['rows']} rows (texts + small WAVs, some identical files) per trial; after each rerun: "
            f"all rows ok in {sum(t['ok'] == t['rows'] for t in crash)}/{len(crash)}, jobs == clean run's in "
            f"{sum(t['jobs'] == t['clean_jobs'] for t in crash)}/{len(crash)}, inputs sent twice: "
            f"{sum(t['inputs_sent_twice'] for t in crash)}, `PRAGMA integrity_check` ok after every kill and rerun.",
            f"- Requests per trial (crashed runs + rerun): {min(t['requests'] for t in crash)}–"
            f"{max(t['requests'] for t in crash)} vs {crash[0]['clean_requests']} for a clean run.",
        ]
    lines += ["", "### Chaos"]
    if chaos:
        f = chaos["faults"]
        inj = chaos["injected"]
        lines += [
            f"- {chaos['rows']:,} rows; faults: {f['server_error_rate']:.0%} 5xx, {f['rate_limit_rate']:.0%} 429 "
            f"(Retry-After {f['retry_after']:g} s), {f['drop_rate']:.0%} dropped connections, "
            f"{f['lost_response_rate']:.0%} lost POST responses, {f['job_failure_rate']:.0%} FAILED jobs, "
            f"{f['file_error_rate']:.0%} per-file errors (seed {f['seed']}).",
            f"- Injected: {inj['status_5xx']} 5xx, {inj['status_429']} 429, {inj['dropped']} dropped, "
            f"{inj['lost_responses']} lost responses, {chaos['failed_jobs']} FAILED jobs "
            f"({chaos['rows_in_failed_jobs']} rows), {chaos['file_errors']} per-file errors.",
            f"- Outcome: {chaos['ok']:,} ok + {chaos['failed']:,} failed (each with its reason) = {chaos['rows']:,}; "
            f"{chaos['jobs']} jobs (fault-free: {chaos['clean_jobs']}), inputs sent twice: "
            f"{chaos['inputs_sent_twice']}; resumed runs needed: {chaos['reruns']}.",
            f"- Requests: {chaos['requests']} vs {chaos['clean_requests']} fault-free: **factor "
            f"{chaos['factor']:.2f}** (bound 3.0). {chaos['seconds']} s on a virtual clock, in-process.",
        ]
    lines += ["", "### Crash and resume under v1 (SIGKILL)"] + _v1_crash_lines(v1_crash)
    lines += ["", "### Chaos under v1"] + _v1_chaos_lines(v1_chaos)
    lines += ["", "### Bad input corpus"]
    if bad:
        lines += [f"- {bad['cases']} malformed tables and files rejected with zero requests and no ledger written: "
                  + ", ".join(f"{v} {k}" for k, v in sorted(bad["by_error"].items())) + ".",
                  "- Cases: " + ", ".join(f"`{n}`" for n in bad["names"]) + "."]
    lines += ["", "### Hostile webhooks"]
    if hostile:
        lines += [f"- {hostile['rejected']} hostile deliveries rejected one by one (receiver checked alive after "
                  "each): " + ", ".join(f"{k} ×{v}" for k, v in sorted(hostile["by_reason"].items()))
                  + "; raw HTTP: " + ", ".join(f"{k} → {v}" for k, v in sorted(hostile["raw"].items())) + "."]
    if dupes:
        lines.append(f"- Replays/duplicates: {dupes['deliveries']} deliveries of 2 events → {dupes['recorded']} "
                     f"recorded, {dupes['deduplicated']} de-duplicated, handlers ran {dupes['handler_calls']} times.")
    if flood:
        lines.append(f"- Flood: {flood['posts']} concurrent POSTs (40 threads): {flood['valid']} valid "
                     f"({flood['unique']} unique, {flood['deduplicated']} de-duplicated), {flood['rejected']} hostile "
                     "rejected; each event recorded and handled once.")
    if prop:
        lines.append(f"- Property (hypothesis): {prop['examples']} modified signed deliveries, all 401 and unrecorded "
                     "(" + ", ".join(f"{k} {v}" for k, v in sorted(prop["by_field"].items())) + ").")
    if matrix:
        lines.append(f"- Who may deliver what: {len(matrix['kinds'])} kinds ({', '.join(matrix['kinds'])}) x "
                     f"{len(matrix['credentials'])} credentials ({', '.join(matrix['credentials'])}) x "
                     f"{matrix['setups']} receiver set-ups (secret, none, none + accept_unsigned_events): "
                     + ", ".join(f"{k} ×{v}" for k, v in sorted(matrix["by_outcome"].items()))
                     + "; a token alone never admits an EVI event; refused deliveries reach no handler.")
    lines += ["", "### Secrets"]
    if secrets:
        lines.append(f"- Canary key searched in {secrets['surfaces']} surfaces ({secrets['log_records']} DEBUG log "
                     f"records, {secrets['files']} files incl. ledgers/WAL, exports and notebooks, reprs of "
                     f"{secrets['public_objects']} public names, {secrets['errors_checked']} 401 errors, "
                     f"{secrets['cli_runs']} CLI runs): found {secrets['leaks']} times.")
    if stray:
        lines.append(f"- Keys with stray whitespace ({', '.join(stray['variants'])}) through "
                     f"{', '.join(stray['sources'])}, under faults: {stray['runs']} runs and {stray['cli_ok']} CLI "
                     f"runs worked with the stripped key; a key with a space inside was refused naming its source "
                     f"{stray['refused']} times and by the CLI {stray['cli_refused']} time(s) (exit 2); "
                     f"{stray['surfaces']} surfaces searched, found {stray['leaks']} times.")
    lines += ["", "### Concurrency"]
    for c in conc:
        lines.append(f"- {c['processes']} processes, {c['rows']} rows, one {c.get('engine', 'sqlite')} ledger: "
                     f"{c['jobs']} jobs (single run: "
                     f"{c['single_jobs']}), submitted per process {c['submitted_per_process']}, reused "
                     f"{c['reused_per_process']}, integrity {c['integrity']}.")
    lines += ["", "### A Dask worker killed (SIGKILL)"] + _dask_kill_lines(dask_kills)
    lines += ["", "## Known limits", "",
              "- Reconciling after a crash or a lost answer lists the account's jobs and matches their inputs; "
              "Hume offers no idempotency key. A job the list does not show is looked for again "
              "`BatchBackend.settle` seconds later (10 s by default; the crash tests use 0.5 s, the emulator "
              "lists a job as soon as it exists) before it is posted again, so a POST the server was still "
              "processing is found (tests/test_measure.py, with a list lagging 5 s). One that takes the server "
              "longer than that to show would still be paid twice.",
              "- Validation reads headers only: a file whose header is sound but whose body is damaged (a WAV "
              "truncated mid-stream, say) is sent, and comes back as a per-file error with Hume's message.",
              "- v1 keeps no answers: one lost to a crash or a dropped connection is sent again (at most "
              "`concurrency` at once). A dropped connection looks like a lost answer, so `result.cost` counts it "
              "as billed unless v1's runs show the run (`lost_answers` minus `lost_billed`: sends no run was "
              "found for); it never counts less than v1 billed.",
              "- Under v1 a 200 whose body is not v1's response (malformed or truncated) stops the call with an "
              "`APIError` instead of being retried: it was billed, nothing is stored, and the same call sends it "
              "again (the chaos run needed one rerun per such answer).",
              "- A v1 crash while claiming can leave claims never sent; when the row is planned again under "
              "other models they stay in the ledger, unsent and unbilled (`unsent claims` above).", ""]
    if cases:
        slow = sorted(cases, key=lambda c: -c["time"])[:8]
        lines += ["## Slowest tests", ""] + [f"- {c['time']:.1f} s `{c['id']}`" for c in slow] + [""]
    return "\n".join(lines)


def _v1_crash_lines(trials: list[dict[str, Any]]) -> list[str]:
    if not trials:
        return []
    kills = [k for trial in trials for k in trial["kills"]]
    points = Counter(k["point"] for k in kills)
    first = trials[0]
    return [
        f"- {len(trials)} seeded trials, {len(kills)} SIGKILLs ({sum(k['killed'] for k in kills)} landed), "
        f"{len(points)} distinct kill points: " + ", ".join(f"`{p}` ×{n}" for p, n in sorted(points.items())) + ".",
        f"- Answers stored at the moment of each kill (out of {first['units']}): "
        + ", ".join(str(k["stored_at_kill"]) for k in kills) + ".",
        f"- {first['rows']} rows per trial, one the copy of another's file ({first['units']} units: "
        f"{first['windows']} audio windows, {first['frame_batches']} frame batches of one video chained by "
        "`face_state`); after each rerun in a fresh process: all rows ok with the "
        f"clean run's predictions in {sum(t['ok'] == t['rows'] for t in trials)}/{len(trials)}, contents answered "
        f"twice: {sum(t['answered_twice'] for t in trials)}, uploads after their answer was stored: "
        f"{sum(t['resent_after_stored'] for t in trials)}, `PRAGMA integrity_check` ok after every kill and rerun.",
        f"- In flight at a kill (a send recorded, no answer stored): at most {max(k['in_flight'] for k in kills)} "
        f"(concurrency {first['concurrency']}); answers lost (billed by the emulator, never stored): "
        f"{sum(k['lost'] for k in kills)} in all, at most {max(k['lost'] for k in kills)} at one kill.",
        f"- Uploads per trial: {min(t['uploads'] for t in trials)}–{max(t['uploads'] for t in trials)} vs "
        f"{first['clean_uploads']} for a clean run; the extra ones ({sum(t['extra'] for t in trials)} in all) are "
        "exactly the answers lost at the kills, each sent once more.",
        f"- `result.cost`: every send counted ({sum(t['lost_answers'] for t in trials)} lost answers), of which "
        f"{sum(t['lost_billed'] for t in trials)} confirmed billed among v1's runs: all the emulator billed; cost "
        f"{sum(t['cost_seconds'] for t in trials):g} s vs {sum(t['metered_seconds'] for t in trials):g} s metered "
        f"over the trials (a clean run: {first['clean_seconds']:g} s), the difference being sends recorded by a "
        "process killed before they reached the server. Unsent claims a crash left (planned again under other "
        f"models): {sum(t['unsent_claims'] for t in trials)}.",
    ]


def _dask_kill_lines(trials: list[dict[str, Any]]) -> list[str]:
    v0 = [t for t in trials if t.get("api") == "v0"]
    v1 = [t for t in trials if t.get("api", "v1") == "v1"]
    return ((["", "#### Under v1 (synchronous uploads)"] + _dask_kill_v1_lines(v1) if v1 else [])
            + (["", "#### Under v0 (batch jobs)"] + _dask_kill_v0_lines(v0) if v0 else []))


def _dask_kill_v1_lines(trials: list[dict[str, Any]]) -> list[str]:
    first = trials[0]
    per_engine = Counter(t["engine"] for t in trials)
    return [
        f"- {len(trials)} trials ({', '.join(f'{n} {e}' for e, n in sorted(per_engine.items()))}), "
        f"{sum(t['kills'] for t in trials)} SIGKILLs of a worker busy with a partition, at uploads "
        + "/".join(str(k) for k in sorted({t["kill_at"] for t in trials})) + f" of {first['rows']}; "
        f"{first['workers']} worker processes, {first['partitions']} partitions, at most {first['max_in_flight']} "
        "requests in flight cluster-wide (a `distributed.Semaphore`).",
        f"- After each: all {first['rows']} rows ok and in the dataset in "
        f"{sum(t['ok'] == t['rows'] == t['rows_in_dataset'] for t in trials)}/{len(trials)}; units answered twice: "
        f"{sum(t['answered_twice'] for t in trials)}; units: {', '.join(str(t['units']) for t in trials)} (one per row).",
        f"- Uploads sent again (an answer the dead worker had not stored: v1 keeps nothing, so it can only be asked "
        f"for again): {', '.join(str(t['duplicate_sends']) for t in trials)}, each at most the requests in flight at "
        f"the kill ({', '.join(str(t['in_flight_at_kill']) for t in trials)}); a rerun uploaded "
        f"{sum(t['rerun_uploads'] for t in trials)}.",
    ]


def _dask_kill_v0_lines(trials: list[dict[str, Any]]) -> list[str]:
    first = trials[0]
    per_engine = Counter(t["engine"] for t in trials)
    points = Counter(t["kill_at"] for t in trials)
    posts = [t for t in trials if str(t["kill_at"]).startswith("post")]
    polls = [t for t in trials if not str(t["kill_at"]).startswith("post")]
    return [
        f"- {len(trials)} trials ({', '.join(f'{n} {e}' for e, n in sorted(per_engine.items()))}), "
        f"{sum(t['kills'] for t in trials)} SIGKILLs of the worker measuring a job's partition, at "
        + ", ".join(f"`{p}` ×{n}" for p, n in sorted(points.items()))
        + f" (right after the n-th job POST was answered, or at the n-th status poll); {first['rows']} texts, "
        f"{first['workers']} worker processes, {first['partitions']} partitions of one job each, at most "
        f"{first['max_in_flight']} requests in flight cluster-wide.",
        f"- After each: all {first['rows']} rows ok and in the dataset in "
        f"{sum(t['ok'] == t['rows'] == t['rows_in_dataset'] for t in trials)}/{len(trials)}; jobs at the emulator: "
        f"{', '.join(str(t['jobs']) for t in trials)} (one per partition); **duplicate jobs: "
        f"{sum(t['duplicate_sends'] for t in trials)}** (must be 0), inputs in two jobs: "
        f"{sum(t['inputs_sent_twice'] for t in trials)}; a rerun created {sum(t['rerun_uploads'] for t in trials)} "
        "jobs.",
        "- A kill after a POST left the dead worker's job created with no id in the ledger (such claims at the kill: "
        f"{_listed(posts, 'orphaned_at_kill')}); the retried partition took the claim over and found the job in "
        f"`GET /v0/batch/jobs` (list look-ups: {_listed(posts, 'list_lookups')}). A kill while polling left the job's "
        f"id in the ledger, reused as it was (list look-ups: {_listed(polls, 'list_lookups')}).",
    ]


def _listed(trials: list[dict[str, Any]], key: str) -> str:
    return ", ".join(str(t[key]) for t in trials) or "none"


def _v1_chaos_lines(chaos: dict[str, Any]) -> list[str]:
    if not chaos:
        return []
    rates, inj = chaos["faults"]["rates"], chaos["injected"]
    names = [("server_busy", "503"), ("server_busy_retry_after", "503 + Retry-After"),
             ("gateway_rate_limit", "gateway 429 (no code)"), ("internal_error", "500"), ("drop", "dropped"),
             ("lost_response", "lost answers"), ("malformed", "malformed 200"), ("truncated", "truncated 200")]
    return [
        f"- {chaos['rows']} rows ({chaos['units']} units); faults per upload: "
        + ", ".join(f"{rates.get(k, 0):.0%} {label}" for k, label in names)
        + f", Retry-After {chaos['faults']['retry_after']} s, latency {chaos['faults']['latency'] * 1000:g} ms "
        f"(seed {chaos['faults']['seed']}).",
        "- Injected: " + ", ".join(f"{inj.get(k, 0)} {label}" for k, label in names) + ".",
        f"- Outcome: {chaos['ok']}/{chaos['rows']} ok with the fault-free predictions; calls stopped and rerun: "
        + (", ".join(f"{n} {k}" for k, n in sorted(chaos["stops"].items())) or "none")
        + f"; contents answered twice: {chaos['answered_twice']}; uploads after their answer was stored: "
        f"{chaos['resent_after_stored']}.",
        f"- Uploads: {chaos['uploads']} vs {chaos['clean_uploads']} fault-free: **factor {chaos['factor']:.2f}** "
        f"(bound 2.0); all requests, runs look-ups included: {chaos['requests']} vs {chaos['clean_requests']}. "
        f"{chaos['seconds']} s on a virtual clock, in-process.",
        f"- Billing: the emulator billed {chaos['metered_seconds']:g} s (fault-free {chaos['clean_seconds']:g} s); "
        f"`result.cost` {chaos['cost_seconds']:g} s: {chaos['lost_billed']} lost answers confirmed billed among "
        f"v1's runs (the {chaos['billed_lost']} uploads billed without their answer reaching the ledger) and "
        f"{chaos['unconfirmed']} sends no run was found for (a dropped connection, or a request every retry of "
        "which was refused), counted as billed.",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--figures", type=Path, help="re-render from this folder of figures (do not run the tests)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    if args.figures:
        figures_dir, code, seconds = args.figures, None, None
        junit = figures_dir / "junit.xml"
    else:
        figures_dir = Path(tempfile.mkdtemp(prefix="humekit-reliability-"))
        junit = figures_dir / "junit.xml"
        code, seconds = run_suite(figures_dir, junit, args.pytest_args)
    OUT.write_text(render(load(figures_dir), outcomes(junit), code, seconds))
    print(f"wrote {OUT} (figures in {figures_dir})")
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
