"""Multi-turn tasks: a tool that needs approval ends the turn `input-required`; the answer, sent with the
same taskId, continues the task (the a2a-sdk client as the peer, blocking and streaming)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from a2a.types import CancelTaskRequest, GetTaskRequest, Message, Part, Role, SendMessageRequest, TaskState
from a2a.utils.errors import InvalidParamsError, UnsupportedOperationError
from agent_framework import (
    Agent,
    Content,
    Executor,
    WorkflowBuilder,
    WorkflowContext,
    handler,
    response_handler,
    tool,
)
from agent_framework import Message as AgentMessage
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, running_server
from agent_framework_hosting_a2a import A2AChannel
from google.protobuf.json_format import MessageToDict
from typing_extensions import Never

sys.path.insert(0, os.path.dirname(__file__))
from a2a_helpers import collect, connect, send_request  # noqa: E402

INPUT_REQUIRED, COMPLETED = TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_COMPLETED
DELETED: list[str] = []


@tool(approval_mode="always_require")
def delete_file(path: str) -> str:
    """Delete a file (only with the user's approval)."""
    DELETED.append(path)
    return f"deleted {path}"


class ToolModel(OfflineChatClient):
    """The offline echo model, plus: ``call <tool> <json>`` calls that tool; a tool result it reports."""

    def plan(self, messages: Sequence[AgentMessage], options: Any) -> Content | None:
        last = messages[-1]
        results = [c for c in last.contents if c.type == "function_result"]
        if results:
            return Content.from_text(f"tool said: {results[0].result}")
        if last.role == "user" and last.text.startswith("call "):
            _, name, arguments = last.text.split(" ", 2)
            return Content.from_function_call(f"call_{uuid.uuid4().hex[:8]}", name, arguments=arguments)
        return None


@pytest.fixture
def url() -> Any:
    DELETED.clear()
    agent = Agent(client=ToolModel(), name="files", tools=[delete_file])
    with running_server(AgentFrameworkHost(agent, channels=[A2AChannel()]).app) as base:
        yield base + "/a2a"


def reply(task: Any, *parts: Part) -> SendMessageRequest:
    message = Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=list(parts), task_id=task.id)
    message.context_id = task.context_id
    return SendMessageRequest(message=message)


def asked(task: Any) -> dict[str, Any]:
    [request] = [MessageToDict(p.data)["approvalRequest"] for p in task.status.message.parts if p.HasField("data")]
    return request


@pytest.mark.parametrize(("answer", "runs"), [(Part(text="yes"), True), (Part(text="No."), False)])
async def test_an_approval_ends_the_turn_input_required_and_the_answer_continues_the_task(
    url: str, answer: Part, runs: bool
) -> None:
    async with connect(url, streaming=False) as client:
        [event] = await collect(
            client.send_message(send_request('call delete_file {"path": "/tmp/x"}', context_id="f"))
        )
        task = event.task
        assert task.status.state == INPUT_REQUIRED
        request = asked(task)
        assert request["name"] == "delete_file" and request["arguments"] == {"path": "/tmp/x"}
        assert "Approve calling delete_file" in task.status.message.parts[0].text
        assert DELETED == [], "nothing runs before the user answers"

        [event] = await collect(client.send_message(reply(task, answer)))
        assert event.task.id == task.id and event.task.status.state == COMPLETED
        if runs:
            assert DELETED == ["/tmp/x"]
            assert event.task.status.message.parts[0].text == "tool said: deleted /tmp/x"
        else:
            assert DELETED == [] and "deleted" not in event.task.status.message.parts[0].text
        history = [m.role for m in event.task.history]
        assert history == [Role.ROLE_USER, Role.ROLE_AGENT, Role.ROLE_USER, Role.ROLE_AGENT]


async def test_data_answers_decide_per_request_id_and_streaming_ends_at_input_required(url: str) -> None:
    async with connect(url) as client:
        events = await collect(client.send_message(send_request('call delete_file {"path": "/a"}', context_id="s")))
        last = events[-1].status_update
        assert last.status.state == INPUT_REQUIRED
        task = await client.get_task(GetTaskRequest(id=last.task_id))
        data = Part()
        data.data.struct_value.update({"approvals": {asked(task)["id"]: True}})
        events = await collect(client.send_message(reply(task, data)))
        assert events[-1].status_update.status.state == COMPLETED
        artifacts = [e.artifact_update.artifact for e in events if e.HasField("artifact_update")]
        assert artifacts[-1].parts[0].text == "tool said: deleted /a"
    assert DELETED == ["/a"]


async def test_an_answer_that_decides_nothing_is_refused_and_the_task_keeps_waiting(url: str) -> None:
    async with connect(url, streaming=False) as client:
        [event] = await collect(client.send_message(send_request('call delete_file {"path": "/b"}', context_id="u")))
        with pytest.raises(InvalidParamsError, match="approval"):
            await collect(client.send_message(reply(event.task, Part(text="maybe later"))))
        assert (await client.get_task(GetTaskRequest(id=event.task.id))).status.state == INPUT_REQUIRED
        cancelled = await client.cancel_task(CancelTaskRequest(id=event.task.id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        with pytest.raises(UnsupportedOperationError, match="terminal"):
            await collect(client.send_message(reply(event.task, Part(text="yes"))))
    assert DELETED == []


class Asker(Executor):
    """A workflow step: "ask" pauses for the user's name; anything else is echoed."""

    def __init__(self) -> None:
        super().__init__(id="asker")

    @handler
    async def on_text(self, text: str, ctx: WorkflowContext[Never, str]) -> None:
        if text == "ask":
            await ctx.request_info("what is your name?", str)
            return
        await ctx.yield_output(f"you said {text}")

    @response_handler
    async def on_answer(self, question: str, answer: str, ctx: WorkflowContext[Never, str]) -> None:
        await ctx.yield_output(f"hello {answer}")


async def test_a_workflows_request_info_ends_the_turn_input_required_and_the_answer_continues_it() -> None:
    def build() -> Any:
        return WorkflowBuilder(start_executor=Asker(), name="asker").build()

    with running_server(AgentFrameworkHost(build, channels=[A2AChannel()]).app) as base:
        async with connect(base + "/a2a", streaming=False) as client:
            [event] = await collect(client.send_message(send_request("ask", context_id="wf")))
            task = event.task
            assert task.status.state == INPUT_REQUIRED
            assert task.status.message.parts[0].text == "what is your name?"
            assert MessageToDict(task.status.message.parts[1].data)["inputRequest"]["ids"]
            [event] = await collect(client.send_message(reply(task, Part(text="Ada"))))
            assert event.task.id == task.id and event.task.status.state == COMPLETED
            assert event.task.status.message.parts[0].text == "hello Ada"
