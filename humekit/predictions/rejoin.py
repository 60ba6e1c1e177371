"""Join archived predictions (read with :func:`humekit.read_predictions`) back to a recordings table.

Predictions downloaded before the v0 sunset name each recording by what Hume saw: a URL, or an
uploaded file's name and md5. :func:`join_archived` matches them to the rows of a table by that,
never by order:

- a **URL** row matches predictions whose ``source`` is that URL;
- a **file** row matches predictions whose ``md5sum`` is the md5 of the local file; artifacts
  ZIPs carry no md5, so there a file row matches by its file name (``source`` or ``file``), and
  two different recordings with the name are reported ``ambiguous`` rather than guessed;
- a **text** row cannot be matched: Hume names raw texts only by their index in the job, which
  an archive does not tie to a table row.

Every row of the table comes out in ``status``, in the vocabulary of a live result's status
(:data:`humekit.pipeline.columns.ROW_STATUSES`, the same Categorical) with the finer detail beside it:

========  ===============  ==============================================================
status    match            when
========  ===============  ==============================================================
ok        ``matched``      the archive holds the row's predictions (``error`` is empty)
failed    ``missing``      the archive holds no predictions for the row's URL, md5 or name
invalid   ``missing``      the row's file is missing or unreadable (the error a live run gives)
invalid   ``ambiguous``    two archived recordings share the row's file name, and no md5
invalid   ``unmatchable``  a raw text: archives name texts only by their index in the job
========  ===============  ==============================================================

``error`` says why for every row that is not ``ok``; ``reason`` holds the same text (kept for this
release: read ``error``). An archived source two rows share (the same URL or the same bytes) is
copied to both.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

import pandas as pd

from humekit.errors import TableError
from humekit.pipeline.columns import ARCHIVED_STATUS_COLUMNS, STATUS_DTYPE
from humekit.pipeline.planning import file_md5
from humekit.predictions._tables import PredictionTables
from humekit.pipeline.validation import validate

__all__ = ["ArchivedJoin", "join_archived"]

Key = tuple[Any, ...]  # (source_type, source, md5sum, file) of one archived recording
Matched = tuple[str, str, str | None, list[Key]]  # (status, match, error, archived source keys) of one row


@dataclass(frozen=True, slots=True)
class ArchivedJoin:
    """Archived predictions joined to a table.

    Attributes:
        status: one row per table row (same index): the ID column, then ``status`` (``ok``,
            ``failed`` or ``invalid``: the Categorical of a live result's ``status``), ``error`` (why,
            for every row that is not ``ok``), ``match`` (the finer detail: ``matched``, ``missing``,
            ``ambiguous`` or ``unmatchable``) and ``reason`` (the same text as ``error``, kept for
            this release).
        predictions: the ``scores`` rows of matched recordings, with the table's ID column first.
    """

    status: pd.DataFrame
    predictions: pd.DataFrame


def join_archived(
    table: pd.DataFrame, tables: PredictionTables, *, id_col: str, source_col: str, root: str | None = None
) -> ArchivedJoin:
    """Attach archived predictions to the rows of ``table`` by URL, file md5 or file name.

    Args:
        table: one row per recording, with a unique ``id_col`` and a ``source_col`` of URLs or paths.
        tables: what :func:`humekit.read_predictions` returned for the archive.
        id_col: the table's ID column (it replaces the source columns in the output).
        source_col: the column of URLs or local paths (files are read to compute their md5).
        root: folder that relative paths are relative to (default: the working directory).

    Returns:
        An :class:`ArchivedJoin` with ``status`` and ``predictions``.

    Raises:
        TableError: the table has no such columns, duplicate or missing IDs, or an ID column named like
            a column of ``status``.
    """
    checked = validate(table, id_col=id_col, source_col=source_col, root=root, errors="mark")
    if id_col in ARCHIVED_STATUS_COLUMNS:  # validate refuses "status" and "error": these are the others
        raise TableError(f"id_col={id_col!r}: the status of an archive join has a column {id_col!r} too, where "
                         f"the ID could not stay intact. Rename your ID column (e.g. to {id_col + '_id'!r}) and "
                         "pass that name.", column=id_col)
    scores = tables.scores
    sources = scores[_KEYS].drop_duplicates()
    sources = sources.astype(object).where(sources.notna(), None)
    by_url: dict[str, list[Key]] = {}
    by_md5: dict[str, list[Key]] = {}
    by_name: dict[str, list[Key]] = {}
    for key in sources.itertuples(index=False, name=None):
        kind, source, md5, file = key
        if md5:
            by_md5.setdefault(md5, []).append(key)
        elif kind == "url" or (isinstance(source, str) and source.startswith(("http://", "https://"))):
            by_url.setdefault(source, []).append(key)
        for name in {posixpath.basename(str(n)) for n in (source, file) if n} if kind != "text" else ():
            by_name.setdefault(name, []).append(key)

    rows = [_match(kind, value, path, problem, by_url, by_md5, by_name)
            for kind, value, path, problem in zip(checked["source_kind"], checked[source_col],
                                                  checked["source_path"], checked["source_problem"], strict=True)]
    states, matches, errors, keys_of_row = zip(*rows, strict=True)  # validate refuses an empty table
    error = pd.Series(errors, dtype="object").to_numpy()  # as a live result's error column is built (same dtype)
    status = pd.DataFrame(
        {id_col: checked[id_col], "status": pd.Categorical(states, dtype=STATUS_DTYPE), "error": error,
         "match": list(matches), "reason": error.copy()},
        index=checked.index,
    )
    links = pd.DataFrame(
        [(row_id, *key) for row_id, found in zip(checked[id_col], keys_of_row, strict=True) for key in found],
        columns=[id_col, *_KEYS],
    )
    predictions = _attach(scores, links, id_col)
    try:
        predictions[id_col] = predictions[id_col].astype(checked[id_col].dtype)
    except (TypeError, ValueError):
        pass  # an ID dtype that cannot hold the values as they came back: leave them as objects
    return ArchivedJoin(status=status, predictions=predictions)



def _match(kind: str, value: str, path: str | None, problem: str | None, by_url: dict[str, list[Key]],
           by_md5: dict[str, list[Key]], by_name: dict[str, list[Key]]) -> Matched:
    """(status, match, error, archived source keys) for one table row."""
    if kind == "text":
        return "invalid", "unmatchable", "raw texts are named only by their index in the job, not tied to a row", []
    if kind == "url":
        found = by_url.get(value, [])
        return ("ok", "matched", None, found) if found else _missing("no archived predictions for this URL")
    if path is None:
        return "invalid", "missing", problem or "no local file to identify", []
    try:
        found = by_md5.get(file_md5(path), [])
    except OSError as exc:
        return "invalid", "missing", problem or f"cannot read the file to compute its md5: {exc}", []
    if found:
        return "ok", "matched", None, found
    name = posixpath.basename(str(path).replace("\\", "/"))
    candidates = [k for k in by_name.get(name, []) if not k[2]]  # only archives without md5 (artifacts CSVs)
    recordings = {k[:2] for k in candidates}
    if len(recordings) > 1:
        return "invalid", "ambiguous", (f"{len(recordings)} archived recordings are named {name!r} and the archive "
                                        "has no md5 to tell them apart; rename or match these rows yourself"), []
    if candidates:
        return "ok", "matched", None, candidates
    return _missing("no archived predictions with this file's md5 or name")


def _missing(error: str) -> Matched:
    """A row the archive holds no predictions for: ``failed``, as a live row that came back without any."""
    return "failed", "missing", error, []


_KEYS = ["source_type", "source", "md5sum", "file"]
_NULL = "\x00null"  # stands for a null key part while merging (categorical nulls do not merge)


def _attach(scores: pd.DataFrame, links: pd.DataFrame, id_col: str) -> pd.DataFrame:
    """The scores rows of each linked source, with the row's ID first and the source columns dropped."""
    kept = [c for c in scores.columns if c not in _KEYS]
    left = scores[_KEYS + kept].copy()
    right = links.copy()
    for k in _KEYS:
        left[k] = left[k].astype(object).where(left[k].notna(), _NULL)
        right[k] = right[k].astype(object).where(right[k].notna(), _NULL)
    merged = right.merge(left, on=_KEYS, how="inner", sort=False)
    return merged[[id_col, *kept]].reset_index(drop=True)
