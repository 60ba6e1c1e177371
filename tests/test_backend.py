"""Tests for humekit.backends.v0.backend: finding a job whose answer was lost, among jobs with the same inputs."""

from __future__ import annotations

import dataclasses

import pandas as pd

from humekit.backends.v0.backend import BatchBackend
from humekit.emulator import Emulator
from humekit.backends.v0.packing import plan_jobs
from humekit.pipeline.planning import config_key, normalize_models, row_inputs
from humekit.testing.synthetic import make_wav
from humekit.pipeline.validation import validate


def test_find_tells_apart_jobs_with_the_same_inputs_and_other_models(clock):
    """A URL sent for face and later for prosody+face: looking for the second (lost answer) never returns the first."""
    emu = Emulator(api_key="k", clock=clock)
    url = emu.add_media("clip.wav", make_wav(None, segments=[(0.1, 0.8)], duration=1.0))
    backend = BatchBackend(emu.client(), settle=0)
    checked = validate(pd.DataFrame({"id": ["a"], "src": [url]}), id_col="id", source_col="src")

    def job(models: list[str]):
        config = config_key(backend=backend.name, endpoint=backend.endpoint, models=normalize_models(models),
                            transcription=None)
        rows = row_inputs(checked, id_col="id", source_col="src", config=config)
        return plan_jobs(rows, config=config, models=models).jobs[0]

    face, both = job(["face"]), job(["face", "prosody"])
    created = backend.submit(face, models={"face": {}}, transcription=None, callback_url=None)
    assert backend.find(both, since_ms=0) is None  # the face job is not the prosody+face one
    assert backend.find(face, since_ms=0) == created
    assert backend.find(dataclasses.replace(both, models=()), since_ms=0) == created  # models unknown: inputs decide
    again = backend.submit(both, models={"face": {}, "prosody": {}}, transcription=None, callback_url=None)
    assert backend.find(both, since_ms=0) == again
