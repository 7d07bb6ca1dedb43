"""Shared fixtures: a real host with an A2AChannel served on 127.0.0.1, and a2a-sdk clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import CountingChatClient, running_server
from agent_framework_hosting_a2a import A2AChannel


@dataclass
class Served:
    url: str
    host: AgentFrameworkHost
    model: CountingChatClient
    channel: A2AChannel


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """Serve an echo agent over an A2AChannel on a free loopback port (Hypercorn, lifespan included)."""
    stack = ExitStack()

    def build(*, chunk_delay: float = 0.0, host_options: dict[str, Any] | None = None, **channel: Any) -> Served:
        model = CountingChatClient(chunk_delay=chunk_delay)
        a2a = A2AChannel(**channel)
        host = AgentFrameworkHost(
            Agent(client=model, name="echo", description="Echoes what you say."), channels=[a2a], **(host_options or {})
        )
        url = stack.enter_context(running_server(host.app))
        return Served(url, host, model, a2a)

    yield build
    stack.close()
