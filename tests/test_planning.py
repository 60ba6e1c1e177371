"""Tests for humekit.pipeline.planning and v0's packing (humekit.backends.v0.packing): jobs under every limit, deterministic keys, identical inputs sent once."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import humekit
from humekit.errors import ConfigurationError
from humekit.backends.v0.limits import DEFAULT_LIMITS, Limits
from humekit.backends.v0.packing import plan_jobs
from humekit.pipeline.planning import (
    Plan,
    PlannedJob,
    config_key,
    normalize_models,
    rebuild_job,
    row_inputs,
    upload_name,
)
from humekit.testing.synthetic import make_image, make_wav

CONFIG = config_key(backend="hume-v0-batch", models=normalize_models(["prosody", "face", "language"]),
                    transcription=None)
CAPS = {"file": "max_files_per_job", "url": "max_urls_per_job", "text": "max_texts_per_job"}


def checked(table: pd.DataFrame, **options: Any) -> pd.DataFrame:
    return humekit.validate(table, id_col="id", source_col="src", **options)


def rows_of(table: pd.DataFrame, config: str = CONFIG, **options: Any):
    return row_inputs(checked(table, **options), id_col="id", source_col="src", config=config)


def texts(n: int, *, start: int = 0, width: int = 0) -> pd.DataFrame:
    """n distinct texts (each padded to ``width`` bytes when given)."""
    sources = [f"Sentence number {i}.".ljust(width, "x") for i in range(start, start + n)]
    return pd.DataFrame({"id": [f"t{i}" for i in range(start, start + n)], "src": sources})


def wav(path: Path, *, duration: float = 0.2, seed: int = 0) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    make_wav(path, segments=[(0.05, duration - 0.05)], duration=duration, sample_rate=8000, seed=seed)
    return str(path)


def cap_of(limits: Limits, kind: str) -> int:
    return getattr(limits, CAPS[kind])


def assert_partition(plan: Plan, expected: set[int]) -> None:
    """Every expected row is in exactly one job or unplannable, never both, never twice."""
    planned = Counter(row.index for job in plan.jobs for row in job.rows)
    assert all(count == 1 for count in planned.values()), planned
    assert not set(planned) & set(plan.unplannable)
    assert set(planned) | set(plan.unplannable) == expected


def assert_limits(plan: Plan, limits: Limits) -> None:
    for job in plan.jobs:
        assert job.inputs, "no empty job"
        assert {item.kind for item in job.inputs} == {job.kind}
        assert len(job.inputs) <= cap_of(limits, job.kind)
        if limits.max_request_bytes is not None:
            assert job.size <= limits.max_request_bytes


# -- models and configuration ------------------------------------------------------------------

def test_normalize_models_accepts_lists_strings_and_mappings():
    """Lists, a single name and mappings (with None options) normalise to a sorted {name: options} dict."""
    assert normalize_models(["prosody", "face"]) == {"face": {}, "prosody": {}}
    assert list(normalize_models(["prosody", "face"])) == ["face", "prosody"]
    assert normalize_models("burst") == {"burst": {}}
    assert normalize_models({"language": {"granularity": "word"}, "face": None}) == {
        "face": {}, "language": {"granularity": "word"}}


@pytest.mark.parametrize("models", [None, [], ["emotion"], {"prosody": {}, "voice": {}}])
def test_normalize_models_rejects_missing_or_unknown(models: Any):
    """No models, or a name Hume does not have, is a ConfigurationError listing the valid models."""
    with pytest.raises(ConfigurationError, match="prosody"):
        normalize_models(models)


def test_config_key_is_stable_and_sensitive():
    """config_key is the same for equal configurations and changes with backend, models, options or transcription."""
    base = {"backend": "b", "models": {"face": {}, "prosody": {}}, "transcription": None}
    key = config_key(**base)
    assert key == config_key(backend="b", models={"prosody": {}, "face": {}}, transcription=None)
    assert len(key) == 32 and int(key, 16) >= 0
    variants = [
        {**base, "backend": "c"},
        {**base, "models": {"face": {}}},
        {**base, "models": {"face": {"identify_faces": True}, "prosody": {}}},
        {**base, "transcription": {"language": "en"}},
        {**base, "transcription": False},
    ]
    keys = {config_key(**v) for v in variants}
    assert key not in keys and len(keys) == len(variants)


# -- row_inputs --------------------------------------------------------------------------------

def test_row_inputs_describes_valid_rows_by_position(tmp_path: Path):
    """row_inputs skips marked rows and numbers the others by table position, with content hashes and sizes."""
    audio = wav(tmp_path / "a.wav")
    table = pd.DataFrame({"id": ["f", "bad", "u", "t"],
                          "src": [audio, "ftp://x.org/a.wav", "https://example.org/v.mp4", "Bonjour à tous."]},
                         index=["x", "y", "z", "x"])
    rows = rows_of(table, errors="mark")
    assert [r.index for r in rows] == [0, 2, 3]
    assert [r.kind for r in rows] == ["file", "url", "text"]
    f, u, t = rows
    md5 = hashlib.md5(Path(audio).read_bytes()).hexdigest()
    assert (f.content, f.md5, f.size, f.value) == (md5, md5, Path(audio).stat().st_size, audio)
    assert (u.content, u.md5, u.size) == ("https://example.org/v.mp4", None, len("https://example.org/v.mp4"))
    assert t.content == hashlib.sha256("Bonjour à tous.".encode()).hexdigest()
    assert t.size == len("Bonjour à tous.".encode())
    assert len({r.fingerprint for r in rows}) == 3


def test_fingerprint_depends_on_id_content_and_config():
    """A row's fingerprint changes with its ID, its content and the configuration, and only with them."""
    one = rows_of(pd.DataFrame({"id": ["a"], "src": ["same words"]}))[0]
    again = rows_of(pd.DataFrame({"id": ["z", "a"], "src": ["other", "same words"]}))[1]
    other_id = rows_of(pd.DataFrame({"id": ["b"], "src": ["same words"]}))[0]
    other_text = rows_of(pd.DataFrame({"id": ["a"], "src": ["same wordz"]}))[0]
    other_config = rows_of(pd.DataFrame({"id": ["a"], "src": ["same words"]}), config="other")[0]
    assert one.fingerprint == again.fingerprint  # the position in the table does not matter
    assert len({one.fingerprint, other_id.fingerprint, other_text.fingerprint, other_config.fingerprint}) == 4


def test_numpy_and_python_int_ids_share_a_fingerprint():
    """An ID read as numpy.int64 and the same ID as a Python int give the same token and fingerprint."""
    a = rows_of(pd.DataFrame({"id": pd.Series([np.int64(7)], dtype="object"), "src": ["x y"]}))[0]
    b = rows_of(pd.DataFrame({"id": pd.Series([7], dtype="object"), "src": ["x y"]}))[0]
    assert (a.token, a.fingerprint) == (b.token, b.fingerprint)


# -- plan_jobs ---------------------------------------------------------------------------------

def test_every_job_respects_the_per_kind_count_limits(tmp_path: Path):
    """Files, URLs and texts are cut into jobs of at most their own count limit, in table order."""
    files = [wav(tmp_path / f"s{i}" / "take.wav", seed=i) for i in range(7)]
    urls = [f"https://example.org/clip{i}.wav" for i in range(12)]
    words = [f"Text row {i}." for i in range(25)]
    sources = files + urls + words
    table = pd.DataFrame({"id": range(len(sources)), "src": sources}).sample(frac=1, random_state=3)
    limits = dataclasses.replace(DEFAULT_LIMITS, max_files_per_job=3, max_urls_per_job=5, max_texts_per_job=10)
    plan = plan_jobs(rows_of(table), config=CONFIG, limits=limits)
    assert_limits(plan, limits)
    assert_partition(plan, set(range(len(sources))))
    kinds = Counter(job.kind for job in plan.jobs)
    assert kinds == {"file": math.ceil(7 / 3), "url": math.ceil(12 / 5), "text": math.ceil(25 / 10)}
    assert [job.kind for job in plan.jobs] == sorted((j.kind for j in plan.jobs), key=["file", "url", "text"].index)
    for kind in ("file", "url", "text"):  # within a kind, inputs follow table order
        order = [row.index for job in plan.jobs if job.kind == kind for row in job.rows]
        assert order == sorted(order)
    assert plan.unplannable == {}
    summary = plan.summary()
    assert list(summary.columns) == ["job", "kind", "inputs", "rows", "bytes"]
    assert summary["rows"].sum() == len(sources) and len(summary) == len(plan.jobs)


def test_byte_cap_splits_jobs_and_reports_oversized_inputs():
    """max_request_bytes cuts jobs by payload size; an input larger than the cap alone is unplannable."""
    table = texts(7, width=30)  # 30 bytes each
    table.loc[3, "src"] = "A much longer text. " * 8  # 160 bytes
    limits = dataclasses.replace(DEFAULT_LIMITS, max_request_bytes=100)
    plan = plan_jobs(rows_of(table), config=CONFIG, limits=limits)
    assert_limits(plan, limits)
    assert [len(job.inputs) for job in plan.jobs] == [3, 3]
    assert set(plan.unplannable) == {3}
    assert "160 bytes" in plan.unplannable[3] and "max_request_bytes=100" in plan.unplannable[3]
    assert_partition(plan, set(range(7)))


def test_byte_cap_applies_to_files(tmp_path: Path):
    """File jobs are cut by the sum of file sizes under the cap."""
    paths = [wav(tmp_path / f"{i}.wav", seed=i) for i in range(5)]
    size = Path(paths[0]).stat().st_size
    limits = dataclasses.replace(DEFAULT_LIMITS, max_request_bytes=2 * size + 10)
    plan = plan_jobs(rows_of(pd.DataFrame({"id": range(5), "src": paths})), config=CONFIG, limits=limits)
    assert [len(job.inputs) for job in plan.jobs] == [2, 2, 1]
    assert all(job.size <= 2 * size + 10 for job in plan.jobs)


def test_an_input_exactly_at_the_cap_is_planned():
    """An input whose size equals max_request_bytes fits, alone, in a job."""
    table = texts(2, width=50)
    plan = plan_jobs(rows_of(table), config=CONFIG, limits=dataclasses.replace(DEFAULT_LIMITS, max_request_bytes=50))
    assert [len(job.inputs) for job in plan.jobs] == [1, 1] and plan.unplannable == {}


def test_plans_are_deterministic(tmp_path: Path):
    """The same table and configuration give identical job keys, inputs and upload names."""
    files = [wav(tmp_path / f"{i}" / "take1.wav", seed=i) for i in range(4)]
    table = pd.concat([texts(5), pd.DataFrame({"id": ["f0", "f1", "f2", "f3"], "src": files})], ignore_index=True)
    limits = dataclasses.replace(DEFAULT_LIMITS, max_texts_per_job=2, max_files_per_job=3)
    first = plan_jobs(rows_of(table), config=CONFIG, limits=limits)
    second = plan_jobs(rows_of(table.copy()), config=CONFIG, limits=limits)
    assert [j.key for j in first.jobs] == [j.key for j in second.jobs]
    assert [j.inputs for j in first.jobs] == [j.inputs for j in second.jobs]
    assert len({j.key for j in first.jobs}) == len(first.jobs)


def test_job_keys_change_with_config_and_salt():
    """Another configuration or a salt gives new job keys for the same rows; the salt keeps fingerprints."""
    rows = rows_of(texts(3))
    plain = plan_jobs(rows, config=CONFIG)
    salted = plan_jobs(rows, config=CONFIG, salt="|retry-1")
    other = plan_jobs(rows_of(texts(3), config="other"), config="other")
    assert plain.jobs[0].key != salted.jobs[0].key != other.jobs[0].key
    assert [r.fingerprint for r in plain.jobs[0].rows] == [r.fingerprint for r in salted.jobs[0].rows]
    assert salted.config_key == CONFIG + "|retry-1"


def test_identical_inputs_are_sent_once_for_all_their_rows(tmp_path: Path):
    """The same URL, text or file bytes in several rows become one input answering for each of those rows."""
    original = wav(tmp_path / "a" / "take1.wav")
    copy = tmp_path / "b" / "copy.wav"
    copy.parent.mkdir()
    copy.write_bytes(Path(original).read_bytes())
    url = "https://example.org/shared.wav"
    table = pd.DataFrame({
        "id": ["u1", "t1", "f1", "u2", "t2", "f2", "u3", "t3"],
        "src": [url, "Same words.", original, url, "Same words.", str(copy), url, "Other words."],
    })
    plan = plan_jobs(rows_of(table), config=CONFIG)
    by_kind = {job.kind: job for job in plan.jobs}
    assert len(plan.jobs) == 3
    assert [[r.index for r in item.rows] for item in by_kind["url"].inputs] == [[0, 3, 6]]
    assert [[r.index for r in item.rows] for item in by_kind["text"].inputs] == [[1, 4], [7]]
    assert [[r.index for r in item.rows] for item in by_kind["file"].inputs] == [[2, 5]]
    assert by_kind["file"].inputs[0].value == original  # the first row's file is uploaded
    assert by_kind["file"].describe()["files"][0]["md5sum"] == hashlib.md5(copy.read_bytes()).hexdigest()
    assert_partition(plan, set(range(8)))


def test_duplicates_do_not_count_twice_against_limits():
    """Rows sharing an input take one slot of the count limit."""
    table = pd.DataFrame({"id": range(6), "src": ["https://example.org/a.wav"] * 5 + ["https://example.org/b.wav"]})
    plan = plan_jobs(rows_of(table), config=CONFIG, limits=dataclasses.replace(DEFAULT_LIMITS, max_urls_per_job=2))
    assert len(plan.jobs) == 1 and len(plan.jobs[0].inputs) == 2 and len(plan.jobs[0].rows) == 6


def test_upload_names_are_unique_for_basename_collisions(tmp_path: Path):
    """Two take1.wav in different folders are uploaded under different names derived from their row IDs."""
    a = wav(tmp_path / "s1" / "take1.wav", seed=1)
    b = wav(tmp_path / "s2" / "take1.wav", seed=2)
    plan = plan_jobs(rows_of(pd.DataFrame({"id": ["spk 1", "spk 2"], "src": [a, b]})), config=CONFIG)
    names = [item.filename for item in plan.jobs[0].inputs]
    assert len(set(names)) == 2
    assert names == [upload_name("spk 1", a), upload_name("spk 2", b)]
    assert [plan.jobs[0].input_key(i) for i in range(2)] == names
    assert all(name.endswith(".wav") and name.startswith("spk_") for name in names)


@pytest.mark.parametrize("a, b", [("a b", "a_b"), ("a/b", "a b"), ("zoë", "zo_"), ("x" * 70, "x" * 70 + "y"),
                                  (1, "1"), ("", " "), (True, 1)])
def test_upload_names_differ_for_ids_that_slug_alike(a: Any, b: Any):
    """IDs whose slugs coincide still get different upload names (a hash of the ID is appended)."""
    assert upload_name(a, "/x/take.WAV") != upload_name(b, "/y/take.WAV")


def test_upload_name_shape():
    """upload_name is <slug>-<8 hex><lower-case suffix>, and equal IDs of different types give the same name."""
    name = upload_name("rec 00001/zoë", "/data/A.WAV")
    slug, digest = name[: -len(".wav")].rsplit("-", 1)
    assert name.endswith(".wav") and slug == "rec_00001_zo" and len(digest) == 8 and int(digest, 16) >= 0
    assert upload_name(np.int64(3), "a.png") == upload_name(3, "a.png")
    assert upload_name("...", "a.png").startswith("row-")


def test_input_keys_per_kind():
    """A text's input key is its 1-based position in the job, a URL's is the URL itself."""
    urls = [f"https://example.org/{i}.wav" for i in range(3)]
    table = pd.concat([texts(3), pd.DataFrame({"id": ["u0", "u1", "u2"], "src": urls})], ignore_index=True)
    plan = plan_jobs(rows_of(table), config=CONFIG)
    url_job, text_job = plan.jobs
    assert [text_job.input_key(i) for i in range(3)] == ["1", "2", "3"]
    assert [url_job.input_key(i) for i in range(3)] == urls
    assert url_job.describe() == {"urls": urls}
    assert text_job.describe() == {"text_sha256": [item.content for item in text_job.inputs]}


def test_text_input_keys_restart_in_each_job():
    """Text input keys are positions within each job, so the second job also starts at '1'."""
    plan = plan_jobs(rows_of(texts(5)), config=CONFIG,
                     limits=dataclasses.replace(DEFAULT_LIMITS, max_texts_per_job=3))
    assert [[job.input_key(i) for i in range(len(job.inputs))] for job in plan.jobs] == [["1", "2", "3"], ["1", "2"]]


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_halves_split_a_job(n: int):
    """halves() splits a job into two non-empty jobs of its inputs, in order, with new distinct keys."""
    job = plan_jobs(rows_of(texts(n)), config=CONFIG).jobs[0]
    left, right = job.halves(CONFIG)
    assert len(left.inputs) == n // 2 and len(right.inputs) == n - n // 2
    assert left.inputs + right.inputs == job.inputs
    assert len({job.key, left.key, right.key}) == 3
    assert (left.kind, right.kind) == (job.kind, job.kind)
    assert [h.key for h in job.halves(CONFIG)] == [left.key, right.key]  # deterministic
    assert left.key == plan_jobs(rows_of(texts(n // 2)), config=CONFIG).jobs[0].key  # same rows, same key


def test_rebuild_job_from_ledger_records(tmp_path: Path):
    """rebuild_job recreates a claimed job from its recorded input→row mapping and today's rows."""
    files = [wav(tmp_path / f"{i}" / "take1.wav", seed=i) for i in range(3)]
    table = pd.DataFrame({"id": ["a", "b", "c"], "src": [files[0], files[1], files[0]]})
    rows = rows_of(table)
    job = plan_jobs(rows, config=CONFIG).jobs[0]
    recorded = pd.DataFrame([{"input_key": job.input_key(p), "fingerprint": row.fingerprint}
                             for p, item in enumerate(job.inputs) for row in item.rows])
    rebuilt = rebuild_job(job.key, "file", recorded, {r.fingerprint: r for r in rows})
    assert isinstance(rebuilt, PlannedJob)
    assert rebuilt == job
    # a row gone from the table: its input keeps the remaining rows
    partial = {r.fingerprint: r for r in rows if r.index != 2}
    again = rebuild_job(job.key, "file", recorded, partial)
    assert again is not None and [[r.index for r in i.rows] for i in again.inputs] == [[0], [1]]
    # an input whose every row is gone cannot be re-sent
    assert rebuild_job(job.key, "file", recorded, {rows[1].fingerprint: rows[1]}) is None


def test_rebuild_text_job_keeps_order():
    """A rebuilt text job sends the same texts in the same order (its input keys are positions)."""
    rows = rows_of(texts(4))
    job = plan_jobs(rows, config=CONFIG).jobs[0]
    recorded = pd.DataFrame([{"input_key": job.input_key(p), "fingerprint": item.rows[0].fingerprint}
                             for p, item in enumerate(job.inputs)])
    rebuilt = rebuild_job(job.key, "text", recorded, {r.fingerprint: r for r in rows})
    assert rebuilt is not None and [i.value for i in rebuilt.inputs] == [i.value for i in job.inputs]
    assert all(i.filename is None for i in rebuilt.inputs)


def test_empty_rows_plan_nothing():
    """No rows: no jobs, nothing unplannable."""
    plan = plan_jobs([], config=CONFIG)
    assert plan.jobs == [] and plan.unplannable == {} and plan.summary().empty


# -- property-based ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A few small files of different sizes (WAVs and PNGs), shared by every generated table."""
    folder = tmp_path_factory.mktemp("plan-media")
    paths = [wav(folder / f"w{i}.wav", duration=0.1 + 0.1 * i, seed=i) for i in range(3)]
    for i in range(2):
        make_image(folder / f"i{i}.png", width=16 + 8 * i, height=16, seed=i)
        paths.append(str(folder / f"i{i}.png"))
    return paths


SOURCES = st.one_of(
    st.sampled_from(["Hi there.", "Hello, world.", "A somewhat longer sentence with more bytes in it.",
                     "Ünïcödé text ✓"]).map(lambda s: ("text", s)),
    st.integers(0, 6).map(lambda n: ("url", f"https://example.org/clip-{n}.wav")),
    st.integers(0, 4).map(lambda n: ("file", n)),
)
LIMITS = st.builds(
    lambda files, urls, texts_, cap: dataclasses.replace(
        DEFAULT_LIMITS, max_files_per_job=files, max_urls_per_job=urls, max_texts_per_job=texts_,
        max_request_bytes=cap),
    st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.one_of(st.none(), st.integers(10, 6000)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sources=st.lists(SOURCES, min_size=1, max_size=25), limits=LIMITS)
def test_plans_partition_rows_and_respect_limits(media: list[str], sources: list[tuple[str, Any]], limits: Limits):
    """For random tables and small limits, every row is planned exactly once (or unplannable) under every limit."""
    values = [media[v] if kind == "file" else v for kind, v in sources]
    table = pd.DataFrame({"id": [f"row {i}" for i in range(len(values))], "src": values})
    rows = rows_of(table)
    plan = plan_jobs(rows, config=CONFIG, limits=limits)
    assert_partition(plan, set(range(len(values))))
    assert_limits(plan, limits)
    cap = limits.max_request_bytes
    sizes = {r.index: r.size for r in rows}
    assert all(cap is not None and sizes[index] > cap for index in plan.unplannable)
    # identical inputs are sent once: no content twice within a kind
    sent = Counter((job.kind, item.content) for job in plan.jobs for item in job.inputs)
    assert max(sent.values(), default=1) == 1
    # file uploads in one job never share a name
    for job in plan.jobs:
        if job.kind == "file":
            names = [item.filename for item in job.inputs]
            assert len(set(names)) == len(names)
    again = plan_jobs(rows_of(table), config=CONFIG, limits=limits)
    assert [j.key for j in again.jobs] == [j.key for j in plan.jobs]
