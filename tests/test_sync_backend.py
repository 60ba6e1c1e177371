"""Tests for humekit.backends.sync through a synchronous in-memory API: the seam works with no v0 code."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _memory_backend import EMOTIONS, MemoryBackend, MemoryServer, expected_score

import humekit
from humekit.errors import APIConnectionError, ConfigurationError
from humekit.pipeline.input_limits import InputLimits
from humekit.backends.base import Decoded
from humekit.pipeline.planning import KINDS, Plan, RowInput, Unit, distinct_inputs, unit

TESTS = Path(__file__).parent


def table(n: int = 6) -> pd.DataFrame:
    """``n`` texts under string IDs, in an order unrelated to their IDs (and one text two rows share)."""
    texts = [f"utterance number {i}" for i in range(n)]
    texts[-1] = texts[0]  # the same text in two rows: sent once, copied to both
    frame = pd.DataFrame({"id": [f"p{(7 * i) % n:02d}-{i}" for i in range(n)], "text": texts})
    return frame.sample(frac=1.0, random_state=3).reset_index(drop=True)


def run(frame: pd.DataFrame, server: MemoryServer, ledger: Path, **options: object) -> humekit.MeasureResult:
    return humekit.measure(frame, id_col="id", source_col="text", kind="text", models=["language"],
                           backend=MemoryBackend(server), ledger=ledger, progress=False, **options)


def assert_scores_joined_by_id(result: humekit.MeasureResult, frame: pd.DataFrame) -> None:
    """Every ok row has exactly the scores the memory API gives its own text."""
    text_of = dict(zip(frame["id"], frame["text"], strict=True))
    ok = set(result.status.loc[result.status["status"] == "ok", "id"])
    got = result.predictions
    assert set(got["id"]) == ok
    for row_id, emotion, score in zip(got["id"], got["emotion"], got["score"], strict=True):
        assert score == pytest.approx(expected_score(text_of[row_id], str(emotion)))
    assert len(got) == len(ok) * len(EMOTIONS)


def test_one_request_per_distinct_input_joined_back_by_id(tmp_path: Path) -> None:
    """Six rows, five distinct texts: five requests, and every row gets its own text's scores by ID."""
    frame, server = table(), MemoryServer()
    result = run(frame, server, tmp_path / "l.sqlite")
    assert result.counts() == {"ok": 6, "failed": 0, "invalid": 0, "pending": 0}
    assert sorted(server.sent) == sorted((t,) for t in set(frame["text"]))
    assert result.status["id"].tolist() == frame["id"].tolist()  # indexed like the input
    assert_scores_joined_by_id(result, frame)


def test_a_rerun_sends_nothing_and_every_answer_is_in_the_ledger(tmp_path: Path) -> None:
    """The ledger holds each unit's answer; the same call again sends no request and gives the same result."""
    frame, server = table(), MemoryServer()
    first = run(frame, server, tmp_path / "l.sqlite")
    units = first.ledger.jobs()
    assert len(units) == 5 and set(units["status"]) == {"COMPLETED"} and set(units["backend"]) == {"memory"}
    assert first.ledger.answered(units["job_key"]) == set(units["job_key"])
    again = run(frame, MemoryServer(), tmp_path / "l.sqlite")
    assert again.submitted == () and len(again.reused) == 0
    pd.testing.assert_frame_equal(again.predictions, first.predictions)


def test_answers_already_stored_survive_a_failure_and_are_never_sent_again(tmp_path: Path) -> None:
    """When the API stops answering, what it answered is kept; the rerun sends only the rest."""
    frame = table(12)
    with pytest.raises(APIConnectionError):
        run(frame, MemoryServer(drop_after=4), tmp_path / "l.sqlite")
    healthy = MemoryServer()
    result = run(frame, healthy, tmp_path / "l.sqlite")
    assert result.counts()["ok"] == 12
    assert len(healthy.sent) == 11 - 4  # 11 distinct texts, 4 answered before the failure
    assert_scores_joined_by_id(result, frame)


def test_a_payload_refused_for_a_limit_is_never_sent_again(tmp_path: Path) -> None:
    """A 413 fails the row with the API's reason; neither a rerun nor retry_failed resends that payload."""
    frame, server = table(), MemoryServer()
    big = next(text for text in frame["text"] if (frame["text"] == text).sum() == 1)
    server.too_large.add(big)
    result = run(frame, server, tmp_path / "l.sqlite")
    refused = result.status[frame["text"] == big]
    assert set(refused["status"]) == {"failed"} and refused["error"].str.contains("413").all()
    assert result.counts()["ok"] == 5
    again = MemoryServer(too_large={big})
    retried = humekit.retry_failed(run(frame, again, tmp_path / "l.sqlite"), backend=MemoryBackend(again))
    assert again.sent == []
    assert set(retried.status.loc[frame["text"] == big, "status"]) == {"failed"}


def test_retry_failed_resends_a_unit_the_api_refused_for_another_reason(tmp_path: Path) -> None:
    """A 400 that is not about a limit fails the row; retry_failed sends it again and it comes out ok."""
    frame, server = table(), MemoryServer()
    flaky = frame["text"].iloc[2]
    server.broken.add(flaky)
    result = run(frame, server, tmp_path / "l.sqlite")
    failed = result.status[frame["text"] == flaky]
    assert set(failed["status"]) == {"failed"} and failed["error"].str.contains("could not read").all()
    fixed = MemoryServer()
    retried = humekit.retry_failed(result, backend=MemoryBackend(fixed))
    assert fixed.sent == [(flaky,)]
    assert retried.counts() == {"ok": 6, "failed": 0, "invalid": 0, "pending": 0}
    assert_scores_joined_by_id(retried, frame)


def test_invalid_rows_come_out_with_their_reason_and_are_not_sent(tmp_path: Path) -> None:
    """A row validation refuses (an empty text) is ``invalid`` and never reaches the API."""
    frame, server = table(), MemoryServer()
    frame.loc[3, "text"] = ""
    result = run(frame, server, tmp_path / "l.sqlite", errors="mark")
    assert result.status.loc[3, "status"] == "invalid" and isinstance(result.status.loc[3, "error"], str)
    assert ("",) not in server.sent
    assert result.counts()["ok"] == 5


def test_callbacks_are_refused_before_anything_is_sent(tmp_path: Path) -> None:
    """A synchronous API has nothing to call back: callback= is a clear error, and nothing is sent."""

    class Receiver:
        def callback_url(self, *, run: str) -> str:
            return "http://127.0.0.1:1/"

        def received(self, ids: object, *, event_name: str) -> dict[str, object]:
            return {}

    server = MemoryServer()
    with pytest.raises(ConfigurationError, match="nothing to call back"):
        run(table(), server, tmp_path / "l.sqlite", callback=Receiver())
    assert server.sent == []


_CHILD = """
import sys, json
sys.path.insert(0, {tests!r})
import pandas as pd
import humekit
from _memory_backend import MemoryBackend, MemoryServer
frame = pd.read_json({frame!r})
server = MemoryServer(kill_after={kill_after})
humekit.measure(frame, id_col="id", source_col="text", kind="text", models=["language"],
                backend=MemoryBackend(server, concurrency=1), ledger={ledger!r}, progress=False)
"""

_V0_SENDING = ("humekit.backends.v0.backend", "humekit.backends.v0.execution", "humekit.backends.v0.submitting",
               "humekit.backends.v0.waiting", "humekit.backends.v0.packing", "humekit.backends.v0.decoding")


@pytest.mark.parametrize("kill_after", [0, 3, 7])
def test_a_sigkill_mid_request_resumes_without_losing_or_repeating_answers(tmp_path: Path, kill_after: int) -> None:
    """A process killed while sending loses only the request in flight: the rerun resends it and the rest."""
    frame = table(10)  # 9 distinct texts
    frame_path = tmp_path / "table.json"
    frame.to_json(frame_path)
    ledger = tmp_path / "l.sqlite"
    child = textwrap.dedent(_CHILD).format(tests=str(TESTS), frame=str(frame_path), kill_after=kill_after,
                                           ledger=str(ledger))
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    stored = humekit.Ledger(ledger)
    units = stored.jobs()
    assert (units["status"] == "COMPLETED").sum() == kill_after
    assert (units["state"] == "submitting").sum() == 9 - kill_after  # every unit was recorded before any was sent
    assert stored.integrity_check() == "ok"
    healthy = MemoryServer()
    result = run(frame, healthy, ledger)
    assert result.counts()["ok"] == 10
    assert len(healthy.sent) == 9 - kill_after  # the answered ones are never sent again
    assert_scores_joined_by_id(result, frame)


_SLOW_CHILD = """
import sys
sys.path.insert(0, {tests!r})
import pandas as pd
import humekit
from _memory_backend import MemoryBackend, MemoryServer
frame = pd.read_json({frame!r})
server = MemoryServer(latency=0.4)
humekit.measure(frame, id_col="id", source_col="text", kind="text", models=["language"],
                backend=MemoryBackend(server, concurrency=1), ledger={ledger!r}, progress=False)
print(len(server.sent))
"""


def test_a_second_process_never_sends_what_a_live_one_holds(tmp_path: Path) -> None:
    """While one process sends a table, a second on the same ledger sends none of its units (its rows wait);
    once the first is done, the second finds every answer: each unit was sent once in all."""
    frame = table(10)  # 9 distinct texts
    frame_path = tmp_path / "table.json"
    frame.to_json(frame_path)
    ledger = tmp_path / "l.sqlite"
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_SLOW_CHILD).format(
        tests=str(TESTS), frame=str(frame_path), ledger=str(ledger))], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the first process has claimed everything and sent some
            if ledger.exists() and (humekit.Ledger(ledger).jobs()["status"] == "COMPLETED").sum() >= 1:
                break
            time.sleep(0.05)
        second = MemoryServer()
        meanwhile = run(frame, second, ledger, errors="mark")
        assert second.sent == []  # every unit is the live first process's to send
        assert meanwhile.counts()["pending"] > 0
        out, _ = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0 and int(out.split()[-1]) == 9
    after = run(frame, second, ledger)
    assert after.counts()["ok"] == 10 and second.sent == []
    assert_scores_joined_by_id(after, frame)


def test_measuring_with_a_synchronous_backend_loads_no_v0_sending_code(tmp_path: Path) -> None:
    """With backend= given, none of v0's packing, submitting, waiting or decoding modules is imported."""
    probe = textwrap.dedent(f"""
        import sys, json
        sys.path.insert(0, {str(TESTS)!r})
        import pandas as pd
        import humekit
        from _memory_backend import MemoryBackend, MemoryServer
        result = humekit.measure(pd.DataFrame({{"id": ["a", "b"], "text": ["one", "two"]}}), id_col="id",
                                 source_col="text", kind="text", models=["language"],
                                 backend=MemoryBackend(MemoryServer()), ledger={str(tmp_path / "l.sqlite")!r},
                                 progress=False)
        print(json.dumps({{"ok": result.counts()["ok"], "loaded": [m for m in {_V0_SENDING!r} if m in sys.modules]}}))
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(done.stdout) == {"ok": 2, "loaded": []}


class PairedBackend(MemoryBackend):
    """The memory API taking two inputs per request (to exercise the halving of a refused unit)."""

    def pack(self, rows: Sequence[RowInput], *, config: str, models: Sequence[str], salt: str,
             limits: InputLimits) -> Plan:
        groups = distinct_inputs(rows)
        items = [item for kind in KINDS for item in groups[kind]]
        units = [unit(items[i].kind, items[i:i + 2], f"{config}{salt}") for i in range(0, len(items), 2)]
        return Plan(jobs=[replace(u, models=tuple(models)) for u in units], unplannable={}, config_key=config)


def test_a_refused_unit_of_several_inputs_is_halved_down_to_the_input_at_fault(tmp_path: Path) -> None:
    """A 413 for a two-input request resends each input alone; only the one over the limit fails, once."""
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "text": ["one", "two", "three", "four"]})
    server = MemoryServer(too_large={"three"})
    result = humekit.measure(frame, id_col="id", source_col="text", kind="text", models=["language"],
                             backend=PairedBackend(server), ledger=tmp_path / "l.sqlite", progress=False)
    assert result.status.set_index("id")["status"].to_dict() == {"a": "ok", "b": "ok", "c": "failed", "d": "ok"}
    assert sorted(server.sent) == sorted([("one", "two"), ("three", "four"), ("three",), ("four",)])
    again = MemoryServer(too_large={"three"})
    humekit.measure(frame, id_col="id", source_col="text", kind="text", models=["language"],
                    backend=PairedBackend(again), ledger=tmp_path / "l.sqlite", progress=False)
    assert again.sent == []  # neither the pair nor the input alone is sent again


def test_no_more_requests_are_in_flight_than_concurrency_allows(tmp_path: Path) -> None:
    """With concurrency=2, at most two requests are being answered at any moment."""

    class Counting(MemoryServer):
        def __init__(self) -> None:
            super().__init__()
            self.now = self.peak = 0
            self.gauge = threading.Lock()

        def answer(self, texts: tuple[str, ...], keys: tuple[str, ...]) -> bytes:
            with self.gauge:
                self.now += 1
                self.peak = max(self.peak, self.now)
            time.sleep(0.02)  # long enough for the pool to try to overlap requests
            try:
                return super().answer(texts, keys)
            finally:
                with self.gauge:
                    self.now -= 1

    server = Counting()
    result = humekit.measure(table(12), id_col="id", source_col="text", kind="text", models=["language"],
                             backend=MemoryBackend(server, concurrency=2), ledger=tmp_path / "l.sqlite",
                             progress=False)
    assert result.counts()["ok"] == 12 and server.peak == 2


class HalvesBackend(MemoryBackend):
    """The memory API sent each text in two parts (as a long recording is sent in windows), the second
    part's times 10 s later on the text's clock."""

    def pack(self, rows: Sequence[RowInput], *, config: str, models: Sequence[str], salt: str,
             limits: InputLimits) -> Plan:
        groups = distinct_inputs(rows)
        units = [replace(unit(kind, [item], f"{config}{salt}", part=part), models=tuple(models))
                 for kind in KINDS for item in groups[kind] for part in ("1/2", "2/2")]
        return Plan(jobs=units, unplannable={}, config_key=config)

    def send(self, unit: Unit, *, models: Mapping[str, Any], transcription: Any) -> bytes:
        words = unit.inputs[0].value.split()
        half = words[: len(words) // 2] if unit.part == "1/2" else words[len(words) // 2 :]
        return self.server.answer((" ".join(half),), (unit.input_key(0),))

    def decode(self, kind: str, answer: bytes, *, request: Mapping[str, Any]) -> Decoded:
        decoded = super().decode(kind, answer, request=request)
        offset = 0.0 if request["part"] == "1/2" else 10.0
        return replace(decoded, scores=decoded.scores.assign(begin=offset))


def test_units_that_each_send_part_of_an_input_are_joined_together_and_resumed_part_by_part(tmp_path: Path) -> None:
    """Two parts per text: every row gets both parts' scores on its own clock; after a failure only the
    parts without an answer are sent again."""
    frame = pd.DataFrame({"id": ["a", "b", "c"], "text": ["one two three four", "five six", "seven eight nine ten"]})
    with pytest.raises(APIConnectionError):
        humekit.measure(frame, id_col="id", source_col="text", kind="text", models=["language"],
                        backend=HalvesBackend(MemoryServer(drop_after=3), concurrency=1), ledger=tmp_path / "l.sqlite",
                        progress=False)
    healthy = MemoryServer()
    result = humekit.measure(frame, id_col="id", source_col="text", kind="text", models=["language"],
                             backend=HalvesBackend(healthy), ledger=tmp_path / "l.sqlite", progress=False)
    assert len(healthy.sent) == 6 - 3
    assert result.counts()["ok"] == 3
    got = result.predictions
    for row_id, text in zip(frame["id"], frame["text"], strict=True):
        words = text.split()
        halves = {0.0: " ".join(words[: len(words) // 2]), 10.0: " ".join(words[len(words) // 2 :])}
        mine = got[got["id"] == row_id]
        assert sorted(mine["begin"].unique()) == [0.0, 10.0]
        for begin, emotion, score in zip(mine["begin"], mine["emotion"], mine["score"], strict=True):
            assert score == pytest.approx(expected_score(halves[begin], str(emotion)))
