"""Read downloaded Hume predictions from disk: predictions JSON, artifacts ZIPs, or folders of them.

Whatever the form, :func:`read_predictions` returns the same :class:`~humekit.predictions.decoding.PredictionTables`
with the same columns and dtypes as :func:`humekit.predictions.decoding.to_tables`. The artifacts CSVs
(``file-<i>-<name>/csv/<name>/{face,prosody,language,burst,ner}.csv``) carry less than the JSON:

- ``source_type``, ``md5sum`` and ``file_type`` are null, and ``source`` is the ``<name>`` of the
  ``file-<i>-<name>`` folder; ``file`` is the path under ``csv/``.
- The ``Id`` column is the ``group``; FACS, description, sentiment and toxicity columns go to
  ``.descriptors`` (empty cells are not rows, as a ``null`` list in JSON has none).
- There is no transcription ``metadata`` and no ``errors`` table in an archive.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from humekit.predictions._tables import STRING_FIELDS, PredictionTables, TableBuilder, is_image
from humekit.errors import PredictionsFormatError
from humekit.predictions.decoding import add_document
from humekit.predictions.vocabulary import FACS, LANGUAGE_EMOTIONS, MODEL_ORDER, MODELS, SENTIMENT, TOXICITY

__all__ = ["iter_prediction_files", "read_predictions"]

logger = logging.getLogger("humekit")

PathLike = str | os.PathLike[str]
#: CSV header (lower case, letters and digits only) -> table field. ``Time`` (face) fills begin and end.
_FIELD_MAP = {
    "id": "group", "text": "text", "time": "begin", "frame": "frame", "probability": "prob",
    "facex0": "box_x", "facey0": "box_y", "facewidth": "box_w", "faceheight": "box_h",
    "beginposition": "position_begin", "endposition": "position_end",
    "begintime": "begin", "endtime": "end", "confidence": "confidence",
    "speakerconfidence": "speaker_confidence", "entity": "entity",
    "entityconfidence": "entity_confidence", "support": "support", "uri": "uri", "linkword": "link_word",
}  # fmt: skip
_EMOTION_RANK = {name: i for i, name in enumerate(LANGUAGE_EMOTIONS)}
_KINDS = {**{n: 0 for n in FACS}, **{n: 2 for n in SENTIMENT}, **{n: 3 for n in TOXICITY}}  # else 1
_TOP = re.compile(r"file-(\d+)-(.*)")


def _normal(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _locate(parts: tuple[str, ...]) -> tuple[int, str, str, str] | None:
    """(source index, source, file, model) of an artifacts CSV path, or None if it is not one."""
    model = parts[-1][:-4].lower() if parts[-1].lower().endswith(".csv") else ""
    if model not in MODELS or "csv" not in parts[:-1]:
        return None
    at = len(parts) - 2 - parts[-2::-1].index("csv")
    top = parts[at - 1] if at >= 1 else ""
    match = _TOP.fullmatch(top)
    index, source = (int(match.group(1)), match.group(2)) if match else (0, top)
    return index, source, "/".join(parts[at + 1 : -1]) or source, model


def _add_csv(builder: TableBuilder, data: bytes, *, pred: int, model: str, where: str) -> None:
    header = next(csv.reader([data.split(b"\n", 1)[0].decode("utf-8-sig").rstrip("\r")]), [])
    strings = {h for h in header if _FIELD_MAP.get(_normal(h)) in STRING_FIELDS}
    types = {h: (pa.string() if h in strings else pa.float64()) for h in header}
    try:
        table = pacsv.read_csv(
            io.BytesIO(data), convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False)
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise PredictionsFormatError(f"{where}: not a readable artifacts CSV ({exc})") from None
    n = table.num_rows
    arrays: dict[str, np.ndarray] = {}
    emotions: list[tuple[int, str]] = []
    kinds: list[tuple[int, str, int]] = []
    for j, h in enumerate(table.column_names):
        field = None if h in _EMOTION_RANK or h in _KINDS else _FIELD_MAP.get(_normal(h))
        if field is None and h in _EMOTION_RANK:
            emotions.append((j, h))
        elif field is None:
            kinds.append((j, h, _KINDS.get(h, 1)))
        elif field in STRING_FIELDS:
            values = table.column(j).to_numpy(zero_copy_only=False).astype(object)
            if field == "group":
                values[values == ""] = None
            arrays[field] = values
        else:
            values = table.column(j).to_numpy(zero_copy_only=False).astype(np.float64)
            arrays.update({"begin": values, "end": values} if _normal(h) == "time" else {field: values})
    if model in ("face", "facemesh") and is_image(*builder.preds[pred][3:5]) and "begin" in arrays:
        arrays["begin"] = arrays["end"] = np.full(n, np.nan)  # a still image: a face at no time
    emotions.sort(key=lambda e: _EMOTION_RANK[e[1]])
    matrix = _matrix(table, [j for j, _ in emotions], n)
    has = ~np.isnan(matrix).all(axis=1) if emotions else np.zeros(n, dtype=bool)
    tid = np.where(has, builder.template([name for _, name in emotions]), 0)
    parts = []
    for kind in range(4):
        cols = [(j, h) for j, h, k in kinds if k == kind]
        if cols:
            values = _matrix(table, [j for j, _ in cols], n)
            seg, col = np.nonzero(~np.isnan(values))
            names = np.array([h for _, h in cols], dtype=object)[col]
            parts.append((seg, np.full(len(seg), kind), names, values[seg, col]))
    descriptors = tuple(np.concatenate(p) for p in zip(*parts, strict=True)) if parts else None
    builder.add_arrays(arrays, pred=pred, model=model, tid=tid, scores=matrix[has].ravel(),
                       descriptors=descriptors)  # fmt: skip


def _matrix(table: pa.Table, columns: list[int], n: int) -> np.ndarray:
    if not columns:
        return np.empty((n, 0))
    return np.column_stack([table.column(j).to_numpy(zero_copy_only=False).astype(np.float64) for j in columns])


def _add_csvs(builder: TableBuilder, members: Iterable[tuple[tuple[str, ...], Any]], where: str) -> int:
    """Add artifacts CSVs given as (path parts, loader); returns how many were recognised."""
    found = []
    for parts, load in members:
        located = _locate(parts)
        if located is not None:
            index, source, file, model = located
            found.append(((index, source, file, MODEL_ORDER.index(model)), model, load, "/".join(parts)))
    preds: dict[tuple[str, str], int] = {}
    for (_, source, file, _), model, load, name in sorted(found, key=lambda f: f[0]):
        if (source, file) not in preds:
            preds[source, file] = len(builder.preds)
            builder.preds.append((None, source, None, file, None))
        _add_csv(builder, load(), pred=preds[source, file], model=model, where=f"{where}:{name}")
    return len(found)


def _add_zip(builder: TableBuilder, path: Path, models: frozenset[str] | None) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise PredictionsFormatError(f"{path}: not a ZIP archive ({exc})") from None
    with archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        members = [
            (tuple(n.split("/")), lambda n=n: archive.read(n))
            for n in names
            if n.lower().endswith(".csv") and (models is None or Path(n).stem.lower() in models)
        ]
        found = _add_csvs(builder, members, str(path))
        jsons = [n for n in names if n.lower().endswith(".json")]
        for n in jsons:
            _add_json(builder, archive.read(n), f"{path}:{n}", models)
        if not found and not jsons:
            raise PredictionsFormatError(
                f"{path}: expected a Hume artifacts ZIP with file-<i>-<name>/csv/<name>/<model>.csv "
                f"members; found {names[:5]}"
            )


def _add_json(builder: TableBuilder, data: bytes, where: str, models: frozenset[str] | None) -> None:
    try:
        add_document(builder, data, models=models)
    except PredictionsFormatError as exc:
        raise PredictionsFormatError(f"{where}: {exc}") from None


def iter_prediction_files(paths: PathLike | Iterable[PathLike]) -> Iterator[Path]:
    """The prediction files under ``paths``: JSON files, ZIPs and artifacts CSVs, folders searched recursively."""
    for path in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        path = Path(path)
        if not path.is_dir():
            if not path.exists():
                raise FileNotFoundError(f"no such file or folder: {path}")
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                low = name.lower()
                full = Path(root) / name
                if low.endswith((".json", ".zip")) or (low.endswith(".csv") and _locate(full.parts)):
                    yield full


def read_predictions(
    paths: PathLike | Iterable[PathLike],
    *,
    models: Iterable[str] | None = None,
    on_invalid: Literal["raise", "skip"] = "raise",
) -> PredictionTables:
    """Read predictions JSON files, artifacts ZIPs and folders of them into long tables.

    Args:
        paths: A file, a folder (searched recursively for ``*.json``, ``*.zip`` and extracted
            ``.../csv/<name>/<model>.csv`` files), or a list of them.
        models: Keep only these models; all by default.
        on_invalid: ``"raise"`` (default) stops at the first file that is not predictions;
            ``"skip"`` logs a WARNING on the ``humekit`` logger and goes on.

    Returns:
        The same :class:`~humekit.predictions.decoding.PredictionTables` as :func:`humekit.predictions.decoding.to_tables`.

    Raises:
        PredictionsFormatError: A file is not predictions (the message names it).
        FileNotFoundError: A path does not exist.
    """
    wanted = None if models is None else frozenset([models] if isinstance(models, str) else models)
    builder = TableBuilder()
    loose: list[tuple[tuple[str, ...], Any]] = []
    for path in iter_prediction_files(paths):
        try:
            suffix = path.suffix.lower()
            if suffix == ".zip":
                _add_zip(builder, path, wanted)
            elif suffix == ".csv":
                if _locate(path.parts) is None:
                    raise PredictionsFormatError(f"{path}: not an artifacts CSV (expected .../csv/<name>/<model>.csv)")
                if wanted is None or path.stem.lower() in wanted:
                    loose.append((path.parts, path.read_bytes))
            else:
                _add_json(builder, path.read_bytes(), str(path), wanted)
        except PredictionsFormatError as exc:
            if on_invalid == "raise":
                raise
            logger.warning("skipped %s", exc)
    _add_csvs(builder, loose, "csv")
    return builder.build()
