"""Tests for humekit.pipeline.streaming: measure(out=...) joins chunk by chunk and streams predictions to Parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest
from _memory_backend import EMOTIONS, MemoryBackend, MemoryServer, expected_score

import humekit
import humekit.pipeline.streaming as streaming
from humekit.errors import ConfigurationError


def table(n: int = 23) -> pd.DataFrame:
    """``n`` texts under string IDs in an order unrelated to them, two rows sharing a text, one empty row."""
    texts = [f"utterance number {i}" for i in range(n)]
    texts[-1] = texts[0]
    texts[n // 4] = ""  # invalid: nothing to measure
    frame = pd.DataFrame({"id": [f"p{(7 * i) % n:02d}-{i}" for i in range(n)], "text": texts})
    return frame.sample(frac=1.0, random_state=5).reset_index(drop=True)


def run(frame: pd.DataFrame, server: MemoryServer, ledger: Path, **options: object) -> humekit.MeasureResult:
    return humekit.measure(frame, id_col="id", source_col="text", kind="text", models=["language"], errors="mark",
                           backend=MemoryBackend(server), ledger=ledger, progress=False, **options)


def parts(out: Path, table_name: str) -> list[Path]:
    """The Parquet files of one table of the dataset."""
    return sorted((out / table_name).rglob("*.parquet"))


def test_streamed_results_equal_the_in_memory_ones_by_id(tmp_path: Path) -> None:
    """Status, predictions, wide() and per_row() are the same with out= as without, a failed and an invalid row included."""
    frame = table()
    broken = MemoryServer(broken={frame["text"].iloc[2]})
    memory = run(frame, broken, tmp_path / "a.sqlite")
    streamed = run(frame, MemoryServer(broken={frame["text"].iloc[2]}), tmp_path / "b.sqlite", out=tmp_path / "out",
                   chunk_rows=4)
    assert memory.counts() == streamed.counts() == {"ok": 21, "failed": 1, "invalid": 1, "pending": 0}
    pd.testing.assert_frame_equal(memory.status, streamed.status)
    assert streamed.stored_predictions.empty  # nothing held: read from the dataset
    pd.testing.assert_frame_equal(memory.predictions, streamed.predictions)
    pd.testing.assert_frame_equal(memory.descriptors.reset_index(drop=True), streamed.descriptors)
    pd.testing.assert_frame_equal(memory.wide(), streamed.wide())
    pd.testing.assert_frame_equal(memory.per_row(), streamed.per_row())
    text_of = dict(zip(frame["id"], frame["text"], strict=True))
    for row_id, emotion, score in zip(streamed.predictions["id"], streamed.predictions["emotion"],
                                      streamed.predictions["score"], strict=True):
        assert score == pytest.approx(expected_score(text_of[row_id], str(emotion)))


def test_the_join_runs_per_chunk_and_each_chunk_is_its_own_part(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """23 rows at 5 a chunk: five joins of at most 5 rows, five status parts and five score parts."""
    sizes: list[int] = []
    join = streaming.join_results

    def counting(checked: pd.DataFrame, **kwargs: object) -> object:
        sizes.append(len(checked))
        return join(checked, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(streaming, "join_results", counting)
    out = tmp_path / "out"
    result = run(table(), MemoryServer(), tmp_path / "l.sqlite", out=out, chunk_rows=5)
    assert sizes == [5, 5, 5, 5, 3]
    assert [p.name for p in parts(out, "status")] == [f"part-{i:06d}-0.parquet" for i in range(5)]
    assert len(parts(out, "scores")) == 5 and all(p.parent.name == "model=language" for p in parts(out, "scores"))
    assert result.dataset().count_rows() == 22 * len(EMOTIONS)


def test_a_rerun_sends_nothing_and_rewrites_the_dataset_without_duplicates(tmp_path: Path) -> None:
    """The same call twice, then with bigger chunks: the same rows each time, and stale parts are removed."""
    frame, server, out = table(), MemoryServer(), tmp_path / "out"
    first = run(frame, server, tmp_path / "l.sqlite", out=out, chunk_rows=4)
    sent = len(server.sent)
    again = run(frame, server, tmp_path / "l.sqlite", out=out, chunk_rows=4)
    assert len(server.sent) == sent  # nothing sent twice
    pd.testing.assert_frame_equal(first.predictions, again.predictions)
    fewer = run(frame, server, tmp_path / "l.sqlite", out=out, chunk_rows=10)
    assert len(parts(out, "status")) == 3 and len(parts(out, "scores")) == 3
    pd.testing.assert_frame_equal(first.predictions, fewer.predictions)
    assert fewer.dataset().count_rows() == 22 * len(EMOTIONS)
    assert fewer.dataset("status").count_rows() == len(frame)


# dask 2026.8 calls DataFrame.reset_index(inplace=True) when reading Parquet, deprecated in pandas 3.1
@pytest.mark.filterwarnings("ignore:The inplace keyword:pandas.errors.Pandas4Warning")
def test_the_dataset_opens_lazily_and_with_read_dask(tmp_path: Path) -> None:
    """result.dataset() is a pyarrow dataset with the model column; read_dask(out) reads the same scores."""
    out = tmp_path / "out"
    result = run(table(), MemoryServer(), tmp_path / "l.sqlite", out=out, chunk_rows=6)
    scores = result.dataset()
    assert isinstance(scores, ds.Dataset)
    assert scores.count_rows(filter=ds.field("model") == "language") == 22 * len(EMOTIONS)
    status = result.dataset("status").to_table().to_pandas()
    assert sorted(status["id"]) == sorted(result.status["id"])
    pytest.importorskip("dask.dataframe")
    import dask

    with dask.config.set(scheduler="synchronous"):
        lazy = humekit.read_dask(out).compute()
    assert len(lazy) == len(result.predictions)
    assert set(lazy["id"]) == set(result.predictions["id"])
    assert f"{22 * len(EMOTIONS)} prediction rows" in repr(result)  # counted from the dataset's metadata


def test_an_in_memory_result_has_no_dataset(tmp_path: Path) -> None:
    """Without out=, result.dataset() says to pass out= instead of failing deep in pyarrow."""
    result = run(table(4), MemoryServer(), tmp_path / "l.sqlite")
    with pytest.raises(ConfigurationError, match="without out="):
        result.dataset()


def test_a_folder_of_other_parquet_files_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    """out= holding Parquet files humekit did not write: refused, with nothing sent and nothing removed."""
    out = tmp_path / "out"
    out.mkdir()
    pd.DataFrame({"x": [1]}).to_parquet(out / "mine.parquet")
    server = MemoryServer()
    with pytest.raises(ConfigurationError, match="humekit did not write"):
        run(table(), server, tmp_path / "l.sqlite", out=out)
    assert server.sent == [] and (out / "mine.parquet").exists()


def test_a_dry_run_writes_nothing(tmp_path: Path) -> None:
    """dry_run=True with out=: nothing sent and no folder made; the result is in memory."""
    server, out = MemoryServer(), tmp_path / "out"
    result = run(table(), server, tmp_path / "l.sqlite", out=out, dry_run=True)
    assert server.sent == [] and not out.exists() and result.out is None


@pytest.mark.parametrize("chunk_rows", [0, -3, 2.5, True])
def test_a_chunk_size_that_is_not_a_positive_whole_number_is_refused(tmp_path: Path, chunk_rows: object) -> None:
    """chunk_rows=0, negative, fractional or a bool: a ConfigurationError naming the option."""
    with pytest.raises(ConfigurationError, match="chunk_rows="):
        run(table(4), MemoryServer(), tmp_path / "l.sqlite", out=tmp_path / "out", chunk_rows=chunk_rows)


def test_retry_failed_streams_the_whole_table_again_to_the_same_folder(tmp_path: Path) -> None:
    """A failed row retried once the API takes it: every row ok, in the same out=, no row twice."""
    frame, out = table(), tmp_path / "out"
    server = MemoryServer(broken={frame["text"].iloc[2]})
    first = run(frame, server, tmp_path / "l.sqlite", out=out, chunk_rows=4)
    assert first.counts()["failed"] == 1
    server.broken.clear()
    again = humekit.retry_failed(first)
    assert again.out == first.out and again.counts() == {"ok": 22, "failed": 0, "invalid": 1, "pending": 0}
    assert again.dataset().count_rows() == 22 * len(EMOTIONS)
    assert set(again.predictions["id"]) == set(again.status.loc[again.status["status"] == "ok", "id"])


def test_every_stage_runs_a_chunk_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """23 rows at 5 a chunk: validation, planning and sending see at most 5 rows at once, never the table."""
    validated: list[int] = []
    sent: list[int] = []
    describe, send = streaming.describe_sources, streaming.send

    def describing(table: pd.DataFrame, **kwargs: object) -> pd.DataFrame:
        validated.append(len(table))
        return describe(table, **kwargs)  # type: ignore[arg-type]

    def sending(rows: list[object], checked: pd.DataFrame, **kwargs: object) -> object:
        sent.append(len(checked))
        return send(rows, checked, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(streaming, "describe_sources", describing)
    monkeypatch.setattr(streaming, "send", sending)
    result = run(table(), MemoryServer(), tmp_path / "l.sqlite", out=tmp_path / "out", chunk_rows=5)
    assert validated == sent == [5, 5, 5, 5, 3]
    assert result.counts() == {"ok": 22, "failed": 0, "invalid": 1, "pending": 0}


def test_a_streamed_result_holds_no_table_of_rows(tmp_path: Path) -> None:
    """With out=, the result keeps empty tables and no plan; status, checked and cost are read back equal to in memory."""
    frame = table()
    memory = run(frame, MemoryServer(), tmp_path / "a.sqlite")
    streamed = run(frame, MemoryServer(), tmp_path / "b.sqlite", out=tmp_path / "out", chunk_rows=4)
    assert streamed.stored_status.empty and streamed.stored_checked.empty and streamed.stored_cost is None
    assert streamed.plan is None
    pd.testing.assert_frame_equal(memory.checked, streamed.checked)
    assert memory.cost is not None and streamed.cost is not None
    pd.testing.assert_frame_equal(memory.cost, streamed.cost)
    assert memory.cost.attrs == streamed.cost.attrs  # the two rows sharing a text, in two chunks: one request
    assert streamed.given is not None and streamed.given.index.equals(frame.index)


def test_identical_inputs_in_different_chunks_are_sent_once(tmp_path: Path) -> None:
    """With out=, a text repeated in a later chunk is answered by the first chunk's request: sent once, billed once."""
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "text": ["same", "same", "other", "same"]})
    server = MemoryServer()
    result = run(frame, server, tmp_path / "l.sqlite", out=tmp_path / "out", chunk_rows=2)
    assert sorted(text for sent in server.sent for text in sent) == ["other", "same"]
    assert result.counts()["ok"] == 4 and result.cost is not None
    assert result.cost.attrs["total_requests"] == len(server.sent) == 2
    scores = result.predictions.pivot_table(index="id", columns="emotion", values="score", observed=True)
    pd.testing.assert_series_equal(scores.loc["a"], scores.loc["d"], check_names=False)


def test_an_invalid_row_in_the_last_chunk_refuses_the_table_before_anything_is_sent(tmp_path: Path) -> None:
    """errors='raise' with out=: every chunk is validated first; the error names the row's place in the whole table."""
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(12)], "text": [f"text {i}" for i in range(12)]})
    frame.loc[11, "text"] = ""
    server, out = MemoryServer(), tmp_path / "out"
    with pytest.raises(humekit.InvalidRowsError, match=r"1 of 12 rows cannot be measured:\n  - row 11 \(ID 'r11'\)"):
        humekit.measure(frame, id_col="id", source_col="text", kind="text", models=["language"],
                        backend=MemoryBackend(server), ledger=tmp_path / "l.sqlite", progress=False, out=out,
                        chunk_rows=4)
    assert server.sent == [] and not out.exists()


def test_duplicate_ids_in_different_chunks_are_refused(tmp_path: Path) -> None:
    """The IDs are checked across the whole table, not chunk by chunk."""
    frame = pd.DataFrame({"id": ["a", "b", "c", "a"], "text": ["one", "two", "three", "four"]})
    with pytest.raises(humekit.DuplicateIdError, match="'a' at rows 0, 3"):
        run(frame, MemoryServer(), tmp_path / "l.sqlite", out=tmp_path / "out", chunk_rows=2)


def test_v0_jobs_of_every_chunk_are_submitted_before_one_wait(tmp_path: Path, clock: object) -> None:
    """Against the v0 emulator, 9 texts at 3 a chunk: three jobs posted, then one wait for all, every row ok."""
    from humekit.emulator import Emulator, Schedule

    emu = Emulator(api_key="k", clock=clock, schedule=Schedule(queued=1, running=2))  # type: ignore[arg-type]
    frame = pd.DataFrame({"id": list(range(9)), "text": [f"Sentence {i}." for i in range(9)]})
    kwargs: dict[str, object] = dict(id_col="id", source_col="text", models=["language"], client=emu.client(),
                                     ledger=tmp_path / "l.sqlite", progress=False, kind="text", api="v0",
                                     out=tmp_path / "out", chunk_rows=3)
    result = humekit.measure(frame, **kwargs)  # type: ignore[arg-type]
    assert result.counts()["ok"] == 9 and len(emu.jobs) == 3 and len(result.submitted) == 3
    memory = humekit.measure(frame, **{**kwargs, "out": None})  # type: ignore[arg-type]
    # the same values (a text column is categorical when one answer is joined, plain when several are)
    pd.testing.assert_frame_equal(memory.predictions, result.predictions, check_dtype=False, check_categorical=False)
    assert len(emu.jobs) == 3  # the rerun, in memory, found every job in the ledger


def test_a_timeout_with_out_writes_what_finished_and_resumes(tmp_path: Path, clock: object) -> None:
    """A v0 wait that runs out: the error's result has the rows of finished jobs ok, the others pending, on disk;
    the same call later finishes them without a new job."""
    from humekit.emulator import Emulator, Schedule

    emu = Emulator(api_key="k", clock=clock, schedule=Schedule(queued=1, running=100))  # type: ignore[arg-type]
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "text": ["One.", "Two.", "Three.", "Four."]})
    kwargs: dict[str, object] = dict(id_col="id", source_col="text", models=["language"], client=emu.client(),
                                     ledger=tmp_path / "l.sqlite", progress=False, kind="text", api="v0",
                                     out=tmp_path / "out", chunk_rows=2)
    with pytest.raises(humekit.WaitTimeoutError):
        humekit.measure(frame.iloc[:2], timeout=30, **kwargs)  # type: ignore[arg-type]
    emu.schedule = Schedule(queued=1, running=2)
    with pytest.raises(humekit.WaitTimeoutError) as info:
        humekit.measure(frame, timeout=20, **kwargs)  # type: ignore[arg-type]
    partial = info.value.result
    assert partial.status["status"].tolist() == ["pending", "pending", "ok", "ok"]
    assert set(partial.predictions["id"]) == {3, 4}
    clock.sleep(200)  # type: ignore[attr-defined]
    done = humekit.measure(frame, **kwargs)  # type: ignore[arg-type]
    assert done.counts()["ok"] == 4 and len(emu.jobs) == 2


def test_a_request_answering_rows_of_two_chunks_is_counted_once(tmp_path: Path) -> None:
    """Rows a and b shared one request in memory; streamed a row a chunk, the totals still count one request."""
    frame = pd.DataFrame({"id": ["a", "b"], "text": ["shared", "shared"]})
    server, ledger = MemoryServer(), tmp_path / "l.sqlite"
    memory = run(frame, server, ledger)
    streamed = run(frame, server, ledger, out=tmp_path / "out", chunk_rows=1)
    assert len(server.sent) == 1 and memory.cost is not None and streamed.cost is not None
    assert memory.cost.attrs == streamed.cost.attrs and streamed.cost.attrs["total_requests"] == 1
    assert streamed.cost["requests"].tolist() == [1, 1]
