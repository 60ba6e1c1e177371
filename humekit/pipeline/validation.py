"""Check a recordings table before anything is sent: IDs, sources, media types, sizes, durations.

:func:`validate` returns a checked copy of the table (one row per input row, same index) with
what it learned about each source, and a ``problem`` per row that cannot be measured. This module
checks the table and its IDs; :mod:`humekit.pipeline.sources` checks each source. Nothing here touches
the network.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from humekit.pipeline.columns import DESCRIPTOR_COLUMNS, OUTPUT_COLUMNS, PREDICTION_COLUMNS, STATUS_COLUMNS, SUMMARY_COLUMNS
from humekit.errors import DuplicateIdError, InvalidRowsError, MissingColumnError, TableError
from humekit.pipeline.input_limits import InputLimits
from humekit.pipeline.sources import MODELS_FOR_KIND, check_source, is_null
from humekit.pipeline.sources import media_category as media_category  # re-exported: its old import path
from humekit.predictions.vocabulary import check_models

__all__ = ["ADDED_COLUMNS", "MODELS_FOR_KIND", "check_table", "describe_sources", "raise_problems", "validate"]

#: Columns :func:`validate` adds to the table.
ADDED_COLUMNS = (
    "source_kind", "source_path", "source_bytes", "source_duration", "source_media_type", "source_problem",
    "source_note",
)
_SHOWN = 10  # problems listed in one error message
_SHOWN_IDS = 5  # duplicated IDs listed in one error message


def validate(
    table: pd.DataFrame,
    *,
    id_col: str,
    source_col: str,
    kind: Literal["auto", "file", "url", "text"] = "auto",
    models: Iterable[str] | dict[str, Any] | None = None,
    root: str | os.PathLike[str] | None = None,
    limits: InputLimits = InputLimits(),
    errors: Literal["raise", "mark"] = "raise",
    api: Literal["v0", "v1"] = "v0",
) -> pd.DataFrame:
    """Check a recordings table and describe each row's source.

    Args:
        table: one row per recording.
        id_col: the column of stable, unique, non-null IDs (any hashable values).
        source_col: the column of local paths, http(s) URLs or raw texts.
        kind: what ``source_col`` holds; ``"auto"`` decides per row by what the value looks like,
            surrounding whitespace aside: a URL if it has a scheme; a file if it exists, has a media
            extension, starts like a path (``/``, ``./``, ``~/``, ``C:\\``) or has separators and
            no spaces; text otherwise. Surrounding whitespace is removed from a path when only the
            stripped path exists (``source_note`` says so); a missing path is a problem with a hint,
            never measured as text. Pass ``kind="text"`` (or ``"file"``) when a column holds only one kind.
        models: the models you will request; rows none of them can measure become problems.
        root: folder that relative paths are resolved against (default: the working directory).
        limits: the limits to check against (Hume's documented ones by default).
        errors: ``"raise"`` raises :class:`~humekit.InvalidRowsError` naming the rows and the fix;
            ``"mark"`` keeps going and leaves the reasons in the ``source_problem`` column.

    Returns:
        A copy of ``table`` with the columns ``source_kind`` (file/url/text), ``source_path``
        (resolved file path), ``source_bytes``, ``source_duration`` (seconds, where readable),
        ``source_media_type``, ``source_problem`` (``None`` for rows that can be sent) and
        ``source_note`` (what validation did to a value, e.g. whitespace removed around a path).

    Raises:
        MissingColumnError, DuplicateIdError, TableError, InvalidRowsError.
    """
    check_table(table, id_col=id_col, source_col=source_col, errors=errors)
    base = Path(root) if root is not None else Path.cwd()
    out = describe_sources(table, source_col=source_col, kind=kind, models=models, base=base, limits=limits, api=api)
    if errors == "raise":
        raise_problems(out[[id_col, "source_problem"]], positions=np.arange(len(out)), rows=len(out), id_col=id_col,
                       guessed=kind == "auto", base=base)
    return out


def check_table(table: Any, *, id_col: str, source_col: str, errors: str) -> None:
    """What :func:`validate` checks of the table as a whole, before any row: it is a non-empty DataFrame with
    ``id_col`` and ``source_col`` (once each, not clashing with what validation adds) and unique, non-null IDs.

    Raises:
        MissingColumnError, DuplicateIdError, TableError.
    """
    _check_columns(table, id_col, source_col, errors)
    _check_ids(table[id_col], id_col, table)


def describe_sources(table: pd.DataFrame, *, source_col: str, kind: Literal["auto", "file", "url", "text"] = "auto",
                     models: Iterable[str] | dict[str, Any] | None = None, base: Path,
                     limits: InputLimits = InputLimits(), api: Literal["v0", "v1"] = "v0") -> pd.DataFrame:
    """A copy of ``table`` (rows already checked as a table by :func:`check_table`) with what :func:`validate` learns
    about each row's source (the ``source_...`` columns); a row that cannot be sent has its ``source_problem``."""
    wanted = _model_names(models, api)
    checked = [
        check_source(value, kind=kind, base=base, limits=limits, models=wanted, api=api) for value in table[source_col]
    ]
    out = table.copy()
    out["source_kind"] = pd.Series([c.kind for c in checked], index=table.index, dtype="object")
    out["source_path"] = pd.Series([c.path for c in checked], index=table.index, dtype="object")
    out["source_bytes"] = pd.array([c.size for c in checked], dtype="Int64")
    out["source_duration"] = pd.array([c.duration for c in checked], dtype="Float64")
    out["source_media_type"] = pd.Series([c.media_type for c in checked], index=table.index, dtype="object")
    out["source_problem"] = pd.Series([c.problem for c in checked], index=table.index, dtype="object")
    out["source_note"] = pd.Series([c.note for c in checked], index=table.index, dtype="object")
    return out


def _check_columns(table: Any, id_col: str, source_col: str, errors: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise TableError(f"Expected a pandas DataFrame of recordings, got {type(table).__name__}; "
                         "build one with pandas.DataFrame({...}) or pandas.read_csv(...)")
    if errors not in ("raise", "mark"):
        raise TableError(f"errors={errors!r} is not one of 'raise', 'mark'")
    for name, role in ((id_col, "id_col"), (source_col, "source_col")):
        if name not in table.columns:
            raise MissingColumnError(
                f"{role}={name!r} is not a column of the table; its columns are {list(map(str, table.columns))}. "
                f"Pass {role}= with one of them" + (" (or reset_index() to make the index a column)"
                                                    if name == table.index.name else ""),
                column=name,
            )
    # The ID and source columns are not exempt: validation would overwrite them (IDs lost, sources replaced).
    clashes = [c for c in ADDED_COLUMNS if c in table.columns]
    if clashes:
        raise TableError(f"The table already has column(s) {clashes}, which validation adds; rename them first "
                         "(e.g. table.rename(columns={...}))", column=clashes[0])
    if id_col == source_col:
        raise TableError(f"id_col and source_col are both {id_col!r}; IDs must be a separate, stable column")
    _check_id_name(id_col, table)
    repeated = [name for name in (id_col, source_col) if (table.columns == name).sum() > 1]
    if repeated:
        raise TableError(f"The table has {int((table.columns == repeated[0]).sum())} columns named {repeated[0]!r}; "
                         "rename or drop the extra ones so each column name is unique", column=repeated[0])
    if table.empty:
        raise TableError("The table is empty: there is nothing to measure. Check the filter that built it.")


def _check_id_name(id_col: Any, table: pd.DataFrame) -> None:
    """Refuse an ID column named like a column of humekit's outputs: the ID could not stay intact beside it."""
    if not isinstance(id_col, str) or id_col not in OUTPUT_COLUMNS:
        return
    outputs = [name for name, columns in (("status", STATUS_COLUMNS), ("predictions", PREDICTION_COLUMNS),
                                          ("descriptors", DESCRIPTOR_COLUMNS), ("humekit run's wide.csv", SUMMARY_COLUMNS))
               if id_col in columns] or ["wide(), one column per emotion"]
    new = next(name for name in (f"{id_col}_id", f"{id_col}_id2", f"{id_col}_key") if name not in table.columns)
    raise TableError(f"id_col={id_col!r}: {id_col!r} is also a column of humekit's outputs ({', '.join(outputs)}), "
                     f"where the ID column could not stay intact beside it. Rename that column (e.g. to {new!r}) "
                     f"and pass id_col={new!r}; nothing was sent.", column=id_col)


def _check_ids(ids: pd.Series, id_col: str, table: pd.DataFrame) -> None:
    # Positions, not labels: an index may repeat labels, and ids[label] would then pick several rows.
    values = ids.tolist()
    nulls = [i for i, value in enumerate(values) if is_null(value)]
    if nulls:
        raise DuplicateIdError(
            f"Column {id_col!r} has {len(nulls)} null ID(s), at {_rows(nulls)}. Every row needs a stable ID to "
            "join its predictions back: fill them in or drop those rows.",
            rows=nulls, column=id_col,
        )
    unhashable = [i for i, value in enumerate(values) if not isinstance(value, Hashable)]
    if unhashable:
        raise DuplicateIdError(
            f"Column {id_col!r} has unhashable IDs (e.g. {values[unhashable[0]]!r} at {_rows(unhashable[:1])}); "
            "use strings or numbers as IDs.",
            rows=unhashable, column=id_col,
        )
    tokens = pd.Series([id_token(value) for value in values], dtype="object")
    positions = [int(i) for i in np.flatnonzero(tokens.duplicated(keep=False).to_numpy())]
    if positions:
        where: dict[str, list[int]] = {}
        for position in positions:
            where.setdefault(tokens.iloc[position], []).append(position)
        shown = "; ".join(f"{values[at[0]]!r} at {_rows(at)}" for at in list(where.values())[:_SHOWN_IDS])
        more = f"; … {len(where) - _SHOWN_IDS} more" if len(where) > _SHOWN_IDS else ""
        raise DuplicateIdError(
            f"Column {id_col!r} has {len(where)} duplicated ID(s) on {len(positions)} rows: {shown}{more}. "
            "IDs must be unique to join predictions back: de-duplicate the table or choose another id_col.",
            rows=positions, column=id_col,
        )


def describe_row(position: int, row_id: Any) -> str:
    """How every message names a row: ``row 3 (ID 'p02')``, its position in the table (0-based, as in
    ``table.iloc[3]``, whatever the index) with its ID beside it."""
    return f"row {position} (ID {row_id!r})"


def _rows(positions: list[int]) -> str:
    """``row 3`` or ``rows 3, 8, 12 … (7 in all)``: positions, 0-based as in ``table.iloc``."""
    if len(positions) == 1:
        return f"row {positions[0]}"
    shown = ", ".join(map(str, positions[:5]))
    return f"rows {shown}" + (f" … ({len(positions)} in all)" if len(positions) > 5 else "")


def id_token(value: Any) -> str:
    """A stable text key for an ID, equal for equal IDs whatever their numpy/python type."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalars
    if isinstance(value, bool):
        return f"b:{value}"
    if isinstance(value, int):
        return f"i:{value}"
    if isinstance(value, float):
        return f"i:{int(value)}" if value.is_integer() else f"f:{value!r}"
    if isinstance(value, str):
        return f"s:{value}"
    if isinstance(value, tuple):
        return "t:(" + ",".join(id_token(v) for v in value) + ")"
    return f"r:{value!r}"


def _model_names(models: Iterable[str] | dict[str, Any] | None, api: str) -> frozenset[str] | None:
    if models is None:
        return None
    return check_models(models, table=True, api=api)


def raise_problems(problems: pd.DataFrame, *, positions: Any, rows: int, id_col: str, guessed: bool,
                   base: Path) -> None:
    """Raise :class:`~humekit.InvalidRowsError` if any of ``problems`` (the ID and ``source_problem`` of rows at
    ``positions`` in a table of ``rows`` rows) is a problem: the first rows named, with the fix."""
    has_problem = problems["source_problem"].notna().to_numpy()
    if not has_problem.any():
        return
    positions = np.asarray(positions)[has_problem]
    bad = problems[has_problem]
    lines = [f"  - {describe_row(int(position), row_id)}: {problem}"
             for position, row_id, problem in zip(positions[:_SHOWN], bad[id_col], bad["source_problem"],
                                                  strict=False)]  # the first _SHOWN rows only
    more = f"\n  … and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
    missing = bad["source_problem"].str.startswith("file not found")
    hint = ("\nkind='auto' read some of these as file paths; if the column holds texts, pass kind='text'."
            if guessed and missing.any() else "")
    if bad["source_problem"].str.contains("resolved against the root folder", regex=False).any():
        hint += f"\nRelative paths are resolved against root= (here {base}); pass root= the folder they are relative to."
    raise InvalidRowsError(
        f"{len(bad)} of {rows} rows cannot be measured:\n" + "\n".join(lines) + more + hint +
        "\nFix them, or pass errors='mark' to measure the other rows and report these as 'invalid'.",
        rows=[int(p) for p in positions],
    )

