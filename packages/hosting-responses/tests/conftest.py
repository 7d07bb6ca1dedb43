"""Shared fixtures: a real host over an offline agent, served on 127.0.0.1, and the official SDK pointed at it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, running_server
from agent_framework_hosting_responses import ResponsesChannel
from openai import OpenAI

API_KEY = "sk-test-key"


@dataclass
class Served:
    """A running host: its base URL, the host, the chat client behind the agent, and an SDK client."""

    url: str
    host: AgentFrameworkHost
    chat: OfflineChatClient | None
    client: OpenAI

    def sdk(self, *, base: str = "/v1", api_key: str = API_KEY, strict: bool = True, **kwargs: Any) -> OpenAI:
        settings: dict[str, Any] = {"max_retries": 0, "timeout": 20, **kwargs}
        return OpenAI(base_url=self.url + base, api_key=api_key, _strict_response_validation=strict, **settings)


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(channel=..., target=..., chat=..., **host_kwargs)`` starts a host; everything stops at teardown."""
    stack = contextlib.ExitStack()

    def start(
        *,
        channel: ResponsesChannel | None = None,
        target: Any = None,
        chat: OfflineChatClient | None = None,
        **host_kwargs: Any,
    ) -> Served:
        if target is None:
            chat = chat or OfflineChatClient()
            target = Agent(client=chat, name="echo")
        host = AgentFrameworkHost(target, channels=[channel or ResponsesChannel()], **host_kwargs)
        url = stack.enter_context(running_server(host.app))
        served = Served(url=url, host=host, chat=chat, client=None)  # type: ignore[arg-type]
        served.client = served.sdk()
        stack.callback(served.client.close)
        return served

    try:
        yield start
    finally:
        stack.close()
