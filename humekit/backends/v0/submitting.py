"""Submit planned jobs through the ledger, so that no job is lost and none is paid for twice.

For each job: claim it in the ledger with its input→row mapping, POST it, commit the returned id.
A claim found from an earlier run is reused; one left ``submitting`` by a crash (or a lost
response) is reconciled against the API's job list before anything is resent, looking twice,
``backend.settle`` seconds apart, in case the server was still creating the job. A job refused
for a limit is recorded as rejected, and its payload (:func:`~humekit.pipeline.ledger.payload_key`: the
contents and the configuration, whatever the job key) is never sent again, by this run, a rerun,
``retry_failed`` or a resume; a refused job is split in halves down to single inputs, which are
then reported with the API's reason and what to do.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Mapping
from typing import Any

from humekit._internal.backoff import exponential
from humekit.backends.v0.jobs import JobsAPI
from humekit.errors import APIConnectionError, APIStatusError, LimitExceededError, ServerError
from humekit.pipeline.ledger import Claim, Ledger, owner_token, payload_key
from humekit.backends.base import Executed
from humekit.pipeline.planning import Unit

__all__ = ["SubmitReport", "submit_jobs"]

logger = logging.getLogger("humekit.backends.v0.submitting")

_AMBIGUOUS = (APIConnectionError, ServerError)
_MAYBE_CREATED = (408, 409)  # statuses after which the job might exist; other 4xx mean it was refused
_POST_ATTEMPTS = 4
_PEER_WAIT = 120.0  # seconds to wait for another live process to finish submitting a job we share


#: What submitting did: the seam's report (kept under this name for this release).
SubmitReport = Executed


def submit_jobs(
    jobs: list[Unit],
    backend: JobsAPI,
    ledger: Ledger,
    *,
    config: str,
    models: Mapping[str, Any],
    transcription: Any,
    callback_url: str | None,
) -> SubmitReport:
    """Submit every job (splitting rejected ones); every job id is in the ledger before this returns."""
    report = SubmitReport()
    queue = deque(jobs)
    while queue:
        job = queue.popleft()
        outcome = _settle(job, backend, ledger, models=models, transcription=transcription,
                          callback_url=callback_url, report=report)
        if outcome is None:
            continue
        if len(job.inputs) > 1:
            logger.info("job of %d inputs refused for a limit; splitting it", len(job.inputs))
            queue.extendleft(reversed(job.halves(config)))
        else:
            for row in job.rows:
                report.rejected[row.index] = f"{outcome} ({_REFUSAL_HINTS[job.kind]})"
    return report


#: What to do about an input the API refused even alone (humekit never sends that payload again).
_REFUSAL_HINTS = {
    "file": "the server refused this file even alone, so humekit will not send it again with these models; "
            "re-encode it smaller or shorter (a changed file is sent as new), and raise humekit.Limits only if "
            "Hume's limits have changed",
    "url": "the server refused this URL even alone, so humekit will not send it again with these models; host a "
           "smaller or shorter file at a new URL",
    "text": "the server refused this text even alone, so humekit will not send it again with these models; split "
            "it into shorter texts",
}


def _settle(job: Unit, backend: JobsAPI, ledger: Ledger, *, report: SubmitReport,
            **options: Any) -> str | None:
    """Claim the job and make sure it exists at the API; return the rejection message if it was refused."""
    # what was asked, for the record (the callback URL is left out: its token is a credential)
    request = {**job.describe(), "endpoint": backend.endpoint, "models": options["models"],
               "transcription": options["transcription"]}
    payload = payload_key(request)
    refused = ledger.refusal(payload)
    if refused is not None:  # refused before, under this or another job key (a retry's): never sent again
        return refused
    claim = ledger.claim(job.key, backend=backend.name, kind=job.kind, request=request, inputs=job.ledger_inputs())
    if claim.state == "rejected":
        return _rejection_message(ledger, job.key)
    if claim.job_id is not None:
        report.reused.append(claim.job_id)
        return None
    if not claim.ours:
        claim = _wait_for_peer(claim, ledger, backend)
        if claim.job_id is not None:
            report.reused.append(claim.job_id)
            return None
        if claim.state == "rejected":
            return _rejection_message(ledger, job.key)
        if not ledger.take_over(job.key, expected_owner=claim.owner):
            # another process took it over, or released it after a refusal: claim again and look
            return _settle(job, backend, ledger, report=report, **options)
        found = _find(job, claim, backend)
        if found is not None:
            logger.info("recovered job %s created before an interruption", found)
            ledger.record_submitted(job.key, found)
            report.reused.append(found)
            return None
    return _post(job, claim, backend, ledger, payload=payload, report=report, **options)


def _post(job: Unit, claim: Claim, backend: JobsAPI, ledger: Ledger, *, payload: str, report: SubmitReport,
          models: Mapping[str, Any], transcription: Any, callback_url: str | None) -> str | None:
    for attempt in range(1, _POST_ATTEMPTS + 1):
        try:
            job_id = backend.submit(job, models=models, transcription=transcription, callback_url=callback_url)
        except LimitExceededError as exc:
            ledger.record_rejected(job.key, str(exc), payload=payload)
            return str(exc)
        except _AMBIGUOUS as exc:
            # The job may or may not exist: look before posting again.
            found = _find(job, claim, backend)
            if found is not None:
                ledger.record_submitted(job.key, found)
                report.reused.append(found)
                return None
            if attempt == _POST_ATTEMPTS:
                raise
            logger.info("submitting failed (%s) and no job was created; posting again", exc)
            pause = exponential(attempt, initial=1.0, maximum=30.0)
            backend.clock.sleep(max(0.0, pause - backend.settle))  # _find waited settle
            continue
        except APIStatusError as exc:
            if exc.status_code not in _MAYBE_CREATED:
                ledger.release(job.key)  # refused outright (bad options, auth, 429...): nothing was created
            raise
        ledger.record_submitted(job.key, job_id)
        report.submitted.append(job_id)
        return None
    raise AssertionError("unreachable")  # pragma: no cover


def _find(job: Unit, claim: Claim, backend: JobsAPI) -> str | None:
    """The id of this job if the API has it: looked for at once and, if absent, again after
    ``backend.settle`` seconds, in case the server was still creating it when its answer was lost."""
    found = backend.find(job, since_ms=claim.claimed_ms)
    if found is None and backend.settle > 0:
        logger.info("job not in the list yet; looking again in %g s before posting", backend.settle)
        backend.clock.sleep(backend.settle)
        found = backend.find(job, since_ms=claim.claimed_ms)
    return found


def _rejection_message(ledger: Ledger, job_key: str) -> str:
    jobs = ledger.jobs([job_key])
    message = jobs["message"].iloc[0] if len(jobs) else None
    return str(message or "the API refused this input for a limit")


def _wait_for_peer(claim: Claim, ledger: Ledger, backend: JobsAPI) -> Claim:
    """If another live process on this host holds the claim, give it time to record the job id."""
    waited = 0.0
    current = claim
    while _alive(current.owner) and current.job_id is None and current.state == "submitting" and waited < _PEER_WAIT:
        backend.clock.sleep(1.0)
        waited += 1.0
        state = ledger.state(claim.job_key)
        if state is None:  # released: its POST was refused and nothing was created
            return claim
        current = state
    return current


def _alive(owner: str | None) -> bool:
    if owner is None or owner == owner_token():
        return False  # our own stale claim (an earlier call in this process that crashed) is not a peer
    host, _, pid = owner.rpartition(":")
    if host != owner_token().rpartition(":")[0]:
        return False  # another machine's claim: we cannot tell, so reconcile against the API
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True
