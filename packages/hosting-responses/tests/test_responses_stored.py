"""A stored record refers to the history for what it can rebuild exactly, and keeps everything else whole."""

from __future__ import annotations

import json
from typing import Any

from agent_framework import Content, Message
from agent_framework_hosting_responses._parse import parse_create
from agent_framework_hosting_responses._records import json_bytes
from agent_framework_hosting_responses._render import message_item, response_object, usage_object
from agent_framework_hosting_responses._stored import compact, expand, head, positions


def stored(record: dict[str, Any]) -> dict[str, Any]:
    """What a store gives back: the record through JSON."""
    return json.loads(json_bytes(record))  # type: ignore[no-any-return]


def turn(body: dict[str, Any], answer: str, **fields: Any) -> tuple[dict[str, Any], list[Message]]:
    """A record as the channel keeps it, and the snapshot history its turn left (after an earlier turn)."""
    params = parse_create({"model": "m", **body})
    history = [Message("user", ["earlier"]), Message("assistant", ["echo earlier"]), *params.messages]
    history.append(Message("assistant", [answer]))
    fields.setdefault("output", [message_item("msg_out", answer, "completed")])
    response = response_object(
        response_id="resp_2", created_at=5, status="completed", model="m", params=params, completed_at=6, **fields
    )
    return {"response": response, "key": "response:resp_2", "snapshot": True, "input_items": params.items}, history


def test_a_plain_turn_keeps_only_ids_positions_and_what_differs_from_the_defaults() -> None:
    record, history = turn({"input": "hello"}, "echo hello", usage=usage_object({"input_token_count": 3}))
    compacted = compact(record, record["input_items"], history, 1)
    assert compacted is not None
    assert "hello" not in json_bytes(compacted).decode()
    assert compacted["input_items"] == [[record["input_items"][0]["id"], 2]]
    assert compacted["response"]["output"] == [["msg_out", "completed", 3, 4]]
    assert positions(stored(compacted)) == 4
    again = expand(stored(compacted), history)
    assert json_bytes(again["response"]) == json_bytes(record["response"])
    assert json_bytes(again["input_items"]) == json_bytes(record["input_items"])
    assert again["key"] == "response:resp_2" and again["snapshot"] is True


def test_settings_the_caller_sent_are_kept_and_come_back_in_order() -> None:
    body = {
        "input": "hi",
        "instructions": "be brief",
        "temperature": 0.0,
        "parallel_tool_calls": False,
        "metadata": {"a": "b"},
        "tools": [{"type": "web_search"}],
        "user": "u",
        "background": False,
    }
    record, history = turn(body, "echo hi")
    compacted = compact(record, record["input_items"], history, 1)
    assert compacted is not None
    kept = compacted["response"]
    assert kept["temperature"] == 0.0 and kept["parallel_tool_calls"] is False and kept["instructions"] == "be brief"
    assert "background" not in kept and "store" not in kept
    assert json_bytes(expand(stored(compacted), history)["response"]) == json_bytes(record["response"])


def test_items_that_would_not_come_back_exactly_are_kept_whole() -> None:
    body = {
        "input": [
            {"role": "assistant", "content": "written by the client"},
            {"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]},
            {"type": "function_call_output", "call_id": "c1", "output": "42"},
        ]
    }
    call = {
        "id": "fc_1",
        "type": "function_call",
        "call_id": "c2",
        "name": "f",
        "arguments": "{}",
        "status": "completed",
    }
    record, history = turn(body, "", output=[call])
    history[-1] = Message("assistant", [Content.from_function_call("c2", "f", arguments="{}")])
    compacted = compact(record, record["input_items"], history, 1)
    assert compacted is not None
    inputs = compacted["input_items"]
    assert inputs[0] == record["input_items"][0] and inputs[2] == record["input_items"][2]
    assert inputs[1] == [record["input_items"][1]["id"], 3]  # a user message of two text parts is rebuilt
    assert compacted["response"]["output"] == [call]
    again = expand(stored(compacted), history)
    assert json_bytes(again["input_items"]) == json_bytes(record["input_items"])
    assert json_bytes(again["response"]) == json_bytes(record["response"])


def test_an_answer_that_is_not_the_history_s_end_is_kept_whole() -> None:
    record, history = turn({"input": "hello"}, "echo hello")
    history.append(Message("assistant", ["delivered afterwards"]))
    compacted = compact(record, record["input_items"], history, 1)
    assert compacted is not None
    assert compacted["response"]["output"] == record["response"]["output"]
    assert compacted["input_items"] == record["input_items"]  # the message before the answer is no user message
    assert positions(compacted) == 0


def test_a_response_of_another_shape_is_not_compacted() -> None:
    record, history = turn({"input": "hello"}, "echo hello")
    record["response"] = {"extra": 1, **record["response"]}
    assert compact(record, record["input_items"], history, 1) is None


def test_a_compact_record_s_head_names_its_own_session_unless_it_ran_elsewhere() -> None:
    record, history = turn({"input": "hello"}, "echo hello")
    compacted = compact(record, record["input_items"], history, 1)
    assert compacted is not None and "key" not in compacted
    assert head(compacted)["key"] == "response:resp_2"
    record["key"] = "conversation:conv_1"
    elsewhere = compact(record, record["input_items"], history, 1)
    assert elsewhere is not None and head(elsewhere)["key"] == "conversation:conv_1"
