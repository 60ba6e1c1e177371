"""``humekit.measure``: a recordings table in, every row out with its predictions or the reason it has none.

The stages are separate and each lives in its own module: :func:`~humekit.validate`
(validation), planning, submitting (through the ledger), waiting, fetching and joining. This
module only runs them in order and keeps what a rerun needs in the ledger, so calling
``measure`` again with the same table and ledger makes no new job, and after a crash it resumes.
"""

from __future__ import annotations

import dataclasses
import html
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import orjson
import pandas as pd

from humekit.backends.v0.backend import Backend, BatchBackend, lost_job_message
from humekit.backends.v0.client import Client
from humekit.errors import ConfigurationError, MeasureInterrupted, NotFoundError, WaitTimeoutError
from humekit.backends.v0.jobs import JobDetails
from humekit.pipeline.ledger import Ledger
from humekit.backends.v0.limits import DEFAULT_LIMITS, Limits
from humekit.pipeline.joining import join_results
from humekit.pipeline.coverage import Coverage, cover
from humekit.pipeline.outputs import ResultTables
from humekit.pipeline.planning import (Plan, PlannedJob, RowInput, config_key, for_config, normalize_models, plan_jobs,
                              rebuild_job, row_inputs)
from humekit.pipeline.progress import Progress
from humekit.backends.v0.submitting import SubmitReport, submit_jobs
from humekit.pipeline.validation import ADDED_COLUMNS, MODELS_FOR_KIND, media_category, validate
from humekit.backends.v0.waiting import Backoff, wait_for_jobs

if TYPE_CHECKING:  # the receiver (Starlette, uvicorn) is imported only by those who use it
    from humekit.webhooks.receiver import CallbackReceiver

__all__ = ["MeasureOptions", "MeasureResult", "measure", "retry_failed"]


@dataclass(frozen=True)
class MeasureOptions:
    """The options of one :func:`measure` call: the one list of their names and defaults.

    :func:`measure` spells them out in its signature (so an IDE shows each one; a test checks the two agree),
    ``_run`` takes this object, :attr:`MeasureResult.options` keeps it and :func:`retry_failed` overrides it.
    See :func:`measure` for what each option means.
    """

    id_col: str
    source_col: str
    models: Iterable[str] | Mapping[str, Any]
    client: Client | None = None
    ledger: Ledger | str | os.PathLike[str] | None = None
    kind: Literal["auto", "file", "url", "text"] = "auto"
    transcription: Mapping[str, Any] | Literal[False] | None = None
    root: str | None = None
    limits: Limits | Mapping[str, int] = DEFAULT_LIMITS
    errors: Literal["raise", "mark"] = "raise"
    timeout: float | None = 3600.0
    wait_initial: float = 1.0
    wait_max: float = 60.0
    progress: bool = True
    callback: CallbackReceiver | None = None
    callback_fallback: float = 60.0
    backend: Backend | None = None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names, in :func:`measure`'s order."""
        return tuple(f.name for f in dataclasses.fields(cls))


@dataclass(frozen=True)
class MeasureResult(ResultTables):
    """What :func:`measure` returns.

    Attributes:
        status: one row per input row, indexed like the input: ``status`` (``ok``, ``failed``,
            ``invalid``, ``pending``), ``job_id`` (the job that measured the row; several, separated
            by ``", "``, when its models were measured by different calls), ``error`` (why, for
            anything but ``ok``) and ``note`` (for an ``ok`` row, why a requested model found
            nothing: "prosody: no speech found", "face: no face found"; empty when every model
            found something).
        predictions: long table: the ID column, ``model``, ``group``, ``frame``, ``begin``,
            ``end`` (seconds; a video face's frame time in both, empty for images and raw text),
            ``text``, ``emotion``, ``score``…
        descriptors: face FACS and descriptions, burst descriptions, sentiment and toxicity.
        checked: the validated table (what :func:`humekit.validate` learned about each row).

    Tables built from them (see :mod:`humekit.pipeline.outputs`): :meth:`wide` (one row per input row and
    segment), :meth:`per_row` (one row per input row and model, mean scores), both with your
    columns on request (``columns=True``); :meth:`save` writes everything to a folder.
    """

    status: pd.DataFrame
    predictions: pd.DataFrame
    descriptors: pd.DataFrame = field(repr=False)
    checked: pd.DataFrame = field(repr=False)
    ledger: Ledger
    id_col: str
    plan: Plan | None = field(default=None, repr=False)
    submitted: tuple[str, ...] = ()
    r"""Jobs created by this call."""
    reused: tuple[str, ...] = ()
    r"""Jobs this call found already submitted (nothing paid again)."""
    options: MeasureOptions | None = field(default=None, repr=False)
    r"""The options of the call that made this result (what :func:`retry_failed` starts from)."""
    retryable: tuple[str, ...] = field(default=(), repr=False)
    r"""The fingerprints of the (row, job) answers that failed: what :func:`retry_failed` resends."""

    def counts(self) -> dict[str, int]:
        """How many rows are ok, failed, invalid and pending."""
        return {str(k): int(v) for k, v in self.status["status"].value_counts(sort=False).items()}

    @property
    def jobs(self) -> pd.DataFrame:
        """The ledger's record of the jobs these rows used, with the ``config`` each was submitted with:
        ``endpoint``, ``models`` and ``transcription`` as sent (Hume applies its defaults to options
        not given; the job details' ``request`` echoes them)."""
        ids = {job_id for joined in self.status["job_id"].dropna() for job_id in str(joined).split(", ")}
        jobs = self.ledger.jobs()
        jobs = jobs[jobs["job_id"].isin(ids)].reset_index(drop=True)
        requests = self.ledger.requests(jobs["job_key"])  # one query, not one per job
        jobs["config"] = pd.Series([{k: requests[key].get(k) for k in ("endpoint", "models", "transcription")}
                                    for key in jobs["job_key"]], index=jobs.index, dtype=object)
        return jobs

    def _user_table(self) -> pd.DataFrame:
        """The table as the user gave it (without the columns validation adds)."""
        return self.checked.drop(columns=[c for c in ADDED_COLUMNS if c in self.checked.columns])

    def __repr__(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in self.counts().items() if v)
        return (f"<MeasureResult {len(self.status)} rows ({counts}); {len(self.predictions)} prediction rows; "
                f"{len(self.submitted)} jobs submitted, {len(self.reused)} reused; ledger {self.ledger.path}>")

    def _repr_html_(self) -> str:
        counts = "".join(f"<li><b>{v}</b> {html.escape(k)}</li>" for k, v in self.counts().items())
        failed = self.status[self.status["status"].isin(["failed", "invalid", "pending"])]
        with pd.option_context("display.max_colwidth", 80):  # to_html() has no max_colwidth argument
            problems = failed.head(10).to_html() if len(failed) else "<p>No problems.</p>"
        return (f"<div><b>humekit.measure</b>: {len(self.status)} rows<ul>{counts}</ul>"
                f"<p>{len(self.predictions):,} prediction rows; {len(self.submitted)} jobs submitted now, "
                f"{len(self.reused)} reused from the ledger <code>{html.escape(str(self.ledger.path))}</code>.</p>"
                f"{problems}</div>")


def measure(
    table: pd.DataFrame,
    *,
    id_col: str,
    source_col: str,
    models: Iterable[str] | Mapping[str, Any],
    client: Client | None = None,
    ledger: Ledger | str | os.PathLike[str] | None = None,
    kind: Literal["auto", "file", "url", "text"] = "auto",
    transcription: Mapping[str, Any] | Literal[False] | None = None,
    root: str | None = None,
    limits: Limits | Mapping[str, int] = DEFAULT_LIMITS,
    errors: Literal["raise", "mark"] = "raise",
    timeout: float | None = 3600.0,
    wait_initial: float = 1.0,
    wait_max: float = 60.0,
    progress: bool = True,
    callback: CallbackReceiver | None = None,
    callback_fallback: float = 60.0,
    backend: Backend | None = None,
) -> MeasureResult:
    """Measure every row of a recordings table with Hume's batch API and join the results back by ID.

    Args:
        table: one row per recording.
        id_col: column of stable, unique IDs: the join key of every output.
        source_col: column of local paths, http(s) URLs or raw texts.
        models: ``["prosody", "face"]`` or ``{"prosody": {"granularity": "word"}}``.
        client: a :class:`humekit.Client` (default: one from ``HUME_API_KEY``/``HUME_BASE_URL``).
        ledger: the SQLite job ledger (a :class:`~humekit.pipeline.ledger.Ledger` or a path; default
            ``humekit-ledger.sqlite`` in the working directory). Rerunning with the same ledger
            makes no new job; after a crash it resumes.
        kind: what ``source_col`` holds (``"auto"`` decides per row).
        transcription: Hume's transcription options; ``False`` disables transcription.
        root: folder that relative file paths are resolved against.
        limits: Hume's limits: a :class:`Limits`, or a dict of the fields to change, e.g.
            ``{"max_request_bytes": 50_000_000}`` to cap job payloads.
        errors: ``"raise"`` stops on invalid rows; ``"mark"`` measures the rest and reports them.
        timeout: seconds to wait for jobs before :class:`~humekit.WaitTimeoutError` (resumable).
        wait_initial, wait_max: polling backoff (first poll after ``wait_initial`` >= 1 s, doubling
            up to ``wait_max``, ±20 % jitter that never goes past ``wait_max``).
        progress: show one progress display (rows and jobs by state, upload bytes, elapsed time;
            a widget in JupyterLab with ipywidgets, a text line otherwise).
        callback: a started :class:`humekit.webhooks.receiver.WebhookReceiver` (any
            :class:`humekit.webhooks.receiver.CallbackReceiver`): jobs are submitted with a
            ``callback_url`` carrying the receiver's unguessable token and this run's id; jobs
            whose callback arrives are neither polled nor fetched (the callback carries the
            predictions).
        callback_fallback: with ``callback``, seconds before a job whose callback has not arrived
            is polled (then slowly, doubling); a lost callback only delays the result.
        backend: the API backend (default: Hume's v0 batch API through ``client``:
            ``BatchBackend(client)``; pass ``BatchBackend(client, settle=30)`` to wait longer before
            a job whose answer was lost is posted again).

    Returns:
        A :class:`MeasureResult` with ``.status``, ``.predictions``, ``.wide()``, ``.per_row()``
        and ``.save(folder)``.
    """
    options = MeasureOptions(id_col=id_col, source_col=source_col, models=models, client=client, ledger=ledger,
                             kind=kind, transcription=transcription, root=root, limits=limits, errors=errors,
                             timeout=timeout, wait_initial=wait_initial, wait_max=wait_max, progress=progress,
                             callback=callback, callback_fallback=callback_fallback, backend=backend)
    return _run(table, options, salt="", retry=frozenset())


def _run(table: pd.DataFrame, options: MeasureOptions, *, salt: str, retry: frozenset[str]) -> MeasureResult:
    """The stages of :func:`measure`; ``salt`` makes new job keys and ``retry`` lists the fingerprints whose
    failed answers are resent."""
    o = options
    id_col, source_col, timeout, transcription, callback = o.id_col, o.source_col, o.timeout, o.transcription, o.callback
    limits = _limits(o.limits)
    _check_options(timeout=timeout, transcription=transcription)
    wait_initial, wait_max = o.wait_initial, o.wait_max
    if callback is not None:
        wait_initial, wait_max = max(wait_initial, o.callback_fallback), max(wait_max, 4 * o.callback_fallback)
    backoff = Backoff(wait_initial=wait_initial, wait_max=wait_max)
    normalized = normalize_models(o.models)
    checked = validate(table, id_col=id_col, source_col=source_col, kind=o.kind, models=normalized, root=o.root,
                       limits=limits, errors=o.errors)
    backend = o.backend if o.backend is not None else BatchBackend(o.client if o.client is not None else Client())
    store = o.ledger if isinstance(o.ledger, Ledger) else Ledger(o.ledger, clock=backend.clock)
    identity: dict[str, Any] = dict(backend=backend.name, endpoint=backend.endpoint, transcription=transcription)
    config = config_key(models=normalized, **identity)
    files = checked.loc[checked["source_kind"].eq("file") & checked["source_problem"].isna(), "source_path"]
    known = store.known_md5s(files)
    rows = row_inputs(checked, id_col=id_col, source_col=source_col, config=config, md5s=known)
    store.remember_md5s({r.value: r.md5 for r in rows if r.md5 is not None and r.value not in known})
    if retry:
        store.supersede(retry)
    display = Progress(len(rows), enabled=o.progress, clock=backend.clock)
    _interrupts_as_one_line()
    try:
        return _submit_wait_join(rows, checked, store=store, backend=backend, display=display, salt=salt,
                                 limits=limits, normalized=normalized, identity=identity, transcription=transcription,
                                 callback=callback, backoff=backoff, timeout=timeout, id_col=id_col, options=options)
    except KeyboardInterrupt as exc:
        if isinstance(exc, MeasureInterrupted):
            raise
        interrupted = _interrupted(store, rows, normalized, identity, backend)
    finally:
        display.close()
    raise interrupted  # outside the except block: the traceback is measure's own two frames, not the wait's


def _interrupted(store: Ledger, rows: list[RowInput], models: Mapping[str, Any], identity: Mapping[str, Any],
                 backend: Backend) -> MeasureInterrupted:
    """The error for a Ctrl-C: how many of these rows' jobs are still queued, running or being submitted."""
    try:
        jobs = store.jobs(cover(rows, store, models=dict(models), **identity).job_keys)
        live = jobs["state"].isin(["submitting", "submitted"]) & ~jobs["status"].isin(["COMPLETED", "FAILED"])
        running = list(jobs.loc[live, "job_id"].fillna("(being submitted)"))
    except Exception:  # noqa: BLE001 - an interrupt must never turn into another error; the ledger is intact
        running = []
    message = MeasureInterrupted.describe(len(running), backend.endpoint, store.path,
                                          again="the same humekit.measure(...) call")
    return MeasureInterrupted(message, running=running, endpoint=backend.endpoint, ledger=store.path)


def _interrupts_as_one_line() -> None:
    """In IPython/Jupyter, show :class:`MeasureInterrupted` as its one-line message, not a traceback
    (only when no other custom exception display is set)."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is None or getattr(shell, "custom_exceptions", ()) not in ((), (MeasureInterrupted,)):
        return

    def one_line(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
        # _showtraceback is the hook IPython's frontends (ipykernel) implement to send an error output
        shell._showtraceback(etype, value, [f"{etype.__name__}: {value}"])

    shell.set_custom_exc((MeasureInterrupted,), one_line)


def _submit_wait_join(rows: list[RowInput], checked: pd.DataFrame, *, store: Ledger, backend: Backend,
                      display: Progress, salt: str, limits: Limits, normalized: dict[str, Any],
                      identity: Mapping[str, Any], transcription: Any, callback: CallbackReceiver | None,
                      backoff: Backoff,
                      timeout: float | None, id_col: str, options: MeasureOptions) -> MeasureResult:
    """Submit what the ledger lacks, wait for the jobs, fetch and join (reporting to ``display``)."""
    callback_url, settled = _callback_hooks(callback, store)
    # Job keys (and the halves of a refused job) include the salt that makes retried rows new jobs.
    submit = dict(salt=salt, transcription=transcription, callback_url=callback_url)

    display.stage("submitting")
    coverage = cover(rows, store, models=normalized, **identity)
    report = _resume_interrupted(coverage, backend, store, **submit)
    if report.submitted or report.reused or report.rejected:
        coverage = cover(rows, store, models=normalized, **identity)
    plan, groups = _plan_missing(rows, coverage, checked, normalized, identity=identity, limits=limits, salt=salt)
    uploads = sum(i.size for job in plan.jobs if job.kind == "file" for i in job.inputs)
    with display.uploading(uploads):
        for group_models, jobs in groups:
            fresh = submit_jobs(jobs, backend, store, config=config_key(models=group_models, **identity) + salt,
                                models=group_models, transcription=transcription, callback_url=callback_url)
            report.submitted += fresh.submitted
            report.reused += fresh.reused
            report.rejected.update(fresh.rejected)
    if plan.jobs:  # new claims (or refusals) change what answers each row
        coverage = cover(rows, store, models=normalized, **identity)

    def result() -> MeasureResult:
        joined = join_results(checked, id_col=id_col, coverage=coverage, ledger=store, rejected=report.rejected,
                              unplannable=plan.unplannable)
        reused = tuple(job_id for job_id in joined.job_ids if job_id not in set(report.submitted))
        return MeasureResult(status=joined.status, predictions=joined.predictions, descriptors=joined.descriptors,
                             checked=checked, ledger=store, id_col=id_col, plan=plan,
                             submitted=tuple(report.submitted), reused=reused, options=options,
                             retryable=joined.failed)

    try:
        _await_and_fetch(store, coverage.job_keys, backend, backoff=backoff, timeout=timeout, progress=display,
                         settled=settled)
    except WaitTimeoutError as exc:
        exc.result = result()  # what finished is not lost: its rows are ok, the others pending
        raise
    return result()


def _limits(limits: Any) -> Limits:
    """``limits`` as :class:`Limits` (a mapping of overrides is accepted)."""
    if isinstance(limits, Limits):
        return limits
    if isinstance(limits, Mapping):
        unknown = sorted(set(limits) - set(Limits.__dataclass_fields__))
        if unknown:
            raise ConfigurationError(f"limits: unknown field(s) {unknown}; the fields are "
                                     f"{sorted(Limits.__dataclass_fields__)}")
        return dataclasses.replace(DEFAULT_LIMITS, **limits)
    raise ConfigurationError(f"limits must be a humekit.Limits (or a dict of its fields), not {type(limits).__name__}")


def _check_options(*, timeout: Any, transcription: Any) -> None:
    """Refuse option values measure cannot use, before anything is read or sent (``validate``
    checks ``kind`` and ``errors``)."""
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ConfigurationError(f"timeout={timeout!r}: give seconds > 0, or None to wait as long as it takes")
    if not (transcription is None or transcription is False or isinstance(transcription, Mapping)):
        raise ConfigurationError(
            f"transcription={transcription!r}: pass None (Hume's default), False (no transcription) or a dict "
            "of options such as {'language': 'en'}"
        )


def retry_failed(result: MeasureResult, **overrides: Any) -> MeasureResult:
    """Resubmit only the rows of ``result`` whose status is ``failed``, as new jobs.

    Jobs refused for a limit are not resent as they were (they are split, or stay failed).
    Other rows keep their jobs and predictions. Options default to those of the original call.

    Returns:
        A new :class:`MeasureResult` for the whole table.
    """
    if result.options is None:
        raise ConfigurationError("retry_failed takes the result of humekit.measure (this one has no options)")
    allowed = set(MeasureOptions.names()) - {"ledger"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ConfigurationError(f"retry_failed: unknown option(s) {unknown}; it takes measure's options "
                                 f"{sorted(allowed)} (the ledger is the original's)")
    failed = frozenset(np.flatnonzero(result.status["status"].to_numpy() == "failed").tolist())
    if not failed:
        return result
    options = dataclasses.replace(result.options, **overrides, ledger=result.ledger)
    table = result.checked.drop(columns=list(ADDED_COLUMNS))
    return _run(table, options, salt=f"|retry-{secrets.token_hex(4)}", retry=frozenset(result.retryable))


def _plan_missing(rows: list[RowInput], coverage: Coverage, checked: pd.DataFrame, models: dict[str, Any], *,
                  identity: Mapping[str, Any], limits: Limits, salt: str
                  ) -> tuple[Plan, list[tuple[dict[str, Any], list[PlannedJob]]]]:
    """Plan jobs for the (row, model) pairs the ledger does not hold: rows missing the same models go
    together, with only those models (a row missing every model is planned exactly as before
    planning was per model, so ledgers written then are still recognised)."""
    useful = _useful_models(checked)
    groups: dict[tuple[str, ...], list[RowInput]] = {}
    for row in rows:
        absent = coverage.missing.get(row.index, ())
        if not absent:
            continue
        if len(absent) < len(models):  # measured before with other models: send only what can add something
            absent = tuple(m for m in absent if m in useful.get(row.index, models))
            if not absent:
                continue  # e.g. face for a text row already measured with language
        groups.setdefault(absent, []).append(row)
    jobs: list[PlannedJob] = []
    unplannable: dict[Any, str] = {}
    planned: list[tuple[dict[str, Any], list[PlannedJob]]] = []
    for names, members in groups.items():
        group_models = {name: models[name] for name in names}
        group_config = config_key(models=group_models, **identity)
        plan = plan_jobs([for_config(row, group_config) for row in members], config=group_config, limits=limits,
                         salt=salt, models=names)
        jobs += plan.jobs
        unplannable.update(plan.unplannable)
        planned.append((group_models, plan.jobs))
    full = config_key(models=models, **identity)
    return Plan(jobs=jobs, unplannable=unplannable, config_key=f"{full}{salt}"), planned


def _useful_models(checked: pd.DataFrame) -> dict[int, set[str]]:
    """Row position -> the models that can say something about its source (where the media type is known)."""
    useful = {}
    for position, (kind, media_type) in enumerate(zip(checked["source_kind"], checked["source_media_type"],
                                                          strict=True)):
        category = media_category(kind, media_type)
        if category is not None:
            useful[position] = set(MODELS_FOR_KIND[category])
    return useful


def _resume_interrupted(coverage: Coverage, backend: Backend, store: Ledger, *, salt: str, transcription: Any,
                        callback_url: str | None) -> SubmitReport:
    """Finish submissions an earlier run claimed but never confirmed (a crash or a lost response),
    each with the models it was claimed with."""
    report = SubmitReport()
    if not coverage.assignments:
        return report
    jobs = store.jobs(coverage.job_keys)
    stale = jobs[(jobs["state"] == "submitting") & jobs["job_id"].isna()]
    if stale.empty:
        return report
    recorded = store.inputs(stale["job_key"])
    recorded = recorded[recorded["superseded"] == 0]
    requests = store.requests(stale["job_key"])
    for job_key, kind in zip(stale["job_key"], stale["kind"], strict=True):
        models = requests[job_key]["models"]
        job = rebuild_job(job_key, kind, recorded[recorded["job_key"] == job_key], coverage.rows, models=list(models))
        if job is None:
            store.record_abandoned(job_key, "its rows are no longer in the table")
            continue
        config = config_key(backend=backend.name, endpoint=backend.endpoint, models=models,
                            transcription=transcription)
        done = submit_jobs([job], backend, store, config=f"{config}{salt}", models=models,
                           transcription=transcription, callback_url=callback_url)
        report.submitted += done.submitted
        report.reused += done.reused
        report.rejected.update(done.rejected)
    return report


def _await_and_fetch(store: Ledger, job_keys: list[str], backend: Backend, *, backoff: Backoff,
                     timeout: float | None, progress: Progress, settled: Any) -> None:
    if not job_keys:
        return
    keys = set(job_keys)
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
            finished = wait_for_jobs(backend, list(pending["job_id"]), since_ms=int(pending["claimed_ms"].min()),
                                     timeout=timeout, backoff=backoff, rows=rows, progress=progress,
                                     settled=settled, on_update=record)
        except WaitTimeoutError:
            _fetch_completed(store, keys, backend)  # keep what did finish
            raise
        for details in finished.values():
            record(details)
    _fetch_completed(store, keys, backend)


def _fetch_completed(store: Ledger, job_keys: set[str], backend: Backend) -> None:
    """Fetch and store the predictions of every COMPLETED job among ``job_keys`` not stored yet."""
    jobs = store.jobs(job_keys)
    completed = list(jobs.loc[jobs["job_id"].notna() & (jobs["status"] == "COMPLETED"), "job_id"])
    have = store.has_predictions(completed)
    for job_id in completed:
        if job_id not in have:
            try:
                predictions = backend.fetch(job_id)
            except NotFoundError:  # the endpoint lost the job after it completed: its rows are failed, with why
                store.record_status(job_id, "FAILED", lost_job_message(job_id, backend.endpoint))
                continue
            store.store_predictions(job_id, predictions)


def _callback_hooks(callback: CallbackReceiver | None, store: Ledger
                    ) -> tuple[str | None, Callable[[list[str]], Mapping[str, JobDetails]] | None]:
    """The callback URL to submit with, and what the waiter asks to learn which jobs finished."""
    if callback is None:
        return None, None
    if not hasattr(callback, "callback_url") or not hasattr(callback, "received"):
        raise ConfigurationError(f"callback= must be a humekit.webhooks.receiver.WebhookReceiver, started (receiver.start()) "
                                 "or given a public base_url that Hume can reach (or any humekit.webhooks.receiver."
                                 "CallbackReceiver: callback_url(run=...) and received(ids, event_name=...)), "
                                 f"not {type(callback).__name__}")
    url = callback.callback_url(run=secrets.token_hex(8))

    def settled(job_ids: Iterable[str]) -> dict[str, JobDetails]:
        finished = {}
        for job_id, event in callback.received(list(job_ids), event_name="job").items():
            status = str(getattr(event, "status", "") or "").upper()
            if status not in ("COMPLETED", "FAILED"):
                continue
            predictions = getattr(event, "predictions", None)
            if status == "COMPLETED" and predictions is not None:
                store.store_predictions(job_id, orjson.dumps(predictions))
            finished[job_id] = JobDetails(job_id=job_id, status=status, message=getattr(event, "message", None))
        return finished

    return url, settled
