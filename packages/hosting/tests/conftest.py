from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost, Channel, ChannelRequest, ChannelSession
from agent_framework_hosting.testing import JsonChannel, OfflineChatClient


@pytest.fixture
def client() -> OfflineChatClient:
    return OfflineChatClient()


@pytest.fixture
def agent(client: OfflineChatClient) -> Agent:
    return Agent(client=client, name="echo")


@pytest.fixture
def make_host(agent: Agent) -> Callable[..., AgentFrameworkHost]:
    def make(target: Any = None, channels: list[Channel] | None = None, **kwargs: Any) -> AgentFrameworkHost:
        return AgentFrameworkHost(
            target if target is not None else agent,
            channels=channels if channels is not None else [JsonChannel()],
            **kwargs,
        )

    return make


def turn(text: str, key: str | None = None, **kwargs: Any) -> ChannelRequest:
    return ChannelRequest(
        channel="test", operation="message", input=text, session=ChannelSession(key) if key else None, **kwargs
    )
