"""The typed shape of a Hume predictions document, decoded straight from JSON by msgspec.

Decoding into these structs instead of dicts is what makes :mod:`humekit.predictions.decoding` fast: msgspec
validates while it parses, skips every key the tables do not use (``facs`` and ``descriptions``
too, when only emotion scores are wanted) and makes one small object per emotion instead of a
dict, a key and a value. The first decoder also takes emotion and descriptor names only from
:mod:`humekit.predictions.vocabulary` (as ``Literal`` types), so each name is the vocabulary's own string, not
a new one; a document with any other name is decoded again with plain strings, which keeps it.
What neither decoder takes, :func:`decode_python` repairs and reports:

- a value of the wrong type (``"prob": "n/a"``, a ``box`` that is a string, a ``frame`` of 2.5)
  is read as null;
- a list element that is not an object (``null`` in ``predictions``, an emotion without a
  ``name``) is dropped;
- a model Hume does not have (``models: {"gait": ...}``) is dropped.

Each repair is logged as a WARNING on the ``humekit`` logger with its JSON path, so nothing is
changed silently. Numbers given as strings (``"0.5"``) are read as numbers. Models are walked in
the order Hume echoes them: face, burst, prosody, language, ner, facemesh.
"""

# No ``from __future__ import annotations`` here: msgspec resolves the annotations of the structs
# that _types() defines inside a function, which only works when they are evaluated eagerly.
import copy
import logging
import re
from functools import cache
from typing import Annotated, Any, Literal, Union

import msgspec

from humekit.errors import PredictionsFormatError
from humekit.predictions.vocabulary import (
    BURST_DESCRIPTIONS,
    FACE_DESCRIPTIONS,
    FACS,
    LANGUAGE_EMOTIONS,
    MODEL_ORDER,
    SENTIMENT,
    TOXICITY,
)

__all__ = ["MODEL_ORDER", "decode", "decode_python"]

logger = logging.getLogger("humekit")

#: The descriptor lists an item may carry, in the order of ``DESCRIPTOR_KINDS`` in the tables.
DESCRIPTOR_KEYS = ("facs", "descriptions", "sentiment", "toxicity")
DESCRIPTOR_NAMES = tuple(dict.fromkeys((*FACS, *FACE_DESCRIPTIONS, *BURST_DESCRIPTIONS, *SENTIMENT, *TOXICITY)))
#: More repairs than this in one document means it is not predictions with a few bad values.
MAX_REPAIRS = 1000

Number = Union[float, None]
#: Frames and text positions: whole numbers that survive the tables' float64 staging exactly.
Count = Union[Annotated[int, msgspec.Meta(ge=-(2**53), le=2**53)], None]
Text = Union[str, None]


class NamedScore(msgspec.Struct, gc=False):
    """One ``{"name", "score"}`` entry: an emotion, a FACS unit, a description, sentiment, toxicity."""

    name: str
    score: Number = None


class Span(msgspec.Struct, gc=False):
    """``time`` of a segment, in seconds."""

    begin: Number = None
    end: Number = None


class Position(msgspec.Struct, gc=False):
    """``position`` of a text span: character offsets."""

    begin: Count = None
    end: Count = None


class Box(msgspec.Struct, gc=False):
    """A face's bounding box in pixels."""

    x: Number = None
    y: Number = None
    w: Number = None
    h: Number = None


class Metadata(msgspec.Struct, gc=False):
    """Transcription metadata of a speech or text model."""

    confidence: Number = None
    detected_language: Text = None


class FileError(msgspec.Struct, gc=False):
    """A per-file error in ``results.errors``."""

    file: Text = None
    message: Any = None


class Source(msgspec.Struct, gc=False):
    """Where a source came from: ``type`` and its ``url``, ``filename`` or neither (text)."""

    type: Text = None
    url: Text = None
    filename: Text = None
    md5sum: Text = None


# The `type: ignore[valid-type]` below: these types are built at import time from humekit's vocabularies
# (Literal[<tuple>], classes made by a function) for msgspec, which reads them at runtime; mypy cannot.
class KnownEmotion(msgspec.Struct, gc=False):
    """An emotion entry whose label is one of Hume's 53: decoded to the vocabulary's own string
    object, so checking a list of labels compares pointers (and allocates no strings)."""

    name: Literal[LANGUAGE_EMOTIONS]  # type: ignore[valid-type]
    score: Number = None


class KnownDescriptor(msgspec.Struct, gc=False):
    """A descriptor entry (FACS unit, description, sentiment, toxicity) with one of Hume's names."""

    name: Literal[DESCRIPTOR_NAMES]  # type: ignore[valid-type]
    score: Number = None


@cache
def _types(described: bool, known_labels: bool) -> tuple[Any, msgspec.json.Decoder[Any]]:
    """The document type and its JSON decoder: with or without the descriptor lists, and with
    emotion and descriptor names restricted to Hume's (the fast case) or any string."""
    emotion, descriptor = (KnownEmotion, KnownDescriptor) if known_labels else (NamedScore, NamedScore)
    fields: list[tuple[str, Any, None]] = [
        ("emotions", Union[list[emotion], None], None),  # type: ignore[valid-type]
        ("frame", Count, None),
        ("time", Union[float, Span, None], None),
        ("prob", Number, None),
        ("box", Union[Box, None], None),
        ("text", Text, None),
        ("position", Union[Position, None], None),
        ("confidence", Number, None),
        ("speaker_confidence", Number, None),
        ("entity", Text, None),
        ("entity_confidence", Number, None),
        ("support", Number, None),
        ("uri", Text, None),
        ("link_word", Text, None),
    ]
    if described:
        fields += [(key, Union[list[descriptor], None], None) for key in DESCRIPTOR_KEYS]  # type: ignore[valid-type]
    # one prediction (a frame, an utterance, a word...): the fields of every model, null if absent
    item = msgspec.defstruct("Item", fields, gc=False)

    class Group(msgspec.Struct, gc=False):
        id: Union[str, int, None] = None
        predictions: Union[list[item], None] = None  # type: ignore[valid-type]

    class Block(msgspec.Struct, gc=False):
        grouped_predictions: Union[list[Group], None] = None
        metadata: Union[Metadata, None] = None

    models_type = msgspec.defstruct(
        "Models", [(m, Union[Block, None], None) for m in MODEL_ORDER], forbid_unknown_fields=True, gc=False
    )

    class Prediction(msgspec.Struct, gc=False):
        file: Text = None
        file_type: Text = None
        models: Union[models_type, None] = None  # type: ignore[valid-type]

    class Results(msgspec.Struct, gc=False):
        predictions: Union[list[Prediction], None] = None
        errors: Union[list[Union[FileError, str]], None] = None

    class Element(msgspec.Struct, gc=False):
        source: Source
        results: Union[Results, None] = None
        error: Any = None

    document = list[Element]
    return document, msgspec.json.Decoder(document, strict=False)


def decode(data: bytes | bytearray | memoryview | str, *, described: bool) -> list[Any] | None:
    """Decode a JSON predictions list in one pass; ``None`` if it needs the lenient path.

    Raises:
        PredictionsFormatError: ``data`` is not valid JSON.
    """
    for known_labels in (True, False):  # an unknown emotion label fails the first decoder
        try:
            return _types(described, known_labels)[1].decode(data)
        except msgspec.ValidationError:
            continue
        except msgspec.DecodeError as exc:
            raise PredictionsFormatError(f"predictions are not valid JSON: {exc}") from None
    return None


_PATH = re.compile(r"\.(\w+)|\[(\d+)\]")
_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `(.*)`")


def decode_python(elements: list[Any], *, described: bool) -> list[Any]:
    """Convert parsed source elements (dicts) to the typed shape, repairing what does not fit.

    ``elements`` is never modified: the first repair works on a deep copy.

    Raises:
        PredictionsFormatError: The document needs more than :data:`MAX_REPAIRS` repairs, or one
            that does not take.
    """
    document = _types(described, False)[0]
    copied, repairs, nulled = False, 0, set()
    while True:
        try:
            return msgspec.convert(elements, document, strict=False)
        except msgspec.ValidationError as exc:
            message = str(exc)
        reason, _, where = message.rpartition(" - at `")
        steps = _steps(where.rstrip("`"))
        if where in nulled:  # null did not take (a required field): drop the enclosing list element
            while steps and not isinstance(steps[-1], int):
                steps.pop()
        if repairs >= MAX_REPAIRS or not steps:
            raise PredictionsFormatError(
                f"predictions do not have Hume's shape after {repairs} repair(s): {message}"
            ) from None
        if not copied:
            elements, copied = copy.deepcopy(elements), True
        if _repair(elements, steps, reason):
            nulled.add(where)
        repairs += 1


def _steps(where: str) -> list[str | int]:
    """``$[0].results.predictions[2]`` -> ``[0, "results", "predictions", 2]`` (``[]`` if not a path)."""
    if not where.startswith("$"):
        return []
    return [name if name else int(index) for name, index in _PATH.findall(where)]


def _repair(elements: list[Any], steps: list[str | int], reason: str) -> bool:
    """Repair the value at path ``steps``; True if it was set to null (not dropped)."""
    where = "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)
    parent: Any = elements
    for step in steps[:-1]:
        parent = parent[step]
    last = steps[-1]
    unknown = _UNKNOWN_FIELD.match(reason)
    if unknown:  # an unknown model: the path is the models object itself
        del parent[last][unknown.group(1)]
        logger.warning("predictions: dropped model %r at %s: not a Hume model", unknown.group(1), where)
        return False
    if isinstance(last, int):
        logger.warning("predictions: dropped %s: %s", where, reason)
        del parent[last]
        return False
    logger.warning("predictions: read %s as null: %s (was %.80r)", where, reason, parent[last])
    parent[last] = None
    return True
