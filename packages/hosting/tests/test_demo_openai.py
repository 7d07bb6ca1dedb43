"""The demo agent on a real model: any OpenAI-compatible Chat Completions server (here a fake one on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agent_framework_hosting import AgentFrameworkHost, ChannelRequest, ChannelSession
from agent_framework_hosting._demo import DEFAULT_OPENAI_MODEL, PLACEHOLDER_API_KEY, OpenAISettings, demo_agent
from agent_framework_hosting.testing import JsonChannel, running_server

from .fake_openai import FakeOpenAI


def ask(text: str, key: str = "user-1") -> ChannelRequest:
    return ChannelRequest(channel="test", operation="message", input=text, session=ChannelSession(key))


@pytest.fixture
def fake() -> Iterator[tuple[FakeOpenAI, str]]:
    server = FakeOpenAI(chunk_delay=0.01)
    with running_server(server.app) as url:
        yield server, url + "/v1"


def test_no_openai_settings_means_the_offline_model() -> None:
    assert OpenAISettings.from_env({}) is None
    assert OpenAISettings.from_env({"OPENAI_MODEL": "gpt-x", "OPENAI_API_KEY": "  "}) is None
    assert "offline demo model" in demo_agent({}).model


def test_an_api_key_alone_means_openai_with_the_default_model() -> None:
    settings = OpenAISettings.from_env({"OPENAI_API_KEY": "sk-test"})
    assert settings == OpenAISettings(model=DEFAULT_OPENAI_MODEL, api_key="sk-test", base_url=None)


def test_a_keyless_local_server_gets_a_placeholder_key() -> None:
    settings = OpenAISettings.from_env({"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "OPENAI_MODEL": "llama3.2"})
    assert settings == OpenAISettings(
        model="llama3.2", api_key=PLACEHOLDER_API_KEY, base_url="http://127.0.0.1:11434/v1"
    )
    assert settings.describe() == "llama3.2 at http://127.0.0.1:11434/v1"


async def test_the_demo_talks_to_the_configured_server_with_history(fake: tuple[FakeOpenAI, str]) -> None:
    server, base_url = fake
    demo = demo_agent({"OPENAI_BASE_URL": base_url, "OPENAI_MODEL": "tiny-model"})
    host = AgentFrameworkHost(demo.agent, channels=[JsonChannel()])
    first = await host.context.run(ask("my name is Ada"))
    second = await host.context.run(ask("what is my name?"))
    assert first.text == "fake tiny-model: 1 user message(s), last: my name is Ada"
    assert second.text == "fake tiny-model: 2 user message(s), last: what is my name?"
    request = server.requests[-1]
    assert request["headers"]["authorization"] == f"Bearer {PLACEHOLDER_API_KEY}"
    assert request["body"]["model"] == "tiny-model"
    assert "demo agent of agent-framework-hosting" in request["body"]["messages"][0]["content"]
    assert {tool["function"]["name"] for tool in request["body"]["tools"]} == {"current_time", "calculate"}
    assert demo.model == f"tiny-model at {base_url} (Chat Completions)"


async def test_a_real_api_key_is_sent_as_given(fake: tuple[FakeOpenAI, str]) -> None:
    server, base_url = fake
    demo = demo_agent({"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "sk-local-secret"})
    await demo.agent.run("hi")
    assert server.requests[-1]["headers"]["authorization"] == "Bearer sk-local-secret"
    assert server.requests[-1]["body"]["model"] == DEFAULT_OPENAI_MODEL


async def test_streamed_answers_arrive_in_pieces(fake: tuple[FakeOpenAI, str]) -> None:
    server, base_url = fake
    host = AgentFrameworkHost(demo_agent({"OPENAI_BASE_URL": base_url}).agent, channels=[JsonChannel()])
    stream = await host.context.run_stream(ask("hello there"))
    pieces = [update.text async for update in stream if update.text]
    assert server.requests[-1]["body"]["stream"] is True
    assert len(pieces) > 3
    assert "".join(pieces) == f"fake {DEFAULT_OPENAI_MODEL}: 1 user message(s), last: hello there"


@pytest.mark.parametrize("streamed", [False, True])
async def test_the_real_model_calls_the_demo_tools(fake: tuple[FakeOpenAI, str], streamed: bool) -> None:
    server, base_url = fake
    host = AgentFrameworkHost(demo_agent({"OPENAI_BASE_URL": base_url}).agent, channels=[JsonChannel()])
    request = ask("use calculate: (12 + 3) * 7")
    if streamed:
        stream = await host.context.run_stream(request)
        text = "".join([update.text async for update in stream])
    else:
        text = (await host.context.run(request)).text
    assert text == "the calculate tool says 105"
    tool_message = server.requests[-1]["body"]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_1"
