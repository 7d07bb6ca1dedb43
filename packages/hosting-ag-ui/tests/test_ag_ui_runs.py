"""AG-UI runs: the event stream (validated by ag-ui-protocol's models), threads, history by id, tools, state, errors."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))
from ag_ui_helpers import events_of, run_input, text_of, types_of, user  # noqa: E402


def run(client: Any, body: dict[str, Any], **headers: str) -> list[Any]:
    response = client.post("/ag-ui", json=body, headers=headers or None)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return events_of(response.text)


def test_a_run_streams_started_text_message_and_finished(serve: Any) -> None:
    hosted = serve()
    events = run(hosted.client, run_input("t1", [user("hello there", "u1")], runId="run-1"))
    kinds = types_of(events)
    assert kinds[0] == "RUN_STARTED" and (events[0].thread_id, events[0].run_id) == ("t1", "run-1")
    assert kinds[1] == "TEXT_MESSAGE_START" and events[1].role == "assistant"
    assert set(kinds[2:-2]) == {"TEXT_MESSAGE_CONTENT"} and len(kinds[2:-2]) > 1
    assert kinds[-2:] == ["TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert {e.message_id for e in events[1:-1]} == {events[1].message_id}
    assert text_of(events) == "echo 1: hello there"


def test_a_thread_is_one_conversation_whether_the_client_sends_new_messages_or_the_whole_history(serve: Any) -> None:
    hosted = serve()
    first = run(hosted.client, run_input("t", [user("one", "u1")]))
    assert text_of(first) == "echo 1: one"
    assert text_of(run(hosted.client, run_input("t", [user("two", "u2")]))) == "echo 2: two"
    reply_id = first[1].message_id
    history = [user("one", "u1"), {"id": reply_id, "role": "assistant", "content": "echo 1: one"}, user("two", "u2")]
    third = run(hosted.client, run_input("t", [*history, user("three", "u3")]))
    assert text_of(third) == "echo 3: three"
    assert [m.text for m in hosted.model.calls[-1] if m.role == "user"] == ["one", "two", "three"]
    assert text_of(run(hosted.client, run_input("other", [user("fresh", "u1")]))) == "echo 1: fresh"


def test_a_repeated_run_with_nothing_new_runs_nothing_and_answers_with_the_conversation(serve: Any) -> None:
    hosted = serve()
    run(hosted.client, run_input("t", [user("once", "u1")]))
    again = run(hosted.client, run_input("t", [user("once", "u1")], runId="r2"))
    assert types_of(again) == ["RUN_STARTED", "MESSAGES_SNAPSHOT", "RUN_FINISHED"]
    assert [(m.role, m.content) for m in again[1].messages] == [("user", "once"), ("assistant", "echo 1: once")]
    assert len(hosted.model.calls) == 1


def test_a_client_joining_a_thread_gets_its_history_and_may_send_it_back(serve: Any) -> None:
    hosted = serve()
    run(hosted.client, run_input("t", [user("hello", "u1")]))
    run(hosted.client, run_input("t", [user('call add {"a": 2, "b": 3}', "u2")], runId="r2"))
    joined = run(hosted.client, run_input("t", [], runId="r3"))
    assert types_of(joined) == ["RUN_STARTED", "MESSAGES_SNAPSHOT", "RUN_FINISHED"]
    history = joined[1].messages
    assert [m.role for m in history] == ["user", "assistant", "user", "assistant", "tool", "assistant"]
    assert history[0].id == "u1" and history[2].id == "u2", "the client's own ids are kept"
    assert history[3].tool_calls[0].function.name == "add"
    assert history[4].tool_call_id == history[3].tool_calls[0].id and history[4].content == "5"
    assert history[5].content == "tool said: 5"
    # the joined client sends the snapshot back with a new message: only the new one reaches the agent
    resent = [m.model_dump(by_alias=True, exclude_none=True) for m in history]
    answer = run(hosted.client, run_input("t", [*resent, user("and now?", "u3")], runId="r4"))
    assert text_of(answer) == "echo 3: and now?"
    assert [m.text for m in hosted.model.calls[-1] if m.role == "user"] == [
        "hello",
        'call add {"a": 2, "b": 3}',
        "and now?",
    ]
    assert "MESSAGES_SNAPSHOT" not in types_of(answer)


def test_a_new_thread_with_nothing_new_has_no_snapshot(serve: Any) -> None:
    hosted = serve()
    assert types_of(run(hosted.client, run_input("fresh", []))) == ["RUN_STARTED", "RUN_FINISHED"]


def test_a_front_end_tool_comes_back_as_a_tool_call_and_its_result_continues_the_run(serve: Any) -> None:
    hosted = serve()
    tools = [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    asked = run(hosted.client, run_input("w", [user('call get_weather {"city": "Oslo"}', "u1")], tools=tools))
    kinds = types_of(asked)
    assert kinds == ["RUN_STARTED", "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "RUN_FINISHED"]
    start, args = asked[1], asked[2]
    assert start.tool_call_name == "get_weather" and start.parent_message_id
    assert json.loads(args.delta) == {"city": "Oslo"}
    assert asked[-1].result == {"pendingToolCalls": [start.tool_call_id]}
    # The client runs the tool and sends its history back: its own id for the tool-call message, then the result.
    history = [
        user('call get_weather {"city": "Oslo"}', "u1"),
        {
            "id": "client-made-id",
            "role": "assistant",
            "toolCalls": [
                {
                    "id": start.tool_call_id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": args.delta},
                }
            ],
        },
        {"id": "t1", "role": "tool", "toolCallId": start.tool_call_id, "content": "sunny, 21 C"},
    ]
    answered = run(hosted.client, run_input("w", history, tools=tools, runId="r2"))
    assert text_of(answered) == "tool said: sunny, 21 C"
    seen = hosted.model.calls[-1]
    assert sum(c.type == "function_call" for m in seen for c in m.contents) == 1, "the tool call is not added twice"


def test_a_server_side_tool_streams_its_call_and_result(serve: Any) -> None:
    hosted = serve()
    events = run(hosted.client, run_input("s", [user('call add {"a": 2, "b": 3}', "u1")]))
    kinds = types_of(events)
    assert kinds[:5] == ["RUN_STARTED", "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "TOOL_CALL_RESULT"]
    assert events[4].content == "5" and events[4].tool_call_id == events[1].tool_call_id
    assert text_of(events) == "tool said: 5"
    assert kinds[-1] == "RUN_FINISHED" and events[-1].result is None


def test_shared_state_is_kept_per_thread_and_sent_as_a_snapshot(serve: Any) -> None:
    hosted = serve()
    first = run(hosted.client, run_input("st", [user("hi", "u1")], state={"todo": ["milk"]}))
    assert types_of(first)[1] == "STATE_SNAPSHOT" and first[1].snapshot == {"todo": ["milk"]}
    second = run(hosted.client, run_input("st", [user("again", "u2")]))
    assert second[1].snapshot == {"todo": ["milk"]}
    plain = run(hosted.client, run_input("nostate", [user("hi", "u1")]))
    assert "STATE_SNAPSHOT" not in types_of(plain)


def test_a_failing_agent_ends_the_run_with_run_error_and_no_details(serve: Any) -> None:
    hosted = serve()
    events = run(hosted.client, run_input("f", [user("please [fail]", "u1")]))
    assert types_of(events)[0] == "RUN_STARTED"
    assert types_of(events)[-1] == "RUN_ERROR"
    assert "server log" in events[-1].message and "offline model failure" not in events[-1].message
    assert "RUN_FINISHED" not in types_of(events)


def test_bad_input_is_a_400_and_runs_nothing(serve: Any) -> None:
    hosted = serve()
    for body in (b"{nope", b"[]", json.dumps({"threadId": "t"}).encode(), json.dumps(run_input("", [])).encode()):
        response = hosted.client.post("/ag-ui", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] in ("invalid_json", "invalid_request", "invalid_input")
    assert hosted.model.calls == []


def test_an_api_key_is_required_when_configured(serve: Any) -> None:
    hosted = serve(api_key="k")
    refused = hosted.client.post("/ag-ui", json=run_input("t", [user("hi", "u1")]))
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert text_of(run(hosted.client, run_input("t", [user("hi", "u1")]), authorization="Bearer k")) == "echo 1: hi"


def test_the_channels_run_hook_sees_the_run_input_and_can_rewrite_the_turn(serve: Any) -> None:
    seen: list[Any] = []

    def hook(request: Any, *, target: Any, protocol_request: Any) -> Any:
        seen.append((request.isolation_key, protocol_request.run_id))
        return dataclasses.replace(request, input="rewritten")

    hosted = serve(run_hook=hook)
    assert text_of(run(hosted.client, run_input("hk", [user("original", "u1")], runId="run-9"))) == "echo 1: rewritten"
    assert seen == [("ag-ui:hk", "run-9")]


def test_reasoning_streams_as_a_reasoning_message_before_the_answer(serve: Any) -> None:
    hosted = serve()
    events = run(hosted.client, run_input("r", [user("think hard", "u1")]))
    kinds = types_of(events)
    reasoning = [k for k in kinds if k.startswith("REASONING")]
    assert reasoning == [
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_ENCRYPTED_VALUE",
        "REASONING_MESSAGE_END",
        "REASONING_END",
    ]
    assert kinds.index("REASONING_END") < kinds.index("TEXT_MESSAGE_START")
    thought = "".join(e.delta for e in events if types_of([e]) == ["REASONING_MESSAGE_CONTENT"])
    assert thought == "Let me think about hard"
    encrypted = events[kinds.index("REASONING_ENCRYPTED_VALUE")]
    start = events[kinds.index("REASONING_START")]
    assert encrypted.entity_id == start.message_id and encrypted.encrypted_value == "c2VjcmV0LXRob3VnaHRz"
    assert text_of(events) == "echo 1: think hard"
