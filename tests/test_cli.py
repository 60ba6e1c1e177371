"""Tests for the ``humekit`` command: ``humekit run`` end to end against the embedded emulator, and ``humekit demo``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from humekit.cli import main
from humekit.run import OUTPUTS, parse_models
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
    assert sorted(p.name for p in out.iterdir() if p.name != "ledger.sqlite") == sorted(OUTPUTS)
    table = pd.read_csv(RECORDINGS)
    status = pd.read_parquet(out / "status.parquet")
    assert list(status.columns) == ["id", "status", "job_id", "error", "note"] and len(status) == len(table)
    assert status["note"].isna().all()  # every recording has speech, a face or text
    assert set(status["status"]) == {"ok"}
    preds = pd.read_parquet(out / "predictions.parquet")
    assert {"id", "model", "begin", "end", "emotion", "score"} <= set(preds.columns)
    assert set(preds["id"]) == set(table["id"]) and set(preds["model"].astype(str)) == {"prosody", "face", "language"}
    per_row = pd.read_parquet(out / "per_row.parquet")
    assert list(per_row.columns[: len(table.columns) + 3]) == [*table.columns, "status", "model", "segments"]
    assert set(per_row.columns[len(table.columns) + 3 :]) <= {*EMOTIONS, *LANGUAGE_EMOTIONS}
    assert "Calmness" in per_row.columns
    assert not per_row.duplicated(["id", "model"]).any()
    assert not (out / "wide.parquet").exists()  # the old name for per_row: not reused for another table
    from humekit.export import read_result

    saved = read_result(out)  # the folder is a saved result
    assert saved.id_col == "id" and saved.per_row(columns=True).shape == per_row.shape
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


def test_ok_rows_with_nothing_found_are_reported(tmp_path, capsys):
    """A silent recording is ok with a note in status.csv, and the summary says how many rows have one."""
    from humekit.synthetic import make_wav

    make_wav(tmp_path / "silent.wav", segments=[], duration=2.0)
    pd.DataFrame({"id": ["quiet", "s1"], "path": [str(tmp_path / "silent.wav"),
                                                  str(DATASETS / "audio/s1/calm.wav")]}).to_csv(tmp_path / "t.csv")
    code, text = run(capsys, "run", str(tmp_path / "t.csv"), "--id-col", "id", "--source-col", "path",
                     "--models", "prosody", "--out", str(tmp_path / "out"), "--emulator")  # fmt: skip
    assert code == 0, text
    assert "1 ok row(s) where a model found nothing" in text and "'quiet': prosody: no speech found" in text
    status = pd.read_csv(tmp_path / "out" / "status.csv").set_index("id")
    assert status.loc["quiet", "note"] == "prosody: no speech found" and pd.isna(status.loc["s1", "note"])
