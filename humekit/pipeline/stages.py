"""The stages of one ``measure`` call after validation: cover, resume, plan, execute, collect, join.

What the ledger already holds for each (row, model) is sent again by nobody: the backend resumes
what an earlier run recorded but never confirmed, packs only the missing pairs into units and
executes them, collects the answers of everything sent, and the join reads every row's answer
back from the ledger by ID. Nothing here knows which API it speaks to: that is the backend's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pandas as pd

from humekit.backends.base import COMPLETED, FAILED, Backend, Executed, Run
from humekit.errors import WaitTimeoutError
from humekit.pipeline.cost import planned_cost, spent_cost
from humekit.pipeline.coverage import Coverage, cover
from humekit.pipeline.input_limits import InputLimits
from humekit.pipeline.joining import Joined, join_results
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.reuse import reuse_identical
from humekit.pipeline.planning import Plan, RowInput, Unit, config_key, for_config, row_inputs
from humekit.pipeline.sources import API_MODELS_FOR_KIND, media_category

__all__ = ["Outcome", "backend_identity", "in_flight", "send", "send_and_join", "table_rows"]

Result = TypeVar("Result")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the stages did: the plan, what was sent or reused, and every row's answer, joined."""

    plan: Plan
    executed: Executed
    joined: Joined
    cost: pd.DataFrame
    r"""Per row: the requests and billed seconds (:mod:`humekit.pipeline.cost`): spent, or planned on a dry run."""


def send_and_join(rows: list[RowInput], checked: pd.DataFrame, *, backend: Backend, run: Run, id_col: str,
                  limits: InputLimits, finish: Callable[[Outcome], Result], dry_run: bool = False) -> Result:
    """Send what the ledger lacks for these rows, collect the answers, join them and ``finish`` the outcome: the
    whole table at once, in memory (``measure(out=...)`` runs the same stages a chunk at a time:
    :mod:`humekit.pipeline.streaming`).

    When the wait runs out, the :class:`~humekit.WaitTimeoutError` carries ``finish`` of what did finish
    as its ``result`` (those rows ok, the others pending): nothing that finished is lost.
    """
    store, models = run.ledger, run.models
    identity = backend_identity(backend, run)
    run.progress.stage("submitting")
    if dry_run:
        coverage = cover(rows, store, models=dict(models), **identity)
        return finish(_dry_run(rows, checked, coverage, backend=backend, run=run, id_col=id_col, limits=limits,
                               identity=identity))
    coverage, plan, executed = send(rows, checked, backend=backend, run=run, limits=limits)

    def joined(cost: pd.DataFrame) -> Joined:
        return join_results(checked, id_col=id_col, coverage=coverage, ledger=store, decode=backend.decode,
                            rejected=executed.rejected, unplannable=plan.unplannable, api=backend.api)

    def outcome() -> Outcome:
        cost = spent_cost(checked, id_col=id_col, coverage=coverage, ledger=store, backend=backend)
        return Outcome(plan, executed, joined(cost), cost)

    try:
        backend.collect(coverage.job_keys, run)
    except WaitTimeoutError as exc:
        exc.result = finish(outcome())  # what finished is not lost: its rows are ok
        raise
    run.progress.finish()  # every unit is answered, failed or refused: every row is done
    return finish(outcome())


def table_rows(checked: pd.DataFrame, *, id_col: str, source_col: str, config: str, ledger: Ledger) -> list[RowInput]:
    """The valid rows of a validated table as the plan sees them, each file hashed once: the ledger remembers
    the digests (so a rerun does not read every file again)."""
    files = checked.loc[checked["source_kind"].eq("file") & checked["source_problem"].isna(), "source_path"]
    known = ledger.known_md5s(files)
    rows = row_inputs(checked, id_col=id_col, source_col=source_col, config=config, md5s=known)
    ledger.remember_md5s({r.value: r.md5 for r in rows if r.md5 is not None and r.value not in known})
    return rows


def backend_identity(backend: Backend, run: Run) -> dict[str, Any]:
    """What, besides the models, a unit's answer depends on: the backend, its endpoint and the transcription."""
    return dict(backend=backend.name, endpoint=backend.endpoint, transcription=run.transcription)


def send(rows: list[RowInput], checked: pd.DataFrame, *, backend: Backend, run: Run, limits: InputLimits,
         more: bool = False) -> tuple[Coverage, Plan, Executed]:
    """Resume what an earlier call left in flight for these rows, plan what the ledger lacks and send it; what
    answers each row now, the plan and what was sent. ``more``: these rows are one more chunk of the table
    (the progress display adds them to the chunks before)."""
    store, models = run.ledger, dict(run.models)
    identity = backend_identity(backend, run)
    coverage = cover(rows, store, models=models, **identity)
    executed = backend.resume(coverage.job_keys, coverage.rows, run)
    if executed:
        coverage = cover(rows, store, models=models, **identity)
    plan = _plan_missing(rows, coverage, checked, models, backend=backend, ledger=store, identity=identity,
                         limits=limits, salt=run.salt)
    if plan.reused:  # rows now answered by units already in the ledger
        coverage = cover(rows, store, models=models, **identity)
    _count_rows(run, checked, rows, coverage, plan, more=more)
    # the bytes of files sent whole (a unit that sends a part sends converted bytes, not the file's: not counted)
    uploads = sum(i.size for unit in plan.jobs if unit.kind == "file" and not unit.part for i in unit.inputs)
    with run.progress.uploading(uploads):
        executed.add(backend.execute(plan.jobs, run))
    if plan.jobs:  # new claims (or refusals) change what answers each row
        coverage = cover(rows, store, models=models, **identity)
    return coverage, plan, executed


def _count_rows(run: Run, checked: pd.DataFrame, rows: list[RowInput], coverage: Coverage, plan: Plan, *,
                more: bool = False) -> None:
    """Tell the progress display what it counts: every row of the table. A row no request measures (invalid,
    or that no unit can carry) is done from the start, and so is one whose answers the ledger holds; a row
    the units carry is done when all of them are (the windows of a recording: one row, not one per window)."""
    measured = [row.index for row in rows if row.index not in plan.unplannable]
    planned = {row.index for unit in plan.jobs for row in unit.rows}
    jobs = run.ledger.jobs(coverage.job_keys) if coverage.job_keys else None
    unfinished = set() if jobs is None else set(
        jobs.loc[~jobs["status"].isin([COMPLETED, FAILED]) & ~jobs["state"].isin(["rejected", "abandoned"]), "job_key"])
    waiting = {a.index for a in coverage.assignments if a.job_key in unfinished}
    done = sum(1 for index in measured if index not in planned and index not in waiting)
    run.progress.expect(plan.jobs, skipped=len(checked) - len(measured), total=len(measured), done=done,
                        more=more)


def _dry_run(rows: list[RowInput], checked: pd.DataFrame, coverage: Coverage, *, backend: Backend, run: Run,
             id_col: str, limits: InputLimits, identity: Mapping[str, Any]) -> Outcome:
    """What the call would send, and bill, with nothing sent or recorded: rows the ledger answers come out
    as they are, the others ``pending`` with the requests planned for them."""
    plan = _plan_missing(rows, coverage, checked, dict(run.models), backend=backend, ledger=run.ledger,
                         identity=identity, limits=limits, salt=run.salt, record=False)
    joined = join_results(checked, id_col=id_col, coverage=coverage, ledger=run.ledger, decode=backend.decode,
                          unplannable=plan.unplannable, api=backend.api)
    planned = {row.index for unit in plan.jobs for row in unit.rows}
    error = joined.status["error"].astype(object).to_numpy().copy()
    for position in planned:
        error[position] = "dry run: nothing was sent (run measure without dry_run=True to send it)"
    for position in plan.reused:
        error[position] = ("dry run: nothing was sent; an identical input the ledger already has a request for "
                           "will answer it (nothing is billed for it)")
    joined = replace(joined, status=joined.status.assign(error=error))
    cost = planned_cost(checked, id_col=id_col, units=plan.jobs, backend=backend,
                        requests=[backend.request(unit) for unit in plan.jobs])
    _count_rows(run, checked, rows, coverage, plan)  # the rows with nothing to send are done; the rest stay to do
    run.progress.stage("dry run: nothing sent")
    return Outcome(plan, Executed(), joined, cost)


def in_flight(rows: list[RowInput], *, backend: Backend, run: Run) -> list[str]:
    """What is still running or being sent for these rows (for the message after a Ctrl-C)."""
    identity = backend_identity(backend, run)
    return backend.in_flight(cover(rows, run.ledger, models=dict(run.models), **identity).job_keys, run.ledger)


def _plan_missing(rows: list[RowInput], coverage: Coverage, checked: pd.DataFrame, models: dict[str, Any], *,
                  backend: Backend, ledger: Ledger, identity: Mapping[str, Any], limits: InputLimits, salt: str,
                  record: bool = True) -> Plan:
    """Units for the (row, model) pairs the ledger does not hold: rows missing the same models go
    together, with only those models (a row missing every model is planned exactly as before
    planning was per model, so ledgers written then are still recognised). A row whose input a live unit
    already sends with the same request is answered by it instead (:mod:`humekit.pipeline.reuse`; recorded
    unless ``record`` is false, as on a dry run; never while retrying)."""
    useful = _useful_models(checked, API_MODELS_FOR_KIND[backend.api])
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
    units: list[Unit] = []
    unplannable: dict[Any, str] = {}
    reused: dict[Any, str] = {}
    for names, members in groups.items():
        wanted = {name: models[name] for name in names}
        group_config = config_key(models=wanted, **identity)
        fingerprinted = [for_config(row, group_config) for row in members]
        if not salt:
            found = reuse_identical(fingerprinted, ledger=ledger, models=wanted, record=record, **identity)
            reused.update(found)
            fingerprinted = [row for row in fingerprinted if row.index not in found]
        if not fingerprinted:
            continue
        plan = backend.pack(fingerprinted, config=group_config, models=names, salt=salt, limits=limits)
        units += plan.jobs
        unplannable.update(plan.unplannable)
    full = config_key(models=models, **identity)
    return Plan(jobs=units, unplannable=unplannable, config_key=f"{full}{salt}", reused=reused)


def _useful_models(checked: pd.DataFrame, models_for_kind: Mapping[str, frozenset[str]]) -> dict[int, set[str]]:
    """Row position -> the models that can say something about its source (where the media type is known)."""
    useful = {}
    for position, (kind, media_type) in enumerate(zip(checked["source_kind"], checked["source_media_type"],
                                                          strict=True)):
        category = media_category(kind, media_type)
        if category is not None:
            useful[position] = set(models_for_kind[category])
    return useful
