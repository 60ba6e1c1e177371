"""Pack rows into v0 jobs: identical inputs once, each kind cut into jobs under the per-job limits, in table order.

Files go as multipart uploads, URLs and texts as JSON, so a job holds inputs of one kind; each kind is
cut into jobs of at most ``max_{files,urls,texts}_per_job`` inputs and, when ``max_request_bytes`` is set,
at most that many bytes. The same rows and configuration always give the same jobs (and job keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from humekit.backends.v0.limits import DEFAULT_LIMITS, Limits
from humekit.pipeline.planning import KINDS, Plan, PlannedInput, RowInput, Unit, distinct_inputs, unit

__all__ = ["plan_jobs"]


def plan_jobs(rows: Sequence[RowInput], *, config: str, limits: Limits = DEFAULT_LIMITS, salt: str = "",
              models: Sequence[str] = ()) -> Plan:
    """Cut rows into jobs under every per-job limit, in table order, identical inputs sent once.

    Args:
        rows: from :func:`~humekit.pipeline.planning.row_inputs` (already-submitted rows left out).
        config: the configuration hash (see :func:`~humekit.pipeline.planning.config_key`).
        limits: per-job limits, plus ``max_request_bytes`` as a cap on one job's payload.
        salt: makes job keys new (used when retrying failed rows, so their old jobs are not reused).
        models: the models the jobs ask for (recorded in each unit).
    """
    config = f"{config}{salt}"
    unplannable: dict[Any, str] = {}
    cap = limits.max_request_bytes
    sendable = []
    for row in rows:
        if cap is not None and row.size > cap:
            unplannable[row.index] = (f"its {row.kind} is {row.size:,} bytes, more than max_request_bytes={cap:,} "
                                      "allows in one job; raise the cap or split the input")
            continue
        sendable.append(row)
    groups = distinct_inputs(sendable)
    jobs = [replace(job, models=tuple(models)) for kind in KINDS for job in _chunk(kind, groups[kind], limits, config)]
    return Plan(jobs=jobs, unplannable=unplannable, config_key=config)


def _chunk(kind: str, inputs: Sequence[PlannedInput], limits: Limits, config: str) -> list[Unit]:
    cap_count = {"file": limits.max_files_per_job, "url": limits.max_urls_per_job, "text": limits.max_texts_per_job}[kind]
    cap_bytes = limits.max_request_bytes
    jobs: list[Unit] = []
    current: list[PlannedInput] = []
    current_bytes = 0
    for item in inputs:
        if current and (len(current) >= cap_count or (cap_bytes is not None and current_bytes + item.size > cap_bytes)):
            jobs.append(unit(kind, current, config))
            current, current_bytes = [], 0
        current.append(item)
        current_bytes += item.size
    if current:
        jobs.append(unit(kind, current, config))
    return jobs
