"""The offline demo model: honest, streams word by word, remembers the session, answers through real tools."""

from __future__ import annotations

import time

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost, ChannelRequest, ChannelSession
from agent_framework_hosting._demo import demo_agent
from agent_framework_hosting._demo_model import (
    DemoChatClient,
    asks_name,
    asks_time,
    find_arithmetic,
    find_name,
    second_person,
)
from agent_framework_hosting._demo_tools import calculate, evaluate_arithmetic
from agent_framework_hosting.testing import JsonChannel


def ask(text: str, key: str | None = "user-1") -> ChannelRequest:
    return ChannelRequest(channel="test", operation="message", input=text, session=ChannelSession(key) if key else None)


@pytest.fixture
def host() -> AgentFrameworkHost:
    return AgentFrameworkHost(demo_agent({}, word_delay=0).agent, channels=[JsonChannel()])


def contents_of(response: object, kind: str) -> list:
    return [c for m in response.messages for c in m.contents if c.type == kind]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("my name is Ada", "Ada"),
        ("Hi! My name is ada.", "Ada"),
        ("I'm Grace", "Grace"),
        ("call me Linus please", "Linus"),
        ("I'm hungry", None),
        ("I am fine", None),
        ("what is my name?", None),
    ],
)
def test_finds_the_name_a_user_gives(text: str, name: str | None) -> None:
    assert find_name(text) == name


@pytest.mark.parametrize(
    ("text", "expression"),
    [
        ("what is 12 * 7?", "12 * 7"),
        ("What's 12 x 7", "12 * 7"),
        ("calculate (3 + 4) * 2", "(3 + 4) * 2"),
        ("what is 2^10", "2**10"),
        ("how much is 10 divided by 4", "10 / 4"),
        ("17 - 5", "17 - 5"),
        ("I have 3 apples and 4 pears", None),
        ("room 12 is next to room 14-a and the long corridor", None),
    ],
)
def test_finds_arithmetic_in_a_question(text: str, expression: str | None) -> None:
    assert find_arithmetic(text) == expression


def test_recognises_questions_about_name_and_time() -> None:
    assert asks_name("What's my name?") and asks_name("who am I") and not asks_name("my name is Ada")
    assert asks_time("what time is it?") and asks_time("What's the date today") and not asks_time("I had a good time")


def test_remembered_facts_are_turned_to_the_second_person() -> None:
    assert second_person("I like my tea strong") == "you like your tea strong"


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("12 * 7", 84),
        ("(3 + 4) * 2", 14),
        ("10 / 4", 2.5),
        ("2 ** 10", 1024),
        ("-3 + 4", 1),
        ("7 // 2", 3),
        ("8 / 2", 4),
    ],
)
def test_arithmetic_is_evaluated(expression: str, value: float) -> None:
    assert evaluate_arithmetic(expression) == value


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('true')", "x + 1", "len('abc')", "9 ** 9 ** 9", "1 if 1 else 2", "'a' * 3", "1" * 201],
)
def test_anything_but_plain_arithmetic_is_refused(expression: str) -> None:
    with pytest.raises(ValueError):
        evaluate_arithmetic(expression)


async def test_the_calculate_tool_reports_errors_as_text() -> None:
    outcome = await calculate.invoke(arguments={"expression": "1 / 0"})  # type: ignore[union-attr]
    assert [content.text for content in outcome] == ["error: division by zero"]


async def test_a_greeting_says_the_model_is_offline(host: AgentFrameworkHost) -> None:
    result = await host.context.run(ask("hello"))
    assert "offline demo model" in result.text
    assert "OPENAI_API_KEY" in result.text


async def test_the_name_is_remembered_within_the_session_only(host: AgentFrameworkHost) -> None:
    await host.context.run(ask("Hi, my name is Ada", key="ada"))
    await host.context.run(ask("remember that I like tea", key="ada"))
    same = await host.context.run(ask("what is my name?", key="ada"))
    other = await host.context.run(ask("what is my name?", key="someone-else"))
    memory = await host.context.run(ask("what do you remember?", key="ada"))
    assert "Your name is Ada" in same.text
    assert "haven't told me your name" in other.text
    assert "your name is Ada" in memory.text and "you like tea" in memory.text


async def test_a_reset_session_forgets_the_name(host: AgentFrameworkHost) -> None:
    await host.context.run(ask("my name is Ada", key="ada"))
    await host.reset_session_async("ada")
    result = await host.context.run(ask("what is my name?", key="ada"))
    assert "haven't told me your name" in result.text


async def test_arithmetic_is_answered_by_running_the_calculate_tool(host: AgentFrameworkHost) -> None:
    result = await host.context.run(ask("what is 12 * 7?"))
    calls = contents_of(result.result, "function_call")
    results = contents_of(result.result, "function_result")
    assert [c.name for c in calls] == ["calculate"]
    assert [r.result for r in results] == ["84"]
    assert result.text == "12 * 7 = 84 (worked out by the calculate tool)."


async def test_the_time_is_answered_by_running_the_current_time_tool(host: AgentFrameworkHost) -> None:
    result = await host.context.run(ask("What time is it?"))
    [call] = contents_of(result.result, "function_call")
    [outcome] = contents_of(result.result, "function_result")
    assert call.name == "current_time"
    assert outcome.call_id == call.call_id
    assert outcome.result in result.text
    assert time.strftime("%Y") in outcome.result


async def test_without_tools_the_model_says_it_cannot_use_them() -> None:
    agent = Agent(client=DemoChatClient(word_delay=0), name="bare")
    result = await agent.run("what is 2 + 2?")
    assert "has no such tool" in result.text


async def test_answers_stream_word_by_word_with_a_delay() -> None:
    agent = demo_agent({}, word_delay=0.02).agent
    host = AgentFrameworkHost(agent, channels=[JsonChannel()])
    stream = await host.context.run_stream(ask("tell me a story"))
    arrivals: list[tuple[float, str]] = []
    async for update in stream:
        if update.text:
            arrivals.append((time.monotonic(), update.text))
    final = await stream.get_final_response()
    chunks = [text for _, text in arrivals]
    assert "".join(chunks) == final.text
    assert len(chunks) > 10
    assert all(len(chunk.split()) == 1 for chunk in chunks)
    assert arrivals[-1][0] - arrivals[0][0] >= 0.02 * (len(chunks) - 1) * 0.8


async def test_a_streamed_tool_answer_carries_the_result(host: AgentFrameworkHost) -> None:
    stream = await host.context.run_stream(ask("calculate (3 + 4) * 2"))
    text = "".join([update.text async for update in stream])
    assert text == "(3 + 4) * 2 = 14 (worked out by the calculate tool)."


async def test_a_huge_message_is_answered_quickly(host: AgentFrameworkHost) -> None:
    started = time.monotonic()
    result = await host.context.run(ask("1" + " " * 200_000 + "a, remember that " + "x " * 100_000))
    assert time.monotonic() - started < 2
    assert result.text.startswith('You said "1')
