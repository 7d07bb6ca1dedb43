"""Workflows as MCP tools: the host's target, or extra ones beside an agent;
the start executor's input is their schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from agent_framework import Agent, Executor, Workflow, WorkflowBuilder, WorkflowContext, handler
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, running_server
from agent_framework_hosting_mcp import MCPChannel
from mcp import Client
from pydantic import BaseModel, Field
from typing_extensions import Never


class Order(BaseModel):
    item: str = Field(description="What to order")
    quantity: int = Field(ge=1)
    express: bool = False


class Orders(Executor):
    def __init__(self) -> None:
        super().__init__(id="orders")

    @handler
    async def on_order(self, order: Order, ctx: WorkflowContext[Never, str]) -> None:
        for part in ("ordered ", f"{order.quantity} x {order.item}", " (express)" if order.express else ""):
            if part:
                await ctx.yield_output(part)


class Counter(Executor):
    def __init__(self) -> None:
        super().__init__(id="counter")
        self.count = 0

    @handler
    async def on_text(self, text: str, ctx: WorkflowContext[Never, str]) -> None:
        self.count += 1
        await ctx.yield_output(f"{self.count}: {text}")


def orders() -> Workflow:
    return WorkflowBuilder(start_executor=Orders(), name="orders", description="Takes orders.").build()


def counter() -> Workflow:
    return WorkflowBuilder(start_executor=Counter(), name="counter").build()


@pytest.fixture
def serve_workflow() -> Iterator[Callable[[Callable[[], Workflow]], str]]:
    stack = ExitStack()

    def build(factory: Callable[[], Workflow]) -> str:
        host = AgentFrameworkHost(factory, channels=[MCPChannel()])
        return stack.enter_context(running_server(host.app)) + "/mcp"

    yield build
    stack.close()


def text_of(result: Any) -> str:
    assert not result.is_error, result
    return "".join(part.text for part in result.content)


async def test_a_workflow_taking_a_model_is_a_tool_with_the_models_fields(serve_workflow: Any) -> None:
    url = serve_workflow(orders)
    async with Client(url) as client:
        [tool] = (await client.list_tools()).tools
        schema = tool.input_schema
        assert tool.name == "ask" and "orders" in tool.description and "Takes orders." in tool.description
        assert set(schema["properties"]) == {"item", "quantity", "express"}
        assert schema["required"] == ["item", "quantity"]
        assert schema["properties"]["item"]["description"] == "What to order"
        answer = text_of(await client.call_tool("ask", {"item": "tea", "quantity": 2, "express": True}))
        assert answer.replace("\n", "") == "ordered 2 x tea (express)"
        refused = await client.call_tool("ask", {"item": "tea", "quantity": 0})
        assert refused.is_error, "the model's constraints are the tool's"


async def test_a_workflow_call_streams_its_outputs_as_progress(serve_workflow: Any) -> None:
    url = serve_workflow(orders)
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with Client(url) as client:
        result = await client.call_tool("ask", {"item": "cake", "quantity": 1}, progress_callback=on_progress)
    assert not result.is_error
    assert progress == ["ordered ", "1 x cake"]


async def test_a_text_workflow_takes_a_message_and_a_conversation_keeps_its_state(serve_workflow: Any) -> None:
    url = serve_workflow(counter)
    async with Client(url) as client:
        [tool] = (await client.list_tools()).tools
        assert set(tool.input_schema["properties"]) == {"message", "conversation"}
        assert text_of(await client.call_tool("ask", {"message": "a", "conversation": "c"})) == "1: a"
        assert text_of(await client.call_tool("ask", {"message": "b", "conversation": "c"})) == "2: b"
        assert text_of(await client.call_tool("ask", {"message": "x"})) == "1: x"


@pytest.fixture
def serve_agent_with_workflows() -> Iterator[Callable[..., str]]:
    stack = ExitStack()

    def build(**workflows: Any) -> str:
        agent = Agent(client=OfflineChatClient(), name="echo")
        host = AgentFrameworkHost(agent, channels=[MCPChannel(workflows=workflows)])
        return stack.enter_context(running_server(host.app)) + "/mcp"

    yield build
    stack.close()


async def test_extra_workflows_are_tools_beside_the_agent_each_call_a_fresh_run(
    serve_agent_with_workflows: Any,
) -> None:
    url = serve_agent_with_workflows(place_order=orders, count=counter)
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with Client(url) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == {"ask", "place_order", "count"}
        assert set(tools["place_order"].input_schema["properties"]) == {"item", "quantity", "express"}
        assert set(tools["count"].input_schema["properties"]) == {"message"}, "stateless: no conversation"
        ordered = await client.call_tool("place_order", {"item": "pen", "quantity": 3}, progress_callback=on_progress)
        assert text_of(ordered) == "ordered \n3 x pen" and progress == ["ordered ", "3 x pen"]
        assert text_of(await client.call_tool("count", {"message": "a"})) == "1: a"
        assert text_of(await client.call_tool("count", {"message": "b"})) == "1: b", "a fresh workflow per call"
        assert text_of(await client.call_tool("ask", {"message": "hi"})) == "echo 1: hi"
        assert (await client.call_tool("place_order", {"item": "pen"})).is_error


def test_extra_workflow_names_must_be_tool_names_and_not_the_agents_tool() -> None:
    with pytest.raises(ValueError):
        MCPChannel(workflows={"ask": orders})
    with pytest.raises(ValueError):
        MCPChannel(workflows={"no spaces": orders})
