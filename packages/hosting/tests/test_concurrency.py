"""Concurrency policies: real concurrent requests for one conversation against a real server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import httpx
import pytest
from agent_framework import Agent, tool
from agent_framework_hosting import AgentFrameworkHost, Concurrency
from agent_framework_hosting._demo_model import DemoChatClient
from agent_framework_hosting.testing import JsonChannel, OfflineChatClient, eventually, running_server

LONG = "one two three four five six seven eight nine ten eleven twelve"


@contextmanager
def serve(policy: Any, **client_options: Any) -> Iterator[tuple[str, AgentFrameworkHost]]:
    agent = Agent(client=OfflineChatClient(**client_options), name="echo")
    host = AgentFrameworkHost(agent, channels=[JsonChannel()], concurrency=policy)
    with running_server(host.app) as url:
        yield url, host


@pytest.fixture
def slow_stream(request: pytest.FixtureRequest) -> Iterator[tuple[str, AgentFrameworkHost]]:
    with serve(request.param, chunk_delay=0.15) as served:
        yield served


async def history(host: AgentFrameworkHost, key: str) -> list[tuple[str, str, bool]]:
    """(role, text, interrupted) of every message in the key's stored conversation."""
    session = await host.sessions.stored(await host.sessions.session_id(key))
    assert session is not None
    return [
        (m.role, m.text, bool((m.additional_properties.get("hosting") or {}).get("interrupted")))
        for m in session.state["in_memory"]["messages"]
    ]


async def say(client: httpx.AsyncClient, url: str, text: str, key: str) -> httpx.Response:
    return await client.post(f"{url}/json", json={"text": text, "key": key})


async def first_chunk(chunks: AsyncIterator[str]) -> str:
    async for chunk in chunks:
        if chunk:
            return chunk
    raise AssertionError("the stream ended before its first chunk")


async def rest(chunks: AsyncIterator[str]) -> str:
    return "".join([chunk async for chunk in chunks])


@pytest.mark.parametrize("slow_stream", ["queue"], indirect=True)
async def test_queue_runs_a_message_that_arrives_mid_turn_next_in_order(slow_stream: Any) -> None:
    url, _ = slow_stream
    async with httpx.AsyncClient(timeout=30) as client:
        body = {"text": LONG, "key": "k", "stream": True}
        async with client.stream("POST", f"{url}/json", json=body) as stream:
            chunks = stream.aiter_text()
            head = await first_chunk(chunks)
            second = asyncio.ensure_future(say(client, url, "next", "k"))
            tail = await rest(chunks)
        assert (head + tail).startswith("echo 1: " + LONG)
        reply = await second
    assert reply.status_code == 200 and reply.json()["text"] == "echo 2: next"


@pytest.mark.parametrize("slow_stream", ["reject"], indirect=True)
async def test_reject_refuses_a_message_while_the_turn_runs_and_changes_nothing(slow_stream: Any) -> None:
    url, host = slow_stream
    async with httpx.AsyncClient(timeout=30) as client:
        async with client.stream("POST", f"{url}/json", json={"text": LONG, "key": "k", "stream": True}) as stream:
            chunks = stream.aiter_text()
            head = await first_chunk(chunks)
            refused = await say(client, url, "too soon", "k")
            other = await say(client, url, "elsewhere", "other")
            tail = await rest(chunks)
        assert refused.status_code == 409 and "still working on your last message" in refused.text
        assert other.status_code == 200, "other conversations are not affected"
        assert head + tail == "echo 1: " + LONG
        after = await say(client, url, "now", "k")
    assert after.json()["text"] == "echo 2: now"
    assert [text for _, text, _ in (await history(host, "k"))] == [LONG, "echo 1: " + LONG, "now", "echo 2: now"]


@pytest.mark.parametrize("slow_stream", ["interrupt"], indirect=True)
async def test_interrupt_cuts_a_streamed_turn_keeps_its_partial_answer_and_runs_the_new_message(
    slow_stream: Any,
) -> None:
    url, host = slow_stream
    async with httpx.AsyncClient(timeout=30) as client:
        async with client.stream("POST", f"{url}/json", json={"text": LONG, "key": "k", "stream": True}) as stream:
            chunks = stream.aiter_text()
            head = await first_chunk(chunks)
            started = time.monotonic()
            newer = await say(client, url, "actually, stop", "k")
            waited = time.monotonic() - started
            tail = await rest(chunks)
    assert newer.status_code == 200 and newer.json()["text"] == "echo 2: actually, stop"
    assert waited < 2.0, "the running turn was cancelled, not waited for"
    cut = head + tail
    assert ("echo 1: " + LONG).startswith(cut) and len(cut) < len("echo 1: " + LONG)
    rows = await history(host, "k")
    assert rows[0] == ("user", LONG, False)
    assert rows[1][0] == "assistant" and rows[1][2] and ("echo 1: " + LONG).startswith(rows[1][1])
    assert rows[2:] == [("user", "actually, stop", False), ("assistant", "echo 2: actually, stop", False)]


async def test_interrupt_cancels_a_non_streamed_turn_and_keeps_its_message_marked_interrupted() -> None:
    with serve("interrupt", response_delay=5.0) as (url, host):
        agent_client = host.target.client
        async with httpx.AsyncClient(timeout=30) as client:
            first = asyncio.ensure_future(say(client, url, "slow question", "k"))
            await eventually(lambda: agent_client.calls, message="the first turn reached the model")
            agent_client.response_delay = 0.0
            started = time.monotonic()
            newer = await say(client, url, "never mind", "k")
            assert time.monotonic() - started < 2.0
            interrupted = await first
        assert interrupted.status_code == 409 and "interrupted" in interrupted.text
        assert newer.json()["text"] == "echo 2: never mind"
        rows = await history(host, "k")
        assert rows[0] == ("user", "slow question", False)
        assert rows[1][0] == "assistant" and rows[1][2]
        assert rows[2][1] == "never mind"


async def test_interrupt_lets_a_tool_call_in_flight_finish_first() -> None:
    finished: list[str] = []

    @tool
    async def calculate(expression: Annotated[str, "arithmetic"]) -> str:
        """Calculate slowly."""
        await asyncio.sleep(0.8)
        finished.append(expression)
        return "5"

    agent = Agent(client=DemoChatClient(word_delay=0.0), name="demo", tools=[calculate])
    host = AgentFrameworkHost(agent, channels=[JsonChannel()], concurrency="interrupt")
    with running_server(host.app) as url:
        async with httpx.AsyncClient(timeout=30) as client:
            first = asyncio.ensure_future(say(client, url, "what is 2 + 3?", "k"))
            await asyncio.sleep(0.3)
            newer = await say(client, url, "hello", "k")
            interrupted = await first
    assert finished == ["2 + 3"], "the tool call in flight ran to completion"
    assert interrupted.status_code == 409 and newer.status_code == 200


async def test_a_channel_override_takes_precedence_over_the_host_policy() -> None:
    policy = Concurrency("queue", channels={"json": "reject"})
    with serve(policy, response_delay=0.5) as (url, _):
        async with httpx.AsyncClient(timeout=30) as client:
            replies = await asyncio.gather(say(client, url, "a", "k"), say(client, url, "b", "k"))
    assert sorted(reply.status_code for reply in replies) == [200, 409]


def test_an_unknown_policy_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="queue"):
        AgentFrameworkHost(Agent(client=OfflineChatClient()), channels=[], concurrency="drop")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="channel 'x'"):
        Concurrency(channels={"x": "later"})  # type: ignore[dict-item]


async def test_collect_merges_a_burst_of_messages_into_one_turn_that_answers_them_all() -> None:
    # The window is wide and the messages start 0.3 s apart, so a loaded machine neither splits nor reorders the burst.
    with serve(Concurrency("collect", collect_window=3.0)) as (url, host):
        async with httpx.AsyncClient(timeout=30) as client:
            first = asyncio.ensure_future(say(client, url, "hi", "k"))
            rest_ = []
            for text in ("I need", "a taxi"):
                await asyncio.sleep(0.3)
                rest_.append(asyncio.ensure_future(say(client, url, text, "k")))
            replies = [await first, *[await reply for reply in rest_]]
            later = await say(client, url, "thanks", "k")
        calls = host.target.client.calls
    assert [reply.json()["text"] for reply in replies] == ["echo 3: a taxi"] * 3
    assert len(calls) == 2, "one model call for the burst, one for the later message"
    assert [m.text for m in calls[0] if m.role == "user"] == ["hi", "I need", "a taxi"]
    assert later.json()["text"] == "echo 4: thanks"


async def test_collect_gathers_messages_that_arrive_while_a_turn_runs_into_the_next_turn() -> None:
    with serve(Concurrency("collect", collect_window=0.1), chunk_delay=0.15) as (url, host):
        async with httpx.AsyncClient(timeout=30) as client:
            body = {"text": LONG, "key": "k", "stream": True}
            async with client.stream("POST", f"{url}/json", json=body) as stream:
                chunks = stream.aiter_text()
                head = await first_chunk(chunks)
                during = [asyncio.ensure_future(say(client, url, text, "k")) for text in ("one", "two")]
                await asyncio.sleep(0.4)
                during.append(asyncio.ensure_future(say(client, url, "three", "k")))
                tail = await rest(chunks)
            replies = [await reply for reply in during]
    assert head + tail == "echo 1: " + LONG
    texts = {reply.json()["text"] for reply in replies}
    assert len(texts) == 1 and texts.pop().startswith("echo 4: "), "one merged turn answered all three"
    assert len(host.target.client.calls) == 2


async def test_collect_a_member_takes_over_a_burst_whose_leader_gave_up_in_its_window() -> None:
    from agent_framework_hosting import ChannelRequest, ChannelSession

    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[JsonChannel()],
                              concurrency=Concurrency("collect", collect_window=1.0))  # fmt: skip
    host.collector.lease = 0.3

    def message(text: str) -> ChannelRequest:
        return ChannelRequest("json", "message", text, session=ChannelSession("k"))

    leader = asyncio.ensure_future(host.context.run(message("hi")))
    await asyncio.sleep(0.2)
    member = asyncio.ensure_future(host.context.run(message("one more thing")))
    await asyncio.sleep(0.2)
    leader.cancel()  # e.g. its client went away while the window was open
    result = await asyncio.wait_for(member, timeout=10)
    assert result.text == "echo 2: one more thing" and result.merged_into is None, "the member ran the burst itself"
    assert [m.text for m in host.target.client.calls[0] if m.role == "user"] == ["hi", "one more thing"]
    assert leader.cancelled()
