"""Shared fixtures: a real host with an MCPChannel served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from agent_framework import Agent, ChatResponseUpdate
from agent_framework import Message as AgentMessage
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, running_server
from agent_framework_hosting_mcp import MCPChannel


class CountingModel(OfflineChatClient):
    """The offline model, counting how many streamed answers are in flight at once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.active = 0
        self.most_active = 0

    async def _stream(self, messages: Sequence[AgentMessage]) -> AsyncIterator[ChatResponseUpdate]:
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            async for update in super()._stream(messages):
                yield update
        finally:
            self.active -= 1


@dataclass
class Served:
    url: str
    host: AgentFrameworkHost
    model: CountingModel


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """Serve an echo agent over an MCPChannel on a free loopback port (Hypercorn, lifespan included)."""
    stack = ExitStack()

    def build(*, chunk_delay: float = 0.0, **channel: Any) -> Served:
        model = CountingModel(chunk_delay=chunk_delay)
        host = AgentFrameworkHost(
            Agent(client=model, name="echo", description="Echoes what you say."), channels=[MCPChannel(**channel)]
        )
        url = stack.enter_context(running_server(host.app))
        return Served(url + "/mcp", host, model)

    yield build
    stack.close()
