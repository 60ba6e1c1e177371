"""Plan units of work: what each checked row sends, identical inputs once, and the keys that make a plan stable.

Every valid row becomes a :class:`RowInput`; identical inputs (the same file bytes, URL or text) are
sent once and answer for every row that holds them (:func:`distinct_inputs`). How inputs are packed into
:class:`Unit` s is the backend's (``Backend.pack``: v0 cuts them into jobs under per-job limits,
:mod:`humekit.backends.v0.packing`). Every row gets a
*fingerprint* (its ID, its content and the model configuration) and every job a *key* derived
from its rows' fingerprints, so the same table and configuration always give the same plan, and
the ledger can tell which rows were already sent.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from humekit.errors import ConfigurationError
from humekit.pipeline.ledger import LedgerInput
from humekit.pipeline.validation import id_token
from humekit.predictions.vocabulary import MODELS, V1_MODELS, check_models

__all__ = [
    "Plan",
    "PlannedInput",
    "PlannedJob",
    "PlannedRow",
    "RowInput",
    "Unit",
    "config_key",
    "distinct_inputs",
    "for_config",
    "normalize_models",
    "rebuild_job",
    "row_inputs",
    "unit",
    "upload_name",
]

#: The kinds of input, in the order units are planned.
KINDS = ("file", "url", "text")


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """One table row as the plan sees it."""

    index: int
    r"""The row's position in the table."""
    id_token: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class PlannedInput:
    """One thing sent in a job (a file, a URL or a text) and the rows it answers for."""

    kind: str
    value: str = field(repr=False)
    r"""The file path, the URL or the text."""
    content: str
    r"""md5 of the file, the URL, or sha256 of the text: what makes two rows' inputs identical."""
    size: int
    rows: tuple[PlannedRow, ...]
    filename: str | None = None
    r"""The collision-proof name a file is uploaded under (derived from its row ID)."""
    md5: str | None = None


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit of work: what one request (a v0 job, a v1 upload) sends, and the rows each input answers for."""

    key: str
    kind: str
    inputs: tuple[PlannedInput, ...]
    models: tuple[str, ...] = ()
    r"""The models it asks for, when known: a job found in the API's list must ask for them too."""
    part: str = ""
    r"""Which part of its input the unit sends, when not all of it (a backend's own description, e.g. one
    window of a recording); part of the unit's key and of the request the ledger records."""

    def input_key(self, position: int) -> str:
        """How the API's predictions name input ``position``: URL, upload filename or 1-based text index."""
        item = self.inputs[position]
        if self.kind == "url":
            return item.value
        if self.kind == "file":
            return item.filename or ""
        return str(position + 1)

    @property
    def rows(self) -> list[PlannedRow]:
        return [row for item in self.inputs for row in item.rows]

    @property
    def size(self) -> int:
        return sum(item.size for item in self.inputs)

    def ledger_inputs(self) -> list[LedgerInput]:
        """The unit's input→row mapping as the ledger records it: one entry per (input, row)."""
        return [LedgerInput(self.input_key(position), row.fingerprint, row.id_token, item.content, item.md5)
                for position, item in enumerate(self.inputs) for row in item.rows]

    def describe(self) -> dict[str, Any]:
        """What the ledger records about the request (no file bytes)."""
        if self.kind == "url":
            return {"urls": [i.value for i in self.inputs]}
        if self.kind == "text":
            return {"text_sha256": [i.content for i in self.inputs]}
        return {"files": [{"filename": i.filename, "md5sum": i.md5, "path": i.value} for i in self.inputs]}

    def halves(self, config_key: str) -> tuple[Unit, Unit]:
        """Split into two smaller units (after the API refused this one for a limit)."""
        middle = len(self.inputs) // 2
        first, second = (replace(unit(self.kind, inputs, config_key, part=self.part), models=self.models)
                         for inputs in (self.inputs[:middle], self.inputs[middle:]))
        return first, second


@dataclass(frozen=True, slots=True)
class Plan:
    """The jobs to submit, and the rows that fit no job."""

    jobs: list[Unit]
    unplannable: dict[Any, str]
    r"""Row position -> why it cannot be sent in any job."""
    config_key: str
    r"""Hash of the model configuration every fingerprint includes."""
    reused: dict[Any, str] = field(default_factory=dict)
    r"""Row position -> the unit already in the ledger that answers it with an identical input (nothing sent for
    it: :mod:`humekit.pipeline.reuse`)."""

    def summary(self) -> pd.DataFrame:
        """One row per planned job: kind, inputs, rows and bytes."""
        return pd.DataFrame(
            [
                {"job": n, "kind": job.kind, "inputs": len(job.inputs), "rows": len(job.rows), "bytes": job.size}
                for n, job in enumerate(self.jobs, start=1)
            ],
            columns=["job", "kind", "inputs", "rows", "bytes"],
        )


def normalize_models(models: Iterable[str] | Mapping[str, Any] | None, *, api: str = "v0"
                     ) -> dict[str, dict[str, Any]]:
    """``["prosody", "face"]`` or ``{"prosody": {"granularity": "word"}}`` to ``{name: options}`` (checked
    against ``api``'s models)."""
    if models is None:
        if api == "v1":
            raise ConfigurationError(f"Say which models to run, e.g. models=['audio', 'face']; v1's models are "
                                     f"{list(V1_MODELS)}")
        raise ConfigurationError("Say which models to run, e.g. models=['prosody'] or models={'face': {}}; "
                                 f"Hume's batch models are {list(MODELS)}")
    if isinstance(models, str):
        models = [models]
    normalized = (
        {str(k): dict(v or {}) for k, v in models.items()} if isinstance(models, Mapping) else {str(m): {} for m in models}
    )
    if not normalized:
        raise ConfigurationError(f"No model(s) []; choose from Hume's batch models {list(MODELS)}")
    check_models(normalized, api=api)
    return dict(sorted(normalized.items()))


def config_key(*, backend: str, models: Mapping[str, Any], transcription: Any, endpoint: str = "") -> str:
    """A hash of everything that changes what a measurement means, including where it was made: the
    same ledger never hands a live run the (synthetic) results of an emulator, or the reverse."""
    text = json.dumps({"backend": backend, "endpoint": endpoint, "models": models, "transcription": transcription},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class RowInput:
    """One valid row: what it sends and its fingerprint."""

    index: int
    r"""The row's position in the table (positions, not labels: an index may repeat labels)."""
    row_id: Any
    kind: str
    value: str = field(repr=False)
    content: str
    md5: str | None
    size: int
    token: str
    fingerprint: str


def row_inputs(
    checked: pd.DataFrame,
    *,
    id_col: str,
    source_col: str,
    config: str,
    md5s: Mapping[str, str] | None = None,
) -> list[RowInput]:
    """Describe every row of a checked table (from :func:`humekit.validate`) that has no problem.

    Files are hashed (md5), which is what makes identical files in different rows, and the same
    file on a rerun, recognisable. ``md5s`` gives digests already known by path (the ledger keeps
    them, so a rerun does not read every file again).
    """
    positions = np.flatnonzero(checked["source_problem"].isna().to_numpy())
    valid = checked.iloc[positions]
    # numpy object arrays: iterating them is several times faster than iterating Arrow-backed string columns
    columns = (positions.tolist(), *(valid[name].to_numpy(dtype=object) for name in
                                     ("source_kind", "source_path", "source_bytes", source_col, id_col)))
    described = []
    for index, kind, path, known_size, source, row_id in zip(*columns, strict=True):
        value = str(path) if kind == "file" else str(source).strip() if kind == "url" else str(source)
        token = id_token(row_id)
        content, md5 = _content(kind, value, md5s or {})
        described.append(RowInput(index, row_id, kind, value, content, md5, _size(kind, value, known_size), token,
                                  _fingerprint(config, token, kind, content)))
    return described


def for_config(row: RowInput, config: str) -> RowInput:
    """The row as an input of a job made with another configuration (e.g. only some of the models):
    the same row, with the fingerprint that configuration gives it."""
    return replace(row, fingerprint=_fingerprint(config, row.token, row.kind, row.content))


def rebuild_job(job_key: str, kind: str, recorded: pd.DataFrame, rows: Mapping[str, RowInput], *,
                models: Sequence[str] = (), part: str = "") -> Unit | None:
    """The unit a ledger claim describes, rebuilt from today's table (to resume an interrupted submit).

    Returns ``None`` when an input's rows are no longer in the table, so it cannot be re-sent.
    """
    inputs = []
    for input_key, group in recorded.groupby("input_key", sort=False):
        present = [rows[f] for f in group["fingerprint"] if f in rows]
        if not present:
            return None
        first = present[0]
        planned = tuple(PlannedRow(r.index, r.token, r.fingerprint) for r in present)
        inputs.append(PlannedInput(kind, first.value, first.content, first.size, planned,
                                   str(input_key) if kind == "file" else None, first.md5))
    return Unit(key=job_key, kind=kind, inputs=tuple(inputs), models=tuple(models), part=part)


def file_md5(path: str | os.PathLike[str]) -> str:
    """The md5 hex digest of a file, read in 1 MiB blocks (what Hume echoes as ``md5sum``)."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _content(kind: str, value: str, known: Mapping[str, str]) -> tuple[str, str | None]:
    if kind == "file" and value in known:
        return known[value], known[value]
    if kind == "file":
        digest = file_md5(value)
        return digest, digest
    if kind == "text":
        return hashlib.sha256(value.encode()).hexdigest(), None
    return value, None


def _size(kind: str, value: str, known: Any) -> int:
    if kind == "url" or known is None or pd.isna(known):
        return len(value.encode())
    return int(known)


def _fingerprint(config: str, token: str, kind: str, content: str) -> str:
    return hashlib.sha256(f"{config}|{token}|{kind}|{content}".encode()).hexdigest()[:40]


def upload_name(row_id: Any, path: str) -> str:
    """A collision-proof upload filename derived from the row ID: ``<id slug>-<hash><ext>``.

    Two ``take1.wav`` in different folders get different names because their row IDs differ,
    and the hash keeps IDs that slug alike (``"a b"``/``"a_b"``) apart.
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", str(row_id)).strip("._")[:60] or "row"
    digest = hashlib.sha256(id_token(row_id).encode()).hexdigest()[:8]
    return f"{slug}-{digest}{Path(path).suffix.lower()}"


def unit(kind: str, inputs: Sequence[PlannedInput], config: str, *, part: str = "") -> Unit:
    """The unit that sends these inputs (only ``part`` of them, when given); its key is derived from its rows'
    fingerprints and the part (the same rows, part and configuration always give the same key)."""
    fingerprints = sorted(row.fingerprint for item in inputs for row in item.rows)
    text = f"{config}|{kind}|{','.join(fingerprints)}" + (f"|{part}" if part else "")
    key = hashlib.sha256(text.encode()).hexdigest()[:40]
    return Unit(key=key, kind=kind, inputs=tuple(inputs), part=part)


def distinct_inputs(rows: Sequence[RowInput]) -> dict[str, list[PlannedInput]]:
    """The rows' inputs by kind (``file``, ``url``, ``text``), in table order, each distinct input once
    with every row that holds it (the same file bytes, URL or text: it is sent once and copied to each)."""
    groups: dict[str, dict[str, PlannedInput]] = {kind: {} for kind in KINDS}
    for row in rows:
        planned_row = PlannedRow(index=row.index, id_token=row.token, fingerprint=row.fingerprint)
        existing = groups[row.kind].get(row.content)
        if existing is not None:
            groups[row.kind][row.content] = replace(existing, rows=(*existing.rows, planned_row))
            continue
        filename = upload_name(row.row_id, row.value) if row.kind == "file" else None
        groups[row.kind][row.content] = PlannedInput(row.kind, row.value, row.content, row.size, (planned_row,),
                                                     filename, row.md5)
    return {kind: list(found.values()) for kind, found in groups.items()}


#: The name :class:`Unit` had when every unit was a v0 job (kept for this release).
PlannedJob = Unit
