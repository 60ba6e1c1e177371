"""Crash and resume under v1: SIGKILL a ``measure(..., api="v1")`` process at many points; a rerun in a fresh process
finishes with every answer it had kept, resends at most what was in flight, and counts every resend in the cost."""

from __future__ import annotations

import json
import random
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from humekit.emulator.v1 import V1Faults

from ._support import canonical, integrity, record, run_child
from ._v1_study import LoggingV1Emulator, billed_seconds, ledger_view, make_study, resent_after_stored

CHILD = Path(__file__).with_name("_child_v1.py")
CONCURRENCY = 4  # V1Backend's default, which _v1_study.backend keeps
#: The emulator holds every request this long before answering, so ``upload:inflight`` fires while the server
#: has the upload: it is measured and billed, and its answer goes to a dead process.
LATENCY = 0.03

# (kill point, occurrence) per crash; "last" is the count a clean run makes (22 units: 19 audio windows and
# 3 frame batches of one video). Several crashes in one trial kill the rerun too. Together they cover: while
# claiming (before, inside, after the transaction), after a send is recorded and before its upload, on the
# wire while the server measures, after the answer arrived and before it is stored, inside and after the
# transaction that stores it, after a frame batch has read the previous batch's face_state, and seeded times.
TRIALS: list[list[tuple[str, Any]]] = [
    [("ledger.claim:before", 1)],
    [("txn.claim", 3)],
    [("ledger.claim:after", "last")],
    [("ledger.record_send:after", 1)],
    [("upload:before", 5)],
    [("upload:inflight", 1)],
    [("upload:inflight", 9)],
    [("upload:after", 1)],
    [("upload:after", 12)],
    [("upload:after", "last")],
    [("txn.record_answer", 3)],
    [("ledger.record_answer:after", 6)],
    [("ledger.record_answer:after", "last")],
    [("context:after", 1)],
    [("context:after", 2)],
    [("upload:inflight", 4), ("upload:after", 2)],
    [("txn.record_answer", 10), ("upload:inflight", 3), ("ledger.claim:after", 5)],
    [("delay", 1)],
    [("delay", 2)],
    [("delay", 3)],
]


@dataclass
class Study:
    table: Path
    frame: pd.DataFrame
    calls: dict[str, int]
    seconds: float
    predictions: pd.DataFrame
    uploads: int
    contents: set[str]
    r"""The digest of what each unit's upload carries (22 distinct)."""
    cost: dict[str, float]
    metered: float
    parts: dict[str, int]
    r"""How many units are audio windows and how many frame batches."""


def spec(emu: LoggingV1Emulator, study: Path, ledger: Path, out: Path, kill: dict[str, Any] | None = None
         ) -> dict[str, Any]:
    return {"url": emu.url, "ledger": str(ledger), "table": str(study), "out": str(out), "kill": kill}


def finished(done: Any) -> dict[str, Any]:
    """The summary line of a child that ran to the end."""
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Study]:
    """The v1 study (six rows, 22 units) and a clean run's calls, predictions, uploads, contents and cost."""
    folder = tmp_path_factory.mktemp("v1-crash-study")
    frame = make_study(folder / "media")
    table = folder / "table.pkl"
    frame.to_pickle(table)
    ledger = folder / "clean.sqlite"
    with LoggingV1Emulator(faults=V1Faults(latency=LATENCY)) as emu:
        clean = finished(run_child(spec(emu, table, ledger, folder / "clean"), script=CHILD))
        assert clean["counts"]["ok"] == len(frame)
        sent = len(emu.uploads)
        again = finished(run_child(spec(emu, table, ledger, folder / "again"), script=CHILD))
        assert len(emu.uploads) == sent and again["submitted"] == 0  # a rerun sends nothing
        contents = {u.digest for u in emu.uploads}
        assert len(contents) == sent  # every unit carries content of its own
        parts = Counter(str(r["part"]).split(":")[0] for r in ledger_view(ledger)["requests"].values())
        yield Study(table, frame, clean["calls"], clean["seconds"],
                    canonical(pd.read_pickle(folder / "clean" / "predictions.pkl")), sent, contents, clean["cost"],
                    emu.metered_seconds, dict(parts))


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(len(TRIALS)), ids=lambda i: f"{i:02d}-" + "+".join(
    f"{p}#{n}" for p, n in TRIALS[i]))
def test_v1_sigkill_then_resume(study: Study, trial: int, tmp_path: Path) -> None:
    """SIGKILL at the trial's points, rerun in a fresh process: all ok, same predictions, only lost answers resent."""
    rng = random.Random(trial)
    ledger = tmp_path / "ledger.sqlite"
    kills: list[dict[str, Any]] = []
    with LoggingV1Emulator(faults=V1Faults(latency=LATENCY)) as emu:
        for point, n in TRIALS[trial]:
            kill: dict[str, Any] = {"point": point, "n": 1}
            if point == "delay":
                kill["delay"] = round(rng.uniform(0.3, 1.0) * study.seconds, 3)  # mostly while sending
            else:
                kill["n"] = study.calls[point.replace("inflight", "before")] if n == "last" else n
                kill["delay"] = 0.005 + rng.random() * 0.01
            before = ledger_view(ledger) if ledger.exists() else {"sends": {}, "answers": {}}
            received = len(emu.uploads)
            done = run_child(spec(emu, study.table, ledger, tmp_path / "unused", kill), script=CHILD)
            allowed = (0, -signal.SIGKILL) if point == "delay" else (-signal.SIGKILL,)
            assert done.returncode in allowed, (kill, done.returncode, done.stderr[-3000:])
            emu.settle()  # what the dead process had sent is answered (to no one) before anything else happens
            assert integrity(ledger) == "ok"
            after = ledger_view(ledger)
            content = {u.request_id: u.digest for u in emu.uploads}
            stored = {content[r] for r in after["answers"].values()}
            # In flight at the kill: units whose send this process recorded and whose answer it did not store.
            in_flight = [k for k, sent in after["sends"].items()
                         if sent > before["sends"].get(k, 0) and k not in after["answers"]]
            # Lost: uploads the server took in (measured, billed) whose answer the ledger does not hold.
            lost = [u for u in emu.uploads[received:] if u.digest not in stored]
            assert len(lost) <= len(in_flight) <= CONCURRENCY, (kill, lost, in_flight)
            billed = emu.billed()
            kills.append({**kill, "killed": done.returncode == -signal.SIGKILL, "stored_at_kill": len(stored),
                          "in_flight": len(in_flight), "lost": len(lost),
                          "in_flight_seconds": sum(billed_seconds(after["requests"][k]) for k in in_flight),
                          "lost_seconds": sum(billed[str(u.run_id)] for u in lost)})

        resumed = finished(run_child(spec(emu, study.table, ledger, tmp_path / "resumed"), script=CHILD))
        assert integrity(ledger) == "ok"
        assert resumed["counts"]["ok"] == len(study.frame), pd.read_pickle(tmp_path / "resumed" / "status.pkl")
        pd.testing.assert_frame_equal(canonical(pd.read_pickle(tmp_path / "resumed" / "predictions.pkl")),
                                      study.predictions)

        # Each unit's content answered once in the ledger (no content answered twice), every content of the clean
        # run; and no upload of a content after the upload whose answer the ledger stored.
        final = ledger_view(ledger)
        content = {u.request_id: u.digest for u in emu.uploads}
        answered = [content[r] for r in final["answers"].values()]
        assert len(answered) == len(set(answered)) and set(answered) == study.contents
        assert resent_after_stored(emu.uploads, final["answers"].values()) == []
        # Requests beyond the clean run's: exactly the answers lost at the kills, each sent once more.
        extra = len(emu.uploads) - study.uploads
        assert extra == sum(k["lost"] for k in kills)
        # The cost counts every send (a lost one may have been billed): the clean cost plus what was in flight,
        # never less than the emulator billed; v1's runs confirm exactly the lost answers the server billed.
        cost = resumed["cost"]
        assert cost["requests"] == study.cost["requests"] + sum(k["in_flight"] for k in kills)
        assert cost["lost_answers"] == sum(k["in_flight"] for k in kills)
        assert cost["lost_billed"] == sum(k["lost"] for k in kills)
        assert cost["billed_seconds"] == pytest.approx(study.cost["billed_seconds"]
                                                       + sum(k["in_flight_seconds"] for k in kills))
        assert emu.metered_seconds == pytest.approx(study.metered + sum(k["lost_seconds"] for k in kills))
        assert cost["billed_seconds"] >= emu.metered_seconds - 1e-6
        orphans = len(final["requests"]) - len(final["answers"])  # claims a crash left, planned again elsewhere
        assert all(not final["sends"].get(k) for k in final["requests"] if k not in final["answers"])
    record(f"v1-crash-{trial:02d}", kills=kills, rows=len(study.frame), ok=resumed["counts"]["ok"],
           units=len(study.contents), windows=study.parts["audio"], frame_batches=study.parts["frames"],
           clean_uploads=study.uploads, uploads=len(emu.uploads), extra=extra,
           answered_twice=len(answered) - len(set(answered)), resent_after_stored=0, unsent_claims=orphans,
           cost_requests=cost["requests"], cost_seconds=cost["billed_seconds"], lost_answers=cost["lost_answers"],
           lost_billed=cost["lost_billed"], metered_seconds=emu.metered_seconds, clean_seconds=study.metered,
           concurrency=CONCURRENCY, integrity="ok")
