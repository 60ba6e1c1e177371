"""Tests for humekit.backends.v1.reconciling: a lost send is matched to the run it became, or to none."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from humekit.backends.v1.reconciling import BODY_MARGIN_BYTES, reconcile_lost_sends
from humekit.emulator.v1.runs import iso
from humekit.errors import ServerError
from humekit.pipeline.ledger import Ledger, LedgerInput

T0 = 1_750_000_000.0


class Runs:
    """A stand-in for V1Client.list_runs: pages of two runs, newest first, or an outage."""

    def __init__(self, runs: list[dict[str, Any]], *, failing: bool = False):
        self.runs = sorted(runs, key=lambda r: r["started_at"], reverse=True)
        self.failing = failing
        self.calls: list[dict[str, Any]] = []

    def list_runs(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        if self.failing:
            raise ServerError("GET /v1/expression/run answered 500", status_code=500)
        start = int(params["cursor"] or 0)
        page = {"runs": self.runs[start:start + 2]}
        if start + 2 < len(self.runs):
            page["next_cursor"] = str(start + 2)
        return page


def run(run_id: str, at: float, seconds: float, *, endpoint: str = "audio", size: int | None = 320_044) -> dict:
    return {"run_id": run_id, "endpoint": endpoint, "mode": "file", "status": "ended", "started_at": iso(at),
            "metered_seconds": seconds, "bytes_received": size}


def billed(request: Mapping[str, Any]) -> float:
    return max((request["window"]["end_ms"] - request["window"]["start_ms"]) / 1000, 10.0)


@pytest.fixture
def ledger(tmp_path: Path, clock) -> Ledger:
    """Unit u1 (a 10 s window) sent at T0, its answer lost, sent again at T0+30 and answered as run-ok."""
    store = Ledger(tmp_path / "l.sqlite", clock=clock)
    store.claim("u1", backend="hume-v1", kind="file", request={"window": {"index": 0, "start_ms": 0, "end_ms": 10_000}},
                inputs=[LedgerInput("a.wav", "fp", "s:a", "c")])
    store.record_send("u1")
    store.record_send_bytes("u1", 1, 320_044)
    clock.advance(30)
    store.record_send("u1")
    store.record_answer("u1", b"{}", remote_id="run-ok")
    yield store
    store.close()


def reconcile(ledger: Ledger, runs: Runs) -> int:
    return reconcile_lost_sends(["u1"], ledger=ledger, client=runs, billed_seconds=billed, now=T0 + 40)  # type: ignore[arg-type]


def test_the_lost_sends_run_is_found_across_pages_and_known_runs_are_skipped(ledger: Ledger) -> None:
    """The run started while the lost send was out, with its seconds and bytes, is found on a later page."""
    runs = Runs([run("run-ok", T0 + 31, 10), run("run-other", T0 + 20, 12), run("run-lost", T0 + 1, 10),
                 run("run-video", T0 + 1, 10, endpoint="video"), run("run-before", T0 - 400, 10)])
    assert reconcile(ledger, runs) == 1
    assert [s.run_id for s in ledger.lost_sends(["u1"])] == ["run-lost"]
    assert runs.calls[0]["mode"] == "file" and runs.calls[0]["started_after"].endswith("Z") and len(runs.calls) == 3


@pytest.mark.parametrize(("candidate", "why"), [
    (run("r", T0 + 1, 11.5), "other seconds"),
    (run("r", T0 + 1, 10, size=100), "fewer bytes than were sent"),
    (run("r", T0 + 1, 10, size=320_044 + BODY_MARGIN_BYTES + 1), "far more bytes than were sent"),
    (run("r", T0 + 500, 10), "started after the resend"),
    ({**run("r", T0 + 1, 10), "metered_seconds": 0.0, "status": "errored"}, "not billed"),
])
def test_a_run_that_does_not_fit_is_not_taken(ledger: Ledger, candidate: dict, why: str) -> None:
    """A run that cannot be the lost send is left alone, and the send is marked looked up, with no run."""
    assert reconcile(ledger, Runs([candidate])) == 0, why
    (send,) = ledger.lost_sends(["u1"])
    assert send.checked and send.run_id is None


def test_a_run_reporting_the_whole_body_still_matches(ledger: Ledger) -> None:
    """A run counting the multipart envelope too (a few hundred bytes more) is the same send."""
    assert reconcile(ledger, Runs([run("r", T0 + 1, 10, size=320_044 + 300)])) == 1


def test_sends_of_similar_sizes_each_find_their_own_run(tmp_path: Path, clock) -> None:
    """Two lost sends 10 kB apart (within the margin): each takes the run of its own size, not the nearest one."""
    store = Ledger(tmp_path / "two.sqlite", clock=clock)
    for key, size in (("small", 64_492), ("large", 75_244)):
        store.claim(key, backend="hume-v1", kind="file", request={"window": {"index": 0, "start_ms": 0, "end_ms": 4_000}},
                    inputs=[LedgerInput(f"{key}.wav", f"fp-{key}", f"s:{key}", key)])
        store.record_send(key)
        store.record_send_bytes(key, 1, size)
        clock.advance(0.05)  # the smaller one was sent first
    clock.advance(30)
    for key in ("small", "large"):
        store.record_send(key)
        store.record_answer(key, b"{}", remote_id=f"run-{key}-answered")
    runs = Runs([run("run-large", T0 + 0.1, 10, size=75_244), run("run-small", T0 + 0.3, 10, size=64_492)])
    found = reconcile_lost_sends(["small", "large"], ledger=store, client=runs, billed_seconds=billed,  # type: ignore[arg-type]
                                 now=T0 + 40)
    assert found == 2
    assert {s.job_key: s.run_id for s in store.lost_sends(["small", "large"])} == {"small": "run-small",
                                                                                   "large": "run-large"}
    store.close()


def test_runs_that_cannot_be_read_leave_the_send_to_the_next_call(ledger: Ledger,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """An outage of the runs endpoint is logged, never raised; the next call looks again, then never more."""
    with caplog.at_level(logging.WARNING, logger="humekit"):
        assert reconcile(ledger, Runs([], failing=True)) == 0
    assert "counted as billed" in caplog.text
    assert not ledger.lost_sends(["u1"])[0].checked
    runs = Runs([run("run-lost", T0 + 1, 10)])
    assert reconcile(ledger, runs) == 1
    assert reconcile(ledger, runs) == 0 and len(runs.calls) == 1
