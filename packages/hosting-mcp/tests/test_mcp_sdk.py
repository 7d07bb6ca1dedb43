"""The mcp SDK's client as the peer, against a real server: tools, calls, progress, sessions, conversations, auth."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

LONG = " ".join(f"w{n}" for n in range(30))
LEGACY = "legacy"  # the 2025-11-25 handshake: stateful, with an Mcp-Session-Id
MODERN = "auto"  # negotiates 2026-07-28: stateless requests


def text_of(result: Any) -> str:
    assert not result.is_error, result
    return "".join(part.text for part in result.content)


async def test_the_agent_is_one_tool_with_a_message_and_an_optional_conversation(serve: Any) -> None:
    served = serve()
    async with Client(served.url) as client:
        [tool] = (await client.list_tools()).tools
    assert tool.name == "ask"
    assert "echo" in tool.description and "Echoes what you say." in tool.description
    assert tool.input_schema["required"] == ["message"]
    assert set(tool.input_schema["properties"]) == {"message", "conversation"}


async def test_tool_name_and_description_are_configurable(serve: Any) -> None:
    served = serve(tool_name="ask_echo", tool_description="Talk to the echo bot.")
    async with Client(served.url) as client:
        [tool] = (await client.list_tools()).tools
        assert (tool.name, tool.description) == ("ask_echo", "Talk to the echo bot.")
        assert text_of(await client.call_tool("ask_echo", {"message": "hi"})) == "echo 1: hi"


@pytest.mark.parametrize("mode", [LEGACY, MODERN])
async def test_a_call_answers_with_the_agents_reply(serve: Any, mode: str) -> None:
    served = serve()
    async with Client(served.url, mode=mode) as client:
        assert text_of(await client.call_tool("ask", {"message": "hello"})) == "echo 1: hello"


async def test_progress_notifications_stream_the_answer_as_it_is_made(serve: Any) -> None:
    served = serve(chunk_delay=0.03)
    progress: list[tuple[float, str | None]] = []
    active_during_progress: list[int] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))
        active_during_progress.append(served.model.active)

    async with Client(served.url) as client:
        answer = text_of(await client.call_tool("ask", {"message": LONG}, progress_callback=on_progress))
    assert answer == f"echo 1: {LONG}"
    assert len(progress) > 10
    assert "".join(message or "" for _, message in progress) == answer
    assert [value for value, _ in progress] == sorted(value for value, _ in progress)
    assert progress[-1][0] == len(answer)
    assert active_during_progress[0] == 1, "the first chunk reached the client while the model was still answering"


async def test_an_mcp_session_is_one_conversation_and_sessions_are_apart(serve: Any) -> None:
    served = serve()
    async with Client(served.url, mode=LEGACY) as first, Client(served.url, mode=LEGACY) as second:
        assert text_of(await first.call_tool("ask", {"message": "a"})) == "echo 1: a"
        assert text_of(await first.call_tool("ask", {"message": "b"})) == "echo 2: b"
        assert text_of(await second.call_tool("ask", {"message": "c"})) == "echo 1: c"


async def ignore_progress(value: float, total: float | None, message: str | None) -> None:
    pass


async def test_a_call_without_a_progress_token_is_answered_without_streaming(serve: Any) -> None:
    served = serve()
    async with Client(served.url) as client:
        assert text_of(await client.call_tool("ask", {"message": "plain"})) == "echo 1: plain"
        assert served.model.most_active == 0, "no streamed model call"
        streamed = await client.call_tool("ask", {"message": "streamed"}, progress_callback=ignore_progress)
        assert text_of(streamed) == "echo 1: streamed"
        assert served.model.most_active == 1


async def test_two_sessions_run_in_parallel(serve: Any) -> None:
    served = serve(chunk_delay=0.03)
    async with Client(served.url, mode=LEGACY) as first, Client(served.url, mode=LEGACY) as second:
        answers = await asyncio.gather(
            first.call_tool("ask", {"message": LONG}, progress_callback=ignore_progress),
            second.call_tool("ask", {"message": LONG}, progress_callback=ignore_progress),
        )
    assert [text_of(answer) for answer in answers] == [f"echo 1: {LONG}"] * 2
    assert served.model.most_active == 2


async def test_one_conversation_runs_one_turn_at_a_time_and_keeps_both(serve: Any) -> None:
    served = serve(chunk_delay=0.03)
    async with Client(served.url) as client:
        answers = await asyncio.gather(
            client.call_tool("ask", {"message": LONG, "conversation": "same"}, progress_callback=ignore_progress),
            client.call_tool("ask", {"message": LONG, "conversation": "same"}, progress_callback=ignore_progress),
        )
    assert sorted(text_of(answer)[:6] for answer in answers) == ["echo 1", "echo 2"]
    assert served.model.most_active == 1


async def test_a_conversation_argument_is_shared_across_clients_and_stateless_calls_are_fresh(serve: Any) -> None:
    served = serve()
    async with Client(served.url, mode=MODERN) as first, Client(served.url, mode=LEGACY) as second:
        assert text_of(await first.call_tool("ask", {"message": "a", "conversation": "team"})) == "echo 1: a"
        assert text_of(await second.call_tool("ask", {"message": "b", "conversation": "team"})) == "echo 2: b"
        assert text_of(await first.call_tool("ask", {"message": "c"})) == "echo 1: c"
        assert text_of(await first.call_tool("ask", {"message": "d"})) == "echo 1: d"


async def test_bad_arguments_and_a_failing_agent_are_tool_errors_without_details(serve: Any) -> None:
    served = serve()
    async with Client(served.url) as client:
        empty = await client.call_tool("ask", {"message": ""})
        assert empty.is_error
        blank = await client.call_tool("ask", {"message": "x", "conversation": "  "})
        assert blank.is_error and "conversation" in blank.content[0].text
        assert served.model.calls == [], "bad arguments never reach the agent"
        failed = await client.call_tool("ask", {"message": "please [fail]"})
        streamed = await client.call_tool("ask", {"message": "please [fail]"}, progress_callback=ignore_progress)
    for result in (failed, streamed):
        assert result.is_error and "server log" in result.content[0].text
        assert "offline model failure" not in result.content[0].text


async def test_a_bearer_key_is_required_when_configured(serve: Any) -> None:
    served = serve(api_key="s3cret")
    http = create_mcp_http_client(headers={"authorization": "Bearer s3cret"})
    async with http, Client(streamable_http_client(served.url, http_client=http)) as client:
        assert text_of(await client.call_tool("ask", {"message": "let me in"})) == "echo 1: let me in"
    await asyncio.to_thread(refused_without_the_key, served.url)
    assert len(served.model.calls) == 1


def refused_without_the_key(url: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for headers in ({}, {"authorization": "Bearer wrong"}):
        refused = httpx.post(url, json=body, headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["error"]["code"] == -32600


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def test_browser_origins_other_than_loopback_are_refused(serve: Any) -> None:
    served = serve()
    body = INITIALIZE
    headers = {"accept": "application/json, text/event-stream"}
    evil = httpx.post(served.url, json=body, headers={**headers, "origin": "http://evil.example"})
    assert evil.status_code == 403
    local = httpx.post(served.url, json=body, headers={**headers, "origin": served.url.rsplit("/", 1)[0]})
    assert local.status_code < 400
    trusted = serve(allowed_origins=["https://app.example.com"])
    ok = httpx.post(trusted.url, json=body, headers={**headers, "origin": "https://app.example.com"})
    assert ok.status_code < 400


@pytest.mark.parametrize("mode", [LEGACY, MODERN])
async def test_a_cancelled_streamed_call_stops_the_agent_and_keeps_the_question_and_the_partial_answer(
    serve: Any, mode: str
) -> None:
    served = serve(chunk_delay=0.05)
    question = " ".join(f"w{n}" for n in range(100))  # about 5 s of answer
    async with Client(served.url, mode=mode) as client:
        with anyio.move_on_after(0.6):
            await client.call_tool(
                "ask", {"message": question, "conversation": "cut"}, progress_callback=ignore_progress
            )
        for _ in range(200):
            if served.model.active == 0:
                break
            await asyncio.sleep(0.05)
        answer = text_of(await client.call_tool("ask", {"message": "still there?", "conversation": "cut"}))
    assert answer == "echo 2: still there?"
    history = served.model.calls[-1]
    partial = [m.text for m in history if m.role == "assistant"]
    assert len(partial) == 1 and partial[0], "the partial answer was kept"
    full = f"echo 1: {question}"
    assert full.startswith(partial[0]) and len(partial[0]) < len(full), "the answer was cut short"


@pytest.mark.parametrize("mode", [LEGACY, MODERN])
async def test_a_cancelled_call_without_progress_stops_its_turn_and_frees_the_conversation(
    serve: Any, mode: str
) -> None:
    served = serve(response_delay=30.0)
    async with Client(served.url, mode=mode) as client:
        with anyio.move_on_after(0.5):
            await client.call_tool("ask", {"message": "never mind", "conversation": "cut"})
        served.model.response_delay = 0.0
        with anyio.fail_after(10):
            answer = text_of(await client.call_tool("ask", {"message": "still there?", "conversation": "cut"}))
    # the model had answered nothing: the cancelled turn leaves no trace (a streamed call keeps its partial answer)
    assert answer == "echo 1: still there?"


async def test_the_channels_run_hook_sees_the_tool_call_and_can_rewrite_the_turn(serve: Any) -> None:
    seen: list[Any] = []

    def hook(request: Any, *, target: Any, protocol_request: Any) -> Any:
        seen.append((request.isolation_key, protocol_request["arguments"]["message"]))
        return dataclasses.replace(request, input="rewritten")

    served = serve(run_hook=hook)
    async with Client(served.url) as client:
        answer = text_of(await client.call_tool("ask", {"message": "original", "conversation": "h"}))
    assert answer == "echo 1: rewritten"
    assert seen == [("mcp:conversation:h", "original")]


def test_serving_mcp_leaves_the_applications_logging_as_it_was() -> None:
    import logging

    from agent_framework import Agent
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting.testing import OfflineChatClient
    from agent_framework_hosting_mcp import MCPChannel

    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    for handler in saved[1]:  # an unconfigured application, as under uvicorn (pytest adds its own handlers)
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        assert AgentFrameworkHost(Agent(client=OfflineChatClient(), name="quiet"), channels=[MCPChannel()]).app
        assert (root.level, root.handlers) == (logging.WARNING, [])
    finally:
        root.setLevel(saved[0])
        for handler in saved[1]:
            root.addHandler(handler)
