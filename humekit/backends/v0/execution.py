"""Execute v0 jobs for the pipeline: submit them, resume interrupted submissions, wait (polls or callbacks), fetch.

Every job is claimed in the ledger before its POST and its id committed the moment it is returned
(:mod:`humekit.backends.v0.submitting`); waiting polls with backoff, or learns from the receiver's
callbacks (:mod:`humekit.backends.v0.waiting`); a COMPLETED job's predictions are fetched and stored
in the ledger once, before anything is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from humekit.backends.base import Executed, Run
from humekit.backends.v0.jobs import JobDetails, JobsAPI, lost_job_message
from humekit.backends.v0.submitting import submit_jobs
from humekit.backends.v0.waiting import Backoff, wait_for_jobs
from humekit.errors import ConfigurationError, NotFoundError, WaitTimeoutError
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.planning import RowInput, Unit, config_key, rebuild_job

if TYPE_CHECKING:
    from humekit.webhooks.receiver import CallbackReceiver

__all__ = ["check", "check_callback", "collect", "execute", "in_flight", "resume"]

Settled = Callable[[list[str]], Mapping[str, JobDetails]]


def execute(api: JobsAPI, units: Sequence[Unit], run: Run) -> Executed:
    """Submit these jobs through the ledger, each group of jobs asking for the same models together."""
    report = Executed()
    callback_url = _callback_url(run)
    groups: dict[tuple[str, ...], list[Unit]] = {}
    for unit in units:
        groups.setdefault(unit.models, []).append(unit)
    for names, jobs in groups.items():
        models = {name: run.models[name] for name in names}
        report.add(submit_jobs(jobs, api, run.ledger, config=_config(api, models, run), models=models,
                               transcription=run.transcription, callback_url=callback_url))
    return report


def resume(api: JobsAPI, unit_keys: Sequence[str], rows: Mapping[str, RowInput], run: Run) -> Executed:
    """Finish submissions an earlier run claimed but never confirmed (a crash or a lost response), each
    with the models it was claimed with (reconciled against the job list before anything is resent)."""
    report = Executed()
    store = run.ledger
    if not unit_keys:
        return report
    jobs = store.jobs(unit_keys)
    stale = jobs[(jobs["state"] == "submitting") & jobs["job_id"].isna()]
    if stale.empty:
        return report
    recorded = store.inputs(stale["job_key"])
    recorded = recorded[recorded["superseded"] == 0]
    requests = store.requests(stale["job_key"])
    callback_url = _callback_url(run)
    for job_key, kind in zip(stale["job_key"], stale["kind"], strict=True):
        models = requests[job_key]["models"]
        job = rebuild_job(job_key, kind, recorded[recorded["job_key"] == job_key], rows, models=list(models))
        if job is None:
            store.record_abandoned(job_key, "its rows are no longer in the table")
            continue
        report.add(submit_jobs([job], api, store, config=_config(api, models, run), models=models,
                               transcription=run.transcription, callback_url=callback_url))
    return report


def collect(api: JobsAPI, unit_keys: Sequence[str], run: Run) -> None:
    """Wait for these jobs (polling, or learning from callbacks) and store the predictions of the
    COMPLETED ones; on a timeout, what did finish is fetched before :class:`WaitTimeoutError` is raised."""
    if not unit_keys:
        return
    store, progress = run.ledger, run.progress
    keys = set(unit_keys)
    jobs = store.jobs(keys)
    live = jobs[jobs["job_id"].notna()]
    pending = live[~live["status"].isin(["COMPLETED", "FAILED"])]
    progress.rows(int(live["num_rows"].sum()), done=int(live["num_rows"].sum() - pending["num_rows"].sum()))
    progress.jobs(dict(zip(live["job_id"], live["status"], strict=True)))
    if len(pending):
        rows = dict(zip(pending["job_id"], pending["num_rows"], strict=True))

        def record(details: JobDetails) -> None:
            store.record_status(details.job_id, details.status, details.message)

        try:
            finished = wait_for_jobs(api, list(pending["job_id"]), since_ms=int(pending["claimed_ms"].min()),
                                     timeout=run.timeout, backoff=_backoff(run), rows=rows, progress=progress,
                                     settled=_settled(run.callback, store), on_update=record)
        except WaitTimeoutError:
            _fetch_completed(store, keys, api)  # keep what did finish
            raise
        for details in finished.values():
            record(details)
    _fetch_completed(store, keys, api)


def in_flight(unit_keys: Sequence[str], ledger: Ledger) -> list[str]:
    """The jobs among these still queued, running or being submitted (by id, or "(being submitted)")."""
    jobs = ledger.jobs(unit_keys)
    live = jobs["state"].isin(["submitting", "submitted"]) & ~jobs["status"].isin(["COMPLETED", "FAILED"])
    return list(jobs.loc[live, "job_id"].fillna("(being submitted)"))


def _config(api: JobsAPI, models: Mapping[str, Any], run: Run) -> str:
    """The configuration the keys of a refused job's halves are made from (with the run's salt)."""
    return config_key(backend=api.name, endpoint=api.endpoint, models=models, transcription=run.transcription) + run.salt


def _backoff(run: Run) -> Backoff:
    """How often to poll: with a callback, only after ``callback_fallback`` seconds, then slowly."""
    wait_initial, wait_max = run.wait_initial, run.wait_max
    if run.callback is not None:
        wait_initial, wait_max = max(wait_initial, run.callback_fallback), max(wait_max, 4 * run.callback_fallback)
    return Backoff(wait_initial=wait_initial, wait_max=wait_max)


def _fetch_completed(store: Ledger, job_keys: set[str], api: JobsAPI) -> None:
    """Fetch and store the predictions of every COMPLETED job among ``job_keys`` not stored yet."""
    jobs = store.jobs(job_keys)
    completed = list(jobs.loc[jobs["job_id"].notna() & (jobs["status"] == "COMPLETED"), "job_id"])
    have = store.has_predictions(completed)
    for job_id in completed:
        if job_id not in have:
            try:
                predictions = api.fetch(job_id)
            except NotFoundError:  # the endpoint lost the job after it completed: its rows are failed, with why
                store.record_status(job_id, "FAILED", lost_job_message(job_id, api.endpoint))
                continue
            store.store_predictions(job_id, predictions)


def check(run: Run) -> None:
    """Refuse, before anything is sent, polling options Hume would not accept and a bad ``callback=``."""
    _backoff(run)
    check_callback(run.callback)


def check_callback(callback: object) -> None:
    """Refuse, before anything is sent, a ``callback=`` that cannot receive batch job callbacks."""
    if callback is not None and (not hasattr(callback, "callback_url") or not hasattr(callback, "received")):
        raise ConfigurationError(f"callback= must be a humekit.webhooks.receiver.WebhookReceiver, started "
                                 "(receiver.start()) or given a public base_url that Hume can reach (or any "
                                 "humekit.webhooks.receiver.CallbackReceiver: callback_url(run=...) and "
                                 f"received(ids, event_name=...)), not {type(callback).__name__}")


def _callback_url(run: Run) -> str | None:
    """The callback URL jobs are submitted with (carrying this run's id), if the run has a receiver."""
    check_callback(run.callback)
    return None if run.callback is None else run.callback.callback_url(run=run.run_id)


def _settled(callback: CallbackReceiver | None, store: Ledger) -> Settled | None:
    """What the waiter asks to learn which jobs finished by callback (storing their predictions first)."""
    if callback is None:
        return None

    def settled(job_ids: Iterable[str]) -> dict[str, JobDetails]:
        finished = {}
        for job_id, event in callback.received(list(job_ids), event_name="job").items():
            status = str(getattr(event, "status", "") or "").upper()
            if status not in ("COMPLETED", "FAILED"):
                continue
            predictions = getattr(event, "predictions", None)
            if status == "COMPLETED" and predictions is not None:
                # the body as received (the decoder reads a callback body), or, from a receiver that gives
                # only parsed events, the predictions written out once
                body = getattr(event, "body", None)
                store.store_predictions(job_id, body if isinstance(body, bytes) else orjson.dumps(predictions))
            finished[job_id] = JobDetails(job_id=job_id, status=status, message=getattr(event, "message", None))
        return finished

    return settled
