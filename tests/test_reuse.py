"""Tests for humekit.pipeline.reuse: a row holding an input a live unit already sends is answered by that unit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _memory_backend import EMOTIONS, MemoryBackend, MemoryServer, expected_score

import humekit
from humekit.pipeline.ledger import Ledger, LedgerInput
from humekit.pipeline.planning import RowInput
from humekit.pipeline.reuse import reuse_identical


def run(frame: pd.DataFrame, server: MemoryServer, ledger: Path | str, **options: object) -> humekit.MeasureResult:
    return humekit.measure(frame, id_col="id", source_col="text", kind="text", models=["language"], errors="mark",
                           backend=MemoryBackend(server), ledger=ledger, progress=False, **options)


def test_a_later_call_reuses_the_answer_to_an_identical_input(ledger_location: str) -> None:
    """Row b added later with a's text: nothing sent for it, and it gets a's scores (on both ledger engines)."""
    server = MemoryServer()
    run(pd.DataFrame({"id": ["a"], "text": ["I am fine."]}), server, ledger_location)
    later = run(pd.DataFrame({"id": ["a", "b"], "text": ["I am fine.", "I am fine."]}), server, ledger_location)
    assert server.sent == [("I am fine.",)]
    assert later.counts()["ok"] == 2
    for emotion in EMOTIONS:
        scores = later.predictions.loc[later.predictions["emotion"] == emotion].set_index("id")["score"]
        assert scores["a"] == scores["b"] == pytest.approx(expected_score("I am fine.", emotion))
    assert later.cost is not None and later.cost.set_index("id")["requests"].tolist() == [1, 1]


def test_another_request_is_not_reused(tmp_path: Path) -> None:
    """The same text under other models' options is sent again: only an identical request answers an identical input."""
    server = MemoryServer()
    run(pd.DataFrame({"id": ["a"], "text": ["Hello."]}), server, tmp_path / "l.sqlite")
    run(pd.DataFrame({"id": ["b"], "text": ["Hello."]}), server, tmp_path / "l.sqlite", transcription={"language": "en"})
    assert server.sent == [("Hello.",), ("Hello.",)]


def test_a_failed_unit_is_not_reused_and_a_retry_sends_afresh(tmp_path: Path) -> None:
    """A text whose request failed is sent again for a new row; retry_failed never borrows another row's answer."""
    server = MemoryServer(broken={"Bad."})
    first = run(pd.DataFrame({"id": ["a"], "text": ["Bad."]}), server, tmp_path / "l.sqlite")
    assert first.counts()["failed"] == 1
    server.broken.clear()
    second = run(pd.DataFrame({"id": ["a", "b"], "text": ["Bad.", "Bad."]}), server, tmp_path / "l.sqlite")
    assert len(server.sent) == 2 and second.counts() == {"ok": 1, "failed": 1, "invalid": 0, "pending": 0}
    retried = humekit.retry_failed(second)
    assert len(server.sent) == 3 and retried.counts()["ok"] == 2


def test_a_dry_run_says_an_identical_input_will_answer_and_records_nothing(tmp_path: Path) -> None:
    """dry_run=True: the row is not planned or priced, its reason says why, and the ledger gains no row."""
    server, ledger = MemoryServer(), tmp_path / "l.sqlite"
    run(pd.DataFrame({"id": ["a"], "text": ["Same."]}), server, ledger)
    before = len(Ledger(ledger).inputs(Ledger(ledger).jobs()["job_key"]))
    planned = run(pd.DataFrame({"id": ["a", "b"], "text": ["Same.", "Same."]}), server, ledger, dry_run=True)
    assert planned.plan is not None and planned.plan.jobs == [] and set(planned.plan.reused) == {1}
    assert "identical input" in planned.status.set_index("id").loc["b", "error"]
    assert planned.cost is not None and planned.cost.attrs["total_requests"] == 0
    assert len(Ledger(ledger).inputs(Ledger(ledger).jobs()["job_key"])) == before and len(server.sent) == 1


def _row(token: str, content: str) -> RowInput:
    return RowInput(0, token, "file", "/data/x.wav", content, content, 10, token, f"fp-{token}")


def _two_windows(tmp_path: Path) -> Ledger:
    """A ledger where row a's recording (content m1) is claimed as two windows, w0 and w1, none sent."""
    ledger = Ledger(tmp_path / "l.sqlite")
    for n in (0, 1):
        request = {"endpoint": "e", "models": {"audio": {}}, "transcription": None, "part": f"audio:{n}"}
        ledger.claim(f"w{n}", backend="b", kind="file", request=request,
                     inputs=[LedgerInput("x.wav", "fp-a", "a", "m1")])
    return ledger


def test_parts_are_reused_only_all_together_and_once_one_was_sent(tmp_path: Path) -> None:
    """A recording's two windows answer a copy of it only once one was sent (so both were claimed): then both do."""
    ledger = _two_windows(tmp_path)
    find = dict(ledger=ledger, models={"audio": {}}, backend="b", endpoint="e", transcription=None)
    assert reuse_identical([_row("b", "m1")], **find) == {}  # claimed, none sent: perhaps not all claimed
    assert ledger.record_send("w0") is not None
    assert reuse_identical([_row("b", "m1")], **find) == {0: "w0"}
    assert set(ledger.inputs(["w0", "w1"]).groupby("job_key")["id_token"].apply(frozenset)) == {frozenset("ab")}


def test_a_failed_part_keeps_every_part_from_being_reused(tmp_path: Path) -> None:
    """One window failed: the copy is not attached to the other (it would miss that window's scores)."""
    ledger = _two_windows(tmp_path)
    ledger.record_answer("w0", b"{}")
    ledger.record_failed("w1", "refused")
    assert reuse_identical([_row("b", "m1")], ledger=ledger, models={"audio": {}}, backend="b", endpoint="e",
                           transcription=None) == {}
    assert set(ledger.inputs(["w0", "w1"])["id_token"]) == {"a"}


def test_attach_records_rows_only_on_live_units_and_all_or_nothing(tmp_path: Path) -> None:
    """Ledger.attach adds the row and counts it in num_rows; with a refused unit among them it records nothing."""
    ledger = Ledger(tmp_path / "l.sqlite")
    request = {"endpoint": "e", "models": {"audio": {}}, "transcription": None}
    for key in ("u1", "u2"):
        ledger.claim(key, backend="b", kind="file", request=request, inputs=[LedgerInput("x.wav", "fp-a", "a", "m1")])
    assert reuse_identical([_row("b", "m1")], ledger=ledger, models={"audio": {}}, backend="b", endpoint="e",
                           transcription=None) == {0: "u1"}
    assert int(ledger.jobs(["u1"])["num_rows"].iloc[0]) == 2
    assert set(ledger.inputs(["u1"])["id_token"]) == {"a", "b"}
    ledger.record_rejected("u2", "too large", payload="p")
    copy = LedgerInput("x.wav", "fp-c", "c", "m1")
    assert ledger.attach({"u1": [copy], "u2": [copy]}) == set()
    assert "c" not in set(ledger.inputs(["u1", "u2"])["id_token"])
