"""Decode a v0 job's predictions JSON into tables keyed by input, the way the ledger names each input.

A job's predictions name each input by its URL, its upload filename (``source``) or, for raw texts,
its 1-based index in the job (``file``); that name is the ``input_key`` the ledger recorded with the
unit's input→row mapping, so the join needs nothing else of v0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from humekit.backends.base import Decoded
from humekit.predictions.decoding import tables_and_files

__all__ = ["decode", "file_kind"]


def decode(kind: str, answer: bytes) -> Decoded:
    """One job's predictions JSON (as stored) as :class:`~humekit.backends.base.Decoded` tables."""
    tables, files = tables_and_files(answer)
    errors = {_input_key(kind, source, file): str(message)
              for source, file, message in zip(tables.errors["source"], tables.errors["file"],
                                               tables.errors["message"], strict=True)}
    return Decoded(scores=_keyed(tables.scores, kind), descriptors=_keyed(tables.descriptors, kind), errors=errors,
                   answered=_answered(kind, files, tables.scores))


def _keyed(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """``frame`` with the ``input_key`` each row answers for."""
    by = frame["file"] if kind == "text" else frame["source"]
    return frame.assign(input_key=by.astype("string"))


def _input_key(kind: str, source: Any, file: Any) -> str:
    return str(file) if kind == "text" else str(source)


def _answered(kind: str, files: pd.DataFrame, scores: pd.DataFrame
              ) -> dict[str, tuple[list[tuple[str, str | None]], set[tuple[str, str]]]]:
    """Per input key of one job: the ``(file, file kind)`` Hume answered for, and the ``(file, model)``
    pairs that have at least one segment."""
    scored: dict[str, set[tuple[str, str]]] = {}
    if len(scores):
        key = (scores["file"] if kind == "text" else scores["source"]).astype("string")
        counted = pd.DataFrame({"key": key, "file": scores["file"].astype("string"),
                                "model": scores["model"].astype("string")}).drop_duplicates()
        for k, f, m in counted.itertuples(index=False, name=None):
            scored.setdefault(str(k), set()).add((_name(f), str(m)))
    answered: dict[str, list[tuple[str, str | None]]] = {}
    for source, file, file_type in zip(files["source"], files["file"], files["file_type"], strict=True):
        answered.setdefault(_input_key(kind, source, file), []).append((_name(file), file_kind(file_type)))
    return {input_key: (predictions, scored.get(input_key, set())) for input_key, predictions in answered.items()}


def _name(file: Any) -> str:
    """A prediction's ``file`` as a string, ``""`` when missing (the same from the JSON and the table)."""
    return "" if file is None or file is pd.NA or (isinstance(file, float) and np.isnan(file)) else str(file)


def file_kind(file_type: Any) -> str | None:
    """Hume's ``file_type`` as ``video``, ``video_no_audio``, ``audio``, ``image`` or ``text`` (``None``
    when not stated or unknown).

    Observed values are ``video``, ``video_no_audio`` and ``text``; ``audio`` and ``image`` are
    likely but unconfirmed, so any value starting with them counts.
    """
    if not isinstance(file_type, str):
        return None
    if file_type == "video_no_audio" or file_type == "text":
        return file_type
    return next((k for k in ("video", "audio", "image") if file_type.startswith(k)), None)
