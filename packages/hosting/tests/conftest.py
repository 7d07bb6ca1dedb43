from __future__ import annotations

import os
import sys
import uuid
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


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL server on a free loopback port (initdb in a temporary folder), for the whole run."""
    from agent_framework_hosting.testing import PostgresServer, postgres_bin_dir

    with PostgresServer(postgres_bin_dir()) as server:
        yield server


def postgres_url(server: Any, *, lock_ttl: float = 2.0, schema: str | None = None) -> str:
    """A `postgresql://` state location in a fresh schema, so tests sharing a server never meet."""
    return f"{server.url}?schema={schema or 't' + uuid.uuid4().hex[:10]}&lock_ttl={lock_ttl}"


@pytest.fixture
async def store(redis: Any) -> AsyncIterator[Any]:
    from agent_framework_hosting import RedisStateStore
    from redis_server import state_url

    store = RedisStateStore.from_url(state_url(redis))
    yield store
    await store.aclose()
