"""Tests for humekit.pipeline.coverage: which (row, model) pairs the ledger already answers, and which are missing."""

from __future__ import annotations

from typing import Any

import pandas as pd

import humekit
from humekit.pipeline.coverage import cover
from humekit.pipeline.ledger import Ledger, LedgerInput
from humekit.backends.v0.packing import plan_jobs
from humekit.pipeline.planning import config_key, for_config, normalize_models, row_inputs

IDENTITY = dict(backend="hume-v0-batch", endpoint="http://api.test", transcription=None)
TABLE = pd.DataFrame({"id": ["a", "b"], "src": ["First text.", "Second text."]})


def rows(table: pd.DataFrame = TABLE, models: Any = ("language",)):
    checked = humekit.validate(table, id_col="id", source_col="src", kind="text")
    return row_inputs(checked, id_col="id", source_col="src",
                      config=config_key(models=normalize_models(list(models)), **IDENTITY))


def claim(ledger: Ledger, described, models: dict[str, Any], **identity: Any) -> str:
    """Claim (as measure would) one job for ``described`` rows made with ``models``; returns its key."""
    identity = {**IDENTITY, **identity}
    config = config_key(models=models, **identity)
    job = plan_jobs([for_config(r, config) for r in described], config=config).jobs[0]
    inputs = [LedgerInput(job.input_key(n), row.fingerprint, row.id_token, item.content)
              for n, item in enumerate(job.inputs) for row in item.rows]
    request = {**job.describe(), "endpoint": identity["endpoint"], "models": models,
               "transcription": identity["transcription"]}
    ledger.claim(job.key, backend=identity["backend"], kind=job.kind, request=request, inputs=inputs)
    return job.key


def test_a_row_measured_with_one_model_misses_only_the_other(tmp_path):
    """A language job covers (row, language); ner stays missing for that row, and every model for a new row."""
    ledger = Ledger(tmp_path / "l.sqlite")
    described = rows()
    key = claim(ledger, described[:1], {"language": {}})
    found = cover(described, ledger, models={"language": {}, "ner": {}}, **IDENTITY)
    assert [(a.index, a.job_key, a.models) for a in found.assignments] == [(0, key, ("language",))]
    assert dict(found.missing) == {0: ("ner",), 1: ("language", "ner")}


def test_a_job_with_more_models_covers_a_call_with_fewer(tmp_path):
    """A job made with language and ner answers a later call asking for ner alone."""
    ledger = Ledger(tmp_path / "l.sqlite")
    described = rows()
    key = claim(ledger, described, {"language": {}, "ner": {}})
    found = cover(described, ledger, models={"ner": {}}, **IDENTITY)
    assert {(a.index, a.job_key, a.models) for a in found.assignments} == {(0, key, ("ner",)), (1, key, ("ner",))}
    assert not found.missing


def test_other_options_transcription_endpoint_or_content_are_not_reused(tmp_path):
    """Another model option, transcription, endpoint or text never counts as measured."""
    ledger = Ledger(tmp_path / "l.sqlite")
    described = rows()
    claim(ledger, described, {"language": {"granularity": "word"}})
    claim(ledger, described, {"language": {}}, transcription={"language": "en"})
    claim(ledger, described, {"language": {}}, endpoint="http://elsewhere.test")
    claim(ledger, rows(TABLE.assign(src=["Other.", "Texts."])), {"language": {}})
    found = cover(described, ledger, models={"language": {}}, **IDENTITY)
    assert found.assignments == () and dict(found.missing) == {0: ("language",), 1: ("language",)}


def test_the_first_recorded_of_two_covering_jobs_answers(tmp_path):
    """Two live jobs covering one pair: the one recorded first answers, so reruns agree."""
    ledger = Ledger(tmp_path / "l.sqlite")
    described = rows()
    first = claim(ledger, described, {"language": {}})
    claim(ledger, described, {"language": {}, "ner": {}})
    found = cover(described, ledger, models={"language": {}}, **IDENTITY)
    assert {a.job_key for a in found.assignments} == {first}


def test_superseded_answers_do_not_count(tmp_path):
    """After supersede (what a retry does), the pair is missing again."""
    ledger = Ledger(tmp_path / "l.sqlite")
    described = rows()
    claim(ledger, described, {"language": {}})
    found = cover(described, ledger, models={"language": {}}, **IDENTITY)
    ledger.supersede(a.fingerprint for a in found.assignments if a.index == 1)
    again = cover(described, ledger, models={"language": {}}, **IDENTITY)
    assert [a.index for a in again.assignments] == [0] and dict(again.missing) == {1: ("language",)}
