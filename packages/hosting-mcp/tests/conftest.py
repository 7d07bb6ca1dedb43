"""Shared fixtures: a real host with an MCPChannel served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import CountingChatClient, running_server
from agent_framework_hosting_mcp import MCPChannel


@dataclass
class Served:
    url: str
    host: AgentFrameworkHost
    model: CountingChatClient


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """Serve an echo agent over an MCPChannel on a free loopback port (Hypercorn, lifespan included)."""
    stack = ExitStack()

    def build(*, chunk_delay: float = 0.0, response_delay: float = 0.0, **channel: Any) -> Served:
        model = CountingChatClient(chunk_delay=chunk_delay, response_delay=response_delay)
        host = AgentFrameworkHost(
            Agent(client=model, name="echo", description="Echoes what you say."), channels=[MCPChannel(**channel)]
        )
        url = stack.enter_context(running_server(host.app))
        return Served(url + "/mcp", host, model)

    yield build
    stack.close()
