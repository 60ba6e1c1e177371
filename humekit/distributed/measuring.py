"""``humekit.measure_distributed``: a table measured partition by partition on a Dask cluster, results on disk.

Each partition is one Dask task: a worker builds its own backend (:mod:`humekit.distributed.workers`),
calls the ordinary :func:`humekit.measure` on the partition with the **shared** ledger (a path or URL that
every worker opens itself), and writes the result as the partition's own part of a Parquet dataset
(:mod:`humekit.distributed.parts`). Only a few numbers per partition come back to the client
(:class:`~humekit.distributed.summary.PartSummary`). Every request to Hume, from any worker and thread,
holds a lease of one ``distributed.Semaphore`` (:mod:`humekit.distributed.budget`), so the cluster never
has more than ``max_in_flight`` requests in flight.

A worker that dies mid-partition loses nothing: Dask runs the partition again elsewhere, and that
``measure`` finds in the ledger every answer stored so far; only the requests that were in flight on the
dead worker (claimed, sent, answer not yet stored) are sent again. Its part is rewritten under the same name.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from humekit.config import resolve_api
from humekit.distributed.budget import RequestBudget, forget
from humekit.distributed.parts import finish, prepare, write_part
from humekit.distributed.summary import DistributedResult, PartSummary
from humekit.distributed.workers import BackendFactory, BackendSpec, close_backend, missing_keys
from humekit.errors import ConfigurationError, DuplicateIdError, MissingColumnError, PartitionFailedError
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.measure import measure

if TYPE_CHECKING:
    from distributed import Client, Semaphore

    from humekit.backends.v0.limits import Limits

__all__ = ["DEFAULT_MAX_IN_FLIGHT", "DEFAULT_PARTITION_ROWS", "measure_distributed"]

#: Requests in flight across the cluster by default: what one ``humekit.measure`` at V1Backend's default
#: concurrency sends, so scaling out spreads the conversion work without raising the load on Hume.
DEFAULT_MAX_IN_FLIGHT = 4
#: Rows per partition when a pandas table is partitioned for you.
DEFAULT_PARTITION_ROWS = 200
#: The name every partition's task key starts with (what Dask's dashboard groups them by).
TASK_PREFIX = "humekit-measure"


@dataclass(frozen=True)
class PartitionJob:
    """Everything a worker needs to measure one partition: no open connection, no key (it reads its own)."""

    id_col: str
    source_col: str
    models: Iterable[str] | Mapping[str, Any]
    ledger: str
    out: str
    backend: BackendSpec
    budget: RequestBudget | None
    options: Mapping[str, Any] = field(default_factory=dict)


def measure_partition(frame: pd.DataFrame, index: int, job: PartitionJob) -> PartSummary:
    """On a worker: measure one partition with the shared ledger and write its part of the dataset."""
    from distributed import get_worker

    worker = get_worker().address
    if frame.empty:
        write_part(None, Path(job.out), index)
        return PartSummary(index, 0, {}, 0, None, 0, 0, worker)
    backend = job.backend.build(job.budget.limiter() if job.budget is not None else None)
    try:
        result = measure(frame, id_col=job.id_col, source_col=job.source_col, models=job.models, ledger=job.ledger,
                         backend=backend, progress=False, **job.options)
    finally:
        close_backend(backend)
    write_part(result, Path(job.out), index)
    result.ledger.close()
    totals = result.cost.attrs if result.cost is not None else {}
    billed = result.cost["billed_seconds"] if result.cost is not None else pd.Series([], dtype=float)
    return PartSummary(index, len(result.status), result.counts(), int(totals.get("total_requests", 0)),
                       None if billed.isna().all() else float(billed.sum()),  # None: an API humekit does not price
                       int(totals.get("total_lost_answers", 0)), int(totals.get("total_lost_billed", 0)), worker)


def measure_distributed(
    table: Any,
    *,
    id_col: str,
    source_col: str,
    models: Iterable[str] | Mapping[str, Any],
    ledger: str | os.PathLike[str],
    out: str | os.PathLike[str],
    client: Client | None = None,
    max_in_flight: int | Semaphore | None = DEFAULT_MAX_IN_FLIGHT,
    api: Literal["v0", "v1"] | None = None,
    base_url: str | None = None,
    concurrency: int | None = None,
    backend_factory: BackendFactory | None = None,
    npartitions: int | None = None,
    partition_rows: int | None = None,
    retries: int = 2,
    progress: bool = True,
    kind: Literal["auto", "file", "url", "text"] = "auto",
    transcription: Mapping[str, Any] | Literal[False] | None = None,
    root: str | None = None,
    limits: Limits | Mapping[str, int] | None = None,
    errors: Literal["raise", "mark"] = "mark",
    timeout: float | None = 3600.0,
    wait_initial: float = 1.0,
    wait_max: float = 60.0,
) -> DistributedResult:
    """Measure a table on a Dask cluster, partition by partition, the results written by the workers to ``out``.

    Every worker runs :func:`humekit.measure` on its partitions with the same ledger, so everything
    :func:`~humekit.measure` guarantees holds across the cluster: nothing answered is sent again, a worker
    killed mid-partition loses nothing (Dask runs the partition again elsewhere and only the requests that
    were in flight on it are resent), and calling this again with the same table, ledger and ``out`` sends
    nothing new and rewrites the same dataset.

    Args:
        table: a ``dask.dataframe.DataFrame`` (measured in its own partitions), or a pandas DataFrame
            (partitioned for you: ``npartitions=`` or ``partition_rows=``, default 200 rows a partition).
        id_col, source_col, models: as for :func:`humekit.measure`. IDs must be unique across the whole table.
        ledger: the shared ledger, as a path or URL every worker can open (never a ``Ledger`` object): a
            PostgreSQL URL across machines; a SQLite file only when every worker runs on this machine.
        out: the dataset folder: ``status/`` (every input row with its status, reason and cost),
            ``scores/model=.../`` and ``descriptors/model=.../``, one part per partition (see
            :class:`~humekit.distributed.DistributedResult`).
        client: the ``distributed.Client`` to run on (default: the current one).
        max_in_flight: the most requests to Hume in flight at once across the whole cluster (each holds a
            lease of a ``distributed.Semaphore`` while on the wire, never while a retry waits); default 4,
            what one ``measure`` sends. ``None``: no cluster-wide cap (each worker sends ``concurrency`` at
            once). A ``distributed.Semaphore`` of your own shares one budget between calls.
        api: ``"v1"`` or ``"v0"`` (default: ``HUME_API``, else v1).
        base_url: the API's base URL (default: ``HUME_BASE_URL`` on each worker, else Hume's).
        concurrency: v1 uploads in flight per worker (V1Backend's default, 4, when not given); the cap
            above still bounds their sum.
        backend_factory: instead of ``api``/``base_url``/``concurrency``: a picklable callable
            ``factory(limiter=...)`` run on each worker that returns its backend; it must give ``limiter``
            to its API client (``V1Client(limiter=limiter)``) for ``max_in_flight`` to hold.
        npartitions, partition_rows: how a pandas table is cut (one of them); ``npartitions`` also
            repartitions a Dask table.
        retries: how many times Dask runs a partition again after it raised (a worker's death is retried by
            Dask on its own, up to ``distributed.scheduler.allowed-failures``).
        progress: a progress bar of finished partitions on the client (tqdm; a widget in Jupyter).
        kind, transcription, root, limits, errors, timeout, wait_initial, wait_max: as for
            :func:`humekit.measure`, except ``errors`` defaults to ``"mark"``: invalid rows come out
            ``invalid`` with the reason rather than failing their partition.

    The API key is read on each worker from its own ``HUME_API_KEY`` (environment or ``.env``): it is never
    put in the task graph. A ``LocalCluster`` started from this process inherits this process's.

    Returns:
        A :class:`~humekit.distributed.DistributedResult`: counts, cost totals, one row per partition, and
        the dataset (``.status()``, ``.scores()``, ``humekit.read_dask(result.out)``).

    Raises:
        PartitionFailedError: partitions still failed after ``retries`` (their reasons in ``.failed``; the
            others' results in ``.result``); the same call again resumes them.
    """
    import dask
    from distributed import Semaphore, as_completed, get_client
    from tqdm.auto import tqdm

    if client is None:
        try:
            client = get_client()
        except ValueError:
            raise ConfigurationError("measure_distributed runs on a Dask cluster, and no distributed.Client is "
                                     "running: start one (client = distributed.Client(LocalCluster(...))) or pass "
                                     "client=") from None
    shared = _shared_ledger(ledger)
    frame = _partitioned(table, npartitions=npartitions, partition_rows=partition_rows)
    _check_ids(frame, id_col=id_col, source_col=source_col)
    spec = _backend_spec(client, api=api, base_url=base_url, concurrency=concurrency, factory=backend_factory)
    budget = (None if max_in_flight is None else RequestBudget.shared(max_in_flight)
              if isinstance(max_in_flight, Semaphore) else RequestBudget.for_call(max_in_flight))
    if not isinstance(retries, int) or retries < 0:
        raise ConfigurationError(f"retries={retries!r}: give how many times a failed partition is run again, >= 0")
    options: dict[str, Any] = dict(kind=kind, transcription=transcription, root=root, errors=errors, timeout=timeout,
                                   wait_initial=wait_initial, wait_max=wait_max)
    if limits is not None:
        options["limits"] = limits
    if api is not None or backend_factory is None:
        options["api"] = spec.api if backend_factory is None else api
    folder = Path(out).resolve()
    parts = frame.to_delayed()
    prepare(folder, id_col=id_col, partitions=len(parts))
    job = PartitionJob(id_col=id_col, source_col=source_col, models=models, ledger=shared, out=str(folder),
                       backend=spec, budget=budget, options=options)
    token = secrets.token_hex(4)
    tasks = [dask.delayed(measure_partition, pure=False)(part, i, job, dask_key_name=f"{TASK_PREFIX}-{token}-{i}")
             for i, part in enumerate(parts)]
    semaphore = budget.open(client) if budget is not None and budget.owned else None
    done: list[PartSummary] = []
    failed: dict[int, str] = {}
    futures = client.compute(tasks, retries=retries)
    index = {future.key: i for i, future in enumerate(futures)}
    bar = tqdm(total=len(futures), desc="humekit: partitions", unit="partition", disable=not progress)
    try:
        for future in as_completed(futures):
            if future.status == "error":
                exc = future.exception()
                failed[index[future.key]] = f"{type(exc).__name__}: {exc}"
            else:
                done.append(future.result())
            bar.update(1)
            bar.set_postfix_str(_postfix(done, failed), refresh=False)
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        bar.close()
        if semaphore is not None:
            forget(semaphore)
    finish(folder)
    result = DistributedResult.of(folder, done, id_col=id_col)
    if failed:
        listed = "; ".join(f"partition {i}: {why}" for i, why in sorted(failed.items())[:5])
        raise PartitionFailedError(
            f"{len(failed)} of {len(futures)} partitions failed on the cluster after {retries} retries ({listed}"
            f"{'; ...' if len(failed) > 5 else ''}). The others are written to {folder}, and every answer stored is "
            "in the ledger: fix the cause and run the same call again (nothing answered is sent again).",
            failed=failed, result=result)
    return result


def _postfix(done: list[PartSummary], failed: Mapping[int, str]) -> str:
    """The bar's tail: rows so far by status (and failed partitions)."""
    rows = sum(p.rows for p in done)
    ok = sum(int(p.counts.get("ok", 0)) for p in done)
    return f"{rows} rows, {ok} ok" + (f", {len(failed)} partitions failed" if failed else "")


def _shared_ledger(ledger: Any) -> str:
    """The ledger as the string every worker opens: a URL as given, a path made absolute."""
    if isinstance(ledger, Ledger):
        raise ConfigurationError("ledger=: give the ledger's path or URL (ledger.path), not a Ledger object: each "
                                 "worker opens the shared ledger itself")
    if not isinstance(ledger, (str, os.PathLike)):
        raise ConfigurationError(f"ledger= must be a path or a URL that every worker can open, not "
                                 f"{type(ledger).__name__}")
    text = os.fspath(ledger)
    return text if "://" in text else os.path.abspath(text)


def _partitioned(table: Any, *, npartitions: int | None, partition_rows: int | None) -> Any:
    """``table`` as a Dask DataFrame: a pandas table cut into partitions, a Dask one as it is (or repartitioned)."""
    import dask.dataframe as dd

    if npartitions is not None and partition_rows is not None:
        raise ConfigurationError("give npartitions= or partition_rows=, not both")
    for name, value in (("npartitions", npartitions), ("partition_rows", partition_rows)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigurationError(f"{name}={value!r}: give a whole number >= 1")
    if isinstance(table, dd.DataFrame):
        if partition_rows is not None:
            raise ConfigurationError("partition_rows= cuts a pandas table; a Dask table is measured in its own "
                                     "partitions (or give npartitions= to repartition it)")
        return table if npartitions is None else table.repartition(npartitions=npartitions)
    if not isinstance(table, pd.DataFrame):
        raise ConfigurationError(f"table must be a pandas or Dask DataFrame, not {type(table).__name__}")
    if table.empty:
        raise ConfigurationError("the table has no rows: there is nothing to measure")
    count = npartitions or math.ceil(len(table) / (partition_rows or DEFAULT_PARTITION_ROWS))
    return dd.from_pandas(table, npartitions=min(count, len(table)), sort=False)


def _check_ids(frame: Any, *, id_col: str, source_col: str) -> None:
    """The ID and source columns exist and the IDs are unique across every partition (each partition's
    ``measure`` checks its own rows; only here can two partitions be compared)."""
    import dask

    for role, name in (("id_col", id_col), ("source_col", source_col)):
        if name not in frame.columns:
            raise MissingColumnError(f"{role}={name!r} is not a column of the table; its columns are "
                                     f"{list(map(str, frame.columns))}. Pass {role}= with one of them", column=name)
    counts = frame[id_col].value_counts(split_out=1)  # one output partition: no shuffle
    repeated, nulls = dask.compute(counts[counts > 1].head(5, npartitions=-1), frame[id_col].isna().sum())
    if int(nulls):
        raise DuplicateIdError(f"Column {id_col!r} has {int(nulls)} null ID(s). Every row needs a stable ID to join "
                               "its predictions back: fill them in or drop those rows.", column=id_col)
    if len(repeated):
        shown = ", ".join(f"{value!r} ({n} rows)" for value, n in repeated.items())
        raise DuplicateIdError(f"Column {id_col!r} has IDs on several rows, e.g. {shown}. Every row needs its own ID "
                               "to join its predictions back: make them unique (the rows may be in different "
                               "partitions).", column=id_col)


def _backend_spec(client: Client, *, api: str | None, base_url: str | None, concurrency: int | None,
                  factory: BackendFactory | None) -> BackendSpec:
    """How the workers build their backend; without a factory, every worker must have an API key."""
    if factory is not None:
        if base_url is not None or concurrency is not None:
            raise ConfigurationError("backend_factory= builds the whole backend: leave base_url= and concurrency= "
                                     "out (set them in the factory)")
        if not callable(factory):
            raise ConfigurationError("backend_factory= must be callable as factory(limiter=...) -> Backend")
        return BackendSpec(api="v1" if api is None else _api(api), factory=factory)
    chosen = _api(api)
    if concurrency is not None and (chosen != "v1" or isinstance(concurrency, bool) or not isinstance(concurrency, int)
                                    or concurrency < 1):
        raise ConfigurationError(f"concurrency={concurrency!r}: v1 uploads in flight per worker, a whole number >= 1 "
                                 "(v0's batch jobs have no such option)")
    if missing := missing_keys(client):
        raise ConfigurationError(f"HUME_API_KEY is not set on {len(missing)} worker(s) ({', '.join(missing[:3])}): "
                                 "each worker reads the key from its own environment (or a .env file in its working "
                                 "directory), so that it never travels in the task graph. Set it where the workers "
                                 "start (a LocalCluster inherits this process's environment).")
    return BackendSpec(api="v1" if chosen == "v1" else "v0", base_url=base_url, concurrency=concurrency)


def _api(api: str | None) -> Literal["v0", "v1"]:
    """``api=``, else ``HUME_API`` (this process's), else v1."""
    return "v0" if resolve_api(api) == "v0" else "v1"
