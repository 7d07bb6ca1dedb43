"""A stored record points into the history for what it can rebuild exactly, and keeps everything else whole."""

from __future__ import annotations

import json
from typing import Any

from agent_framework import Content, Message
from agent_framework_hosting_responses._parse import parse_create
from agent_framework_hosting_responses._records import json_bytes
from agent_framework_hosting_responses._render import message_item, response_object, usage_object
from agent_framework_hosting_responses._stored import compact, expand, head, needs_order, positions


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


def test_a_plain_turn_keeps_only_ids_its_end_and_what_differs_from_the_defaults() -> None:
    record, history = turn({"input": "hello"}, "echo hello", usage=usage_object({"input_token_count": 3}))
    compacted = compact(record, record["input_items"], history, 1)
    assert compacted is not None
    assert "hello" not in json_bytes(compacted).decode()
    assert "resp_2" not in json_bytes(compacted).decode()  # the id is the record's key
    assert compacted["i"] == [record["input_items"][0]["id"]]
    assert compacted["o"] == ["msg_out"]
    assert compacted["c"] == 5 and compacted["d"] == 1 and "x" not in compacted  # completed is the default status
    assert positions(stored(compacted)) == 4 and not needs_order(compacted)
    again = expand(stored({"s": [], **compacted}), "resp_2", history)
    assert json_bytes(again["response"]) == json_bytes(record["response"])
    assert json_bytes(again["input_items"]) == json_bytes(record["input_items"])
    assert again["key"] == "response:resp_2" and again["snapshot"] is True


def test_an_incomplete_answer_keeps_its_status() -> None:
    record, history = turn({"input": "hello"}, "echo hel", output=[message_item("msg_out", "echo hel", "incomplete")])
    record["response"]["status"] = "incomplete"
    compacted = compact(record, record["input_items"], history, 1)
    assert compacted is not None
    assert compacted["o"] == [["msg_out", "incomplete"]] and compacted["x"] == "incomplete"
    again = expand(stored({"s": [], **compacted}), "resp_2", history)
    assert json_bytes(again["response"]) == json_bytes(record["response"])
    assert head(stored(compacted), "resp_2")["response"]["status"] == "incomplete"


def test_settings_the_caller_sent_are_kept_and_come_back_in_order() -> None:
    body = {
        "input": "hi",
        "instructions": "be brief",
        "temperature": 0.0,
        "parallel_tool_calls": False,
        "metadata": {"a": "b", "c": "d"},
        "tools": [{"type": "web_search"}],
        "user": "u",
        "background": False,
    }
    record, history = turn(body, "echo hi")
    compacted = compact(record, record["input_items"], history, 1)
    assert compacted is not None
    assert compacted["t"] == 0.0 and compacted["pt"] is False and compacted["in"] == "be brief"
    assert "bg" not in compacted and "sr" not in compacted
    assert needs_order(compacted)  # metadata's order must survive a store that sorts keys
    assert json_bytes(expand(stored({"s": [], **compacted}), "resp_2", history)["response"]) == json_bytes(
        record["response"]
    )


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
    inputs = compacted["i"]
    assert inputs[0] == record["input_items"][0] and inputs[2] == record["input_items"][2]
    assert inputs[1] == record["input_items"][1]["id"]  # a user message of two text parts is rebuilt
    assert compacted["o"] == [call]
    again = expand(stored({"s": [], **compacted}), "resp_2", history)
    assert json_bytes(again["input_items"]) == json_bytes(record["input_items"])
    assert json_bytes(again["response"]) == json_bytes(record["response"])


def test_an_input_item_with_its_keys_in_another_order_is_kept_whole() -> None:
    record, history = turn({"input": "hello"}, "echo hello")
    item = record["input_items"][0]
    record["input_items"] = [{"type": item["type"], **item}]
    compacted = compact(record, record["input_items"], history, 1)
    assert compacted is not None and compacted["i"] == record["input_items"]
    again = expand(stored({"s": [], **compacted}), "resp_2", history)
    assert json_bytes(again["input_items"]) == json_bytes(record["input_items"])


def test_an_answer_that_is_not_the_history_s_end_is_kept_whole() -> None:
    record, history = turn({"input": "hello"}, "echo hello")
    history.append(Message("assistant", ["delivered afterwards"]))
    compacted = compact(record, record["input_items"], history, 1)
    assert compacted is not None
    assert compacted["o"] == record["response"]["output"]
    assert compacted["i"] == record["input_items"]  # the message before the answer is no user message
    again = expand(stored({"s": [], **compacted}), "resp_2", history)
    assert json_bytes(again["response"]) == json_bytes(record["response"])


def test_a_response_of_another_shape_is_not_compacted() -> None:
    record, history = turn({"input": "hello"}, "echo hello")
    record["response"] = {"extra": 1, **record["response"]}
    assert compact(record, record["input_items"], history, 1) is None


def test_a_compact_record_s_head_names_its_own_session_unless_it_ran_elsewhere() -> None:
    record, history = turn({"input": "hello"}, "echo hello")
    compacted = compact(record, record["input_items"], history, 1)
    assert compacted is not None and "k" not in compacted
    assert head(compacted, "resp_2")["key"] == "response:resp_2"
    assert head(compacted, "resp_2")["response"]["id"] == "resp_2"
    record["key"] = "conversation:conv_1"
    elsewhere = compact(record, record["input_items"], history, 1)
    assert elsewhere is not None and head(elsewhere, "resp_2")["key"] == "conversation:conv_1"


def test_a_version_2_record_is_still_read() -> None:
    record, history = turn({"input": "hello"}, "echo hello", usage=usage_object({"input_token_count": 3}))
    response = record["response"]
    kept = {
        "id": "resp_2",
        "created_at": 5,
        "status": "completed",
        "completed_at": 6,
        "model": "m",
        "output": [["msg_out", "completed", 3, 4]],
        "usage": [3, 0, 0, 0, 0, 3],
    }
    old = {"v": 2, "response": kept, "input_items": [[record["input_items"][0]["id"], 2]]}
    assert positions(old) == 4
    assert head(old, "resp_2")["key"] == "response:resp_2" and head(old, "resp_2")["snapshot"] is True
    again = expand(stored(old), "resp_2", history)
    assert json_bytes(again["response"]) == json_bytes(response)
    assert json_bytes(again["input_items"]) == json_bytes(record["input_items"])
