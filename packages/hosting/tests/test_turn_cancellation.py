"""A keyed turn runs in its caller's task: an interrupt ends only that turn, other cancellations still propagate."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

import pytest
from agent_framework import Agent, tool
from agent_framework_hosting import (
    AgentFrameworkHost,
    ChannelContext,
    ChannelRequest,
    ChannelSession,
    HostedRunResult,
    TurnInterruptedError,
)
from agent_framework_hosting._demo_model import DemoChatClient
from agent_framework_hosting.testing import JsonChannel, OfflineChatClient, eventually


def message(text: str, key: str = "k") -> ChannelRequest:
    return ChannelRequest("json", "message", text, session=ChannelSession(key))


async def slow_turn() -> tuple[OfflineChatClient, ChannelContext, asyncio.Future[HostedRunResult[Any]]]:
    """A turn of conversation "k" that has reached a model taking 5 s to answer."""
    client = OfflineChatClient(response_delay=5.0)
    host = AgentFrameworkHost(Agent(client=client, name="echo"), channels=[JsonChannel()])
    context = host.context.bind("json")
    turn = asyncio.ensure_future(context.run(message("slow question")))
    await eventually(lambda: client.calls, message="the turn reached the model")
    return client, context, turn


def pending_cancellations() -> int:
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling() if callable(cancelling) else 0


async def test_a_stop_ends_the_turn_and_leaves_the_caller_free_to_go_on() -> None:
    client, context, turn = await slow_turn()
    assert await context.stop("k")
    with pytest.raises(TurnInterruptedError):
        await turn
    assert pending_cancellations() == 0
    client.response_delay = 0.0
    assert (await context.run(message("go on"))).text == "echo 2: go on"


async def test_a_tool_that_stops_its_own_conversation_ends_the_turn_interrupted_after_the_tool() -> None:
    finished: list[str] = []
    holder: dict[str, AgentFrameworkHost] = {}

    @tool
    async def calculate(expression: Annotated[str, "arithmetic"]) -> str:
        """Calculate, and ask to stop this very conversation."""
        assert await holder["host"].context.stop("k")
        finished.append(expression)
        return "5"

    agent = Agent(client=DemoChatClient(word_delay=0.0), name="demo", tools=[calculate])
    host = holder["host"] = AgentFrameworkHost(agent, channels=[JsonChannel()], concurrency="interrupt")
    context = host.context.bind("json")
    with pytest.raises(TurnInterruptedError):
        await context.run(message("what is 2 + 3?"))
    assert finished == ["2 + 3"], "the tool call ran to completion before the turn stopped"
    assert pending_cancellations() == 0
    await asyncio.sleep(0.01)  # no cancellation is left pending for the caller
    answer = await context.run(message("hello"))
    assert answer.text


async def test_cancelling_the_caller_cancels_the_turn_rather_than_interrupting_it() -> None:
    client, context, turn = await slow_turn()
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    assert turn.cancelled()
    client.response_delay = 0.0
    assert (await context.run(message("again"))).text, "the conversation's turn was released"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="a stop and a cancellation at once are told apart by 3.11+")
async def test_a_stop_and_a_cancellation_together_still_cancel_the_caller() -> None:
    client, context, turn = await slow_turn()
    assert await context.stop("k")
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
