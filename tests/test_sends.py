"""Tests for humekit.pipeline.ledger.sends: every send counted before it goes, lost ones found or not."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from humekit.pipeline.ledger import Ledger, LedgerInput


@pytest.fixture
def ledger(ledger_location: str, clock) -> Ledger:
    """A fresh ledger on each engine (SQLite, PostgreSQL)."""
    store = Ledger(ledger_location, clock=clock)
    yield store
    store.close()


def _claimed(ledger: Ledger, key: str) -> str:
    ledger.claim(key, backend="hume-v1", kind="file", request={"files": [], "window": {"start_ms": 0, "end_ms": 1}},
                 inputs=[LedgerInput("a.wav", f"fp-{key}", f"s:{key}", "c")])
    return key


def test_sends_are_numbered_and_counted_before_an_answer(ledger: Ledger, clock) -> None:
    """Each send gets the next number and its time; the count includes sends that never got an answer."""
    key = _claimed(ledger, "u1")
    assert ledger.record_send(key) == 1
    clock.advance(5)
    assert ledger.record_send(key) == 2
    assert ledger.sends([key, "never-sent"]) == {key: 2}
    assert ledger.lost_sends([key]) == []  # not answered yet: nothing is known to be lost


def test_the_answered_send_is_not_lost_and_takes_the_answers_run_id(ledger: Ledger, clock) -> None:
    """Once answered, every send but the last is lost, with its span and the bytes carried over."""
    key = _claimed(ledger, "u1")
    ledger.record_send(key)
    ledger.record_send_bytes(key, 1, 1234)
    clock.advance(7)
    ledger.record_send(key)
    ledger.record_answer(key, b"{}", remote_id="run-answered")
    (lost,) = ledger.lost_sends([key])
    start = int(1_750_000_000.0 * 1000)
    assert (lost.seq, lost.sent_ms, lost.until_ms, lost.size, lost.checked, lost.run_id) == (
        1, start, start + 7000, 1234, False, None)
    assert ledger.known_run_ids(["run-answered", "other"]) == {"run-answered"}


def test_a_lost_send_found_or_not_is_remembered(ledger: Ledger) -> None:
    """What the runs showed is kept: a run found is known from then on; none found is still checked."""
    for key in ("u1", "u2"):
        _claimed(ledger, key)
        ledger.record_send(key)
        ledger.record_send(key)
        ledger.record_answer(key, b"{}")
    ledger.record_lost_send("u1", 1, run_id="run-lost")
    ledger.record_lost_send("u2", 1, run_id=None)
    found = {send.job_key: (send.checked, send.run_id) for send in ledger.lost_sends(["u1", "u2"])}
    assert found == {"u1": (True, "run-lost"), "u2": (True, None)}
    assert ledger.known_run_ids(["run-lost"]) == {"run-lost"}


def test_threads_sending_one_unit_at_once_get_distinct_numbers(ledger: Ledger, ledger_location: str) -> None:
    """Six threads recording a send of the same unit at once each get their own number: 1 to 6, none lost."""
    key = _claimed(ledger, "u1")
    barrier = threading.Barrier(6)
    numbers: list[int] = []

    def send() -> None:
        store = Ledger(ledger_location)
        try:
            barrier.wait(timeout=10)
            numbers.append(store.record_send(key))
        finally:
            store.close()

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(numbers) == [1, 2, 3, 4, 5, 6] and ledger.sends([key]) == {key: 6}


def test_an_older_ledgers_counted_attempts_become_sends(tmp_path: Path) -> None:
    """A ledger that only counted attempts keeps its counts, as sends with no time (never looked up)."""
    path = tmp_path / "old.sqlite"
    Ledger(path).close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE sends")
    db.execute("CREATE TABLE attempts (job_key TEXT PRIMARY KEY, sent INTEGER NOT NULL)")
    db.execute("INSERT INTO attempts VALUES ('u1', 3)")
    db.commit()
    db.close()
    ledger = Ledger(path)
    assert ledger.sends(["u1"]) == {"u1": 3}
    assert ledger.record_send("u1") == 4
    assert sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE name='attempts'").fetchone() is None
    ledger.close()
