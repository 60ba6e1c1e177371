"""Tests for humekit.predictions.rejoin: archived predictions joined back to a table by URL, md5 or file name."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pytest

from humekit.backends.v0.jobs import Upload
from humekit.emulator import Emulator
from humekit.errors import TableError
from humekit.pipeline.columns import ARCHIVED_STATUS_COLUMNS, ROW_STATUSES, STATUS_CATEGORIES, STATUS_DTYPE
from humekit.pipeline.measure import measure
from humekit.predictions.archives import read_predictions
from humekit.predictions.rejoin import join_archived
from humekit.testing.synthetic import make_wav


@pytest.fixture
def archive(tmp_path: Path, clock) -> tuple[Emulator, Path, dict[str, Path]]:
    """Three WAVs (two named take1.wav in different folders) and a URL, measured in one emulator job
    whose predictions JSON and artifacts ZIP are saved as a researcher would have before the sunset."""
    emu = Emulator(api_key="k", clock=clock)
    files = {"a": tmp_path / "a" / "take1.wav", "b": tmp_path / "b" / "take1.wav", "c": tmp_path / "c" / "solo.wav"}
    for seed, path in enumerate(files.values()):
        path.parent.mkdir()
        make_wav(path, segments=[(0.2, 1.6 + seed)], duration=2.0 + seed, seed=seed)
    url = emu.add_media("clip.wav", make_wav(segments=[(0.1, 1.2)], duration=1.5, seed=9))
    client = emu.client()
    uploads = [Upload.from_path(files["a"]), Upload.from_path(files["b"], filename="take1-b.wav"),
               Upload.from_path(files["c"])]  # fmt: skip
    url_job = client.start_job(urls=[url], models={"prosody": {}})
    file_job = client.start_job(files=uploads, models={"prosody": {}})
    clock.sleep(60)
    saved = tmp_path / "downloads"
    saved.mkdir()
    for job_id in (url_job, file_job):
        (saved / f"{job_id}.json").write_bytes(orjson.dumps(client.get_predictions(job_id)))
    client.get_artifacts(file_job, saved / "artifacts.zip")
    return emu, saved, {**files, "url": url}


def test_rows_match_by_url_and_md5_and_texts_are_unmatchable(archive, tmp_path):
    """JSON archives carry md5s: each file row gets its own recording's predictions, whatever its name."""
    emu, saved, files = archive
    table = pd.DataFrame({"id": ["A", "B", "C", "U", "T", "X"],
                          "source": [str(files["a"]), str(files["b"]), str(files["c"]), files["url"], "Hello there.",
                                     str(tmp_path / "missing.wav")]})  # fmt: skip
    tables = read_predictions(sorted(saved.glob("*.json")))
    joined = join_archived(table, tables, id_col="id", source_col="source")
    assert joined.status["match"].tolist() == ["matched"] * 4 + ["unmatchable", "missing"]
    assert joined.status.index.equals(table.index)
    preds = joined.predictions
    assert set(preds["id"]) == {"A", "B", "C", "U"} and preds.columns[0] == "id"
    ends = preds.groupby("id")["end"].max()
    assert ends["A"] <= 2.0 + 1e-6 < ends["B"] <= 3.0 + 1e-6 < ends["C"] <= 4.0 + 1e-6  # each its own recording
    assert len(preds) == (tables.scores["source_type"] != "text").sum()


def test_zip_archives_match_by_name_and_refuse_to_guess(archive):
    """Artifacts ZIPs have no md5: rows match by file name, and a name two recordings share is ambiguous."""
    emu, saved, files = archive
    tables = read_predictions(saved / "artifacts.zip")
    table = pd.DataFrame({"id": ["C", "A2"], "source": [str(files["c"]), str(files["a"])]})
    joined = join_archived(table, tables, id_col="id", source_col="source")
    assert joined.status["match"].tolist() == ["matched", "matched"]
    doubled = pd.concat([tables.scores, tables.scores.assign(source="other-folder")], ignore_index=True)
    tables2 = type(tables)(doubled, tables.descriptors, tables.errors, tables.metadata)
    ambiguous = join_archived(table.iloc[:1], tables2, id_col="id", source_col="source")
    assert ambiguous.status["match"].tolist() == ["ambiguous"] and "named 'solo.wav'" in ambiguous.status["reason"][0]
    assert ambiguous.predictions.empty


def _mixed_table(files: dict[str, Path], tmp_path: Path) -> pd.DataFrame:
    """Two recordings the archive holds, a URL and a file it does not, a raw text and a missing file."""
    stranger = tmp_path / "stranger.wav"
    make_wav(stranger, segments=[(0.1, 0.9)], duration=1.0, seed=42)
    return pd.DataFrame({"id": ["A", "U", "N", "S", "T", "X"],
                         "source": [str(files["a"]), files["url"], "https://example.org/never-sent.wav",
                                    str(stranger), "Hello there.", str(tmp_path / "missing.wav")]})  # fmt: skip


def test_archive_status_speaks_the_live_vocabulary(archive, tmp_path):
    """The status column is the live results' Categorical (same categories, in order), then error, match, reason."""
    emu, saved, files = archive
    joined = join_archived(_mixed_table(files, tmp_path), read_predictions(sorted(saved.glob("*.json"))),
                           id_col="id", source_col="source")
    assert list(joined.status.columns) == ["id", *ARCHIVED_STATUS_COLUMNS] == ["id", "status", "error", "match",
                                                                              "reason"]
    assert joined.status["status"].dtype == STATUS_DTYPE
    assert list(joined.status["status"].cat.categories) == list(STATUS_CATEGORIES) == list(ROW_STATUSES)
    assert set(joined.status["status"]) <= set(ROW_STATUSES)
    assert joined.status["reason"].equals(joined.status["error"])  # the same text, kept for this release


def test_matched_rows_are_ok_with_no_error(archive, tmp_path):
    """A row whose recording the archive holds (by URL or md5) is ok, with error and reason empty."""
    emu, saved, files = archive
    joined = join_archived(_mixed_table(files, tmp_path), read_predictions(sorted(saved.glob("*.json"))),
                           id_col="id", source_col="source")
    ok = joined.status.set_index("id").loc[["A", "U"]]
    assert ok["match"].tolist() == ["matched", "matched"] and ok["status"].tolist() == ["ok", "ok"]
    assert ok["error"].isna().all() and ok["reason"].isna().all()
    assert set(joined.predictions["id"]) == {"A", "U"}
    assert set(joined.predictions["api"]) == {"v0"}  # archived predictions are v0's vocabulary


def test_rows_the_archive_lacks_are_failed_and_rows_that_cannot_be_identified_invalid(archive, tmp_path):
    """Missing from the archive: failed, saying so; a missing file or a raw text: invalid, saying why."""
    emu, saved, files = archive
    joined = join_archived(_mixed_table(files, tmp_path), read_predictions(sorted(saved.glob("*.json"))),
                           id_col="id", source_col="source")
    rows = joined.status.set_index("id")
    assert rows.loc[["N", "S", "T", "X"], "match"].tolist() == ["missing", "missing", "unmatchable", "missing"]
    assert rows.loc[["N", "S", "T", "X"], "status"].tolist() == ["failed", "failed", "invalid", "invalid"]
    assert rows.loc["N", "error"] == "no archived predictions for this URL"
    assert rows.loc["S", "error"] == "no archived predictions with this file's md5 or name"
    assert "raw texts are named only by their index" in rows.loc["T", "error"]
    assert rows.loc["X", "error"].startswith("file not found: ")  # what the validator (and a live run) says


def test_ambiguous_rows_are_invalid_with_the_reason(archive):
    """A file name two archived recordings share (and no md5): invalid, the reason in error and in reason."""
    emu, saved, files = archive
    tables = read_predictions(saved / "artifacts.zip")
    doubled = pd.concat([tables.scores, tables.scores.assign(source="other-folder")], ignore_index=True)
    tables = type(tables)(doubled, tables.descriptors, tables.errors, tables.metadata)
    joined = join_archived(pd.DataFrame({"id": ["C"], "source": [str(files["c"])]}), tables, id_col="id",
                           source_col="source")
    row = joined.status.iloc[0]
    assert (row["status"], row["match"]) == ("invalid", "ambiguous")
    assert "2 archived recordings are named 'solo.wav'" in row["error"] and row["reason"] == row["error"]


def test_live_and_archived_status_tables_share_status_and_error(archive, tmp_path):
    """The same rows measured live and joined from the saved predictions: same status dtype, and the same
    status and error where both can tell (ok rows, and a missing file refused before anything is sent)."""
    emu, saved, files = archive
    table = pd.DataFrame({"id": ["A", "C", "X"],
                          "source": [str(files["a"]), str(files["c"]), str(tmp_path / "missing.wav")]})  # fmt: skip
    client = emu.client()
    live = measure(table, id_col="id", source_col="source", models=["prosody"], client=client,
                   ledger=tmp_path / "live.sqlite", progress=False, errors="mark")
    downloads = tmp_path / "live-downloads"
    downloads.mkdir()
    for job_id in live.submitted:
        (downloads / f"{job_id}.json").write_bytes(orjson.dumps(client.get_predictions(job_id)))
    archived = join_archived(table, read_predictions(downloads), id_col="id", source_col="source").status
    assert {"status", "error"} <= set(live.status.columns) and {"status", "error"} <= set(archived.columns)
    assert live.status["status"].dtype == archived["status"].dtype == STATUS_DTYPE
    assert live.status["status"].tolist() == archived["status"].tolist() == ["ok", "ok", "invalid"]
    assert live.status["error"].dtype == archived["error"].dtype
    assert live.status["error"].isna().tolist() == archived["error"].isna().tolist() == [True, True, False]
    assert live.status["error"].iloc[2] == archived["error"].iloc[2] and "file not found" in archived["error"].iloc[2]


def test_an_id_column_named_like_a_status_column_is_refused(archive):
    """An ID column named match or reason would be overwritten in status: refused, naming a new name."""
    emu, saved, files = archive
    table = pd.DataFrame({"match": ["C"], "source": [str(files["c"])]})
    with pytest.raises(TableError, match="'match_id'"):
        join_archived(table, read_predictions(saved / "artifacts.zip"), id_col="match", source_col="source")
