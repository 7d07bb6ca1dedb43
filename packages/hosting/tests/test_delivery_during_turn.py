"""host.deliver never waits behind a running turn: sent at once, joined to the history after that turn."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from agent_framework import Agent, Message
from agent_framework_hosting import AgentFrameworkHost, ChannelContribution, ChannelRequest, ChannelSession
from agent_framework_hosting import ConversationReference as Reference
from agent_framework_hosting.testing import OfflineChatClient, eventually

TURN_SECONDS = 3.0


class Inbox:
    """A deliverable channel whose conversations are in-memory inboxes; records when each message arrived."""

    name = "inbox"
    path = "/inbox"

    def __init__(self) -> None:
        self.sent: list[tuple[str, float]] = []

    def contribute(self, context: Any) -> ChannelContribution:
        self.context = context
        return ChannelContribution()

    def conversation_reference(self, request: ChannelRequest) -> dict[str, Any]:
        return {"box": request.attributes["box"]}

    async def deliver(self, reference: Reference, message: Message) -> None:
        self.sent.append((message.text, time.monotonic()))


@pytest.fixture(params=["memory", "folder", "redis"])
def state_dir(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    if request.param == "memory":
        return None
    if request.param == "folder":
        return str(tmp_path / "state")
    server = request.getfixturevalue("redis")  # puts redis_server on the path
    from redis_server import state_url

    return str(state_url(server))


def build(state_dir: str | None, client: OfflineChatClient) -> tuple[AgentFrameworkHost, Inbox]:
    inbox = Inbox()
    host = AgentFrameworkHost(Agent(client=client, name="echo"), channels=[inbox], state_dir=state_dir)
    host.app  # noqa: B018 - builds the app, binding the channel's context
    return host, inbox


async def say(inbox: Inbox, text: str) -> str:
    request = ChannelRequest("inbox", "message", text, session=ChannelSession("inbox:ada"), attributes={"box": "ada"})
    return (await inbox.context.run(request)).text


async def history(host: AgentFrameworkHost) -> list[str]:
    session = await host.sessions.stored(await host.sessions.session_id("inbox:ada"))
    assert session is not None
    return [message.text for message in session.state["in_memory"]["messages"]]


async def test_a_delivery_during_a_long_turn_returns_at_once_and_both_reach_the_history(state_dir: str | None) -> None:
    client = OfflineChatClient()
    host, inbox = build(state_dir, client)
    try:
        await say(inbox, "hi")
        client.response_delay = TURN_SECONDS
        turn = asyncio.ensure_future(say(inbox, "tell me slowly"))
        await eventually(lambda: len(client.calls) == 2, message="the turn reached the model")
        started = time.monotonic()
        result = await host.deliver("inbox:ada", "Your parcel arrived.")
        returned = time.monotonic() - started
        assert result.delivered and returned < 1.0, f"deliver waited {returned:.2f}s behind the turn"
        assert [text for text, _ in inbox.sent] == ["Your parcel arrived."]
        assert inbox.sent[0][1] - started < 1.0, "the platform got it at once"
        assert not turn.done(), "the turn was still running while the message went out"
        assert await turn == "echo 2: tell me slowly"
        for _ in range(250):  # the merge follows the turn's commit
            if len(await history(host)) == 5:
                break
            await asyncio.sleep(0.02)
        assert await history(host) == [
            "hi",
            "echo 1: hi",
            "tell me slowly",
            "echo 2: tell me slowly",
            "Your parcel arrived.",
        ], "a message delivered during a turn follows that turn's messages, once"
        client.response_delay = 0.0
        assert await say(inbox, "thanks") == "echo 3: thanks"
        assert [m.text for m in client.calls[-1]][-2:] == ["Your parcel arrived.", "thanks"]
        assert await host.state.get("delivered-waiting", "inbox:ada") is None
    finally:
        await host.state.aclose()


async def test_a_turn_that_starts_first_takes_the_waiting_message_in_and_nothing_is_added_twice(
    state_dir: str | None,
) -> None:
    client = OfflineChatClient()
    host, inbox = build(state_dir, client)
    try:
        await say(inbox, "hi")
        client.response_delay = 1.0
        first = asyncio.ensure_future(say(inbox, "one"))
        await eventually(lambda: len(client.calls) == 2, message="the turn reached the model")
        second = asyncio.ensure_future(say(inbox, "two"))  # queued behind the first, before the merge
        await asyncio.sleep(0.1)
        await host.deliver("inbox:ada", "Reminder: standup")
        await asyncio.gather(first, second)
        await asyncio.sleep(0.3)
        texts = await history(host)
        assert texts.count("Reminder: standup") == 1
        assert texts.index("echo 2: one") < texts.index("Reminder: standup")
        assert len(texts) == 7
    finally:
        await host.state.aclose()


async def test_a_message_left_waiting_by_a_dead_process_joins_the_next_turn(tmp_path: Path) -> None:
    client = OfflineChatClient()
    state = str(tmp_path / "state")
    host, inbox = build(state, client)
    await say(inbox, "hi")
    message = Message(role="assistant", contents=["Left behind"], additional_properties={
        "hosting": {"proactive": True, "proactive_id": "p1"}})  # fmt: skip
    await host.proactive.waiting.add("inbox:ada", [message])  # ...and the process died before merging it
    await host.state.aclose()
    host, inbox = build(state, client)
    assert await say(inbox, "anything new?") == "echo 2: anything new?"
    assert [m.text for m in client.calls[-1]][-2:] == ["Left behind", "anything new?"]
    assert await host.state.get("delivered-waiting", "inbox:ada") is None
    assert (await history(host)).count("Left behind") == 1
    await host.state.aclose()
