"""Workflow targets: any JSON message reaches the workflow, one workflow per session, typed inputs enforced."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from agent_framework_hosting import ChannelRequest


@pytest.mark.parametrize("message", ["text", 0, 2.5, False, [1, "two", None], {"b": {"c": [1]}, "a": "x"}])
def test_any_json_message_is_handed_to_the_workflow(serve: Any, counter_workflow: Any, message: Any) -> None:
    response = serve(counter_workflow).client.post("/invocations", json={"message": message})
    assert response.status_code == 200
    assert response.json() == {"response": f"turn 1: {json.dumps(message, sort_keys=True)}", "session_id": None}


def test_a_session_id_keeps_one_workflow_per_conversation(serve: Any, counter_workflow: Any) -> None:
    client = serve(counter_workflow).client
    assert client.post("/invocations", json={"message": 1, "session_id": "w1"}).json()["response"] == "turn 1: 1"
    assert client.post("/invocations", json={"message": 2, "session_id": "w2"}).json()["response"] == "turn 1: 2"
    assert client.post("/invocations", json={"message": 3, "session_id": "w1"}).json()["response"] == "turn 2: 3"


def test_without_a_session_id_every_workflow_turn_starts_fresh(serve: Any, counter_workflow: Any) -> None:
    client = serve(counter_workflow).client
    answers = {client.post("/invocations", json={"message": {"n": n}}).json()["response"] for n in range(2)}
    assert answers == {'turn 1: {"n": 0}', 'turn 1: {"n": 1}'}


def test_a_streamed_workflow_turn_sends_its_output_then_done(serve: Any, counter_workflow: Any, sse: Any) -> None:
    client = serve(counter_workflow).client
    client.post("/invocations", json={"message": "a", "session_id": "ws"})
    frames = sse(client.post("/invocations", json={"message": {"k": [1]}, "session_id": "ws", "stream": True}).text)
    assert [f.json() for f in frames[:-1]] == [
        {"delta": 'turn 2: {"k": [1]}'},
        {"response": 'turn 2: {"k": [1]}', "session_id": "ws"},
    ]
    assert frames[-1].data == "[DONE]"


def test_a_structured_message_reaches_a_text_workflow_as_json_text(serve: Any, strings_only_workflow: Any) -> None:
    client = serve(strings_only_workflow).client
    assert client.post("/invocations", json={"message": "loud"}).json()["response"] == "LOUD"
    response = client.post("/invocations", json={"message": {"not": "a string"}})
    assert response.status_code == 200
    assert response.json()["response"] == '{"NOT": "A STRING"}'


def test_a_message_the_workflow_cannot_take_is_a_400(serve: Any, numbers_only_workflow: Any) -> None:
    client = serve(numbers_only_workflow).client
    assert client.post("/invocations", json={"message": 20}).json()["response"] == "21"
    assert client.post("/invocations", json={"message": "41"}).json()["response"] == "42"
    response = client.post("/invocations", json={"message": "forty"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_input"
    assert response.json()["error"]["message"] == (
        "the workflow's start executor 'plus_one' takes int; it cannot take a str"
    )


def test_a_streamed_message_the_workflow_cannot_take_is_an_error_event(
    serve: Any, numbers_only_workflow: Any, sse: Any
) -> None:
    frames = sse(serve(numbers_only_workflow).client.post("/invocations", json={"message": "x", "stream": True}).text)
    assert [f.event for f in frames] == ["error", "message"]
    assert frames[0].json()["error"]["code"] == "unsupported_input"
    assert frames[1].data == "[DONE]"


def test_a_run_hook_can_reshape_a_structured_message_for_the_workflow(serve: Any, strings_only_workflow: Any) -> None:
    def run_hook(request: ChannelRequest, *, target: Any, protocol_request: Any) -> ChannelRequest:
        message = protocol_request["message"]
        return dataclasses.replace(request, input=f"{message['greeting']}, {message['name']}")

    client = serve(strings_only_workflow, run_hook=run_hook).client
    response = client.post("/invocations", json={"message": {"greeting": "hello", "name": "ada"}})
    assert response.json() == {"response": "HELLO, ADA", "session_id": None}
