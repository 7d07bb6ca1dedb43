"""A fresh session (a key made for its request) runs at once: no turn lock, no running turn, nothing loaded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agent_framework import Agent
from agent_framework_hosting import (
    AgentFrameworkHost,
    ChannelContribution,
    ChannelRequest,
    ChannelSession,
    SessionBusyError,
    TurnInterruptedError,
)
from agent_framework_hosting.testing import GatedChatClient, eventually


class Capture:
    """A channel with no routes that keeps its context, so a test can run turns through it."""

    name = "capture"
    path = "/capture"

    def contribute(self, context: Any) -> ChannelContribution:
        self.context = context
        return ChannelContribution(routes=[])


def host_with(client: Any) -> tuple[AgentFrameworkHost, Any]:
    channel = Capture()
    host = AgentFrameworkHost(Agent(client=client, name="echo"), channels=[channel], turn_wait=0.2)
    host.app  # noqa: B018 - building the app hands the channel its context
    return host, channel.context


def request(key: str, text: str, *, fresh: bool) -> ChannelRequest:
    return ChannelRequest(channel="capture", operation="message", input=text, session=ChannelSession(key, fresh=fresh))


async def test_a_fresh_turn_neither_waits_for_the_lock_nor_registers_as_running_and_is_saved() -> None:
    client = GatedChatClient()
    host, context = host_with(client)
    async with host.state.lock("turn:response:new", wait=1):  # whoever else held it, a fresh turn does not wait
        running = asyncio.ensure_future(context.run(request("response:new", "hello there", fresh=True)))
        await eventually(lambda: client.held == ["hello there"], message="the fresh turn reached the model")
        assert "response:new" not in host.turns and not await context.stop("response:new")
        client.release()
        assert (await asyncio.wait_for(running, 5)).text == "echo 1: hello there"
    session = await host.sessions.stored("response:new")
    assert session is not None
    assert [m.text for m in session.state["in_memory"]["messages"]] == ["hello there", "echo 1: hello there"]


async def test_a_turn_that_is_not_fresh_waits_for_the_lock_and_is_stoppable() -> None:
    client = GatedChatClient()
    host, context = host_with(client)
    async with host.state.lock("turn:chat:1", wait=1):
        with pytest.raises(SessionBusyError):
            await context.run(request("chat:1", "hello there", fresh=False))
    running = asyncio.ensure_future(context.run(request("chat:1", "hello there", fresh=False)))
    await eventually(lambda: client.held == ["hello there"], message="the turn reached the model")
    assert "chat:1" in host.turns and await context.stop("chat:1")
    client.release()
    with pytest.raises(TurnInterruptedError):
        await asyncio.wait_for(running, 5)


def test_fresh_is_part_of_a_sessions_identity() -> None:
    assert ChannelSession("k", fresh=True) != ChannelSession("k") and ChannelSession("k") == ChannelSession("k")
    assert not ChannelSession("k").fresh
