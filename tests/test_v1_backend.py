"""Tests for humekit.backends.v1.backend against the v1 emulator: windows, the ledger, refusals, faults, SIGKILL."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import humekit
from humekit.backends.v1.backend import V1Backend
from humekit.backends.v1.client import V1Client
from humekit.emulator.v1 import V1Emulator, V1Faults, V1Limits
from humekit.testing.media import make_audio

LONG_SECONDS = 14 * 60  # longer than one 12-minute window: two requests


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """A WAV, an MP3, a 14-minute FLAC and a raw text, under IDs in no particular order."""
    folder = tmp_path_factory.mktemp("v1")
    paths = [make_audio(folder / "a.wav", duration=20, seed=1), make_audio(folder / "b.mp3", format="mp3", duration=15,
                                                                          seed=2),
             make_audio(folder / "long.flac", format="flac", duration=LONG_SECONDS, seed=3)]
    return pd.DataFrame({"id": ["s3", "s1", "s2", "s4"], "src": [*map(str, paths), "a raw text"]})


def backend(emu: V1Emulator, **options: object) -> V1Backend:
    return V1Backend(V1Client(api_key=emu.api_key, base_url=emu.url, transport=emu.transport(), max_retries=3,
                              wait_initial=0.01, wait_max=0.02), **options)  # type: ignore[arg-type]


def run(table: pd.DataFrame, emu: V1Emulator, ledger: Path | str, **options: object) -> humekit.MeasureResult:
    return humekit.measure(table, id_col="id", source_col="src", models=["audio"], backend=backend(emu),
                           ledger=ledger, progress=False, errors="mark", **options)


def uploads(emu: V1Emulator) -> int:
    return sum(r.method == "POST" for r in emu.requests)


def test_recordings_are_measured_in_windows_on_their_own_clock(recordings: pd.DataFrame, tmp_path: Path) -> None:
    """Every audio row is ok; the long one in two windows whose times run on across the cut; text is invalid."""
    emu = V1Emulator()
    result = run(recordings, emu, tmp_path / "l.sqlite")
    assert result.status.set_index("id")["status"].to_dict() == {"s1": "ok", "s2": "ok", "s3": "ok", "s4": "invalid"}
    assert "no language model" in result.status.set_index("id").loc["s4", "error"]
    assert uploads(emu) == 4  # a.wav, b.mp3 and the two windows of long.flac
    units = result.ledger.jobs()
    windows = sorted((r["window"]["start_ms"], r["window"]["end_ms"])
                     for r in result.ledger.requests(units["job_key"]).values() if r["files"][0]["path"].endswith("flac"))
    assert len(windows) == 2 and windows[0][0] == 0 and windows[0][1] == windows[1][0]
    assert windows[1][1] == LONG_SECONDS * 1000  # contiguous, covering the whole recording
    long = result.predictions[result.predictions["id"] == "s2"]
    assert long["begin"].min() < windows[0][1] / 1000 < long["end"].max() <= LONG_SECONDS
    assert {g.split(":")[0] for g in long["group"]} == {"0", "1"}  # utterances re-keyed by window
    assert (long["end"] >= long["begin"]).all()
    assert set(result.predictions["model"]) == {"audio"} and set(result.descriptors["kind"]) <= {"voice_attribute"}
    assert set(result.predictions["api"]) == set(result.descriptors["api"]) == {"v1"}
    assert emu.metered_seconds == pytest.approx(20 + 15 + LONG_SECONDS, abs=1)


def test_a_rerun_makes_no_request(recordings: pd.DataFrame, tmp_path: Path) -> None:
    """Every window's answer is in the ledger: the same call again sends nothing and gives the same tables."""
    emu = V1Emulator()
    first = run(recordings, emu, tmp_path / "l.sqlite")
    sent = len(emu.requests)
    again = run(recordings, emu, tmp_path / "l.sqlite")
    assert len(emu.requests) == sent
    pd.testing.assert_frame_equal(again.predictions, first.predictions)


def test_a_refused_window_is_never_sent_again(recordings: pd.DataFrame, tmp_path: Path) -> None:
    """A 413 fails its row with v1's code; a rerun and retry_failed do not send that window again."""
    emu = V1Emulator(limits=V1Limits(max_request_bytes=1_000_000))  # a.wav and b.mp3 fit, long.flac's windows do not
    result = run(recordings, emu, tmp_path / "l.sqlite")
    failed = result.status.set_index("id").loc["s2"]
    assert failed["status"] == "failed" and "audio_too_long" in failed["error"]
    sent = uploads(emu)
    humekit.retry_failed(run(recordings, emu, tmp_path / "l.sqlite"), backend=backend(emu))
    assert uploads(emu) == sent


@pytest.mark.parametrize("fault", ["server_busy_retry_after", "server_busy", "gateway_rate_limit", "internal_error",
                                   "drop"])
def test_busy_failing_or_dropped_requests_are_retried(recordings: pd.DataFrame, tmp_path: Path, fault: str) -> None:
    """Two faults in a row on the first upload only delay it: every row ends ok, each window billed once."""
    emu = V1Emulator(faults=V1Faults(script=(fault, fault)))  # type: ignore[arg-type]
    result = run(recordings.iloc[:2], emu, tmp_path / "l.sqlite")
    assert result.counts()["ok"] == 2
    assert len(emu.runs) == 2


_CHILD = """
import os, signal, sys
import numpy as np
import pandas as pd
import humekit
from humekit.backends.v1.backend import V1Backend
from humekit.backends.v1.client import V1Client

class Dying(V1Backend):
    sent = 0
    def send(self, unit, **kw):
        if Dying.sent == {kill_after} and not {answered}:
            os.kill(os.getpid(), signal.SIGKILL)  # before the request: nothing measured
        Dying.sent += 1
        answer = super().send(unit, **kw)
        if Dying.sent == {kill_after} and {answered}:
            os.kill(os.getpid(), signal.SIGKILL)  # measured and billed, the answer not yet stored
        return answer

table = pd.read_json({table!r})
client = V1Client(api_key={key!r}, base_url={url!r})
humekit.measure(table, id_col="id", source_col="src", models=["audio"], backend=Dying(client, concurrency=1),
                ledger={ledger!r}, progress=False, errors="mark")
"""


@pytest.mark.parametrize(("kill_after", "answered"), [(0, False), (2, False), (2, True)])
def test_a_sigkill_mid_upload_resumes_sending_only_what_has_no_answer(recordings: pd.DataFrame, tmp_path: Path,
                                                                      kill_after: int, answered: bool) -> None:
    """A process killed while uploading keeps every stored answer; the rerun sends only the windows left,
    and the cost shows the send whose answer was lost, confirmed billed by v1's runs only if it was."""
    table_path = tmp_path / "table.json"
    recordings.to_json(table_path)
    with V1Emulator() as emu:
        child = textwrap.dedent(_CHILD).format(kill_after=kill_after, answered=answered, table=str(table_path),
                                               key=emu.api_key, url=emu.url, ledger=str(tmp_path / "l.sqlite"))
        done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300)
        assert done.returncode == -9, done.stderr
        assert uploads(emu) == kill_after
        result = run(recordings, emu, tmp_path / "l.sqlite")
        assert result.counts() == {"ok": 3, "failed": 0, "invalid": 1, "pending": 0}
        assert uploads(emu) == 4 + answered  # the windows answered before the kill were not sent again
        assert result.cost.attrs["total_lost_answers"] == 1  # the send the kill interrupted
        assert result.cost.attrs["total_lost_billed"] == int(answered)  # found among v1's runs only if measured
        assert result.cost.attrs["total_billed_seconds"] >= emu.metered_seconds - 0.01  # never hides a charge
        looked_up = len(emu.requests)
        again = run(recordings, emu, tmp_path / "l.sqlite")
        assert len(emu.requests) == looked_up  # a rerun makes no request, not even to the runs
        pd.testing.assert_frame_equal(again.cost, result.cost)


class _Crash(Exception):
    """Stands for a SIGKILL between two claims (the claims before it are committed, nothing was sent)."""


def test_a_crash_while_claiming_a_recordings_windows_does_not_leave_the_rest_unsent(
        recordings: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the long recording's first window claimed when the call died: the rerun sends both, all its scores."""
    from humekit.pipeline.ledger import Ledger

    original = Ledger.claim

    def claim(self: Ledger, job_key: str, **options: Any) -> Any:
        if str(options["request"].get("part", "")).startswith("audio:1:"):
            raise _Crash
        return original(self, job_key, **options)

    monkeypatch.setattr(Ledger, "claim", claim)
    emu = V1Emulator()
    with pytest.raises(_Crash):
        run(recordings, emu, tmp_path / "l.sqlite")
    monkeypatch.setattr(Ledger, "claim", original)
    assert uploads(emu) == 0
    result = run(recordings, emu, tmp_path / "l.sqlite")
    assert uploads(emu) == 4 and result.counts()["ok"] == 3
    clean = run(recordings, V1Emulator(), tmp_path / "clean.sqlite")
    pd.testing.assert_frame_equal(result.predictions, clean.predictions)


def test_a_v0_model_name_is_refused_with_v1s_names(recordings: pd.DataFrame, tmp_path: Path) -> None:
    """models=['prosody'] under v1 is an error naming v1's models, before anything is sent."""
    emu = V1Emulator()
    with pytest.raises(humekit.UnknownModelError, match=r"\['audio', 'face'\]"):
        humekit.measure(recordings, id_col="id", source_col="src", models=["prosody"], backend=backend(emu),
                        ledger=tmp_path / "l.sqlite", progress=False)
    assert emu.requests == []


def test_stored_answers_keep_v1s_request_and_run_ids(recordings: pd.DataFrame, tmp_path: Path) -> None:
    """Each window's answer is stored as the API sent it, with its request_id and run_id."""
    emu = V1Emulator()
    result = run(recordings.iloc[:1], emu, tmp_path / "l.sqlite")
    (key,) = result.ledger.jobs()["job_key"]
    answer = json.loads(result.ledger.answer(key) or b"{}")
    assert len(answer["request_id"]) == 32 and answer["run_id"] == emu.runs[0].run_id


def test_with_only_a_key_set_measure_reaches_v1(recordings: pd.DataFrame, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """No api=, client= or backend=: HUME_API_KEY (here with HUME_BASE_URL at the emulator) means v1."""
    with V1Emulator() as emu:
        monkeypatch.setenv("HUME_API_KEY", emu.api_key)
        monkeypatch.setenv("HUME_BASE_URL", emu.url)
        result = humekit.measure(recordings.iloc[:1], id_col="id", source_col="src", models=["audio"],
                                 ledger=tmp_path / "l.sqlite", progress=False)
        assert result.counts()["ok"] == 1 and uploads(emu) == 1
        assert set(result.ledger.jobs()["backend"]) == {"hume-v1"}


def test_hume_api_v0_selects_the_batch_api(recordings: pd.DataFrame, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """HUME_API=v0 in the environment selects the v0 batch API (here the v0 emulator)."""
    from humekit.emulator import Emulator

    with Emulator() as emu:
        monkeypatch.setenv("HUME_API", "v0")
        monkeypatch.setenv("HUME_API_KEY", emu.api_key)
        monkeypatch.setenv("HUME_BASE_URL", emu.url)
        result = humekit.measure(recordings.iloc[:1], id_col="id", source_col="src", models=["prosody"],
                                 ledger=tmp_path / "l.sqlite", progress=False)
        assert set(result.ledger.jobs()["backend"]) == {"hume-v0-batch"}


@pytest.mark.parametrize(("api", "message"), [("v2", "choose 'v1'"), ("v0", "speaks v1")])
def test_an_api_that_cannot_be_used_is_refused_before_anything_is_sent(recordings: pd.DataFrame, tmp_path: Path,
                                                                       api: str, message: str) -> None:
    """An unknown api=, or one the given client does not speak, is a ConfigurationError saying what to do."""
    emu = V1Emulator()
    client = V1Client(api_key=emu.api_key, base_url=emu.url, transport=emu.transport())
    with pytest.raises(humekit.ConfigurationError, match=message):
        humekit.measure(recordings, id_col="id", source_col="src", models=["audio"], client=client, api=api,  # type: ignore[arg-type]
                        ledger=tmp_path / "l.sqlite", progress=False)
    assert emu.requests == []


def test_a_dry_run_prices_the_windows_and_sends_nothing(recordings: pd.DataFrame, tmp_path: Path) -> None:
    """dry_run=True: no request, no unit in the ledger; cost gives each row its requests and billed seconds."""
    emu = V1Emulator()
    dry = run(recordings, emu, tmp_path / "l.sqlite", dry_run=True)
    assert emu.requests == [] and dry.ledger.jobs().empty
    cost = dry.cost.set_index("id")
    assert cost["requests"].to_dict() == {"s1": 1, "s2": 2, "s3": 1, "s4": 0}
    assert cost.loc["s3", "billed_seconds"] == pytest.approx(20) and cost.loc["s1", "billed_seconds"] == pytest.approx(15)
    assert cost.loc["s2", "billed_seconds"] == pytest.approx(LONG_SECONDS)
    assert set(dry.status.set_index("id").loc[["s1", "s2", "s3"], "status"]) == {"pending"}
    assert dry.status.set_index("id").loc["s1", "error"].startswith("dry run")
    assert dry.cost.attrs == {"total_billed_seconds": pytest.approx(35 + LONG_SECONDS), "total_requests": 4,
                              "total_lost_answers": 0, "total_lost_billed": 0}


def test_the_cost_after_a_run_is_what_the_emulator_billed(recordings: pd.DataFrame, tmp_path: Path) -> None:
    """result.cost adds up to the emulator's metered seconds; a rerun reports the same, having sent nothing."""
    emu = V1Emulator()
    result = run(recordings, emu, tmp_path / "l.sqlite")
    assert result.cost.attrs["total_billed_seconds"] == pytest.approx(emu.metered_seconds, abs=0.01)
    assert result.cost.attrs["total_requests"] == uploads(emu) == 4
    again = run(recordings, emu, tmp_path / "l.sqlite")
    pd.testing.assert_frame_equal(again.cost, result.cost)


def test_a_window_sent_twice_is_counted_twice(recordings: pd.DataFrame, tmp_path: Path) -> None:
    """An answer lost after the run was billed is resent, and cost counts both sends (never hides one)."""
    emu = V1Emulator(faults=V1Faults(script=("lost_response",)))  # type: ignore[arg-type]
    result = run(recordings.iloc[:1], emu, tmp_path / "l.sqlite")
    assert result.counts()["ok"] == 1 and len(emu.runs) == 2
    assert result.cost.attrs["total_requests"] == 2
    assert result.cost.attrs["total_billed_seconds"] == pytest.approx(emu.metered_seconds, abs=0.01)
    assert result.cost.loc[0, ["lost_answers", "lost_billed"]].tolist() == [1, 1]


def test_lost_answers_are_confirmed_billed_only_when_v1_ran_them(recordings: pd.DataFrame,
                                                                 ledger_location: str) -> None:
    """A dropped upload (no run) and a lost answer (a run) both count; only the run is confirmed, by its id (on
    each ledger engine)."""
    emu = V1Emulator(faults=V1Faults(script=("drop", "lost_response")))  # type: ignore[arg-type]
    result = run(recordings.iloc[:1], emu, ledger_location)
    assert result.counts()["ok"] == 1 and uploads(emu) == 3 and len(emu.runs) == 2
    assert result.cost.loc[0, ["requests", "lost_answers", "lost_billed"]].tolist() == [3, 2, 1]
    ledger = humekit.Ledger(ledger_location)
    found = {send.run_id for send in ledger.lost_sends(ledger.jobs()["job_key"])}
    answered = set(ledger.jobs()["job_id"])
    assert found - {None} == {r.run_id for r in emu.runs} - answered  # the lost answer's own run
    requests = len(emu.requests)
    run(recordings.iloc[:1], emu, ledger_location)
    assert len(emu.requests) == requests  # looked up once: the rerun sends nothing and asks nothing


def test_a_malformed_answer_is_not_stored_and_the_rerun_sends_it_again(recordings: pd.DataFrame,
                                                                        tmp_path: Path) -> None:
    """A billed 200 missing v1's fields stops the call with nothing stored; the rerun measures it and counts both."""
    emu = V1Emulator(faults=V1Faults(script=("malformed",)))  # type: ignore[arg-type]
    with pytest.raises(humekit.APIError, match="not v1's response"):
        run(recordings.iloc[:1], emu, tmp_path / "l.sqlite")
    result = run(recordings.iloc[:1], emu, tmp_path / "l.sqlite")
    assert result.counts()["ok"] == 1 and len(result.predictions) > 0 and len(emu.runs) == 2
    assert result.cost.attrs["total_requests"] == 2
    assert result.cost.attrs["total_billed_seconds"] == pytest.approx(emu.metered_seconds, abs=0.01)


def test_a_lost_answer_is_confirmed_billed_even_when_its_call_stopped(recordings: pd.DataFrame,
                                                                       tmp_path: Path) -> None:
    """A's answer lost (billed) then resent and stored, B's answer malformed (the call stops): the rerun's cost
    confirms both lost answers among v1's runs, not only the one it resent itself."""
    emu = V1Emulator(faults=V1Faults(script=("lost_response", "none", "malformed")))  # type: ignore[arg-type]

    def measure() -> humekit.MeasureResult:
        return humekit.measure(recordings.iloc[:2], id_col="id", source_col="src", models=["audio"],
                               backend=backend(emu, concurrency=1), ledger=tmp_path / "l.sqlite", progress=False)

    with pytest.raises(humekit.APIError, match="not v1's response"):
        measure()
    result = measure()
    assert result.counts()["ok"] == 2 and len(emu.runs) == 4
    assert result.cost.attrs["total_lost_answers"] == result.cost.attrs["total_lost_billed"] == 2
    assert result.cost.attrs["total_billed_seconds"] == pytest.approx(emu.metered_seconds, abs=0.01)


def test_a_text_file_is_invalid_under_v1_for_the_right_reason(tmp_path: Path) -> None:
    """A .txt path under v1 is invalid because v1 measures no text (not because it is not audio)."""
    (tmp_path / "note.txt").write_text("I am so happy today.")
    emu = V1Emulator()
    table = pd.DataFrame({"id": ["n"], "src": [str(tmp_path / "note.txt")]})
    result = run(table, emu, tmp_path / "l.sqlite")
    assert result.status.loc[0, "status"] == "invalid" and "no language model" in result.status.loc[0, "error"]
    assert emu.requests == []


def test_a_missing_key_points_to_the_v1_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """V1Client with no key says how to set one, or to run offline against the v1 emulator."""
    monkeypatch.delenv("HUME_API_KEY", raising=False)
    with pytest.raises(humekit.MissingAPIKeyError, match="V1Emulator"):
        V1Client()


def test_a_30_minute_recording_is_stitched_into_one_timeline(tmp_path: Path) -> None:
    """30 minutes in windows that tile it exactly (no gap, no overlap: the documented cut is one instant), cut
    in its silences; every segment on the recording's clock inside its own window, times monotone, utterance
    and measurement ids unique per recording, no speech lost at a cut, the last end within the duration."""
    duration = 30 * 60
    silences = [(300, 320), (680, 700), (1000, 1015), (1380, 1400), (1600, 1620)]
    bursts, t = [], 0.5  # 4 s of speech-like sound every 5 s, except in the silences
    while t < duration - 1:
        if not any(a < t + 4 and t < b for a, b in silences):
            bursts.append((t, min(t + 4, duration - 0.5)))
        t += 5
    path = make_audio(tmp_path / "long.wav", duration=duration, sample_rate=8000, segments=bursts, seed=5)
    emu = V1Emulator()
    result = run(pd.DataFrame({"id": ["r"], "src": [str(path)]}), emu, tmp_path / "l.sqlite")
    assert result.status["status"].tolist() == ["ok"] and pd.isna(result.status["note"].iloc[0])

    requests = result.ledger.requests(result.ledger.jobs()["job_key"]).values()
    windows = sorted((r["window"]["index"], r["window"]["start_ms"], r["window"]["end_ms"]) for r in requests)
    assert [w[0] for w in windows] == list(range(len(windows))) and len(windows) == 3
    assert windows[0][1] == 0 and windows[-1][2] == duration * 1000
    assert all(a[2] == b[1] for a, b in zip(windows, windows[1:], strict=False))  # contiguous: no gap, no overlap
    assert all(10_000 <= end - start <= 12 * 60_000 for _, start, end in windows)
    assert all(any(a < cut / 1000 < b for a, b in silences) for _, _, cut in windows[:-1])  # cut in a silence

    scores = result.predictions
    assert scores.groupby(["group", "frame"])[["begin", "end"]].nunique().max().max() == 1  # one span per id
    segments = scores.drop_duplicates(["group", "frame"]).assign(
        window=lambda f: f["group"].str.split(":").str[0].astype(int),
        utterance=lambda f: f["group"].str.split(":").str[1].astype(int))
    segments = segments.sort_values(["window", "frame"], ignore_index=True)
    start = segments["window"].map({i: s / 1000 for i, s, _ in windows})
    end = segments["window"].map({i: e / 1000 for i, _, e in windows})
    assert ((segments["begin"] >= start) & (segments["end"] <= end)).all()  # on the recording's clock, in its window
    assert (segments["begin"] <= segments["end"]).all()
    assert segments["begin"].is_monotonic_increasing and segments["end"].is_monotonic_increasing
    assert segments["end"].max() <= duration
    assert not segments.duplicated(["window", "frame"]).any()  # measurement ids unique per recording (with the window)
    utterances = segments.groupby("group").agg(window=("window", "nunique"), begin=("begin", "min"),
                                               end=("end", "max")).sort_values("begin")
    assert (utterances["window"] == 1).all()  # an utterance id names one stretch of one window...
    assert (utterances["begin"].to_numpy()[1:] >= utterances["end"].to_numpy()[:-1]).all()  # ...never another's
    assert segments.groupby("window")["utterance"].min().tolist() == [0, 0, 0]  # v1 numbers each request from 0
    middles = np.array([(a + b) / 2 for a, b in bursts])
    covered = (segments["begin"].to_numpy()[:, None] <= middles) & (middles <= segments["end"].to_numpy()[:, None])
    assert covered.any(axis=0).all()  # every burst is in some measurement: nothing lost at a cut
    spans = set(result.descriptors[["group", "frame", "begin", "end"]].itertuples(index=False, name=None))
    assert spans <= set(segments[["group", "frame", "begin", "end"]].itertuples(index=False, name=None))
    assert emu.metered_seconds == pytest.approx(duration, abs=0.01)


def test_streamed_a_row_a_chunk_the_results_and_cost_are_those_in_memory(recordings: pd.DataFrame,
                                                                          tmp_path: Path) -> None:
    """out= with one row a chunk (the 14-minute FLAC's two windows included): the same status, scores and billed
    seconds as in memory, and a copy of a.wav under another ID, in a later chunk, is answered by its request."""
    table = pd.concat([recordings, pd.DataFrame({"id": ["s5"], "src": [recordings["src"].iloc[0]]})],
                      ignore_index=True)
    memory_emu, streamed_emu = V1Emulator(), V1Emulator()
    memory = run(table, memory_emu, tmp_path / "a.sqlite")
    streamed = run(table, streamed_emu, tmp_path / "b.sqlite", out=tmp_path / "out", chunk_rows=1)
    assert uploads(streamed_emu) == uploads(memory_emu) == 4  # a.wav once, b.mp3 once, the FLAC's two windows
    # the run ids are each emulator's own; s5 shows the run of s3 (the same a.wav), in both
    pd.testing.assert_frame_equal(memory.status.drop(columns="job_id"), streamed.status.drop(columns="job_id"))
    assert streamed.status["job_id"].iloc[4] == streamed.status["job_id"].iloc[0]
    pd.testing.assert_frame_equal(memory.predictions, streamed.predictions, check_dtype=False,
                                  check_categorical=False)
    assert memory.cost is not None and streamed.cost is not None
    pd.testing.assert_frame_equal(memory.cost, streamed.cost)
    assert streamed.cost.attrs["total_billed_seconds"] == pytest.approx(streamed_emu.metered_seconds, abs=0.01)
