"""Tests for humekit.measure: the whole pipeline against the emulator, joined by ID, resumable."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import textwrap
from collections import Counter

import httpx
import pandas as pd
import pytest

import humekit
from humekit.backends.v0.backend import BatchBackend
from humekit.clock import VirtualClock
from humekit.emulator import Emulator, Faults, Schedule
from humekit.pipeline.ledger import Ledger
from humekit.backends.v0.limits import DEFAULT_LIMITS
from humekit.pipeline.measure import measure, retry_failed
from humekit.testing.study import make_recordings
from humekit.testing.synthetic import make_wav

MODELS = {"prosody": {}, "face": {}, "language": {}}


def posts(emu: Emulator) -> int:
    return sum(r.method == "POST" for r in emu.requests)


@pytest.fixture
def study(tmp_path, clock):
    """A 500-row mixed study (audio, images, texts, URLs) and an emulator serving its media."""
    emu = Emulator(api_key="k", clock=clock, schedule=Schedule(queued=2, running=20), media_dir=tmp_path / "media")
    table = make_recordings(tmp_path, n=500, seed=1, media_url=f"{emu.url}/media")
    yield table, emu
    emu.stop()


def test_500_row_study_joins_every_row_to_its_own_recording(study, tmp_path):
    """Several jobs; every row ok; each row's segments end within its own recording's duration."""
    table, emu = study
    result = measure(table, id_col="id", source_col="source", models=MODELS, client=emu.client(),
                     ledger=tmp_path / "ledger.sqlite", progress=False)
    assert result.status.index.equals(table.index)
    assert (result.status["status"] == "ok").all(), result.status[result.status["status"] != "ok"].head()
    assert len(result.jobs) >= 5
    preds = result.predictions
    assert set(preds["id"]) == set(table["id"])
    assert set(preds["api"]) == {"v0"} and set(result.descriptors["api"]) <= {"v0"}  # the batch API's vocabulary
    ends = preds.dropna(subset=["end"]).groupby("id")["end"].max()
    truth = table.set_index("id")["duration"].dropna()
    assert (ends.loc[truth.index] <= truth + 1e-6).all()
    # durations differ row to row, so a mix-up would break both the bound above and this correlation
    assert ends.loc[truth.index].astype(float).corr(truth) > 0.9
    # texts: each row's language predictions quote its own text
    texts = table[table["kind"] == "text"].set_index("id")["source"]
    quoted = preds[preds["model"] == "language"].groupby("id")["text"].agg(lambda s: " ".join(dict.fromkeys(s)))
    for row_id, text in texts.items():
        assert quoted[row_id].split()[0] in text


def test_rerun_makes_no_new_request(study, tmp_path):
    """Re-running the same call with the same ledger POSTs nothing and returns the same result."""
    table, emu = study
    kwargs = dict(id_col="id", source_col="source", models=MODELS, client=emu.client(),
                  ledger=tmp_path / "ledger.sqlite", progress=False)
    first = measure(table, **kwargs)
    before = len(emu.requests)
    second = measure(table, **kwargs)
    assert len(emu.requests) == before
    assert second.submitted == () and set(second.reused) == set(first.status["job_id"])
    pd.testing.assert_frame_equal(first.status, second.status)
    pd.testing.assert_frame_equal(first.predictions, second.predictions)


def test_shuffled_table_gives_the_same_rows(study, tmp_path):
    """Joining is by ID: a shuffled copy of the table gets the same predictions per ID, without new jobs."""
    table, emu = study
    kwargs = dict(id_col="id", source_col="source", models=MODELS, client=emu.client(),
                  ledger=tmp_path / "ledger.sqlite", progress=False)
    first = measure(table, **kwargs)
    before = posts(emu)
    shuffled = measure(table.sample(frac=1, random_state=7), **kwargs)
    assert posts(emu) == before
    key = ["id", "model", "emotion", "begin", "group", "text"]
    a = first.predictions.sort_values(key, ignore_index=True)
    b = shuffled.predictions.sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(a, b)


def test_added_rows_only_submit_the_new_rows(tmp_path, clock):
    """Rows added to the table later go into new jobs; the old rows keep theirs."""
    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"id": range(6), "text": [f"Sentence number {i}." for i in range(6)]})
    kwargs = dict(id_col="id", source_col="text", models=["language"], client=emu.client(),
                  ledger=tmp_path / "l.sqlite", progress=False, kind="text")
    measure(table.iloc[:4], **kwargs)
    assert posts(emu) == 1
    result = measure(table, **kwargs)
    assert posts(emu) == 2 and (result.status["status"] == "ok").all()
    assert emu.jobs[1].request["text"] == ["Sentence number 4.", "Sentence number 5."]


def test_one_ledger_never_mixes_results_from_two_endpoints(tmp_path, clock):
    """The same table and ledger against another base URL submits its own jobs, never reusing the first's."""
    first, second = Emulator(api_key="k", clock=clock), Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"id": [1, 2], "text": ["One.", "Two."]})
    kwargs = dict(id_col="id", source_col="text", models=["language"], ledger=tmp_path / "l.sqlite",
                  progress=False, kind="text")
    a = measure(table, client=humekit.Client(api_key="k", base_url="http://a.test", transport=first.transport(),
                                             clock=clock), **kwargs)
    b = measure(table, client=humekit.Client(api_key="k", base_url="http://b.test", transport=second.transport(),
                                             clock=clock), **kwargs)
    assert posts(first) == 1 and posts(second) == 1 and b.reused == ()
    assert set(a.jobs["job_id"]) == {first.jobs[0].job_id} and set(b.jobs["job_id"]) == {second.jobs[0].job_id}
    again = measure(table, client=humekit.Client(api_key="k", base_url="http://a.test", transport=first.transport(),
                                                 clock=clock), **kwargs)
    assert posts(first) == 1 and again.reused == (first.jobs[0].job_id,)


def test_basename_collisions_never_mix_up_files(tmp_path, clock):
    """Two take1.wav in different folders get different upload names and their own predictions."""
    emu = Emulator(api_key="k", clock=clock)
    paths = []
    for folder, duration in (("a", 1.0), ("b", 3.0)):
        path = tmp_path / folder / "take1.wav"
        path.parent.mkdir()
        make_wav(path, segments=[(0.1, duration - 0.1)], duration=duration, seed=len(paths))
        paths.append(str(path))
    table = pd.DataFrame({"id": ["short", "long"], "path": paths})
    result = measure(table, id_col="id", source_col="path", models=["prosody"], client=emu.client(),
                     ledger=tmp_path / "l.sqlite", progress=False)
    filenames = [f["filename"] for f in emu.jobs[0].request["files"]]
    assert len(set(filenames)) == 2 and all("take1" not in f for f in filenames)
    ends = result.predictions.groupby("id")["end"].max()
    assert ends["short"] <= 1.0 < ends["long"] <= 3.0


def test_identical_inputs_are_sent_once_and_copied_to_each_row(tmp_path, clock):
    """A duplicate URL (or text) is sent once; every row holding it gets its own copy of the predictions."""
    emu = Emulator(api_key="k", clock=clock)
    url = emu.add_media("a.wav", make_wav(None, segments=[(0.1, 0.9)], duration=1.0))
    table = pd.DataFrame({"id": ["x", "y", "z"], "src": [url, url, "Same words."]})
    result = measure(table, id_col="id", source_col="src", models=["prosody", "language"], client=emu.client(),
                     ledger=tmp_path / "l.sqlite", progress=False)
    url_jobs = [j for j in emu.jobs if j.request["urls"]]
    assert url_jobs[0].request["urls"] == [url]
    x = result.predictions[result.predictions["id"] == "x"].drop(columns="id").reset_index(drop=True)
    y = result.predictions[result.predictions["id"] == "y"].drop(columns="id").reset_index(drop=True)
    pd.testing.assert_frame_equal(x, y)
    assert (result.status["status"] == "ok").all()


def test_failed_job_and_per_file_errors_show_hume_message(tmp_path, clock):
    """A FAILED job and a per-file error mark their rows 'failed' with Hume's message; others are ok."""
    emu = Emulator(api_key="k", clock=clock, faults=Faults(job_failure_rate=0.5, file_error_rate=0.3, seed=4,
                                                           job_failure_message="quota exceeded",
                                                           file_error_message="could not decode"))
    table = pd.DataFrame({"id": range(40), "text": [f"Line {i} of the study." for i in range(40)]})
    result = measure(table, id_col="id", source_col="text", models=["language"], client=emu.client(),
                     ledger=tmp_path / "l.sqlite", progress=False, kind="text",
                     limits=dataclasses.replace(DEFAULT_LIMITS, max_texts_per_job=5))
    statuses = result.status["status"]
    errors = result.status["error"].dropna()
    assert set(statuses) <= {"ok", "failed"} and (statuses == "failed").any() and (statuses == "ok").any()
    assert any("quota exceeded" in e for e in errors) and any("could not decode" in e for e in errors)
    ok_ids = set(result.status.loc[statuses == "ok", "id"])
    assert set(result.predictions["id"]) == ok_ids


def test_retry_failed_resubmits_only_failed_rows(ledger_location, clock):
    """retry_failed sends new jobs for the failed rows only and keeps the others' jobs (on each ledger engine)."""
    emu = Emulator(api_key="k", clock=clock, faults=Faults(job_failure_rate=0.5, seed=2))
    table = pd.DataFrame({"id": range(20), "text": [f"Row {i}." for i in range(20)]})
    limits = dataclasses.replace(DEFAULT_LIMITS, max_texts_per_job=4)
    first = measure(table, id_col="id", source_col="text", models=["language"], client=emu.client(),
                    ledger=ledger_location, progress=False, kind="text", limits=limits)
    failed = set(first.status.loc[first.status["status"] == "failed", "id"])
    assert failed
    before = posts(emu)
    retried = retry_failed(first)
    new_jobs = emu.jobs[before:]
    assert sorted(t for j in new_jobs for t in j.request["text"]) == sorted(f"Row {i}." for i in failed)
    kept = first.status["status"] == "ok"
    assert (retried.status.loc[kept, "job_id"] == first.status.loc[kept, "job_id"]).all()


def test_limit_rejection_splits_and_never_resends_the_same_payload(tmp_path, clock):
    """If the API refuses a job for a limit, it is split in halves; no identical payload is sent twice."""
    emu = Emulator(api_key="k", clock=clock, limits=dataclasses.replace(DEFAULT_LIMITS, max_texts_per_job=30))
    table = pd.DataFrame({"id": range(100), "text": [f"Text {i}." for i in range(100)]})
    result = measure(table, id_col="id", source_col="text", models=["language"], client=emu.client(),
                     ledger=tmp_path / "l.sqlite", progress=False, kind="text")
    assert (result.status["status"] == "ok").all()
    statuses = [r.status for r in emu.requests if r.method == "POST"]
    assert statuses == [400, 400, 200, 200, 400, 200, 200]
    bodies = [tuple(j.request["text"]) for j in emu.jobs]
    assert len(bodies) == len(set(bodies)) == 4


def test_single_oversized_row_is_reported_and_not_resent(tmp_path, ledger_location, clock):
    """A file the API refuses even alone ends 'failed' with the reason, and a rerun does not resend it (on each
    ledger engine)."""
    emu = Emulator(api_key="k", clock=clock, limits=dataclasses.replace(DEFAULT_LIMITS, max_upload_bytes=20_000))
    small, big = tmp_path / "small.wav", tmp_path / "big.wav"
    make_wav(small, segments=[(0.1, 0.3)], duration=0.4, sample_rate=8000)
    make_wav(big, segments=[(0.1, 2.0)], duration=3.0, sample_rate=8000)
    table = pd.DataFrame({"id": ["small", "big"], "path": [str(small), str(big)]})
    kwargs = dict(id_col="id", source_col="path", models=["prosody"], client=emu.client(),
                  ledger=ledger_location, progress=False)
    result = measure(table, **kwargs)
    assert result.status.set_index("id")["status"].to_dict() == {"small": "ok", "big": "failed"}
    assert "max_upload_bytes" in result.status.set_index("id").loc["big", "error"]
    before = posts(emu)
    measure(table, **kwargs)
    assert posts(emu) == before


def test_lost_response_is_reconciled_without_a_duplicate(ledger_location, clock):
    """When a POST's response is lost, the ledger finds the job in the list instead of paying twice (on each
    ledger engine)."""
    emu = Emulator(api_key="k", clock=clock, faults=Faults(lost_response_rate=1.0))
    table = pd.DataFrame({"id": [1, 2], "text": ["One.", "Two."]})
    result = measure(table, id_col="id", source_col="text", models=["language"], client=emu.client(),
                     ledger=ledger_location, progress=False, kind="text")
    assert len(emu.jobs) == 1 and (result.status["status"] == "ok").all()
    assert result.reused == (emu.jobs[0].job_id,)


@pytest.mark.parametrize(("settle", "paid_once"), [(10.0, True), (0.0, False)])
def test_a_lost_answer_to_a_post_still_being_processed_is_waited_for(tmp_path, clock, settle, paid_once):
    """With a job list that lags 5 s, the default settle finds the job; without it, the job is paid twice."""
    emu = Emulator(api_key="k", clock=clock, faults=Faults(lost_response_rate=1.0, list_lag=5.0))
    table = pd.DataFrame({"id": [1, 2], "text": ["One.", "Two."]})
    backend = BatchBackend(emu.client(), settle=settle)
    result = measure(table, id_col="id", source_col="text", models=["language"], backend=backend,
                     ledger=tmp_path / "l.sqlite", progress=False, kind="text")
    assert (result.status["status"] == "ok").all()
    # more than one job for the same payload is what settle exists to prevent
    assert (len(emu.jobs) == 1) is paid_once
    lists = [r for r in emu.requests if r.method == "GET" and r.path.rstrip("/") == "/v0/batch/jobs"]
    assert len(lists) >= 2


def test_a_refused_post_leaves_no_claim_to_reconcile(ledger_location, clock):
    """A POST refused outright (a misspelt model option: 400) releases its claim: the rerun posts at
    once, without waiting to look for a job that was never created (on each ledger engine)."""
    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"id": [1, 2], "text": ["One.", "Two."]})
    kwargs = dict(id_col="id", source_col="text", client=emu.client(), ledger=ledger_location,
                  progress=False, kind="text")
    for _ in range(2):
        started = clock.time()
        with pytest.raises(humekit.BadRequestError):
            measure(table, models={"language": {"granularty": "word"}}, **kwargs)
        assert clock.time() - started < 1.0  # no settle wait
        assert Ledger(ledger_location).jobs().empty
    assert [r.method for r in emu.requests] == ["POST", "POST"] and not emu.jobs
    result = measure(table, models={"language": {"granularity": "word"}}, **kwargs)
    assert (result.status["status"] == "ok").all() and len(emu.jobs) == 1


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        ({"limits": {"max_files_per_jobs": 2}}, "unknown field"),
        ({"limits": 5}, "must be a humekit.Limits"),
        ({"timeout": -1}, "seconds > 0"),
        ({"transcription": True}, "pass None"),
        ({"errors": "skip"}, "one of"),
        ({"kind": "audio"}, "one of"),
    ],
)
def test_unusable_options_are_refused_before_any_request(tmp_path, clock, option, needle):
    """Wrong option values raise a HumekitError naming the fix, and nothing is sent."""
    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"id": [1], "text": ["One."]})
    with pytest.raises(humekit.HumekitError, match=needle):
        measure(table, id_col="id", source_col="text", models=["language"], client=emu.client(),
                ledger=tmp_path / "l.sqlite", progress=False, **{"kind": "text", **option})
    assert not emu.requests


def test_limits_as_a_dict_of_overrides(tmp_path, clock):
    """limits={"max_texts_per_job": 2} works like dataclasses.replace(DEFAULT_LIMITS, ...)."""
    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"id": range(5), "text": [f"Text {i}." for i in range(5)]})
    result = measure(table, id_col="id", source_col="text", models=["language"], client=emu.client(),
                     ledger=tmp_path / "l.sqlite", progress=False, kind="text", limits={"max_texts_per_job": 2})
    assert len(result.jobs) == 3 and (result.status["status"] == "ok").all()


def test_retry_failed_refuses_unknown_options(tmp_path, clock):
    """A misspelt option to retry_failed names measure's options instead of a private function."""
    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"id": [1], "text": ["One."]})
    result = measure(table, id_col="id", source_col="text", models=["language"], client=emu.client(),
                     ledger=tmp_path / "l.sqlite", progress=False, kind="text")
    with pytest.raises(humekit.ConfigurationError, match="unknown option.*timout"):
        retry_failed(result, timout=5)


def test_jobs_record_the_configuration_they_were_submitted_with(tmp_path, clock):
    """result.jobs has each job's endpoint, full model options and transcription, read back from the ledger."""
    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"id": [1, 2], "text": ["One.", "Two."]})
    result = measure(table, id_col="id", source_col="text", models={"language": {"granularity": "sentence"}},
                     transcription=False, client=emu.client(), ledger=tmp_path / "l.sqlite", progress=False,
                     kind="text")
    (config,) = result.jobs["config"]
    assert config["endpoint"] == emu.url and config["transcription"] is False
    assert config["models"]["language"]["granularity"] == "sentence"
    assert "callback" not in json.dumps(Ledger(tmp_path / "l.sqlite").request(result.jobs["job_key"][0]))


def test_a_timeout_keeps_what_finished_in_the_error(tmp_path, clock):
    """WaitTimeoutError.result has the rows whose job finished during the wait (with predictions),
    the others pending; rerunning later finishes them without a new job."""
    emu = Emulator(api_key="k", clock=clock, schedule=Schedule(queued=1, running=100))
    table = pd.DataFrame({"id": [1, 2, 3, 4], "text": ["One.", "Two.", "Three.", "Four."]})
    kwargs = dict(id_col="id", source_col="text", models=["language"], client=emu.client(),
                  ledger=tmp_path / "l.sqlite", progress=False, kind="text")
    with pytest.raises(humekit.WaitTimeoutError):
        measure(table.iloc[:2], timeout=30, **kwargs)  # a slow job for rows 1-2
    emu.schedule = Schedule(queued=1, running=2)  # rows 3-4 get a fast one
    with pytest.raises(humekit.WaitTimeoutError) as info:
        measure(table, timeout=20, **kwargs)
    partial = info.value.result
    assert partial.status["status"].tolist() == ["pending", "pending", "ok", "ok"]
    assert set(partial.predictions["id"]) == {3, 4}
    clock.sleep(200)
    done = measure(table, **kwargs)
    assert (done.status["status"] == "ok").all() and len(emu.jobs) == 2


def test_interrupted_submission_resumes_without_a_duplicate(tmp_path, clock, monkeypatch):
    """A crash between the POST and recording its id is reconciled on the next run: no second job."""
    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"id": [1, 2, 3], "text": ["a b c.", "d e f.", "g h i."]})
    kwargs = dict(id_col="id", source_col="text", models=["language"], client=emu.client(),
                  ledger=tmp_path / "l.sqlite", progress=False, kind="text")
    original = Ledger.record_submitted

    def crash(self, job_key, job_id):
        raise KeyboardInterrupt("simulated crash right after the POST")

    monkeypatch.setattr(Ledger, "record_submitted", crash)
    with pytest.raises(KeyboardInterrupt):
        measure(table, **kwargs)
    monkeypatch.setattr(Ledger, "record_submitted", original)
    result = measure(table, **kwargs)
    assert len(emu.jobs) == 1 and posts(emu) == 1
    assert (result.status["status"] == "ok").all()


def test_killed_process_right_after_post_creates_no_duplicate(tmp_path):
    """SIGKILL right after a POST (before the id is recorded): a rerun in a new process adds no job."""
    with Emulator(api_key="k", schedule=Schedule(queued=0.1, running=0.2)) as emu:
        script = textwrap.dedent(f"""
            import os, signal, pandas as pd
            import humekit.pipeline.ledger as ledger_module
            from humekit import Client
            from humekit.pipeline.measure import measure
            if os.environ.get("CRASH"):
                def crash(self, job_key, job_id):
                    os.kill(os.getpid(), signal.SIGKILL)
                ledger_module.Ledger.record_submitted = crash
            table = pd.DataFrame({{"id": ["a", "b"], "text": ["First text.", "Second text."]}})
            result = measure(table, id_col="id", source_col="text", models=["language"], kind="text",
                             client=Client(api_key="k", base_url="{emu.url}"), ledger=r"{tmp_path / 'l.sqlite'}",
                             progress=False)
            print(result.counts())
        """)
        crashed = subprocess.run([sys.executable, "-c", script], env={**os.environ, "CRASH": "1"},
                                 capture_output=True, text=True, timeout=120)
        assert crashed.returncode == -9
        assert len(emu.jobs) == 1
        rerun = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        assert "'ok': 2" in rerun.stdout
        assert len(emu.jobs) == 1 and posts(emu) == 1


def test_bad_table_makes_no_request(tmp_path, clock):
    """A table with an invalid row raises before any request reaches the API."""
    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"id": [1, 2], "src": ["Hello.", str(tmp_path / "missing.wav")]})
    with pytest.raises(humekit.InvalidRowsError, match="missing.wav"):
        measure(table, id_col="id", source_col="src", models=["language"], client=emu.client(),
                ledger=tmp_path / "l.sqlite", progress=False)
    assert emu.requests == []


def test_mark_mode_measures_the_rest_and_reports_invalid(tmp_path, clock):
    """errors='mark' keeps invalid rows out of jobs and reports them as 'invalid' with the reason."""
    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"id": [1, 2], "src": ["Hello there.", str(tmp_path / "missing.wav")]}, index=[10, 20])
    result = measure(table, id_col="id", source_col="src", models=["language"], client=emu.client(),
                     ledger=tmp_path / "l.sqlite", progress=False, errors="mark")
    assert result.status.loc[10, "status"] == "ok"
    assert result.status.loc[20, "status"] == "invalid" and "file not found" in result.status.loc[20, "error"]


def test_wide_has_one_column_per_emotion_and_every_row(tmp_path, clock):
    """wide() has one row per input row and segment and one column per emotion; rows without predictions stay."""
    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"id": [1, 2], "src": ["Good morning everyone.", str(tmp_path / "missing.wav")]})
    result = measure(table, id_col="id", source_col="src", models={"language": {"granularity": "sentence"}},
                     client=emu.client(), ledger=tmp_path / "l.sqlite", progress=False, errors="mark")
    wide = result.wide()
    assert list(wide["id"]) == [1, 2]
    assert "Joy" in wide.columns and "Sarcasm" in wide.columns
    assert wide.loc[wide["id"] == 2, "Joy"].isna().all()


def test_timeout_leaves_jobs_resumable(tmp_path, clock):
    """A wait that times out names the pending jobs; the next call resumes without resubmitting."""
    emu = Emulator(api_key="k", clock=clock, schedule=Schedule(queued=10, running=600))
    table = pd.DataFrame({"id": [1], "text": ["Patience."]})
    kwargs = dict(id_col="id", source_col="text", models=["language"], client=emu.client(),
                  ledger=tmp_path / "l.sqlite", progress=False, kind="text")
    with pytest.raises(humekit.WaitTimeoutError) as info:
        measure(table, timeout=60, **kwargs)
    assert info.value.pending == [emu.jobs[0].job_id] and "same ledger" in str(info.value)
    result = measure(table, timeout=3600, **kwargs)
    assert result.status.loc[0, "status"] == "ok" and posts(emu) == 1


def test_repr_html_summarises(tmp_path, clock):
    """The notebook repr shows counts and problems."""
    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"id": [1], "text": ["Fine."]})
    result = measure(table, id_col="id", source_col="text", models=["language"], client=emu.client(),
                     ledger=tmp_path / "l.sqlite", progress=False, kind="text")
    assert "1</b> ok" in result._repr_html_() and "1 ok" in repr(result)


def test_predictions_columns(tmp_path, clock):
    """The long table has the ID column first and the documented segment columns."""
    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"rid": ["a"], "text": ["Fine, thanks."]})
    result = measure(table, id_col="rid", source_col="text", models=["language"], client=emu.client(),
                     ledger=tmp_path / "l.sqlite", progress=False, kind="text")
    columns = list(result.predictions.columns)
    assert columns[0] == "rid"
    assert {"model", "emotion", "score", "begin", "end", "text", "group", "frame"} <= set(columns)
    assert json.dumps(result.counts()) == '{"ok": 1, "failed": 0, "invalid": 0, "pending": 0}'


def test_virtual_clock_fixture_is_shared(clock):
    """Sanity: the fixture clock is virtual (tests never sleep for real)."""
    assert isinstance(clock, VirtualClock)


def test_retry_of_a_refused_job_splits_into_new_jobs(tmp_path, clock):
    """Retrying rows whose job was split after a limit refusal creates new halves, not the old jobs again."""
    emu = Emulator(api_key="k", clock=clock, limits=dataclasses.replace(DEFAULT_LIMITS, max_texts_per_job=2),
                   faults=Faults(job_failure_rate=1.0))
    table = pd.DataFrame({"id": range(4), "text": [f"Text {i}." for i in range(4)]})
    first = measure(table, id_col="id", source_col="text", models=["language"], client=emu.client(),
                    ledger=tmp_path / "l.sqlite", progress=False, kind="text")
    assert (first.status["status"] == "failed").all() and posts(emu) == 3
    retried = retry_failed(first)
    assert posts(emu) == 5  # the two halves again; the refused four-text payload is not resent
    assert not set(retried.status["job_id"]) & set(first.status["job_id"])


class PayloadLog(httpx.BaseTransport):
    """Wraps a transport; records, for each job POST, which of the named files' bytes it carried."""

    def __init__(self, inner: httpx.BaseTransport, files: dict[str, bytes]) -> None:
        self.inner, self.files, self.payloads = inner, files, Counter[tuple[str, ...]]()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v0/batch/jobs":
            body = request.read()
            self.payloads[tuple(name for name, data in self.files.items() if data in body)] += 1
        return self.inner.handle_request(request)


def test_retry_failed_never_resends_a_payload_the_server_refused(tmp_path, clock):
    """A server stricter than humekit's limits refuses one file: measure, retry_failed and a rerun POST each
    distinct payload once, the refused file alone exactly once, and its row says why and what to do."""
    emu = Emulator(api_key="k", clock=clock, limits=dataclasses.replace(DEFAULT_LIMITS, max_upload_bytes=20_000))
    files = {}
    for n, seconds in enumerate([0.4, 0.5, 0.6]):
        make_wav(tmp_path / f"small{n}.wav", segments=[(0.1, seconds - 0.1)], duration=seconds, sample_rate=8000)
        files[f"small{n}"] = (tmp_path / f"small{n}.wav").read_bytes()
    make_wav(tmp_path / "big.wav", segments=[(0.1, 2.0)], duration=3.0, sample_rate=8000)
    files["big"] = (tmp_path / "big.wav").read_bytes()
    log = PayloadLog(emu.transport(), files)
    client = humekit.Client(api_key="k", base_url=emu.url, transport=log, clock=clock)
    table = pd.DataFrame({"id": list(files), "path": [str(tmp_path / f"{name}.wav") for name in files]})
    kwargs = dict(id_col="id", source_col="path", models=["prosody"], client=client, ledger=tmp_path / "l.sqlite",
                  progress=False)
    first = measure(table, **kwargs)
    assert first.status.set_index("id")["status"].to_dict() == {"small0": "ok", "small1": "ok", "small2": "ok",
                                                                "big": "failed"}
    error = first.status.set_index("id").loc["big", "error"]
    assert "max_upload_bytes" in error and "will not send it again" in error and "re-encode" in error
    sent = log.payloads.copy()
    retried = retry_failed(first)
    assert retried.status.set_index("id").loc["big", "status"] == "failed"
    assert retried.status.set_index("id").loc["big", "error"] == error
    measure(table, **kwargs)
    assert log.payloads == sent  # neither the retry nor the rerun POSTed anything
    assert log.payloads[("big",)] == 1 and set(log.payloads.values()) == {1}
    # a ledger written before refused payloads had their own table still remembers them
    ledger = Ledger(tmp_path / "l.sqlite")
    with ledger._write() as db:
        db.execute("DELETE FROM refused_payloads")
    ledger.close()
    retry_failed(measure(table, **kwargs))
    assert log.payloads == sent


def test_wide_stays_small(study, tmp_path):
    """wide() has exactly one row per segment (no cartesian product of the segment keys)."""
    table, emu = study
    result = measure(table.head(40), id_col="id", source_col="source", models=MODELS, client=emu.client(),
                     ledger=tmp_path / "l.sqlite", progress=False)
    wide = result.wide()
    segments = result.predictions.groupby(["id", "model", "group", "frame", "begin", "text", "position_begin"],
                                          dropna=False, observed=True).ngroups
    assert len(wide) == segments
    assert wide.memory_usage(deep=True).sum() < 50 * result.predictions.memory_usage(deep=True).sum()


def test_export_parquet_round_trips_measure_output(tmp_path, clock):
    """Predictions with the user's ID column write to Parquet and read back with the same dtypes."""
    from humekit.predictions.export import read_parquet, to_parquet

    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"rid": [7, 8], "text": ["One two.", "Three four."]})
    result = measure(table, id_col="rid", source_col="text", models=["language"], kind="text", client=emu.client(),
                     ledger=tmp_path / "l.sqlite", progress=False)
    back = read_parquet(to_parquet(result.predictions, tmp_path / "p.parquet"))
    pd.testing.assert_frame_equal(back, result.predictions, check_categorical=False)


def test_rerun_does_not_hash_files_again(tmp_path, clock, monkeypatch):
    """A rerun takes the files' md5 from the ledger instead of reading every file again."""
    import humekit.pipeline.planning as planning

    emu = Emulator(api_key="k", clock=clock)
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"r{i}.wav"))
        make_wav(paths[-1], segments=[(0.1, 0.5)], duration=0.6 + i / 10, sample_rate=8000)
    table = pd.DataFrame({"id": range(3), "path": paths})
    kwargs = dict(id_col="id", source_col="path", models=["prosody"], client=emu.client(),
                  ledger=tmp_path / "l.sqlite", progress=False)
    first = measure(table, **kwargs)
    hashed = []
    content = planning._content

    def recording(kind, value, known):
        if kind == "file" and value not in known:
            hashed.append(value)  # this file is read and hashed
        return content(kind, value, known)

    monkeypatch.setattr(planning, "_content", recording)
    again = measure(table, **kwargs)
    assert hashed == [] and posts(emu) == 1
    pd.testing.assert_frame_equal(first.status, again.status)
    make_wav(paths[0], segments=[(0.1, 0.4)], duration=0.9, sample_rate=8000, seed=9)  # the file changes
    changed = measure(table, **kwargs)
    assert hashed == [paths[0]] and posts(emu) == 2 and changed.status.loc[0, "job_id"] != first.status.loc[0, "job_id"]


def test_a_file_replaced_in_place_keeping_its_timestamps_is_measured_again(tmp_path, clock):
    """Same path, same size, same mtime, new content: the rerun hashes it again and sends it (no stale scores)."""
    emu = Emulator(api_key="k", clock=clock)
    path = tmp_path / "take1.wav"
    make_wav(path, segments=[(0.2, 1.0)], duration=1.5, seed=1)
    table = pd.DataFrame({"id": ["p01"], "path": [str(path)]})
    kwargs = dict(id_col="id", source_col="path", models=["prosody"], client=emu.client(),
                  ledger=tmp_path / "l.sqlite", progress=False)
    first = measure(table, **kwargs)
    stamp = os.stat(path)
    replacement = tmp_path / "copy.wav"
    make_wav(replacement, segments=[(0.2, 1.0)], duration=1.5, seed=2)
    os.replace(replacement, path)
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert os.stat(path).st_size == stamp.st_size
    second = measure(table, **kwargs)
    assert posts(emu) == 2 and second.submitted and second.status["job_id"][0] != first.status["job_id"][0]
    assert not second.predictions["score"].reset_index(drop=True).equals(first.predictions["score"].reset_index(drop=True))


# -- per (row, model): adding or dropping a model pays only for what is new ---------------------

def uploads(emu: Emulator, since: int = 0) -> tuple[int, int]:
    """(job submissions, bytes uploaded in them) among the emulator's requests from ``since`` on."""
    sent = [r for r in emu.requests[since:] if r.method == "POST" and r.path == "/v0/batch/jobs"]
    return len(sent), sum(r.size for r in sent)


@pytest.fixture
def mixed_media(tmp_path):
    """Three WAVs, two face images and one video: what prosody, face, or both, can measure."""
    from humekit.testing.synthetic import make_image, make_mp4

    paths = []
    for n in range(3):
        make_wav(tmp_path / f"a{n}.wav", segments=[(0.2, 1.5), (2.0, 3.5)], duration=4.0, seed=n)
        paths.append(tmp_path / f"a{n}.wav")
    for n in range(2):
        make_image(tmp_path / f"i{n}.png", seed=n)
        paths.append(tmp_path / f"i{n}.png")
    make_mp4(tmp_path / "v0.mp4", duration=3.0)
    paths.append(tmp_path / "v0.mp4")
    return pd.DataFrame({"id": [p.stem for p in paths], "path": [str(p) for p in paths]})


def test_adding_a_model_sends_only_what_the_new_model_can_measure(mixed_media, tmp_path, clock):
    """prosody, then prosody+face: the audio is not resent; only the images (never measured) and the video (for face alone) go."""
    emu = Emulator(api_key="k", clock=clock)
    kwargs = dict(id_col="id", source_col="path", client=emu.client(), ledger=tmp_path / "l.sqlite",
                  progress=False, errors="mark")
    first = measure(mixed_media, models=["prosody"], **kwargs)
    assert {k: v for k, v in first.counts().items() if v} == {"ok": 4, "invalid": 2}  # images: prosody cannot measure them
    start = len(emu.requests)
    second = measure(mixed_media, models=["prosody", "face"], **kwargs)
    posted, sent = uploads(emu, start)
    sizes = {p.stem: os.path.getsize(p) for p in map(__import__("pathlib").Path, mixed_media["path"])}
    audio = sum(v for k, v in sizes.items() if k.startswith("a"))
    new = sizes["i0"] + sizes["i1"] + sizes["v0"]
    assert posted == 2 and new <= sent < new + min(v for k, v in sizes.items() if k.startswith("a")), (sent, audio)
    video_job = next(job for job in emu.jobs[1:] if "v0" in json.dumps(job.request))
    assert {m for m, options in video_job.request["models"].items() if options is not None} == {"face"}
    assert (second.status["status"] == "ok").all()
    preds = second.predictions
    assert set(preds.loc[preds["id"] == "v0", "model"].astype(str)) == {"prosody", "face"}
    assert set(preds.loc[preds["id"].isin(["a0", "a1", "a2"]), "model"].astype(str)) == {"prosody"}
    old = first.predictions.reset_index(drop=True)
    pd.testing.assert_frame_equal(preds[preds["model"] == "prosody"].reset_index(drop=True).astype(str),
                                  old.astype(str))  # the same answers (categories differ once tables are combined)
    assert "," in second.status.set_index("id").loc["v0", "job_id"] and len(second.jobs) == 3


def test_dropping_a_model_sends_nothing_and_keeps_only_the_asked_models(mixed_media, tmp_path, clock):
    """prosody+face, then prosody alone, then both again: no request at all, and each result has only the models asked for."""
    emu = Emulator(api_key="k", clock=clock)
    kwargs = dict(id_col="id", source_col="path", client=emu.client(), ledger=tmp_path / "l.sqlite", progress=False)
    both = measure(mixed_media, models=["prosody", "face"], **kwargs)
    start = len(emu.requests)
    prosody = measure(mixed_media, models=["prosody"], errors="mark", **kwargs)
    again = measure(mixed_media, models=["prosody", "face"], **kwargs)
    assert len(emu.requests) == start  # not even a poll or a fetch: the ledger holds every answer
    assert set(prosody.predictions["model"].astype(str)) == {"prosody"}
    assert {k: v for k, v in prosody.counts().items() if v} == {"ok": 4, "invalid": 2}
    pd.testing.assert_frame_equal(again.predictions, both.predictions)
    pd.testing.assert_frame_equal(again.status, both.status)


def test_a_ledger_written_before_planning_was_per_model_is_reused(tmp_path, clock):
    """A ledger made by humekit 0a36422 (tests/data) is read with nothing resent; adding burst sends only burst, only for audio."""
    import shutil
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "data"))
    try:
        import make_ledger_before_per_model as fixture
    finally:
        sys.path.pop(0)
    ledger = tmp_path / "old.sqlite"
    shutil.copy(Path(__file__).parent / "data" / "ledger-before-per-model.sqlite", ledger)
    emu = Emulator(api_key="k", clock=clock)
    emu.add_media("take3.wav", fixture.url_media())
    table = fixture.recordings(tmp_path, f"{emu.url}/media")
    kwargs = dict(id_col="id", source_col="source", client=emu.client(), ledger=ledger, progress=False)
    same = measure(table, models=fixture.MODELS, **kwargs)
    fewer = measure(table, models=["language"], **kwargs)
    assert emu.requests == [] and same.submitted == () and len(same.reused) == 3
    assert (same.status["status"] == "ok").all() and set(same.predictions["id"]) == set(table["id"])
    assert set(same.predictions["model"].astype(str)) == {"prosody", "language"}
    assert set(fewer.predictions["model"].astype(str)) == {"language"}
    more = measure(table, models=[*fixture.MODELS, "burst"], **kwargs)
    asked = [{m for m, options in job.request["models"].items() if options is not None} for job in emu.jobs]
    assert asked == [{"burst"}, {"burst"}]  # the files' job, the URL's: not the texts
    assert (more.status["status"] == "ok").all()
    assert not more.predictions[more.predictions["id"].str.startswith("text")]["model"].astype(str).eq("burst").any()


def test_retry_after_adding_a_model_resends_only_the_failed_model(tmp_path, clock):
    """language ok, then ner added and its job FAILS: the row says which model failed and retry_failed sends ner alone."""
    table = pd.DataFrame({"id": ["t1", "t2"], "text": ["Alice met Bob in Paris.", "Nothing happened today."]})
    kwargs = dict(id_col="id", source_col="text", ledger=tmp_path / "l.sqlite", progress=False, kind="text")
    clean, failing, healed = (Emulator(api_key="k", clock=clock, faults=Faults(job_failure_rate=rate))
                              for rate in (0.0, 1.0, 0.0))  # in-process emulators share one endpoint name
    first = measure(table, models=["language"], client=clean.client(), **kwargs)
    second = measure(table, models=["language", "ner"], client=failing.client(), **kwargs)
    assert (second.status["status"] == "failed").all()
    assert second.status["error"].str.startswith("ner: job ").all()
    assert set(second.predictions["model"].astype(str)) == {"language"}  # what language said is kept
    retried = retry_failed(second, client=healed.client())
    assert [{m for m, o in job.request["models"].items() if o is not None} for job in healed.jobs] == [{"ner"}]
    assert (retried.status["status"] == "ok").all() and posts(clean) == 1
    assert set(retried.predictions["model"].astype(str)) == {"language", "ner"}
    assert first.status["job_id"].isin(retried.status["job_id"].str.split(", ").explode()).all()


def test_paths_with_whitespace_are_measured_as_files_not_texts(tmp_path, clock):
    """'take1.wav ' (spreadsheet residue) goes as an upload scored by prosody, a URL with a newline as that URL; only the real text gets language."""
    emu = Emulator(api_key="k", clock=clock)
    (tmp_path / "media").mkdir()
    make_wav(tmp_path / "media" / "take1.wav", segments=[(0.2, 1.0)], duration=1.5, seed=1)
    url = emu.add_media("clip.wav", make_wav(None, segments=[(0.1, 0.8)], duration=1.0, seed=2))
    table = pd.DataFrame({"id": ["trail", "lead", "url", "text"],
                          "path": ["media/take1.wav ", " media/take1.wav", f"{url}\n", "So glad you came."]})
    result = measure(table, id_col="id", source_col="path", models=["prosody", "language"], client=emu.client(),
                     ledger=tmp_path / "l.sqlite", root=str(tmp_path), progress=False)
    assert (result.status["status"] == "ok").all()
    assert result.checked["source_kind"].tolist() == ["file", "file", "url", "text"]
    assert result.checked["source_note"].notna().tolist() == [True, True, True, False]
    kinds = sorted(next(k for k in ("files", "urls", "text") if job.request.get(k)) for job in emu.jobs)
    assert kinds == ["files", "text", "urls"]
    texts = next(job for job in emu.jobs if job.request.get("text")).request["text"]
    assert texts == ["So glad you came."]
    assert set(result.predictions.loc[result.predictions["id"] == "trail", "model"].astype(str)) >= {"prosody"}


# -- any ID column name: kept intact in every output, or refused before anything is sent ----------

def test_every_output_column_name_as_id_col_is_kept_intact_or_refused_before_sending(tmp_path, clock):
    """Each column name of status, predictions, descriptors, wide(), checked, jobs and humekit run's wide as id_col:
    refused (nothing sent, the fix named) or kept intact in every output, and the rerun sends nothing."""
    from humekit.pipeline.columns import OUTPUT_COLUMNS
    from humekit.testing.synthetic import make_image
    from humekit.pipeline.validation import ADDED_COLUMNS

    make_wav(tmp_path / "a.wav", segments=[(0.2, 1.2)], duration=1.5, seed=1)
    make_image(tmp_path / "f.png", seed=1)
    base = pd.DataFrame({"id": ["a", "f", "t"], "src": [str(tmp_path / "a.wav"), str(tmp_path / "f.png"),
                                                        "Alice was thrilled in Paris."]})
    emu = Emulator(api_key="k", clock=clock)
    kwargs = dict(source_col="src", models=["prosody", "face", "burst", "language"], client=emu.client(),
                  ledger=tmp_path / "l.sqlite", progress=False)
    first = measure(base, id_col="id", **kwargs)
    outputs = [first.status, first.predictions, first.descriptors, first.wide(), first.checked, first.jobs,
               first.per_row(columns=True)]
    names = sorted({str(c) for frame in outputs for c in frame.columns} - {"id", "src"})
    assert {"model", "text", "emotion", "score", "begin", "file", "status", "kind", "segments", "Joy",
            "source_kind", "job_key"} <= set(names)
    requests, sent = len(emu.requests), posts(emu)
    refused, intact = [], []
    for name in names:
        table = base.rename(columns={"id": name})
        if name in OUTPUT_COLUMNS or name in ADDED_COLUMNS:
            with pytest.raises(humekit.TableError, match=r"rename|pass id_col=") as info:
                measure(table, id_col=name, **kwargs)
            assert len(emu.requests) == requests, name
            assert f"{name!r}" in str(info.value)
            refused.append(name)
            continue
        for _ in range(2):  # the first call rejoins the ledger's jobs under the new name, the rerun too
            result = measure(table, id_col=name, **kwargs)
            assert posts(emu) == sent and (result.status["status"] == "ok").all(), name
            assert result.status[name].tolist() == ["a", "f", "t"]
            for frame in (result.predictions, result.descriptors, result.wide(), result.per_row(columns=True),
                          result.wide(columns=True)):
                assert list(frame.columns).count(name) == 1 and set(frame[name]) <= {"a", "f", "t"}, name
            assert set(result.predictions[name]) == {"a", "f", "t"}
        intact.append(name)
    assert len(refused) > 60 and {"backend", "claimed_ms", "owner", "config"} <= set(intact)


def test_a_messy_study_pays_once_per_row_and_model(tmp_path, clock):
    """Regression over a messy table (issue 13, items 1-3): paths with whitespace are files, an awkward ID column name
    stays intact, and adding face sends only the image and the video (face alone), never the audio again."""
    from pathlib import Path

    from humekit.testing.synthetic import make_image, make_mp4

    for n in (1, 2, 3):
        (tmp_path / "media" / f"p0{n}").mkdir(parents=True)
        make_wav(tmp_path / "media" / f"p0{n}" / "take1.wav", segments=[(0.2, 1.4)], duration=2.0, seed=n)
    make_image(tmp_path / "media" / "p01" / "face.png", seed=1)
    make_mp4(tmp_path / "media" / "p03" / "clip.mp4", duration=2.0)
    sources = ["media/p01/take1.wav ", " media/p02/take1.wav", "media/p03/take1.wav\n", "media/p01/face.png\t",
               " media/p03/clip.mp4 ", "yes/no questions are hard", "So glad you came.", "media/p09/take1.wav "]
    table = pd.DataFrame({"row_id": [f"s{n:02d}" for n in range(len(sources))], "where": sources,
                          "group": list("aabbccdd")})
    emu = Emulator(api_key="k", clock=clock)
    kwargs = dict(id_col="row_id", source_col="where", client=emu.client(), ledger=tmp_path / "l.sqlite",
                  root=str(tmp_path), errors="mark", progress=False)
    first = measure(table, models=["prosody", "language"], **kwargs)
    states = first.status.set_index("row_id")["status"].astype(str).to_dict()
    assert states == {**{f"s{n:02d}": "ok" for n in (0, 1, 2, 4, 5, 6)}, "s03": "invalid", "s07": "invalid"}
    assert "whitespace around it" in first.status.set_index("row_id").loc["s07", "error"]
    assert first.checked["source_kind"].tolist() == ["file"] * 5 + ["text"] * 2 + ["file"]
    texts = [job.request["text"] for job in emu.jobs if job.request.get("text")]
    assert texts == [["yes/no questions are hard", "So glad you came."]]  # no path was measured as text

    start = len(emu.requests)
    second = measure(table, models=["prosody", "language", "face"], **kwargs)
    posted, sent = uploads(emu, start)
    media = tmp_path / "media"
    new = os.path.getsize(media / "p01" / "face.png") + os.path.getsize(media / "p03" / "clip.mp4")
    audio = min(os.path.getsize(p) for p in media.glob("p0*/take1.wav"))
    assert posted == 2 and new <= sent < new + audio
    assert {m for job in emu.jobs[-2:] for m, o in job.request["models"].items() if o is not None} == \
        {"prosody", "language", "face"}  # the image's job (never measured) asks all three, the video's only face
    assert any({m for m, o in job.request["models"].items() if o is not None} == {"face"} for job in emu.jobs[-2:])
    assert (second.status["status"] == "ok").sum() == 7
    for frame in (second.status, second.predictions, second.descriptors, second.wide()):
        assert list(frame.columns).count("row_id") == 1 and set(frame["row_id"]) <= set(table["row_id"])
    video = second.predictions[second.predictions["row_id"] == "s04"]
    assert set(video["model"].astype(str)) >= {"prosody", "face"}

    before = len(emu.requests)
    third = measure(table, models=["prosody", "language", "face"], **kwargs)
    assert len(emu.requests) == before and third.submitted == ()
    pd.testing.assert_frame_equal(third.predictions, second.predictions)
    assert Path(third.checked.loc[0, "source_path"]) == media / "p01" / "take1.wav"


def test_rows_without_predictions_say_why(tmp_path, clock):
    """Silent audio and a faceless image come back ok with a note; measured rows have none; image faces have no time."""
    from PIL import Image

    make_wav(tmp_path / "silent.wav", segments=[], duration=3.0)
    make_wav(tmp_path / "speech.wav", segments=[(0.2, 1.5)], seed=3)
    Image.new("RGB", (320, 400), (90, 120, 150)).save(tmp_path / "wall.png")
    from humekit.testing.synthetic import make_image

    make_image(tmp_path / "face.png")
    table = pd.DataFrame({"id": ["silent", "speech", "wall", "face", "calm"],
                          "path": ["silent.wav", "speech.wav", "wall.png", "face.png", "all quiet here."]})
    emu = Emulator(api_key="k", clock=clock)
    result = measure(table, id_col="id", source_col="path", root=str(tmp_path), models=["prosody", "face", "ner"],
                     client=emu.client(), ledger=tmp_path / "l.sqlite", progress=False)
    status = result.status.set_index("id")
    assert (status["status"] == "ok").all()
    notes = {k: v if isinstance(v, str) else None for k, v in status["note"].items()}
    speech = notes.pop("speech")  # its synthetic words may or may not hold a name for ner
    assert speech is None or speech == "ner: no named entity found"
    assert notes == {"silent": "prosody: no speech found; ner: no named entity found",
                     "wall": "face: no face found", "face": None, "calm": "ner: no named entity found"}
    assert set(result.predictions["id"]) >= {"speech", "face"} and "wall" not in set(result.predictions["id"])
    faces = result.predictions[result.predictions["model"] == "face"]
    assert len(faces) and faces["begin"].isna().all() and faces["end"].isna().all()  # an image has no timeline


def _timed_out(table: pd.DataFrame, ledger, clock: VirtualClock) -> None:
    """Run ``table`` into ``ledger`` against an emulator whose jobs are still queued when measure times out."""
    emu = Emulator(api_key="k", clock=clock, schedule=Schedule(queued=100, running=100))
    backend = BatchBackend(emu.client(), endpoint="my-emulator")
    with pytest.raises(humekit.WaitTimeoutError):
        measure(table, id_col="id", source_col="text", models=["language"], backend=backend, ledger=ledger,
                timeout=5, progress=False)


@pytest.mark.parametrize("rows", [4, 250])
def test_jobs_a_restarted_emulator_lost_come_back_failed_with_the_fix(tmp_path, clock, rows):
    """A rerun whose ledgered jobs the endpoint answers 404 for: those rows are failed, saying why and what to do."""
    table = pd.DataFrame({"id": range(rows), "text": [f"Text {i}." for i in range(rows)]})
    _timed_out(table, tmp_path / "l.sqlite", clock)
    restarted = Emulator(api_key="k", clock=clock, schedule=Schedule(queued=1, running=1))
    backend = BatchBackend(restarted.client(), endpoint="my-emulator")
    result = measure(table, id_col="id", source_col="text", models=["language"], backend=backend,
                     ledger=tmp_path / "l.sqlite", progress=False)
    assert result.counts()["failed"] == rows
    error = result.status["error"].iloc[0]
    assert "my-emulator no longer knows job" in error and "404" in error and "retry_failed" in error
    retried = retry_failed(result)
    assert retried.counts()["ok"] == rows


def test_a_completed_job_whose_predictions_are_gone_is_failed(tmp_path, clock):
    """A job the ledger saw COMPLETED but whose predictions the endpoint no longer has (404) fails its rows."""
    table = pd.DataFrame({"id": range(3), "text": ["a.", "b.", "c."]})
    _timed_out(table, tmp_path / "l.sqlite", clock)
    ledger = Ledger(tmp_path / "l.sqlite")
    for job_id in ledger.jobs()["job_id"]:
        ledger.record_status(job_id, "COMPLETED", None)
    ledger.close()
    restarted = Emulator(api_key="k", clock=clock)
    result = measure(table, id_col="id", source_col="text", models=["language"], ledger=tmp_path / "l.sqlite",
                     backend=BatchBackend(restarted.client(), endpoint="my-emulator"), progress=False)
    assert result.counts()["failed"] == 3 and result.status["error"].str.contains("no longer knows job").all()


def test_kernel_interrupt_during_measure_shows_one_line(tmp_path):
    """Kernel ▸ Interrupt (SIGINT to the kernel) mid-wait: the cell ends with one line, not a traceback."""
    import nbformat
    from nbclient import NotebookClient

    setup = textwrap.dedent(f"""
        import pandas as pd, humekit
        from humekit.emulator import Emulator, Schedule
        emu = Emulator(api_key="k", schedule=Schedule(queued=120, running=120)).__enter__()
        client = emu.client()
        table = pd.DataFrame({{"id": range(5), "text": ["Hello there."] * 5}})
        ledger = {str(tmp_path / "l.sqlite")!r}
    """)
    call = "humekit.measure(table, id_col='id', source_col='text', models=['language'], client=client, ledger=ledger)"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup), nbformat.v4.new_code_cell(call),
                                               nbformat.v4.new_code_cell("emu.url")])
    NotebookClient(notebook, timeout=8, interrupt_on_timeout=True, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = notebook.cells[1].outputs
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert [o.get("name") for o in outputs if o["output_type"] == "stream"] == []
    url = notebook.cells[2].outputs[0]["data"]["text/plain"].strip("'")
    assert len(errors) == 1 and errors[0]["ename"] == "MeasureInterrupted"
    assert [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in errors[0]["traceback"]] == [
        f"MeasureInterrupted: Interrupted: 1 job is still queued or running at {url}; nothing is lost (every job is "
        f"in the ledger {tmp_path / 'l.sqlite'}). Run the same humekit.measure(...) call again to resume."]


def test_ctrl_c_in_measure_is_a_keyboard_interrupt_no_except_exception_can_swallow(tmp_path, clock, monkeypatch):
    """The interrupt measure raises is a KeyboardInterrupt (not an Exception), counting the running jobs."""
    emu = Emulator(api_key="k", clock=clock, schedule=Schedule(queued=100, running=100))

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(clock, "sleep", interrupt)
    table = pd.DataFrame({"id": range(250), "text": [f"Text {i}." for i in range(250)]})
    with pytest.raises(KeyboardInterrupt) as caught:
        measure(table, id_col="id", source_col="text", models=["language"], client=emu.client(),
                ledger=tmp_path / "l.sqlite", progress=False)
    assert isinstance(caught.value, humekit.MeasureInterrupted) and not isinstance(caught.value, Exception)
    assert len(caught.value.running) == 3 and str(caught.value).startswith("Interrupted: 3 jobs are still queued")


def test_interrupt_display_leaves_another_custom_exception_handler_alone(monkeypatch):
    """In IPython, measure registers its one-line display only when no other custom exception display is set."""
    import IPython

    from humekit.pipeline.measure import _interrupts_as_one_line

    class Shell:
        def __init__(self, custom):
            self.custom_exceptions, self.registered = custom, None

        def set_custom_exc(self, exc_tuple, handler):
            self.registered = exc_tuple

    theirs, fresh = Shell((ValueError,)), Shell(())
    for shell in (theirs, fresh):
        monkeypatch.setattr(IPython, "get_ipython", lambda shell=shell: shell)
        _interrupts_as_one_line()
    assert theirs.registered is None and fresh.registered == (humekit.MeasureInterrupted,)


def test_measure_signature_and_measure_options_agree():
    """measure's keyword-only options are MeasureOptions' fields: same names, order, defaults and types."""
    import inspect

    from humekit.pipeline.measure import MeasureOptions

    params = list(inspect.signature(measure).parameters.values())
    assert params[0].name == "table" and params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    options = params[1:]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in options)
    fields = dataclasses.fields(MeasureOptions)
    assert [p.name for p in options] == [f.name for f in fields] == list(MeasureOptions.names())
    for p, f in zip(options, fields, strict=True):
        default = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        assert p.default is default or p.default == default, p.name
        assert p.annotation == f.type, p.name  # both strings (postponed annotations), written the same way


def test_result_options_are_the_call_and_retry_failed_overrides_them(tmp_path, clock):
    """result.options is the MeasureOptions of the call; retry_failed replaces only what it is given."""
    from humekit.pipeline.measure import MeasureOptions

    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"id": [1], "text": ["One."]})
    result = measure(table, id_col="id", source_col="text", models=["language"], client=emu.client(),
                     ledger=tmp_path / "l.sqlite", progress=False, kind="text", timeout=99.0)
    assert isinstance(result.options, MeasureOptions)
    assert (result.options.timeout, result.options.kind, result.options.progress) == (99.0, "text", False)
    with pytest.raises(humekit.ConfigurationError, match="the ledger is the original's"):
        retry_failed(result, ledger=tmp_path / "other.sqlite")


@pytest.mark.postgresql
def test_a_postgresql_ledgers_password_never_shows(postgres_server, clock):
    """A result on a PostgreSQL ledger names it by its URL with the password masked: repr, HTML and options."""
    url = postgres_server.create_schema().replace(f"{postgres_server.user}@", f"{postgres_server.user}:pw-5678@")
    emu = Emulator(api_key="k", clock=clock)
    table = pd.DataFrame({"id": [1], "text": ["One."]})
    result = measure(table, id_col="id", source_col="text", models=["language"], client=emu.client(), ledger=url,
                     progress=False, kind="text")
    assert result.ledger.engine == "postgresql" and result.options.ledger is result.ledger
    shown = [repr(result), result._repr_html_(), repr(result.options), repr(result.ledger)]
    assert all("pw-5678" not in text for text in shown)
    assert url.replace("pw-5678", "***") in repr(result)
