"""Check one source before it is sent: a file's kind, size, media type and duration, a URL, a text, and the models.

:func:`check_source` says what kind of source a value is (a path, an http(s) URL or a text, decided by its
shape when ``kind="auto"``), what it learned about it, and the problem that keeps it from being measured.
Nothing here touches the network.
"""

from __future__ import annotations

import math
import mimetypes
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from humekit.errors import TableError
from humekit.pipeline.input_limits import InputLimits
from humekit.pipeline.media import probe
from humekit.predictions.vocabulary import MODELS

__all__ = ["API_MODELS_FOR_KIND", "MODELS_FOR_KIND", "V1_MODELS_FOR_KIND", "CheckedSource", "check_source", "is_null",
           "media_category"]

#: Which models can say something about each kind of input (Hume's "recommended input types").
MODELS_FOR_KIND: dict[str, frozenset[str]] = {
    "audio": frozenset({"prosody", "burst", "language", "ner"}),
    "video": frozenset(MODELS),
    "image": frozenset({"face", "facemesh"}),
    "text": frozenset({"language", "ner"}),
    "archive": frozenset(MODELS),
}
#: The same for Hume's v1 API: its audio endpoint takes any recording's sound, its image endpoint faces
#: (from images, or frames humekit samples from a video); it measures no text.
V1_MODELS_FOR_KIND: dict[str, frozenset[str]] = {
    "audio": frozenset({"audio"}),
    "video": frozenset({"audio", "face"}),
    "image": frozenset({"face"}),
    "text": frozenset(),
    "archive": frozenset(),
}
#: Each API's table, by the name humekit gives the API.
API_MODELS_FOR_KIND: dict[str, dict[str, frozenset[str]]] = {"v0": MODELS_FOR_KIND, "v1": V1_MODELS_FOR_KIND}
_NOTHING_FOR = {
    ("v1", "text"): "Hume's v1 API has no language model, so it cannot measure a text file; read archived v0 "
                    "language results (humekit.read_predictions) or measure with api='v0' at a compatible endpoint",
    ("v1", "archive"): "Hume's v1 API takes no archives; unpack it and give one row per recording",
}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_PATH_START = re.compile(r"^(/|\./|\.\./|~[/\\]|\.\\|\.\.\\|\\\\|[A-Za-z]:[/\\])")
_MEDIA_SUFFIXES = frozenset(
    ".wav .mp3 .mp4 .m4a .aac .flac .ogg .opus .wma .webm .mov .avi .mkv .png .jpg .jpeg .gif .bmp .tif .tiff "
    ".webp .heic .zip .tar .gz .tgz .bz2 .xz .txt".split()
)
# Extensions whose content humekit.pipeline.media recognises from its bytes (so a miss means a bad file).
_SNIFFABLE = frozenset(".wav .mp3 .mp4 .m4a .mov .webm .mkv .ogg .flac .png .jpg .jpeg .gif .bmp .webp".split())
# Containers that often carry no duration in their header (browser recordings): not a sign of damage.
_DURATION_OPTIONAL = frozenset({".webm", ".mkv"})


@dataclass(frozen=True, slots=True)
class CheckedSource:
    """What checking one source found: its kind, resolved path, size, duration, media type, problem and note."""

    kind: str | None = None
    path: str | None = None
    size: int | None = None
    duration: float | None = None
    media_type: str | None = None
    problem: str | None = None
    note: str | None = None


def is_null(value: Any) -> bool:
    """Whether a cell is missing, whatever its type: ``None``, ``pd.NA``, ``NaT`` or a NaN (numpy's too)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    # numpy scalars (float32 NaN, datetime64 NaT...) are not Python floats
    # pandas-stubs type pd.isna without numpy scalars, which it accepts at runtime
    return isinstance(value, np.generic) and bool(pd.isna(value))  # type: ignore[call-overload]


def check_source(value: Any, *, kind: str, base: Path, limits: InputLimits, models: frozenset[str] | None,
                 api: str = "v0") -> CheckedSource:
    """Check one value of the source column as ``kind`` (``"auto"``: by its shape), relative paths under ``base``,
    against ``limits`` and, when given, the requested ``models`` of ``api``."""
    if is_null(value) or (isinstance(value, str) and not value.strip()):
        return CheckedSource(problem="the source is empty: give a file path, an http(s) URL or a text")
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        return CheckedSource(problem=f"the source is a {type(value).__name__} ({value!r}), not a path, URL or text")
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
        return _check_models(checked, models, api)
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


def _check_url(value: str) -> CheckedSource:
    stripped = value.strip()
    note = "surrounding whitespace removed from the URL" if stripped != value else None
    parts = urlsplit(stripped)
    if parts.scheme.lower() not in ("http", "https"):
        return CheckedSource(kind="url", problem=f"URL scheme {parts.scheme!r} is not supported: Hume fetches only "
                                            "http(s) URLs; upload the file or host it over https")
    if not parts.hostname:
        return CheckedSource(kind="url", problem=f"URL {stripped!r} has no host; check the column for truncated URLs")
    return CheckedSource(kind="url", note=note)


def _check_text(value: str, limits: InputLimits) -> CheckedSource:
    size = len(value.encode("utf-8"))
    if size > limits.max_text_bytes:
        return CheckedSource(kind="text", size=size, problem=f"the text is {size:,} bytes, over Hume's "
                        f"{limits.max_text_bytes:,}-byte limit per text string; split it into several rows")
    return CheckedSource(kind="text", size=size, media_type="text/plain")


def _check_file(value: str, base: Path, limits: InputLimits) -> CheckedSource:
    path = _resolve(value, base)
    shown = str(path)
    try:
        path.exists()
    except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL byte...
        return CheckedSource(kind="file", path=shown[:300], problem=f"{shown[:120]!r} cannot be a file path "
                        f"({getattr(exc, 'strerror', None) or exc}); check the column for corrupted paths")
    note = None
    if not path.exists() and value.strip() != value and value.strip():
        stripped = _resolve(value.strip(), base)
        if stripped.exists():
            path, shown, note = stripped, str(stripped), f"surrounding whitespace removed from the path {value!r}"
    if not path.exists():
        return CheckedSource(kind="file", path=shown, problem=_not_found(value, shown, base))
    checked = _check_existing(path, shown, limits)
    return CheckedSource(**{**_as_dict(checked), "note": note}) if note else checked


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


def _check_existing(path: Path, shown: str, limits: InputLimits) -> CheckedSource:
    if path.is_dir():
        return CheckedSource(kind="file", path=shown, problem=f"{shown} is a directory, not a file; point at a file in it")
    if not path.is_file():
        return CheckedSource(kind="file", path=shown, problem=f"{shown} is not a regular file (a device or pipe?); "
                                                         "point at a regular file")
    try:
        size = path.stat().st_size
        info = probe(path) if size else None
    except OSError as exc:
        return CheckedSource(kind="file", path=shown, problem=f"cannot read {shown} ({exc.strerror or exc}); "
                                                         "check its permissions")
    if size == 0 or info is None:
        return CheckedSource(kind="file", path=shown, size=0, problem=f"{shown} is empty (0 bytes); re-export or drop it")
    checked = CheckedSource(kind="file", path=shown, size=size, duration=info.duration, media_type=info.media_type)
    problem = _media_problem(path, size, info, limits)
    return CheckedSource(**{**_as_dict(checked), "problem": problem}) if problem else checked


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


def _check_models(checked: CheckedSource, models: frozenset[str], api: str) -> CheckedSource:
    kind = media_category(checked.kind, checked.media_type)
    if kind is None and api == "v1" and checked.kind == "file" and str(checked.media_type or "").startswith("text/"):
        kind = "text"  # a text file: v1 measures no text (v0 reads it as one, by its own rules)
    if kind is None:
        return checked
    table = API_MODELS_FOR_KIND[api]
    if (api, kind) in _NOTHING_FOR:
        return CheckedSource(**{**_as_dict(checked), "problem": _NOTHING_FOR[(api, kind)]})
    if not models & table[kind]:
        useful = sorted(table[kind])
        return CheckedSource(**{**_as_dict(checked), "problem": f"none of the requested models ({sorted(models)}) "
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


def _as_dict(checked: CheckedSource) -> dict[str, Any]:
    return {name: getattr(checked, name) for name in CheckedSource.__slots__}
