"""Tests for the ``humekit`` command: ``humekit run`` end to end against the embedded emulator, and ``humekit demo``."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from humekit.cli import main
from humekit.emulator import Emulator, Schedule
from humekit.run import EMULATOR_JOBS, OUTPUTS, parse_models
from humekit.vocabulary import EMOTIONS, LANGUAGE_EMOTIONS

DATASETS = Path(__file__).resolve().parents[1] / "datasets"
RECORDINGS = DATASETS / "recordings.csv"
RUN = ["run", str(RECORDINGS), "--id-col", "id", "--source-col", "path", "--models", "prosody", "face", "language"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def jobs_in(ledger: Path) -> int:
    with sqlite3.connect(ledger) as db:
        return db.execute("SELECT count(*) FROM jobs").fetchone()[0]


@pytest.fixture
def first_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, Path]:
    """``humekit run`` over datasets/recordings.csv against the emulator, into a temp folder."""
    out = tmp_path / "out"
    code, text = run(capsys, *RUN, "--out", str(out), "--emulator")
    return code, text, out


def test_run_writes_every_output_with_the_right_columns(first_run):
    """A run over the committed dataset exits 0 and writes predictions, per-row summaries, status and a plot."""
    code, text, out = first_run
    assert code == 0, text
    assert sorted(p.name for p in out.iterdir() if p.name not in ("ledger.sqlite", EMULATOR_JOBS)) == sorted(OUTPUTS)
    table = pd.read_csv(RECORDINGS)
    status = pd.read_parquet(out / "status.parquet")
    assert list(status.columns) == ["id", "status", "job_id", "error"] and len(status) == len(table)
    assert set(status["status"]) == {"ok"}
    preds = pd.read_parquet(out / "predictions.parquet")
    assert {"id", "model", "begin", "end", "emotion", "score"} <= set(preds.columns)
    assert set(preds["id"]) == set(table["id"]) and set(preds["model"].astype(str)) == {"prosody", "face", "language"}
    wide = pd.read_parquet(out / "wide.parquet")
    assert list(wide.columns[: len(table.columns) + 3]) == [*table.columns, "status", "model", "segments"]
    assert set(wide.columns[len(table.columns) + 3 :]) <= {*EMOTIONS, *LANGUAGE_EMOTIONS} and "Calmness" in wide.columns
    assert not wide.duplicated(["id", "model"]).any()
    csv = pd.read_csv(out / "status.csv")
    assert list(csv.columns) == list(status.columns) and csv["id"].tolist() == status["id"].tolist()
    assert (out / "top_emotions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "20 ok" in text and "1 submitted now" in text and "SYNTHETIC" in text


def test_rerun_submits_no_new_job(first_run, capsys):
    """Running the same command again reuses every job from the ledger: zero new jobs, same predictions."""
    _, _, out = first_run
    before = pd.read_parquet(out / "predictions.parquet")
    jobs = jobs_in(out / "ledger.sqlite")
    code, text = run(capsys, *RUN, "--out", str(out), "--emulator")
    assert code == 0, text
    assert "0 submitted now, 1 reused" in text and jobs_in(out / "ledger.sqlite") == jobs
    pd.testing.assert_frame_equal(pd.read_parquet(out / "predictions.parquet"), before)


def test_run_with_callback_completes_by_webhook(tmp_path, capsys):
    """With --callback, a loopback webhook receiver gets each job's callback and the run completes."""
    code, text = run(capsys, *RUN, "--out", str(tmp_path / "cb"), "--emulator", "--callback")
    assert code == 0, text
    assert "1 completed by callback" in text and (tmp_path / "cb" / "webhooks.sqlite").is_file()


def test_rows_that_cannot_be_measured_give_exit_code_1(tmp_path, capsys):
    """A row whose file is missing is reported invalid, the others are measured, and the exit code is 1."""
    table = pd.read_csv(RECORDINGS).head(3)
    table.loc[1, "path"] = "audio/nobody/missing.wav"
    table["path"] = [str(DATASETS / p) for p in table["path"]]
    table.to_parquet(tmp_path / "t.parquet")
    code, text = run(capsys, "run", str(tmp_path / "t.parquet"), "--id-col", "id", "--source-col", "path",
                     "--models", "prosody", "--out", str(tmp_path / "out"), "--emulator")  # fmt: skip
    assert code == 1
    assert "2 ok, 1 invalid" in text and "file not found" in text
    assert pd.read_csv(tmp_path / "out" / "status.csv")["status"].tolist() == ["ok", "invalid", "ok"]


@pytest.mark.parametrize(
    ("make", "argv", "message"),
    [
        (lambda p: None, ["--id-col", "id"], "table not found"),
        (lambda p: p.write_text("id,path\n"), ["--id-col", "id"], "has no rows"),
        (lambda p: p.write_bytes(b"PAR1 not really"), ["--id-col", "id"], "cannot read"),
        (lambda p: p.write_text("name,path\na,x.wav\n"), ["--id-col", "id"], "id_col='id' is not a column"),
        (lambda p: p.write_text("id,path\na,hello there\na,good bye\n"), ["--id-col", "id"], "duplicated"),
    ],
    ids=["missing-file", "empty", "unreadable", "missing-column", "duplicate-ids"],
)
def test_a_bad_table_is_a_clear_error_with_exit_code_2(tmp_path, capsys, make, argv, message):
    """A table that is missing, empty, unreadable, lacks the ID column or repeats IDs stops with a clear message."""
    path = tmp_path / ("t.parquet" if message == "cannot read" else "t.csv")
    make(path)
    code, text = run(capsys, "run", str(path), *argv, "--source-col", "path", "--models", "language",
                     "--out", str(tmp_path / "out"), "--emulator")  # fmt: skip
    assert code == 2
    assert text.startswith("humekit run: error:") and message in text
    assert not (tmp_path / "out" / "predictions.parquet").exists()


def test_missing_api_key_without_emulator_says_what_to_set(tmp_path, capsys, monkeypatch):
    """Without --emulator and without HUME_API_KEY, the run stops before any request and names the fixes."""
    monkeypatch.chdir(tmp_path)  # no .env file to find
    code, text = run(capsys, *RUN, "--out", str(tmp_path / "out"))
    assert code == 2
    assert "HUME_API_KEY is not set" in text and "--emulator" in text and "HUME_BASE_URL" in text
    assert not (tmp_path / "out").exists()


def test_models_accept_names_commas_and_json():
    """--models takes separate names, comma-separated names, or a JSON object of model options."""
    assert parse_models(["prosody", "face,language"]) == ["prosody", "face", "language"]
    assert parse_models(['{"prosody": {"granularity": "utterance"}}']) == {"prosody": {"granularity": "utterance"}}


def test_demo_still_runs(capsys):
    """``humekit demo`` runs its small study against the emulator and exits 0."""
    code, text = run(capsys, "demo", "--quiet")
    assert code == 0, text
    assert "scores are synthetic" in text


def test_timeout_writes_pending_rows_and_the_emulator_run_resumes(tmp_path, capsys):
    """--timeout running out writes the outputs with rows pending and exits 1; the same command again
    (a new embedded emulator, which kept its jobs in the out folder) collects them without resubmitting."""
    out = tmp_path / "out"
    code, text = run(capsys, *RUN, "--out", str(out), "--emulator", "--timeout", "0.1")
    assert code == 1, text
    assert set(pd.read_parquet(out / "status.parquet")["status"]) == {"pending"}
    assert "run the same humekit run command again" in text and "Traceback" not in text
    assert (out / EMULATOR_JOBS).exists()
    time.sleep(1.0)  # the embedded emulator's jobs take 0.8 s
    code, text = run(capsys, *RUN, "--out", str(out), "--emulator")
    assert code == 0, text
    assert "20 ok" in text and "0 submitted now, 1 reused" in text


def _default_sigint() -> None:
    """Ctrl-C's default action in the child: a shell running this suite in the background ignores SIGINT,
    and a Python started with SIGINT ignored never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path):
    """SIGINT while humekit run waits: one line (jobs still running, nothing lost, run it again), exit 130."""
    with Emulator(api_key="k", schedule=Schedule(queued=60, running=60)) as emu:
        env, url = {**os.environ, "HUME_API_KEY": "k"}, emu.url
        proc = subprocess.Popen([sys.executable, "-m", "humekit.cli", *RUN, "--out", str(tmp_path / "out"),
                                 "--base-url", emu.url], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, preexec_fn=_default_sigint)
        deadline = time.monotonic() + 60
        while not emu.jobs and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # waiting now
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 130, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines == [f"Interrupted: 1 job is still queued or running at {url}; nothing is lost (every job is in "
                     f"the ledger {tmp_path / 'out' / 'ledger.sqlite'}). Run the same humekit run command again to "
                     "resume."], output
