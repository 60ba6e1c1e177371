"""Tests for humekit.predictions.result_folder: a whole result to a folder and back, with its dtypes."""

from __future__ import annotations

from pathlib import Path

import pytest
from _results import measured_result, same_rows as _same  # noqa: F401 (measured_result is the `measured` fixture)

from humekit.predictions.export import to_parquet


@pytest.mark.parametrize("formats", [("parquet",), ("csv",)])
def test_write_result_round_trips_a_whole_result(measured, tmp_path: Path, formats) -> None:
    """result.save(folder) writes every table; read_result gives back the same values and dtypes, Parquet or CSV."""
    from humekit.predictions.export import read_result

    folder = measured.save(tmp_path / "study", formats=formats)
    suffix = formats[0]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["result.json", *(f"{n}.{suffix}" for n in ("status", "predictions", "descriptors", "per_row", "table"))])
    back = read_result(folder)
    assert back.id_col == "id" and back.counts() == measured.counts()
    _same(back.status, measured.status)
    _same(back.predictions, measured.predictions)
    _same(back.table, measured.checked[["id", "src", "group"]])
    _same(back.per_row(columns=True), measured.per_row(columns=True))
    _same(back.wide(), measured.wide())
    assert back.table["group"].dtype == "Int64" and back.status["status"].dtype == measured.status["status"].dtype


def test_a_result_and_a_single_table_are_written_to_parquet_the_same_way(measured, tmp_path: Path) -> None:
    """write_result's predictions.parquet has the schema to_parquet gives the same table (one Parquet writer)."""
    import pyarrow.parquet as pq

    from humekit.predictions.export import write_result

    folder = write_result(measured, tmp_path / "r", formats="parquet")
    single = to_parquet(measured.predictions, tmp_path / "p.parquet")
    assert pq.read_schema(folder / "predictions.parquet").remove_metadata() == \
        pq.read_schema(single).remove_metadata()
