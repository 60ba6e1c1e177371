"""Typed webhook events: EVI ``chat_started``/``chat_ended``/``tool_call`` and batch job callbacks.

:func:`parse_event` accepts the body as bytes, str or an already-parsed dict. It tolerates
``null`` and missing optional keys (the reference's versions differ on which are present) and
keeps unknown keys in each event's ``extra``. Times are Unix milliseconds, as Hume sends them,
and each event also exposes them as timezone-aware ``datetime`` properties.

The batch callback body is documented only as ``{job_id, status, predictions}``; the failure
message's field name is UNCONFIRMED, so ``message``, ``error`` (a string or ``{"message": …}``)
and ``state.message`` are all read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson

from humekit.errors import MalformedPayloadError

__all__ = [
    "ChatEnded",
    "ChatStarted",
    "Event",
    "JobCallback",
    "ToolCall",
    "ToolCallMessage",
    "UnknownEvent",
    "ms_to_datetime",
    "parse_event",
]


def ms_to_datetime(ms: int | None) -> datetime | None:
    """Unix milliseconds as a UTC ``datetime`` (``None`` stays ``None``)."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


class _PerChat:
    """Shared by the chat lifecycle events: identified by their chat, delivered once per chat."""

    __slots__ = ()
    event_name: ClassVar[str]
    chat_id: str

    @property
    def subject_id(self) -> str:
        """The chat id."""
        return self.chat_id

    @property
    def dedupe_key(self) -> str:
        """Stable across redeliveries: one event of this name per chat."""
        return _digest(self.event_name, self.chat_id)


@dataclass(frozen=True, slots=True)
class ChatStarted(_PerChat):
    """An EVI chat began (``event_name: "chat_started"``)."""

    event_name: ClassVar[str] = "chat_started"
    chat_id: str
    chat_group_id: str | None = None
    config_id: str | None = None
    start_time: int | None = None
    r"""Unix ms."""
    chat_start_type: str | None = None
    r"""``new_chat_group`` or ``resumed_chat_group``."""
    caller_number: str | None = None
    custom_session_id: str | None = None
    twilio_metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def started_at(self) -> datetime | None:
        """``start_time`` as a UTC datetime."""
        return ms_to_datetime(self.start_time)


@dataclass(frozen=True, slots=True)
class ChatEnded(_PerChat):
    """An EVI chat ended (``event_name: "chat_ended"``); fetch its events with :func:`humekit.webhooks.evi.chat_events`."""

    event_name: ClassVar[str] = "chat_ended"
    chat_id: str
    chat_group_id: str | None = None
    config_id: str | None = None
    end_time: int | None = None
    r"""Unix ms."""
    duration_seconds: int | None = None
    end_reason: str | None = None
    r"""A ChatStatus: USER_ENDED, USER_TIMEOUT, INACTIVITY_TIMEOUT, MAX_DURATION_TIMEOUT, SILENCE_TIMEOUT, ERROR…"""
    caller_number: str | None = None
    custom_session_id: str | None = None
    twilio_metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ended_at(self) -> datetime | None:
        """``end_time`` as a UTC datetime."""
        return ms_to_datetime(self.end_time)


@dataclass(frozen=True, slots=True)
class ToolCallMessage:
    """The tool invocation inside a ``tool_call`` webhook."""

    name: str | None = None
    parameters: str | None = None
    r"""Stringified JSON; see :attr:`arguments`."""
    tool_call_id: str | None = None
    response_required: bool | None = None
    tool_type: str | None = None
    r"""``builtin`` or ``function``."""
    custom_session_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def arguments(self) -> Any:
        """``parameters`` parsed from JSON (``None`` when empty; the raw string when it is not JSON)."""
        if not self.parameters:
            return None
        try:
            return orjson.loads(self.parameters)
        except orjson.JSONDecodeError:
            return self.parameters


@dataclass(frozen=True, slots=True)
class ToolCall:
    """EVI asked a tool to run (``event_name: "tool_call"``); answer over the control plane."""

    event_name: ClassVar[str] = "tool_call"
    chat_id: str
    tool_call_message: ToolCallMessage
    chat_group_id: str | None = None
    config_id: str | None = None
    timestamp: int | None = None
    r"""Unix ms."""
    caller_number: str | None = None
    custom_session_id: str | None = None
    twilio_metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def called_at(self) -> datetime | None:
        """``timestamp`` as a UTC datetime."""
        return ms_to_datetime(self.timestamp)

    @property
    def subject_id(self) -> str:
        """The chat id."""
        return self.chat_id

    @property
    def dedupe_key(self) -> str:
        """One per tool call (a chat can have many): chat id plus ``tool_call_id`` (or the timestamp)."""
        call = self.tool_call_message.tool_call_id or str(self.timestamp)
        return _digest(self.event_name, self.chat_id, call)


@dataclass(frozen=True, slots=True)
class JobCallback:
    """A batch job's ``callback_url`` POST: ``{job_id, status, predictions}`` or a failure message."""

    event_name: ClassVar[str] = "job"
    job_id: str
    status: str
    r"""``COMPLETED`` or ``FAILED`` (upper-cased)."""
    predictions: list[Any] | None = None
    message: str | None = None
    r"""The failure message: from ``message``, ``error`` or ``state.message`` (field name UNCONFIRMED)."""
    extra: dict[str, Any] = field(default_factory=dict)
    body: bytes | None = field(default=None, repr=False, compare=False)
    r"""The body exactly as received, when parsed from bytes or text: what the job ledger keeps as the job's answer
    (the predictions decoder reads a callback body), so it is neither parsed nor written out again."""

    @property
    def ok(self) -> bool:
        """Whether the job completed."""
        return self.status == "COMPLETED"

    @property
    def subject_id(self) -> str:
        """The job id."""
        return self.job_id

    @property
    def dedupe_key(self) -> str:
        """Stable across redeliveries: one callback per job and final status."""
        return _digest(self.event_name, self.job_id, self.status)


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """A well-formed event with an ``event_name`` humekit does not know yet (kept, not rejected)."""

    name: str
    data: dict[str, Any]

    @property
    def event_name(self) -> str:
        """The event's own ``event_name``."""
        return self.name

    @property
    def subject_id(self) -> str | None:
        """The chat id, when there is one."""
        value = self.data.get("chat_id")
        return value if isinstance(value, str) else None

    @property
    def dedupe_key(self) -> str:
        """A digest of the canonical body (identical redeliveries collapse)."""
        return _digest(self.name, orjson.dumps(self.data, option=orjson.OPT_SORT_KEYS).decode())


Event = ChatStarted | ChatEnded | ToolCall | JobCallback | UnknownEvent

_EVI_COMMON = ("chat_id", "chat_group_id", "config_id", "caller_number", "custom_session_id", "twilio_metadata")


def parse_event(payload: bytes | str | dict[str, Any]) -> Event:
    """Parse a webhook body into a typed event.

    The kind is chosen by ``event_name``; bodies without one are recognised by shape
    (``tool_call_message``; ``job_id`` + ``status``; ``end_time``/``end_reason``; ``start_time``).

    Args:
        payload: the raw body (bytes or str) or its parsed JSON object.

    Returns:
        A :class:`ChatStarted`, :class:`ChatEnded`, :class:`ToolCall`, :class:`JobCallback`, or
        :class:`UnknownEvent` for a future ``event_name``.

    Raises:
        MalformedPayloadError: the body is not a JSON object, has no recognisable shape, or a
            field has the wrong type.
    """
    data = _load(payload)
    name = data.get("event_name")
    if name is not None and not isinstance(name, str):
        raise MalformedPayloadError(f"'event_name' must be a string, got {type(name).__name__}")
    if name is None:
        name = _guess_name(data)
    if name == "chat_started":
        return ChatStarted(**_common(data, name), start_time=_int(data, "start_time"),
                           chat_start_type=_str(data, "chat_start_type"),
                           extra=_extra(data, {"start_time", "chat_start_type"}))  # fmt: skip
    if name == "chat_ended":
        return ChatEnded(**_common(data, name), end_time=_int(data, "end_time"),
                         duration_seconds=_int(data, "duration_seconds"), end_reason=_str(data, "end_reason"),
                         extra=_extra(data, {"end_time", "duration_seconds", "end_reason"}))  # fmt: skip
    if name == "tool_call":
        return ToolCall(**_common(data, name), tool_call_message=_tool_message(data.get("tool_call_message")),
                        timestamp=_int(data, "timestamp"),
                        extra=_extra(data, {"timestamp", "tool_call_message"}))  # fmt: skip
    if name == "job":
        return _job(data, body=payload.encode() if isinstance(payload, str) else None if isinstance(payload, dict)
                    else bytes(payload))
    return UnknownEvent(name, data)


def _load(payload: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(payload, dict):
        return payload
    if not isinstance(payload, bytes | bytearray | memoryview | str):
        raise MalformedPayloadError(f"a webhook body must be bytes, str or dict, not {type(payload).__name__}")
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise MalformedPayloadError(f"the webhook body is not valid JSON ({exc}); reject it with 400") from None
    if not isinstance(data, dict):
        raise MalformedPayloadError(f"the webhook body must be a JSON object, got a JSON {type(data).__name__}")
    return data


def _guess_name(data: dict[str, Any]) -> str:
    if "tool_call_message" in data:
        return "tool_call"
    if "job_id" in data and ("status" in data or "state" in data):
        return "job"
    if "chat_id" in data and ("end_time" in data or "end_reason" in data):
        return "chat_ended"
    if "chat_id" in data and ("start_time" in data or "chat_start_type" in data):
        return "chat_started"
    raise MalformedPayloadError(
        f"the webhook body has no 'event_name' and is neither an EVI event nor a batch job callback "
        f"(keys: {sorted(data)[:12]})"
    )


def _common(data: dict[str, Any], name: str) -> dict[str, Any]:
    chat_id = data.get("chat_id")
    if not isinstance(chat_id, str) or not chat_id:
        raise MalformedPayloadError(f"a {name} webhook needs a non-empty string 'chat_id', got {chat_id!r}")
    metadata = data.get("twilio_metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise MalformedPayloadError(f"'twilio_metadata' must be an object or null, got {type(metadata).__name__}")
    return {
        "chat_id": chat_id,
        "chat_group_id": _str(data, "chat_group_id"),
        "config_id": _str(data, "config_id"),
        "caller_number": _str(data, "caller_number"),
        "custom_session_id": _str(data, "custom_session_id"),
        "twilio_metadata": metadata,
    }


def _extra(data: dict[str, Any], known: set[str]) -> dict[str, Any]:
    skip = known | set(_EVI_COMMON) | {"event_name"}
    return {k: v for k, v in data.items() if k not in skip}


def _str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise MalformedPayloadError(f"'{key}' must be a string or null, got {type(value).__name__} {value!r:.60}")


def _int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise MalformedPayloadError(f"'{key}' must be an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise MalformedPayloadError(f"'{key}' must be an integer, got {type(value).__name__} {value!r:.60}")


def _tool_message(value: Any) -> ToolCallMessage:
    if not isinstance(value, dict):
        raise MalformedPayloadError(f"'tool_call_message' must be an object, got {type(value).__name__}")
    required = value.get("response_required")
    if required is not None and not isinstance(required, bool):
        raise MalformedPayloadError("'tool_call_message.response_required' must be a boolean or null")
    known = {"name", "parameters", "tool_call_id", "tool_type", "custom_session_id", "response_required"}
    fields = {k: _str(value, k) for k in known - {"response_required"}}
    return ToolCallMessage(**fields, response_required=required,
                           extra={k: v for k, v in value.items() if k not in known})  # fmt: skip


def _job(data: dict[str, Any], *, body: bytes | None) -> JobCallback:
    job_id = data.get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise MalformedPayloadError(f"a job callback needs a non-empty string 'job_id', got {job_id!r}")
    given_state = data.get("state")
    state: dict[str, Any] = given_state if isinstance(given_state, dict) else {}
    status = data.get("status", state.get("status"))
    if not isinstance(status, str) or not status:
        raise MalformedPayloadError(f"the callback for job {job_id} needs a string 'status', got {status!r}")
    predictions = data.get("predictions")
    if predictions is not None and not isinstance(predictions, list):
        raise MalformedPayloadError(f"'predictions' of job {job_id} must be a list or null")
    message: Any = data.get("message")
    if message is None:
        error = data.get("error")
        message = error.get("message") if isinstance(error, dict) else error
    if message is None:
        message = state.get("message")
    if message is not None and not isinstance(message, str):
        message = orjson.dumps(message).decode()
    extra = {k: v for k, v in data.items() if k not in {"job_id", "status", "predictions", "message"}}
    return JobCallback(job_id=job_id, status=status.upper(), predictions=predictions, message=message, extra=extra,
                       body=body)
