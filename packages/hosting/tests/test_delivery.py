"""host.deliver and run_and_deliver over a channel that implements the delivery protocol."""

from __future__ import annotations

from typing import Any

import pytest
from agent_framework import Agent, Message
from agent_framework_hosting import (
    AgentFrameworkHost,
    ChannelContribution,
    ChannelRequest,
    ChannelSession,
    ConversationReference,
    DeliveryChannel,
    DeliveryError,
    HostingError,
)
from agent_framework_hosting.testing import OfflineChatClient


class Inbox:
    """A channel whose conversations are in-memory inboxes; a destination named 'broken' refuses messages."""

    name = "inbox"
    path = "/inbox"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def contribute(self, context: Any) -> ChannelContribution:
        self.context = context
        return ChannelContribution()

    def conversation_reference(self, request: ChannelRequest) -> dict[str, Any] | None:
        return {"box": request.attributes["box"]}

    async def deliver(self, reference: ConversationReference, message: Message) -> None:
        if reference.destination["box"] == "broken":
            raise HostingError("the inbox is full")
        self.sent.append((reference.destination["box"], message.text))


async def say(host: AgentFrameworkHost, inbox: Inbox, box: str, text: str) -> str:
    request = ChannelRequest("inbox", "message", text, session=ChannelSession(f"inbox:{box}"), attributes={"box": box})
    return (await inbox.context.run(request)).text


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def host(inbox: Inbox) -> AgentFrameworkHost:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[inbox])
    host.app  # noqa: B018 - builds the app, binding the channel's context
    return host


def test_a_channel_with_deliver_and_conversation_reference_is_a_delivery_channel(inbox: Inbox) -> None:
    assert isinstance(inbox, DeliveryChannel)


async def test_deliver_sends_through_the_channel_and_the_agent_sees_it_in_history(
    host: AgentFrameworkHost, inbox: Inbox
) -> None:
    await say(host, inbox, "ada", "hi")
    result = await host.deliver("inbox:ada", "Your parcel arrived.")
    assert result.delivered and inbox.sent == [("ada", "Your parcel arrived.")]
    await say(host, inbox, "ada", "thanks")
    seen = host.target.client.calls[-1]
    assert [m.text for m in seen][-2:] == ["Your parcel arrived.", "thanks"]
    assert seen[-2].role == "assistant" and seen[-2].additional_properties["hosting"]["proactive"] is True


async def test_a_stored_reference_holds_only_what_the_channel_gave(host: AgentFrameworkHost, inbox: Inbox) -> None:
    await say(host, inbox, "ada", "hi")
    stored = await host.state.get("conversation-refs", "inbox:ada")
    assert stored == {"channel": "inbox", "key": "inbox:ada", "destination": {"box": "ada"}}
    reference = ConversationReference.from_dict(stored)
    assert (await host.deliver(reference, "by reference")).delivered


async def test_an_unknown_destination_raises_for_one_and_is_reported_in_a_multicast(
    host: AgentFrameworkHost, inbox: Inbox
) -> None:
    with pytest.raises(DeliveryError, match="no conversation"):
        await host.deliver("inbox:nobody", "hello?")
    for box in ("ada", "broken", "bob"):
        await say(host, inbox, box, "hi")
    results = await host.deliver(["inbox:ada", "inbox:broken", "inbox:nobody", "inbox:bob"], "Maintenance tonight")
    assert [(r.key, r.delivered) for r in results] == [
        ("inbox:ada", True),
        ("inbox:broken", False),
        ("inbox:nobody", False),
        ("inbox:bob", True),
    ]
    assert "inbox is full" in (results[1].error or "")
    assert sorted(inbox.sent) == [("ada", "Maintenance tonight"), ("bob", "Maintenance tonight")]


async def test_an_idempotency_key_delivers_once_per_destination(host: AgentFrameworkHost, inbox: Inbox) -> None:
    for box in ("ada", "bob"):
        await say(host, inbox, box, "hi")
    first = await host.deliver(["inbox:ada"], "Sale!", idempotency_key="sale-1")
    second = await host.deliver(["inbox:ada", "inbox:bob"], "Sale!", idempotency_key="sale-1")
    assert [r.duplicate for r in first] == [False]
    assert [(r.key, r.duplicate) for r in second] == [("inbox:ada", True), ("inbox:bob", False)]
    assert sorted(inbox.sent) == [("ada", "Sale!"), ("bob", "Sale!")]


async def test_run_and_deliver_runs_a_turn_and_delivers_its_answer(host: AgentFrameworkHost, inbox: Inbox) -> None:
    await say(host, inbox, "ada", "hi")
    result = await host.run_and_deliver("inbox:ada", "It is 9:00; remind the user of the standup")
    assert result.text == "echo 2: It is 9:00; remind the user of the standup"
    assert inbox.sent == [("ada", result.text)]
    assert await say(host, inbox, "ada", "ok") == "echo 3: ok", "the proactive turn is in the history once"


async def test_a_channel_without_delivery_records_no_reference() -> None:
    from agent_framework_hosting.testing import JsonChannel

    host = AgentFrameworkHost(Agent(client=OfflineChatClient()), channels=[JsonChannel()])
    await host.context.run(ChannelRequest("json", "message", "hi", session=ChannelSession("k")))
    assert await host.state.get("conversation-refs", "k") is None
