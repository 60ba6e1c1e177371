"""The emulator's predictions JSON and artifacts ZIP of one job read into equal tables."""

from __future__ import annotations

import pandas as pd
import pytest

from humekit import read_predictions, to_tables
from humekit.emulator import Emulator
from humekit.testing.synthetic import make_image, make_wav

# Fields the artifacts CSVs do not carry (source identity differs too: CSV folders name the files).
SEGMENT = ["model", "group", "frame", "begin", "end", "text", "position_begin", "position_end"]


def _job(emulator: Emulator, clock, request: dict, files: list | None = None) -> str:
    client = emulator.client()
    job_id = client.start_job(files=files or (), **request)
    clock.advance(5)
    assert client.get_job(job_id).status == "COMPLETED"
    return job_id


def _compare(left: pd.DataFrame, right: pd.DataFrame, columns: list[str]) -> None:
    keys = [c for c in SEGMENT if c in columns] + [c for c in ("emotion", "kind", "name") if c in columns]
    left = left[columns].astype({c: "object" for c in columns if c not in ("score",)})
    right = right[columns].astype({c: "object" for c in columns if c not in ("score",)})
    left = left.sort_values(keys, key=lambda s: s.astype(str), ignore_index=True)
    right = right.sort_values(keys, key=lambda s: s.astype(str), ignore_index=True)
    pd.testing.assert_frame_equal(left, right, check_dtype=False, atol=1e-6)


@pytest.mark.parametrize("kind", ["audio", "image", "text"])
def test_json_and_artifacts_of_an_emulator_job_are_equal(emulator, clock, tmp_path, kind):
    """Scores and descriptors from /predictions equal those read from /artifacts for the same job."""
    from humekit.backends.v0.jobs import Upload

    if kind == "audio":
        make_wav(tmp_path / "a.wav", segments=[(0.2, 1.1), (1.5, 2.6)], duration=3.0)
        job_id = _job(emulator, clock, {"models": {"prosody": {}, "language": {"sentiment": {}, "toxicity": {}}}},
                      [Upload.from_path(tmp_path / "a.wav")])
    elif kind == "image":
        make_image(tmp_path / "f.png", width=320, height=240, seed=2)
        job_id = _job(emulator, clock, {"models": {"face": {"facs": {}, "descriptions": {}}}},
                      [Upload.from_path(tmp_path / "f.png")])
    else:
        job_id = _job(emulator, clock, {"text": ["I love this. It is great!"],
                                        "models": {"language": {"granularity": "sentence", "sentiment": {}}}})
    client = emulator.client()
    from_json = to_tables(client.get_predictions(job_id))
    from_zip = read_predictions(client.get_artifacts(job_id, tmp_path / "artifacts.zip"))
    assert len(from_json.scores) == len(from_zip.scores) > 0
    assert (from_json.scores.dtypes.astype(str) == from_zip.scores.dtypes.astype(str)).all()
    _compare(from_json.scores, from_zip.scores, [*SEGMENT, "emotion", "score"])
    assert len(from_json.descriptors) == len(from_zip.descriptors) > 0
    _compare(from_json.descriptors, from_zip.descriptors, [*SEGMENT, "kind", "name", "score"])
