"""Tests for humekit.webhooks.events: parsing webhook and batch-callback bodies into typed events."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _paths import SDK_EXAMPLES

from humekit.errors import MalformedPayloadError
from humekit.webhooks.events import ChatEnded, ChatStarted, JobCallback, ToolCall, ToolCallMessage, UnknownEvent, parse_event


def test_docs_chat_started_sample(samples: Path) -> None:
    """The docs chat_started sample (optional keys omitted) parses, with a UTC started_at."""
    event = parse_event((samples / "docs_webhook_chat_started.json").read_bytes())
    assert isinstance(event, ChatStarted)
    assert event.chat_id == "470a49f6-1dec-4afe-8b61-035d3b2d63b0"
    assert event.chat_start_type == "new_chat_group" and event.caller_number is None
    assert event.started_at == datetime(2024, 5, 20, 22, 42, 20, 648000, tzinfo=UTC)
    assert event.extra == {}


def test_docs_chat_ended_sample(samples: Path) -> None:
    """The docs chat_ended sample parses with its duration, reason and ended_at."""
    event = parse_event((samples / "docs_webhook_chat_ended.json").read_text())
    assert isinstance(event, ChatEnded)
    assert (event.duration_seconds, event.end_reason) == (180, "USER_ENDED")
    assert event.ended_at is not None and event.ended_at.tzinfo is UTC


def test_fern_tool_call_sample_without_event_name() -> None:
    """The Fern tool_call example has no event_name; it is recognised by its tool_call_message."""
    event = parse_event(json.loads((SDK_EXAMPLES / "fern_example_webhook_tool_call.json").read_text()))
    assert isinstance(event, ToolCall)
    assert isinstance(event.tool_call_message, ToolCallMessage)
    assert event.tool_call_message.response_required is True
    assert event.tool_call_message.tool_type == "builtin"
    assert event.config_id is None and event.called_at == datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)


def test_tool_call_arguments_are_parsed() -> None:
    """ToolCallMessage.arguments decodes the stringified parameters (raw string when not JSON)."""
    body = {"event_name": "tool_call", "chat_id": "c", "timestamp": 5,
            "tool_call_message": {"name": "get_weather", "parameters": '{"city": "Paris"}', "tool_call_id": "t1"}}
    event = parse_event(body)
    assert isinstance(event, ToolCall) and event.tool_call_message.arguments == {"city": "Paris"}
    body["tool_call_message"]["parameters"] = "not json"  # type: ignore[index]
    assert parse_event(body).tool_call_message.arguments == "not json"  # type: ignore[union-attr]


def test_nulls_and_unknown_keys_are_tolerated() -> None:
    """Explicit nulls are accepted and unknown keys land in extra."""
    body = {"event_name": "chat_ended", "chat_id": "c", "chat_group_id": None, "config_id": None,
            "caller_number": None, "custom_session_id": None, "twilio_metadata": None, "end_time": None,
            "duration_seconds": None, "end_reason": "ERROR", "brand_new_field": [1, 2]}
    event = parse_event(body)
    assert isinstance(event, ChatEnded) and event.end_time is None and event.ended_at is None
    assert event.extra == {"brand_new_field": [1, 2]}


def test_events_are_frozen() -> None:
    """Events are immutable dataclasses."""
    event = parse_event({"event_name": "chat_started", "chat_id": "c"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.chat_id = "other"  # type: ignore[misc]


def test_job_callback_completed() -> None:
    """The documented batch callback {job_id, status, predictions} parses into JobCallback."""
    event = parse_event(b'{"job_id": "j1", "status": "COMPLETED", "predictions": [{"source": {}}]}')
    assert isinstance(event, JobCallback)
    assert event.ok and event.predictions == [{"source": {}}] and event.message is None


@pytest.mark.parametrize(
    "body",
    [
        {"job_id": "j", "status": "FAILED", "message": "boom"},
        {"job_id": "j", "status": "FAILED", "error": "boom"},
        {"job_id": "j", "status": "FAILED", "error": {"message": "boom"}},
        {"job_id": "j", "state": {"status": "FAILED", "message": "boom"}},
        {"job_id": "j", "status": "failed", "predictions": None, "message": "boom"},
    ],
    ids=["message", "error", "error-object", "state", "lowercase-null-predictions"],
)
def test_job_callback_failure_message_field_variants(body: dict[str, object]) -> None:
    """The UNCONFIRMED failure-message field is read from message, error or state.message."""
    event = parse_event(body)
    assert isinstance(event, JobCallback)
    assert event.status == "FAILED" and not event.ok and event.message == "boom" and event.predictions is None


def test_dedupe_keys() -> None:
    """Dedupe keys are equal for redeliveries and differ between kinds, chats, statuses and tool calls."""
    started = parse_event({"event_name": "chat_started", "chat_id": "c", "start_time": 1})
    again = parse_event({"event_name": "chat_started", "chat_id": "c", "start_time": 1, "x": 1})
    ended = parse_event({"event_name": "chat_ended", "chat_id": "c"})
    assert started.dedupe_key == again.dedupe_key != ended.dedupe_key
    done = parse_event({"job_id": "j", "status": "COMPLETED"})
    failed = parse_event({"job_id": "j", "status": "FAILED"})
    assert done.dedupe_key != failed.dedupe_key
    call = {"event_name": "tool_call", "chat_id": "c", "tool_call_message": {"tool_call_id": "1"}}
    other = {"event_name": "tool_call", "chat_id": "c", "tool_call_message": {"tool_call_id": "2"}}
    assert parse_event(call).dedupe_key != parse_event(other).dedupe_key


def test_unknown_event_name_is_kept() -> None:
    """A well-formed event with a future event_name becomes an UnknownEvent, not an error."""
    event = parse_event({"event_name": "chat_paused", "chat_id": "c"})
    assert isinstance(event, UnknownEvent) and event.event_name == "chat_paused" and event.subject_id == "c"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"", "not valid JSON"),
        (b'{"hello": "world"}', "neither"),
        (b'{"event_name": "chat_ended"}', "chat_id"),
        (b'{"event_name": 5, "chat_id": "c"}', "event_name"),
        (b'{"event_name": "chat_ended", "chat_id": "c", "end_time": "soon"}', "end_time"),
        (b'{"event_name": "chat_ended", "chat_id": "c", "end_time": true}', "end_time"),
        (b'{"event_name": "chat_started", "chat_id": "c", "twilio_metadata": "x"}', "twilio_metadata"),
        (b'{"event_name": "tool_call", "chat_id": "c"}', "tool_call_message"),
        (b'{"job_id": "j", "status": 3}', "status"),
        (b'{"job_id": "j", "status": "COMPLETED", "predictions": {}}', "predictions"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_malformed_payloads(body: bytes, match: str) -> None:
    """Bodies that are not a recognisable event raise MalformedPayloadError saying why."""
    with pytest.raises(MalformedPayloadError, match=match):
        parse_event(body)


def test_a_job_callback_parsed_from_bytes_keeps_its_body_exactly() -> None:
    """A job callback read from bytes carries those bytes (what the job ledger keeps); from a dict, none."""
    raw = b'{"job_id": "j-1", "status": "COMPLETED",  "predictions": []}'
    event = parse_event(raw)
    assert isinstance(event, JobCallback) and event.body == raw
    assert parse_event(json.loads(raw)).body is None
    assert event == parse_event(json.loads(raw))  # the body is not part of what the event says
