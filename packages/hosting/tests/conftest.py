from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
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


@pytest.fixture(scope="module")
def redis() -> Iterator[Any]:
    """A real redis-server on a free loopback port, for one test module."""
    sys.path.insert(0, os.path.dirname(__file__))
    from redis_server import RedisServer, redis_server_binary

    with RedisServer(redis_server_binary()) as server:
        yield server


@pytest.fixture
async def store(redis: Any) -> AsyncIterator[Any]:
    from agent_framework_hosting import RedisStateStore
    from redis_server import state_url

    store = RedisStateStore.from_url(state_url(redis))
    yield store
    await store.aclose()
