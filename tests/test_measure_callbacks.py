"""Tests for measure(callback=receiver): batch jobs completed by signed callbacks, with polling as the fallback."""

from __future__ import annotations

import pandas as pd
import pytest

import humekit
from humekit.emulator import Emulator, Faults, Schedule
from humekit.pipeline.measure import measure
from humekit.webhooks.receiver import WebhookReceiver


def status_polls(emu: Emulator) -> int:
    return sum(r.method == "GET" and r.path.startswith("/v0/batch/jobs") and not r.path.endswith("/predictions")
               for r in emu.requests)


@pytest.fixture
def receiver(tmp_path):
    """A webhook receiver running on loopback, recording into its own SQLite file."""
    with WebhookReceiver(ledger=tmp_path / "events.sqlite") as receiver:
        receiver.start()
        yield receiver


TABLE = pd.DataFrame({"id": ["a", "b", "c"], "text": ["I am thrilled.", "I am tired.", "It is fine."]})


def test_callbacks_complete_the_run_with_zero_status_polls(tmp_path, receiver):
    """Every job's callback arrives, so no status poll and no predictions fetch is made."""
    emu = Emulator(api_key="k", schedule=Schedule(queued=0.1, running=0.2))
    result = measure(TABLE, id_col="id", source_col="text", models=["language"], kind="text", client=emu.client(),
                     ledger=tmp_path / "l.sqlite", progress=False, callback=receiver, callback_fallback=30)
    emu.stop()
    assert (result.status["status"] == "ok").all() and len(result.predictions)
    assert status_polls(emu) == 0
    assert not any(r.path.endswith("/predictions") for r in emu.requests)
    url = emu.jobs[0].request["callback_url"]
    assert url.startswith(receiver.url) and f"token={receiver.callback_token}" in url and "run=" in url


def test_a_lost_callback_still_completes_by_slow_polling(tmp_path, receiver):
    """When the callback never arrives, waiting falls back to polling after callback_fallback seconds."""
    emu = Emulator(api_key="k", schedule=Schedule(queued=0.1, running=0.2), faults=Faults(callback_loss_rate=1.0))
    result = measure(TABLE, id_col="id", source_col="text", models=["language"], kind="text", client=emu.client(),
                     ledger=tmp_path / "l.sqlite", progress=False, callback=receiver, callback_fallback=1.0)
    emu.stop()
    assert (result.status["status"] == "ok").all()
    assert 1 <= status_polls(emu) <= 2
    assert emu.callbacks and all(d.lost for d in emu.callbacks)


def test_callback_predictions_equal_fetched_predictions(tmp_path, receiver):
    """Predictions taken from the callback body equal those fetched from the API."""
    emu = Emulator(api_key="k", schedule=Schedule(queued=0.1, running=0.2))
    by_callback = measure(TABLE, id_col="id", source_col="text", models=["language"], kind="text",
                          client=emu.client(), ledger=tmp_path / "a.sqlite", progress=False, callback=receiver)
    polled = measure(TABLE, id_col="id", source_col="text", models=["language"], kind="text", client=emu.client(),
                     ledger=tmp_path / "b.sqlite", progress=False)
    emu.stop()
    pd.testing.assert_frame_equal(by_callback.predictions, polled.predictions)


def test_the_ledger_keeps_a_callback_body_as_received(tmp_path, receiver):
    """A job completed by callback has the callback's body, byte for byte, as its answer in the ledger."""
    emu = Emulator(api_key="k", schedule=Schedule(queued=0.1, running=0.2))
    result = measure(TABLE, id_col="id", source_col="text", models=["language"], kind="text", client=emu.client(),
                     ledger=tmp_path / "a.sqlite", progress=False, callback=receiver)
    emu.stop()
    (job_id,) = result.submitted
    recorded = receiver._store.find([job_id], ["job"], handled=False)[job_id]
    assert recorded.body is not None and result.ledger.predictions(job_id) == recorded.body


def test_callback_must_be_a_receiver(tmp_path):
    """Passing something else as callback= is a configuration error that says what to pass."""
    emu = Emulator(api_key="k")
    with pytest.raises(humekit.ConfigurationError, match="WebhookReceiver"):
        measure(TABLE, id_col="id", source_col="text", models=["language"], kind="text", client=emu.client(),
                ledger=tmp_path / "l.sqlite", progress=False, callback="http://example.org/cb")
    assert emu.requests == []
