"""Request parsing, without a server: what the channel accepts and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from agent_framework_hosting_responses._errors import ApiError
from agent_framework_hosting_responses._parse import (
    parse_conversation_items,
    parse_create,
    parse_list_query,
    parse_metadata,
    parse_stream_query,
)


def refused(body: dict[str, Any]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_create(body)
    assert caught.value.status_code == 400
    return caught.value


def test_string_input_becomes_one_user_message_and_one_input_item() -> None:
    params = parse_create({"model": "m", "input": "hello"})
    assert [(m.role, m.text) for m in params.messages] == [("user", "hello")]
    [item] = params.items
    assert item["type"] == "message" and item["role"] == "user" and item["id"].startswith("msg_")
    assert item["content"] == [{"type": "input_text", "text": "hello"}]


def test_message_items_keep_roles_and_developer_becomes_system() -> None:
    params = parse_create(
        {
            "input": [
                {"type": "message", "role": "developer", "content": "be brief"},
                {"role": "assistant", "content": [{"type": "output_text", "text": "earlier answer"}]},
                {"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]},
            ]
        }
    )
    assert [(m.role, m.text) for m in params.messages] == [
        ("system", "be brief"),
        ("assistant", "earlier answer"),
        ("user", "a b"),
    ]
    assert [item["role"] for item in params.items] == ["developer", "assistant", "user"]
    assert params.items[1]["content"] == [{"type": "output_text", "text": "earlier answer", "annotations": []}]


def test_images_by_url_and_data_url_reach_the_agent_as_uri_content() -> None:
    params = parse_create(
        {
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "what is this"},
                        {"type": "input_image", "image_url": "https://example.test/cat.png"},
                        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
                    ],
                }
            ]
        }
    )
    contents = params.messages[0].contents
    assert contents[1].uri == "https://example.test/cat.png"
    assert contents[2].type == "data" and contents[2].media_type == "image/png"
    assert params.items[0]["content"][2] == {
        "type": "input_image",
        "image_url": "data:image/png;base64,iVBORw0KGgo=",
        "detail": "low",
    }


def test_function_call_output_becomes_a_tool_result_for_that_call() -> None:
    params = parse_create({"input": [{"type": "function_call_output", "call_id": "call_1", "output": "42"}]})
    [message] = params.messages
    assert message.role == "tool"
    assert message.contents[0].type == "function_result" and message.contents[0].call_id == "call_1"
    assert params.items[0]["type"] == "function_call_output" and params.items[0]["output"] == "42"


def test_reasoning_items_replayed_by_clients_are_skipped() -> None:
    params = parse_create(
        {"input": [{"type": "reasoning", "id": "rs_1", "summary": []}, {"role": "user", "content": "hi"}]}
    )
    assert [m.text for m in params.messages] == ["hi"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "input"),
        ({"input": 5}, "input"),
        ({"input": []}, "input"),
        ({"input": [5]}, "input[0]"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"input": [{"role": "user", "content": 7}]}, "input[0].content"),
        ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input[0].content[0].type"),
        ({"input": [{"role": "user", "content": [{"type": "input_image"}]}]}, "input[0].content[0]"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "ftp://x"}]}]},
            "input[0].content[0].image_url",
        ),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        ({"input": "x", "temperature": "hot"}, "temperature"),
        ({"input": "x", "temperature": 3}, "temperature"),
        ({"input": "x", "top_p": True}, "top_p"),
        ({"input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"input": "x", "stream": "yes"}, "stream"),
        ({"input": "x", "store": 1}, "store"),
        ({"input": "x", "model": 4}, "model"),
        ({"input": "x", "instructions": ["a"]}, "instructions"),
        ({"input": "x", "tools": [{"name": "no type"}]}, "tools[0]"),
        ({"input": "x", "tool_choice": "sometimes"}, "tool_choice"),
        ({"input": "x", "previous_response_id": ""}, "previous_response_id"),
        ({"input": "x", "conversation": {"id": 3}}, "conversation.id"),
        ({"input": "x", "metadata": {"k": 1}}, "metadata.k"),
        ({"input": "x", "previous_response_id": "resp_1", "conversation": "conv_1"}, "conversation"),
        ({"input": "x", "background": True, "store": False}, "background"),
    ],
)
def test_wrong_types_and_values_are_refused_naming_the_parameter(body: dict[str, Any], param: str) -> None:
    error = refused(body)
    assert error.param == param
    assert error.body()["error"]["type"] == "invalid_request_error"


def test_unknown_fields_and_nulls_are_ignored() -> None:
    params = parse_create({"input": "x", "frobnicate": {"a": 1}, "temperature": None, "service_tier": "flex"})
    assert params.options(("temperature",)) == {}
    assert params.store is True and params.stream is False and params.background is False


def test_only_forwarded_settings_become_chat_options_with_agent_framework_names() -> None:
    body = {
        "input": "x",
        "instructions": "be terse",
        "temperature": 0.2,
        "top_p": 0.9,
        "max_output_tokens": 50,
        "tools": [{"type": "function", "name": "f"}],
        "parallel_tool_calls": False,
        "metadata": {"a": "b"},
    }
    params = parse_create(body)
    assert params.options(("instructions", "temperature", "top_p", "max_output_tokens")) == {
        "instructions": "be terse",
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 50,
    }
    assert params.options(("tools", "parallel_tool_calls", "metadata")) == {
        "tools": [{"type": "function", "name": "f"}],
        "allow_multiple_tool_calls": False,
        "metadata": {"a": "b"},
    }


def test_metadata_limits_follow_openai() -> None:
    assert parse_metadata({"k": "v"}) == {"k": "v"}
    with pytest.raises(ApiError):
        parse_metadata({str(i): "v" for i in range(17)})
    with pytest.raises(ApiError):
        parse_metadata({"k" * 65: "v"})
    with pytest.raises(ApiError):
        parse_metadata({"k": "v" * 513})


def test_identity_prefers_safety_identifier_over_user() -> None:
    assert parse_create({"input": "x", "user": "u1", "safety_identifier": "s1"}).identity == "s1"
    assert parse_create({"input": "x", "user": "u1"}).identity == "u1"
    assert parse_create({"input": "x"}).identity is None


def test_conversation_may_be_an_id_or_an_object() -> None:
    assert parse_create({"input": "x", "conversation": "conv_1"}).conversation_id == "conv_1"
    assert parse_create({"input": "x", "conversation": {"id": "conv_2"}}).conversation_id == "conv_2"


def test_list_query_defaults_and_bounds() -> None:
    query = parse_list_query({})
    assert (query.limit, query.order, query.after) == (20, "desc", None)
    assert parse_list_query({"limit": "100", "order": "asc", "after": "msg_1"}).after == "msg_1"
    for bad in ({"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"order": "sideways"}):
        with pytest.raises(ApiError):
            parse_list_query(bad)


def test_stream_query_parses_starting_after() -> None:
    assert parse_stream_query({}) == (False, None)
    assert parse_stream_query({"stream": "true", "starting_after": "4"}) == (True, 4)
    with pytest.raises(ApiError):
        parse_stream_query({"stream": "true", "starting_after": "four"})


def test_conversation_items_are_capped_at_twenty() -> None:
    assert parse_conversation_items(None) == ([], [])
    messages, items = parse_conversation_items([{"role": "user", "content": "hi"}])
    assert len(messages) == len(items) == 1
    with pytest.raises(ApiError):
        parse_conversation_items([{"role": "user", "content": "hi"}] * 21)
