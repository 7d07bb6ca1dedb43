"""ChannelContext.queue_key: an ack-first channel queues a delivery in its conversation's queue, or runs it at once."""

from __future__ import annotations

from typing import Any

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost, ChannelContext, Concurrency
from agent_framework_hosting.testing import JsonChannel, OfflineChatClient


def context(**host_options: Any) -> ChannelContext:
    channel = JsonChannel()
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="a"), channels=[channel], **host_options)
    return host.context.for_channel(channel)


@pytest.mark.parametrize("in_order", [False, True])
def test_without_a_turn_wait_bound_a_delivery_waits_in_its_conversations_queue(in_order: bool) -> None:
    assert context(turn_wait=None).queue_key("chat-1", in_order=in_order) == "chat-1"


def test_with_a_bound_only_a_channel_that_answers_into_the_conversation_queues() -> None:
    bounded = context(turn_wait=5.0)
    assert bounded.queue_key("chat-1", in_order=True) == "chat-1"  # Telegram, Slack, Activity: in order, unbounded
    assert bounded.queue_key("chat-1") is None  # Discord: waits for the turn lock itself, then reports busy


@pytest.mark.parametrize("policy", ["reject", "interrupt", "collect"])
def test_other_policies_act_on_arrival(policy: str) -> None:
    assert context(turn_wait=None, concurrency=policy).queue_key("chat-1", in_order=True) is None


def test_the_channels_own_policy_decides() -> None:
    per_channel = context(turn_wait=None, concurrency=Concurrency("reject", channels={"json": "queue"}))
    assert per_channel.queue_key("chat-1") == "chat-1"


def test_stop_always_cuts_in() -> None:
    assert context(turn_wait=None).queue_key("chat-1", at_once=True, in_order=True) is None
