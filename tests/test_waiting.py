"""Tests for humekit.backends.v0.waiting: few, spaced polls on the virtual clock, list polling, faults, timeouts, callbacks."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from itertools import pairwise

import pytest

from humekit.backends.v0.backend import BatchBackend
from humekit.clock import VirtualClock
from humekit.emulator import Emulator, Faults, Schedule
from humekit.errors import (
    ConfigurationError,
    RateLimitError,
    ServerError,
    WaitTimeoutError,
)
from humekit.backends.v0.jobs import JobDetails
from humekit.backends.v0.waiting import Backoff, wait_for_jobs

LIST = "/v0/batch/jobs"


@pytest.fixture
def make_emulator(clock: VirtualClock) -> Iterator:
    """Build in-process emulators on the test's virtual clock (stopped afterwards)."""
    made: list[Emulator] = []

    def make(schedule: Schedule | None = None, faults: Faults | None = None) -> Emulator:
        emu = Emulator(api_key="k", clock=clock, schedule=schedule or Schedule(queued=1, running=59),
                       faults=faults or Faults())
        made.append(emu)
        return emu

    yield make
    for emu in made:
        emu.stop()


def start_jobs(client, n: int) -> list[str]:
    """Create n one-text jobs, re-posting when a fault proves nothing was created (5xx, 429)."""
    ids = []
    for i in range(n):
        while True:
            try:
                ids.append(client.start_job(text=[f"Text number {i}."], models={"language": {}}))
                break
            except (ServerError, RateLimitError):
                client.clock.sleep(1.0)
    return ids


def status_requests(emu: Emulator, since: int = 0) -> list:
    """GETs of job states (per job or the list), excluding predictions."""
    return [r for r in emu.requests[since:] if r.method == "GET" and r.path.startswith(LIST)
            and not r.path.endswith(("/predictions", "/artifacts"))]


def per_job(requests: list, job_id: str | None = None) -> list:
    return [r for r in requests if r.path != LIST and (job_id is None or r.path == f"{LIST}/{job_id}")]


def lists(requests: list) -> list:
    return [r for r in requests if r.path == LIST]


@pytest.mark.parametrize("seed", range(5))
def test_a_one_minute_job_needs_few_spaced_polls(make_emulator, clock, seed: int):
    """A job taking 60 s is awaited with at most 10 status requests, never two within 1 s."""
    emu = make_emulator()
    backend = BatchBackend(emu.client())
    since_ms = int(clock.time() * 1000)
    [job_id] = start_jobs(backend.client, 1)
    created, posted = clock.time(), len(emu.requests)
    done = wait_for_jobs(backend, [job_id], since_ms=since_ms, progress=False, seed=seed)
    assert done[job_id].status == "COMPLETED" and done[job_id].terminal
    polls = status_requests(emu, posted)
    assert 1 <= len(polls) <= 10
    assert all(r.status == 200 for r in polls)
    times = [r.time for r in polls]
    assert min(b - a for a, b in pairwise(times)) >= 1.0
    assert times[0] - created >= 1.0  # the first poll waits at least a second too
    assert clock.time() - created >= 60.0
    # and it does not oversleep: the last poll is within one backoff step of completion (<= 2x, capped)
    assert clock.time() - created <= 60.0 + 60.0 * 1.2


def test_polls_back_off_exponentially(make_emulator, clock):
    """Waits between polls of one job grow (doubling, with jitter) up to wait_max."""
    emu = make_emulator(schedule=Schedule(queued=1, running=400))
    backend = BatchBackend(emu.client())
    since_ms = int(clock.time() * 1000)
    [job_id] = start_jobs(backend.client, 1)
    posted = len(emu.requests)
    wait_for_jobs(backend, [job_id], since_ms=since_ms, progress=False, seed=1,
                  backoff=Backoff(wait_initial=2, wait_max=30, wait_jitter=0.1))
    times = [r.time for r in status_requests(emu, posted)]
    gaps = [b - a for a, b in pairwise(times)]
    assert gaps[0] == pytest.approx(4, rel=0.11)
    assert gaps[1] == pytest.approx(8, rel=0.11)
    assert all(g <= 30 * 1.1 + 1e-9 for g in gaps)
    assert gaps[-1] == pytest.approx(30, rel=0.11)


def test_many_jobs_are_polled_with_the_list_endpoint(make_emulator, clock):
    """30 pending jobs are polled with list requests, not 30 per-job GETs per round."""
    emu = make_emulator()
    backend = BatchBackend(emu.client())
    since_ms = int(clock.time() * 1000)
    ids = start_jobs(backend.client, 30)
    posted = len(emu.requests)
    done = wait_for_jobs(backend, ids, since_ms=since_ms, progress=False, seed=0)
    assert set(done) == set(ids) and all(d.status == "COMPLETED" for d in done.values())
    polls = status_requests(emu, posted)
    assert per_job(polls) == []
    assert 1 <= len(lists(polls)) <= 10
    times = [r.time for r in polls]
    assert min(b - a for a, b in pairwise(times)) >= 1.0


def test_per_job_polling_below_the_list_threshold(make_emulator, clock):
    """With list polling switched off (a huge threshold), every job is polled on its own: far more requests."""
    emu = make_emulator()
    backend = BatchBackend(emu.client(), list_threshold=10_000)
    since_ms = int(clock.time() * 1000)
    ids = start_jobs(backend.client, 30)
    posted = len(emu.requests)
    wait_for_jobs(backend, ids, since_ms=since_ms, progress=False, seed=0)
    polls = status_requests(emu, posted)
    assert lists(polls) == []
    assert all(len(per_job(polls, job_id)) >= 1 for job_id in ids)
    assert len(polls) >= 30 * 3


def test_few_jobs_are_polled_one_by_one(make_emulator, clock):
    """Two jobs (under the default list threshold of 3) are polled with per-job GETs only."""
    emu = make_emulator(schedule=Schedule(queued=1, running=9))
    backend = BatchBackend(emu.client())
    since_ms = int(clock.time() * 1000)
    ids = start_jobs(backend.client, 2)
    posted = len(emu.requests)
    wait_for_jobs(backend, ids, since_ms=since_ms, progress=False, seed=0)
    polls = status_requests(emu, posted)
    assert lists(polls) == [] and {r.path for r in polls} == {f"{LIST}/{i}" for i in ids}


@pytest.mark.parametrize("options, needle", [
    ({"wait_initial": 0.5}, "wait_initial=0.5"),
    ({"wait_initial": 0.0}, "faster than once a second"),
    ({"wait_initial": 10, "wait_max": 5}, "wait_max=5"),
    ({"wait_jitter": 1.0}, "wait_jitter=1.0"),
    ({"wait_jitter": -0.1}, "wait_jitter=-0.1"),
])
def test_bad_backoff_is_a_configuration_error(options: dict, needle: str):
    """Polling faster than once a second, wait_max below wait_initial or jitter outside [0, 1) is refused."""
    with pytest.raises(ConfigurationError, match=needle.replace("(", r"\(").replace(".", r"\.")):
        Backoff(**options)


def test_backoff_delay_stays_between_a_second_and_wait_max():
    """Backoff.delay doubles from wait_initial and, jitter included, stays within [1 s, wait_max]."""
    rng = random.Random(0)
    backoff = Backoff(wait_initial=1, wait_max=16, wait_jitter=0.5)
    delays = [backoff.delay(a, rng) for a in range(12) for _ in range(200)]
    assert min(delays) == 1.0 and max(delays) == 16
    assert len({round(d, 6) for d in delays}) > 100  # still jittered
    exact = Backoff(wait_initial=1, wait_max=16, wait_jitter=0)
    assert [exact.delay(a, rng) for a in range(7)] == [1, 2, 4, 8, 16, 16, 16]


def test_timeout_lists_pending_jobs(make_emulator, clock):
    """When the timeout runs out, WaitTimeoutError lists the pending ids and says to resume with the same ledger."""
    emu = make_emulator(schedule=Schedule(queued=1, running=10_000))
    backend = BatchBackend(emu.client())
    since_ms = int(clock.time() * 1000)
    ids = start_jobs(backend.client, 2)
    began = clock.time()
    with pytest.raises(WaitTimeoutError) as info:
        wait_for_jobs(backend, ids, since_ms=since_ms, timeout=30, progress=False, seed=0)
    assert sorted(info.value.pending) == sorted(ids)
    message = str(info.value)
    assert "same ledger" in message and all(job_id in message for job_id in ids) and "30 s" in message
    assert 30 <= clock.time() - began <= 31  # it stops at the timeout, not a backoff step later


def test_timeout_message_truncates_long_lists(make_emulator, clock):
    """With many pending jobs the message shows five ids and an ellipsis, while .pending has them all."""
    emu = make_emulator(schedule=Schedule(queued=1, running=10_000))
    backend = BatchBackend(emu.client())
    since_ms = int(clock.time() * 1000)
    ids = start_jobs(backend.client, 8)
    with pytest.raises(WaitTimeoutError) as info:
        wait_for_jobs(backend, ids, since_ms=since_ms, timeout=5, progress=False)
    assert sorted(info.value.pending) == sorted(ids)
    assert sum(job_id in str(info.value) for job_id in ids) == 5 and "…" in str(info.value)


@pytest.mark.parametrize("n", [1, 12])
def test_transient_faults_are_ridden_out(make_emulator, clock, n: int):
    """5xx and 429 answers while polling only delay the wait; every job still completes."""
    emu = make_emulator(schedule=Schedule(queued=1, running=30),
                        faults=Faults(server_error_rate=0.3, rate_limit_rate=0.1, retry_after=2, seed=11))
    backend = BatchBackend(emu.client(max_retries=1))
    since_ms = int(clock.time() * 1000)
    ids = start_jobs(backend.client, n)
    posted = len(emu.requests)
    updates: list[JobDetails] = []
    done = wait_for_jobs(backend, ids, since_ms=since_ms, progress=False, seed=2, on_update=updates.append)
    assert set(done) == set(ids) and all(d.status == "COMPLETED" for d in done.values())
    polls = status_requests(emu, posted)
    assert any(r.status >= 500 for r in polls) and any(r.status == 200 for r in polls)
    assert {u.job_id for u in updates} == set(ids)


def test_retry_after_is_honoured_by_client_retries(make_emulator, clock):
    """A 429 with Retry-After: 7 makes the client sleep 7 s on the clock before its next request."""
    emu = make_emulator(schedule=Schedule(queued=1, running=40),
                        faults=Faults(rate_limit_rate=0.4, retry_after=7, seed=5))
    backend = BatchBackend(emu.client(max_retries=10))
    since_ms = int(clock.time() * 1000)
    ids = start_jobs(backend.client, 2)
    posted = len(emu.requests)
    done = wait_for_jobs(backend, ids, since_ms=since_ms, progress=False, seed=0)
    assert all(d.status == "COMPLETED" for d in done.values())
    requests = emu.requests[posted:]
    limited = [i for i, r in enumerate(requests) if r.status == 429]
    assert limited, "the seed should inject some 429s"
    for i in limited:
        if i + 1 < len(requests):
            assert requests[i + 1].time - requests[i].time >= 7.0


def test_long_retry_after_is_honoured_by_the_waiter(make_emulator, clock):
    """A Retry-After longer than the client waits for is still honoured: no poll before it has passed."""
    emu = make_emulator(schedule=Schedule(queued=1, running=60),
                        faults=Faults(rate_limit_rate=0.5, retry_after=200, seed=1))
    creator = emu.client(max_retry_after=1_000)
    since_ms = int(clock.time() * 1000)
    ids = start_jobs(creator, 1)
    backend = BatchBackend(emu.client(max_retry_after=30))  # 200 s is too long for the client: it raises
    posted = len(emu.requests)
    done = wait_for_jobs(backend, ids, since_ms=since_ms, timeout=None, progress=False, seed=0)
    assert done[ids[0]].status == "COMPLETED"
    polls = status_requests(emu, posted)
    limited = [i for i, r in enumerate(polls) if r.status == 429]
    assert limited, "the seed should inject some 429s"
    for i in limited:
        if i + 1 < len(polls):
            assert polls[i + 1].time - polls[i].time >= 200.0


def test_settled_jobs_are_never_polled(make_emulator, clock):
    """Jobs a settled() callable reports finished (webhooks) are never polled; the others are."""
    emu = make_emulator(schedule=Schedule(queued=1, running=9))
    backend = BatchBackend(emu.client())
    since_ms = int(clock.time() * 1000)
    called_with: list[list[str]] = []
    a, b = start_jobs(backend.client, 2)
    posted = len(emu.requests)

    def settled(pending: list[str]) -> dict[str, JobDetails]:
        called_with.append(list(pending))
        return {a: JobDetails(job_id=a, status="COMPLETED")} if a in pending else {}

    done = wait_for_jobs(backend, [a, b], since_ms=since_ms, progress=False, settled=settled, seed=0)
    assert done[a].status == "COMPLETED" and done[b].status == "COMPLETED"
    polls = status_requests(emu, posted)
    assert per_job(polls, a) == [] and lists(polls) == []
    assert len(per_job(polls, b)) >= 1
    assert all(a not in pending for pending in called_with[1:])  # only pending jobs are asked about


def test_all_settled_means_no_status_request(make_emulator, clock):
    """When every job is reported finished by callbacks, waiting sends no request at all."""
    emu = make_emulator()
    backend = BatchBackend(emu.client())
    since_ms = int(clock.time() * 1000)
    ids = start_jobs(backend.client, 5)
    posted = len(emu.requests)
    done = wait_for_jobs(backend, ids, since_ms=since_ms, progress=False,
                         settled=lambda pending: {j: JobDetails(job_id=j, status="FAILED", message="x") for j in pending})
    assert {j: d.status for j, d in done.items()} == dict.fromkeys(ids, "FAILED")
    assert emu.requests[posted:] == []


def test_settled_later_stops_polling_that_job(make_emulator, clock):
    """A job whose callback arrives after some polls is not polled again afterwards."""
    emu = make_emulator(schedule=Schedule(queued=1, running=200))
    backend = BatchBackend(emu.client())
    since_ms = int(clock.time() * 1000)
    a, b = start_jobs(backend.client, 2)
    posted = len(emu.requests)
    arrival = clock.time() + 20

    def settled(pending: list[str]) -> dict[str, JobDetails]:
        return {a: JobDetails(job_id=a, status="COMPLETED")} if clock.time() >= arrival and a in pending else {}

    wait_for_jobs(backend, [a, b], since_ms=since_ms, progress=False, settled=settled, seed=0)
    late = [r for r in per_job(status_requests(emu, posted), a) if r.time >= arrival]
    assert late == []
    assert per_job(status_requests(emu, posted), a)  # it was polled before the callback


def test_failed_jobs_are_returned_not_raised(make_emulator, clock):
    """A FAILED job is terminal: waiting returns it with Hume's message, on_update saw it."""
    emu = make_emulator(schedule=Schedule(queued=1, running=5), faults=Faults(job_failure_rate=1.0))
    backend = BatchBackend(emu.client())
    since_ms = int(clock.time() * 1000)
    ids = start_jobs(backend.client, 3)
    seen: list[JobDetails] = []
    done = wait_for_jobs(backend, ids, since_ms=since_ms, progress=False, on_update=seen.append)
    assert all(d.status == "FAILED" and "injected" in (d.message or "") for d in done.values())
    assert {d.job_id for d in seen if d.status == "FAILED"} == set(ids)


def test_the_same_seed_gives_the_same_schedule(make_emulator, clock):
    """Jitter is seeded: two waits with the same seed poll at the same offsets."""
    offsets = []
    for _ in range(2):
        emu = make_emulator(schedule=Schedule(queued=1, running=100))
        backend = BatchBackend(emu.client())
        since_ms = int(clock.time() * 1000)
        ids = start_jobs(backend.client, 1)
        posted, began = len(emu.requests), clock.time()
        wait_for_jobs(backend, ids, since_ms=since_ms, progress=False, seed=42)
        offsets.append([round(r.time - began, 6) for r in status_requests(emu, posted)])
    assert offsets[0] == offsets[1]


def test_duplicate_ids_are_waited_for_once(make_emulator, clock):
    """A job id given twice is awaited (and polled) as one job."""
    emu = make_emulator(schedule=Schedule(queued=1, running=3))
    backend = BatchBackend(emu.client())
    since_ms = int(clock.time() * 1000)
    [job_id] = start_jobs(backend.client, 1)
    posted = len(emu.requests)
    done = wait_for_jobs(backend, [job_id, job_id], since_ms=since_ms, progress=False)
    assert list(done) == [job_id]
    times = [r.time for r in status_requests(emu, posted)]
    assert len(times) == len(set(times))


def test_no_jobs_returns_at_once(make_emulator, clock):
    """Waiting for nothing returns an empty result without a request or a sleep."""
    emu = make_emulator()
    began = clock.time()
    assert wait_for_jobs(BatchBackend(emu.client()), [], since_ms=0, progress=False) == {}
    assert emu.requests == [] and clock.time() == began


def test_an_unknown_job_is_failed_not_a_wait(make_emulator, clock):
    """A job id the API does not know (404) ends FAILED, saying why and what to do, instead of being polled forever
    (issue 12: it used to raise NotFoundError from deep inside the wait)."""
    emu = make_emulator()
    job_id = str(uuid.UUID(int=1))
    done = wait_for_jobs(BatchBackend(emu.client()), [job_id], since_ms=0, progress=False)
    assert done[job_id].status == "FAILED"
    assert f"no longer knows job {job_id} (404)" in done[job_id].message and "retry_failed" in done[job_id].message
