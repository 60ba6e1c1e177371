"""Tests for humekit.pipeline.ledger: idempotent claims (across threads and processes), states, lookups, bad files.

Every test taking ``ledger`` or ``ledger_location`` runs on SQLite and on PostgreSQL (tests/conftest.py)."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from humekit.errors import LedgerError
from humekit.pipeline.ledger import Claim, Ledger, LedgerInput, owner_token
from humekit.pipeline.ledger.records import STALE_CLAIM_S

REQUEST = {"text_sha256": ["abc", "def"]}


def inputs(prefix: str = "fp", n: int = 2, *, per_input: int = 1) -> list[LedgerInput]:
    """n inputs, each answering for ``per_input`` rows."""
    return [LedgerInput(str(i + 1), f"{prefix}-{i}-{r}", f"s:row{i}-{r}", f"content-{i}")
            for i in range(n) for r in range(per_input)]


def claim(ledger: Ledger, key: str = "job-1", **kwargs) -> Claim:
    kwargs.setdefault("inputs", inputs())
    return ledger.claim(key, backend="hume-v0-batch", kind="text", request=REQUEST, **kwargs)


@pytest.fixture
def ledger(ledger_location: str, clock) -> Ledger:
    store = Ledger(ledger_location, clock=clock)
    yield store
    store.close()


def test_first_claim_is_ours_and_recorded(ledger: Ledger, clock):
    """A first claim creates a 'submitting' job owned by this process, timestamped by the ledger's clock."""
    first = claim(ledger, inputs=inputs(n=2, per_input=3))
    assert first.ours and first.state == "submitting" and first.job_id is None
    assert first.owner == owner_token() and first.claimed_ms == int(clock.time() * 1000)
    jobs = ledger.jobs()
    assert jobs[["job_key", "state", "kind", "backend", "num_inputs", "num_rows"]].to_dict("records") == [
        {"job_key": "job-1", "state": "submitting", "kind": "text", "backend": "hume-v0-batch", "num_inputs": 2,
         "num_rows": 6}]
    assert ledger.request("job-1") == REQUEST
    assert len(ledger.inputs(["job-1"])) == 6


def test_second_claim_returns_the_first(ledger: Ledger, clock):
    """Claiming a key again changes nothing and returns the first claim with ours=False."""
    first = claim(ledger)
    clock.advance(30)
    second = claim(ledger, inputs=inputs("other", 5))
    assert not second.ours
    assert (second.job_key, second.state, second.owner, second.claimed_ms) == (
        first.job_key, first.state, first.owner, first.claimed_ms)
    assert len(ledger.jobs()) == 1
    assert ledger.inputs(["job-1"])["fingerprint"].tolist() == [i.fingerprint for i in inputs()]


def test_record_submitted_then_status(ledger: Ledger, clock):
    """record_submitted commits the job id (QUEUED); record_status updates status and keeps the message."""
    claim(ledger)
    clock.advance(2)
    ledger.record_submitted("job-1", "id-1")
    job = ledger.jobs().iloc[0]
    assert (job["state"], job["job_id"], job["status"]) == ("submitted", "id-1", "QUEUED")
    assert job["submitted_ms"] == int(clock.time() * 1000)
    assert ledger.state("job-1").job_id == "id-1"
    assert claim(ledger).job_id == "id-1"  # a rerun's claim sees the id
    ledger.record_status("id-1", "FAILED", "bad audio")
    ledger.record_status("id-1", "FAILED")
    job = ledger.jobs().iloc[0]
    assert (job["status"], job["message"]) == ("FAILED", "bad audio")


def test_record_rejected_supersedes_rows(ledger: Ledger):
    """A rejected job keeps its message and its rows are no longer assigned (they will be split)."""
    claim(ledger)
    ledger.record_rejected("job-1", "too many files", payload="p-1")
    assert ledger.state("job-1").state == "rejected"
    assert ledger.jobs().iloc[0]["message"] == "too many files"
    assert ledger.assigned([i.fingerprint for i in inputs()]) == {}
    assert claim(ledger).state == "rejected"  # the same payload is never claimed afresh


def test_record_abandoned_only_unsubmitted_claims(ledger: Ledger):
    """record_abandoned abandons a claim without job id; a job submitted meanwhile keeps its state and rows."""
    claim(ledger, "never-sent", inputs=inputs("a"))
    ledger.record_abandoned("never-sent", "rows gone")
    assert ledger.state("never-sent").state == "abandoned"
    assert ledger.assigned([i.fingerprint for i in inputs("a")]) == {}

    claim(ledger, "sent", inputs=inputs("b"))
    ledger.record_submitted("sent", "id-b")
    ledger.record_abandoned("sent", "rows gone")
    assert ledger.state("sent").state == "submitted"
    assert set(ledger.assigned([i.fingerprint for i in inputs("b")]).values()) == {"sent"}


def test_a_claim_abandoned_before_sending_is_made_afresh_when_wanted_again(ledger: Ledger):
    """Claiming an abandoned, never-sent unit again makes it ours and its rows assigned (never stuck pending)."""
    claim(ledger, "u", inputs=inputs("a"))
    ledger.record_abandoned("u", "rows gone")
    again = claim(ledger, "u", inputs=inputs("a"))
    assert again.ours and again.state == "submitting"
    assert set(ledger.assigned([i.fingerprint for i in inputs("a")]).values()) == {"u"}


def test_assigned_ignores_superseded_rows(ledger: Ledger):
    """assigned() maps live fingerprints to their job and forgets superseded ones."""
    claim(ledger, "job-1", inputs=inputs("x", 3))
    fingerprints = [i.fingerprint for i in inputs("x", 3)]
    assert ledger.assigned(fingerprints + ["unknown"]) == dict.fromkeys(fingerprints, "job-1")
    ledger.supersede(fingerprints[:2])
    assert ledger.assigned(fingerprints) == {fingerprints[2]: "job-1"}
    # a row re-claimed in a new job is assigned to the new one
    claim(ledger, "job-2", inputs=[inputs("x", 3)[0]])
    assert ledger.assigned(fingerprints) == {fingerprints[0]: "job-2", fingerprints[2]: "job-1"}
    superseded = ledger.inputs(["job-1"]).set_index("fingerprint")["superseded"].to_dict()
    assert superseded == {fingerprints[0]: 1, fingerprints[1]: 1, fingerprints[2]: 0}


def test_assigned_handles_more_than_500_fingerprints(ledger: Ledger):
    """Lookups of many fingerprints (beyond SQLite's chunking) find every one."""
    many = [LedgerInput(str(i), f"fp{i}", f"i:{i}", "c") for i in range(1234)]
    claim(ledger, "big", inputs=many)
    assert len(ledger.assigned([m.fingerprint for m in many])) == 1234
    assert len(ledger.inputs(["big"])) == 1234


def test_release_forgets_only_an_unsubmitted_claim(ledger: Ledger):
    """release drops a refused claim and its rows (the next claim is fresh and ours); a submitted job stays."""
    claim(ledger, "refused", inputs=inputs("a"))
    ledger.release("refused")
    assert ledger.state("refused") is None and ledger.assigned([i.fingerprint for i in inputs("a")]) == {}
    assert claim(ledger, "refused", inputs=inputs("a")).ours

    claim(ledger, "sent", inputs=inputs("b"))
    ledger.record_submitted("sent", "id-b")
    ledger.release("sent")
    assert ledger.state("sent").job_id == "id-b"
    assert set(ledger.assigned([i.fingerprint for i in inputs("b")]).values()) == {"sent"}


def test_take_over_only_from_the_expected_owner(ledger: Ledger):
    """take_over succeeds once for the recorded owner and fails for anyone else."""
    first = claim(ledger)
    assert not ledger.take_over("job-1", expected_owner="elsewhere:1")
    assert ledger.take_over("job-1", expected_owner=first.owner)
    ledger.record_submitted("job-1", "id")
    assert not ledger.take_over("job-1", expected_owner=first.owner)  # no longer submitting


def test_integrity_check_ok(ledger: Ledger):
    """A used ledger passes its integrity check (SQLite's own; every table read through on PostgreSQL)."""
    claim(ledger)
    ledger.record_submitted("job-1", "id-1")
    ledger.store_predictions("id-1", b"[]")
    assert ledger.integrity_check() == "ok"


def test_unknown_job_request_raises(ledger: Ledger):
    """Asking for the request of a job not in the ledger is a LedgerError naming it."""
    with pytest.raises(LedgerError, match="No job 'nope'"):
        ledger.request("nope")


def test_jobs_by_key_and_empty_results(ledger: Ledger):
    """jobs(keys) returns only those jobs (an empty frame with columns when none match)."""
    claim(ledger, "a")
    claim(ledger, "b", inputs=inputs("b"))
    assert ledger.jobs(["b", "b"])["job_key"].tolist() == ["b"]
    empty = ledger.jobs(["zzz"])
    assert empty.empty and "job_id" in empty.columns
    assert ledger.inputs(["zzz"]).empty and "fingerprint" in ledger.inputs(["zzz"]).columns


def test_ledger_survives_reopening(ledger_location: str):
    """A ledger reopened from its location sees every claim and state (it is durable)."""
    path = ledger_location
    first = Ledger(path)
    claim(first)
    first.record_submitted("job-1", "id-1")
    first.close()
    again = Ledger(path)
    assert again.state("job-1").job_id == "id-1"
    assert not claim(again).ours
    again.close()


def test_a_new_files_missing_folders_are_created(tmp_path: Path):
    """A SQLite ledger in folders that do not exist yet creates them."""
    path = tmp_path / "sub" / "dir" / "l.sqlite"
    Ledger(path).close()
    assert path.is_file()


# -- concurrency -------------------------------------------------------------------------------

@pytest.mark.parametrize("shared", [True, False], ids=["one-ledger-object", "one-object-per-thread"])
def test_threads_race_for_one_key(ledger_location: str, shared: bool):
    """Eight threads claiming the same key at once: exactly one gets ours=True, all see the same claim."""
    path = ledger_location
    common = Ledger(path)
    barrier = threading.Barrier(8)
    claims: list[Claim] = []
    failures: list[BaseException] = []

    def run(n: int) -> None:
        store = common if shared else Ledger(path)
        try:
            barrier.wait(timeout=10)
            claims.append(claim(store, inputs=inputs(f"t{n}")))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not failures, failures
    assert len(claims) == 8
    assert sum(c.ours for c in claims) == 1
    assert len({(c.claimed_ms, c.owner) for c in claims}) == 1
    check = Ledger(path)
    assert len(check.jobs()) == 1 and len(check.inputs(["job-1"])) == 2
    assert check.integrity_check() == "ok"
    check.close()


def test_threads_race_to_take_over_one_stale_claim(ledger_location: str):
    """Eight threads taking over the same stale claim at once: exactly one succeeds (compare and swap)."""
    first = Ledger(ledger_location)
    claim(first)
    first._db().execute("UPDATE jobs SET owner=? WHERE job_key=?", ("gone-host:1", "job-1"))  # a dead process's
    barrier = threading.Barrier(8)
    won: list[bool] = []

    def take(n: int) -> None:
        store = Ledger(ledger_location)
        try:
            barrier.wait(timeout=10)
            won.append(store.take_over("job-1", expected_owner="gone-host:1"))
        finally:
            store.close()

    threads = [threading.Thread(target=take, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(won) == [False] * 7 + [True] and first.state("job-1").owner == owner_token()
    first.close()


_CLAIMER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from humekit.pipeline.ledger import Ledger, LedgerInput
    path, sync, n = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    store = Ledger(path)
    (sync / f"ready-{n}").touch()
    deadline = time.monotonic() + 60
    while not (sync / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    claim = store.claim("job-1", backend="b", kind="text", request={"n": n},
                        inputs=[LedgerInput("1", f"fp-{n}", f"s:{n}", "c")])
    print(json.dumps({"ours": claim.ours, "owner": claim.owner, "pid": os.getpid()}))
""")


def test_processes_race_for_one_key(ledger_location: str, tmp_path: Path):
    """Four processes claiming the same key at the same moment: exactly one gets ours=True."""
    path, sync = ledger_location, tmp_path / "sync"
    sync.mkdir()
    Ledger(path).close()  # the schema exists before the race
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", _CLAIMER, str(path), str(sync), str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for n in range(4)]
    try:
        deadline = time.monotonic() + 60
        while len(list(sync.glob("ready-*"))) < 4 and time.monotonic() < deadline:
            if any(p.poll() not in (None, 0) for p in procs):
                break
            time.sleep(0.01)
        (sync / "go").touch()
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    winners = [r for r in results if r["ours"]]
    assert len(winners) == 1
    assert {r["owner"] for r in results} == {f"{owner_token().rpartition(':')[0]}:{winners[0]['pid']}"}
    store = Ledger(path)
    assert len(store.jobs()) == 1 and store.integrity_check() == "ok"
    assert store.inputs(["job-1"])["fingerprint"].tolist() == [f"fp-{results.index(winners[0])}"]
    store.close()


# -- bad files ---------------------------------------------------------------------------------

def test_a_directory_is_not_a_ledger(tmp_path: Path):
    """Pointing the ledger at a directory raises LedgerError naming the path and what to do."""
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(LedgerError) as info:
        Ledger(folder)
    message = str(info.value)
    assert str(folder) in message and "Cannot open the ledger" in message and "ledger=" in message


@pytest.mark.parametrize("content", [b"this is a CSV,not,a,database\n" * 200, random.Random(0).randbytes(8192)],
                         ids=["text-file", "random-bytes"])
def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path, content: bytes):
    """A file that is not SQLite raises LedgerError ('not a database') and is left untouched."""
    path = tmp_path / "notes.sqlite"
    path.write_bytes(content)
    with pytest.raises(LedgerError, match=r"Cannot open the ledger at .*notes\.sqlite.*not a database"):
        Ledger(path)
    assert path.read_bytes() == content


def test_repr_shows_the_path(tmp_path: Path):
    """repr(Ledger) shows its resolved file path."""
    store = Ledger(tmp_path / "x.sqlite")
    assert repr(store) == f"Ledger({str((tmp_path / 'x.sqlite').resolve())!r})"
    store.close()


def test_processes_opening_a_new_ledger_at_once_all_succeed(ledger_locations):
    """Three openers of one new ledger at the same instant all succeed (SQLite refuses concurrent WAL
    switches at once with "database is locked", without waiting: the ledger retries them; PostgreSQL's
    openers create the tables one at a time)."""
    for attempt in range(40):
        path = ledger_locations()
        barrier = threading.Barrier(3)
        errors: list[BaseException] = []

        def open_ledger(path: str, barrier: threading.Barrier, errors: list[BaseException]) -> None:
            barrier.wait()
            try:
                Ledger(path).jobs()
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=open_ledger, args=(path, barrier, errors)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, f"attempt {attempt}: {errors[0]!r}"


def test_the_earlier_keyword_path_still_opens_a_ledger(tmp_path: Path) -> None:
    """Ledger(path=...) (the argument's earlier name) opens the same file; both names at once are refused."""
    ledger = Ledger(path=tmp_path / "l.sqlite")
    assert ledger.path == (tmp_path / "l.sqlite").resolve()
    ledger.close()
    with pytest.raises(LedgerError, match="give one"):
        Ledger(tmp_path / "a.sqlite", path=tmp_path / "b.sqlite")


def _owned_by(ledger: Ledger, key: str, owner: str) -> None:
    """Hand a claim to ``owner`` (as if that process had made it)."""
    assert ledger.take_over(key, expected_owner=ledger.state(key).owner)
    with ledger._write() as db:
        db.execute("UPDATE jobs SET owner=? WHERE job_key=?", (owner, key))


def test_a_live_processs_claim_is_never_taken_a_dead_ones_is(ledger: Ledger, clock):
    """take_over_if_gone leaves a claim of a live process alone, and takes one of an exited process, of this
    process (an earlier call's) or of any process silent longer than the stale limit."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        claim(ledger, "alive")
        _owned_by(ledger, "alive", f"{socket.gethostname()}:{sleeper.pid}")
        assert not ledger.take_over_if_gone("alive")
        claim(ledger, "elsewhere")
        _owned_by(ledger, "elsewhere", "another-machine.example:4242")
        assert not ledger.take_over_if_gone("elsewhere")
        clock.advance(STALE_CLAIM_S + 1)
        assert ledger.take_over_if_gone("elsewhere")  # silent for too long: taken for dead
    finally:
        sleeper.kill()
        sleeper.wait()
    claim(ledger, "exited")
    _owned_by(ledger, "exited", f"{socket.gethostname()}:{sleeper.pid}")
    assert ledger.take_over_if_gone("exited")
    claim(ledger, "mine")
    assert ledger.take_over_if_gone("mine")  # this process's own claim, from an earlier call
    assert ledger.state("mine").owner == owner_token()


def test_a_send_is_recorded_only_while_the_claim_is_still_ours(ledger: Ledger, clock):
    """record_send(owner=) refreshes the claim's sign of life; once another process took it, it records nothing."""
    claim(ledger, "u")
    assert ledger.record_send("u", owner=owner_token()) == 1
    _owned_by(ledger, "u", "another-machine.example:4242")
    assert ledger.record_send("u", owner=owner_token()) is None
    assert ledger.sends(["u"]) == {"u": 1}
