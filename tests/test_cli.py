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
from humekit.cli.run import EMULATOR_JOBS, OUTPUTS, parse_models
from humekit.predictions.vocabulary import EMOTIONS, LANGUAGE_EMOTIONS

DATASETS = Path(__file__).resolve().parents[1] / "datasets"
RECORDINGS = DATASETS / "recordings.csv"
RUN = ["run", "--api", "v0", str(RECORDINGS), "--id-col", "id", "--source-col", "path", "--models", "prosody", "face", "language"]


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
    assert list(status.columns) == ["id", "status", "job_id", "error", "note"] and len(status) == len(table)
    assert status["note"].isna().all()  # every recording has speech, a face or text
    assert set(status["status"]) == {"ok"}
    preds = pd.read_parquet(out / "predictions.parquet")
    assert {"id", "model", "begin", "end", "emotion", "score"} <= set(preds.columns)
    assert set(preds["id"]) == set(table["id"]) and set(preds["model"].astype(str)) == {"prosody", "face", "language"}
    per_row = pd.read_parquet(out / "per_row.parquet")
    assert list(per_row.columns[: len(table.columns) + 4]) == [*table.columns, "status", "api", "model", "segments"]
    assert set(per_row.columns[len(table.columns) + 4 :]) <= {*EMOTIONS, *LANGUAGE_EMOTIONS}
    assert "Calmness" in per_row.columns
    assert not per_row.duplicated(["id", "model"]).any()
    assert not (out / "wide.parquet").exists()  # the old name for per_row: not reused for another table
    from humekit.predictions.export import read_result

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


@pytest.mark.postgresql
def test_a_postgresql_ledger_is_reused_and_shown_without_its_password(tmp_path, capsys, postgres_server):
    """--ledger postgresql://... keeps the jobs in the database (a rerun submits none, from another folder too),
    and the report shows the URL with its password masked."""
    url = postgres_server.create_schema().replace(f"{postgres_server.user}@", f"{postgres_server.user}:pw-1234@")
    code, text = run(capsys, *RUN, "--out", str(tmp_path / "a"), "--emulator", "--ledger", url)
    assert code == 0 and "1 submitted now" in text, text
    assert "pw-1234" not in text and f"reused from the ledger {url.replace('pw-1234', '***')}" in text
    assert not (tmp_path / "a" / "ledger.sqlite").exists()
    code, text = run(capsys, *RUN, "--out", str(tmp_path / "b"), "--emulator", "--ledger", url)
    assert code == 0 and "0 submitted now, 1 reused" in text, text


def test_a_ledger_url_humekit_cannot_use_is_refused_in_cli_terms(tmp_path, capsys):
    """--ledger mysql://... exits 2 with the fix in --ledger words, creating no folder named 'mysql:'."""
    code, text = run(capsys, *RUN, "--out", str(tmp_path / "o"), "--emulator", "--ledger", "mysql://u:pw@db/x")
    assert code == 2 and "--ledger 'mysql://u:***@db/x' is a mysql:// URL" in text and "pw@" not in text
    assert not Path("mysql:").exists() and not (tmp_path / "o" / "mysql:").exists()


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
    code, text = run(capsys, "run", "--api", "v0", str(tmp_path / "t.parquet"), "--id-col", "id", "--source-col", "path",
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
        (lambda p: p.write_text("name,path\na,x.wav\n"), ["--id-col", "id"],
         "--id-col 'id' is not a column of the table; its columns are ['name', 'path']. Pass --id-col with one"),
        (lambda p: p.write_text("id,path\na,hello there\nb,hi\na,good bye\n"), ["--id-col", "id"],
         "1 duplicated ID(s) on 2 rows: 'a' at rows 0, 2. IDs must be unique to join predictions back: "
         "de-duplicate the table or choose another --id-col."),
        (lambda p: p.write_text("segments,path\na,hello there\n"), ["--id-col", "segments"],
         "--id-col 'segments': 'segments' is also a column of humekit's outputs (humekit run's wide.csv), where the "
         "ID column could not stay intact beside it. Rename that column (e.g. to 'segments_id') and pass "
         "--id-col 'segments_id'; nothing was sent."),
    ],
    ids=["missing-file", "empty", "unreadable", "missing-column", "duplicate-ids", "id-named-like-an-output"],
)
def test_a_bad_table_is_a_clear_error_with_exit_code_2(tmp_path, capsys, make, argv, message):
    """A table that is missing, empty, unreadable, lacks the ID column or repeats IDs stops with a clear message."""
    path = tmp_path / ("t.parquet" if message == "cannot read" else "t.csv")
    make(path)
    code, text = run(capsys, "run", "--api", "v0", str(path), *argv, "--source-col", "path", "--models", "language",
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


def test_a_table_format_humekit_cannot_read_is_named_with_the_formats_it_can(tmp_path, capsys):
    """A .json table stops with 'unsupported table format', the formats humekit run reads and how to convert it."""
    path = tmp_path / "recordings.json"
    pd.DataFrame({"id": ["a"], "path": ["hello there"]}).to_json(path)
    code, text = run(capsys, "run", "--api", "v0", str(path), "--id-col", "id", "--source-col", "path", "--models", "language",
                     "--out", str(tmp_path / "out"), "--emulator")  # fmt: skip
    assert code == 2
    assert "unsupported table format '.json'" in text and "humekit run reads csv, tsv and parquet" in text
    assert "pandas.read_json(path).to_csv('recordings.csv', index=False)" in text


@pytest.mark.parametrize(("name", "separator"), [("t.csv", ";"), ("t.csv", "\t"), ("t.tsv", "\t"), ("t.csv", "|"),
                                               ("t.txt", ",")])
def test_the_separator_of_a_csv_or_tsv_is_detected(tmp_path, capsys, name, separator):
    """A table saved with ';' (European Excel), tabs or '|' is read with that separator, and the run says which."""
    path = tmp_path / name
    other = ";" if separator == "," else ","  # in the texts: the separator is not guessed from the data
    path.write_text(separator.join(["id", "text", "group"]) + "\n" + separator.join(["a", "So glad you came", "x"]) + "\n"
                    + separator.join(["b", f"Too long{other} far too long", "y"]) + "\n")
    code, text = run(capsys, "run", "--api", "v0", str(path), "--id-col", "id", "--source-col", "text", "--models", "language",
                     "--out", str(tmp_path / "out"), "--emulator")  # fmt: skip
    assert code == 0, text
    assert pd.read_csv(tmp_path / "out" / "status.csv")["id"].tolist() == ["a", "b"]
    assert (f"(separator {separator!r})" in text) == (separator in ";|")


def test_a_one_column_table_whose_header_holds_another_separator_gets_a_hint(tmp_path, capsys):
    """A compressed CSV saved with ';' (its header is not sniffed) reads as one column: the error names the separator."""
    import gzip

    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"id;text\na;hello there\n"))
    code, text = run(capsys, "run", "--api", "v0", str(path), "--id-col", "id", "--source-col", "text", "--models", "language",
                     "--out", str(tmp_path / "out"), "--emulator")  # fmt: skip
    assert code == 2
    assert "was read as one column named 'id;text', which contains ';': is that its separator?" in text


def test_missing_files_say_where_relative_paths_were_resolved_in_cli_words(tmp_path, capsys):
    """A relative path that is missing names its row by position and ID, and the run says --root (the table's folder) resolved it."""
    (tmp_path / "tables").mkdir()
    path = tmp_path / "tables" / "t.csv"
    pd.DataFrame({"id": ["a", "b"], "path": ["Nice to meet you.", "audio/missing.wav"]}).to_csv(path, index=False)
    code, text = run(capsys, "run", "--api", "v0", str(path), "--id-col", "id", "--source-col", "path", "--models", "language",
                     "--out", str(tmp_path / "out"), "--emulator")  # fmt: skip
    assert code == 1
    folder = tmp_path / "tables"
    assert (f"  - row 1 (ID 'b'): invalid: file not found: {folder / 'audio' / 'missing.wav'} (the relative path "
            f"'audio/missing.wav' resolved against the --root folder {folder}); check the path or the --root folder")\
        in text
    assert f"relative paths in --source-col are resolved against --root (by default the table's folder): {folder}" in text
    code, text = run(capsys, "run", "--api", "v0", str(path), "--id-col", "id", "--source-col", "path", "--models", "language",
                     "--out", str(tmp_path / "out"), "--emulator", "--root", str(tmp_path / "nowhere"))  # fmt: skip
    assert code == 2 and f"--root {tmp_path / 'nowhere'} is not a folder" in text


def test_messages_are_put_in_cli_words_without_touching_paths():
    """in_cli_terms turns id_col=/root=/kind='text' into flags and leaves paths such as /tmp/pytest-of-root alone."""
    from humekit.cli.run import in_cli_terms

    assert in_cli_terms("id_col='a b' is not a column. Pass id_col= with one of them; choose another id_col.") == (
        "--id-col 'a b' is not a column. Pass --id-col with one of them; choose another --id-col.")
    assert in_cli_terms("pass kind='text'; pass root= the folder") == "pass --kind text; pass --root the folder"
    path = "/tmp/pytest-of-root/kind/models/id_col.csv"
    assert in_cli_terms(f"file not found: {path}") == f"file not found: {path}"


def test_ok_rows_with_nothing_found_are_reported(tmp_path, capsys):
    """A silent recording is ok with a note in status.csv, and the summary says how many rows have one."""
    from humekit.testing.synthetic import make_wav

    make_wav(tmp_path / "silent.wav", segments=[], duration=2.0)
    pd.DataFrame({"id": ["quiet", "s1"], "path": [str(tmp_path / "silent.wav"),
                                                  str(DATASETS / "audio/s1/calm.wav")]}).to_csv(tmp_path / "t.csv")
    code, text = run(capsys, "run", "--api", "v0", str(tmp_path / "t.csv"), "--id-col", "id", "--source-col", "path",
                     "--models", "prosody", "--out", str(tmp_path / "out"), "--emulator")  # fmt: skip
    assert code == 0, text
    assert "1 ok row(s) where a model found nothing" in text and "'quiet': prosody: no speech found" in text
    status = pd.read_csv(tmp_path / "out" / "status.csv").set_index("id")
    assert status.loc["quiet", "note"] == "prosody: no speech found" and pd.isna(status.loc["s1", "note"])


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


@pytest.fixture(scope="module")
def v1_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WAV, an MP3 and a raw text in a CSV, for humekit run under v1."""
    from humekit.testing.media import make_audio

    folder = tmp_path_factory.mktemp("v1cli")
    make_audio(folder / "a.wav", duration=12, seed=1)
    make_audio(folder / "b.mp3", format="mp3", duration=30, seed=2)
    (folder / "t.csv").write_text("id,path\nA,a.wav\nB,b.mp3\nT,just some words\n")
    return folder / "t.csv"


V1_ARGS = ("--id-col", "id", "--source-col", "path", "--models", "audio", "--emulator")


def test_v1_is_the_default_and_a_rerun_sends_nothing(capsys: pytest.CaptureFixture[str], v1_table: Path,
                                                     tmp_path: Path) -> None:
    """With no --api, humekit run measures through v1 (here its embedded emulator); again, it sends nothing."""
    code, text = run(capsys, "run", str(v1_table), *V1_ARGS, "--out", str(tmp_path / "o"))
    assert code == 1 and "2 ok, 1 invalid" in text and "v1 emulator" in text and "SYNTHETIC" in text
    assert "requests: 2 sent now" in text and "42.0 s billed" in text
    assert "no language model" in text
    code, text = run(capsys, "run", str(v1_table), *V1_ARGS, "--out", str(tmp_path / "o"))
    assert "requests: 0 sent now, 2 reused" in text
    cost = pd.read_csv(tmp_path / "o" / "cost.csv")
    assert cost["requests"].tolist() == [1, 1, 0] and cost["billed_seconds"].tolist()[:2] == [12.0, 30.0]


def test_dry_run_writes_what_it_would_cost_and_sends_nothing(capsys: pytest.CaptureFixture[str], v1_table: Path,
                                                              tmp_path: Path) -> None:
    """--dry-run leaves every measurable row pending, says so in CLI words, and writes the cost."""
    code, text = run(capsys, "run", "--api", "v1", str(v1_table), *V1_ARGS, "--out", str(tmp_path / "o"), "--dry-run")
    assert code == 1 and "1 invalid, 2 pending" in text and "requests: 0 sent now" in text
    assert "42.0 s would be billed (dry run: nothing was sent)" in text and "without --dry-run" in text
    from humekit.pipeline.ledger import Ledger

    assert Ledger(tmp_path / "o" / "ledger.sqlite").jobs().empty


def test_v1_without_a_key_says_how_to_get_one_or_run_offline(capsys: pytest.CaptureFixture[str], v1_table: Path,
                                                             tmp_path: Path) -> None:
    """No HUME_API_KEY and no --emulator: exit 2 with what to set, naming v1 and --emulator."""
    code, text = run(capsys, "run", str(v1_table), "--id-col", "id", "--source-col", "path", "--models", "audio",
                     "--out", str(tmp_path / "o"))
    assert code == 2 and "HUME_API_KEY is not set" in text and "v1" in text and "--emulator" in text


def test_v1_messages_name_the_api_flag() -> None:
    """A message saying api='v0' reads --api v0 in humekit run's report."""
    from humekit.cli.run import in_cli_terms

    assert in_cli_terms("or measure with api='v0' at a compatible endpoint") == "or measure with --api v0 at a compatible endpoint"
