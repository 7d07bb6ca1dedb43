"""Rendering and the event sequence, without a server, checked against the SDK's own models."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest
from agent_framework import AgentResponse, Content, Message
from agent_framework_hosting_responses._events import ResponseEvents
from agent_framework_hosting_responses._parse import ListQuery, parse_create
from agent_framework_hosting_responses._render import (
    completion_status,
    list_page,
    message_item,
    output_items,
    pending_calls,
    response_object,
    usage_object,
)
from openai.types.responses import Response, ResponseStreamEvent

EVENTS = pydantic.TypeAdapter(ResponseStreamEvent)


def make_response(status: str, **fields: Any) -> dict[str, Any]:
    params = parse_create(
        {"input": "hi", "metadata": {"k": "v"}, "temperature": 0.5, "tools": [{"type": "web_search"}]}
    )
    return response_object(
        response_id="resp_1",
        created_at=1,
        status=status,
        model="m",
        params=params,
        **fields,
    )


def test_response_object_validates_against_the_sdk_model_and_echoes_settings_as_sent() -> None:
    body = make_response("completed", output=output_items("hello", [], message_id="msg_1"))
    response = Response.model_validate(body)
    assert response.output_text == "hello"
    assert response.temperature == 0.5
    assert [tool.type for tool in response.tools] == ["web_search"]
    assert response.metadata == {"k": "v"}
    assert isinstance(body["created_at"], int)


def test_usage_maps_agent_framework_counts_and_is_null_without_them() -> None:
    usage = usage_object({"input_token_count": 3, "output_token_count": 4, "cache_read_input_token_count": 1})
    assert usage is not None
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (3, 4, 7)
    assert usage["input_tokens_details"]["cached_tokens"] == 1
    assert usage_object(None) is None and usage_object({}) is None


def test_unanswered_function_calls_become_output_items_and_answered_ones_do_not() -> None:
    result = AgentResponse(
        messages=[
            Message("assistant", [Content.from_function_call("c1", "lookup", arguments={"q": "x"})]),
            Message("tool", [Content.from_function_result("c1", result="found")]),
            Message("assistant", [Content.from_function_call("c2", "approve", arguments='{"ok": true}')]),
        ]
    )
    calls = pending_calls(result)
    assert [(c["call_id"], c["name"], c["arguments"]) for c in calls] == [("c2", "approve", '{"ok": true}')]
    items = output_items("", calls, message_id="msg_1")
    assert [item["type"] for item in items] == ["function_call"]


def test_length_finish_reason_marks_the_response_incomplete() -> None:
    assert completion_status(AgentResponse(messages=[], finish_reason="length")) == (
        "incomplete",
        {"reason": "max_output_tokens"},
    )
    assert completion_status(AgentResponse(messages=[], finish_reason="stop")) == ("completed", None)


def test_event_sequence_numbers_from_zero_with_one_message_id() -> None:
    events = ResponseEvents("resp_1")
    sequence = [*events.created(make_response("in_progress")), *events.in_progress(make_response("in_progress"))]
    sequence += events.delta("hel") + events.delta("") + events.delta("lo")
    final = make_response(
        "completed", output=output_items("hello", [], message_id=events.message_id, message_started=True)
    )
    sequence += events.finished(final)
    assert [e["sequence_number"] for e in sequence] == list(range(len(sequence)))
    assert [e["type"] for e in sequence] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    item_ids = {
        e.get("item_id") or e.get("item", {}).get("id")
        for e in sequence
        if e["type"].startswith("response.output") or "part" in e["type"]
    }
    assert item_ids == {events.message_id}
    for event in sequence:
        EVENTS.validate_python(event)


def test_text_arriving_only_at_the_end_still_opens_the_message_before_closing_it() -> None:
    events = ResponseEvents("resp_1")
    events.created(make_response("in_progress"))
    final = make_response("completed", output=output_items("all at once", [], message_id=events.message_id))
    kinds = [e["type"] for e in events.finished(final)]
    assert kinds[:2] == ["response.output_item.added", "response.content_part.added"]
    assert kinds[-1] == "response.completed"


def test_function_call_items_stream_their_arguments_after_the_message() -> None:
    events = ResponseEvents("resp_1")
    events.created(make_response("in_progress"))
    events.delta("calling")
    call = {
        "id": "fc_1",
        "type": "function_call",
        "call_id": "c1",
        "name": "f",
        "arguments": "{}",
        "status": "completed",
    }
    final = make_response(
        "completed", output=output_items("calling", [call], message_id=events.message_id, message_started=True)
    )
    closing = events.finished(final)
    added = [e for e in closing if e["type"] == "response.output_item.added"]
    assert added[0]["output_index"] == 1 and added[0]["item"]["id"] == "fc_1"
    assert any(e["type"] == "response.function_call_arguments.done" and e["arguments"] == "{}" for e in closing)
    for event in closing:
        EVENTS.validate_python(event)


def test_failed_event_carries_the_error_and_partial_output() -> None:
    events = ResponseEvents("resp_1")
    events.created(make_response("in_progress"))
    events.delta("par")
    partial = [message_item(events.message_id, "par", "incomplete")]
    failed = make_response("failed", output=partial, error={"code": "server_error", "message": "boom"})
    *closing, last = events.finished(failed)
    assert [e["type"] for e in closing] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    parsed = EVENTS.validate_python(last)
    assert parsed.type == "response.failed" and parsed.response.error.code == "server_error"
    cancelled = make_response("cancelled", output=partial)
    assert EVENTS.validate_python(events.finished(cancelled)[-1]).type == "response.failed"


def test_list_page_orders_paginates_and_reports_more() -> None:
    items = [{"id": f"i{n}"} for n in range(5)]
    first = list_page(items, ListQuery(limit=2, order="asc"))
    assert first is not None and [i["id"] for i in first["data"]] == ["i0", "i1"] and first["has_more"]
    rest = list_page(items, ListQuery(limit=10, order="asc", after="i1"))
    assert rest is not None and [i["id"] for i in rest["data"]] == ["i2", "i3", "i4"] and not rest["has_more"]
    newest = list_page(items, ListQuery(limit=1))
    assert newest is not None and newest["data"] == [{"id": "i4"}] and newest["first_id"] == newest["last_id"] == "i4"
    assert list_page(items, ListQuery(after="nope")) is None


def test_sse_frames_name_their_events_and_parse_back_to_them() -> None:
    from agent_framework_hosting_responses._sse import sse_frames

    response = {"id": "resp_1", "status": "in_progress", "output": [], "text": "line\u2028break ü"}
    events = [
        {"type": "response.created", "sequence_number": 0, "response": response},
        {"type": "response.in_progress", "sequence_number": 1, "response": response},
        {"type": "response.output_text.delta", "sequence_number": 2, "delta": "hi\n\u2029there", "logprobs": []},
    ]
    frames = sse_frames(events).decode().split("\n\n")
    assert frames[-1] == "" and len(frames) == 4
    for frame, event in zip(frames[:-1], events, strict=True):
        kind, data = frame.splitlines()  # two lines, even split the way Python splits them
        assert kind == f"event: {event['type']}" and json.loads(data.removeprefix("data: ")) == event


TRICKY_TEXTS = [
    "hi",
    'a "quote" \\ back',
    "tab\tnew\nline\r\x00\x1f\x0b\x0c\x1c",
    "naïve ✓ \u2028\u2029\x85 😀",
    "</script><!--",
    "",
]


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_event_json_is_compact_json_on_one_line_however_its_text_is_split(text: str) -> None:
    from agent_framework_hosting_responses._sse import event_json

    value = {"text": text, "values": [1, 2.5, -0.0, None, True, False], "nested": {text: [text, {}]}}
    for original in (value, text):
        encoded = event_json(original)
        assert json.loads(encoded) == original
        assert len(encoded.decode().splitlines()) == 1
    assert b',"values":[1,2.5,-0.0,null,true,false],"nested":{' in event_json(value)  # compact


def test_event_json_keeps_text_as_utf8_but_for_the_line_breaks_it_escapes() -> None:
    from agent_framework_hosting_responses._sse import event_json

    assert event_json("naïve ✓ 😀") == '"naïve ✓ 😀"'.encode()
    assert event_json("a\u2028b\u2029c\x85d") == b'"a\\u2028b\\u2029c\\u0085d"'


def test_a_lone_surrogate_is_written_as_its_escape_in_events_and_bodies() -> None:
    from agent_framework_hosting_responses._records import json_bytes
    from agent_framework_hosting_responses._sse import event_json

    value = {"delta": "half \ud83d of a pair", "n": 2**70}
    for encoded in (event_json(value), json_bytes(value)):
        assert encoded == b'{"delta":"half \\ud83d of a pair","n":1180591620717411303424}'


def test_event_json_refuses_what_json_cannot_encode() -> None:
    from agent_framework_hosting_responses._sse import event_json

    with pytest.raises(TypeError, match="not JSON serializable"):
        event_json({"when": object()})
