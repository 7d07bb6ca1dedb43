"""Shared fixtures: a host with an InvocationsChannel over a real Agent or a workflow, and an SSE reader."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from agent_framework import Agent, Executor, Workflow, WorkflowBuilder, WorkflowContext, handler
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient
from agent_framework_hosting_invocations import InvocationsChannel
from starlette.testclient import TestClient
from typing_extensions import Never


@dataclass
class Hosted:
    host: AgentFrameworkHost
    client: TestClient
    model: OfflineChatClient | None


@dataclass
class Frame:
    event: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def read_sse(text: str) -> list[Frame]:
    """Split an SSE body into frames, following the SSE line rules (CRLF, LF or CR)."""
    frames: list[Frame] = []
    for block in text.replace("\r\n", "\n").replace("\r", "\n").split("\n\n"):
        if not block.strip():
            continue
        event, data = "message", []
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
        frames.append(Frame(event, "\n".join(data)))
    return frames


class Counter(Executor):
    """Counts its turns and echoes any JSON message back, so continuity and payloads are visible."""

    def __init__(self) -> None:
        super().__init__(id="counter")
        self.turns = 0

    @handler
    async def count(self, message: object, ctx: WorkflowContext[Never, str]) -> None:
        self.turns += 1
        await ctx.yield_output(f"turn {self.turns}: {json.dumps(message, sort_keys=True)}")


class CounterWorkflow:
    """A workflow factory (``build()``): the host builds one workflow per conversation."""

    def build(self) -> Workflow:
        return WorkflowBuilder(start_executor=Counter()).build()


class Shout(Executor):
    """Accepts strings only."""

    def __init__(self) -> None:
        super().__init__(id="shout")

    @handler
    async def shout(self, message: str, ctx: WorkflowContext[Never, str]) -> None:
        await ctx.yield_output(message.upper())


def shout_workflow() -> WorkflowBuilder:
    return WorkflowBuilder(start_executor=Shout())


class PlusOne(Executor):
    """Accepts integers only."""

    def __init__(self) -> None:
        super().__init__(id="plus_one")

    @handler
    async def add(self, number: int, ctx: WorkflowContext[Never, str]) -> None:
        await ctx.yield_output(str(number + 1))


@pytest.fixture
def numbers_only_workflow() -> WorkflowBuilder:
    return WorkflowBuilder(start_executor=PlusOne())


@pytest.fixture
def serve() -> Iterator[Callable[..., Hosted]]:
    """Build a host (an echo Agent by default) with one InvocationsChannel and open a TestClient on it."""
    stack = ExitStack()

    def build(
        target: Any = None,
        *,
        model: OfflineChatClient | None = None,
        host_options: dict[str, Any] | None = None,
        **channel: Any,
    ) -> Hosted:
        if target is None:
            model = model or OfflineChatClient()
            target = Agent(client=model, name="echo")
        host = AgentFrameworkHost(target, channels=[InvocationsChannel(**channel)], **(host_options or {}))
        client = stack.enter_context(TestClient(host.app))
        return Hosted(host, client, model)

    yield build
    stack.close()


@pytest.fixture
def sse() -> Callable[[str], list[Frame]]:
    return read_sse


@pytest.fixture
def counter_workflow() -> CounterWorkflow:
    return CounterWorkflow()


@pytest.fixture
def strings_only_workflow() -> WorkflowBuilder:
    return shout_workflow()
