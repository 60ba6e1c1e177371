"""A base for synchronous APIs: one request per unit, the answer in the response, nothing kept on the server.

A subclass says how a unit is sent (:meth:`SyncBackend.send`) and how an answer is read
(:meth:`SyncBackend.decode`); this class keeps the seam's guarantees (:mod:`humekit.backends.base`)
around it, with at most ``concurrency`` requests in flight:

- every unit is claimed in the ledger, with its request and input→row mapping, before it is sent;
- an answer is stored (:meth:`Ledger.record_answer`) by the thread that received it, the moment it
  arrives, before anything is reported; a unit the ledger holds an answer for is never sent again;
- a unit whose payload is refused as it is (:class:`~humekit.errors.PayloadRefusedError`: too large, an
  unsupported or undecodable format) is recorded with its payload and never sent again (it is split in
  halves down to single inputs); any other refusal fails the unit with the API's message
  (``retry_failed`` may send it again);
- a connection lost or a 5xx is retried with backoff; if it keeps failing, or the key is refused, or a
  rate limit lasts longer than the client waits, the error is raised and the unit stays claimed, so the
  same call resumes it;
- units of one *lane* (:meth:`SyncBackend.lane`: e.g. the frame batches of one video) are sent one after
  another, in the order given, each only once the one before it is stored; :meth:`SyncBackend.context`
  then reads what the next one needs from the ledger (e.g. the ``face_state`` of the previous answer).
  Different lanes, and units with no lane, go in parallel.

Nothing is kept server-side, so a unit a crash interrupted between sending and storing its answer
cannot be looked up: :meth:`resume` sends it again (at most ``concurrency`` units are at risk at once).
A unit claimed by another process is sent only once that process is gone (:func:`~humekit.pipeline.ledger.records.owner_gone`: exited,
on this machine, or silent for half an hour, on any): two processes measuring one table at once never
both send a unit, and each send is recorded only while its process still holds the claim.
"""

from __future__ import annotations

import abc
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from humekit._internal.backoff import exponential
from humekit.backends.base import Decoded, Executed, Run
from humekit.clock import Clock, SystemClock
from humekit.errors import (APIConnectionError, APIStatusError, AuthenticationError, ConfigurationError,
                            PayloadRefusedError, RateLimitError, ServerError)
from humekit.pipeline.input_limits import InputLimits
from humekit.pipeline.ledger import Ledger, owner_token, payload_key
from humekit.pipeline.planning import KINDS, Plan, RowInput, Unit, distinct_inputs, rebuild_job, unit

__all__ = ["SyncBackend"]


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A unit recorded in the ledger and ours to send, with what it asks for and its payload key."""

    unit: Unit
    models: Mapping[str, Any]
    payload: str

_TRANSIENT = (APIConnectionError, ServerError)
#: Errors that stop the whole call (the unit stays claimed and is resumed by the same call later): the API
#: failing on its side after retries, a key it refuses, a rate limit longer than the client waits out.
_STOP = (ServerError, AuthenticationError, RateLimitError)


class SyncBackend(abc.ABC):
    """The seam for a synchronous API (subclass it: :meth:`send` and :meth:`decode`).

    Args:
        endpoint: where requests go (part of every unit's identity in the ledger).
        concurrency: requests in flight at once.
        attempts: tries of one request through lost connections and 5xx answers.
        clock: time for the ledger, the progress display and the backoff between tries.
    """

    name: str = "sync"
    api: str = "v0"
    r"""Whose model names the API takes (override: ``"v1"``)."""

    def __init__(self, endpoint: str, *, concurrency: int = 4, attempts: int = 4, clock: Clock | None = None):
        if concurrency < 1 or attempts < 1:
            raise ConfigurationError(f"concurrency={concurrency} and attempts={attempts} must both be at least 1")
        self.endpoint = endpoint
        self.concurrency = concurrency
        self.attempts = attempts
        self.clock: Clock = clock or SystemClock()
        self._sending = threading.local()  # the unit and ledger of the request this thread is sending

    # -- what a subclass provides -----------------------------------------------------------------
    @abc.abstractmethod
    def send(self, unit: Unit, *, models: Mapping[str, Any], transcription: Any) -> bytes:
        """Send one unit and return the API's answer as it came. Raise :class:`~humekit.PayloadRefusedError`
        when the API refuses the payload as it is (a limit, a format), another :class:`~humekit.APIStatusError` for other refusals."""

    @abc.abstractmethod
    def decode(self, kind: str, answer: bytes, *, request: Mapping[str, Any]) -> Decoded:
        """A stored answer as tables keyed by input (``request``: what :meth:`request` recorded for its unit)."""

    def lane(self, unit: Unit) -> str | None:
        """The sequence a unit belongs to (``None``: none): units of one lane are sent in order, one at a time."""
        return None

    def context(self, unit: Unit, run: Run) -> dict[str, Any]:
        """Extra keyword arguments for :meth:`send`, read just before the unit is sent, once every unit
        before it in its lane is stored (e.g. a state the previous answer carries: read it from ``run.ledger``)."""
        return {}

    def resent(self) -> None:
        """Count one more attempt of the unit this thread is sending: call it when a retry sends again a
        request the API may have measured and billed (its answer was lost), so the cost shows it."""
        unit_key, ledger = getattr(self._sending, "unit", None), getattr(self._sending, "ledger", None)
        if unit_key is not None and ledger is not None:
            self._sending.seq = ledger.record_send(unit_key)

    def sending_bytes(self, size: int) -> None:
        """Record the media bytes of the request this thread is about to send (call it from :meth:`send`
        once the body is built): :meth:`reconcile` uses it to recognise the send among the API's runs."""
        unit_key, ledger = getattr(self._sending, "unit", None), getattr(self._sending, "ledger", None)
        seq = getattr(self._sending, "seq", None)
        if unit_key is not None and ledger is not None and seq is not None:
            ledger.record_send_bytes(unit_key, seq, size)

    def remote_id(self, answer: bytes) -> str | None:
        """The API's id for an answered request, if its answer names one (shown as the row's ``job_id``)."""
        return None

    def reconcile(self, unit_keys: Sequence[str], run: Run) -> None:
        """After sending: look up what became of the sends of these units whose answer was lost (they were
        sent again), e.g. in the API's record of billed requests (:meth:`Ledger.record_lost_send`). Nothing
        by default: without such a record each lost send is counted as billed."""
        return None

    def request(self, unit: Unit) -> dict[str, Any]:
        """What the ledger records about a unit's request (no file bytes): its inputs and, for a unit that
        sends part of its input, that ``part`` (override to add what :meth:`decode` will need)."""
        return {**unit.describe(), **({"part": unit.part} if unit.part else {})}

    def pack(self, rows: Sequence[RowInput], *, config: str, models: Sequence[str], salt: str,
             limits: InputLimits) -> Plan:
        """One unit per distinct input (override to pack otherwise, e.g. windows of one recording)."""
        groups = distinct_inputs(rows)
        units = [unit(kind, [item], f"{config}{salt}") for kind in KINDS for item in groups[kind]]
        return Plan(jobs=[_with_models(u, models) for u in units], unplannable={}, config_key=f"{config}{salt}")

    # -- the seam ---------------------------------------------------------------------------------
    def check(self, run: Run) -> None:
        """A synchronous API has no callbacks."""
        if run.callback is not None:
            raise ConfigurationError(f"callback=: {self.name} answers every request at once, so there is nothing "
                                     "to call back; leave callback= out")

    def execute(self, units: Sequence[Unit], run: Run) -> Executed:
        """Claim, send and store every unit, ``concurrency`` at a time."""
        return self._send_all(units, run)

    def resume(self, unit_keys: Sequence[str], rows: Mapping[str, RowInput], run: Run) -> Executed:
        """Send again the units an earlier run claimed but holds no answer for (a crash in between)."""
        if not unit_keys:
            return Executed()
        store = run.ledger
        jobs = store.jobs(unit_keys)
        stale = jobs[jobs["state"] == "submitting"]
        if stale.empty:
            return Executed()
        recorded = store.inputs(stale["job_key"])
        recorded = recorded[recorded["superseded"] == 0]
        requests = store.requests(stale["job_key"])
        units = []
        for job_key, kind in zip(stale["job_key"], stale["kind"], strict=True):
            rebuilt = rebuild_job(job_key, kind, recorded[recorded["job_key"] == job_key], rows,
                                  models=list(requests[job_key]["models"]), part=requests[job_key].get("part", ""))
            if rebuilt is None:
                store.record_abandoned(job_key, "its rows are no longer in the table")
            else:
                units.append(rebuilt)
        return self._send_all(units, run)

    def collect(self, unit_keys: Sequence[str], run: Run) -> None:
        """Nothing to wait for: every answer was stored when it arrived."""
        run.progress.stage("done")

    def billed_seconds(self, request: Mapping[str, Any]) -> float | None:
        """What the API bills for one request: unknown (``None``) unless a subclass knows its pricing."""
        return None

    def in_flight(self, unit_keys: Sequence[str], ledger: Ledger) -> list[str]:
        """Units claimed and not answered (a request was being sent)."""
        jobs = ledger.jobs(unit_keys)
        return [f"(request {key[:8]})" for key in jobs.loc[jobs["state"] == "submitting", "job_key"]]

    # -- sending ------------------------------------------------------------------------------------
    def _send_all(self, units: Sequence[Unit], run: Run) -> Executed:
        """Claim every unit first (so a crash leaves the rest recorded, to be resumed), then send the
        claimed ones ``concurrency`` at a time; the halves of a refused unit are claimed and sent in turn."""
        report = Executed()
        lock = threading.Lock()
        queue = deque(claimed for item in units if (claimed := self._claim(item, run, report, lock)))
        sent = [claimed.unit.key for claimed in queue]
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"humekit-{self.name}") as pool:
            running: dict[Future[list[Unit]], str | None] = {}
            while queue or running:
                while len(running) < self.concurrency and (ready := self._next_ready(queue, set(running.values()))):
                    running[pool.submit(self._send_claimed, ready, run, report, lock)] = self.lane(ready.unit)
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:  # a refused unit's halves; an error is raised here, after the others finish
                    del running[future]
                    halves = [c for half in future.result() if (c := self._claim(half, run, report, lock))]
                    queue.extendleft(reversed(halves))
                    sent += [claimed.unit.key for claimed in halves]
        self.reconcile(sent, run)
        return report

    def _next_ready(self, queue: deque[_Claimed], busy: set[str | None]) -> _Claimed | None:
        """Take the first queued unit whose lane has nothing in flight (so a lane's units go in queue order)."""
        for position, claimed in enumerate(queue):
            lane = self.lane(claimed.unit)
            if lane is None or lane not in busy:
                del queue[position]
                return claimed
        return None

    def _claim(self, item: Unit, run: Run, report: Executed, lock: threading.Lock) -> _Claimed | None:
        """Record the unit before anything is sent; ``None`` when there is nothing to send (answered before,
        another process has it, or its payload was refused before: then its rows are reported)."""
        store = run.ledger
        models = {name: run.models[name] for name in item.models}
        request = {**self.request(item), "endpoint": self.endpoint, "models": models,
                   "transcription": run.transcription}
        payload = payload_key(request)
        refused = store.refusal(payload)
        if refused is None:
            claim = store.claim(item.key, backend=self.name, kind=item.kind, request=request,
                                inputs=item.ledger_inputs())
            if claim.state == "submitted":  # answered (or failed) before: nothing is sent again
                with lock:
                    report.reused.append(item.key)
                return None
            if claim.state != "rejected":
                if not claim.ours and not store.take_over_if_gone(item.key):
                    return None  # another live process holds it (it sends the unit; a later call collects it)
                return _Claimed(item, models, payload)
            refused = str(store.jobs([item.key])["message"].iloc[0])
        self._refused(item, refused, report, lock)
        return None

    def _send_claimed(self, claimed: _Claimed, run: Run, report: Executed, lock: threading.Lock) -> list[Unit]:
        """Send one claimed unit and store its answer; the halves to send instead if it was refused for a limit."""
        item = claimed.unit
        refused = self._send_and_store(item, claimed.models, run, payload=claimed.payload, report=report, lock=lock)
        if refused is None:
            return []
        if len(item.inputs) > 1:
            return list(item.halves(f"{item.key}|split"))
        self._refused(item, refused, report, lock)
        return []

    @staticmethod
    def _refused(item: Unit, refused: str, report: Executed, lock: threading.Lock) -> None:
        with lock:
            for row in item.rows:
                report.rejected[row.index] = (f"{refused} (the API refused this input even alone, so humekit will not "
                                              "send it again with these models)")

    def _send_and_store(self, item: Unit, models: Mapping[str, Any], run: Run, *, payload: str, report: Executed,
                        lock: threading.Lock) -> str | None:
        """Send a claimed unit and store what came back; the API's reason if it refused it for a limit."""
        store = run.ledger
        sent = item.key  # what the report names: the API's id for the request when it gives one
        try:
            answer = self._send_with_retries(item, models, run)
        except _TakenOver:
            return None  # another process took the claim over before this one sent it: it sends the unit
        except PayloadRefusedError as exc:
            store.record_rejected(item.key, str(exc), payload=payload)
            return str(exc)
        except APIStatusError as exc:
            if isinstance(exc, _STOP):
                raise  # kept claimed: the same call resumes it (nothing was measured)
            store.record_failed(item.key, f"{self.name} refused the request ({exc.status_code}): {exc}")
        else:
            remote = self.remote_id(answer)
            store.record_answer(item.key, answer, remote_id=remote)  # before anything is reported
            sent = remote or item.key
        run.progress.unit_done(item)
        with lock:
            report.submitted.append(sent)
        return None

    def _send_with_retries(self, item: Unit, models: Mapping[str, Any], run: Run) -> bytes:
        context = self.context(item, run)
        for attempt in range(1, self.attempts + 1):
            # before the request, only while the claim is still ours: a send whose answer is lost stays counted
            seq = run.ledger.record_send(item.key, owner=owner_token())
            if seq is None:
                raise _TakenOver
            self._sending.unit, self._sending.ledger, self._sending.seq = item.key, run.ledger, seq
            try:
                return self.send(item, models=models, transcription=run.transcription, **context)
            except _TRANSIENT:
                if attempt == self.attempts:
                    raise
                self.clock.sleep(exponential(attempt, initial=1.0, maximum=30.0))
        raise AssertionError("unreachable")  # pragma: no cover


class _TakenOver(Exception):
    """The unit's claim passed to another process (this one was taken for dead) before it was sent."""


def _with_models(item: Unit, models: Sequence[str]) -> Unit:
    return replace(item, models=tuple(models))
