"""``humekit.measure``: a recordings table in, every row out with its predictions or the reason it has none.

The composition root: it reads the options, builds the backend (Hume's v0 batch API through
``client`` unless ``backend=`` is given: the one place the pipeline names a backend), validates the
table against the backend's limits, opens the ledger and runs the stages (:mod:`humekit.pipeline.stages`:
cover, resume, plan, execute, collect, join). Everything a rerun needs is in the ledger, so calling
``measure`` again with the same table and ledger sends nothing new, and after a crash it resumes.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from humekit.backends.base import Backend, Run
from humekit.backends.v0.client import Client
from humekit.backends.v0.limits import DEFAULT_LIMITS, Limits
from humekit.backends.v1.client import V1Client
from humekit.config import resolve_api
from humekit.errors import ConfigurationError, MeasureInterrupted
from humekit.pipeline.input_limits import InputLimits
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.planning import config_key, normalize_models
from humekit.pipeline.parts import check_folder
from humekit.pipeline.progress import Progress
from humekit.pipeline.result import MeasureResult
from humekit.pipeline.stages import Outcome, in_flight, send_and_join, table_rows
from humekit.pipeline.streaming import DEFAULT_CHUNK_ROWS, Streamed, ValidatedChunks, measure_in_chunks
from humekit.pipeline.validation import validate

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
    client: Client | V1Client | None = None
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
    api: Literal["v0", "v1"] | None = None
    dry_run: bool = False
    out: str | os.PathLike[str] | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names, in :func:`measure`'s order."""
        return tuple(f.name for f in dataclasses.fields(cls))


def measure(
    table: pd.DataFrame,
    *,
    id_col: str,
    source_col: str,
    models: Iterable[str] | Mapping[str, Any],
    client: Client | V1Client | None = None,
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
    api: Literal["v0", "v1"] | None = None,
    dry_run: bool = False,
    out: str | os.PathLike[str] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> MeasureResult:
    """Measure every row of a recordings table with Hume's batch API and join the results back by ID.

    Args:
        table: one row per recording.
        id_col: column of stable, unique IDs: the join key of every output.
        source_col: column of local paths, http(s) URLs or raw texts.
        models: ``["prosody", "face"]`` or ``{"prosody": {"granularity": "word"}}``.
        client: a :class:`humekit.Client` (v0) or a :class:`humekit.backends.v1.client.V1Client` (default: one
            from ``HUME_API_KEY``/``HUME_BASE_URL`` for the chosen ``api``).
        ledger: the job ledger: a SQLite file's path (default ``humekit-ledger.sqlite`` in the working
            directory), a PostgreSQL URL (``"postgresql://user@host/db"``: one ledger that processes on
            several machines share, with the same guarantees) or a :class:`~humekit.pipeline.ledger.Ledger`.
            Rerunning with the same ledger makes no new job; after a crash it resumes. Any other URL
            (``mysql://``, ``http://``...) is refused (:class:`~humekit.LedgerError`).
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
        backend: the API backend, any :class:`humekit.backends.base.Backend` (default: Hume's v0
            batch API through ``client``, ``humekit.backends.v0.BatchBackend(client)``; pass
            ``BatchBackend(client, settle=30)`` to wait longer before a job whose answer was lost is
            posted again).

        api: ``"v1"`` (Hume's live Expression Measurement API) or ``"v0"`` (the batch API, sunset
            2026-06-14: a compatible endpoint or the emulator). Default: what ``backend=``/``client=``
            speak, else ``HUME_API`` (environment or ``.env``), else ``"v1"``.
        dry_run: send nothing and record no unit: the result shows what would be sent (``plan``), each row's
            ``pending`` reason, and in ``cost`` the requests and billed seconds it would take.
        out: a folder to stream the results to, for a study too large to hold in memory: the table goes
            through every stage ``chunk_rows`` rows at a time (validated, all of it, before anything is sent;
            then planned and sent; then joined), and each chunk's status, scores and descriptors are written
            there as a Parquet dataset (``write_dataset``'s layout: ``scores/model=.../part-000000-0.parquet``,
            ``descriptors/...``, ``status/...``; ``humekit.read_dask(out)`` opens it) before the next chunk is
            read, so memory holds one chunk, not the table (:mod:`humekit.pipeline.streaming`). The result
            keeps only your table (not copied) and a few totals, and reads the rest from ``out``:
            ``result.dataset()`` lazily (pyarrow), ``result.status`` and ``result.predictions`` all at once.
            Identical inputs in different chunks are sent once (:mod:`humekit.pipeline.reuse`). A rerun with the same
            ``out`` rewrites the dataset (no row twice); a folder holding other Parquet files is refused. A
            dry run writes nothing (and runs in memory).
        chunk_rows: with ``out``, the rows validated, sent and joined at a time (default 10,000).

    Returns:
        A :class:`MeasureResult` with ``.status``, ``.predictions``, ``.wide()``, ``.per_row()``
        and ``.save(folder)``.
    """
    options = MeasureOptions(id_col=id_col, source_col=source_col, models=models, client=client, ledger=ledger,
                             kind=kind, transcription=transcription, root=root, limits=limits, errors=errors,
                             timeout=timeout, wait_initial=wait_initial, wait_max=wait_max, progress=progress,
                             callback=callback, callback_fallback=callback_fallback, backend=backend, api=api,
                             dry_run=dry_run, out=out, chunk_rows=chunk_rows)
    return _run(table, options, salt="", retry=frozenset())


def _run(table: pd.DataFrame, options: MeasureOptions, *, salt: str, retry: frozenset[str]) -> MeasureResult:
    """The stages of :func:`measure`; ``salt`` makes new unit keys and ``retry`` lists the fingerprints whose
    failed answers are resent."""
    o = options
    api = _api(o)
    limits = _limits(o.limits) if api == "v0" else _backend_limits(o)
    _check_options(timeout=o.timeout, transcription=o.transcription, chunk_rows=o.chunk_rows)
    normalized = normalize_models(o.models, api=api)
    which: Literal["v0", "v1"] = "v1" if api == "v1" else "v0"
    streamed = None if o.out is None or o.dry_run else Path(o.out).resolve()
    chunks: ValidatedChunks | None = None
    if streamed is None:
        checked = validate(table, id_col=o.id_col, source_col=o.source_col, kind=o.kind, models=normalized,
                           root=o.root, limits=limits, errors=o.errors, api=which)
    else:
        check_folder(streamed, id_col=o.id_col)  # before anything is sent: a folder of other files is refused
        chunks = ValidatedChunks.validate(table, id_col=o.id_col, source_col=o.source_col, kind=o.kind,
                                          models=normalized, root=o.root, limits=limits, errors=o.errors, api=which,
                                          chunk_rows=o.chunk_rows)
    try:
        backend = o.backend if o.backend is not None else _default_backend(api, o.client)
        store = o.ledger if isinstance(o.ledger, Ledger) else Ledger(o.ledger, clock=backend.clock)
    except BaseException:
        if chunks is not None:
            chunks.close()
        raise
    options = dataclasses.replace(options, ledger=store)  # the result keeps the open ledger, never a URL's password
    config = config_key(backend=backend.name, endpoint=backend.endpoint, models=normalized,
                        transcription=o.transcription)
    if retry:
        store.supersede(retry)
    display = Progress(len(table), enabled=o.progress, clock=backend.clock)  # every row counts (see stages)
    run = Run(ledger=store, models=normalized, transcription=o.transcription, salt=salt, progress=display,
              timeout=o.timeout, wait_initial=o.wait_initial, wait_max=o.wait_max, callback=o.callback,
              callback_fallback=o.callback_fallback, run_id=secrets.token_hex(8))

    def finish(outcome: Outcome) -> MeasureResult:
        joined, submitted = outcome.joined, tuple(outcome.executed.submitted)
        return MeasureResult(stored_status=joined.status, stored_predictions=joined.predictions,
                             stored_descriptors=joined.descriptors, stored_checked=checked, ledger=store,
                             id_col=o.id_col, plan=outcome.plan, submitted=submitted,
                             reused=_reused(joined.job_ids, submitted), options=options, retryable=joined.failed,
                             stored_cost=outcome.cost)

    def finish_streamed(done: Streamed) -> MeasureResult:
        assert chunks is not None and streamed is not None and done.empty_status is not None
        assert done.empty_predictions is not None and done.empty_descriptors is not None
        submitted = tuple(done.submitted)
        return MeasureResult(stored_status=done.empty_status, stored_predictions=done.empty_predictions,
                             stored_descriptors=done.empty_descriptors, stored_checked=chunks.empty, ledger=store,
                             id_col=o.id_col, submitted=submitted, reused=_reused(done.job_ids, submitted),
                             options=options,
                             retryable=tuple(done.failed), out=streamed, given=table.copy(deep=False),
                             cost_totals=done.cost_totals)

    _interrupts_as_one_line()
    try:
        backend.check(run)  # options the backend cannot use are refused before anything is sent
        if chunks is not None:
            assert streamed is not None
            return finish_streamed(measure_in_chunks(chunks, id_col=o.id_col, source_col=o.source_col, config=config,
                                                     backend=backend, run=run, limits=limits, out=streamed,
                                                     on_timeout=finish_streamed))
        rows = table_rows(checked, id_col=o.id_col, source_col=o.source_col, config=config, ledger=store)
        return send_and_join(rows, checked, backend=backend, run=run, id_col=o.id_col, limits=limits, finish=finish,
                             dry_run=o.dry_run)
    except KeyboardInterrupt as exc:
        if isinstance(exc, MeasureInterrupted):
            raise
        tables = [checked] if chunks is None else (chunk for _, chunk in chunks)
        interrupted = _interrupted(tables, o, config=config, backend=backend, run=run)
    finally:
        display.close()
        if chunks is not None:
            chunks.close()
    raise interrupted  # outside the except block: the traceback is measure's own two frames, not the wait's


def _reused(used: Iterable[str], submitted: Iterable[str]) -> tuple[str, ...]:
    """The jobs whose answers were used that this call did not submit (found in the ledger: nothing paid again)."""
    sent = set(submitted)
    return tuple(job_id for job_id in used if job_id not in sent)


def _backend_limits(o: MeasureOptions) -> InputLimits:
    """The limits a backend other than v0's checks inputs against (``limits=`` is the v0 batch API's)."""
    if o.limits is not DEFAULT_LIMITS and o.limits != DEFAULT_LIMITS:
        raise ConfigurationError("limits= holds the v0 batch API's limits; give this backend its own (e.g. "
                                 "V1Backend(limits=...)) and leave limits= out")
    if o.backend is None:
        from humekit.backends.v1.limits import DEFAULT_V1_LIMITS

        return DEFAULT_V1_LIMITS
    found = getattr(o.backend, "limits", None)
    return found if isinstance(found, InputLimits) else InputLimits()


def _api(o: MeasureOptions) -> str:
    """Which API the call measures with: ``api=``, else what ``backend=``/``client=`` speak, else ``HUME_API``
    (environment or ``.env``), else Hume's live v1 API."""
    if o.api is not None and o.api not in ("v0", "v1"):
        raise ConfigurationError(f"api={o.api!r}: choose 'v1' (Hume's live API) or 'v0' (the batch API, sunset "
                                 "2026-06-14: a compatible endpoint or the emulator)")
    given, implied = (("backend=", o.backend.api) if o.backend is not None else
                      ("client=", "v1" if isinstance(o.client, V1Client) else "v0") if o.client is not None else
                      ("", None))
    if o.api is not None and implied is not None and o.api != implied:
        raise ConfigurationError(f"api={o.api!r}, but the {given} given speaks {implied}: leave api= out, or give "
                                 f"a {o.api} {given.rstrip('=')}")
    return o.api or implied or resolve_api()


def _default_backend(api: str, client: Client | V1Client | None) -> Backend:
    """The API's backend through ``client`` (one from ``HUME_API_KEY``/``HUME_BASE_URL`` when not given).

    Imported here, not at the top: a run with another ``backend=`` loads none of their sending code.
    """
    if api == "v1":
        from humekit.backends.v1.backend import V1Backend

        return V1Backend(client if isinstance(client, V1Client) else V1Client())
    from humekit.backends.v0.backend import BatchBackend

    return BatchBackend(client if isinstance(client, Client) else Client())


def _interrupted(tables: Iterable[pd.DataFrame], o: MeasureOptions, *, config: str, backend: Backend,
                 run: Run) -> MeasureInterrupted:
    """The error for a Ctrl-C: how many of the units of these validated tables' rows are still queued, running or
    being sent."""
    try:
        running = [unit for checked in tables for unit in in_flight(
            table_rows(checked, id_col=o.id_col, source_col=o.source_col, config=config, ledger=run.ledger),
            backend=backend, run=run)]
    except Exception:  # noqa: BLE001 - an interrupt must never turn into another error; the ledger is intact
        running = []
    store = run.ledger
    message = MeasureInterrupted.describe(len(running), backend.endpoint, store.location,
                                          again="the same humekit.measure(...) call")
    return MeasureInterrupted(message, running=running, endpoint=backend.endpoint, ledger=store.location)


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


def _check_options(*, timeout: Any, transcription: Any, chunk_rows: Any) -> None:
    """Refuse option values measure cannot use, before anything is read or sent (``validate``
    checks ``kind`` and ``errors``)."""
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ConfigurationError(f"chunk_rows={chunk_rows!r}: give how many rows are joined and written at a time "
                                 "with out=, a whole number >= 1 (default 10,000)")
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
    table = result._user_table()  # noqa: SLF001 - the table as given, with or without out=
    return _run(table, options, salt=f"|retry-{secrets.token_hex(4)}", retry=frozenset(result.retryable))
