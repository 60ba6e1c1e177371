"""Check a recordings table before anything is sent: IDs, sources, media types, sizes, durations.

:func:`validate` returns a checked copy of the table (one row per input row, same index) with
what it learned about each source, and a ``problem`` per row that cannot be measured. Nothing
here touches the network.
"""

from __future__ import annotations

import math
import mimetypes
import os
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from humekit.pipeline.columns import DESCRIPTOR_COLUMNS, OUTPUT_COLUMNS, PREDICTION_COLUMNS, STATUS_COLUMNS, SUMMARY_COLUMNS
from humekit.errors import DuplicateIdError, InvalidRowsError, MissingColumnError, TableError
from humekit.pipeline.input_limits import InputLimits
from humekit.pipeline.media import probe
from humekit.predictions.vocabulary import MODELS, check_models

__all__ = ["ADDED_COLUMNS", "MODELS_FOR_KIND", "validate"]

#: Columns :func:`validate` adds to the table.
ADDED_COLUMNS = (
    "source_kind", "source_path", "source_bytes", "source_duration", "source_media_type", "source_problem",
    "source_note",
)

#: Which models can say something about each kind of input (Hume's "recommended input types").
MODELS_FOR_KIND: dict[str, frozenset[str]] = {
    "audio": frozenset({"prosody", "burst", "language", "ner"}),
    "video": frozenset(MODELS),
    "image": frozenset({"face", "facemesh"}),
    "text": frozenset({"language", "ner"}),
    "archive": frozenset(MODELS),
}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_PATH_START = re.compile(r"^(/|\./|\.\./|~[/\\]|\.\\|\.\.\\|\\\\|[A-Za-z]:[/\\])")
_MEDIA_SUFFIXES = frozenset(
    ".wav .mp3 .mp4 .m4a .aac .flac .ogg .opus .wma .webm .mov .avi .mkv .png .jpg .jpeg .gif .bmp .tif .tiff "
    ".webp .heic .zip .tar .gz .tgz .bz2 .xz .txt".split()
)
_SHOWN = 10  # problems listed in one error message
_SHOWN_IDS = 5  # duplicated IDs listed in one error message
# Extensions whose content humekit.pipeline.media recognises from its bytes (so a miss means a bad file).
_SNIFFABLE = frozenset(".wav .mp3 .mp4 .m4a .mov .webm .mkv .ogg .flac .png .jpg .jpeg .gif .bmp .webp".split())
# Containers that often carry no duration in their header (browser recordings): not a sign of damage.
_DURATION_OPTIONAL = frozenset({".webm", ".mkv"})


@dataclass(frozen=True, slots=True)
class _Checked:
    kind: str | None = None
    path: str | None = None
    size: int | None = None
    duration: float | None = None
    media_type: str | None = None
    problem: str | None = None
    note: str | None = None


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
    _check_columns(table, id_col, source_col, errors)
    ids = table[id_col]
    _check_ids(ids, id_col, table)
    base = Path(root) if root is not None else Path.cwd()
    wanted = _model_names(models)
    checked = [
        _check_source(value, kind=kind, base=base, limits=limits, models=wanted) for value in table[source_col]
    ]
    out = table.copy()
    out["source_kind"] = pd.Series([c.kind for c in checked], index=table.index, dtype="object")
    out["source_path"] = pd.Series([c.path for c in checked], index=table.index, dtype="object")
    out["source_bytes"] = pd.array([c.size for c in checked], dtype="Int64")
    out["source_duration"] = pd.array([c.duration for c in checked], dtype="Float64")
    out["source_media_type"] = pd.Series([c.media_type for c in checked], index=table.index, dtype="object")
    out["source_problem"] = pd.Series([c.problem for c in checked], index=table.index, dtype="object")
    out["source_note"] = pd.Series([c.note for c in checked], index=table.index, dtype="object")
    if errors == "raise":
        _raise_problems(out, id_col, guessed=kind == "auto", base=base)
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
    nulls = [i for i, value in enumerate(values) if _is_null(value)]
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


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    # numpy scalars (float32 NaN, datetime64 NaT...) are not Python floats
    # pandas-stubs type pd.isna without numpy scalars, which it accepts at runtime
    return isinstance(value, np.generic) and bool(pd.isna(value))  # type: ignore[call-overload]


def _model_names(models: Iterable[str] | dict[str, Any] | None) -> frozenset[str] | None:
    if models is None:
        return None
    return check_models(models, table=True)


def _check_source(value: Any, *, kind: str, base: Path, limits: InputLimits, models: frozenset[str] | None) -> _Checked:
    if _is_null(value) or (isinstance(value, str) and not value.strip()):
        return _Checked(problem="the source is empty: give a file path, an http(s) URL or a text")
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        return _Checked(problem=f"the source is a {type(value).__name__} ({value!r}), not a path, URL or text")
    row_kind = kind if kind != "auto" else _guess_kind(value, base)
    if row_kind == "url":
        checked = _check_url(value)
    elif row_kind == "text":
        checked = _check_text(value, limits)
    elif row_kind == "file":
        checked = _check_file(value, base, limits)
    else:
        raise TableError(f"kind={kind!r} is not one of 'auto', 'file', 'url', 'text'")
    if checked.problem is None and models is not None:
        return _check_models(checked, models)
    return checked


def _guess_kind(value: str, base: Path) -> str:
    """``url``, ``file`` or ``text`` from what the value looks like (surrounding whitespace aside, as
    spreadsheets and copy-paste leave it): an existing file, or a path by its shape, is a file; a
    text is recognised as text, never because it failed to be a file."""
    stripped = value.strip()
    if _SCHEME.match(stripped):
        return "text" if any(c.isspace() for c in stripped) else "url"
    if "\n" in stripped or len(stripped) > 1024:
        return "text"
    for candidate in dict.fromkeys((value, stripped)):
        try:
            if (base / Path(candidate).expanduser()).exists():
                return "file"
        except (OSError, ValueError):  # not a possible path at all (too long, NUL bytes...)
            return "text"
    return "file" if _looks_like_path(stripped) else "text"


def _looks_like_path(value: str) -> bool:
    """A media file name (``take 1.wav``), an explicit path (``/data/x``, ``./x``, ``~/x``, ``C:\\x``), or
    separators without spaces (``data/rec1``); not a sentence such as ``yes/no questions are hard``."""
    if Path(value).suffix.lower() in _MEDIA_SUFFIXES:
        return True
    if _PATH_START.match(value):
        return True
    return ("/" in value or "\\" in value) and not any(c.isspace() for c in value)


def _check_url(value: str) -> _Checked:
    stripped = value.strip()
    note = "surrounding whitespace removed from the URL" if stripped != value else None
    parts = urlsplit(stripped)
    if parts.scheme.lower() not in ("http", "https"):
        return _Checked(kind="url", problem=f"URL scheme {parts.scheme!r} is not supported: Hume fetches only "
                                            "http(s) URLs; upload the file or host it over https")
    if not parts.hostname:
        return _Checked(kind="url", problem=f"URL {stripped!r} has no host; check the column for truncated URLs")
    return _Checked(kind="url", note=note)


def _check_text(value: str, limits: InputLimits) -> _Checked:
    size = len(value.encode("utf-8"))
    if size > limits.max_text_bytes:
        return _Checked(kind="text", size=size, problem=f"the text is {size:,} bytes, over Hume's "
                        f"{limits.max_text_bytes:,}-byte limit per text string; split it into several rows")
    return _Checked(kind="text", size=size, media_type="text/plain")


def _check_file(value: str, base: Path, limits: InputLimits) -> _Checked:
    path = _resolve(value, base)
    shown = str(path)
    try:
        path.exists()
    except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL byte...
        return _Checked(kind="file", path=shown[:300], problem=f"{shown[:120]!r} cannot be a file path "
                        f"({getattr(exc, 'strerror', None) or exc}); check the column for corrupted paths")
    note = None
    if not path.exists() and value.strip() != value and value.strip():
        stripped = _resolve(value.strip(), base)
        if stripped.exists():
            path, shown, note = stripped, str(stripped), f"surrounding whitespace removed from the path {value!r}"
    if not path.exists():
        return _Checked(kind="file", path=shown, problem=_not_found(value, shown, base))
    checked = _check_existing(path, shown, limits)
    return _Checked(**{**_as_dict(checked), "note": note}) if note else checked


def _resolve(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _not_found(value: str, shown: str, base: Path) -> str:
    """Say where the path was looked for, and what may be wrong with the value."""
    relative = not Path(value.strip()).expanduser().is_absolute()
    where = f" (the relative path {value.strip()!r} resolved against the root folder {base})" if relative else ""
    spaces = (f"; the value {value!r} has whitespace around it, and the path without it does not exist either"
              if value.strip() != value else "")
    return f"file not found: {shown}{where}{spaces}; check the path" + (" or the root folder" if relative else "")


def _check_existing(path: Path, shown: str, limits: InputLimits) -> _Checked:
    if path.is_dir():
        return _Checked(kind="file", path=shown, problem=f"{shown} is a directory, not a file; point at a file in it")
    if not path.is_file():
        return _Checked(kind="file", path=shown, problem=f"{shown} is not a regular file (a device or pipe?); "
                                                         "point at a regular file")
    try:
        size = path.stat().st_size
        info = probe(path) if size else None
    except OSError as exc:
        return _Checked(kind="file", path=shown, problem=f"cannot read {shown} ({exc.strerror or exc}); "
                                                         "check its permissions")
    if size == 0 or info is None:
        return _Checked(kind="file", path=shown, size=0, problem=f"{shown} is empty (0 bytes); re-export or drop it")
    checked = _Checked(kind="file", path=shown, size=size, duration=info.duration, media_type=info.media_type)
    problem = _media_problem(path, size, info, limits)
    return _Checked(**{**_as_dict(checked), "problem": problem}) if problem else checked


def _media_problem(path: Path, size: int, info: Any, limits: InputLimits) -> str | None:
    if size > limits.max_upload_bytes:
        return (f"{path.name} is {_bytes(size)}, over Hume's {_bytes(limits.max_upload_bytes)} limit "
                "for uploads; host it and pass its https URL instead (1 GB limit), or split it")
    if info.kind in ("unknown",):
        return (f"{path.name} is not a media type Hume measures (content not recognised as audio, video, image, "
                "text or an archive); convert it to WAV, MP3, MP4, PNG or JPEG")
    named = _kind_from_name(path.name)
    if named and named != info.kind and info.kind != "text":
        return (f"{path.name} is mislabelled: its name says {named} but its content is {info.media_type}; "
                "rename it with the right extension or fix the path")
    suffix = path.suffix.lower()
    if named and suffix in _SNIFFABLE and info.duration is None and info.width is None:
        # Nothing was read from the header (no duration, no size): check the content is this kind at all.
        by_content = probe(path, filename="")
        unreadable = by_content.kind in ("audio", "video") and suffix not in _DURATION_OPTIONAL
        if by_content.kind in ("unknown", "text") or unreadable:
            found = "plain text" if by_content.kind == "text" else f"not a readable {named} file"
            return (f"{path.name} is named like {named} but its content is {found} (corrupt, truncated or "
                    "mislabelled); re-export the file or fix the path")
    if info.duration is not None and info.duration > limits.max_media_seconds:
        return (f"{path.name} lasts {_seconds(info.duration)}, over Hume's {_seconds(limits.max_media_seconds)} "
                "limit per file; split it into shorter recordings")
    return None


def _bytes(size: float) -> str:
    """A size for a message: MB when large, exact bytes when small (a tiny custom limit stays readable)."""
    return f"{size / 1e6:,.1f} MB" if size >= 1e6 else f"{int(size):,} bytes"


def _seconds(seconds: float) -> str:
    """A duration for a message: hours when long, seconds otherwise."""
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds:,.2f} s"


def _kind_from_name(name: str) -> str | None:
    guessed = mimetypes.guess_type(name)[0] or ""
    if name.lower().endswith(".wav"):
        return "audio"
    for prefix in ("audio", "video", "image"):
        if guessed.startswith(prefix + "/"):
            return prefix
    return None


def _check_models(checked: _Checked, models: frozenset[str]) -> _Checked:
    kind = media_category(checked.kind, checked.media_type)
    if kind is None:
        return checked
    if not models & MODELS_FOR_KIND[kind]:
        useful = sorted(MODELS_FOR_KIND[kind])
        return _Checked(**{**_as_dict(checked), "problem": f"none of the requested models ({sorted(models)}) "
                           f"measures {kind}; request one of {useful} or drop the row"})
    return checked


def media_category(source_kind: Any, media_type: Any) -> str | None:
    """The key of :data:`MODELS_FOR_KIND` for a checked source (``source_kind``, ``source_media_type``),
    or ``None`` when unknown (a URL, whose content is only seen by Hume)."""
    if source_kind == "text":
        return "text"
    media = media_type if isinstance(media_type, str) else ""
    if source_kind != "file":
        return None
    for prefix in ("audio", "video", "image"):
        if media.startswith(prefix + "/"):
            return prefix
    return "archive" if media in ("application/zip", "application/gzip", "application/x-tar") else None


def _as_dict(checked: _Checked) -> dict[str, Any]:
    return {name: getattr(checked, name) for name in _Checked.__slots__}


def _raise_problems(out: pd.DataFrame, id_col: str, *, guessed: bool, base: Path) -> None:
    positions = np.flatnonzero(out["source_problem"].notna().to_numpy())
    if not len(positions):
        return
    bad = out.iloc[positions]
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
        f"{len(bad)} of {len(out)} rows cannot be measured:\n" + "\n".join(lines) + more + hint +
        "\nFix them, or pass errors='mark' to measure the other rows and report these as 'invalid'.",
        rows=[int(p) for p in positions],
    )

