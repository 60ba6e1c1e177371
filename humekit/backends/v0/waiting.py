"""Wait for jobs: per-job exponential backoff with jitter, one progress bar, resumable timeouts.

Each job is first polled ``wait_initial`` seconds (never less than 1 s) after waiting starts,
then after waits that double up to ``wait_max``, each with ±``wait_jitter`` relative jitter (never
past ``wait_max``).
When several jobs are due together they are polled with one list request. QUEUED and
IN_PROGRESS are normal; transient API errors only lengthen the wait (a ``Retry-After`` too long
for the client to wait out is still respected before the next poll). If ``timeout`` runs out,
:class:`~humekit.WaitTimeoutError` lists the pending jobs: they keep running, and calling
:func:`humekit.measure` again with the same ledger resumes waiting for them.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence

from humekit._internal.backoff import Backoff
from humekit.backends.v0.jobs import JobsAPI
from humekit.errors import APIConnectionError, RateLimitError, ServerError, WaitTimeoutError
from humekit.backends.v0.jobs import JobDetails
from humekit.pipeline.progress import Progress

__all__ = ["Backoff", "wait_for_jobs"]

logger = logging.getLogger("humekit.backends.v0.waiting")


def wait_for_jobs(
    backend: JobsAPI,
    job_ids: Sequence[str],
    *,
    since_ms: int,
    timeout: float | None = 3600.0,
    backoff: Backoff = Backoff(),
    rows: Mapping[str, int] | None = None,
    progress: bool | Progress = True,
    settled: Callable[[list[str]], Mapping[str, JobDetails]] | None = None,
    on_update: Callable[[JobDetails], None] = lambda details: None,
    seed: int | None = None,
) -> dict[str, JobDetails]:
    """Wait until every job is COMPLETED or FAILED.

    Args:
        backend: the API.
        job_ids: the jobs to wait for.
        since_ms: the earliest creation time of these jobs (bounds list requests).
        timeout: seconds before giving up with :class:`~humekit.WaitTimeoutError` (``None``: no limit).
        backoff: the polling schedule.
        rows: rows per job, for the progress bar.
        progress: show a progress display (rows done, jobs by state, elapsed time that ticks), or
            report to this :class:`~humekit.pipeline.progress.Progress` (``measure`` passes its own).
        settled: given the pending job ids, returns those known to be finished by other means
            (webhook callbacks); they are not polled.
        on_update: called with every status read (the pipeline records them in the ledger).
        seed: seed for the jitter (reproducible schedules in tests).

    Returns:
        Each job's terminal details.
    """
    clock = backend.clock
    rng = random.Random(seed)
    start = clock.time()
    pending = list(dict.fromkeys(job_ids))
    attempts = dict.fromkeys(pending, 0)
    due = {job_id: start + backoff.delay(0, rng) for job_id in pending}
    done: dict[str, JobDetails] = {}
    rows = rows or {}
    own = not isinstance(progress, Progress)
    display = progress if isinstance(progress, Progress) else \
        Progress(sum(rows.get(job_id, 0) for job_id in pending), enabled=bool(progress), clock=clock)
    display.stage("waiting")
    display.jobs({job_id: "QUEUED" for job_id in pending if job_id not in display.states})

    def update(details: JobDetails) -> None:
        display.jobs({details.job_id: details.status})
        on_update(details)

    try:
        while pending:
            finished = _settled(settled, pending)
            now = clock.time()
            polled: list[str] = []
            retry_after: float | None = None
            if not finished:
                polled = [job_id for job_id in pending if due[job_id] <= now]
                if polled and len(pending) >= getattr(backend, "list_threshold", 3):
                    polled = list(pending)  # one list request answers for all of them: advance them together
                if polled:
                    finished, retry_after = _poll(backend, polled, since_ms, update)
            for job_id, details in finished.items():
                if job_id in due:
                    done[job_id] = details
                    pending.remove(job_id)
                    del due[job_id]
                    display.jobs({job_id: details.status})
                    display.add_rows(rows.get(job_id, 0))
            for job_id in polled:
                if job_id in due:
                    attempts[job_id] += 1
                    due[job_id] = clock.time() + backoff.delay(attempts[job_id], rng)
                    if retry_after is not None:  # the API asked for a pause longer than the client waits
                        due[job_id] = max(due[job_id], clock.time() + retry_after)
            if not pending:
                break
            now = clock.time()
            if timeout is not None and now - start >= timeout:
                raise WaitTimeoutError(
                    f"{len(pending)} job(s) still queued or running after {timeout:g} s: {', '.join(pending[:5])}"
                    f"{' …' if len(pending) > 5 else ''}. They keep running at the API; call humekit.measure(...) "
                    "again with the same ledger to resume waiting (nothing is resubmitted).",
                    pending=pending,
                )
            next_due = min(due.values())
            if timeout is not None:
                next_due = min(next_due, start + timeout)
            # With callbacks coming in, wake at least every second to notice them.
            pause = next_due - now if settled is None else min(next_due - now, 1.0)
            clock.sleep(max(pause, 0.05))
    finally:
        if own:
            display.close()
    return done


def _settled(settled: Callable[[list[str]], Mapping[str, JobDetails]] | None,
             pending: list[str]) -> dict[str, JobDetails]:
    if settled is None:
        return {}
    known = settled(list(pending))
    return {job_id: known[job_id] for job_id in pending if job_id in known}


def _poll(
    backend: JobsAPI,
    polled: list[str],
    since_ms: int,
    on_update: Callable[[JobDetails], None],
) -> tuple[dict[str, JobDetails], float | None]:
    """The jobs found terminal, and the ``Retry-After`` (seconds) of a rate limit the client gave up on."""
    try:
        statuses = backend.poll(polled, since_ms=since_ms)
    except (APIConnectionError, ServerError, RateLimitError) as exc:
        logger.info("polling failed (%s); backing off and trying again", exc)
        return {}, getattr(exc, "retry_after", None)
    for details in statuses.values():
        on_update(details)
    return {job_id: d for job_id, d in statuses.items() if d.terminal}, None
