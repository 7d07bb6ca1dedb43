"""Turns against a real Agent over the offline chat client: answers, sessions, streaming, hooks, probes."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest
from agent_framework import AgentResponse, AgentResponseUpdate, Content, Message
from agent_framework_hosting import ChannelRequest, HostedRunResult
from agent_framework_hosting.testing import OfflineChatClient
from agent_framework_hosting_invocations import InvocationsChannel


def test_a_plain_turn_answers_with_the_agents_text_and_no_session(serve: Any) -> None:
    hosted = serve()
    response = hosted.client.post("/invocations", json={"message": "hello"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"response": "echo 1: hello", "session_id": None}
    assert "x-agent-session-id" not in response.headers


def test_a_session_id_continues_the_conversation(serve: Any) -> None:
    client = serve().client
    first = client.post("/invocations", json={"message": "one", "session_id": "s1"})
    second = client.post("/invocations", json={"message": "two", "session_id": "s1"})
    assert first.json() == {"response": "echo 1: one", "session_id": "s1"}
    assert second.json() == {"response": "echo 2: two", "session_id": "s1"}
    assert second.headers["x-agent-session-id"] == "s1"


def test_the_agent_session_id_query_continues_a_session_named_in_the_body(serve: Any) -> None:
    client = serve().client
    client.post("/invocations", json={"message": "one", "session_id": "q1"})
    response = client.post("/invocations?agent_session_id=q1", json={"message": "two"})
    assert response.json() == {"response": "echo 2: two", "session_id": "q1"}
    assert response.headers["x-agent-session-id"] == "q1"


def test_different_session_ids_are_separate_conversations(serve: Any) -> None:
    client = serve().client
    client.post("/invocations", json={"message": "for a", "session_id": "a"})
    assert (
        client.post("/invocations", json={"message": "for b", "session_id": "b"}).json()["response"] == "echo 1: for b"
    )
    assert (
        client.post("/invocations", json={"message": "a again", "session_id": "a"}).json()["response"]
        == "echo 2: a again"
    )


def test_without_a_session_id_no_turn_sees_another(serve: Any) -> None:
    client = serve().client
    answers = [client.post("/invocations", json={"message": f"turn {n}"}).json()["response"] for n in range(3)]
    assert answers == ["echo 1: turn 0", "echo 1: turn 1", "echo 1: turn 2"]


def test_a_streamed_turn_sends_deltas_then_the_full_answer_then_done(serve: Any, sse: Any) -> None:
    response = serve().client.post(
        "/invocations", json={"message": "stream me please", "stream": True, "session_id": "st"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-agent-session-id"] == "st"
    frames = sse(response.text)
    assert [f.event for f in frames] == ["message"] * len(frames)
    assert frames[-1].data == "[DONE]"
    deltas = [f.json()["delta"] for f in frames[:-2]]
    assert len(deltas) == len("echo 1: stream me please".split(" "))
    assert "".join(deltas) == "echo 1: stream me please"
    assert frames[-2].json() == {"response": "echo 1: stream me please", "session_id": "st"}


def test_streamed_text_with_newlines_and_unicode_reconstructs_exactly(serve: Any, sse: Any) -> None:
    text = "line one\n\nline two\r\n  indented\ttab \u2028 café 🚀\n"

    def reply(messages: Sequence[Message]) -> str:
        return text

    response = serve(model=OfflineChatClient(reply=reply)).client.post(
        "/invocations", json={"message": "x", "stream": True}
    )
    frames = sse(response.text)
    assert "".join(f.json()["delta"] for f in frames[:-2]) == text
    assert frames[-2].json()["response"] == text


def test_streamed_and_plain_turns_share_one_session(serve: Any, sse: Any) -> None:
    client = serve().client
    client.post("/invocations", json={"message": "first", "session_id": "mix", "stream": True})
    assert (
        client.post("/invocations", json={"message": "second", "session_id": "mix"}).json()["response"]
        == "echo 2: second"
    )
    streamed = sse(client.post("/invocations", json={"message": "third", "session_id": "mix", "stream": True}).text)
    assert streamed[-2].json()["response"] == "echo 3: third"


def test_the_invocation_id_is_echoed_or_generated(serve: Any) -> None:
    client = serve().client
    echoed = client.post("/invocations", json={"message": "hi"}, headers={"x-agent-invocation-id": "inv-7"})
    assert echoed.headers["x-agent-invocation-id"] == "inv-7"
    generated = {client.post("/invocations", json={"message": "hi"}).headers["x-agent-invocation-id"] for _ in range(3)}
    assert len(generated) == 3
    streamed = client.post(
        "/invocations", json={"message": "hi", "stream": True}, headers={"x-agent-invocation-id": "inv-8"}
    )
    assert streamed.headers["x-agent-invocation-id"] == "inv-8"


def test_the_trailing_slash_and_a_custom_path_both_work(serve: Any) -> None:
    client = serve(path="/agents/run/").client
    assert client.post("/agents/run", json={"message": "a"}).json()["response"] == "echo 1: a"
    assert client.post("/agents/run/", json={"message": "b"}).json()["response"] == "echo 1: b"
    assert client.post("/invocations", json={"message": "c"}).status_code == 404


def test_other_methods_on_the_endpoint_are_405(serve: Any) -> None:
    client = serve().client
    assert client.get("/invocations").status_code == 405
    assert client.put("/invocations", json={"message": "x"}).status_code == 405


def test_liveness_and_readiness_answer_at_the_host_root(serve: Any) -> None:
    hosted = serve()
    assert hosted.host.channels[0].path == "/invocations"
    for probe in ("/liveness", "/readiness"):
        response = hosted.client.get(probe)
        assert (response.status_code, response.text) == (200, "ok")


def test_without_its_own_liveness_route_the_hosts_answers(serve: Any) -> None:
    client = serve(liveness=False).client
    assert client.get("/liveness").status_code == 200
    assert client.get("/readiness").status_code == 200


def test_a_root_path_is_refused() -> None:
    with pytest.raises(ValueError, match="path"):
        InvocationsChannel(path="/")
    with pytest.raises(ValueError, match="max_body_bytes"):
        InvocationsChannel(max_body_bytes=0)


def test_the_run_hook_sees_the_body_and_reshapes_the_request(serve: Any) -> None:
    seen: list[Any] = []

    async def run_hook(request: ChannelRequest, *, target: Any, protocol_request: Any) -> ChannelRequest:
        seen.append((request, protocol_request))
        return dataclasses.replace(request, input=f"{request.input} (tagged {protocol_request['tag']})")

    client = serve(run_hook=run_hook).client
    response = client.post("/invocations", json={"message": "hi", "tag": "x1", "session_id": "h"})
    assert response.json()["response"] == "echo 1: hi (tagged x1)"
    request, body = seen[0]
    assert body == {"message": "hi", "tag": "x1", "session_id": "h"}
    assert request.operation == "invoke" and request.isolation_key == "invocations:h"


def _redact(result: HostedRunResult[Any], *, request: ChannelRequest, channel_name: str) -> HostedRunResult[Any]:
    text = result.text.replace("secret", "[redacted]")
    return result.replace(
        result=AgentResponse(messages=[Message(role="assistant", contents=[f"{channel_name}: {text}"])])
    )


def test_the_response_hook_shapes_plain_answers(serve: Any) -> None:
    client = serve(response_hook=_redact).client
    assert (
        client.post("/invocations", json={"message": "a secret"}).json()["response"]
        == "invocations: echo 1: a [redacted]"
    )


def test_the_response_hook_shapes_the_final_streamed_answer(serve: Any, sse: Any) -> None:
    client = serve(response_hook=_redact).client
    frames = sse(client.post("/invocations", json={"message": "a secret", "stream": True}).text)
    assert frames[-2].json()["response"] == "invocations: echo 1: a [redacted]"
    assert frames[-1].data == "[DONE]"


def test_the_stream_update_hook_rewrites_and_drops_deltas(serve: Any, sse: Any) -> None:
    def update_hook(update: AgentResponseUpdate) -> AgentResponseUpdate | None:
        if update.text.startswith("drop"):
            return None
        if update.text:
            return AgentResponseUpdate(role="assistant", contents=[Content.from_text(update.text.upper())])
        return update

    client = serve(stream_update_hook=update_hook).client
    frames = sse(client.post("/invocations", json={"message": "keep drop keep", "stream": True}).text)
    assert [f.json()["delta"] for f in frames[:-2]] == ["ECHO ", "1: ", "KEEP ", "KEEP"]
