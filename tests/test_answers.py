"""Tests for humekit.pipeline.ledger.answers: stored answers come back byte for byte."""

from __future__ import annotations

import orjson
import pytest

from humekit.pipeline.ledger import Ledger


@pytest.fixture
def ledger(ledger_location: str, clock) -> Ledger:
    """A fresh ledger on each engine (SQLite, PostgreSQL)."""
    store = Ledger(ledger_location, clock=clock)
    yield store
    store.close()


def test_predictions_round_trip_byte_identical(ledger: Ledger, ledger_location: str):
    """Stored predictions come back byte for byte; the first stored copy wins; unknown ids give None."""
    body = orjson.dumps([{"source": {"type": "text", "content": "zoë ✓"}, "results": {"predictions": []}}]) * 50
    body += bytes(range(256))  # any bytes, not only JSON
    ledger.store_predictions("id-1", body)
    ledger.store_predictions("id-1", b"later copy")
    assert ledger.predictions("id-1") == body
    assert ledger.predictions("id-2") is None
    assert ledger.has_predictions(["id-1", "id-2"]) == {"id-1"}
    reopened = Ledger(ledger_location)
    assert reopened.predictions("id-1") == body
    reopened.close()
