"""Tests for humekit.predictions.rejoin: archived predictions joined back to a table by URL, md5 or file name."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pytest

from humekit.predictions.archives import read_predictions
from humekit.emulator import Emulator
from humekit.backends.v0.jobs import Upload
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
