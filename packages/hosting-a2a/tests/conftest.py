"""Shared fixtures: a real host with an A2AChannel served on 127.0.0.1, and a2a-sdk clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from agent_framework import Agent, Message
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import CountingChatClient, running_server
from agent_framework_hosting_a2a import A2AChannel


class TurnCountingClient(CountingChatClient):
    """`CountingChatClient` that counts unstreamed answers in flight too (a waiting `SendMessage` runs unstreamed)."""

    def _inner_get_response(self, *, messages: Sequence[Message], stream: bool, options: Any, **kwargs: Any) -> Any:
        inner = super()._inner_get_response(messages=messages, stream=stream, options=options, **kwargs)
        if stream:
            return inner

        async def counted() -> Any:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            try:
                return await inner
            finally:
                self.active -= 1

        return counted()


@dataclass
class Served:
    url: str
    host: AgentFrameworkHost
    model: TurnCountingClient
    channel: A2AChannel


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """Serve an echo agent over an A2AChannel on a free loopback port (Hypercorn, lifespan included)."""
    stack = ExitStack()

    def build(
        *,
        chunk_delay: float = 0.0,
        response_delay: float = 0.0,
        host_options: dict[str, Any] | None = None,
        **channel: Any,
    ) -> Served:
        model = TurnCountingClient(chunk_delay=chunk_delay, response_delay=response_delay)
        a2a = A2AChannel(**channel)
        host = AgentFrameworkHost(
            Agent(client=model, name="echo", description="Echoes what you say."), channels=[a2a], **(host_options or {})
        )
        url = stack.enter_context(running_server(host.app))
        return Served(url, host, model, a2a)

    yield build
    stack.close()
