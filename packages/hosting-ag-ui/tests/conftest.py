"""Shared fixtures: a host with an AGUIChannel over a real Agent, and a TestClient or a real server for it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import running_server
from agent_framework_hosting_ag_ui import AGUIChannel
from starlette.testclient import TestClient

sys.path.insert(0, os.path.dirname(__file__))
from ag_ui_helpers import ToolModel, delete_file  # noqa: E402


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@dataclass
class Hosted:
    host: AgentFrameworkHost
    client: TestClient
    model: ToolModel
    url: str | None = None


@pytest.fixture
def serve() -> Iterator[Callable[..., Hosted]]:
    """A host with one AGUIChannel over an agent (with a server-side `add` tool); `real=True` also serves it."""
    stack = ExitStack()

    def build(
        *, chunk_delay: float = 0.0, real: bool = False, host_options: dict[str, Any] | None = None, **channel: Any
    ) -> Hosted:
        model = ToolModel(chunk_delay=chunk_delay)
        agent = Agent(client=model, name="echo", tools=[add, delete_file])
        host = AgentFrameworkHost(agent, channels=[AGUIChannel(**channel)], **(host_options or {}))
        if real:
            url = stack.enter_context(running_server(host.app))
            return Hosted(host, None, model, url)  # type: ignore[arg-type]
        return Hosted(host, stack.enter_context(TestClient(host.app)), model)

    yield build
    stack.close()
