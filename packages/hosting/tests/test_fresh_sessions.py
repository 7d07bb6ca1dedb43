"""A fresh session (a key made for its request) runs at once: no turn lock, no running turn, nothing loaded."""

from __future__ import annotations

import asyncio
from pathlib import Path
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
from agent_framework_hosting.testing import GatedChatClient, OfflineChatClient, eventually


class Capture:
    """A channel with no routes that keeps its context, so a test can run turns through it."""

    name = "capture"
    path = "/capture"

    def __init__(self, run_hook: Any = None) -> None:
        self.run_hook = run_hook

    def contribute(self, context: Any) -> ChannelContribution:
        self.context = context
        return ChannelContribution(routes=[])


def host_with(client: Any, run_hook: Any = None, state_dir: Path | None = None) -> tuple[AgentFrameworkHost, Any]:
    channel = Capture(run_hook)
    host = AgentFrameworkHost(Agent(client=client, name="echo"), channels=[channel], turn_wait=0.2, state_dir=state_dir)
    host.app  # noqa: B018 - building the app hands the channel its context
    return host, channel.context


def request(key: str, text: str, *, fresh: bool, recorded: bool = True) -> ChannelRequest:
    session = ChannelSession(key, fresh=fresh, recorded=recorded)
    return ChannelRequest(channel="capture", operation="message", input=text, session=session)


def texts(session: Any) -> list[str]:
    return [m.text for m in session.state["in_memory"]["messages"]]


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


async def test_a_run_hook_may_point_a_fresh_request_at_a_stored_conversation_which_is_then_loaded() -> None:
    def per_user(request: ChannelRequest, *, target: Any, protocol_request: Any) -> ChannelRequest:
        assert request.session is not None
        request.session.isolation_key = "user:1"  # changed in place: the flag it came with no longer holds
        return request

    host, context = host_with(OfflineChatClient(), run_hook=per_user)
    await context.run(request("user:1", "first", fresh=False))
    ran = await context.run(request("response:new", "second", fresh=True))
    assert ran.request.session is not None and not ran.request.session.fresh
    session = await host.sessions.stored("user:1")
    assert session is not None
    assert [m.text for m in session.state["in_memory"]["messages"]] == [
        "first",
        "echo 1: first",
        "second",
        "echo 2: second",
    ]


def test_fresh_and_recorded_are_part_of_a_sessions_identity() -> None:
    assert ChannelSession("k", fresh=True) != ChannelSession("k") and ChannelSession("k") == ChannelSession("k")
    assert ChannelSession("k", fresh=True, recorded=False) != ChannelSession("k", fresh=True)
    assert not ChannelSession("k").fresh and ChannelSession("k").recorded
    # `recorded=False` counts only with `fresh`
    assert not ChannelSession("k", fresh=True, recorded=False).writes_record
    assert ChannelSession("k", recorded=False).writes_record and ChannelSession("k", fresh=True).writes_record


async def test_an_unrecorded_fresh_turn_stores_its_messages_and_no_record_until_the_channel_asks(
    tmp_path: Path,
) -> None:
    host, context = host_with(OfflineChatClient(), state_dir=tmp_path)
    ran = await context.run(request("response:new", "hello there", fresh=True, recorded=False))
    assert await host.sessions.stored("response:new") is None
    assert not list(tmp_path.rglob("sessions/*.json"))
    reference = await context.session_reference(ran.session)  # what the channel keeps instead: it reads the messages
    assert reference is not None
    assert [m.text for m in await context.referenced_history(reference) or []] == ["hello there", "echo 1: hello there"]

    assert await context.record_session("response:new")
    stored = await host.sessions.stored("response:new")
    assert stored is not None and texts(stored) == ["hello there", "echo 1: hello there"]
    again = await context.run(request("response:new", "and again", fresh=False))
    assert again.text == "echo 2: and again"


async def test_a_record_cannot_be_made_by_a_process_that_does_not_hold_the_session(tmp_path: Path) -> None:
    _, context = host_with(OfflineChatClient(), state_dir=tmp_path)
    await context.run(request("response:new", "hello there", fresh=True, recorded=False))
    other_host, other = host_with(OfflineChatClient(), state_dir=tmp_path)
    assert not await other.record_session("response:new")
    assert await other_host.sessions.stored("response:new") is None


async def test_recorded_changes_nothing_in_memory_or_without_fresh(tmp_path: Path) -> None:
    host, context = host_with(OfflineChatClient())
    await context.run(request("response:new", "hello there", fresh=True, recorded=False))
    stored = await host.sessions.stored("response:new")
    assert stored is not None and texts(stored) == ["hello there", "echo 1: hello there"]
    assert await context.record_session("response:new")

    host, context = host_with(OfflineChatClient(), state_dir=tmp_path)
    await context.run(request("chat:1", "hello there", fresh=False, recorded=False))
    stored = await host.sessions.stored("chat:1")
    assert stored is not None and texts(stored) == ["hello there", "echo 1: hello there"]


async def test_a_run_hooks_request_is_recorded(tmp_path: Path) -> None:
    def keep(request: ChannelRequest, *, target: Any, protocol_request: Any) -> ChannelRequest:
        return request

    host, context = host_with(OfflineChatClient(), run_hook=keep, state_dir=tmp_path)
    ran = await context.run(request("response:new", "hello there", fresh=True, recorded=False))
    assert ran.request.session is not None and ran.request.session.recorded
    stored = await host.sessions.stored("response:new")
    assert stored is not None and texts(stored) == ["hello there", "echo 1: hello there"]


async def answered_once(state_dir: Path, run_hook: Any = None) -> tuple[AgentFrameworkHost, Any, Any]:
    """A host on `state_dir` that answered "hello there" under "response:1" (fresh, unrecorded); its reference."""
    host, context = host_with(OfflineChatClient(), run_hook=run_hook, state_dir=state_dir)
    first = await context.run(request("response:1", "hello there", fresh=True, recorded=False))
    return host, context, await context.session_reference(first.session)


async def test_a_fresh_fork_continues_a_stored_conversation_and_stores_it_only_when_its_turn_saves(
    tmp_path: Path,
) -> None:
    host, context, reference = await answered_once(tmp_path)
    fork = await context.fork_session(reference, "response:2", origin="response:1")
    assert fork is not None and texts(fork.session) == ["hello there", "echo 1: hello there"]
    assert await host.sessions.stored("response:2") is None
    forked = ChannelSession("response:2", fresh=True, recorded=False, fork=fork)
    async with host.state.lock("turn:response:2", wait=1):  # a fresh fork takes no lock either
        ran = await context.run(ChannelRequest(channel="capture", operation="message", input="and on", session=forked))
    assert ran.text == "echo 2: and on" and await host.sessions.stored("response:2") is None
    onwards = await context.session_reference(ran.session)
    assert [m.text for m in await context.referenced_history(onwards) or []] == [
        "hello there",
        "echo 1: hello there",
        "and on",
        "echo 2: and on",
    ]
    assert len(list(tmp_path.rglob("*.jsonl"))) == 1  # the fork appended to the list it continues


async def test_a_fork_is_read_from_the_store_by_another_process_and_refused_once_its_messages_are_gone(
    tmp_path: Path,
) -> None:
    _, context, reference = await answered_once(tmp_path)
    _, other = host_with(OfflineChatClient(), state_dir=tmp_path)
    fork = await other.fork_session(reference, "response:2")
    assert fork is not None and texts(fork.session) == ["hello there", "echo 1: hello there"]
    for path in tmp_path.rglob("*.jsonl"):
        path.unlink()
    assert await context.fork_session(reference, "response:3", origin="response:1") is None


async def test_a_run_hook_sees_a_fork_stored_under_its_key(tmp_path: Path) -> None:
    def keep(request: ChannelRequest, *, target: Any, protocol_request: Any) -> ChannelRequest:
        return request

    host, context, reference = await answered_once(tmp_path, run_hook=keep)
    fork = await context.fork_session(reference, "response:2")
    assert fork is not None
    forked = ChannelSession("response:2", fresh=True, recorded=False, fork=fork)
    ran = await context.run(ChannelRequest(channel="capture", operation="message", input="and on", session=forked))
    assert ran.text == "echo 2: and on"  # the hooked turn is not fresh: it loaded the fork from the store
    stored = await host.sessions.stored("response:2")
    assert stored is not None and texts(stored) == ["hello there", "echo 1: hello there", "and on", "echo 2: and on"]
