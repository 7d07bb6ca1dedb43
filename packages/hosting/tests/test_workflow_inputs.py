"""A workflow target serves every channel: input fitted to the start executor's types, or refused at startup."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest
from agent_framework import Executor, Message, WorkflowBuilder, WorkflowContext, handler
from agent_framework_hosting import AgentFrameworkHost, ChannelRequest, WorkflowInputError
from agent_framework_hosting._cli import main
from agent_framework_hosting._workflow_input import adapt_input
from agent_framework_hosting.testing import JsonChannel, running_server
from agent_framework_hosting_invocations import InvocationsChannel
from agent_framework_hosting_responses import ResponsesChannel
from openai import OpenAI
from typing_extensions import Never


class Upper(Executor):
    def __init__(self) -> None:
        super().__init__(id="upper")

    @handler
    async def run(self, text: str, ctx: WorkflowContext[Never, str]) -> None:
        await ctx.yield_output(text.upper())


class Chat(Executor):
    def __init__(self) -> None:
        super().__init__(id="chat")

    @handler
    async def run(self, messages: list[Message], ctx: WorkflowContext[Never, str]) -> None:
        await ctx.yield_output(f"{len(messages)} message(s), last: {messages[-1].text}")


class One(Executor):
    def __init__(self) -> None:
        super().__init__(id="one")

    @handler
    async def run(self, message: Message, ctx: WorkflowContext[Never, str]) -> None:
        await ctx.yield_output(f"{message.role}: {message.text}")


@dataclasses.dataclass
class Order:
    item: str
    count: int


class Orders(Executor):
    def __init__(self) -> None:
        super().__init__(id="orders")

    @handler
    async def run(self, order: Order, ctx: WorkflowContext[Never, str]) -> None:
        await ctx.yield_output(f"{order.count} x {order.item}")


class Opaque:
    """Not JSON-able: no channel can produce one."""


class Takes(Executor):
    def __init__(self) -> None:
        super().__init__(id="takes_opaque")

    @handler
    async def run(self, value: Opaque, ctx: WorkflowContext[Never, str]) -> None:
        await ctx.yield_output("never")


@pytest.mark.parametrize(
    ("start", "responses_answer", "invocations_answer"),
    [
        (Upper, "HELLO FROM RESPONSES", "HELLO FROM INVOCATIONS"),
        (Chat, "1 message(s), last: hello from responses", "1 message(s), last: hello from invocations"),
        (One, "user: hello from responses", "user: hello from invocations"),
    ],
)
def test_one_workflow_serves_responses_and_invocations(
    start: type[Executor], responses_answer: str, invocations_answer: str
) -> None:
    host = AgentFrameworkHost(
        WorkflowBuilder(start_executor=start()), channels=[ResponsesChannel(), InvocationsChannel()]
    )
    with running_server(host.app) as url, httpx.Client(base_url=url, timeout=20) as http:
        sdk = OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        assert sdk.responses.create(model="workflow", input="hello from responses").output_text == responses_answer
        streamed = sdk.responses.create(model="workflow", input="hello from responses", stream=True)
        done = [event for event in streamed if event.type == "response.completed"]
        assert done and done[0].response.output_text == responses_answer
        answer = http.post("/invocations", json={"message": "hello from invocations"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["response"] == invocations_answer
        sdk.close()


def test_a_json_typed_workflow_gets_structured_invocations() -> None:
    host = AgentFrameworkHost(WorkflowBuilder(start_executor=Orders()), channels=[InvocationsChannel()])
    with running_server(host.app) as url, httpx.Client(base_url=url, timeout=20) as http:
        answer = http.post("/invocations", json={"message": {"item": "tea", "count": 2}})
        assert answer.json()["response"] == "2 x tea"
        wrong = http.post("/invocations", json={"message": {"item": "tea"}})
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "unsupported_input"


def test_the_adapter_picks_the_first_form_the_start_executor_takes() -> None:
    chat = [Message("assistant", ["earlier"]), Message("user", ["a"]), Message("user", ["b"])]
    assert adapt_input(chat, Upper()) == "a\nb"
    assert adapt_input({"k": 1}, Upper()) == '{"k": 1}'
    assert adapt_input(Message("user", ["hi"]), Upper()) == "hi"
    assert [m.text for m in adapt_input("hi", Chat())] == ["hi"]
    assert adapt_input(chat, Chat()) is chat
    assert adapt_input(chat, One()).text == "b"
    assert adapt_input('{"item": "pen", "count": 3}', Orders()) == Order("pen", 3)
    with pytest.raises(WorkflowInputError, match="start executor 'orders' takes Order; it cannot take a str"):
        adapt_input("three pens", Orders())


def test_a_text_channel_that_cannot_feed_the_workflow_stops_the_host_at_construction() -> None:
    with pytest.raises(ValueError) as refused:
        AgentFrameworkHost(WorkflowBuilder(start_executor=Orders()), channels=[InvocationsChannel(), JsonChannel()])
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("channel 'json' sends text, but the workflow's start executor 'orders' takes Order")
    with pytest.raises(ValueError, match="channel 'invocations' sends JSON values.*takes Opaque"):
        AgentFrameworkHost(WorkflowBuilder(start_executor=Takes()), channels=[InvocationsChannel()])


def test_the_cli_refuses_such_a_workflow_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "orders_app.py").write_text(
        "from agent_framework import WorkflowBuilder\n"
        "from test_workflow_inputs import Orders\n"
        "workflow = WorkflowBuilder(start_executor=Orders())\n"
    )
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.chdir(tmp_path)
    code = main(["serve", "orders_app:workflow", "--channel", "responses", "--port", "8000"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.count("\n") == 0
    assert "channel 'responses' sends text, but the workflow's start executor 'orders' takes Order" in err


async def test_every_text_channel_input_form_reaches_a_text_workflow(make_host: Any) -> None:
    host = make_host(WorkflowBuilder(start_executor=Upper()))
    for value in ("plain", Message("user", ["plain"]), [Message("user", ["plain"])]):
        request = ChannelRequest(channel="test", operation="message", input=value)
        assert (await host.context.run(request)).text == "PLAIN"
