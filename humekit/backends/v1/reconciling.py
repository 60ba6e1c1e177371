"""Which of v1's runs a lost send became: the only trace of a request whose answer never arrived.

v1 keeps no measurements, so a request whose answer a crash or a dropped connection lost is sent again,
and the lost one may have been measured and billed all the same. v1 records a *run* for every measured
request (``GET /v1/expression/run``: metadata and metered seconds, never scores). After a call, the lost
sends of every unit that now holds an answer are looked up there: a run of the same endpoint, started
while that send was out, billed the seconds the request is billed, and (when the run reports it) having
received the bytes the send carried, and not already known as another request's run. A run found is
recorded with the send (:meth:`Ledger.record_lost_send`), so ``result.cost`` can show that the lost answer
was billed; no run found is recorded too, so nothing is looked up twice.

Choices (the contract leaves them open; documented in the README's v1 section):

- ``bytes_received`` is taken as the media bytes (what the emulator reports); a value up to
  :data:`BODY_MARGIN_BYTES` larger also matches, in case Hume counts the whole multipart body.
- The clocks of humekit and Hume may differ by up to :data:`CLOCK_SKEW_S`.
- Run recording is best effort at Hume: a lost send with no run found is still counted as billed by
  ``result.cost`` (it never hides a possible charge); it is only not *confirmed*.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from humekit.backends.v1.client import V1Client
from humekit.errors import HumekitError
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.ledger.sends import LostSend

__all__ = ["BODY_MARGIN_BYTES", "CLOCK_SKEW_S", "reconcile_lost_sends"]

logger = logging.getLogger("humekit")

#: How far humekit's clock and Hume's may disagree, in seconds.
CLOCK_SKEW_S = 120.0
#: How many bytes more than the media a run may report having received (a multipart body's envelope).
BODY_MARGIN_BYTES = 64 * 1024
#: The most runs read (pages of :data:`_PAGE_SIZE`) for one reconciliation; beyond, the rest stay unconfirmed.
MAX_RUNS_READ = 5_000
_PAGE_SIZE = 50  # the SDK's default page (v1's maximum is unconfirmed)
_SECONDS_TOLERANCE = 0.05  # metered seconds are the decoded audio's: a window's last samples may differ


def reconcile_lost_sends(unit_keys: Sequence[str], *, ledger: Ledger, client: V1Client,
                         billed_seconds: Callable[[Mapping[str, Any]], float | None], now: float) -> int:
    """Look up the lost sends of these units (not looked up before) in v1's runs and record what was found.

    Returns how many were found among the runs. A runs endpoint that cannot be read is logged and leaves
    the sends to be looked up by the next call; the measuring itself never fails for it.
    """
    lost = [send for send in ledger.lost_sends(unit_keys) if not send.checked and send.sent_ms is not None]
    if not lost:
        return 0
    requests = ledger.requests({send.job_key for send in lost})
    since = min(send.sent_ms for send in lost if send.sent_ms is not None) / 1000 - CLOCK_SKEW_S
    try:
        runs = list(_runs_since(client, since))
    except HumekitError as exc:
        logger.warning("humekit could not read v1's runs to confirm %d lost answer(s) (%s); they are counted as "
                       "billed, and the next call looks again", len(lost), exc)
        return 0
    known = ledger.known_run_ids(str(run.get("run_id")) for run in runs)
    free = [run for run in runs if run.get("run_id") not in known and float(run.get("metered_seconds") or 0) > 0]
    found = 0
    for send in sorted(lost, key=lambda s: (s.sent_ms or 0, s.job_key, s.seq)):
        request = requests.get(send.job_key, {})
        match = _match(send, request, free, billed=billed_seconds(request), now=now)
        ledger.record_lost_send(send.job_key, send.seq, run_id=None if match is None else str(match["run_id"]))
        if match is not None:
            free.remove(match)
            found += 1
    return found


def _runs_since(client: V1Client, since: float) -> Iterator[dict[str, Any]]:
    """v1's file runs started since ``since`` (epoch seconds), newest first, every page."""
    cursor: str | None = None
    read = 0
    while read < MAX_RUNS_READ:
        page = client.list_runs(mode="file", started_after=_rfc3339(since), page_size=_PAGE_SIZE, cursor=cursor)
        runs = page.get("runs") or []
        read += len(runs)
        yield from (run for run in runs if isinstance(run, dict))
        cursor = page.get("next_cursor")
        if not cursor or not runs:
            return


def _match(send: LostSend, request: Mapping[str, Any], runs: Sequence[dict[str, Any]], *, billed: float | None,
           now: float) -> dict[str, Any] | None:
    """The run this send most likely became (the one started nearest its sending), or ``None``."""
    if send.sent_ms is None or billed is None:
        return None
    endpoint = "audio" if "window" in request else "video"
    start = send.sent_ms / 1000 - CLOCK_SKEW_S
    end = (send.until_ms / 1000 if send.until_ms is not None else now) + CLOCK_SKEW_S
    candidates = [
        run for run in runs
        if run.get("endpoint") == endpoint
        and start <= _epoch(run.get("started_at")) <= end
        and abs(float(run.get("metered_seconds") or 0) - billed) <= _SECONDS_TOLERANCE
        and _same_bytes(run.get("bytes_received"), send.size)
    ]  # fmt: skip
    # The closest byte count first (sends of similar sizes fit each other's runs within the margin), then the
    # run started nearest the sending.
    sent_at = send.sent_ms / 1000
    return min(candidates, key=lambda run: (_bytes_over(run.get("bytes_received"), send.size),
                                            abs(_epoch(run.get("started_at")) - sent_at)), default=None)


def _bytes_over(received: object, sent: int | None) -> float:
    """How many bytes more than the send carried a run reports (0 when either side is unknown)."""
    if received is None or sent is None or not isinstance(received, int | float):
        return 0.0
    return float(received) - sent


def _same_bytes(received: object, sent: int | None) -> bool:
    """Whether a run's ``bytes_received`` fits a send of ``sent`` media bytes (unknown on either side: yes)."""
    if received is None or sent is None or not isinstance(received, int | float):
        return True
    return sent <= received <= sent + BODY_MARGIN_BYTES


def _rfc3339(epoch: float) -> str:
    """Whole seconds (rounded down), as the SDK writes times: ``2026-12-01T10:00:00Z``."""
    return datetime.fromtimestamp(max(int(epoch), 0), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(value: object) -> float:
    """An RFC 3339 time as epoch seconds (``nan`` when it is not one, so it matches no window)."""
    if not isinstance(value, str):
        return float("nan")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("nan")
