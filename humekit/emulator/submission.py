"""Parse and check a job submission (JSON or multipart) the way the batch API does.

Produces the echoed ``request`` object of job details (every model with its defaults filled in,
``null`` for models not requested) and the list of sources to predict. Anything malformed is a
:class:`Rejection`: a 4xx with a message that names the field, the limit and the fix.

Choices on points the reference marks UNCONFIRMED (documented in the emulator's README section):
- error bodies are ``{"code", "error", "message"}`` like EVI's ``ErrorResponse``; limit rejections
  use status 400 (413 for an over-size upload) and ``code`` = the :class:`~humekit.Limits` field;
- unknown top-level fields, models and model options are rejected (400), so typos surface early;
- sources are ordered URLs first, then uploaded files, then one shared text source.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import orjson
from python_multipart.multipart import parse_options_header

from humekit.emulator.multipart import FormPart, MalformedMultipart, PartTooLarge, parse_form
from humekit.emulator.synthesis import Source
from humekit.backends.v0.limits import Limits
from humekit.predictions.vocabulary import GRANULARITIES, MODELS, TRANSCRIPTION_LANGUAGES

__all__ = ["MODEL_DEFAULTS", "Rejection", "Submission", "parse_submission"]

MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "burst": {},
    "face": {
        "descriptions": None,
        "facs": None,
        "fps_pred": 3,
        "identify_faces": False,
        "min_face_size": 60,
        "prob_threshold": 0.99,
        "save_faces": False,
    },
    "facemesh": {},
    "language": {"granularity": "word", "identify_speakers": False, "sentiment": None, "toxicity": None},
    "ner": {"identify_speakers": False},
    "prosody": {"granularity": "utterance", "identify_speakers": False, "window": None},
}
_REQUEST_FIELDS = ("models", "transcription", "urls", "text", "callback_url", "notify")
_TRANSCRIPTION_DEFAULTS = {"language": None, "identify_speakers": False, "confidence_threshold": 0.5}


class Rejection(Exception):
    """A request the API refuses, with its status and error body."""

    def __init__(self, status: int, message: str, *, code: str = "invalid_request"):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    @property
    def body(self) -> dict[str, str]:
        error = {400: "Bad Request", 413: "Payload Too Large", 415: "Unsupported Media Type"}
        return {"code": self.code, "error": error.get(self.status, "Bad Request"), "message": self.message}


@dataclass(slots=True)
class Submission:
    """A parsed, checked job request."""

    request: dict[str, Any]
    r"""The echo of the request as job details show it."""
    sources: list[Source] = field(default_factory=list)


def parse_submission(content_type: str | None, body: bytes, *, limits: Limits) -> Submission:
    """Parse a POST /v0/batch/jobs body into a :class:`Submission`, or raise :class:`Rejection`."""
    mime, params = parse_options_header(content_type or "")
    if mime == b"application/json":
        config = _load_json(body, where="the request body")
        files: list[Source] = []
    elif mime == b"multipart/form-data":
        boundary = params.get(b"boundary")
        if not boundary:
            raise Rejection(400, "multipart/form-data request without a boundary parameter")
        config, files = _parse_multipart(body, boundary, limits=limits)
    else:
        raise Rejection(
            415,
            f"Content-Type {content_type!r} is not supported: send application/json for URLs and "
            "text, or multipart/form-data with 'file' parts (and an optional 'json' part) for uploads",
        )
    request = _check_request(config)
    urls, texts = request["urls"], request["text"]
    _check_counts(urls=len(urls), texts=len(texts), files=len(files), limits=limits)
    for i, text in enumerate(texts):
        if len(text.encode()) > limits.max_text_bytes:
            raise Rejection(
                413,
                f"text[{i}] is {len(text.encode()):,} bytes, over the {limits.max_text_bytes:,}-byte "
                "limit per text string; split it",
                code="max_text_bytes",
            )
    if not (urls or texts or files):
        raise Rejection(400, "Nothing to measure: provide 'urls', 'text' or at least one 'file' part")
    request["files"] = [
        {"filename": f.filename, "md5sum": f.md5sum, "content_type": f.content_type} for f in files
    ]
    sources = [Source(type="url", url=u) for u in urls] + files
    if texts:
        sources.append(Source(type="text", texts=tuple(texts)))
    return Submission(request=_ordered(request), sources=sources)


def _ordered(request: dict[str, Any]) -> dict[str, Any]:
    # Hume's echo lists the request keys alphabetically (WM example).
    return {key: request[key] for key in sorted(request)}


def _load_json(raw: bytes, *, where: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise Rejection(400, f"{where} is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(value, dict):
        raise Rejection(400, f"{where} must be a JSON object, got {type(value).__name__}", code="invalid_json")
    return value


def _check_counts(*, urls: int, texts: int, files: int, limits: Limits) -> None:
    for count, cap, name, what in (
        (urls, limits.max_urls_per_job, "max_urls_per_job", "URLs"),
        (texts, limits.max_texts_per_job, "max_texts_per_job", "text strings"),
        (files, limits.max_files_per_job, "max_files_per_job", "files"),
    ):
        if count > cap:
            raise Rejection(
                400,
                f"Too many {what}: {count} in one job, the limit is {cap} per request "
                f"({name}); split the work into several jobs (or use an archive URL)",
                code=name,
            )


def _check_request(config: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(config) - set(_REQUEST_FIELDS))
    if unknown:
        raise Rejection(400, f"Unknown request field(s) {unknown}; expected some of {list(_REQUEST_FIELDS)}")
    urls = _string_list(config.get("urls"), "urls")
    for i, url in enumerate(urls):
        if not url.lower().startswith(("http://", "https://")):
            raise Rejection(400, f"urls[{i}] = {url!r} is not an http(s) URL", code="invalid_url")
    callback = config.get("callback_url")
    if callback is not None and (not isinstance(callback, str) or not callback.startswith(("http://", "https://"))):
        raise Rejection(400, f"callback_url must be an http(s) URL string, got {callback!r}")
    notify = config.get("notify", False)
    if not isinstance(notify, bool):
        raise Rejection(400, f"notify must be true or false, got {notify!r}")
    return {
        "callback_url": callback,
        "models": _check_models(config.get("models", _ALL_MODELS)),
        "notify": notify,
        "text": _string_list(config.get("text"), "text"),
        "transcription": _check_transcription(config.get("transcription", _ABSENT)),
        "urls": urls,
    }


_ALL_MODELS: dict[str, Any] = {name: {} for name in MODELS}
_ABSENT = object()


def _string_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Rejection(400, f"'{name}' must be a list of strings")
    return list(value)


def _check_models(models: Any) -> dict[str, Any]:
    if models is None:
        models = _ALL_MODELS
    if not isinstance(models, dict):
        raise Rejection(400, "'models' must be an object such as {\"prosody\": {}, \"face\": {}}")
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise Rejection(
            400, f"Unknown model(s) {unknown}; the batch API offers {list(MODELS)}", code="unknown_model"
        )
    echoed: dict[str, Any] = {}
    for name in MODELS:
        options = models.get(name)
        echoed[name] = None if name not in models or options is None else _check_options(name, options)
    if not any(v is not None for v in echoed.values()):
        raise Rejection(400, "'models' switches every model off; request at least one", code="no_models")
    return echoed


def _check_options(model: str, options: Any) -> dict[str, Any]:
    if not isinstance(options, dict):
        raise Rejection(400, f"models.{model} must be an object (use {{}} for the defaults)")
    defaults = MODEL_DEFAULTS[model]
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise Rejection(
            400,
            f"Unknown option(s) {unknown} for models.{model}; allowed: {sorted(defaults) or 'none'}",
            code="unknown_option",
        )
    merged = {**copy.deepcopy(defaults), **options}
    for key, value in merged.items():
        _check_option(model, key, value)
    if merged.get("window") is not None:
        merged["window"] = {"length": 4.0, "step": 1.0, **merged["window"]}
    return merged


def _check_option(model: str, key: str, value: Any) -> None:
    where = f"models.{model}.{key}"
    if key == "granularity" and value not in GRANULARITIES:
        raise Rejection(400, f"{where} = {value!r} is not one of {list(GRANULARITIES)}", code="invalid_granularity")
    if key in {"identify_faces", "identify_speakers", "save_faces"} and not isinstance(value, bool):
        raise Rejection(400, f"{where} must be true or false, got {value!r}")
    if key in {"facs", "descriptions", "sentiment", "toxicity"} and value not in (None, {}):
        raise Rejection(400, f"{where} must be {{}} (on) or null (off), got {value!r}")
    if key == "fps_pred" and not (_is_number(value) and value >= 0):
        raise Rejection(400, f"{where} must be a number >= 0 (0 = every frame), got {value!r}")
    if key == "prob_threshold" and not (_is_number(value) and 0 <= value <= 1):
        raise Rejection(400, f"{where} must be between 0 and 1, got {value!r}")
    if key == "min_face_size" and not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise Rejection(400, f"{where} must be a non-negative integer, got {value!r}")
    if key == "window" and value is not None:
        if not isinstance(value, dict) or set(value) - {"length", "step"}:
            raise Rejection(400, f"{where} must be null or {{\"length\": seconds, \"step\": seconds}}")
        for part, number in value.items():
            if not (_is_number(number) and number >= 0.5):
                raise Rejection(400, f"{where}.{part} must be a number >= 0.5 seconds, got {number!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_transcription(value: Any) -> dict[str, Any] | None:
    if value is _ABSENT:
        return dict(_TRANSCRIPTION_DEFAULTS)
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - set(_TRANSCRIPTION_DEFAULTS):
        raise Rejection(400, f"'transcription' must be null or an object with {list(_TRANSCRIPTION_DEFAULTS)}")
    merged = {**_TRANSCRIPTION_DEFAULTS, **value}
    if merged["language"] is not None and merged["language"] not in TRANSCRIPTION_LANGUAGES:
        raise Rejection(400, f"transcription.language = {merged['language']!r} is not a supported BCP-47 code")
    threshold = merged["confidence_threshold"]
    if not (_is_number(threshold) and 0 <= threshold <= 1):
        raise Rejection(400, f"transcription.confidence_threshold must be between 0 and 1, got {threshold!r}")
    return merged


def _parse_multipart(body: bytes, boundary: bytes, *, limits: Limits) -> tuple[dict[str, Any], list[Source]]:
    try:
        parts = parse_form(body, boundary, max_part_bytes=limits.max_upload_bytes)
    except PartTooLarge:
        raise Rejection(
            413,
            f"An uploaded file is over the {limits.max_upload_bytes:,}-byte limit per upload "
            "(max_upload_bytes); host it and send its URL instead (1 GB limit for URLs)",
            code="max_upload_bytes",
        ) from None
    except MalformedMultipart as exc:
        raise Rejection(400, f"Malformed multipart/form-data body: {exc}; send the whole body",
                        code="invalid_multipart") from None
    return _collect_parts(parts)


def _collect_parts(parts: list[FormPart]) -> tuple[dict[str, Any], list[Source]]:
    config: dict[str, Any] = {}
    files: list[Source] = []
    for part in parts:
        name, filename = part.name, part.filename
        if name == "json":
            # PY13's HumeClient sends this as a file part, its raw client as a form field: accept both.
            config = _load_json(part.data, where="the 'json' part")
        elif name == "file":
            if not filename:
                raise Rejection(400, "A 'file' part has no filename in its Content-Disposition header")
            files.append(
                Source(
                    type="file",
                    filename=filename,
                    content_type=part.content_type,
                    md5sum=part.md5,
                    data=part.data,
                )
            )
        else:
            raise Rejection(400, f"Unexpected multipart part {name!r}; send 'file' parts and one 'json' part")
    return config, files
