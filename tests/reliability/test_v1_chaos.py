"""Chaos under v1: a study measured through an emulator that injects 503s (with and without Retry-After), gateway
429s, 500s, dropped connections, lost answers, malformed and truncated 200s and latency."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import humekit
from humekit.clock import VirtualClock
from humekit.emulator.v1 import V1Faults

from ._support import canonical, record
from ._v1_study import LoggingV1Emulator, backend, billed_seconds, ledger_view, make_study, resent_after_stored

FAULTS = V1Faults(rates={"server_busy": 0.06, "server_busy_retry_after": 0.05, "gateway_rate_limit": 0.05,
                         "internal_error": 0.05, "drop": 0.04, "lost_response": 0.04, "malformed": 0.02,
                         "truncated": 0.02}, retry_after=2, latency=0.002, seed=11)
MAX_RERUNS = 25  # a call stops (an answer not v1's, or every retry of one request failed); the rerun resumes it
MAX_FACTOR = 2.0
EXTRA_WAVS = 60


def run(table: pd.DataFrame, faults: V1Faults, ledger: Path) -> tuple[Any, LoggingV1Emulator, Counter[str], float]:
    """Measure the table in-process on a virtual clock (Retry-After waits cost nothing); rerun after each stop."""
    clock = VirtualClock(start=1_796_000_000.0)
    emu = LoggingV1Emulator(faults=faults, clock=clock)
    stops: Counter[str] = Counter()
    started = time.perf_counter()
    while True:
        try:
            result = humekit.measure(table, id_col="id", source_col="source", models=["audio", "face"], api="v1",
                                     backend=backend(emu.url, clock=clock, transport=emu.transport()),
                                     ledger=ledger, progress=False)
            break
        except humekit.APIError as exc:
            stops[type(exc).__name__] += 1
            assert sum(stops.values()) <= MAX_RERUNS, f"the chaos run kept stopping: {stops}"
    result.ledger.close()
    return result, emu, stops, time.perf_counter() - started


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The v1 study (windows, a video's frame batches, a shared file) and 60 short WAVs: 66 rows, 97 units."""
    from humekit.testing.media import make_audio

    folder = tmp_path_factory.mktemp("v1-chaos")
    study = make_study(folder / "media")
    wavs = [make_audio(folder / f"w{i:02d}.wav", duration=2 + i % 4, seed=100 + i) for i in range(EXTRA_WAVS)]
    return pd.concat([study, pd.DataFrame({"id": [f"w-{i:02d}" for i in range(EXTRA_WAVS)],
                                           "source": [str(p) for p in wavs]})], ignore_index=True)


@pytest.mark.slow
def test_v1_chaos_ends_every_row_ok_with_the_clean_predictions(table: pd.DataFrame, tmp_path: Path) -> None:
    """Under injected faults every row ends ok with the fault-free predictions; nothing answered twice; cost holds."""
    clean, clean_emu, clean_stops, clean_seconds = run(table, V1Faults(), tmp_path / "clean.sqlite")
    assert (clean.status["status"] == "ok").all() and not clean_stops
    clean_uploads = len(clean_emu.uploads)

    result, emu, stops, seconds = run(table, FAULTS, tmp_path / "chaos.sqlite")
    assert (result.status["status"] == "ok").all(), result.status[result.status["status"] != "ok"]
    pd.testing.assert_frame_equal(canonical(result.predictions), canonical(clean.predictions))

    # Each unit's content answered once in the ledger, and never uploaded again after the upload that answered it.
    view = ledger_view(tmp_path / "chaos.sqlite")
    content = {u.request_id: u.digest for u in emu.uploads}
    answered = [content[r] for r in view["answers"].values()]
    assert len(answered) == len(set(answered)) == clean_uploads
    assert set(answered) == {u.digest for u in clean_emu.uploads}
    assert resent_after_stored(emu.uploads, view["answers"].values()) == []

    # Billing: every upload the emulator billed but whose answer the ledger does not hold is a lost answer that
    # result.cost shows confirmed by v1's runs; the rest of what cost counts (sends that never became a run:
    # dropped connections, a request whose every retry was refused) is what the emulator did not bill.
    cost = result.cost.attrs
    stored_runs = {str(u.run_id) for u in emu.uploads if u.request_id in set(view["answers"].values())}
    billed_lost = [u for u in emu.uploads if u.run_id is not None and u.run_id not in stored_runs]
    assert cost["total_lost_billed"] == len(billed_lost), [(u.fault, u.run_id) for u in billed_lost]
    assert cost["total_requests"] == len(view["answers"]) + cost["total_lost_answers"]
    unconfirmed = cost["total_lost_answers"] - cost["total_lost_billed"]
    assert cost["total_billed_seconds"] >= emu.metered_seconds - 1e-6
    by_key = {key: billed_seconds(view["requests"][key]) for key in view["answers"]}
    lost_seconds = sum(billed_seconds(view["requests"][s.job_key]) for s in result.ledger.lost_sends(list(by_key))
                       if s.run_id is None)
    assert cost["total_billed_seconds"] - lost_seconds == pytest.approx(emu.metered_seconds)
    assert emu.metered_seconds == pytest.approx(clean_emu.metered_seconds + sum(
        emu.billed()[str(u.run_id)] for u in billed_lost))

    faults = Counter(u.fault for u in emu.uploads)
    for name in ("server_busy", "server_busy_retry_after", "gateway_rate_limit", "internal_error", "drop",
                 "lost_response", "malformed", "truncated"):
        assert faults[name], (name, faults)  # every knob fired at least once
    factor = len(emu.uploads) / clean_uploads
    assert factor <= MAX_FACTOR, (faults, clean_uploads)
    record("v1-chaos", rows=len(table), ok=int((result.status["status"] == "ok").sum()), units=clean_uploads,
           uploads=len(emu.uploads), clean_uploads=clean_uploads, factor=round(factor, 3),
           requests=len(emu.requests), clean_requests=len(clean_emu.requests),
           injected={k: v for k, v in sorted(faults.items()) if k != "none"}, stops=dict(stops),
           answered_twice=len(answered) - len(set(answered)), resent_after_stored=0,
           billed_lost=len(billed_lost), lost_answers=cost["total_lost_answers"],
           lost_billed=cost["total_lost_billed"], unconfirmed=unconfirmed,
           cost_seconds=round(cost["total_billed_seconds"], 3), metered_seconds=round(emu.metered_seconds, 3),
           clean_seconds=round(clean_emu.metered_seconds, 3), seconds=round(seconds, 1),
           clean_wall_seconds=round(clean_seconds, 1),
           faults={"rates": dict(FAULTS.rates), "retry_after": FAULTS.retry_after, "latency": FAULTS.latency,
                   "seed": FAULTS.seed})
